package dev.droptrace.agent.source.calico;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.output.JsonFormatter;
import dev.droptrace.libc.Libc;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static dev.droptrace.agent.source.calico.CalicoTestJournal.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * NFLOG messages with real Calico prefixes (both id formats) through the translator into a real
 * journal, read back as {@code -o json}: every field of the event, the reason and the policy object.
 */
class CalicoPayloadTranslatorTest {
    static final int WEB = 0x0ad20001;   // 10.210.0.1 shop/web-0 app=web
    static final int API = 0x0ad20002;   // 10.210.0.2 shop/api-0 app=api
    static final int OUTSIDE = 0xc6336401; // 198.51.100.1, unknown
    static final long TS_SEC = 1_900_000_000L; // a plausible NFULA_TIMESTAMP is near now; see nowSec()

    @TempDir
    Path tmp;
    IdentityCache cache;
    CalicoTestJournal out;
    final AtomicReference<KnownPolicies> policies = new AtomicReference<>(KnownPolicies.EMPTY);

    @BeforeEach
    void setUp() throws Exception {
        cache = IdentityCache.create();
        cache.upsert("pod:web", Identity.pod("shop", "web-0", "Deployment/web", Map.of("app", "web"), "node-1"),
                List.of("10.210.0.1"), 1);
        cache.upsert("pod:api", Identity.pod("shop", "api-0", "Deployment/api", Map.of("app", "api"), "node-1"),
                List.of("10.210.0.2"), 1);
        cache.setComplete(true);
        cache.flush().get(30, TimeUnit.SECONDS);
        out = new CalicoTestJournal(tmp.resolve("journal"));
    }

    @AfterEach
    void tearDown() {
        out.close();
        cache.close();
    }

    CalicoPayloadTranslator translator(boolean allowed) {
        return new CalicoPayloadTranslator(out.journal, cache, "node-1", policies::get, new InterfaceNames(), allowed);
    }

    static long nowSec() {
        return Libc.clockGettimeNs(Libc.CLOCK_REALTIME) / 1_000_000_000L;
    }

    /** One packet message: group, prefix, devices, timestamp, an IPv4 TCP SYN. */
    static byte[] message(int group, String prefix, int indev, int outdev, long sec, long usec, int src, int dst, int dport) {
        NflogBuffers b = new NflogBuffers().packet(2, group).packetHdr(0x0800, 2).prefix(prefix);
        if (indev != 0) b.be32(NflogMessageParser.NFULA_IFINDEX_INDEV, indev);
        if (outdev != 0) b.be32(NflogMessageParser.NFULA_IFINDEX_OUTDEV, outdev);
        b.be32(NflogMessageParser.NFULA_MARK, 0x40000);
        if (sec != 0) b.timestamp(sec, usec);
        return b.payload(NflogBuffers.ipv4Tcp(src, dst, 40000, dport, 0x02, 80)).end().bytes();
    }

    static void translate(CalicoPayloadTranslator t, CalicoTestJournal sink, byte[] msg, int group) {
        MemorySegment s = CalicoTestJournal.native_(msg);
        t.translate(s, 0, msg.length, group, sink);
    }

    static JsonNode json(String text) throws Exception {
        return JSON.readTree(text);
    }

    @Test
    void ruleHitDenyIsAMergeableEventWithEveryField() throws Exception {
        CalicoPayloadTranslator t = translator(false);
        long sec = nowSec();
        // ifindex 1 is the loopback of the agent's own network namespace, read from /sys/class/net
        translate(t, out, message(1, "DPI0|knp/shop/deny-web", 7, 1, sec, 123456, WEB, API, 80), 1);

        List<JsonNode> events = out.events();
        assertEquals(1, events.size());
        assertEquals(List.of(true), out.mergeable);
        JsonNode e = events.getFirst();
        assertEquals(JsonFormatter.time(sec * 1_000_000_000L + 123_456_000L), e.get("time").asText());
        assertEquals("node-1", e.get("node").asText());
        assertEquals("calico", e.get("source").asText());
        assertEquals("POLICY_DENY", e.get("reason").asText());
        assertEquals(1, e.get("reason_code").asInt());
        assertEquals("ingress", e.get("direction").asText());
        assertEquals("ipv4", e.get("family").asText());
        assertEquals("TCP", e.get("protocol").asText());
        assertEquals("10.210.0.1", e.get("src_ip").asText());
        assertEquals(40000, e.get("src_port").asInt());
        assertEquals("10.210.0.2", e.get("dst_ip").asText());
        assertEquals(80, e.get("dst_port").asInt());
        assertEquals("SYN", e.get("tcp_flags").asText());
        assertEquals(60, e.get("length").asInt());
        assertEquals(1, e.get("ifindex").asInt(), "ingress: the output device, the workload's interface");
        assertEquals("lo", e.get("interface").asText());
        assertEquals("web-0", e.get("src").get("pod").asText());
        assertEquals("shop", e.get("src").get("namespace").asText());
        assertEquals("api", e.get("dst").get("labels").get("app").asText());
        assertEquals(json("""
                {"name":"deny-web","namespace":"shop","kind":"NetworkPolicy","tier":"default","action":"deny",
                 "direction":"ingress","rule_index":0,"prefix":"DPI0|knp/shop/deny-web"}"""), e.get("policy"));

        CalicoPayloadTranslator.Counters c = t.counters();
        assertEquals(1, c.packets());
        assertEquals(1, c.denied());
        assertEquals(1, c.emitted());
        assertEquals(1L, c.byReason().get(CalicoReason.POLICY_DENY));
        assertEquals(0, c.decodeErrors());
    }

