package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.Agent;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.lab.CalicoLab;
import dev.droptrace.agent.lab.CalicoLab.Dataplane;
import dev.droptrace.agent.lab.CalicoLab.IdFormat;
import dev.droptrace.agent.pipeline.SourceOptions;
import dev.droptrace.agent.source.calico.KubernetesPolicySource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.droptrace.agent.kernel.KernelTestSupport.assumeKernelTestbed;
import static dev.droptrace.agent.kernel.KernelTestSupport.awaitEvents;
import static dev.droptrace.agent.kernel.KernelTestSupport.observe;
import static dev.droptrace.agent.kernel.KernelTestSupport.sumCount;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 6 end to end: in the Calico-shaped testbed (a node namespace routing between pod namespaces
 * through Calico-shaped chains that log to NFLOG with real prefixes), the agent runs the kernel and
 * Calico sources, listening to NFLOG in the node's namespace, with pods and NetworkPolicies from
 * fabric8's mock API server. Every denied packet is one event: Calico's policy, the kernel's
 * NETFILTER_DROP, both pods; a default deny names the NetworkPolicies that isolate the pod; a kernel
 * drop with no NFLOG record is attributed the same way; counts equal the kernel's rule counters.
 */
@Tag("kernel")
class CalicoDropsTest {
    private static final int NO_LOG_PORT = 9229;

    @TempDir
    Path dir;

