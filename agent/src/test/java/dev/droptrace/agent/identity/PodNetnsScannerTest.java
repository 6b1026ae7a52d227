package dev.droptrace.agent.identity;

import dev.droptrace.agent.lab.NetnsLab;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/** Pod network namespaces found from /proc and the kubelet's cgroup paths. */
class PodNetnsScannerTest {
    @TempDir Path dir;

    private void process(Path proc, String pid, long netns, String cgroup) throws Exception {
        Path p = Files.createDirectories(proc.resolve(pid + "/ns"));
        Files.createSymbolicLink(p.resolve("net"), Path.of("net:[" + netns + "]"));
        Files.writeString(proc.resolve(pid + "/cgroup"), cgroup);
    }

    @Test
    void linksEachPodNamespaceOnceAndForgetsVanishedOnes() throws Exception {
        Path proc = dir.resolve("proc");
        process(proc, "1", 1000, "0::/init.scope\n");
        process(proc, "42", 2000, "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_1111_2222_3333_444455556666.slice/cri-containerd-abc.scope\n");
        process(proc, "43", 3000, "4:memory:/kubepods/burstable/pod9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff/0123456789ab\n");
        process(proc, "44", 2000, "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_1111_2222_3333_444455556666.slice/cri-containerd-def.scope\n");
        process(proc, "45", 4000, "0::/system.slice/sshd.service\n");
        process(proc, "46", 1000, "0::/kubepods.slice/kubepods-pod11111111_1111_1111_1111_111111111111.slice\n"); // hostNetwork pod
        Map<String, String> pods = Map.of(
                "0a1b2c3d-1111-2222-3333-444455556666", "shop/web-0",
                "9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff", "data/db-0",
                "11111111-1111-1111-1111-111111111111", "kube-system/proxy");
        try (IdentityCache cache = IdentityCache.create()) {
            cache.upsert("pod:a", Identity.pod("shop", "web-0", null, Map.of(), "n1"), java.util.List.of("10.1.0.1"), 1);
            cache.upsert("pod:b", Identity.pod("data", "db-0", null, Map.of(), "n1"), java.util.List.of("10.1.0.2"), 1);
            PodNetnsScanner scanner = new PodNetnsScanner(proc, cache, uid -> Optional.ofNullable(pods.get(uid)));
            scanner.scan();
            assertEquals(Map.of(2000L, "shop/web-0", 3000L, "data/db-0"), scanner.linked());
            cache.flush().get();
            assertEquals("web-0", cache.identity(cache.lookupNetns(2000)).pod());
            assertEquals("db-0", cache.identity(cache.lookupNetns(3000)).pod());
            assertEquals(0, cache.lookupNetns(4000));

            // the db pod's processes exit
            Files.delete(proc.resolve("43/ns/net"));
            Files.delete(proc.resolve("43/cgroup"));
            Files.delete(proc.resolve("43/ns"));
            Files.delete(proc.resolve("43"));
            scanner.scan();
            assertEquals(Map.of(2000L, "shop/web-0"), scanner.linked());
            cache.flush().get();
            assertEquals(0, cache.lookupNetns(3000));
        }
    }

    @Test
    @Tag("kernel")
    void findsARealProcessInANamespaceByItsCgroup() throws Exception {
        boolean root = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .anyMatch(l -> l.startsWith("Uid:") && l.substring(4).strip().split("\\s+")[1].equals("0"));
        Assumptions.assumeTrue(root, "needs root (namespaces, cgroups); skipped");
        Path cgroupRoot = Files.exists(Path.of("/sys/fs/cgroup/cgroup.procs")) ? Path.of("/sys/fs/cgroup")
                : Files.isDirectory(Path.of("/sys/fs/cgroup/pids")) ? Path.of("/sys/fs/cgroup/pids") : null;
        Assumptions.assumeTrue(cgroupRoot != null, "no writable cgroup hierarchy; skipped");

        KubernetesMockServer api = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        api.init();
        Process sleeper = null;
        Path cgroup = null;
        try (NetnsLab lab = NetnsLab.create(214); KubernetesClient admin = api.createClient();
             IdentityCache cache = IdentityCache.create()) {
            NetnsLab.Pod p = lab.addPod("sleeper");
            admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("jobs").endMetadata().build()).create();
            String uid = admin.pods().inNamespace("jobs").resource(new PodBuilder().withNewMetadata().withNamespace("jobs")
                    .withName("sleeper-0").endMetadata().withNewSpec().withNodeName("n1").addNewContainer().withName("c")
                    .withImage("busybox").endContainer().endSpec().build()).create().getMetadata().getUid();
            cgroup = Files.createDirectory(cgroupRoot.resolve("droptrace-test-pod" + uid.replace('-', '_')));
            sleeper = new ProcessBuilder("ip", "netns", "exec", p.netns(), "sleep", "120").start();
            Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(sleeper.pid()));

            KubernetesIdentitySource.start(cache, api.createClient(), "n1", true);
            long inode = lab.netnsInode(p);
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (cache.lookupNetns(inode) == 0 && System.nanoTime() < deadline) Thread.sleep(100);
            Identity id = cache.identity(cache.lookupNetns(inode));
            assertNotNull(id, "the sleeper's namespace is linked to its pod");
            assertEquals("jobs", id.namespace());
            assertEquals("sleeper-0", id.pod());
        } finally {
            if (sleeper != null) {
                sleeper.destroyForcibly().waitFor();
            }
            if (cgroup != null) Files.deleteIfExists(cgroup);
            api.destroy();
        }
    }
}
