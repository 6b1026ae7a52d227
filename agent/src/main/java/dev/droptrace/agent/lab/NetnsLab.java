package dev.droptrace.agent.lab;

import dev.droptrace.netns.NetworkNamespace;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A set of network namespaces ("pods") joined pairwise by veth pairs, named {@code dt<pid>x<n>-<pod>}.
 *
 * <p>Each link gets its own /24 in 10.2xx.0.0/16 and /64 in fd00:2xx::/32; IPv6 addresses skip
 * duplicate address detection so they are usable at once. Closing the lab deletes the namespaces,
 * which removes their veths and iptables rules with them.
 */
public final class NetnsLab implements AutoCloseable {
    private static final String PREFIX = "dt";
    private static final AtomicInteger LABS = new AtomicInteger();

    private final String id;
    private final int octet;
    private final Map<String, Pod> pods = new LinkedHashMap<>();
    private final List<String> namespaces = new ArrayList<>();
    private final Thread cleanupHook;
    private int links;
    private boolean closed;

    /** A namespace standing in for a pod, with the addresses of its links. */
    public record Pod(String name, String netns, List<String> ipv4, List<String> ipv6) {
        public String ip4() { return ipv4.getFirst(); }
        public String ip6() { return ipv6.getFirst(); }
    }

    private NetnsLab(String id, int octet) {
        this.id = id;
        this.octet = octet;
        this.cleanupHook = new Thread(this::close, "netns-lab-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanupHook);
    }

    /**
     * Starts a lab. {@code octet} picks the 10.{octet}.0.0/16 and fd00:{octet}::/32 ranges (200-254),
     * so labs running at the same time can use different ones.
     */
    public static NetnsLab create(int octet) {
        if (octet < 200 || octet > 254) throw new IllegalArgumentException("octet must be in 200..254");
        removeOrphans();
        long pid = ProcessHandle.current().pid();
        return new NetnsLab(PREFIX + pid + "x" + LABS.incrementAndGet(), octet);
    }

    /** Creates a namespace for a pod, with loopback up. */
    public Pod addPod(String name) {
        String ns = id + "-" + name;
        Command.run("ip", "netns", "add", ns);
        namespaces.add(ns);
        Command.run("ip", "-n", ns, "link", "set", "lo", "up");
        Pod pod = new Pod(name, ns, new ArrayList<>(), new ArrayList<>());
        pods.put(name, pod);
        return pod;
    }

    /**
     * Joins two pods with a veth pair named {@code ifname} on both sides, and addresses
     * 10.{octet}.{n}.1/.2 and fd00:{octet}:{n}::1/::2.
     */
    public void link(Pod a, Pod b, String ifnameA, String ifnameB) {
        int n = ++links;
        Command.run("ip", "link", "add", ifnameA, "netns", a.netns(), "type", "veth", "peer", "name", ifnameB, "netns", b.netns());
        configure(a, ifnameA, n, 1);
        configure(b, ifnameB, n, 2);
    }

    private void configure(Pod pod, String ifname, int n, int host) {
        String v4 = "10." + octet + "." + n + "." + host;
        String v6 = "fd00:" + octet + ":" + n + "::" + host;
        Command.run("ip", "-n", pod.netns(), "addr", "add", v4 + "/24", "dev", ifname);
        Command.run("ip", "-n", pod.netns(), "-6", "addr", "add", v6 + "/64", "dev", ifname, "nodad");
        Command.run("ip", "-n", pod.netns(), "link", "set", ifname, "up");
        pod.ipv4().add(v4);
        pod.ipv6().add(v6);
    }

    public Pod pod(String name) {
        Pod p = pods.get(name);
        if (p == null) throw new IllegalArgumentException("no pod " + name);
        return p;
    }

    public List<Pod> pods() {
        return List.copyOf(pods.values());
    }

    /** Runs a command inside the pod's namespace. */
    public String exec(Pod pod, String... argv) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", pod.netns()));
        cmd.addAll(List.of(argv));
        return Command.run(cmd);
    }

    /** Appends an iptables rule (IPv4) in the pod's namespace, for example {@code "-A", "INPUT", ...}. */
    public void iptables(Pod pod, String... rule) {
        exec(pod, prepend("iptables", rule));
    }

    /** Appends an ip6tables rule in the pod's namespace. */
    public void ip6tables(Pod pod, String... rule) {
        exec(pod, prepend("ip6tables", rule));
    }

