package dev.droptrace.agent.source.calico;

import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;

/** With the API server unreachable the source starts, stays empty, counts errors and closes cleanly. */
class KubernetesPolicySourceOfflineTest {
    @Test
    void unreachableApiIsNotFatal() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        KubernetesClient client = new KubernetesClientBuilder().withConfig(new ConfigBuilder()
                .withMasterUrl("http://127.0.0.1:" + port).withRequestRetryBackoffLimit(0).build()).build();
        KubernetesPolicySource source = KubernetesPolicySource.start(client, true);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (source.apiErrors() == 0 && System.nanoTime() < deadline) Thread.sleep(20);
            assertFalse(source.apiErrors() == 0, "the failures were counted");
            assertSame(KnownPolicies.EMPTY, source.get());
            assertFalse(source.synced().isDone());
            assertEquals(false, source.status().get("network_policies_synced"));
        } finally {
            source.close();
        }
    }
}
