package dev.droptrace.agent.source.cilium;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CiliumIdentity and CiliumEndpoint informers against fabric8's mock API server in CRUD mode. */
@EnableKubernetesMockClient(crud = true)
class CiliumIdentitySourceTest {
    KubernetesMockServer server;
    KubernetesClient client;

    @TempDir
    Path tmp;

    private final List<AutoCloseable> closers = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closers.size() - 1; i >= 0; i--) {
            closers.get(i).close();
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

    private GenericKubernetesResource resource(String json) {
        return client.getKubernetesSerialization().unmarshal(json, GenericKubernetesResource.class);
    }

    private void create(ResourceDefinitionContext ctx, String json) {
        GenericKubernetesResource r = resource(json);
        var ops = client.genericKubernetesResources(ctx);
        if (r.getMetadata().getNamespace() != null) {
            ops.inNamespace(r.getMetadata().getNamespace()).resource(r).create();
        } else {
            ops.resource(r).create();
        }
    }

    static String identity(long id, String ns, String app) {
        return "{\"apiVersion\":\"cilium.io/v2\",\"kind\":\"CiliumIdentity\",\"metadata\":{\"name\":\"" + id
                + "\",\"labels\":{\"io.kubernetes.pod.namespace\":\"" + ns + "\"}},\"security-labels\":{\"k8s:app\":\"" + app
                + "\",\"k8s:io.kubernetes.pod.namespace\":\"" + ns + "\",\"k8s:io.cilium.k8s.policy.serviceaccount\":\"default\"}}";
    }

    static String endpoint(String ns, String pod, long endpointId, long identity, String app, String... ips) {
        StringBuilder addressing = new StringBuilder();
        for (String ip : ips) {
            if (addressing.length() > 0) addressing.append(',');
            addressing.append(ip.contains(":") ? "{\"ipv6\":\"" : "{\"ipv4\":\"").append(ip).append("\"}");
        }
        return "{\"apiVersion\":\"cilium.io/v2\",\"kind\":\"CiliumEndpoint\",\"metadata\":{\"name\":\"" + pod + "\",\"namespace\":\""
                + ns + "\"},\"status\":{\"id\":" + endpointId + ",\"state\":\"ready\",\"identity\":{\"id\":" + identity
                + ",\"labels\":[\"k8s:app=" + app + "\",\"k8s:io.kubernetes.pod.namespace=" + ns + "\"]},"
                + "\"networking\":{\"addressing\":[" + addressing + "],\"node\":\"192.168.1.1\"}}}";
    }

    @Test
    void identitiesAndEndpointsFromTheApiNameThePodsOfADrop() throws Exception {
        create(CiliumIdentitySource.CILIUM_IDENTITY, identity(5678, "client-ns", "client"));
        create(CiliumIdentitySource.CILIUM_IDENTITY, identity(51234, "srv-ns", "server"));
        create(CiliumIdentitySource.CILIUM_ENDPOINT, endpoint("client-ns", "client-7d9", 77, 5678, "client", "10.0.1.5"));
        create(CiliumIdentitySource.CILIUM_ENDPOINT, endpoint("srv-ns", "server-0", 1234, 51234, "server", "10.0.2.7", "fd00::2"));
        // objects the source must skip without failing
        create(CiliumIdentitySource.CILIUM_IDENTITY, "{\"apiVersion\":\"cilium.io/v2\",\"kind\":\"CiliumIdentity\","
                + "\"metadata\":{\"name\":\"not-a-number\"}}");
        create(CiliumIdentitySource.CILIUM_ENDPOINT, "{\"apiVersion\":\"cilium.io/v2\",\"kind\":\"CiliumEndpoint\","
                + "\"metadata\":{\"name\":\"no-status\",\"namespace\":\"x\"}}");

        CiliumIdentityTable table = new CiliumIdentityTable();
        closers.add(table);
        CiliumIdentitySource source = CiliumIdentitySource.start(client, table, false);
        closers.add(source);
        source.synced().get(30, TimeUnit.SECONDS);
        assertFalse(source.identitiesAbsent());
        assertFalse(source.endpointsAbsent());

        CiliumIdentityTable.Snapshot s = table.snapshot();
        assertEquals(2, s.identityCount());
        assertEquals(3, s.endpointCount());
        assertEquals(1, table.ignored());
        CiliumIdentityTable.SecurityIdentity client5678 = s.identity(5678);
        assertEquals("client-ns", client5678.namespace());
        assertEquals(java.util.Map.of("app", "client"), client5678.labels());
        CiliumIdentityTable.Endpoint server = s.endpointIpv6(0xfd00000000000000L, 2, 51234);
        assertNotNull(server);
        assertEquals("server-0", server.pod());
        assertEquals(1234, server.endpointId());
        assertEquals("192.168.1.1", server.nodeIp());
        assertNull(s.endpointIpv4(0x0a000105, 51234), "10.0.1.5 is the client, identity 5678");

        try (TranslatorHarness h = new TranslatorHarness(tmp.resolve("j1"), "n1", null, table, TranslatorHarness.options(0, false))) {
            h.translate(CiliumPayloadTranslatorTest.DROP, 0);
            h.flush();
            JsonNode e = h.only();
            assertEquals(TranslatorHarness.JSON.readTree("{\"namespace\":\"client-ns\",\"pod\":\"client-7d9\",\"labels\":{\"app\":\"client\"}}"),
                    e.get("src"));
            assertEquals(TranslatorHarness.JSON.readTree("{\"namespace\":\"srv-ns\",\"pod\":\"server-0\",\"labels\":{\"app\":\"server\"}}"),
                    e.get("dst"));
        }

        // the client pod goes away: its identity still gives namespace and labels
        client.genericKubernetesResources(CiliumIdentitySource.CILIUM_ENDPOINT).inNamespace("client-ns").withName("client-7d9").delete();
        await("the endpoint's removal", () -> table.snapshot().endpointIpv4(0x0a000105, 5678) == null);
        // a new endpoint appears
        create(CiliumIdentitySource.CILIUM_ENDPOINT, endpoint("srv-ns", "server-1", 1240, 51234, "server", "10.0.2.8"));
        await("the new endpoint", () -> table.snapshot().endpointIpv4(0x0a000208, 51234) != null);
        try (TranslatorHarness h = new TranslatorHarness(tmp.resolve("j2"), "n1", null, table, TranslatorHarness.options(0, false))) {
            h.translate(CiliumPayloadTranslatorTest.DROP, 0);
            h.flush();
            assertEquals(TranslatorHarness.JSON.readTree("{\"namespace\":\"client-ns\",\"labels\":{\"app\":\"client\"}}"),
                    h.only().get("src"));
        }
        assertEquals(0, source.apiErrors());
    }

    /** A CRUD server that answers 404 for everything under cilium.io, as an API server without Cilium's CRDs. */
    static final class NoCiliumDispatcher extends KubernetesCrudDispatcher {
        @Override
        public MockResponse handleGet(String path) {
            if (path.contains("cilium.io")) {
                return new MockResponse().setResponseCode(404).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                        + "\"message\":\"the server could not find the requested resource\",\"reason\":\"NotFound\",\"code\":404}");
            }
            return super.handleGet(path);
        }

        @Override
        public MockResponse handleWatch(String path) {
            if (path.contains("cilium.io")) {
                return handleGet(path);
            }
            return super.handleWatch(path);
        }
    }

    @Test
    void absentCrdsDoNotFailAndLeaveTheTableEmpty() throws Exception {
        KubernetesMockServer s = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), new NoCiliumDispatcher(), false);
        s.init();
        closers.add(s::destroy);
        Config c = new ConfigBuilder(Config.empty()).withMasterUrl("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":" + s.getPort())
                .withRequestRetryBackoffLimit(0).withWatchReconnectInterval(100).withRequestTimeout(2000).withConnectionTimeout(1000).build();
        KubernetesClient k = new KubernetesClientBuilder().withConfig(c).build();
        closers.add(k);
        CiliumIdentityTable table = new CiliumIdentityTable();
        closers.add(table);
        CiliumIdentitySource source = CiliumIdentitySource.start(k, table, false);
        closers.add(source);
        source.synced().get(30, TimeUnit.SECONDS);
        assertTrue(source.identitiesAbsent());
        assertTrue(source.endpointsAbsent());
        assertEquals(0, table.snapshot().identityCount());
        assertEquals(0, table.snapshot().endpointCount());
    }
}