    /** The packet counter of rule number {@code rule} (1-based) in {@code chain} of the filter table. */
    public long ruleCounter(Pod pod, boolean ipv6, String chain, int rule) {
        String out = exec(pod, ipv6 ? "ip6tables" : "iptables", "-L", chain, "-n", "-v", "-x", "--line-numbers");
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 2 && f[0].equals(Integer.toString(rule))) return Long.parseLong(f[1]);
        }
        throw new LabException("no rule " + rule + " in " + chain + " of " + pod.netns());
    }

    /** A counter from /proc/net/snmp (IPv4, e.g. "Udp","NoPorts") or /proc/net/snmp6 (e.g. "Udp6NoPorts"). */
    public long snmpCounter(Pod pod, String group, String name) {
        String out = exec(pod, "cat", "/proc/net/snmp", "/proc/net/snmp6");
        String[] lines = out.split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith(group + ":") && lines[i + 1].startsWith(group + ":")) {
                String[] keys = lines[i].split("\\s+");
                String[] values = lines[i + 1].split("\\s+");
                for (int k = 1; k < keys.length && k < values.length; k++) {
                    if (keys[k].equals(name)) return Long.parseLong(values[k]);
                }
            }
        }
        for (String line : lines) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2 && f[0].equals(group + name)) return Long.parseLong(f[1]);
            if (f.length == 2 && f[0].equals(name)) return Long.parseLong(f[1]);
        }
        throw new LabException("no SNMP counter " + group + " " + name + " in " + pod.netns());
    }

    /** The inode number of the pod's network namespace, as the kernel reports it in drops. */
    public long netnsInode(Pod pod) {
        try {
            return ((Number) Files.getAttribute(NetworkNamespace.pathOf(pod.netns()), "unix:ino")).longValue();
        } catch (IOException e) {
            throw new LabException("cannot stat " + NetworkNamespace.pathOf(pod.netns()) + ": " + e.getMessage());
        }
    }

    /** The ifindex of an interface inside the pod's namespace. */
    public int ifindex(Pod pod, String ifname) {
        return Integer.parseInt(exec(pod, "cat", "/sys/class/net/" + ifname + "/ifindex").strip());
    }

    /** Sends {@code count} UDP datagrams from the pod to {@code dst}:{@code port}, from {@code srcPort}. */
    public void sendUdp(Pod from, String dst, int port, int srcPort, int count) throws Exception {
        InetAddress addr = InetAddress.getByName(dst);
        NetworkNamespace.run(from.netns(), () -> {
            try (DatagramChannel ch = DatagramChannel.open(addr.getAddress().length == 4
                    ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6)) {
                ch.bind(new InetSocketAddress(srcPort));
                ByteBuffer payload = ByteBuffer.allocate(32);
                InetSocketAddress target = new InetSocketAddress(addr, port);
                for (int i = 0; i < count; i++) {
                    payload.clear();
                    payload.putLong(0, i);
                    ch.send(payload, target);
                }
            }
            return null;
        });
    }

    /**
     * Starts a TCP connection from the pod to {@code dst}:{@code port} and abandons it after
     * {@code holdMillis}; a DROP rule turns it into dropped SYNs (retransmitted while held).
     */
    public void tryTcp(Pod from, String dst, int port, int srcPort, long holdMillis) throws Exception {
        InetAddress addr = InetAddress.getByName(dst);
        SocketChannel ch = NetworkNamespace.run(from.netns(), () -> {
            SocketChannel c = SocketChannel.open(addr.getAddress().length == 4
                    ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6);
            c.bind(new InetSocketAddress(srcPort));
            c.configureBlocking(false);
            c.connect(new InetSocketAddress(addr, port));
            return c;
        });
        try {
            Thread.sleep(holdMillis);
        } finally {
            ch.close();
        }
    }

    /**
     * Drops the lab's own shutdown hook: the caller promises to close the lab itself, also on
     * Ctrl-C (after it has read what it needs from the namespaces).
     */
    public void closeOnlyExplicitly() {
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException shuttingDown) {
            // too late: the hook runs
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (String ns : namespaces.reversed()) {
            Command.tryRun(List.of("ip", "netns", "del", ns));
        }
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException shuttingDown) {
            // running from the hook itself
        }
    }

    /** Deletes namespaces left by labs whose process is gone (killed before it could clean up). */
    static void removeOrphans() {
        Path dir = Path.of("/var/run/netns");
        if (!Files.isDirectory(dir)) return;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String name = p.getFileName().toString();
                if (!name.matches(PREFIX + "\\d+x\\d+-.*")) continue;
                long pid = Long.parseLong(name.substring(PREFIX.length(), name.indexOf('x')));
                if (ProcessHandle.of(pid).isEmpty()) Command.tryRun(List.of("ip", "netns", "del", name));
            }
        } catch (IOException ignored) {
            // nothing to clean
        }
    }

    private static String[] prepend(String first, String... rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