    @Test
    void allowAndPassAreOnlyCountedUnlessAllowedAreJournaled() throws Exception {
        long sec = nowSec();
        List<byte[]> msgs = List.of(
                message(1, "API0|knp/shop/allow-web", 7, 9, sec, 0, WEB, API, 80),
                message(2, "ARE0|kns.shop", 9, 7, sec, 0, WEB, API, 80),
                message(2, "PPE1|gnp/security.pass-dns", 9, 7, sec, 0, WEB, API, 53),
                message(1, "PPI|security", 7, 9, sec, 0, WEB, API, 80));
        CalicoPayloadTranslator quiet = translator(false);
        for (byte[] m : msgs) translate(quiet, out, m, 0);
        assertEquals(0, out.events().size());
        CalicoPayloadTranslator.Counters c = quiet.counters();
        assertEquals(4, c.packets());
        assertEquals(2, c.allowed());
        assertEquals(2, c.passed());
        assertEquals(0, c.denied());
        assertEquals(0, c.emitted());

        CalicoPayloadTranslator loud = translator(true);
        for (byte[] m : msgs) translate(loud, out, m, 0);
        List<JsonNode> events = out.events();
        assertEquals(4, events.size());
        assertEquals(List.of(false, false, false, false), out.mergeable);
        assertEquals(List.of("ALLOW", "ALLOW", "PASS", "TIER_END_PASS"),
                events.stream().map(e -> e.get("reason").asText()).toList());
        assertEquals(json("""
                {"name":"allow-web","namespace":"shop","kind":"NetworkPolicy","tier":"default","action":"allow",
                 "direction":"ingress","rule_index":0,"prefix":"API0|knp/shop/allow-web"}"""), events.get(0).get("policy"));
        assertEquals(json("""
                {"name":"kns.shop","namespace":"shop","kind":"Profile","tier":"__PROFILE__","action":"allow",
                 "direction":"egress","rule_index":0,"prefix":"ARE0|kns.shop"}"""), events.get(1).get("policy"));
        assertEquals(9, events.get(1).get("ifindex").asInt(), "egress: the input device");
        assertEquals(json("""
                {"name":"security.pass-dns","kind":"GlobalNetworkPolicy","action":"pass","direction":"egress",
                 "rule_index":1,"prefix":"PPE1|gnp/security.pass-dns"}"""), events.get(2).get("policy"));
        assertEquals(json("""
                {"tier":"security","action":"pass","direction":"ingress","prefix":"PPI|security"}"""),
                events.get(3).get("policy"));
    }