    @BeforeEach
    void root() {
        assumeKernelTestbed();
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"IPTABLES, V3_32, 229", "NFTABLES, V3_30, 230"})
    void everyDeniedPacketIsOneEventWithItsPolicy(Dataplane dataplane, IdFormat format, int octet) throws Exception {
        KubernetesMockServer api = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        api.init();
        try (CalicoLab lab = CalicoLab.create(octet, dataplane, format); KubernetesClient admin = api.createClient()) {
            CalicoLab.Workload fe = lab.frontend(), be = lab.backend(), ot = lab.other();
            for (String ns : List.of("default", "dmz")) {
                admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
            }
            for (CalicoLab.Workload w : lab.workloads()) createPod(admin, w);
            // the Kubernetes side of the lab's policies: allow-frontend and deny-all both select backend for ingress
            admin.network().v1().networkPolicies().inNamespace("default").resource(new NetworkPolicyBuilder()
                    .withNewMetadata().withName("deny-all").withNamespace("default").endMetadata()
                    .withNewSpec().withNewPodSelector().addToMatchLabels("app", "backend").endPodSelector()
                    .withPolicyTypes("Ingress").endSpec().build()).create();
            admin.network().v1().networkPolicies().inNamespace("default").resource(new NetworkPolicyBuilder()
                    .withNewMetadata().withName("allow-frontend").withNamespace("default").endMetadata()
                    .withNewSpec().withNewPodSelector().addToMatchLabels("app", "backend").endPodSelector()
                    .addNewIngress().addNewFrom().withNewPodSelector().addToMatchLabels("app", "frontend").endPodSelector()
                    .endFrom().endIngress().withPolicyTypes("Ingress").endSpec().build()).create();
            // Calico's own policies of the lab (v3.32 prefixes do not carry the tier: it comes from here)
            admin.genericKubernetesResources(KubernetesPolicySource.CALICO_GLOBAL_NETWORK_POLICIES).resource(
                    new GenericKubernetesResourceBuilder().withApiVersion("crd.projectcalico.org/v1").withKind("GlobalNetworkPolicy")
                            .withNewMetadata().withName("security.edge").endMetadata()
                            .addToAdditionalProperties("spec", Map.of("tier", "security", "ingress", List.of(
                                    Map.of("action", "Pass"), Map.of("action", "Deny"), Map.of("action", "Pass")))).build()).create();
            admin.genericKubernetesResources(KubernetesPolicySource.CALICO_NETWORK_POLICIES).inNamespace("default").resource(
                    new GenericKubernetesResourceBuilder().withApiVersion("crd.projectcalico.org/v1").withKind("NetworkPolicy")
                            .withNewMetadata().withNamespace("default").withName("limit-egress").endMetadata()
                            .addToAdditionalProperties("spec", Map.of("egress", List.of(
                                    Map.of("action", "Deny"), Map.of("action", "Allow")))).build()).create();
            Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), """
                    apiVersion: v1
                    kind: Config
                    clusters: [{name: mock, cluster: {server: "%s"}}]
                    users: [{name: u, user: {token: test}}]
                    contexts: [{name: c, context: {cluster: mock, user: u}}]
                    current-context: c
                    """.formatted(api.url("/")));
            // a drop Calico does not log: only the kernel sees it
            lab.execInNode(dataplane == Dataplane.IPTABLES ? new String[]{"iptables", "-I", "FORWARD", "1", "-p", "udp",
                    "--dport", "" + NO_LOG_PORT, "-j", "DROP"} : new String[]{"nft", "insert", "rule", "inet", "calico",
                    "filter-FORWARD", "udp", "dport", "" + NO_LOG_PORT, "counter", "drop"});
            Path journal = dir.resolve("journal-" + octet);
            SourceOptions options = new SourceOptions(SourceOptions.DEFAULT_CILIUM_SOCKET, null, 0, false,
                    List.of(CalicoLab.INGRESS_GROUP, CalicoLab.EGRESS_GROUP), false, lab.nodeNetns());
            CalicoLab.Prefixes p = lab.prefixes();
            Map<String, Long> logged;
            AgentStatus status;
            try (Agent agent = Agent.start(new Agent.Config(journal, "n1", Set.of("kernel", "calico"), kubeconfig, null)
                    .withSourceOptions(options))) {
                assertEquals("attached", agent.sourceStates().get("calico").state(), agent.sourceStates().toString());
                awaitNamed(journal, agent);
                lab.sendUdp(ot, be, CalicoLab.DISCARD_UDP_PORT, 46001, 3, false);   // security.edge rule 1: deny
                lab.sendUdp(ot, be, CalicoLab.DISCARD_UDP_PORT, 46002, 2, true);
                lab.sendUdp(fe, be, CalicoLab.ECHO_UDP_PORT, 46003, 2, false);      // egress of frontend, limit-egress rule 0: deny
                lab.trySyn(ot, be, CalicoLab.WEB_TCP_PORT, 46004, 1200, false);     // passes the edge, falls off tier default
                lab.sendUdp(fe, be, CalicoLab.DNS_UDP_PORT, 46005, 2, false);       // allowed by allow-frontend
                lab.sendUdp(ot, be, NO_LOG_PORT, 46006, 4, false);                  // dropped without NFLOG
                logged = lab.nflogCounts();
                long denied = logged.get(p.edgeDenyOtherDiscard()) + logged.get(p.limitEgressDenyEcho())
                        + logged.get(p.defaultTierEnd());
                awaitEvents(journal, e -> sumCount(e, x -> true) >= denied, "--source", "calico");
                status = agent.status();
            } // closing journals what still waits for its other half
            assertEquals(3 + 2, logged.get(p.edgeDenyOtherDiscard()));
            assertEquals(2, logged.get(p.limitEgressDenyEcho()));
            assertTrue(logged.get(p.defaultTierEnd()) >= 1);

            List<JsonNode> edge = observe(journal, "--source", "calico", "--policy", "security.edge");
            assertEquals(logged.get(p.edgeDenyOtherDiscard()), sumCount(edge, x -> true), edge.toString());
            for (JsonNode e : edge) {
                assertEvent(e, "POLICY_DENY", "ingress", "other", "backend");
                assertEquals("GlobalNetworkPolicy", e.at("/policy/kind").asText(), e.toString());
                assertEquals("security", e.at("/policy/tier").asText());
                assertEquals(1, e.at("/policy/rule_index").asInt());
                assertEquals(p.edgeDenyOtherDiscard(), e.at("/policy/prefix").asText());
                assertEquals(CalicoLab.DISCARD_UDP_PORT, e.path("dst_port").asInt());
            }
            List<JsonNode> egress = observe(journal, "--source", "calico", "--policy", "default/limit-egress");
            assertEquals(2, sumCount(egress, x -> true), egress.toString());
            for (JsonNode e : egress) {
                assertEvent(e, "POLICY_DENY", "egress", "frontend", "backend");
                assertEquals(0, e.at("/policy/rule_index").asInt());
                assertEquals("default", e.at("/policy/tier").asText(), e.toString());
            }
            List<JsonNode> isolated = observe(journal, "--source", "calico", "--to-port", "" + CalicoLab.WEB_TCP_PORT);
            assertEquals(logged.get(p.defaultTierEnd()), sumCount(isolated, x -> true), isolated.toString());
            for (JsonNode e : isolated) {
                assertEvent(e, "TIER_END_DENY", "ingress", "other", "backend");
                assertTrue(e.at("/policy/default_deny").asBoolean(), e.toString());
                assertEquals("[{\"namespace\":\"default\",\"name\":\"allow-frontend\"},{\"namespace\":\"default\",\"name\":\"deny-all\"}]",
                        e.at("/policy/isolated_by").toString(), e.toString());
            }
            assertEquals(sumCount(isolated, x -> true), sumCount(observe(journal, "--policy", "deny-all",
                    "--to-port", "" + CalicoLab.WEB_TCP_PORT), x -> true), "--policy matches a name in isolated_by");
            // no denied packet also stands alone as a kernel event
            List<JsonNode> kernelAlone = observe(journal, "--source", "kernel", "--reason", "NETFILTER_DROP", "--from-ip", ot.ip4(),
                    "--to-port", "" + CalicoLab.DISCARD_UDP_PORT);
            assertEquals(0, sumCount(kernelAlone, x -> true), kernelAlone.toString());
            assertEquals(0, sumCount(observe(journal, "--source", "calico", "--to-port", "" + CalicoLab.DNS_UDP_PORT), x -> true),
                    "allowed records are counted, not journaled");
            // the kernel drop nobody logged names the policies that isolate the backend
            List<JsonNode> unlogged = observe(journal, "--to-port", "" + NO_LOG_PORT);
            assertEquals(4, sumCount(unlogged, x -> true), unlogged.toString());
            for (JsonNode e : unlogged) {
                assertEquals("kernel", e.path("source").asText());
                assertEquals("NETFILTER_DROP", e.path("reason").asText());
                assertTrue(e.at("/policy/default_deny").asBoolean(), e.toString());
                assertEquals("allow-frontend", e.at("/policy/name").asText(), e.toString());
                assertEquals("backend", e.at("/dst/pod").asText(), e.toString());
            }
            assertTrue(status.pipeline().merged() >= 8, status.pipeline().toString());
            assertTrue(status.pipeline().nflogIgnored() >= 2, "allowed records are counted: " + status.pipeline());
        } finally {
            api.destroy();
        }
    }

    private static void assertEvent(JsonNode e, String reason, String direction, String from, String to) {
        assertEquals("calico", e.path("source").asText(), e.toString());
        assertEquals(reason, e.path("reason").asText(), e.toString());
        assertEquals("NETFILTER_DROP", e.path("kernel_reason").asText(), "merged with the kernel's drop: " + e);
        assertEquals(direction, e.path("direction").asText(), e.toString());
        assertEquals(1, e.path("count").asLong());
        assertEquals(from, e.at("/src/pod").asText(), e.toString());
        assertEquals(to, e.at("/dst/pod").asText(), e.toString());
        assertEquals("deny", e.at("/policy/action").asText(), e.toString());
        assertFalse(e.at("/policy/prefix").asText().isEmpty(), "the raw prefix is kept: " + e);
        assertEquals(direction.equals("ingress") ? CalicoLab.INGRESS_GROUP : CalicoLab.EGRESS_GROUP, e.at("/calico/group").asInt(), e.toString());
        assertEquals("forward", e.at("/calico/hook").asText(), e.toString());
        assertTrue(e.at("/calico/indev_ifindex").asInt() > 0 && e.at("/calico/outdev_ifindex").asInt() > 0, e.toString());
    }

    /** Waits until the identity cache and the policy informers have the lab's objects. */
    private static void awaitNamed(Path journal, Agent agent) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            AgentStatus st = agent.status();
            Map<String, Object> calico = st.sourceDetail().get("calico");
            if (st.identities() != null && st.identities().known() >= 3 && Boolean.TRUE.equals(calico.get("network_policies_synced"))
                    && ((Number) calico.get("network_policies")).intValue() == 2
                    && ((Number) calico.get("calico_global_network_policies")).intValue() == 1
                    && ((Number) calico.get("calico_network_policies")).intValue() == 1) return;
            Thread.sleep(100);
        }
        throw new AssertionError("identities or policies never synced: " + agent.status());
    }

    private static Pod createPod(KubernetesClient admin, CalicoLab.Workload w) {
        Pod created = admin.pods().inNamespace(w.namespace()).resource(new PodBuilder().withNewMetadata()
                .withNamespace(w.namespace()).withName(w.name()).withLabels(Map.of("app", w.name())).endMetadata()
                .withNewSpec().withNodeName("n1").addNewContainer().withName("c").withImage("busybox").endContainer().endSpec()
                .build()).create();
        created.setStatus(new PodStatusBuilder().withPhase("Running").withPodIP(w.ip4()).addNewPodIP().withIp(w.ip4()).endPodIP()
                .addNewPodIP().withIp(w.ip6()).endPodIP().build());
        return admin.pods().inNamespace(w.namespace()).resource(created).updateStatus();
    }
}
