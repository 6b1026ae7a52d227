package dev.droptrace.agent.source.calico;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.API;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.OUTSIDE;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.WEB;
import static dev.droptrace.agent.source.calico.CalicoTestJournal.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Kernel NETFILTER_DROP records between pods that no NFLOG record explained. */
class DefaultDenyAttributorTest {
    static final int NETFILTER_DROP = 6;
    static final int NO_SOCKET = 3;

    @TempDir
    Path tmp;
    IdentityCache cache;
    CalicoTestJournal out;
    final AtomicReference<KnownPolicies> policies = new AtomicReference<>();
    DefaultDenyAttributor attributor;

    @BeforeEach
    void setUp() throws Exception {
        cache = IdentityCache.create();
        cache.upsert("pod:web", Identity.pod("shop", "web-0", null, Map.of("app", "web"), null), List.of("10.210.0.1"), 1);
        cache.upsert("pod:api", Identity.pod("shop", "api-0", null, Map.of("app", "api"), null), List.of("10.210.0.2"), 1);
        cache.setComplete(true);
        cache.flush().get(30, TimeUnit.SECONDS);
        out = new CalicoTestJournal(tmp.resolve("journal"));
        out.journal.defineReason(DropSource.KERNEL, NETFILTER_DROP, "NETFILTER_DROP");
        out.journal.defineReason(DropSource.KERNEL, NO_SOCKET, "NO_SOCKET");
        policies.set(KnownPolicies.of(1, List.of(
                new KnownPolicies.NetworkPolicyEntry("shop", "api-isolation", new LabelSelector(Map.of("app", "api"), List.of()), true, false),
                new KnownPolicies.NetworkPolicyEntry("shop", "egress-lockdown", LabelSelector.ALL, false, true)), List.of()));
        attributor = new DefaultDenyAttributor(out.journal, cache, policies::get, NETFILTER_DROP);
    }

    @AfterEach
    void tearDown() {
        out.close();
        cache.close();
    }

    /** A kernel record as the merger emits it alone, attributed and journaled. */
    void kernel(int reason, int src, int dst, Direction direction, int policyId) {
        DropRecord r = out.begin();
        r.source(DropSource.KERNEL).family(4).protocol(6).srcIpv4(src).dstIpv4(dst).srcPort(40000).dstPort(80)
                .reasonCode(reason).direction(direction).wallNs(1).policyId(policyId);
        attributor.attribute(r);
        out.emit(false);
    }

    @Test
    void namesTheIsolatingPoliciesOfTheRightEnd() throws Exception {
        kernel(NETFILTER_DROP, WEB, API, Direction.UNKNOWN, 0);  // api is isolated for ingress
        kernel(NETFILTER_DROP, API, WEB, Direction.UNKNOWN, 0);  // web is not: api's egress isolation
        kernel(NETFILTER_DROP, WEB, API, Direction.EGRESS, 0);   // a known direction looks only there
        kernel(NETFILTER_DROP, WEB, API, Direction.UNKNOWN, 0);  // cached, same text
        List<JsonNode> events = out.events();
        JsonNode ingress = JSON.readTree("""
                {"name":"api-isolation","namespace":"shop","kind":"NetworkPolicy","action":"deny","direction":"ingress",
                 "default_deny":true,"isolated_by":[{"namespace":"shop","name":"api-isolation"}]}""");
        assertEquals(ingress, events.get(0).get("policy"));
        assertEquals("NETFILTER_DROP", events.get(0).get("reason").asText());
        assertEquals("kernel", events.get(0).get("source").asText());
        JsonNode egressApi = JSON.readTree("""
                {"name":"egress-lockdown","namespace":"shop","kind":"NetworkPolicy","action":"deny","direction":"egress",
                 "default_deny":true,"isolated_by":[{"namespace":"shop","name":"egress-lockdown"}]}""");
        assertEquals(egressApi, events.get(1).get("policy"));
        assertEquals(egressApi, events.get(2).get("policy"));
        assertEquals(ingress, events.get(3).get("policy"));
        assertEquals(4, attributor.attributed());
    }

    @Test
    void leavesOtherRecordsAlone() throws Exception {
        kernel(NO_SOCKET, WEB, API, Direction.UNKNOWN, 0);            // another reason
        kernel(NETFILTER_DROP, OUTSIDE, API, Direction.UNKNOWN, 0);   // one end is not a pod
        kernel(NETFILTER_DROP, WEB, OUTSIDE, Direction.UNKNOWN, 0);
        int existing = out.journal.intern(dev.droptrace.agent.journal.DictionaryKind.POLICY, "{\"name\":\"kept\"}");
        kernel(NETFILTER_DROP, WEB, API, Direction.UNKNOWN, existing); // already attributed
        policies.set(KnownPolicies.EMPTY);
        kernel(NETFILTER_DROP, WEB, API, Direction.UNKNOWN, 0);       // nothing isolates anyone any more
        List<JsonNode> events = out.events();
        assertEquals(5, events.size());
        for (int i = 0; i < 3; i++) assertEquals(null, events.get(i).get("policy"), "event " + i);
        assertEquals("kept", events.get(3).get("policy").get("name").asText());
        assertEquals(null, events.get(4).get("policy"));
        assertEquals(0, attributor.attributed());
    }
}
