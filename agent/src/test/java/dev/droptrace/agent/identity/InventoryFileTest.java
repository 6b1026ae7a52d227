package dev.droptrace.agent.identity;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InventoryFileTest {
    @TempDir
    Path dir;

    private Path write(String text) throws Exception {
        Path f = dir.resolve("inventory.yaml");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void loadsPodsAndFeedsTheCache() throws Exception {
        Path f = write("""
                node: demo-node          # optional
                pods:
                  - namespace: shop
                    name: frontend-7d4b9c-x2x
                    labels: {app: frontend, tier: web}
                    workload: Deployment/frontend
                    ips: [10.201.1.1, fd00:201:1::1]
                    netns: "4026539999"
                  - namespace: shop
                    name: db-0
                    ips: [10.201.2.1]
                """);
        InventoryFile inv = InventoryFile.load(f);
        assertEquals("demo-node", inv.node());
        assertEquals(2, inv.pods().size());
        try (IdentityCache cache = IdentityCache.create()) {
            inv.applyTo(cache);
            cache.flush().get(10, TimeUnit.SECONDS);
            Identity fe = cache.identity(cache.lookupIpv4(IdentityCache.ipv4("10.201.1.1")));
            assertEquals("shop", fe.namespace());
            assertEquals("frontend-7d4b9c-x2x", fe.pod());
            assertEquals("Deployment/frontend", fe.workload());
            assertEquals("frontend", fe.labels().get("app"));
            assertEquals("demo-node", fe.node());
            long[] six = IdentityCache.ipv6("fd00:201:1::1");
            assertEquals(fe, cache.identity(cache.lookupIpv6(six[0], six[1])));
            assertEquals(fe, cache.identity(cache.lookupNetns(4026539999L)));
            assertEquals("db-0", cache.identity(cache.lookupIpv4(IdentityCache.ipv4("10.201.2.1"))).pod());
            assertTrue(cache.complete(), "an inventory is a complete view: other addresses are world");
            assertEquals(IdentityCache.WORLD, cache.resolveIpv4(IdentityCache.ipv4("10.201.3.1")));
        }
    }

    @Test
    void namedNetnsResolvesThroughItsFile() throws Exception {
        // a file stands in for /var/run/netns/NAME: its inode is what stat reports
        Path ns = Files.createFile(dir.resolve("netns-file"));
        long inode = ((Number) Files.getAttribute(ns, "unix:ino")).longValue();
        assertEquals(inode, InventoryFile.netnsInode(ns.toString()));
        assertEquals(0, InventoryFile.netnsInode("dt-no-such-netns-" + System.nanoTime()));
        long self = InventoryFile.netnsInode("/proc/self/ns/net");
        assertTrue(self > 0, "inode of /proc/self/ns/net");
    }

    private void assertBad(String yaml, String... fragments) throws Exception {
        Path f = write(yaml);
        InventoryException e = assertThrows(InventoryException.class, () -> InventoryFile.load(f));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        for (String frag : fragments) {
            assertTrue(e.getMessage().contains(frag), "'" + frag + "' in: " + e.getMessage());
        }
    }

    @Test
    void badInputNamesTheFileAndTheField() throws Exception {
        assertBad("pods:\n  - namespace: a\n    name: b\n    ips: [10.1.1]\n", "pods[0].ips[0]", "'10.1.1' is not an IP address");
        assertBad("pods:\n  - name: b\n    ips: [10.1.1.1]\n", "pods[0].namespace", "missing");
        assertBad("pods:\n  - namespace: a\n    ips: [10.1.1.1]\n", "pods[0].name", "missing");
        assertBad("pods:\n  - namespace: a\n    name: b\n", "pods[0]", "needs 'ips' or 'netns'");
        assertBad("pods:\n  - namespace: a\n    name: b\n    ip: [10.1.1.1]\n", "pods[0].ip", "unknown field");
        assertBad("nodes: x\npods: []\n", "nodes", "unknown field");
        assertBad("pods: {a: b}\n", "pods", "expected a list");
        assertBad("node: n\n", "pods", "missing");
        assertBad("pods:\n  - namespace: a\n    name: b\n    ips: 10.1.1.1\n", "pods[0].ips", "expected a list");
        assertBad("pods:\n  - namespace: a\n    name: b\n    labels: [x]\n    ips: [10.1.1.1]\n", "pods[0].labels", "mapping");
        assertBad("pods:\n  - {namespace: a, name: b, ips: [10.0.0.1]}\n  - {namespace: a, name: b, ips: [10.0.0.2]}\n",
                "pods[1]", "duplicate pod a/b");
        assertBad("pods: [\n", "not valid YAML");
        assertBad("", "empty");
        Path missing = dir.resolve("nope.yaml");
        InventoryException e = assertThrows(InventoryException.class, () -> InventoryFile.load(missing));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("no such file"), e.getMessage());
    }
}
