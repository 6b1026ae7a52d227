package dev.droptrace.agent.source.kernel;

import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.JournalReader;
import dev.droptrace.agent.lab.NetnsLab;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The fallback for kernels without BTF tracepoints: the classic skb/kfree_skb tracepoint, same records. */
@Tag("kernel")
class ClassicTracepointTest {
    @TempDir Path dir;

    @Test
    void classicTracepointJournalsTheSameDrops() throws Exception {
        boolean root = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .anyMatch(l -> l.startsWith("Uid:") && l.substring(4).strip().split("\\s+")[1].equals("0"));
        Assumptions.assumeTrue(root, "kernel tests need root; skipped");
        KernelPreflight.problem().ifPresent(p -> Assumptions.abort("skipped: " + p));
        try (NetnsLab lab = NetnsLab.create(212); DropJournal journal = DropJournal.open(dir)) {
            NetnsLab.Pod a = lab.addPod("a"), b = lab.addPod("b");
            lab.link(a, b, "eth0", "eth0");
            lab.iptables(b, "-A", "INPUT", "-p", "udp", "--dport", "9997", "-j", "DROP");
            long netns = lab.netnsInode(b);
            try (KernelDropSource source = KernelDropSource.open(journal, "classic", true)) {
                assertEquals("tracepoint/skb/kfree_skb", source.attachedAs());
                source.start();
                lab.sendUdp(a, b.ip4(), 9997, 42000, 25);
                source.stop(); // detaches, then journals what is left in the ring
                assertEquals(0, source.counters().lost());
            }
            long counter = lab.ruleCounter(b, false, "INPUT", 1);
            assertEquals(25, counter);
            long seen = 0;
            journal.handOffToCurrentThread();
            try (JournalReader r = JournalReader.open(dir)) {
                DropView v = new DropView();
                while (r.next(v)) {
                    if (v.netns() != netns || v.dstPort() != 9997) continue;
                    assertEquals("NETFILTER_DROP", v.reason());
                    assertEquals(a.ip4(), v.srcIp());
                    assertEquals(42000, v.srcPort());
                    seen += v.count();
                }
            }
            assertEquals(counter, seen, "classic tracepoint: journal = iptables counter");
        }
    }
}
