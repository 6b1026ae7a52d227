package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import dev.droptrace.agent.event.PolicyRef;
import dev.droptrace.agent.event.TcpFlags;
import dev.droptrace.agent.output.CompactFormatter;
import dev.droptrace.agent.output.JsonFormatter;
import dev.droptrace.agent.output.TableFormatter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Writes events with every field set plus dictionary records, reads them back, checks the exact text forms. */
class JournalRoundTripTest {
    @TempDir
    Path tmp;

    static final long T1 = nanos("2026-11-23T12:34:56.123456789Z");
    static final long T2 = nanos("2026-11-23T12:34:57.000000001Z");
    static final long T3 = nanos("2026-11-23T12:35:00Z");
    static final long T4 = nanos("1970-01-01T00:00:00Z");

    static long nanos(String rfc3339) {
        Instant i = Instant.parse(rfc3339);
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    static byte[] ip(String literal) throws Exception {
        return InetAddress.ofLiteral(literal).getAddress();
    }

    @Test
    void everyFieldRoundTrips() throws Exception {
        Path dir = tmp.resolve("journal");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            j.defineReason(DropSource.KERNEL, 6, "NETFILTER_DROP");
            j.defineReason(DropSource.KERNEL, 3, "NO_SOCKET");
            j.defineReason(DropSource.CILIUM, 133, "POLICY_DENIED");
            int node = j.intern(DictionaryKind.STRING, "node-1");
            MemorySegment ifname = arena.allocate(16);
            ifname.setString(0, "veth-b");
            int veth = j.internBytes(DictionaryKind.STRING, ifname, 0, 16);
            ifname.setString(0, "lo");
            int lo = j.internBytes(DictionaryKind.STRING, ifname, 0, 16);
            int sym = j.intern(DictionaryKind.STRING, "nf_hook_slow");
            int client = j.intern(DictionaryKind.IDENTITY, DropView.identityJson(new EndpointIdentity(
                    "team-a", "client-0", "Deployment/client",
                    Map.of("app", "client", "note", "say \"hi\"\n\tü"), "node-1")));
            int server = j.intern(DictionaryKind.IDENTITY, DropView.identityJson(
                    new EndpointIdentity("team-b", "server-0", null, null, null)));
            int policy = j.intern(DictionaryKind.POLICY, DropView.policyJson(
                    new PolicyRef("deny-all", "team-b", "NetworkPolicy", "default", "deny")));

            MemorySegment seg = arena.allocate(DropRecord.SIZE * 4);
            DropRecord r = new DropRecord();
            r.wrap(seg, 0).clear().source(DropSource.KERNEL).family(4).protocol(6).direction(1)
                    .tcpFlags(TcpFlags.SYN | TcpFlags.ACK).srcIp(ip("10.200.0.1")).dstIp(ip("10.200.0.2"))
                    .srcPort(40000).dstPort(9999).length(60).ifindex(7).netns(4026532001L).cpu(3)
                    .reasonCode(6).ktimeNs(123456789L).wallNs(T1).location(0xffffffff81a2b3c4L)
                    .srcIdentityId(client).dstIdentityId(server).policyId(policy)
                    .interfaceId(veth).locationId(sym).nodeId(node);
            r.wrap(seg, DropRecord.SIZE).clear().source(DropSource.CILIUM).family(6).protocol(17).direction(2)
                    .srcIp(ip("fd00::1")).dstIp(ip("2001:db8::ff00:42:8329")).srcPort(53).dstPort(5353)
                    .length(1280).reasonCode(133).wallNs(T2).count(5).location(0x1234).nodeId(node);
            r.wrap(seg, 2 * DropRecord.SIZE).clear().source(DropSource.CALICO).family(6).protocol(58)
                    .srcIp(ip("::1")).dstIp(ip("::1")).icmpType(128).icmpCode(0).length(104).ifindex(1)
                    .interfaceId(lo).netns(4026531840L).reasonCode(9).wallNs(T3).srcPort(1).dstPort(2);
            r.wrap(seg, 3 * DropRecord.SIZE).clear().source(DropSource.KERNEL).protocol(47).reasonCode(3)
                    .wallNs(T4).location(0xffffffff81000000L).tcpFlags(TcpFlags.RST);
            for (int i = 0; i < 4; i++) {
                j.appendEvent(seg, (long) i * DropRecord.SIZE);
            }
        }

        List<String> json = new ArrayList<>();
        List<String> compact = new ArrayList<>();
        List<DropView> views = new ArrayList<>();
        JsonFormatter jf = new JsonFormatter();
        CompactFormatter cf = new CompactFormatter();
        try (JournalReader reader = JournalReader.open(dir)) {
            while (true) {
                DropView v = new DropView();
                if (!reader.next(v)) {
                    break;
                }
                json.add(jf.format(v));
                compact.add(cf.format(v));
                views.add(v);
            }
            assertEquals(0, reader.decodeErrors());
        }
        assertEquals(List.of(
                "{\"time\":\"2026-11-23T12:34:56.123456789Z\",\"node\":\"node-1\",\"source\":\"kernel\","
                        + "\"reason\":\"NETFILTER_DROP\",\"reason_code\":6,\"direction\":\"ingress\",\"family\":\"ipv4\","
                        + "\"protocol\":\"TCP\",\"src_ip\":\"10.200.0.1\",\"src_port\":40000,\"dst_ip\":\"10.200.0.2\","
                        + "\"dst_port\":9999,\"tcp_flags\":\"SYN|ACK\",\"length\":60,\"ifindex\":7,\"interface\":\"veth-b\","
                        + "\"netns\":4026532001,\"count\":1,"
                        + "\"src\":{\"namespace\":\"team-a\",\"pod\":\"client-0\",\"workload\":\"Deployment/client\","
                        + "\"labels\":{\"app\":\"client\",\"note\":\"say \\\"hi\\\"\\n\\tü\"},\"node\":\"node-1\"},"
                        + "\"dst\":{\"namespace\":\"team-b\",\"pod\":\"server-0\"},"
                        + "\"policy\":{\"name\":\"deny-all\",\"namespace\":\"team-b\",\"kind\":\"NetworkPolicy\","
                        + "\"tier\":\"default\",\"action\":\"deny\"},\"location\":\"nf_hook_slow\"}",
                "{\"time\":\"2026-11-23T12:34:57.000000001Z\",\"node\":\"node-1\",\"source\":\"cilium\","
                        + "\"reason\":\"POLICY_DENIED\",\"reason_code\":133,\"direction\":\"egress\",\"family\":\"ipv6\","
                        + "\"protocol\":\"UDP\",\"src_ip\":\"fd00::1\",\"src_port\":53,\"dst_ip\":\"2001:db8::ff00:42:8329\","
                        + "\"dst_port\":5353,\"length\":1280,\"ifindex\":0,\"netns\":0,\"count\":5}",
                "{\"time\":\"2026-11-23T12:35:00.000000000Z\",\"source\":\"calico\",\"reason\":\"9\",\"reason_code\":9,"
                        + "\"direction\":\"unknown\",\"family\":\"ipv6\",\"protocol\":\"ICMPv6\",\"src_ip\":\"::1\","
                        + "\"dst_ip\":\"::1\",\"icmp\":{\"type\":128,\"code\":0},\"length\":104,\"ifindex\":1,"
                        + "\"interface\":\"lo\",\"netns\":4026531840,\"count\":1}",
                "{\"time\":\"1970-01-01T00:00:00.000000000Z\",\"source\":\"kernel\",\"reason\":\"NO_SOCKET\","
                        + "\"reason_code\":3,\"direction\":\"unknown\",\"protocol\":47,\"length\":0,\"ifindex\":0,"
                        + "\"netns\":0,\"count\":1,\"location\":\"0xffffffff81000000\"}"), json);

        assertEquals(List.of(
                "Nov 23 12:34:56.123 kernel NETFILTER_DROP team-a/client-0:40000 -> team-b/server-0:9999 TCP SYN|ACK "
                        + "len=60 if=veth-b netns=4026532001 count=1 policy=team-b/deny-all",
                "Nov 23 12:34:57.000 cilium POLICY_DENIED [fd00::1]:53 -> [2001:db8::ff00:42:8329]:5353 UDP "
                        + "len=1280 netns=0 count=5",
                "Nov 23 12:35:00.000 calico 9 ::1 -> ::1 ICMPv6 type=128 code=0 len=104 if=lo netns=4026531840 count=1",
                "Jan 01 00:00:00.000 kernel NO_SOCKET ? -> ? 47 len=0 netns=0 count=1"), compact);

        assertEquals("""
                TIME                 SOURCE  REASON          PROTO   SRC                    DST                            FLAGS    IFACE   COUNT
                Nov 23 12:34:56.123  kernel  NETFILTER_DROP  TCP     team-a/client-0:40000  team-b/server-0:9999           SYN|ACK  veth-b  1
                Nov 23 12:34:57.000  cilium  POLICY_DENIED   UDP     [fd00::1]:53           [2001:db8::ff00:42:8329]:5353  -        -       5
                Nov 23 12:35:00.000  calico  9               ICMPv6  ::1                    ::1                            128/0    lo      1
                Jan 01 00:00:00.000  kernel  NO_SOCKET       47      ?                      ?                              -        -       1
                """, new TableFormatter().format(views));

        // numeric fields survive unchanged
        DropRecord r0 = views.get(0).record();
        assertEquals(3, r0.cpu());
        assertEquals(123456789L, r0.ktimeNs());
        assertEquals(0xffffffff81a2b3c4L, r0.location());
        assertEquals(1, r0.version());
    }
}