    @Test
    void endOfTierIsADefaultDenyNamingTheIsolatingPolicies() throws Exception {
        policies.set(KnownPolicies.of(1, List.of(
                new KnownPolicies.NetworkPolicyEntry("shop", "api-deny", new LabelSelector(Map.of("app", "api"), List.of()), true, false),
                new KnownPolicies.NetworkPolicyEntry("shop", "all-egress", LabelSelector.ALL, false, true),
                new KnownPolicies.NetworkPolicyEntry("shop", "allow-web", new LabelSelector(Map.of("app", "api"), List.of()), true, false),
                new KnownPolicies.NetworkPolicyEntry("other", "everything", LabelSelector.ALL, true, true)), List.of()));
        CalicoPayloadTranslator t = translator(false);
        long sec = nowSec();
        translate(t, out, message(1, "DPI|default", 7, 9, sec, 0, WEB, API, 80), 1);
        translate(t, out, message(2, "DPE|default", 9, 7, sec, 0, API, OUTSIDE, 443), 2);
        translate(t, out, message(1, "DPI|default", 7, 9, sec, 0, API, OUTSIDE, 80), 1); // unknown destination
        translate(t, out, message(1, "DPI|security", 7, 9, sec, 0, WEB, API, 80), 1);
        translate(t, out, message(2, "DRE", 9, 7, sec, 0, WEB, API, 80), 2);

        List<JsonNode> events = out.events();
        assertEquals(5, events.size());
        assertEquals(List.of(true, true, true, true, true), out.mergeable);
        assertEquals("TIER_END_DENY", events.get(0).get("reason").asText());
        assertEquals(3, events.get(0).get("reason_code").asInt());
        assertEquals(json("""
                {"name":"allow-web","namespace":"shop","kind":"NetworkPolicy","tier":"default","action":"deny",
                 "direction":"ingress","default_deny":true,
                 "isolated_by":[{"namespace":"shop","name":"allow-web"},{"namespace":"shop","name":"api-deny"}],
                 "prefix":"DPI|default"}"""), events.get(0).get("policy"));
        assertEquals(json("""
                {"name":"all-egress","namespace":"shop","kind":"NetworkPolicy","tier":"default","action":"deny",
                 "direction":"egress","default_deny":true,"isolated_by":[{"namespace":"shop","name":"all-egress"}],
                 "prefix":"DPE|default"}"""), events.get(1).get("policy"));
        assertEquals(json("""
                {"tier":"default","action":"deny","direction":"ingress","default_deny":true,"prefix":"DPI|default"}"""),
                events.get(2).get("policy"));
        assertEquals(json("""
                {"tier":"security","action":"deny","direction":"ingress","default_deny":true,"prefix":"DPI|security"}"""),
                events.get(3).get("policy"));
        assertEquals("PROFILE_END_DENY", events.get(4).get("reason").asText());
        assertEquals(json("""
                {"kind":"Profile","tier":"__PROFILE__","action":"deny","direction":"egress","prefix":"DRE"}"""),
                events.get(4).get("policy"));
    }

    @Test
    void felixV330IdsAndIpv6() throws Exception {
        CalicoPayloadTranslator t = translator(true);
        long sec = nowSec();
        translate(t, out, message(1, "API0|shop/knp.default.allow-web", 7, 9, sec, 0, WEB, API, 80), 1);
        translate(t, out, message(2, "DPE1|prod/default.deny-db", 9, 7, sec, 0, WEB, API, 5432), 2);
        byte[] icmp6 = {(byte) 128, 0, 0, 0, 0, 1, 0, 1};
        byte[] v6 = new NflogBuffers().packet(10, 2).packetHdr(0x86DD, 2).prefix("DPE0|gnp/deny-icmp")
                .be32(NflogMessageParser.NFULA_IFINDEX_INDEV, 9)
                .payload(NflogBuffers.ipv6(58, new byte[0], icmp6, (byte) 1, (byte) 2)).end().bytes();
        translate(t, out, v6, 2);

        List<JsonNode> events = out.events();
        assertEquals(3, events.size());
        assertEquals(List.of(false, true, true), out.mergeable);
        assertEquals(json("""
                {"name":"allow-web","namespace":"shop","kind":"NetworkPolicy","tier":"default","action":"allow",
                 "direction":"ingress","rule_index":0,"prefix":"API0|shop/knp.default.allow-web"}"""), events.get(0).get("policy"));
        assertEquals(json("""
                {"name":"deny-db","namespace":"prod","kind":"CalicoNetworkPolicy","tier":"default","action":"deny",
                 "direction":"egress","rule_index":1,"prefix":"DPE1|prod/default.deny-db"}"""), events.get(1).get("policy"));
        JsonNode e = events.get(2);
        assertEquals("ipv6", e.get("family").asText());
        assertEquals("ICMPv6", e.get("protocol").asText());
        assertEquals("fd00::1", e.get("src_ip").asText());
        assertEquals("fd00::2", e.get("dst_ip").asText());
        assertEquals(128, e.get("icmp").get("type").asInt());
        assertEquals(0, e.get("icmp").get("code").asInt());
        assertEquals(48, e.get("length").asInt());
        assertEquals("egress", e.get("direction").asText());
        assertEquals(json("""
                {"name":"deny-icmp","kind":"GlobalNetworkPolicy","action":"deny","direction":"egress","rule_index":0,
                 "prefix":"DPE0|gnp/deny-icmp"}"""), e.get("policy"));
    }

