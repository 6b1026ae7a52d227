package dev.droptrace.agent.identity;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The informers against fabric8's mock API server in CRUD mode. */
class KubernetesIdentitySourceTest {
    private final List<AutoCloseable> closers = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closers.size() - 1; i >= 0; i--) {
            closers.get(i).close();
        }
    }

    /**
     * A CRUD mock server whose next pod watch, when armed, answers as the API server does for a
     * resource version compacted away: an ERROR watch event carrying a 410 Expired status.
     */
    static final class Dispatcher extends KubernetesCrudDispatcher {
        final AtomicBoolean podWatchGone = new AtomicBoolean();

        @Override
        public MockResponse handleWatch(String path) {
            if (path.contains("/pods") && podWatchGone.compareAndSet(true, false)) {
                return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
                    @Override
                    public void onOpen(WebSocket ws, Response response) {
                        ws.send("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                + "\"status\":\"Failure\",\"reason\":\"Expired\",\"code\":410,"
                                + "\"message\":\"too old resource version\"}}");
                        ws.close(1000, "gone");
                    }
                });
            }
            return super.handleWatch(path);
        }
    }

    private KubernetesMockServer server(Dispatcher d, int port) {
        KubernetesMockServer s = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), d, false);
        if (port == 0) {
            s.init();
        } else {
            s.init(InetAddress.getLoopbackAddress(), port);
        }
        closers.add(s::destroy);
        return s;
    }

    /** A client that retries fast, for the source under test. */
    private KubernetesClient client(int port) {
        Config c = new ConfigBuilder(Config.empty()).withMasterUrl("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":" + port)
                .withRequestRetryBackoffLimit(0).withWatchReconnectInterval(100).withRequestTimeout(2000)
                .withConnectionTimeout(1000).build();
        KubernetesClient k = new KubernetesClientBuilder().withConfig(c).build();
        closers.add(k);
        return k;
    }

    private IdentityCache cache() {
        IdentityCache c = IdentityCache.create();
        closers.add(c);
        return c;
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private static Identity at(IdentityCache cache, String ip) {
        return cache.identity(ip.contains(":") ? lookup6(cache, ip) : cache.lookupIpv4(IdentityCache.ipv4(ip)));
    }

    private static int lookup6(IdentityCache cache, String ip) {
        long[] a = IdentityCache.ipv6(ip);
        return cache.lookupIpv6(a[0], a[1]);
    }

    private static String podAt(IdentityCache cache, String ip) {
        Identity i = at(cache, ip);
        return i == null ? null : i.pod();
    }

    private static Pod createPod(KubernetesClient admin, String ns, String name, Map<String, String> labels, String ownerKind,
                                 String ownerName, String ownerUid, String... ips) {
        PodBuilder b = new PodBuilder().withNewMetadata().withNamespace(ns).withName(name).withLabels(labels).endMetadata()
                .withNewSpec().withNodeName("n1").addNewContainer().withName("c").withImage("busybox").endContainer().endSpec();
        if (ownerKind != null) {
            b.editMetadata().addNewOwnerReference().withApiVersion("apps/v1").withKind(ownerKind).withName(ownerName)
                    .withUid(ownerUid).withController(true).endOwnerReference().endMetadata();
        }
        Pod created = admin.pods().inNamespace(ns).resource(b.build()).create();
        var status = new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Running").withPodIP(ips[0]);
        for (String ip : ips) {
            status.addNewPodIP().withIp(ip).endPodIP();
        }
        created.setStatus(status.build());
        return admin.pods().inNamespace(ns).resource(created).updateStatus();
    }

    @Test
    void resolvesPodsWorkloadsServicesAndNodes() throws Exception {
        Dispatcher d = new Dispatcher();
        KubernetesMockServer server = server(d, 0);
        KubernetesClient admin = server.createClient();
        closers.add(admin);
        admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("shop").addToLabels("team", "a").endMetadata().build()).create();

        var rsApi = admin.apps().replicaSets().inNamespace("shop").resource(new ReplicaSetBuilder().withNewMetadata()
                .withName("api-abc").withNamespace("shop").addNewOwnerReference().withApiVersion("apps/v1").withKind("Deployment")
                .withName("api").withUid("dep-api").withController(true).endOwnerReference().endMetadata().build()).create();
        var job = admin.batch().v1().jobs().inNamespace("shop").resource(new JobBuilder().withNewMetadata()
                .withName("backup-29000000").withNamespace("shop").addNewOwnerReference().withApiVersion("batch/v1")
                .withKind("CronJob").withName("backup").withUid("cj-backup").withController(true).endOwnerReference()
                .endMetadata().build()).create();

        createPod(admin, "shop", "web-5d8f9c-x2x", Map.of("app", "web", "pod-template-hash", "5d8f9c"), "ReplicaSet",
                "web-5d8f9c", "rs-web", "10.42.0.1", "fd00:42::1");
        createPod(admin, "shop", "api-abc-q1", Map.of("app", "api"), "ReplicaSet", "api-abc", rsApi.getMetadata().getUid(), "10.42.0.2");
        createPod(admin, "shop", "backup-29000000-zz", Map.of(), "Job", "backup-29000000", job.getMetadata().getUid(), "10.42.0.3");
        createPod(admin, "shop", "db-0", Map.of("app", "db"), "StatefulSet", "db", "sts-db", "10.42.0.4");
        createPod(admin, "shop", "agent-7x", Map.of(), "DaemonSet", "agent", "ds-agent", "10.42.0.5");
        createPod(admin, "shop", "bare", Map.of("run", "bare"), null, null, null, "10.42.0.6");
        admin.services().inNamespace("shop").resource(new ServiceBuilder().withNewMetadata().withName("api").withNamespace("shop")
                .endMetadata().withNewSpec().withClusterIP("10.96.0.10").endSpec().build()).create();
        var node = admin.nodes().resource(new NodeBuilder().withNewMetadata().withName("n1").endMetadata().build()).create();
        node.setStatus(new io.fabric8.kubernetes.api.model.NodeStatusBuilder().addNewAddress().withType("InternalIP")
                .withAddress("192.168.5.10").endAddress().addNewAddress().withType("Hostname").withAddress("n1").endAddress().build());
        admin.nodes().resource(node).updateStatus();

        IdentityCache cache = cache();
        KubernetesIdentitySource source = KubernetesIdentitySource.start(cache, client(server.getPort()), "n1", false);
        source.synced().get(30, TimeUnit.SECONDS);
        await("pods, service and node", () -> at(cache, "10.42.0.6") != null && at(cache, "10.96.0.10") != null
                && at(cache, "192.168.5.10") != null && cache.complete());
        await("workloads from the owner chains", () -> "CronJob/backup".equals(at(cache, "10.42.0.3").workload())
                && "Deployment/api".equals(at(cache, "10.42.0.2").workload()));

        Identity web = at(cache, "10.42.0.1");
        assertEquals("shop", web.namespace());
        assertEquals("web-5d8f9c-x2x", web.pod());
        assertEquals("Deployment/web", web.workload());
        assertEquals("web", web.labels().get("app"));
        assertEquals("n1", web.node());
        assertEquals(web, at(cache, "fd00:42::1"));
        assertEquals("Deployment/api", at(cache, "10.42.0.2").workload());
        assertEquals("CronJob/backup", at(cache, "10.42.0.3").workload());
        assertEquals("StatefulSet/db", at(cache, "10.42.0.4").workload());
        assertEquals("DaemonSet/agent", at(cache, "10.42.0.5").workload());
        assertNull(at(cache, "10.42.0.6").workload());
        Identity svc = at(cache, "10.96.0.10");
        assertEquals("api", svc.service());
        assertEquals("shop", svc.namespace());
        assertNull(svc.pod());
        Identity host = at(cache, "192.168.5.10");
        assertEquals("host", host.reserved());
        assertEquals("n1", host.node());
        assertEquals(IdentityCache.WORLD, cache.resolveIpv4(IdentityCache.ipv4("1.1.1.1")));
        await("namespace labels", () -> source.namespaceLabels("shop") != null);
        assertEquals("a", source.namespaceLabels("shop").get("team"));

        // deletion: the address becomes unknown (world), the old id still names the pod
        int webId = cache.lookupIpv4(IdentityCache.ipv4("10.42.0.1"));
        admin.pods().inNamespace("shop").withName("web-5d8f9c-x2x").delete();
        await("web deleted", () -> cache.lookupIpv4(IdentityCache.ipv4("10.42.0.1")) == 0);
        assertEquals(IdentityCache.WORLD, cache.resolveIpv4(IdentityCache.ipv4("10.42.0.1")));
        assertEquals("web-5d8f9c-x2x", cache.identity(webId).pod());

        // reuse after delete: a new pod gets the address under a new id
        createPod(admin, "shop", "web-5d8f9c-y7y", Map.of("app", "web", "pod-template-hash", "5d8f9c"), "ReplicaSet",
                "web-5d8f9c", "rs-web", "10.42.0.1");
        await("reused address", () -> "web-5d8f9c-y7y".equals(podAt(cache, "10.42.0.1")));
        assertNotEquals(webId, cache.lookupIpv4(IdentityCache.ipv4("10.42.0.1")));
        assertEquals("web-5d8f9c-x2x", cache.identity(webId).pod());

        // reuse before delete: the new pod appears while the old one still lists the address
        int dbId = cache.lookupIpv4(IdentityCache.ipv4("10.42.0.4"));
        createPod(admin, "shop", "db-1", Map.of("app", "db"), "StatefulSet", "db", "sts-db", "10.42.0.4");
        await("db-1 takes the address", () -> "db-1".equals(podAt(cache, "10.42.0.4")));
        admin.pods().inNamespace("shop").withName("db-0").delete();
        await("db-0 gone", () -> cache.flush().join() == null && podAt(cache, "10.42.0.4") != null);
        Thread.sleep(300);
        cache.flush().get(10, TimeUnit.SECONDS);
        assertEquals("db-1", podAt(cache, "10.42.0.4"), "db-0's delete must not remove db-1's address");
        assertEquals("db-0", cache.identity(dbId).pod());

        // a finished pod gives its address up
        Pod done = admin.pods().inNamespace("shop").withName("bare").get();
        done.getStatus().setPhase("Succeeded");
        admin.pods().inNamespace("shop").resource(done).updateStatus();
        await("finished pod releases its IP", () -> cache.lookupIpv4(IdentityCache.ipv4("10.42.0.6")) == 0);

        // a service deleted
        admin.services().inNamespace("shop").withName("api").delete();
        await("service deleted", () -> cache.lookupIpv4(IdentityCache.ipv4("10.96.0.10")) == 0);
    }

    @Test
    void apiDownAtStartNamesAppearOnceItIsBack() throws Exception {
        int port = freePort();
        IdentityCache cache = cache();
        KubernetesIdentitySource source = KubernetesIdentitySource.start(cache, client(port), "n1", false);
        // start returned at once; capture would go on without names
        Thread.sleep(1500);
        assertFalse(cache.complete());
        assertTrue(source.apiErrors() > 0, "errors were reported and retried");
        assertEquals(0, cache.resolveIpv4(IdentityCache.ipv4("10.43.0.1")), "unknown, not world, while the API is down");

        KubernetesMockServer server = server(new Dispatcher(), port);
        KubernetesClient admin = server.createClient();
        closers.add(admin);
        createPod(admin, "late", "p1", Map.of("app", "late"), null, null, null, "10.43.0.1");
        source.synced().get(60, TimeUnit.SECONDS);
        assertTrue(cache.complete(), "complete once synced");
        // the informer may have listed between the pod's create and its status update: wait for the IP
        await("name after the API came back", () -> "p1".equals(podAt(cache, "10.43.0.1")));
    }

    @Test
    void relistAfterWatchGoneRemovesPodsThatDisappeared() throws Exception {
        int port = freePort();
        KubernetesMockServer first = server(new Dispatcher(), port);
        KubernetesClient admin1 = first.createClient();
        closers.add(admin1);
        createPod(admin1, "r", "stays", Map.of(), null, null, null, "10.44.0.1");
        createPod(admin1, "r", "vanishes", Map.of(), null, null, null, "10.44.0.2");

        IdentityCache cache = cache();
        KubernetesIdentitySource source = KubernetesIdentitySource.start(cache, client(port), "n1", false);
        source.synced().get(30, TimeUnit.SECONDS);
        await("both pods", () -> podAt(cache, "10.44.0.1") != null && podAt(cache, "10.44.0.2") != null);

        // the API server goes away; while it is gone "vanishes" is deleted and the history compacted
        first.destroy();
        Dispatcher d2 = new Dispatcher();
        d2.podWatchGone.set(true);
        KubernetesMockServer second = server(d2, port);
        KubernetesClient admin2 = second.createClient();
        closers.add(admin2);
        createPod(admin2, "r", "stays", Map.of(), null, null, null, "10.44.0.1");

        await("relist drops the vanished pod", () -> cache.lookupIpv4(IdentityCache.ipv4("10.44.0.2")) == 0);
        await("the other pod remains", () -> "stays".equals(podAt(cache, "10.44.0.1")));
        assertFalse(d2.podWatchGone.get(), "the 410 was served, so the informer relisted");
    }
}
