package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.Agent;
import dev.droptrace.agent.lab.NetnsLab;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.droptrace.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Real drops named at both ends: from an inventory file, and from a Kubernetes API (fabric8's
 * CRUD mock server, list and watch), including a service ClusterIP, pod deletion and IP reuse.
 */
@Tag("kernel")
class IdentityDropsTest {
    static final int PORT = 9996;

    @TempDir Path dir;
    NetnsLab lab;
    NetnsLab.Pod client;
    NetnsLab.Pod server;

    @BeforeEach
    void setUp() {
        assumeKernelTestbed();
        lab = clientServer(213, PORT);
        client = lab.pod("client");
        server = lab.pod("server");
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    @Test
    void inventoryNamesBothEnds() throws Exception {
        Path journal = dir.resolve("journal");
        Path inventory = Files.writeString(dir.resolve("inventory.yaml"), """
                pods:
                  - namespace: frontend
                    name: web-5d8f
                    labels: {app: web, tier: front}
                    workload: Deployment/web
                    ips: ["%s", "%s"]
                  - namespace: backend
                    name: api-1
                    labels: {app: api}
                    workload: StatefulSet/api
                    ips: ["%s"]
                    netns: %s
                """.formatted(client.ip4(), client.ip6(), server.ip4(), server.netns()));
        try (Agent agent = Agent.start(new Agent.Config(journal, "n1", Set.of("kernel"), null, inventory))) {
            assertTrue(agent.anyAttached(), agent.sourceStates().toString());
            lab.sendUdp(client, server.ip4(), PORT, 43000, 5);
            lab.sendUdp(client, server.ip6(), PORT, 43001, 3);
            List<JsonNode> events = awaitEvents(journal, e -> sumCount(e, x -> true) >= 5, "--to-port", "" + PORT);
            List<JsonNode> v4 = events.stream().filter(e -> e.path("family").asText().equals("ipv4")).toList();
            assertEquals(5, sumCount(v4, e -> true));
            for (JsonNode e : v4) {
                assertEquals("frontend", e.at("/src/namespace").asText(), e.toString());
                assertEquals("web-5d8f", e.at("/src/pod").asText());
                assertEquals("Deployment/web", e.at("/src/workload").asText());
                assertEquals("web", e.at("/src/labels/app").asText());
                assertEquals("front", e.at("/src/labels/tier").asText());
                assertEquals("backend", e.at("/dst/namespace").asText());
                assertEquals("api-1", e.at("/dst/pod").asText());
                assertEquals("StatefulSet/api", e.at("/dst/workload").asText());
                assertEquals("api", e.at("/dst/labels/app").asText());
            }
            // the IPv6 destination is not in the inventory: the server's netns names the local end
            List<JsonNode> v6 = awaitEvents(journal, e -> e.size() >= 3, "--to-port", "" + PORT, "--protocol", "udp",
                    "--from-pod", "frontend/web", "--ip", server.ip6());
            assertEquals(3, sumCount(v6, e -> true));
            for (JsonNode e : v6) assertEquals("api-1", e.at("/dst/pod").asText(), e.toString());

            assertEquals(8, sumCount(observe(journal, "--from-namespace", "frontend", "--to-port", "" + PORT), e -> true));
            assertEquals(8, sumCount(observe(journal, "--to-label", "app=api", "--to-port", "" + PORT), e -> true),
                    observe(journal, "--to-label", "app=api", "--to-port", "" + PORT).toString());
            assertEquals(8, sumCount(observe(journal, "--to-workload", "api", "--from-workload", "Deployment/web", "--to-port", "" + PORT), e -> true));
            assertEquals(8, sumCount(observe(journal, "--pod", "backend/api", "--to-port", "" + PORT), e -> true));
            assertEquals(0, sumCount(observe(journal, "--from-pod", "backend/api", "--to-port", "" + PORT), e -> true));
            assertEquals(0, sumCount(observe(journal, "--label", "app=nothing"), e -> true));
        }
    }

    @Test
    void kubernetesNamesSurviveDeletionAndIpReuse() throws Exception {
        KubernetesMockServer api = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        api.init();
        try (KubernetesClient admin = api.createClient()) {
            admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("shop").endMetadata().build()).create();
            var rs = admin.apps().replicaSets().inNamespace("shop").resource(new ReplicaSetBuilder().withNewMetadata()
                    .withName("web-5d8f9c").withNamespace("shop").addNewOwnerReference().withApiVersion("apps/v1")
                    .withKind("Deployment").withName("web").withUid("dep-web").withController(true).endOwnerReference()
                    .endMetadata().build()).create();
            createPod(admin, "web-5d8f9c-x2x", Map.of("app", "web", "pod-template-hash", "5d8f9c"), "ReplicaSet",
                    "web-5d8f9c", rs.getMetadata().getUid(), client.ip4());
            createPod(admin, "api-0", Map.of("app", "api"), "StatefulSet", "api", "sts-api", server.ip4());
            // a ClusterIP that the server's namespace owns and drops before any DNAT could happen
            String clusterIp = "10.213.1.100";
            lab.exec(server, "ip", "addr", "add", clusterIp + "/32", "dev", "eth0");
            admin.services().inNamespace("shop").resource(new ServiceBuilder().withNewMetadata().withName("api")
                    .withNamespace("shop").endMetadata().withNewSpec().withClusterIP(clusterIp).endSpec().build()).create();

            Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), """
                    apiVersion: v1
                    kind: Config
                    clusters: [{name: mock, cluster: {server: "%s"}}]
                    users: [{name: u, user: {token: test}}]
                    contexts: [{name: c, context: {cluster: mock, user: u}}]
                    current-context: c
                    """.formatted(api.url("/").replaceAll("/$", "")));
            Path journal = dir.resolve("journal");
            try (Agent agent = Agent.start(new Agent.Config(journal, "n1", Set.of("kernel"), kubeconfig, null))) {
                assertTrue(agent.anyAttached(), agent.sourceStates().toString());
                // names appear once the informers have listed: send until a named drop arrives
                List<JsonNode> named = sendUntil(journal, 43100, e -> e.at("/src/pod").asText().equals("web-5d8f9c-x2x"));
                JsonNode first = named.getLast();
                assertEquals("shop", first.at("/src/namespace").asText());
                assertEquals("Deployment/web", first.at("/src/workload").asText(), first.toString());
                assertEquals("web", first.at("/src/labels/app").asText());
                assertEquals("api-0", first.at("/dst/pod").asText());
                assertEquals("StatefulSet/api", first.at("/dst/workload").asText());

                lab.sendUdp(client, clusterIp, PORT, 43200, 2);
                List<JsonNode> toService = awaitEvents(journal, e -> e.size() >= 2, "--to-ip", clusterIp, "--to-port", "" + PORT);
                assertEquals(2, toService.size());
                for (JsonNode e : toService) assertEquals("api", e.at("/dst/service").asText(), e.toString());

                // the client pod goes away and a new pod takes its IP
                admin.pods().inNamespace("shop").withName("web-5d8f9c-x2x").delete();
                createPod(admin, "batch-7q", Map.of("app", "batch"), null, null, null, client.ip4());
                List<JsonNode> reused = sendUntil(journal, 43300, e -> e.at("/src/pod").asText().equals("batch-7q"));
                assertEquals("batch", reused.getLast().at("/src/labels/app").asText());
                assertTrue(reused.getLast().at("/src/workload").isMissingNode(), "a bare pod has no workload");

                // earlier drops keep the names that were true when they happened
                for (JsonNode e : observe(journal, "--from-port", "43100")) {
                    String pod = e.at("/src/pod").asText();
                    assertTrue(pod.isEmpty() || pod.equals("web-5d8f9c-x2x"), "old drop renamed: " + e);
                }
                assertFalse(observe(journal, "--from-pod", "shop/web-5d8f9c-x2x").isEmpty());
                assertFalse(observe(journal, "--from-pod", "shop/batch-7q").isEmpty());
            }
        } finally {
            api.destroy();
        }
    }

    /** Sends one drop at a time from {@code srcPort} until an event from it matches (bounded); returns its events. */
    private List<JsonNode> sendUntil(Path journal, int srcPort, java.util.function.Predicate<JsonNode> match) throws Exception {
        for (int i = 0; i < 150; i++) {
            lab.sendUdp(client, server.ip4(), PORT, srcPort, 1);
            Thread.sleep(200);
            List<JsonNode> events = observe(journal, "--from-port", "" + srcPort);
            if (!events.isEmpty() && match.test(events.getLast())) return events;
        }
        throw new AssertionError("no matching drop from port " + srcPort + ": " + observe(journal, "--from-port", "" + srcPort));
    }

    private static Pod createPod(KubernetesClient admin, String name, Map<String, String> labels, String ownerKind,
                                 String ownerName, String ownerUid, String ip) {
        PodBuilder b = new PodBuilder().withNewMetadata().withNamespace("shop").withName(name).withLabels(labels).endMetadata()
                .withNewSpec().withNodeName("n1").addNewContainer().withName("c").withImage("busybox").endContainer().endSpec();
        if (ownerKind != null) {
            b.editMetadata().addNewOwnerReference().withApiVersion("apps/v1").withKind(ownerKind).withName(ownerName)
                    .withUid(ownerUid).withController(true).endOwnerReference().endMetadata();
        }
        Pod created = admin.pods().inNamespace("shop").resource(b.build()).create();
        created.setStatus(new PodStatusBuilder().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().build());
        return admin.pods().inNamespace("shop").resource(created).updateStatus();
    }
}
