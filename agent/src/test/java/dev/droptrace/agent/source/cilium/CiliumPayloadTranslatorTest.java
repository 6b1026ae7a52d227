package dev.droptrace.agent.source.cilium;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.droptrace.agent.source.cilium.Samples.concat;
import static dev.droptrace.agent.source.cilium.Samples.hex;
import static dev.droptrace.agent.source.cilium.Samples.perfPad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The translator end to end: samples in, a real journal, read back and printed as JSON; exact fields.
 * The spec's section 8 vectors and synthesised samples of every layout.
 */
class CiliumPayloadTranslatorTest {
    @TempDir
    Path tmp;

    private final List<AutoCloseable> closers = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closers.size() - 1; i >= 0; i--) {
            closers.get(i).close();
        }
    }

    /** The spec's synthesised drop v3 + SYN, perf-padded to 108 bytes. */
    static final byte[] DROP = perfPad(concat(Samples.DROP_V3_HEADER, Samples.SYN_PACKET));
    /** The spec's synthesised v1.19 verdict (-133, ingress, match none) + SYN, 100 bytes. */
    static final byte[] VERDICT_V119 = perfPad(concat(Samples.VERDICT_V119_HEADER, Samples.SYN_PACKET));
    /** The same verdict in the <= v1.18 layout, 92 bytes. */
    static final byte[] VERDICT_V118 = perfPad(concat(java.util.Arrays.copyOf(Samples.VERDICT_V119_HEADER, 32), Samples.SYN_PACKET));

    private TranslatorHarness harness(String node, IdentityCache cache, CiliumIdentityTable table, int version, boolean allowed) {
        TranslatorHarness h = new TranslatorHarness(tmp.resolve("j" + closers.size()), node, cache, table,
                TranslatorHarness.options(version, allowed));
        closers.add(h);
        return h;
    }

    private TranslatorHarness harness() {
        return harness("n1", null, table(), 0, false);
    }

    /** The spec's client (5678 at 10.0.1.5) and server (51234 at 10.0.2.7, endpoint 1234) as Cilium objects. */
    private CiliumIdentityTable table() {
        CiliumIdentityTable t = new CiliumIdentityTable();
        closers.add(t);
        t.upsertIdentity("5678", Map.of("k8s:app", "client", "k8s:io.kubernetes.pod.namespace", "client-ns",
                "k8s:io.cilium.k8s.policy.serviceaccount", "default", "k8s:io.cilium.k8s.policy.cluster", "default"), null);
        t.upsertIdentity("51234", Map.of("k8s:app", "server", "k8s:io.kubernetes.pod.namespace", "srv-ns"), null);
        t.upsertEndpoint("client-ns", "client-7d9", 5678, 77, "192.168.1.2", List.of("10.0.1.5"),
                List.of("k8s:app=client", "k8s:io.kubernetes.pod.namespace=client-ns"));
        t.upsertEndpoint("srv-ns", "server-0", 51234, 1234, "192.168.1.1", List.of("10.0.2.7", "fd00::2"),
                List.of("k8s:app=server", "k8s:io.kubernetes.pod.namespace=srv-ns"));
        await(t);
        return t;
    }

    private static void await(CiliumIdentityTable t) {
        try {
            t.flush().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static JsonNode json(String text) {
        try {
            return TranslatorHarness.JSON.readTree(text);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertSynTuple(JsonNode e) {
        assertEquals("ipv4", e.get("family").asText());
        assertEquals("TCP", e.get("protocol").asText());
        assertEquals("10.0.1.5", e.get("src_ip").asText());
        assertEquals(43210, e.get("src_port").asInt());
        assertEquals("10.0.2.7", e.get("dst_ip").asText());
        assertEquals(8080, e.get("dst_port").asInt());
        assertEquals("SYN", e.get("tcp_flags").asText());
        assertEquals(54, e.get("length").asInt());
    }

    private static final JsonNode CLIENT = json("{\"namespace\":\"client-ns\",\"pod\":\"client-7d9\",\"labels\":{\"app\":\"client\"}}");
    private static final JsonNode SERVER = json("{\"namespace\":\"srv-ns\",\"pod\":\"server-0\",\"labels\":{\"app\":\"server\"}}");

    // ---- drops ---------------------------------------------------------------------------------------

    @Test
    void synthesisedDropV3AloneIsHeldForAVerdictThenJournaledWithPodsFromCiliumEndpoints() {
        TranslatorHarness h = harness();
        h.translate(DROP, 3);
        assertEquals(0, h.sink.mergeable.size(), "a policy-denial drop waits for its verdict");
        h.translator.flush(h.sink);
        assertEquals(0, h.sink.mergeable.size(), "it waits more than one poll");
        h.translator.flush(h.sink);
        assertEquals(List.of(true), h.sink.mergeable, "a drop is mergeable with the kernel's TC_INGRESS record");
        JsonNode e = h.only();
        assertEquals("n1", e.get("node").asText());
        assertEquals("cilium", e.get("source").asText());
        assertEquals("POLICY_DENIED", e.get("reason").asText());
        assertEquals(133, e.get("reason_code").asInt());
        assertEquals("ingress", e.get("direction").asText(), "dst_id 1234 names the local destination endpoint");
        assertSynTuple(e);
        assertEquals(29, e.get("ifindex").asInt());
        assertEquals(1, e.get("count").asInt());
        assertEquals(json("{\"src_identity\":5678,\"dst_identity\":51234,\"rule_cookie\":0}"), e.get("cilium"));
        assertEquals(CLIENT, e.get("src"));
        assertEquals(SERVER, e.get("dst"));
        assertFalse(e.has("policy"), "a drop notification names no policy");
        assertFalse(e.has("kernel_reason"));
        assertEquals(1, h.translator.policyDropsAlone());
        assertEquals(1, h.translator.drops());
    }

    @Test
    void aDropOfAnotherReasonIsJournaledAtOnce() {
        TranslatorHarness h = harness();
        byte[] d = DROP.clone();
        d[1] = (byte) 169; // FIB lookup failed
        h.translate(d, 0);
        assertEquals(List.of(true), h.sink.mergeable);
        JsonNode e = h.only();
        assertEquals("FIB_LOOKUP_FAILED", e.get("reason").asText());
        assertEquals(169, e.get("reason_code").asInt());
    }

    @Test
    void reservedIdentitiesAreNamedByNumber() {
        TranslatorHarness h = harness();
        String[] names = {null, "host", "world", "unmanaged", "health", "init", "remote-node", "kube-apiserver", "ingress",
            "world-ipv4", "world-ipv6"};
        for (int id = 1; id <= 10; id++) {
            byte[] d = DROP.clone();
            d[1] = (byte) 169;
            ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN).putInt(16, id).putInt(20, 2);
            h.translate(d, 0);
        }
        List<JsonNode> events = h.events();
        assertEquals(10, events.size());
        for (int id = 1; id <= 10; id++) {
            JsonNode e = events.get(id - 1);
            JsonNode expected = id == 1 ? json("{\"node\":\"n1\",\"reserved\":\"host\"}")
                    : json("{\"reserved\":\"" + names[id] + "\"}");
            assertEquals(expected, e.get("src"), "identity " + id);
            assertEquals(json("{\"reserved\":\"world\"}"), e.get("dst"));
            assertEquals(id, e.get("cilium").get("src_identity").asInt());
        }
    }

    @Test
    void aCiliumIdentityWithoutEndpointGivesNamespaceAndLabelsButNoPod() {
        CiliumIdentityTable t = new CiliumIdentityTable();
        closers.add(t);
        t.upsertIdentity("5678", Map.of("k8s:app", "client", "k8s:io.kubernetes.pod.namespace", "client-ns"), null);
        await(t);
        TranslatorHarness h = harness("n1", null, t, 0, false);
        h.translate(DROP, 0);
        h.flush();
        JsonNode e = h.only();
        assertEquals(json("{\"namespace\":\"client-ns\",\"labels\":{\"app\":\"client\"}}"), e.get("src"));
        assertFalse(e.has("dst"), "51234 is unknown and there is no IP cache");
    }

    @Test
    void anEndpointWhoseIdentityDiffersIsNotUsed() {
        CiliumIdentityTable t = new CiliumIdentityTable();
        closers.add(t);
        t.upsertEndpoint("old-ns", "stale-pod", 999, 5, null, List.of("10.0.1.5"), List.of("k8s:app=stale"));
        await(t);
        TranslatorHarness h = harness("n1", null, t, 0, false);
        h.translate(DROP, 0);
        h.flush();
        assertFalse(h.only().has("src"), "the CEP at 10.0.1.5 has identity 999, the drop says 5678");
    }

    @Test
    void withoutCiliumObjectsTheIpCacheNamesThePods() throws Exception {
        IdentityCache cache = IdentityCache.create();
        closers.add(cache);
        cache.upsert("pod:c", Identity.pod("client-ns", "client-7d9", "Deployment/client", Map.of("app", "client"), "n1"),
                List.of("10.0.1.5"), 1);
        cache.setComplete(true);
        cache.flush().get(30, TimeUnit.SECONDS);
        TranslatorHarness h = harness("n1", cache, null, 0, false);
        h.translate(DROP, 0);
        h.flush();
        JsonNode e = h.only();
        assertEquals(json(Identity.pod("client-ns", "client-7d9", "Deployment/client", Map.of("app", "client"), "n1").json()),
                e.get("src"));
        assertFalse(e.has("dst"), "identity 51234 is a cluster identity: an address the cache lacks is not world");

        byte[] cidr = DROP.clone();
        cidr[1] = (byte) 169;
        ByteBuffer.wrap(cidr).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0x01000001); // a node-local CIDR identity
        h.translate(cidr, 0);
        assertEquals(json("{\"reserved\":\"world\"}"), h.events().get(1).get("dst"),
                "a CIDR identity has no CRD: the complete IP cache calls an unknown address world");
    }

    @Test
    void theIpCacheIdentityOfTheSamePodIsPreferredForItsWorkloadAndNode() throws Exception {
        IdentityCache cache = IdentityCache.create();
        closers.add(cache);
        Identity client = Identity.pod("client-ns", "client-7d9", "Deployment/client", Map.of("app", "client", "tier", "fe"), "n2");
        cache.upsert("pod:c", client, List.of("10.0.1.5"), 1);
        cache.upsert("pod:s", Identity.pod("other-ns", "someone-else", null, Map.of(), "n1"), List.of("10.0.2.7"), 1);
        cache.setComplete(true);
        cache.flush().get(30, TimeUnit.SECONDS);
        TranslatorHarness h = harness("n1", cache, table(), 0, false);
        h.translate(DROP, 0);
        h.flush();
        JsonNode e = h.only();
        assertEquals(json(client.json()), e.get("src"), "the CEP and the IP cache agree on the pod");
        assertEquals(SERVER, e.get("dst"), "the IP cache disagrees with the CEP: the CEP wins");
    }

    @Test
    void anEgressDropIsRecognisedByTheSourceEndpoint() {
        TranslatorHarness h = harness();
        byte[] d = DROP.clone();
        ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        b.put(1, (byte) 169).putShort(2, (short) 77).putInt(24, 0); // source = client's endpoint, no dst_id
        h.translate(d, 0);
        byte[] unknown = d.clone();
        ByteBuffer.wrap(unknown).order(ByteOrder.LITTLE_ENDIAN).putShort(2, (short) 0); // no source: bpf_overlay etc.
        h.translate(unknown, 0);
        byte[] other = d.clone();
        ByteBuffer.wrap(other).order(ByteOrder.LITTLE_ENDIAN).putShort(2, (short) 78); // another endpoint ran
        h.translate(other, 0);
        List<JsonNode> e = h.events();
        assertEquals("egress", e.get(0).get("direction").asText());
        assertEquals("unknown", e.get(1).get("direction").asText());
        assertEquals("unknown", e.get(2).get("direction").asText());
    }

    // ---- verdicts and the pairing ---------------------------------------------------------------------

    @Test
    void verdictThenDropOfTheSamePacketIsOneEvent() {
        for (byte[] verdict : List.of(VERDICT_V119, VERDICT_V118)) {
            TranslatorHarness h = harness();
            h.translate(verdict, 5);
            h.translate(DROP, 5);
            assertEquals(List.of(true), h.sink.mergeable);
            h.flush();
            JsonNode e = h.only();
            assertEquals("POLICY_DENIED", e.get("reason").asText());
            assertEquals(133, e.get("reason_code").asInt());
            assertEquals("ingress", e.get("direction").asText());
            assertSynTuple(e);
            assertEquals(29, e.get("ifindex").asInt(), "the drop's ifindex");
            assertEquals(json("{\"src_identity\":5678,\"dst_identity\":51234,\"match_type\":\"none\",\"rule_cookie\":0}"),
                    e.get("cilium"));
            assertEquals(json("{\"action\":\"deny\",\"match_type\":\"none\"}"), e.get("policy"));
            assertEquals(CLIENT, e.get("src"));
            assertEquals(SERVER, e.get("dst"));
            assertEquals(1, h.translator.combined());
            assertEquals(1, h.translator.verdictsDenied());
            assertEquals(0, h.translator.verdictsAlone());
            assertEquals(0, h.translator.policyDropsAlone());
        }
    }

    @Test
    void dropThenVerdictOfTheSamePacketIsOneEventToo() {
        TranslatorHarness h = harness();
        byte[] verdict = VERDICT_V119.clone();
        ByteBuffer.wrap(verdict).order(ByteOrder.LITTLE_ENDIAN).putInt(20, -181).put(27, (byte) (1 | 2 << 3)).putInt(32, 4242);
        byte[] drop = DROP.clone();
        drop[1] = (byte) 181;
        h.translate(drop, 1);
        h.translate(verdict, 1);
        h.flush();
        JsonNode e = h.only();
        assertEquals("POLICY_DENY", e.get("reason").asText());
        assertEquals(181, e.get("reason_code").asInt());
        assertEquals(json("{\"src_identity\":5678,\"dst_identity\":51234,\"match_type\":\"L3-L4\",\"rule_cookie\":4242}"),
                e.get("cilium"));
        assertEquals(json("{\"action\":\"deny\",\"match_type\":\"L3-L4\",\"rule_cookie\":4242}"), e.get("policy"));
        assertEquals(1, h.translator.combined());
    }

    @Test
    void aVerdictFollowedByAnotherPacketsDropIsJournaledAloneFirst() {
        TranslatorHarness h = harness();
        byte[] otherDrop = DROP.clone();
        otherDrop[48 + 34] = (byte) 0xa9; // source port 0xa9ca = 43466: another packet
        otherDrop[1] = (byte) 169;
        h.translate(VERDICT_V119, 2);
        h.translate(otherDrop, 2);
        List<JsonNode> e = h.events();
        assertEquals(2, e.size());
        JsonNode v = e.get(0);
        assertEquals("POLICY_DENIED", v.get("reason").asText(), "a denied verdict: reason -verdict");
        assertEquals("ingress", v.get("direction").asText());
        assertEquals(json("{\"src_identity\":5678,\"dst_identity\":0,\"match_type\":\"none\",\"rule_cookie\":0}"), v.get("cilium"));
        assertEquals(CLIENT, v.get("src"), "the remote identity of an ingress verdict is the source");
        assertEquals(SERVER, v.get("dst"), "the local end from the CEP at its address");
        assertEquals(json("{\"action\":\"deny\",\"match_type\":\"none\"}"), v.get("policy"));
        assertEquals(43466, e.get(1).get("src_port").asInt());
        assertEquals(List.of(true, true), h.sink.mergeable);
        assertEquals(1, h.translator.verdictsAlone());
        assertEquals(0, h.translator.combined());
    }

    @Test
    void verdictAndDropOnDifferentCpusAreNotJoined() {
        TranslatorHarness h = harness();
        h.translate(VERDICT_V119, 0);
        h.translate(DROP, 1);
        h.flush();
        assertEquals(2, h.events().size());
        assertEquals(0, h.translator.combined());
        assertEquals(1, h.translator.verdictsAlone());
        assertEquals(1, h.translator.policyDropsAlone());
    }

    @Test
    void anAllowedVerdictReleasesAHeldVerdictButIsOnlyCounted() {
        TranslatorHarness h = harness();
        byte[] allowed = VERDICT_V119.clone();
        ByteBuffer.wrap(allowed).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0);
        h.translate(VERDICT_V119, 0);
        h.translate(allowed, 0);
        assertEquals(List.of(true), h.sink.mergeable, "the held verdict, alone");
        h.flush();
        assertEquals(1, h.events().size());
        assertEquals(1, h.translator.verdictsAllowed());
    }

    @Test
    void aLoneAuditedVerdictIsOneEvent() {
        TranslatorHarness h = harness();
        byte[] audited = VERDICT_V119.clone();
        ByteBuffer.wrap(audited).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0).put(27, (byte) (2 | 0x40 | 1 << 3));
        h.translate(audited, 0);
        assertEquals(List.of(false), h.sink.mergeable, "journaled at once, not mergeable: the packet went on");
        JsonNode e = h.only();
        assertEquals("AUDIT", e.get("reason").asText());
        assertEquals(CiliumPayloadTranslator.REASON_AUDIT, e.get("reason_code").asInt());
        assertEquals("egress", e.get("direction").asText());
        assertEquals(json("{\"action\":\"audit\",\"match_type\":\"L3-Only\"}"), e.get("policy"));
        assertEquals(json("{\"src_identity\":0,\"dst_identity\":5678,\"match_type\":\"L3-Only\",\"rule_cookie\":0}"), e.get("cilium"));
        assertEquals(1, h.translator.verdictsAudited());
    }

    @Test
    void allowedAndRedirectedVerdictsAreOnlyCountedUnlessAsked() {
        byte[] allowed = VERDICT_V119.clone();
        ByteBuffer.wrap(allowed).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0).put(27, (byte) (1 | 2 << 3));
        byte[] redirected = VERDICT_V119.clone();
        ByteBuffer.wrap(redirected).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 15001).put(27, (byte) (2 | 4 << 3));

        TranslatorHarness quiet = harness();
        quiet.translate(allowed, 0);
        quiet.translate(redirected, 0);
        quiet.flush();
        assertEquals(0, quiet.events().size());
        assertEquals(1, quiet.translator.verdictsAllowed());
        assertEquals(1, quiet.translator.verdictsRedirected());

        TranslatorHarness loud = harness("n1", null, table(), 0, true);
        loud.translate(allowed, 0);
        loud.translate(redirected, 0);
        assertEquals(List.of(false, false), loud.sink.mergeable);
        List<JsonNode> e = loud.events();
        assertEquals("FORWARDED", e.get(0).get("reason").asText());
        assertEquals(CiliumPayloadTranslator.REASON_FORWARDED, e.get(0).get("reason_code").asInt());
        assertEquals(json("{\"action\":\"allow\",\"match_type\":\"L3-L4\"}"), e.get(0).get("policy"));
        assertEquals("REDIRECTED", e.get(1).get("reason").asText());
        assertEquals("egress", e.get(1).get("direction").asText());
        assertEquals(json("{\"action\":\"redirect\",\"match_type\":\"all\"}"), e.get(1).get("policy"));
    }

    @Test
    void aHeldVerdictIsFlushedAfterMoreThanOnePollAndFlushAllEmptiesEverything() {
        TranslatorHarness h = harness();
        h.translate(VERDICT_V119, 0);
        h.translate(VERDICT_V119, 1);
        h.translator.flush(h.sink);
        assertEquals(0, h.sink.mergeable.size());
        assertEquals(2, h.translator.held());
        h.translate(VERDICT_V119, 2);
        h.translator.flush(h.sink);
        assertEquals(2, h.sink.mergeable.size(), "CPUs 0 and 1 waited more than one poll; CPU 2 not yet");
        h.translator.flushAll(h.sink);
        assertEquals(3, h.sink.mergeable.size());
        assertEquals(0, h.translator.held());
    }

    @Test
    void cpusBeyondTheSlotTableAreNotPaired() {
        TranslatorHarness h = harness();
        h.translate(VERDICT_V119, -1);
        h.translate(VERDICT_V119, CiliumPayloadTranslator.MAX_CPU + 1);
        assertEquals(2, h.sink.mergeable.size());
        h.translate(VERDICT_V119, 200); // slots grow
        h.translate(DROP, 200);
        assertEquals(3, h.sink.mergeable.size());
        assertEquals(1, h.translator.combined());
    }

    // ---- the spec's section 8 vectors -----------------------------------------------------------------

    @Test
    void specVectorsAsTheyAreAreCountedNotJournaled() {
        TranslatorHarness h = harness();
        h.translate(hex(SpecVectorsTest.V1), 0);
        h.translate(hex(SpecVectorsTest.V2), 0);
        h.translate(hex(SpecVectorsTest.V3), 0);
        h.translate(hex(SpecVectorsTest.V4), 0);
        h.translate(hex(SpecVectorsTest.V5), 0);
        assertEquals(0, h.events().size());
        assertEquals(4, h.translator.decodeErrors(CiliumMessageDecoder.DecodeError.UNKNOWN_TYPE), "type 0 in the Go test structs");
        assertEquals(1, h.translator.skipped(CiliumNotification.TYPE_TRACE), "vector 4 is a real trace");
        assertEquals(5, h.translator.samples());
    }

    @Test
    void specVectorsAsMessagesGiveExactEvents() {
        TranslatorHarness h = harness("n1", null, table(), 0, true);
        // vectors 1 and 2 with type 1 and len_cap 0, as SpecVectorsTest runs them through the decoder
        byte[] v1 = hex(SpecVectorsTest.V1);
        v1[0] = 1;
        v1[12] = v1[13] = 0;
        byte[] v2 = hex(SpecVectorsTest.V2);
        v2[0] = 1;
        v2[12] = v2[13] = 0;
        // vector 3 with type 5, version 1 and len_cap 0
        byte[] v3 = hex(SpecVectorsTest.V3);
        v3[0] = 5;
        v3[12] = v3[13] = 0;
        v3[14] = 1;
        h.translate(v1, 0);
        h.translate(v2, 0);
        h.translate(v3, 0);
        h.flush();
        List<JsonNode> e = h.events();
        assertEquals(3, e.size());
        for (int i = 0; i < 2; i++) {
            JsonNode d = e.get(i);
            assertEquals("cilium", d.get("source").asText());
            assertEquals("1", d.get("reason").asText(), "subtype 1 has no Cilium name: the code, as Hubble prints it");
            assertEquals(1, d.get("reason_code").asInt());
            assertEquals("ingress", d.get("direction").asText(), "dst_id 0x191a1b1c");
            assertFalse(d.has("family"), "no packet");
            assertEquals(0x08090a0b, d.get("length").asLong());
            assertEquals(0x22232425, d.get("ifindex").asInt());
            assertEquals(json("{\"src_identity\":" + 0x11121314L + ",\"dst_identity\":" + 0x15161718L + ",\"rule_cookie\":0}"),
                    d.get("cilium"));
            assertFalse(d.has("src"));
            assertFalse(d.has("dst"));
        }
        JsonNode v = e.get(2);
        assertEquals("REDIRECTED", v.get("reason").asText(), "verdict 0x15161718 > 0: to the proxy");
        assertEquals("unknown", v.get("direction").asText(), "dir bits 0");
        assertEquals(json("{\"src_identity\":0,\"dst_identity\":0,\"match_type\":\"L4-Only\",\"rule_cookie\":" + 0x1e1f2021L + "}"),
                v.get("cilium"));
        assertEquals(json("{\"action\":\"redirect\",\"match_type\":\"L4-Only\",\"rule_cookie\":" + 0x1e1f2021L + "}"),
                v.get("policy"));
        assertEquals(1, h.translator.verdictsRedirected());
    }

    @Test
    void synthesisedVectorsOfEveryLayoutGiveTheSameTuple() {
        TranslatorHarness h = harness();
        byte[] syn = Samples.SYN_PACKET;
        byte[][] drops = {
            perfPad(Samples.drop(36, 1, 169, 1234, 0, syn)),
            perfPad(Samples.drop(40, 2, 169, 1234, 0, syn)),
            perfPad(Samples.drop(48, 3, 169, 1234, 0, syn)),
            perfPad(Samples.drop(48, 3, 169, 1234, DropNotify.FLAG_VXLAN, Samples.vxlanSynPacket())),
            perfPad(Samples.drop(48, 3, 169, 1234, DropNotify.FLAG_GENEVE, Samples.geneveSynPacket())),
        };
        for (byte[] d : drops) {
            h.translate(d, 0);
        }
        List<JsonNode> e = h.events();
        assertEquals(drops.length, e.size());
        for (JsonNode x : e) {
            assertEquals("FIB_LOOKUP_FAILED", x.get("reason").asText());
            assertEquals("10.0.1.5", x.get("src_ip").asText());
            assertEquals(43210, x.get("src_port").asInt());
            assertEquals("10.0.2.7", x.get("dst_ip").asText());
            assertEquals(8080, x.get("dst_port").asInt());
            assertEquals(CLIENT, x.get("src"));
            assertEquals(SERVER, x.get("dst"));
        }
    }

    @Test
    void ipv6EndpointsAreFoundByAddress() {
        TranslatorHarness h = harness();
        byte[] d = perfPad(Samples.drop(48, 3, 169, 0, DropNotify.FLAG_IPV6, Samples.ipv6UdpPacket()));
        ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN).putInt(16, 0).putInt(20, 51234);
        h.translate(d, 0);
        JsonNode e = h.only();
        assertEquals("ipv6", e.get("family").asText());
        assertEquals("fd00::2", e.get("dst_ip").asText());
        assertEquals(SERVER, e.get("dst"), "the server's CEP lists fd00::2");
        assertFalse(e.has("src"), "identity 0 and no endpoint at fd00::1");
    }

    // ---- version override ------------------------------------------------------------------------------

    @Test
    void theVersionOverrideDecidesTheHeaderLengths() {
        TranslatorHarness auto = harness();
        auto.translate(VERDICT_V118, 0);
        auto.flush();
        assertEquals(1, auto.events().size(), "92 bytes: only the 32-byte layout fits");

        TranslatorHarness v119 = harness("n1", null, table(), 119, false);
        assertEquals(new CiliumVersion(1, 19), v119.translator.decoder().versionOverride());
        v119.translate(VERDICT_V118, 0);
        v119.translate(VERDICT_V119, 0);
        v119.flush();
        assertEquals(1, v119.translator.decodeErrors(CiliumMessageDecoder.DecodeError.LENGTH_MISMATCH));
        assertEquals(1, v119.events().size());

        // a 32-byte drop v1 (<= 1.12) whose padded size also fits 36: the override settles it
        byte[] old = perfPad(Samples.drop(32, 1, 169, 1234, 0, Samples.SYN_PACKET));
        TranslatorHarness v112 = harness("n1", null, table(), 112, false);
        v112.translate(old, 0);
        JsonNode e = v112.only();
        assertEquals("10.0.1.5", e.get("src_ip").asText());
        assertEquals(0, e.get("ifindex").asInt(), "no ifindex before v1.13");

        TranslatorHarness v113 = harness("n1", null, table(), 113, false);
        v113.translate(old, 0);
        assertEquals(1, v113.events().size());
        assertFalse("10.0.1.5".equals(v113.only().path("src_ip").asText()), "read as 36 bytes, the packet is misplaced");
    }

    @Test
    void anInvalidVersionCodeIsRejectedAtConstruction() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> harness("n1", null, null, 19, false));
        assertEquals(119, CiliumVersion.parse("v1.19.2").code());
        assertEquals(CiliumVersion.parse("1.13"), CiliumVersion.fromCode(113));
    }

    // ---- skipped and counted ---------------------------------------------------------------------------

    @Test
    void otherMessageTypesAreSkippedAndCountedByType() {
        TranslatorHarness h = harness();
        h.translate(new byte[] {2, 5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}, 0); // debug
        byte[] capture = new byte[24];
        capture[0] = 3;
        h.translate(capture, 0);
        byte[] sock = new byte[40];
        sock[0] = 7;
        h.translate(sock, 0);
        h.translate(hex(SpecVectorsTest.V4), 0);
        h.translate(new byte[] {(byte) 130, 0, 0, 0}, 0); // agent
        assertEquals(1, h.translator.skipped(2));
        assertEquals(1, h.translator.skipped(3));
        assertEquals(1, h.translator.skipped(7));
        assertEquals(1, h.translator.skipped(4));
        assertEquals(1, h.translator.skipped(130));
        assertEquals(5, h.translator.skipped());
        assertEquals(0, h.events().size());
        Map<String, Object> s = h.translator.status();
        assertEquals(Map.of("debug", 1L, "capture", 1L, "trace-sock", 1L, "trace", 1L, "agent", 1L), Map.copyOf(
                (Map<String, Object>) s.get("skipped")));
        assertEquals(5L, s.get("samples"));
        assertTrue(((Map<?, ?>) s.get("decode_errors")).containsKey("truncated"));
    }

    @Test
    void kernelMergeReasonsAreTheTcOnes() {
        assertEquals(java.util.Set.of("TC_INGRESS", "TC_EGRESS"), CiliumPayloadTranslator.KERNEL_MERGE_REASONS);
    }
}
