package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.DropRecord;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decode path (classify, locate the packet, fill a DropRecord from the captured headers)
 * allocates nothing: under one byte per message over 100,000 messages. No timing assertions.
 */
class DecodeAllocationTest {
    private static final int N = 100_000;

    @Test
    void decodeAndFillDoNotAllocate() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[][] samples = {
            Samples.perfPad(Samples.concat(Samples.DROP_V3_HEADER, Samples.SYN_PACKET)),
            Samples.perfPad(Samples.concat(Samples.VERDICT_V119_HEADER, Samples.SYN_PACKET)),
            Samples.perfPad(Samples.drop(36, 1, 133, 1, 0, Samples.ipv6UdpPacket())),
            Samples.perfPad(Samples.drop(48, 3, 133, 0, DropNotify.FLAG_VXLAN, Samples.vxlanSynPacket())),
            Samples.hex(SpecVectorsTest.V4),
            Arrays.copyOf(Samples.DROP_V3_HEADER, 20), // truncated: a counted error
        };
        try (Arena arena = Arena.ofConfined()) {
            // all samples in one native buffer, as a ring or a reused receive buffer would hold them
            long[] offsets = new long[samples.length];
            long total = 0;
            for (int i = 0; i < samples.length; i++) {
                offsets[i] = total;
                total += samples[i].length;
            }
            MemorySegment buf = arena.allocate(total);
            for (int i = 0; i < samples.length; i++) {
                MemorySegment.copy(samples[i], 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, offsets[i], samples[i].length);
            }
            int[] lengths = Arrays.stream(samples).mapToInt(b -> b.length).toArray();
            CiliumMessageDecoder dec = new CiliumMessageDecoder();
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
            long tid = Thread.currentThread().threadId();

            long sink = run(dec, r, buf, offsets, lengths); // warm up the JIT
            sink += run(dec, r, buf, offsets, lengths);
            // steady state: until C2 has compiled the path (escape analysis included), a round may
            // allocate; an allocation per message would show in every round
            long allocated = Long.MAX_VALUE;
            for (int round = 0; round < 20 && allocated >= N; round++) {
                long before = mx.getThreadAllocatedBytes(tid);
                sink += run(dec, r, buf, offsets, lengths);
                allocated = Math.min(allocated, mx.getThreadAllocatedBytes(tid) - before);
            }
            System.out.printf("cilium decode path: %d bytes allocated over %d messages (sink %d)%n", allocated, N, sink);
            assertTrue(allocated < N, allocated + " bytes allocated over " + N + " messages");
        }
    }

    private static long run(CiliumMessageDecoder dec, DropRecord r, MemorySegment buf, long[] offsets, int[] lengths) {
        long sink = 0;
        for (int k = 0; k < N; k++) {
            int i = k % offsets.length;
            CiliumMessageDecoder.Kind kind = dec.decode(buf, offsets[i], lengths[i]);
            if (kind == CiliumMessageDecoder.Kind.DROP || kind == CiliumMessageDecoder.Kind.POLICY_VERDICT) {
                sink += dec.fill(r).ordinal();
                sink += r.dstPort() + dec.srcIdentity() + dec.reasonCode();
            } else {
                sink += kind.ordinal();
            }
        }
        return sink;
    }
}
