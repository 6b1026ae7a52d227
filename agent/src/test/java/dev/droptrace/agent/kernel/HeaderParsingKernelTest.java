package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.Agent;
import dev.droptrace.agent.lab.NetnsLab;
import dev.droptrace.libc.Libc;
import dev.droptrace.netns.NetworkNamespace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

import static dev.droptrace.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The BPF program's header parsing on hand-built packets the other kernel tests do not send: ICMP
 * (type and code), IPv4 with options (the L4 header is not right after 20 bytes, so the program
 * takes its second read) and IPv6 with a hop-by-hop extension header. The client writes each
 * packet whole through a raw socket; the server's iptables/ip6tables rules drop them, and every
 * drop must be journaled with the fields the packet carried, as many as the rules counted.
 */
@Tag("kernel")
class HeaderParsingKernelTest {
    static final int UDP_PORT = 9999;
    static final int AF_INET = 2, AF_INET6 = 10, SOCK_RAW = 3, IPPROTO_RAW = 255;
    static final int ICMP = 1, UDP = 17, HOP_BY_HOP = 0;

    @TempDir Path journal;
    NetnsLab lab;
    NetnsLab.Pod client;
    NetnsLab.Pod server;

    @BeforeEach
    void setUp() {
        assumeKernelTestbed();
        lab = clientServer(233, UDP_PORT); // iptables rule 1: UDP to UDP_PORT
        client = lab.pod("client");
        server = lab.pod("server");
        lab.iptables(server, "-A", "INPUT", "-p", "icmp", "-j", "DROP"); // rule 2
        lab.ip6tables(server, "-A", "INPUT", "-p", "udp", "--dport", "" + UDP_PORT, "-j", "DROP");
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    @Test
    void icmpIpv4OptionsAndIpv6ExtensionHeadersAreParsed() throws Exception {
        byte[] c4 = InetAddress.getByName(client.ip4()).getAddress();
        byte[] s4 = InetAddress.getByName(server.ip4()).getAddress();
        byte[] c6 = InetAddress.getByName(client.ip6()).getAddress();
        byte[] s6 = InetAddress.getByName(server.ip6()).getAddress();
        byte[] echo = icmp(8, 0);       // echo request, plain IPv4 header: the one-read path
        byte[] timestamp = icmp(13, 0); // timestamp request, behind IPv4 options
        byte[] udp4 = udp(40001, UDP_PORT);
        byte[] udp6 = udp(40002, UDP_PORT);
        try (Agent agent = Agent.start(new Agent.Config(journal, "test-node", Set.of("kernel")).withAggregateInterval(0))) {
            assertTrue(agent.anyAttached(), agent.sourceStates().toString());
            send4(c4, s4, ICMP, 0, echo, 3);
            send4(c4, s4, ICMP, 1, timestamp, 4); // 4 bytes of options: ihl 6
            send4(c4, s4, UDP, 2, udp4, 5);       // 8 bytes of options: ihl 7
            send6(c6, s6, udp6, 6);               // hop-by-hop header, then UDP
            // the first packets of each family wait for neighbour resolution: give them a moment
            for (int i = 0; i < 50 && lab.ruleCounter(server, true, "INPUT", 1) < 6; i++) Thread.sleep(100);
            assertEquals(5, lab.ruleCounter(server, false, "INPUT", 1), "iptables dropped every UDP packet");
            assertEquals(7, lab.ruleCounter(server, false, "INPUT", 2), "iptables dropped every ICMP packet");
            assertEquals(6, lab.ruleCounter(server, true, "INPUT", 1), "ip6tables dropped every UDP packet");

            Predicate<JsonNode> ours = e -> e.path("reason").asText().equals("NETFILTER_DROP")
                    && (e.path("dst_ip").asText().equals(server.ip4()) || e.path("dst_ip").asText().equals(server.ip6()));
            List<JsonNode> events = awaitEvents(journal, ev -> sumCount(ev, ours) >= 18, "--netns", "" + lab.netnsInode(server))
                    .stream().filter(ours).toList();
            assertEquals(18, sumCount(events, e -> true), "every drop journaled once: " + events);

            List<JsonNode> echoes = select(events, e -> icmpIs(e, 8, 0));
            List<JsonNode> timestamps = select(events, e -> icmpIs(e, 13, 0));
            List<JsonNode> udpV4 = select(events, e -> e.path("family").asText().equals("ipv4") && e.path("protocol").asText().equals("UDP"));
            List<JsonNode> udpV6 = select(events, e -> e.path("family").asText().equals("ipv6") && e.path("protocol").asText().equals("UDP"));
            assertEquals(3, echoes.size(), "ICMP echo requests: " + events);
            assertEquals(4, timestamps.size(), "ICMP behind IPv4 options: " + events);
            assertEquals(5, udpV4.size(), "UDP behind IPv4 options: " + events);
            assertEquals(6, udpV6.size(), "UDP behind an IPv6 hop-by-hop header: " + events);
            for (JsonNode e : echoes) assertPacket(e, client.ip4(), server.ip4(), 20 + echo.length);
            for (JsonNode e : timestamps) assertPacket(e, client.ip4(), server.ip4(), 24 + timestamp.length);
            for (JsonNode e : udpV4) {
                assertPacket(e, client.ip4(), server.ip4(), 28 + udp4.length);
                assertEquals(40001, e.get("src_port").asInt(), e.toString());
                assertEquals(UDP_PORT, e.get("dst_port").asInt(), e.toString());
            }
            for (JsonNode e : udpV6) {
                assertPacket(e, client.ip6(), server.ip6(), 40 + 8 + udp6.length);
                assertEquals(40002, e.get("src_port").asInt(), e.toString());
                assertEquals(UDP_PORT, e.get("dst_port").asInt(), e.toString());
            }
        }
    }

    private static List<JsonNode> select(List<JsonNode> events, Predicate<JsonNode> which) {
        return events.stream().filter(which).toList();
    }

    private static boolean icmpIs(JsonNode e, int type, int code) {
        return e.path("protocol").asText().equals("ICMP") && e.path("icmp").path("type").asInt(-1) == type
                && e.path("icmp").path("code").asInt(-1) == code;
    }

    private void assertPacket(JsonNode e, String src, String dst, int length) {
        assertEquals(src, e.get("src_ip").asText(), e.toString());
        assertEquals(dst, e.get("dst_ip").asText(), e.toString());
        assertEquals("eth0", e.get("interface").asText(), e.toString());
        assertEquals(1, e.get("count").asInt(), e.toString());
        assertEquals(length, e.get("length").asInt(), "skb length = the IP packet's length: " + e);
    }

    /** An ICMP header (checksum left 0: netfilter does not check it) and 8 bytes of data. */
    private static byte[] icmp(int type, int code) {
        return ByteBuffer.allocate(16).put(0, (byte) type).put(1, (byte) code).putLong(8, 0x64726f7074726163L).array();
    }

    /** A UDP header (checksum 0) and 8 bytes of data. */
    private static byte[] udp(int sport, int dport) {
        return ByteBuffer.allocate(16).putShort(0, (short) sport).putShort(2, (short) dport).putShort(4, (short) 16)
                .putLong(8, 0x64726f7074726163L).array();
    }

    /** Sends {@code count} IPv4 packets with {@code optionWords} words of NOP options before {@code l4}. */
    private void send4(byte[] src, byte[] dst, int protocol, int optionWords, byte[] l4, int count) throws Exception {
        int ihl = 5 + optionWords;
        ByteBuffer p = ByteBuffer.allocate(ihl * 4 + l4.length);
        p.put((byte) (0x40 | ihl)).put((byte) 0).putShort((short) p.capacity()).putShort((short) 0).putShort((short) 0)
                .put((byte) 64).put((byte) protocol).putShort((short) 0).put(src).put(dst); // the kernel fills in the checksum
        for (int i = 0; i < optionWords * 4; i++) p.put((byte) 1); // IPOPT_NOOP
        p.put(l4);
        ByteBuffer sa = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder()).putShort(0, (short) AF_INET);
        sa.put(4, dst);
        sendRaw(AF_INET, p.array(), sa.array(), count);
    }

