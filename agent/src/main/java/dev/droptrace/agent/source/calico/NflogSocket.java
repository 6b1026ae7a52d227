package dev.droptrace.agent.source.calico;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;
import dev.droptrace.netlink.NetlinkSocket;
import dev.droptrace.netns.NetworkNamespace;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * An nfnetlink_log socket bound to one or more NFLOG groups ({@code specs/calico-nflog.md} §1.3).
 *
 * <p>For each group it sends, as separate NFULNL_MSG_CONFIG requests with NLM_F_ACK and checks each
 * ack: CMD BIND, MODE (packet copy with the configured range), NLBUFSIZ, TIMEOUT and QTHRESH (a short
 * flush timer, so records arrive within tens of milliseconds instead of up to a second). The receive
 * buffer is sized for bursts with SO_RCVBUFFORCE (SO_RCVBUF when that is not permitted).
 *
 * <p>The kernel allows one listener per group per network namespace. A group another socket holds
 * answers BIND with EPERM: it is recorded as {@link NflogGroupState.Held} with the holder's line of
 * /proc/net/netfilter/nfnetlink_log, and the socket goes on with its other groups. It never sends
 * anything else for a held group (no unbind, no retry), so the owner is not disturbed.
 *
 * <p>The PF_UNBIND/PF_BIND pair Felix sends first is only needed on kernels before 3.17; on newer ones
 * NFLOG and nft's {@code log group} reach nfnetlink_log without it, and PF_UNBIND would replace the
 * namespace's default logger for AF_INET (nf_log_ipv4, used by other LOG users) with nfnetlink_log.
 * {@link Settings#rebindFamily} therefore defaults to true only on those old kernels.
 *
 * <p>NFLOG sees only its own network namespace: create the socket there ({@link #openIn}); the fd then
 * works from any thread.
 */
public final class NflogSocket implements AutoCloseable {
    static final int NLM_F_REQUEST = 0x1;
    static final int NLM_F_ACK = 0x4;
    static final int AF_UNSPEC = 0;
    static final int AF_INET = 2;
    static final int NFULA_CFG_CMD = 1;
    static final int NFULA_CFG_MODE = 2;
    static final int NFULA_CFG_NLBUFSIZ = 3;
    static final int NFULA_CFG_TIMEOUT = 4;
    static final int NFULA_CFG_QTHRESH = 5;
    static final int CMD_BIND = 1;
    static final int CMD_UNBIND = 2;
    static final int CMD_PF_BIND = 3;
    static final int CMD_PF_UNBIND = 4;
    static final int COPY_PACKET = 2;

    private static final ValueLayout.OfInt HOST_U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort HOST_U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt BE_U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE_U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final Path INSTANCES = Path.of("/proc/thread-self/net/netfilter/nfnetlink_log");
    private static final long ACK_TIMEOUT_NS = 10_000_000_000L;

    /**
     * How to bind.
     *
     * @param groups             the NFLOG groups (Calico: 1 ingress, 2 egress)
     * @param copyRange          bytes of each packet to copy, from the network header (Felix: 255)
     * @param bufferSize         NFULA_CFG_NLBUFSIZ, the kernel's batching skb (Felix: 65536)
     * @param flushTimeout       NFULA_CFG_TIMEOUT in 1/100 s (kernel default 100 = 1 s)
     * @param queueThreshold     NFULA_CFG_QTHRESH, flush after this many packets (kernel default 100)
     * @param receiveBufferBytes the socket's receive buffer (SO_RCVBUFFORCE)
     * @param rebindFamily       send PF_UNBIND/PF_BIND for AF_INET first (only old kernels need it)
     */
    public record Settings(List<Integer> groups, int copyRange, int bufferSize, int flushTimeout, int queueThreshold,
                           int receiveBufferBytes, boolean rebindFamily) {
        public Settings {
            groups = List.copyOf(groups);
            if (groups.isEmpty()) throw new IllegalArgumentException("no NFLOG group");
            for (int g : groups) {
                if (g < 0 || g > 0xFFFF) throw new IllegalArgumentException("NFLOG group out of range: " + g);
            }
            if (groups.stream().distinct().count() != groups.size()) {
                throw new IllegalArgumentException("NFLOG group listed twice: " + groups);
            }
        }

        /** Defaults for low latency under bursts: 255-byte copies, 64 KiB batches, 10 ms flush, 8 MiB buffer. */
        public static Settings forGroups(List<Integer> groups) {
            return new Settings(groups, 255, 65536, 1, 64, 8 << 20, kernelNeedsFamilyBind());
        }

        public static Settings forGroups(int... groups) {
            return forGroups(java.util.Arrays.stream(groups).boxed().toList());
        }

        public Settings withReceiveBufferBytes(int bytes) {
            return new Settings(groups, copyRange, bufferSize, flushTimeout, queueThreshold, bytes, rebindFamily);
        }

        public Settings withFlush(int timeoutCentis, int threshold) {
            return new Settings(groups, copyRange, bufferSize, timeoutCentis, threshold, receiveBufferBytes, rebindFamily);
        }

        public Settings withRebindFamily(boolean rebind) {
            return new Settings(groups, copyRange, bufferSize, flushTimeout, queueThreshold, receiveBufferBytes, rebind);
        }
    }

    private final NetlinkSocket netlink;
    private final Settings settings;
    private final String netns;
    private final Map<Integer, NflogGroupState> groups = new LinkedHashMap<>();
    private final int receiveBufferBytes;
    private long discardedWhileBinding;
    private int seq;

    private NflogSocket(NetlinkSocket netlink, Settings settings, String netns) {
        this.netlink = netlink;
        this.settings = settings;
        this.netns = netns;
        this.receiveBufferBytes = netlink.receiveBufferSize(settings.receiveBufferBytes());
    }

    /** Opens the socket in the calling thread's network namespace and binds the groups. */
    public static NflogSocket open(Settings settings) {
        return open(settings, null);
    }

    /**
     * Opens the socket inside the named network namespace (one made by {@code ip netns add}), on a
     * thread that enters it, and binds the groups there.
     */
    public static NflogSocket openIn(String netnsName, Settings settings) throws Exception {
        return NetworkNamespace.run(netnsName, () -> open(settings, netnsName));
    }

    private static NflogSocket open(Settings settings, String netns) {
        NetlinkSocket netlink = NetlinkSocket.open(NetlinkSocket.NETLINK_NETFILTER);
        try {
            NflogSocket socket = new NflogSocket(netlink, settings, netns);
            socket.bindAll();
            return socket;
        } catch (RuntimeException e) {
            netlink.close();
            throw e;
        }
    }

    private void bindAll() {
        try (Arena arena = Arena.ofConfined()) {
            Conversation c = new Conversation(arena);
            if (settings.rebindFamily()) {
                int e = c.command(AF_INET, 0, CMD_PF_UNBIND);
                if (e == 0) e = c.command(AF_INET, 0, CMD_PF_BIND);
                if (e != 0) throw new NativeCallException("nfnetlink_log PF_BIND AF_INET", e);
            }
            for (int group : settings.groups()) {
                groups.put(group, bind(c, group));
            }
        }
    }

    private NflogGroupState bind(Conversation c, int group) {
        int e = c.command(AF_INET, group, CMD_BIND);
        if (e == Libc.EPERM) {
            Optional<NflogInstance> holder = readInstances().flatMap(text -> NflogInstance.find(text, group));
            return new NflogGroupState.Held(group, holder.map(NflogInstance::portId).orElse(-1), holder);
        }
        if (e != 0) {
            return new NflogGroupState.Failed(group, "BIND: " + errorText(e));
        }
        String step = "MODE";
        e = c.mode(group, settings.copyRange());
        if (e == 0) {
            step = "NLBUFSIZ";
            e = c.u32(group, NFULA_CFG_NLBUFSIZ, settings.bufferSize());
        }
        if (e == 0) {
            step = "TIMEOUT";
            e = c.u32(group, NFULA_CFG_TIMEOUT, settings.flushTimeout());
        }
        if (e == 0) {
            step = "QTHRESH";
            e = c.u32(group, NFULA_CFG_QTHRESH, settings.queueThreshold());
        }
        if (e != 0) {
            c.command(AF_UNSPEC, group, CMD_UNBIND); // ours: release it rather than keep it half-configured
            return new NflogGroupState.Failed(group, step + ": " + errorText(e));
        }
        return new NflogGroupState.Bound(group);
    }

    private static String errorText(int errno) {
        return errno < 0 ? "no ack" : Libc.strerror(errno) + " (errno " + errno + ")";
    }

    /** The instances file of the calling thread's namespace (this runs on the namespace's thread while binding). */
    private static Optional<String> readInstances() {
        try {
            return Optional.of(Files.readString(INSTANCES));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Whether a kernel this old needs PF_BIND before NFLOG reaches nfnetlink_log (before 3.17). */
    static boolean kernelNeedsFamilyBind() {
        String[] v = System.getProperty("os.version", "").split("[.-]");
        try {
            int major = Integer.parseInt(v[0]);
            int minor = v.length > 1 ? Integer.parseInt(v[1]) : 0;
            return major < 3 || (major == 3 && minor < 17);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** Sends config requests and waits for each ack, in one arena. */
    private final class Conversation {
        private final MemorySegment request;
        private final MemorySegment reply;
        private final NflogMessageParser parser = new NflogMessageParser();

        Conversation(Arena arena) {
            request = arena.allocate(64, 8);
            reply = arena.allocate(256 * 1024, 8);
        }

        int command(int family, int group, int cmd) {
            int len = header(family, group);
            len = attribute(len, NFULA_CFG_CMD, 1);
            request.set(ValueLayout.JAVA_BYTE, len - 1, (byte) cmd);
            return exchange(len + 3 & ~3);
        }

        int mode(int group, int copyRange) {
            int len = header(AF_UNSPEC, group);
            len = attribute(len, NFULA_CFG_MODE, 6);
            request.set(BE_U32, len - 6, copyRange);
            request.set(ValueLayout.JAVA_BYTE, len - 2, (byte) COPY_PACKET);
            request.set(ValueLayout.JAVA_BYTE, len - 1, (byte) 0);
            return exchange(len + 3 & ~3);
        }

        int u32(int group, int type, int value) {
            int len = header(AF_UNSPEC, group);
            len = attribute(len, type, 4);
            request.set(BE_U32, len - 4, value);
            return exchange(len);
        }

        private int header(int family, int group) {
            request.fill((byte) 0);
            request.set(HOST_U16, 4, (short) NflogMessageParser.NFULNL_MSG_CONFIG);
            request.set(HOST_U16, 6, (short) (NLM_F_REQUEST | NLM_F_ACK));
            request.set(HOST_U32, 8, ++seq);
            request.set(ValueLayout.JAVA_BYTE, 16, (byte) family);
            request.set(BE_U16, 18, (short) group);
            return 20;
        }

        /** Writes an attribute header at {@code at}; returns the offset just past its payload. */
        private int attribute(int at, int type, int payload) {
            request.set(HOST_U16, at, (short) (4 + payload));
            request.set(HOST_U16, at + 2, (short) type);
            return at + 4 + payload;
        }

        /** Sends the request and returns the ack's errno (0 success), or -1 when no ack came. */
        private int exchange(int messageLength) {
            request.set(HOST_U32, 0, messageLength);
            netlink.send(request, messageLength);
            long deadline = System.nanoTime() + ACK_TIMEOUT_NS;
            while (System.nanoTime() < deadline) {
                int n = netlink.receive(reply, true);
                if (n == NetlinkSocket.WOULD_BLOCK) {
                    netlink.awaitReadable(200);
                    continue;
                }
                if (n == NetlinkSocket.OVERRUN) continue;
                parser.wrap(reply, 0, Math.min(n, reply.byteSize()));
                for (NflogMessageParser.Kind k = parser.next(); k != NflogMessageParser.Kind.END; k = parser.next()) {
                    if (k == NflogMessageParser.Kind.ERROR && parser.netlinkSequence() == seq) {
                        return -parser.errorCode();
                    }
                    if (k == NflogMessageParser.Kind.PACKET) discardedWhileBinding++;
                }
            }
            return -1;
        }
    }

    // ---- state ------------------------------------------------------------------------------------

    /** The netlink socket, for the reader. */
    public NetlinkSocket netlink() {
        return netlink;
    }

    public Settings settings() {
        return settings;
    }

    /** The namespace it was opened in; null for the caller's own. */
    public String netns() {
        return netns;
    }

    /** The kernel-assigned port id: how /proc/net/netfilter/nfnetlink_log names this socket. */
    public int portId() {
        return netlink.portId();
    }

    /** Each requested group's state, in the order requested. */
    public Map<Integer, NflogGroupState> groups() {
        return Map.copyOf(groups);
    }

    public NflogGroupState group(int group) {
        NflogGroupState s = groups.get(group);
        if (s == null) throw new IllegalArgumentException("group " + group + " was not requested");
        return s;
    }

    /** The groups this socket receives. */
    public List<Integer> boundGroups() {
        List<Integer> out = new ArrayList<>();
        groups.forEach((g, s) -> {
            if (s instanceof NflogGroupState.Bound) out.add(g);
        });
        return out;
    }

    /** The receive buffer the kernel granted (SO_RCVBUF as read back). */
    public int receiveBufferBytes() {
        return receiveBufferBytes;
    }

    /** Packet messages that arrived (for groups already bound) while later groups were being configured. */
    public long discardedWhileBinding() {
        return discardedWhileBinding;
    }

    /** One line for status: port id, namespace and every group's state. */
    public String state() {
        return "nflog portid " + portId() + (netns == null ? "" : " in netns " + netns) + ": "
                + groups.values().stream().map(NflogGroupState::describe).collect(Collectors.joining("; "));
    }

    /** Closes the socket; the kernel then destroys the instances of the groups it bound. */
    @Override
    public void close() {
        netlink.close();
    }
}
