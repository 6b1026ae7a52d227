package dev.droptrace.agent.source.cilium;

import dev.droptrace.libbpf.BpfMap;
import dev.droptrace.libbpf.BpfObject;
import dev.droptrace.libbpf.BpfTcAttachment;
import dev.droptrace.libc.Libc;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Cilium's datapath, as far as a test needs it: the BPF fixture {@code fixtures/cilium_notify.bpf.c}
 * of the bpf module, attached to tc ingress of a device in a network namespace, dropping TCP and UDP
 * to one port and writing byte-exact Cilium drop and policy-verdict notifications for each drop into
 * its {@code cilium_events} perf event array, pinned under a bpffs directory of its own
 * ({@code /sys/fs/bpf/droptrace-test-<pid>-<n>/tc/globals/cilium_events}, shaped like Cilium's).
 *
 * <p>{@link #close} detaches the program, removes the pin and its directories, and unloads the object.
 * Layouts mirrored from {@code fixtures/cilium_notify.h}.
 */
public final class CiliumFixture implements AutoCloseable {
    /** The compiled fixture on the class path (bpf module). */
    public static final String RESOURCE = "/dev/droptrace/bpf/fixtures/cilium_notify.bpf.o";
    /** The program's name (its C function). */
    public static final String PROGRAM = "cilium_notify";

    // struct cilium_fixture_config (40 bytes)
    static final int CFG_SIZE = 40;
    static final int CFG_DENIED_PORT = 0, CFG_CAP_LEN = 2, CFG_DROP_LAYOUT = 4, CFG_VERDICT_LAYOUT = 5,
            CFG_DROP_REASON = 6, CFG_MATCH_TYPE = 7, CFG_AUTH_TYPE = 8, CFG_FILE = 9, CFG_LINE = 10,
            CFG_SOURCE_ENDPOINT = 12, CFG_SRC_IDENTITY = 16, CFG_DST_IDENTITY = 20, CFG_DST_ENDPOINT = 24,
            CFG_COOKIE = 28, CFG_IP_TRACE_ID = 32;
    // enum cilium_fixture_counter
    static final int CNT_DROPPED = 0, CNT_DROP_NOTIFY = 1, CNT_VERDICT = 2, CNT_OUTPUT_ERROR = 3, CNT_PASSED = 4;

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    /** Which drop_notify the fixture writes: its size and version byte (spec section 3.1). */
    public enum DropLayout {
        /** No drop notification. */
        NONE(0, 0),
        /** Cilium 1.7-1.12: version 1, 32 bytes. */
        V1_32(32, 1),
        /** Cilium 1.13-1.17: version 1, 36 bytes (line, file, ext_error, ifindex). */
        V1_36(36, 1),
        /** Cilium 1.18: version 2, 40 bytes (flags). */
        V2_40(40, 2),
        /** Cilium 1.19+: version 3, 48 bytes (ip_trace_id). */
        V3_48(48, 3);

        public final int size;
        public final int version;

        DropLayout(int size, int version) {
            this.size = size;
            this.version = version;
        }
    }

    /** Which policy_verdict_notify the fixture writes (spec section 3.2); the version byte is always 1. */
    public enum VerdictLayout {
        /** No policy verdict. */
        NONE(0),
        /** Cilium 1.8-1.18: 32 bytes. */
        V1_32(32),
        /** Cilium 1.19+: 40 bytes, with the rule cookie. */
        V1_40(40);

        public final int size;

        VerdictLayout(int size) {
            this.size = size;
        }
    }

    /**
     * What the fixture drops and writes. Identities, endpoints and the cookie are u32; ports u16.
     *
     * @param deniedPort     TCP/UDP destination port whose packets are dropped (0: none)
     * @param drop           drop_notify layout
     * @param verdict        policy_verdict_notify layout
     * @param capLen         packet bytes captured per notification (capped at the packet's length)
     * @param reason         drop reason (subtype; the verdict carries {@code -reason})
     * @param matchType      policy match type 0-7 (verdict flags bits 3-5)
     * @param authType       verdict auth_type
     * @param srcIdentity    drop src_label and (ingress) verdict remote_label
     * @param dstIdentity    drop dst_label
     * @param dstEndpoint    drop dst_id
     * @param sourceEndpoint "source" of both notifications
     * @param cookie         verdict cookie (40-byte layout)
     * @param line           drop line (36+ bytes)
     * @param file           drop file ID (36+ bytes)
     * @param ipTraceId      drop ip_trace_id (48 bytes)
     */
    public record Config(int deniedPort, DropLayout drop, VerdictLayout verdict, int capLen, int reason, int matchType,
                         int authType, long srcIdentity, long dstIdentity, long dstEndpoint, int sourceEndpoint,
                         long cookie, int line, int file, long ipTraceId) {
        /**
         * Cilium 1.19 shapes dropping {@code port}: drop v3, 40-byte verdict, 128 bytes captured,
         * POLICY_DENIED (133), match L3-L4 (2), identities 5678 -> 51234, endpoint 1234, cookie
         * 0x1e1f2021, bpf_lxc.c (2) line 1417, trace id 0x99.
         */
        public static Config denyPort(int port) {
            return new Config(port, DropLayout.V3_48, VerdictLayout.V1_40, 128, 133, 2, 0,
                    5678, 51234, 1234, 1234, 0x1e1f2021L, 1417, 2, 0x99);
        }

        public Config withLayouts(DropLayout d, VerdictLayout v) {
            return new Config(deniedPort, d, v, capLen, reason, matchType, authType, srcIdentity, dstIdentity,
                    dstEndpoint, sourceEndpoint, cookie, line, file, ipTraceId);
        }

        public Config withCapLen(int n) {
            return new Config(deniedPort, drop, verdict, n, reason, matchType, authType, srcIdentity, dstIdentity,
                    dstEndpoint, sourceEndpoint, cookie, line, file, ipTraceId);
        }

        public Config withPolicy(int reasonCode, int match, long cookieValue) {
            return new Config(deniedPort, drop, verdict, capLen, reasonCode, match, authType, srcIdentity, dstIdentity,
                    dstEndpoint, sourceEndpoint, cookieValue, line, file, ipTraceId);
        }

        public Config withIdentities(long src, long dst) {
            return new Config(deniedPort, drop, verdict, capLen, reason, matchType, authType, src, dst,
                    dstEndpoint, sourceEndpoint, cookie, line, file, ipTraceId);
        }
    }

    private final Arena arena = Arena.ofShared();
    private final BpfObject object;
    private final Path root;
    private final Path pin;
    private final MemorySegment key;
    private BpfTcAttachment attachment;
    private boolean pinned;
    private volatile Config config;
    private boolean closed;

    private CiliumFixture(BpfObject object, Path root) {
        this.object = object;
        this.root = root;
        this.pin = root.resolve("tc/globals/cilium_events");
        this.key = arena.allocate(JAVA_INT);
    }

    /**
     * Loads the fixture, configures it, pins {@code cilium_events} and attaches the program to tc
     * ingress of {@code ifname} in network namespace {@code netns}. Mounts a BPF filesystem at
     * /sys/fs/bpf first if there is none (it is left mounted, as on any Cilium node).
     */
    public static CiliumFixture open(String netns, String ifname, Config config) {
        ensureBpffs();
        Path root = Path.of("/sys/fs/bpf", "droptrace-test-" + ProcessHandle.current().pid() + "-" + INSTANCES.incrementAndGet());
        BpfObject object = BpfObject.open("cilium_notify", elf());
        CiliumFixture f = new CiliumFixture(object, root);
        try {
            object.load();
            f.configure(config);
            Files.createDirectories(f.pin.getParent());
            object.map("cilium_events").pin(f.pin);
            f.pinned = true;
            f.attachment = BpfTcAttachment.attach(object.program(PROGRAM), netns, ifname, BpfTcAttachment.AttachPoint.INGRESS);
            return f;
        } catch (IOException e) {
            f.close();
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            try {
                f.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Whether the fixture can run here: its object was built. Root and libbpf are the caller's checks. */
    public static boolean built() {
        return CiliumFixture.class.getResource(RESOURCE) != null;
    }

    private static byte[] elf() {
        try (InputStream in = CiliumFixture.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is not on the class path (bpf module not built)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Mounts a BPF filesystem at /sys/fs/bpf unless one is mounted there. */
    public static void ensureBpffs() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                int dash = Arrays.asList(f).indexOf("-");
                if (f.length > 4 && f[4].equals("/sys/fs/bpf") && dash > 0 && f[dash + 1].equals("bpf")) {
                    return;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Libc.mount("bpf", "/sys/fs/bpf", "bpf");
    }

    /** Writes a new configuration; the program uses it from the next packet on. */
    public void configure(Config c) {
        MemorySegment v = arena.allocate(CFG_SIZE, 8);
        v.set(JAVA_SHORT, CFG_DENIED_PORT, (short) c.deniedPort());
        v.set(JAVA_SHORT, CFG_CAP_LEN, (short) c.capLen());
        v.set(JAVA_BYTE, CFG_DROP_LAYOUT, (byte) c.drop().size);
        v.set(JAVA_BYTE, CFG_VERDICT_LAYOUT, (byte) c.verdict().size);
        v.set(JAVA_BYTE, CFG_DROP_REASON, (byte) c.reason());
        v.set(JAVA_BYTE, CFG_MATCH_TYPE, (byte) c.matchType());
        v.set(JAVA_BYTE, CFG_AUTH_TYPE, (byte) c.authType());
        v.set(JAVA_BYTE, CFG_FILE, (byte) c.file());
        v.set(JAVA_SHORT, CFG_LINE, (short) c.line());
        v.set(JAVA_SHORT, CFG_SOURCE_ENDPOINT, (short) c.sourceEndpoint());
        v.set(JAVA_INT, CFG_SRC_IDENTITY, (int) c.srcIdentity());
        v.set(JAVA_INT, CFG_DST_IDENTITY, (int) c.dstIdentity());
        v.set(JAVA_INT, CFG_DST_ENDPOINT, (int) c.dstEndpoint());
        v.set(JAVA_INT, CFG_COOKIE, (int) c.cookie());
        v.set(JAVA_LONG, CFG_IP_TRACE_ID, c.ipTraceId());
        MemorySegment k = arena.allocate(JAVA_INT);
        object.map("fixture_config").update(k, v, BpfMap.BPF_ANY);
        config = c;
    }

    /** The configuration last written. */
    public Config config() {
        return config;
    }

    /** Where {@code cilium_events} is pinned: the path to give a ring reader. */
    public Path pinPath() {
        return pin;
    }

    /** The device the program is attached to. */
    public int ifindex() {
        return attachment.ifindex();
    }

    /** The tc attachment (handle, priority, program id). */
    public BpfTcAttachment attachment() {
        return attachment;
    }

    /** Packets the fixture dropped (TC_ACT_SHOT). */
    public long droppedCount() {
        return counter(CNT_DROPPED);
    }

    /** Drop notifications the perf array accepted. */
    public long dropNotifications() {
        return counter(CNT_DROP_NOTIFY);
    }

    /** Policy verdicts the perf array accepted. */
    public long verdictNotifications() {
        return counter(CNT_VERDICT);
    }

    /** bpf_perf_event_output failures: no reader installed for the CPU, or its ring full. */
    public long outputErrors() {
        return counter(CNT_OUTPUT_ERROR);
    }

    /** Packets the fixture let through. */
    public long passedCount() {
        return counter(CNT_PASSED);
    }

    private synchronized long counter(int index) {
        key.set(JAVA_INT, 0, index);
        return object.map("fixture_counters").sumPerCpuLong(key);
    }

    /** Detaches the program, removes the pin and its directories, unloads the object. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        try {
            if (attachment != null) {
                attachment.close();
            }
        } catch (RuntimeException e) {
            failure = e;
        }
        try {
            if (pinned) {
                object.map("cilium_events").unpin(pin);
            }
            for (Path dir = pin.getParent(); dir.startsWith(root); dir = dir.getParent()) {
                Files.deleteIfExists(dir);
            }
        } catch (IOException | RuntimeException e) {
            RuntimeException r = e instanceof RuntimeException re ? re : new UncheckedIOException((IOException) e);
            if (failure == null) {
                failure = r;
            } else {
                failure.addSuppressed(r);
            }
        }
        object.close();
        arena.close();
        if (failure != null) {
            throw failure;
        }
    }
}