    /** Sends {@code count} IPv6 packets: header, an 8-byte hop-by-hop header (PadN), then {@code udp}. */
    private void send6(byte[] src, byte[] dst, byte[] udp, int count) throws Exception {
        ByteBuffer p = ByteBuffer.allocate(40 + 8 + udp.length);
        p.putInt(0x60000000).putShort((short) (8 + udp.length)).put((byte) HOP_BY_HOP).put((byte) 64).put(src).put(dst);
        p.put((byte) UDP).put((byte) 0).put((byte) 1).put((byte) 4).putInt(0); // next UDP, length 8 bytes, PadN of 4
        p.put(udp);
        ByteBuffer sa = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder()).putShort(0, (short) AF_INET6);
        sa.put(8, dst);
        sendRaw(AF_INET6, p.array(), sa.array(), count);
    }

    /** Writes whole packets (IPPROTO_RAW: the header included) from the client's namespace. */
    private void sendRaw(int family, byte[] packet, byte[] sockaddr, int count) throws Exception {
        NetworkNamespace.run(client.netns(), () -> {
            int fd = Libc.socket(family, SOCK_RAW, IPPROTO_RAW);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, packet);
                MemorySegment addr = a.allocateFrom(ValueLayout.JAVA_BYTE, sockaddr);
                for (int i = 0; i < count; i++) Libc.sendto(fd, buf, packet.length, 0, addr);
            } finally {
                Libc.close(fd);
            }
            return null;
        });
    }
}
