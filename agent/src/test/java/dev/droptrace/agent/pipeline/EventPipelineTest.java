package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.journal.DictionaryKind;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.JournalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventPipelineTest {
    private static final int NETFILTER_DROP = 12;

    /** A test payload: u8 action (1 deny, 2 allow), u16 destination port; anything else is bad input. */
    private static final class FakeTranslator implements PayloadTranslator {
        int bad;

        @Override
        public void translate(MemorySegment data, long offset, int length, int aux, EventSink sink) {
            if (length != 3) {
                bad++;
                return;
            }
            int action = data.get(ValueLayout.JAVA_BYTE, offset);
            if (action != 1) return; // allowed: counted, not journaled
            DropRecord r = sink.begin();
            r.source(DropSource.CALICO).family(4).protocol(17).srcIpv4(0x0ae30101).dstIpv4(0x0ae30201).srcPort(5000)
                    .dstPort(Short.toUnsignedInt(data.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset + 1))).reasonCode(1)
                    .direction(1).cpu(aux);
            sink.emit(true);
        }
    }

    private static MemorySegment payload(int action, int port) {
        MemorySegment s = MemorySegment.ofArray(new byte[3]);
        s.set(ValueLayout.JAVA_BYTE, 0, (byte) action);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 1, (short) port);
        return s;
    }

    private static MemorySegment kernelRecord(int port, int count) {
        MemorySegment s = MemorySegment.ofArray(new byte[DropRecord.SIZE]);
        new DropRecord().wrap(s, 0).clear().source(DropSource.KERNEL).family(4).protocol(17).srcIpv4(0x0ae30101)
                .dstIpv4(0x0ae30201).srcPort(5000).dstPort(port).reasonCode(NETFILTER_DROP).netns(123).ifindex(9)
                .count(count);
        return s;
    }

    private static List<DropView> read(Path dir) {
        List<DropView> out = new ArrayList<>();
        try (JournalReader r = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (r.next(v)) {
                DropView copy = new DropView();
                copy.load(v.record().segment(), v.record().offset());
                copy.kernelReasonName(v.kernelReason()).policyJson(v.policyJson());
                out.add(copy);
            }
        }
        return out;
    }

    @Test
    void payloadsBecomeEventsWithoutMerging(@TempDir Path dir) {
        FakeTranslator t = new FakeTranslator();
        try (DropJournal journal = DropJournal.open(dir)) {
            EventPipeline p = new EventPipeline(journal, new PayloadQueue(1 << 16));
            p.translator(EventPipeline.TYPE_NFLOG, t);
            assertTrue(p.queue().offer(EventPipeline.TYPE_NFLOG, payload(1, 80), 0, 3, 2));
            assertTrue(p.queue().offer(EventPipeline.TYPE_NFLOG, payload(2, 81), 0, 3, 2));
            assertTrue(p.queue().offer(EventPipeline.TYPE_NFLOG, MemorySegment.ofArray(new byte[7]), 0, 7, 2));
            p.poll();
            EventPipeline.Counters c = p.counters();
            assertEquals(3, c.nflogPayloads());
            assertEquals(1, c.nflogEvents());
            assertEquals(2, c.nflogIgnored());
            assertEquals(1, c.events());
            assertEquals(1, t.bad);
            assertFalse(c.merging());
        }
        List<DropView> events = read(dir);
        assertEquals(1, events.size());
        assertEquals(80, events.get(0).dstPort());
        assertEquals(2, events.get(0).cpu(), "the aux value reaches the translator");
        assertFalse(events.get(0).kernelSeen());
    }

    @Test
    void fullQueueRejectsAndCounts(@TempDir Path dir) {
        try (DropJournal journal = DropJournal.open(dir)) {
            EventPipeline p = new EventPipeline(journal, new PayloadQueue(1024));
            int accepted = 0;
            for (int i = 0; i < 200; i++) if (p.queue().offer(EventPipeline.TYPE_NFLOG, payload(1, i), 0, 3, 0)) accepted++;
            assertTrue(accepted > 0 && accepted < 200);
            assertEquals(200 - accepted, p.counters().queueLost());
        }
    }

    @Test
    void mergesWithKernelRecordAndAttributesTheRest(@TempDir Path dir) {
        try (DropJournal journal = DropJournal.open(dir)) {
            journal.defineReason(DropSource.KERNEL, NETFILTER_DROP, "NETFILTER_DROP");
            int policy = journal.intern(DictionaryKind.POLICY, "{\"name\":\"default-deny\",\"action\":\"deny\"}");
            EventPipeline p = new EventPipeline(journal, new PayloadQueue(1 << 16));
            p.translator(EventPipeline.TYPE_NFLOG, new FakeTranslator());
            PacketMerger m = p.enableMerge(0); // no wait: whatever is unmatched at the next poll goes out alone
            m.mergeKernelReason(NETFILTER_DROP);
            p.attributor(r -> { if (r.dstPort() == 90) r.policyId(policy); });
            p.onKernel(kernelRecord(80, 1), 0);
            p.queue().offer(EventPipeline.TYPE_NFLOG, payload(1, 80), 0, 3, 0);
            p.onKernel(kernelRecord(90, 4), 0); // a kernel drop no NFLOG record explains
            p.poll();
            p.flushAll();
            EventPipeline.Counters c = p.counters();
            assertEquals(1, c.merged());
            assertEquals(1, c.kernelAlone());
            assertEquals(0, c.cniAlone());
            assertEquals(2, c.events());
            assertEquals(5, c.drops());
        }
        List<DropView> events = read(dir);
        assertEquals(2, events.size());
        DropView merged = events.get(0);
        assertEquals(DropSource.CALICO, merged.source());
        assertTrue(merged.kernelSeen());
        assertEquals("NETFILTER_DROP", merged.kernelReason());
        assertEquals(123, merged.netns());
        assertNull(merged.policyJson());
        DropView alone = events.get(1);
        assertEquals(DropSource.KERNEL, alone.source());
        assertEquals(4, alone.count());
        assertEquals("{\"name\":\"default-deny\",\"action\":\"deny\"}", alone.policyJson());
    }
}