    @Test
    void hashedPrefixKeepsItsHashUntilThePolicyIsKnown() throws Exception {
        String ns = "payments-processing-europe";
        String name = "deny-from-everything-but-the-gateway";
        String raw = "DPI0|knp/" + ns + "/" + name;
        assertTrue(raw.length() >= 63, raw);
        String hashed = CalicoPrefix.hash(raw);
        assertEquals(63, hashed.length());
        CalicoPayloadTranslator t = translator(false);
        long sec = nowSec();
        byte[] msg = message(1, hashed, 7, 9, sec, 0, WEB, API, 80);
        translate(t, out, msg, 1);
        assertEquals(1, t.counters().unresolvedHashed());

        policies.set(KnownPolicies.of(1, List.of(), List.of(
                new CalicoPrefixResolver.KnownPolicy("knp", ns, name, "default", 1, 0))));
        translate(t, out, msg, 1);
        assertEquals(1, t.counters().unresolvedHashed(), "resolved now");

        List<JsonNode> events = out.events();
        assertEquals(2, events.size());
        assertEquals(json("{\"action\":\"deny\",\"direction\":\"ingress\",\"rule_index\":0,\"prefix\":\"" + hashed
                + "\",\"hash\":\"" + hashed.substring(11, 52) + "\"}"), events.get(0).get("policy"));
        assertEquals(json("{\"name\":\"" + name + "\",\"namespace\":\"" + ns + "\",\"kind\":\"NetworkPolicy\","
                + "\"tier\":\"default\",\"action\":\"deny\",\"direction\":\"ingress\",\"rule_index\":0,\"prefix\":\""
                + hashed + "\"}"), events.get(1).get("policy"));
        assertEquals("POLICY_DENY", events.get(0).get("reason").asText());
    }

    @Test
    void timestampsAndDirections() throws Exception {
        CalicoPayloadTranslator t = translator(false);
        long before = Libc.clockGettimeNs(Libc.CLOCK_REALTIME);
        translate(t, out, message(1, "DPI0|gnp/deny-ssh", 7, 9, 0, 0, WEB, API, 22), 1);         // no timestamp
        translate(t, out, message(1, "DPI0|gnp/deny-ssh", 7, 9, 1000, 0, WEB, API, 22), 1);      // 1970: not believed
        translate(t, out, message(1, "DPE0|gnp/deny-ssh", 7, 9, nowSec(), 0, WEB, API, 22), 1); // prefix says egress
        long after = Libc.clockGettimeNs(Libc.CLOCK_REALTIME);

        var views = out.views();
        assertEquals(3, views.size());
        for (int i = 0; i < 2; i++) {
            long wall = views.get(i).record().wallNs();
            assertTrue(wall >= before && wall <= after, "wall time of event " + i + " is the clock's");
            assertTrue(views.get(i).record().ktimeNs() > 0);
        }
        assertEquals(1, t.counters().clockRejected());
        assertEquals(1, t.counters().groupMismatch());
        assertEquals("egress", views.get(2).direction().jsonName());
        assertEquals(7, views.get(2).record().ifindex(), "egress: the input device");
    }

    @Test
    void unknownPrefixesAndAbsentPrefixesAreCountedNotDropped() throws Exception {
        CalicoPayloadTranslator t = translator(false);
        translate(t, out, message(1, "my-own-rule", 7, 9, nowSec(), 0, WEB, API, 80), 1);
        byte[] noPrefix = new NflogBuffers().packet(2, 1).packetHdr(0x0800, 2)
                .payload(NflogBuffers.ipv4Udp(WEB, API, 1, 53)).end().bytes();
        translate(t, out, noPrefix, 1);
        assertEquals(0, out.events().size());
        assertEquals(2L, t.counters().byReason().get(CalicoReason.UNKNOWN_PREFIX));

        CalicoPayloadTranslator loud = translator(true);
        translate(loud, out, message(1, "my-own-rule", 7, 9, nowSec(), 0, WEB, API, 80), 1);
        List<JsonNode> events = out.events();
        assertEquals(1, events.size());
        assertEquals("UNKNOWN_PREFIX", events.getFirst().get("reason").asText());
        assertEquals(json("{\"direction\":\"ingress\",\"prefix\":\"my-own-rule\"}"), events.getFirst().get("policy"));
        assertFalse(out.mergeable.getFirst());
    }

    @Test
    void withoutIdentitiesOrNodeTheEventStillComes() throws Exception {
        CalicoPayloadTranslator t = new CalicoPayloadTranslator(out.journal, null, null, () -> KnownPolicies.EMPTY,
                new InterfaceNames(tmp.resolve("no-sysfs")), false);
        translate(t, out, message(1, "DPI|default", 7, 9, nowSec(), 0, WEB, API, 80), 1);
        List<JsonNode> events = out.events();
        assertEquals(1, events.size());
        JsonNode e = events.getFirst();
        assertNull(e.get("node"));
        assertNull(e.get("src"));
        assertNull(e.get("interface"));
        assertEquals(9, e.get("ifindex").asInt());
        assertEquals(json("""
                {"tier":"default","action":"deny","direction":"ingress","default_deny":true,"prefix":"DPI|default"}"""),
                e.get("policy"));
        assertEquals(DropRecord.FAMILY_IPV4, out.views().getFirst().family());
    }
}
