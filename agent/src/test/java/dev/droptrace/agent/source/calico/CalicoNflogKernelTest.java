package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.PolicyRef;
import dev.droptrace.agent.lab.CalicoLab;
import dev.droptrace.agent.lab.CalicoLab.Dataplane;
import dev.droptrace.agent.lab.CalicoLab.IdFormat;
import dev.droptrace.agent.lab.CalicoLab.Workload;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * NFLOG end to end in a Calico-shaped node: allowed and denied UDP and TCP SYNs between pods, over
 * IPv4 and IPv6, with the policy programmed by iptables or nftables and prefixes in both id formats.
 * Every message is parsed with {@link NflogMessageParser} and {@link CalicoPrefix}; the counts per
 * prefix must equal the NFLOG rules' packet counters exactly.
 */
@Tag("kernel")
class CalicoNflogKernelTest {

    /** What a test flow is, found again in the messages by its source port. */
    record Flow(Workload from, Workload to, int protocol, int dstPort, boolean ipv6) {}

    static List<Arguments> modes() {
        return List.of(Arguments.of(Dataplane.IPTABLES, IdFormat.V3_30, 223), Arguments.of(Dataplane.IPTABLES, IdFormat.V3_32, 224),
                Arguments.of(Dataplane.NFTABLES, IdFormat.V3_30, 225), Arguments.of(Dataplane.NFTABLES, IdFormat.V3_32, 226));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modes")
    void everyLoggedPacketMatchesTheRuleCountersAndItsPolicy(Dataplane dataplane, IdFormat format, int octet) throws Exception {
        NflogCollector.assumeRoot();
        try (CalicoLab lab = CalicoLab.create(octet, dataplane, format);
             NflogSocket socket = NflogSocket.openIn(lab.nodeNetns(), NflogSocket.Settings.forGroups(1, 2))) {
            assertEquals(List.of(1, 2), socket.boundGroups(), socket.state());
            NflogCollector sink = new NflogCollector();
            Workload fe = lab.frontend();
            Workload be = lab.backend();
            Workload ot = lab.other();
            CalicoLab.Prefixes p = lab.prefixes();
            Map<Integer, Flow> flows = new HashMap<>();
            try (NflogReader reader = NflogReader.start(socket, sink)) {
                flows.put(41001, new Flow(fe, be, 6, CalicoLab.WEB_TCP_PORT, false));
                lab.trySyn(fe, be, CalicoLab.WEB_TCP_PORT, 41001, 300, false);
                flows.put(41002, new Flow(fe, be, 17, CalicoLab.DNS_UDP_PORT, false));
                lab.sendUdp(fe, be, CalicoLab.DNS_UDP_PORT, 41002, 3, false);
                flows.put(41003, new Flow(fe, be, 17, CalicoLab.ECHO_UDP_PORT, false));
                lab.sendUdp(fe, be, CalicoLab.ECHO_UDP_PORT, 41003, 2, false);
                flows.put(41004, new Flow(ot, be, 6, CalicoLab.WEB_TCP_PORT, false));
                lab.trySyn(ot, be, CalicoLab.WEB_TCP_PORT, 41004, 300, false);
                flows.put(41005, new Flow(ot, be, 17, CalicoLab.DISCARD_UDP_PORT, false));
                lab.sendUdp(ot, be, CalicoLab.DISCARD_UDP_PORT, 41005, 2, false);
                flows.put(41006, new Flow(ot, be, 17, CalicoLab.DNS_UDP_PORT, false));
                lab.sendUdp(ot, be, CalicoLab.DNS_UDP_PORT, 41006, 2, false);
                flows.put(41007, new Flow(be, fe, 17, CalicoLab.DNS_UDP_PORT, false));
                lab.sendUdp(be, fe, CalicoLab.DNS_UDP_PORT, 41007, 1, false);
                flows.put(41008, new Flow(fe, be, 17, CalicoLab.DNS_UDP_PORT, true));
                lab.sendUdp(fe, be, CalicoLab.DNS_UDP_PORT, 41008, 2, true);
                flows.put(41009, new Flow(ot, be, 17, CalicoLab.DISCARD_UDP_PORT, true));
                lab.sendUdp(ot, be, CalicoLab.DISCARD_UDP_PORT, 41009, 1, true);
                flows.put(41010, new Flow(ot, be, 6, CalicoLab.WEB_TCP_PORT, true));
                lab.trySyn(ot, be, CalicoLab.WEB_TCP_PORT, 41010, 300, true);
                flows.put(41011, new Flow(fe, be, 6, CalicoLab.WEB_TCP_PORT, true));
                lab.trySyn(fe, be, CalicoLab.WEB_TCP_PORT, 41011, 300, true);

                Map<String, Long> counters = lab.nflogCounts();
                long total = counters.values().stream().mapToLong(Long::longValue).sum();
                assertTrue(NflogCollector.await(() -> reader.packets() >= total),
                        "received " + reader.packets() + " of " + total + "\n" + reader.state() + "\n" + lab.ruleset());
                assertEquals(counters, lab.nflogCounts(), "no traffic after the test's own");
                assertEquals(counters, withZeros(counters, sink.countsByPrefix(s -> true)), lab.ruleset());
                assertEquals(0, reader.overruns());
                assertEquals(0, reader.malformed());
                assertEquals(0, sink.unparsable());
                assertTrue(reader.isRunning(), reader.state());
            }

            // the policy did what it says: exact counts where no retry can happen, retries allowed for denied SYNs
            Map<String, Long> got = sink.countsByPrefix(s -> true);
            assertEquals(3 + 2 + 1 + 1, got.get(p.limitEgressAllow()), "SYN + 3 UDP + 2 UDP v6 + SYN v6 from frontend");
            assertEquals(2, got.get(p.limitEgressDenyEcho()));
            assertEquals(3 + 2 + 1 + 1, got.get(p.edgePassFrontend()));
            assertEquals(2, got.get(p.allowFrontendWeb()), "one SYN each over IPv4 and IPv6, answered by RST");
            assertEquals(3 + 2, got.get(p.allowFrontendDns()));
            assertEquals(2 + 1, got.get(p.edgeDenyOtherDiscard()));
            assertEquals(2 + 1, got.get(p.profileDmzDiscard()));
            assertEquals(2, got.get(p.egressProfileEnd()));
            assertEquals(1, got.get(p.profileDefaultEgress()));
            assertEquals(1, got.get(p.profileDefaultIngress()));
            assertTrue(got.get(p.defaultTierEnd()) >= 2, "denied SYNs (v4, v6) and their retries");
            assertEquals(got.get(p.defaultTierEnd()), got.get(p.edgePassOther()));
            assertEquals(got.get(p.defaultTierEnd()), got.get(p.profileDmzTcp()));
            assertNull(got.get(p.securityTierEnd()));
            assertNull(got.get(p.ingressProfileEnd()));

            for (NflogCollector.Seen s : sink.seen()) {
                checkMessage(lab, s, flows.get(s.srcPort()));
            }
        }
    }

    private static Map<String, Long> withZeros(Map<String, Long> template, Map<String, Long> counts) {
        Map<String, Long> out = new java.util.TreeMap<>();
        template.keySet().forEach(k -> out.put(k, 0L));
        out.putAll(counts);
        return out;
    }

    private static void checkMessage(CalicoLab lab, NflogCollector.Seen s, Flow flow) {
        String what = s.toString();
        assertNotNull(flow, "a message for a flow the test did not send: " + what);
        assertEquals(2, s.hook(), "FORWARD hook: " + what);
        assertEquals(flow.ipv6() ? 10 : 2, s.family(), what);
        assertEquals(flow.ipv6() ? flow.from().ip6() : flow.from().ip4(), s.src(), what);
        assertEquals(flow.ipv6() ? flow.to().ip6() : flow.to().ip4(), s.dst(), what);
        assertEquals(flow.protocol(), s.protocol(), what);
        assertEquals(flow.dstPort(), s.dstPort(), what);
        if (flow.protocol() == 6) assertEquals(0x02, s.tcpFlags(), "a SYN: " + what);
        assertEquals(flow.from().ifindex(), s.indev(), "in by the source pod's cali interface: " + what);
        assertEquals(flow.to().ifindex(), s.outdev(), "out by the destination pod's cali interface: " + what);
        assertTrue(s.payloadLength() > 0 && s.payloadLength() <= CalicoLab.SNAPLEN, "snaplen 80: " + what);

        CalicoPrefix prefix = CalicoPrefix.parse(s.prefix());
        assertTrue(prefix.agreesWithGroup(s.group()), "group and direction agree: " + what);
        PolicyRef policy = prefix.policy();
        assertNotNull(policy, what);
        int actionBits = s.mark() & (CalicoLab.MARK_ACCEPT | CalicoLab.MARK_PASS | CalicoLab.MARK_DROP);
        switch (prefix.type()) {
            case RULE -> {
                int expected = switch (policy.action()) {
                    case "allow" -> CalicoLab.MARK_ACCEPT;
                    case "pass" -> CalicoLab.MARK_PASS;
                    default -> CalicoLab.MARK_DROP;
                };
                assertTrue(s.hasMark(), "the action's mark bit is set when the rule logs: " + what);
                assertEquals(expected, actionBits, what);
            }
            case TIER_END, PROFILE_END -> {
                assertFalse(s.hasMark(), "nothing accepted or passed, so the mark is zero and not sent: " + what);
                assertEquals("deny", policy.action(), what);
            }
            default -> throw new AssertionError("unparsed prefix " + what);
        }
        expectFields(lab, prefix, what);
    }

    /** The prefix's fields, for each of the lab's prefixes, in the lab's id format. */
    private static void expectFields(CalicoLab lab, CalicoPrefix c, String what) {
        CalicoLab.Prefixes p = lab.prefixes();
        boolean v332 = lab.format() == IdFormat.V3_32;
        CalicoPrefix.IdFormat ruleFormat = v332 ? CalicoPrefix.IdFormat.V3_32 : CalicoPrefix.IdFormat.V3_30;
        String raw = c.raw();
        if (raw.equals(p.edgePassFrontend()) || raw.equals(p.edgeDenyOtherDiscard()) || raw.equals(p.edgePassOther())) {
            expect(c, CalicoPrefix.Type.RULE, Direction.INGRESS, raw.equals(p.edgePassFrontend()) ? 0 : raw.equals(p.edgeDenyOtherDiscard()) ? 1 : 2,
                    new PolicyRef("security.edge", null, "gnp", v332 ? null : "security",
                            raw.equals(p.edgeDenyOtherDiscard()) ? "deny" : "pass"), ruleFormat, what);
        } else if (raw.equals(p.allowFrontendWeb()) || raw.equals(p.allowFrontendDns())) {
            expect(c, CalicoPrefix.Type.RULE, Direction.INGRESS, raw.equals(p.allowFrontendWeb()) ? 0 : 1,
                    new PolicyRef("allow-frontend", "default", "knp", "default", "allow"), ruleFormat, what);
        } else if (raw.equals(p.limitEgressAllow()) || raw.equals(p.limitEgressDenyEcho())) {
            boolean deny = raw.equals(p.limitEgressDenyEcho());
            expect(c, CalicoPrefix.Type.RULE, Direction.EGRESS, deny ? 0 : 1,
                    new PolicyRef("limit-egress", "default", "np", v332 ? null : "default", deny ? "deny" : "allow"),
                    ruleFormat, what);
        } else if (raw.equals("DPI|default")) {
            expect(c, CalicoPrefix.Type.TIER_END, Direction.INGRESS, -1, new PolicyRef(null, null, null, "default", "deny"),
                    CalicoPrefix.IdFormat.NONE, what);
        } else if (raw.equals("DRE")) {
            expect(c, CalicoPrefix.Type.PROFILE_END, Direction.EGRESS, -1,
                    new PolicyRef(null, null, "profile", "__PROFILE__", "deny"), CalicoPrefix.IdFormat.NONE, what);
        } else if (raw.equals(p.profileDefaultEgress()) || raw.equals(p.profileDefaultIngress())) {
            expect(c, CalicoPrefix.Type.RULE, raw.equals(p.profileDefaultEgress()) ? Direction.EGRESS : Direction.INGRESS, 0,
                    new PolicyRef("kns.default", "default", "profile", "__PROFILE__", "allow"), CalicoPrefix.IdFormat.NONE, what);
        } else if (raw.equals(p.profileDmzTcp()) || raw.equals(p.profileDmzDiscard())) {
            expect(c, CalicoPrefix.Type.RULE, Direction.EGRESS, raw.equals(p.profileDmzTcp()) ? 0 : 1,
                    new PolicyRef("kns.dmz", "dmz", "profile", "__PROFILE__", "allow"), CalicoPrefix.IdFormat.NONE, what);
        } else {
            throw new AssertionError("a prefix the test did not expect: " + what);
        }
    }

    private static void expect(CalicoPrefix c, CalicoPrefix.Type type, Direction direction, int index, PolicyRef policy,
                               CalicoPrefix.IdFormat format, String what) {
        assertEquals(type, c.type(), what);
        assertEquals(direction, c.direction(), what);
        assertEquals(index, c.ruleIndex(), what);
        assertEquals(policy, c.policy(), what);
        assertEquals(format, c.format(), what);
        assertFalse(c.hashed(), what);
        assertInstanceOf(String.class, c.raw());
    }
}
