package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PacketMergerTest {
    private static final int TC_INGRESS = 73;
    private static final long WINDOW = 1_000;

    private final List<byte[]> emitted = new ArrayList<>();
    private final PacketMerger merger = new PacketMerger(8, WINDOW,
            (seg, off) -> emitted.add(seg.asSlice(off, DropRecord.SIZE).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));

    private static MemorySegment kernel(int dport, int count) {
        MemorySegment s = MemorySegment.ofArray(new byte[DropRecord.SIZE]);
        new DropRecord().wrap(s, 0).clear().source(DropSource.KERNEL).family(4).protocol(17).srcIpv4(0x0ad20101)
                .dstIpv4(0x0ad20201).srcPort(40000).dstPort(dport).reasonCode(TC_INGRESS).netns(4026531840L)
                .ifindex(7).interfaceId(3).locationId(4).location(0xffffffff81000000L).ktimeNs(100).wallNs(200)
                .count(count).srcIdentityId(5).dstIdentityId(6);
        return s;
    }

    private static MemorySegment cilium(int dport) {
        MemorySegment s = MemorySegment.ofArray(new byte[DropRecord.SIZE]);
        new DropRecord().wrap(s, 0).clear().source(DropSource.CILIUM).family(4).protocol(17).srcIpv4(0x0ad20101)
                .dstIpv4(0x0ad20201).srcPort(40000).dstPort(dport).reasonCode(133).policyId(9).detailId(10)
                .dstIdentityId(11).direction(1);
        return s;
    }

    private DropRecord at(int i) {
        return new DropRecord().wrap(MemorySegment.ofArray(emitted.get(i)), 0);
    }

    @Test
    void kernelFirstThenCniIsOneMergedEvent() {
        merger.onKernel(kernel(80, 1), 0, 0);
        assertEquals(0, emitted.size(), "the kernel record waits");
        merger.onCni(cilium(80), 0, 10);
        assertEquals(1, emitted.size());
        DropRecord r = at(0);
        assertEquals(DropSource.CILIUM.code(), r.source());
        assertEquals(133, r.reasonCode());
        assertEquals(DropRecord.FLAG_KERNEL_SEEN, r.flags());
        assertEquals(TC_INGRESS, r.kernelReasonCode());
        assertEquals(4026531840L, r.netns());
        assertEquals(7, r.ifindex());
        assertEquals(4, r.locationId());
        assertEquals(200, r.wallNs());
        assertEquals(9, r.policyId());
        assertEquals(10, r.detailId());
        assertEquals(5, r.srcIdentityId(), "kernel's identity where the CNI has none");
        assertEquals(11, r.dstIdentityId(), "the CNI's identity wins");
        assertEquals(1, r.count());
        merger.expire(1_000_000);
        assertEquals(1, emitted.size(), "nothing left to expire");
        assertEquals(0, merger.pending());
    }

    @Test
    void cniFirstThenKernelIsOneMergedEvent() {
        merger.onCni(cilium(80), 0, 0);
        merger.expire(WINDOW - 1);
        assertEquals(0, emitted.size());
        merger.onKernel(kernel(80, 1), 0, WINDOW - 1);
        assertEquals(1, emitted.size());
        assertEquals(DropRecord.FLAG_KERNEL_SEEN, at(0).flags());
        assertEquals(0, merger.pending());
    }

    @Test
    void aggregatedKernelCountIsCreditForManyCniDrops() {
        merger.onKernel(kernel(80, 5), 0, 0);
        for (int i = 0; i < 3; i++) merger.onCni(cilium(80), 0, 1);
        assertEquals(3, emitted.size());
        merger.expire(WINDOW);
        assertEquals(4, emitted.size());
        DropRecord rest = at(3);
        assertEquals(DropSource.KERNEL.code(), rest.source());
        assertEquals(2, rest.count(), "the unused credit keeps the kernel's exact count");
        assertEquals(0, rest.flags());
    }

    @Test
    void differentPacketsDoNotMergeAndExpireAlone() {
        merger.onKernel(kernel(80, 1), 0, 0);
        merger.onCni(cilium(81), 0, 0);
        assertEquals(0, emitted.size());
        merger.expire(WINDOW);
        assertEquals(2, emitted.size());
        assertEquals(DropSource.KERNEL.code(), at(0).source());
        assertEquals(DropSource.CILIUM.code(), at(1).source());
        assertEquals(0, at(1).flags());
        assertEquals(1, merger.cniAlone());
        assertEquals(1, merger.kernelAlone());
    }

    @Test
    void fullRingEmitsTheOldestEarly() {
        for (int i = 0; i < 10; i++) merger.onCni(cilium(1000 + i), 0, i);
        assertEquals(2, emitted.size());
        assertEquals(2, merger.evictedEarly());
        assertEquals(1000, at(0).dstPort());
        merger.flushAll();
        assertEquals(10, emitted.size());
        assertEquals(0, merger.pending());
    }

    /** Random interleavings: every kernel drop and every CNI drop is accounted for exactly once. */
    @Test
    void countsAreConservedUnderRandomInterleavings() {
        Random rnd = new Random(42);
        for (int round = 0; round < 200; round++) {
            emitted.clear();
            PacketMerger m = new PacketMerger(1 + rnd.nextInt(16), WINDOW,
                    (seg, off) -> emitted.add(seg.asSlice(off, DropRecord.SIZE).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
            long kernelDrops = 0, cniDrops = 0, now = 0;
            for (int i = 0; i < 100; i++) {
                now += rnd.nextInt(300);
                int port = 80 + rnd.nextInt(3);
                if (rnd.nextBoolean()) {
                    int n = 1 + rnd.nextInt(4);
                    kernelDrops += n;
                    m.onKernel(kernel(port, n), 0, now);
                } else {
                    cniDrops++;
                    m.onCni(cilium(port), 0, now);
                }
                if (rnd.nextInt(4) == 0) m.expire(now);
            }
            m.flushAll();
            long mergedEvents = 0, kernelAloneDrops = 0, cniAlone = 0;
            for (int i = 0; i < emitted.size(); i++) {
                DropRecord r = at(i);
                if (r.source() == DropSource.KERNEL.code()) kernelAloneDrops += r.count();
                else if ((r.flags() & DropRecord.FLAG_KERNEL_SEEN) != 0) mergedEvents++;
                else cniAlone++;
            }
            assertEquals(kernelDrops, mergedEvents + kernelAloneDrops, "kernel drops, round " + round);
            assertEquals(cniDrops, mergedEvents + cniAlone, "CNI drops, round " + round);
            assertEquals(m.merged(), mergedEvents);
            assertTrue(m.pending() == 0);
        }
    }
}
