package dev.droptrace.agent.source.calico;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.API;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.OUTSIDE;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.WEB;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.message;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.nowSec;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.translate;
import static dev.droptrace.agent.source.calico.CalicoTestJournal.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The policy informers against fabric8's CRUD mock API server, feeding the translator. */
@EnableKubernetesMockClient(crud = true)
class KubernetesPolicySourceTest {
    static KubernetesClient client;

    @TempDir
    Path tmp;
    IdentityCache cache;
    CalicoTestJournal out;
    KubernetesPolicySource source;

    @BeforeEach
    void setUp() throws Exception {
        cache = IdentityCache.create();
        cache.upsert("pod:web", Identity.pod("shop", "web-0", null, Map.of("app", "web"), "node-1"), List.of("10.210.0.1"), 1);
        cache.upsert("pod:api", Identity.pod("shop", "api-0", null, Map.of("app", "api", "tier", "backend"), "node-1"),
                List.of("10.210.0.2"), 1);
        cache.setComplete(true);
        cache.flush().get(30, TimeUnit.SECONDS);
        out = new CalicoTestJournal(tmp.resolve("journal"));
        source = KubernetesPolicySource.start(client, false);
        source.synced().get(60, TimeUnit.SECONDS);
    }

    @AfterEach
    void tearDown() {
        source.close();
        out.close();
        cache.close();
        client.network().v1().networkPolicies().inAnyNamespace().delete();
        client.genericKubernetesResources(KubernetesPolicySource.CALICO_NETWORK_POLICIES).inAnyNamespace().delete();
        client.genericKubernetesResources(KubernetesPolicySource.CALICO_GLOBAL_NETWORK_POLICIES).delete();
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(20);
        }
    }

    CalicoPayloadTranslator translator() {
        return new CalicoPayloadTranslator(out.journal, cache, "node-1", source, new InterfaceNames(), false);
    }

    static NetworkPolicy networkPolicy(String ns, String name, Map<String, String> podSelector, List<String> types,
                                       int ingressPeers) {
        NetworkPolicyBuilder b = new NetworkPolicyBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata()
                .withNewSpec().withNewPodSelector().withMatchLabels(podSelector).endPodSelector()
                .withPolicyTypes(types).endSpec();
        NetworkPolicy np = b.build();
        if (ingressPeers > 0) {
            var rule = new io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRuleBuilder();
            for (int i = 0; i < ingressPeers; i++) {
                rule.addNewFrom().withNewPodSelector().addToMatchLabels("app", "peer" + i).endPodSelector().endFrom();
            }
            np.getSpec().setIngress(List.of(rule.build()));
        }
        return np;
    }

    @Test
    void hashedPrefixResolvesOnceThePolicyAppearsInTheApi() throws Exception {
        String ns = "payments-processing-europe";
        String name = "allow-from-everything-but-the-gateway";
        // two peers: Calico rules 0 and 1; the record is for rule 1
        String hashed = CalicoPrefix.hash("API1|knp/" + ns + "/" + name);
        CalicoPayloadTranslator t = new CalicoPayloadTranslator(out.journal, cache, "node-1", source, new InterfaceNames(), true);
        byte[] msg = message(1, hashed, 7, 9, nowSec(), 0, WEB, API, 80);
        translate(t, out, msg, 1);
        assertEquals(1, t.counters().unresolvedHashed());

        client.network().v1().networkPolicies().inNamespace(ns).resource(networkPolicy(ns, name, Map.of("app", "api"),
                List.of("Ingress"), 2)).create();
        await(() -> source.get().networkPolicyCount() == 1, "the policy in the snapshot");
        translate(t, out, msg, 1);
        assertEquals(1, t.counters().unresolvedHashed());

        List<JsonNode> events = out.events();
        assertEquals(2, events.size());
        assertFalse(events.get(0).get("policy").has("name"));
        assertEquals(hashed.substring(11, 52), events.get(0).get("policy").get("hash").asText());
        assertEquals(JSON.readTree("{\"name\":\"" + name + "\",\"namespace\":\"" + ns + "\",\"kind\":\"NetworkPolicy\","
                + "\"tier\":\"default\",\"action\":\"allow\",\"direction\":\"ingress\",\"rule_index\":1,\"prefix\":\""
                + hashed + "\"}"), events.get(1).get("policy"));
    }

    @Test
    void defaultDenyNamesThePolicyThatIsolatesThePodAndNotTheOthers() throws Exception {
        client.network().v1().networkPolicies().inNamespace("shop").resource(networkPolicy("shop", "api-isolation",
                Map.of("app", "api"), List.of("Ingress"), 0)).create();
        client.network().v1().networkPolicies().inNamespace("shop").resource(networkPolicy("shop", "egress-lockdown",
                Map.of(), List.of("Egress"), 0)).create();
        await(() -> source.get().networkPolicyCount() == 2, "both policies in the snapshot");

        CalicoPayloadTranslator t = translator();
        translate(t, out, message(1, "DPI|default", 7, 9, nowSec(), 0, WEB, API, 80), 1);
        translate(t, out, message(2, "DPE|default", 9, 7, nowSec(), 0, API, OUTSIDE, 443), 2);
        List<JsonNode> events = out.events();
        assertEquals(2, events.size());
        assertEquals("TIER_END_DENY", events.get(0).get("reason").asText());
        assertEquals(JSON.readTree("""
                {"name":"api-isolation","namespace":"shop","kind":"NetworkPolicy","tier":"default","action":"deny",
                 "direction":"ingress","default_deny":true,"isolated_by":[{"namespace":"shop","name":"api-isolation"}],
                 "prefix":"DPI|default"}"""), events.get(0).get("policy"));
        assertEquals(JSON.readTree("""
                {"name":"egress-lockdown","namespace":"shop","kind":"NetworkPolicy","tier":"default","action":"deny",
                 "direction":"egress","default_deny":true,"isolated_by":[{"namespace":"shop","name":"egress-lockdown"}],
                 "prefix":"DPE|default"}"""), events.get(1).get("policy"));

        // a policy change reaches events that follow
        client.network().v1().networkPolicies().inNamespace("shop").withName("egress-lockdown").delete();
        await(() -> source.get().networkPolicyCount() == 1, "the deletion in the snapshot");
        translate(t, out, message(2, "DPE|default", 9, 7, nowSec(), 0, API, OUTSIDE, 443), 2);
        assertEquals(JSON.readTree("""
                {"tier":"default","action":"deny","direction":"egress","default_deny":true,"prefix":"DPE|default"}"""),
                out.events().get(2).get("policy"));
    }

    @Test
    void calicoCrdPoliciesResolveWithTheirTier() throws Exception {
        String name = "security.deny-everything-from-the-untrusted-partner-networks";
        GenericKubernetesResource np = new GenericKubernetesResourceBuilder()
                .withApiVersion("crd.projectcalico.org/v1").withKind("NetworkPolicy")
                .withNewMetadata().withNamespace("shop").withName(name).endMetadata()
                .addToAdditionalProperties("spec", Map.of("tier", "security", "selector", "app == 'api'",
                        "ingress", List.of(Map.of("action", "Allow"), Map.of("action", "Deny"))))
                .build();
        client.genericKubernetesResources(KubernetesPolicySource.CALICO_NETWORK_POLICIES).inNamespace("shop")
                .resource(np).create();
        String gname = "deny-ssh-from-anywhere-in-the-world-except-bastions";
        GenericKubernetesResource gnp = new GenericKubernetesResourceBuilder()
                .withApiVersion("crd.projectcalico.org/v1").withKind("GlobalNetworkPolicy")
                .withNewMetadata().withName(gname).endMetadata()
                .addToAdditionalProperties("spec", Map.of("egress", List.of(Map.of("action", "Deny"))))
                .build();
        client.genericKubernetesResources(KubernetesPolicySource.CALICO_GLOBAL_NETWORK_POLICIES).resource(gnp).create();
        await(() -> source.get().policyCount() == 2, "both Calico policies in the snapshot");

        String hashed = CalicoPrefix.hash("DPI1|np/shop/" + name);
        String hashedV330 = CalicoPrefix.hash("DPE0|default." + gname);
        assertEquals(63, hashed.length());
        assertEquals(63, hashedV330.length());
        CalicoPayloadTranslator t = translator();
        translate(t, out, message(1, hashed, 7, 9, nowSec(), 0, WEB, API, 80), 1);
        translate(t, out, message(2, hashedV330, 9, 7, nowSec(), 0, API, OUTSIDE, 22), 2);
        List<JsonNode> events = out.events();
        assertEquals(JSON.readTree("{\"name\":\"" + name + "\",\"namespace\":\"shop\",\"kind\":\"CalicoNetworkPolicy\","
                + "\"tier\":\"security\",\"action\":\"deny\",\"direction\":\"ingress\",\"rule_index\":1,\"prefix\":\""
                + hashed + "\"}"), events.get(0).get("policy"));
        assertEquals(JSON.readTree("{\"name\":\"" + gname + "\",\"kind\":\"GlobalNetworkPolicy\","
                + "\"tier\":\"default\",\"action\":\"deny\",\"direction\":\"egress\",\"rule_index\":0,\"prefix\":\""
                + hashedV330 + "\"}"), events.get(1).get("policy"));
        assertEquals(0, t.counters().unresolvedHashed());
        assertTrue(source.status().containsKey("absent"));
    }

    @Test
    void policyTypesDefaultLikeKubernetes() throws Exception {
        NetworkPolicy np = networkPolicy("shop", "no-types", Map.of("app", "api"), List.of(), 0);
        np.getSpec().setPolicyTypes(null);
        np.getSpec().setEgress(List.of(new io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule()));
        client.network().v1().networkPolicies().inNamespace("shop").resource(np).create();
        NetworkPolicy ingressOnly = networkPolicy("shop", "no-types-no-egress", Map.of("app", "api"), List.of(), 1);
        ingressOnly.getSpec().setPolicyTypes(null);
        client.network().v1().networkPolicies().inNamespace("shop").resource(ingressOnly).create();
        await(() -> source.get().networkPolicyCount() == 2, "both policies in the snapshot");
        KnownPolicies k = source.get();
        Map<String, String> api = Map.of("app", "api");
        assertEquals(List.of("no-types", "no-types-no-egress"),
                k.isolating("shop", api, Direction.INGRESS).stream().map(KnownPolicies.NetworkPolicyEntry::name).toList());
        assertEquals(List.of("no-types"),
                k.isolating("shop", api, Direction.EGRESS).stream().map(KnownPolicies.NetworkPolicyEntry::name).toList());
        assertEquals(List.of(), k.isolating("other", api, Direction.INGRESS));
        assertEquals(List.of(), k.isolating("shop", Map.of("app", "web"), Direction.INGRESS));
    }
}
