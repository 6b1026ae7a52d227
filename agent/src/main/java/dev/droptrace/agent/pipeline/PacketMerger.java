package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.event.DropRecord;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One packet, one event: joins a CNI drop (Cilium, Calico) with the kernel's kfree_skb record of the
 * same packet (same family, protocol, addresses and ports) that arrives within a window.
 *
 * <p>Either side may come first, because the kernel ring and the CNI transports are drained on their
 * own schedules. A CNI drop that finds a waiting kernel record is emitted at once as one event: the
 * CNI fields (source, reason, direction, policy, identities, detail) plus the kernel's reason (in
 * {@code kernel_reason_code}, flag {@link DropRecord#FLAG_KERNEL_SEEN}), netns, interface, drop site
 * and timestamps. Kernel records are credits: an aggregated record with count n can merge n CNI
 * drops. What waits longer than the window is emitted alone: a CNI drop as it is, a kernel record
 * with its unused count, so the sum of counts over the journal stays the kernel's exact count of
 * the merged reasons plus the CNI drops the kernel never saw. The window must exceed the kernel's
 * aggregation interval, or the repeats of a flow would be emitted once by each side.
 *
 * <p>Pending records live in a fixed ring of slots (insertion order is deadline order) with a
 * chained hash index by packet key; nothing is allocated per record. When the ring is full the
 * oldest record is emitted alone early (counted). Single-threaded: the journal-writer thread.
 */
public final class PacketMerger {
    /** Where merged and expired records go. */
    @FunctionalInterface
    public interface Output {
        void emit(MemorySegment record, long offset);
    }

    private static final int FREE = 0, KERNEL = 1, CNI = 2;
    private static final int NIL = -1;

    private final Output output;
    private final long windowNs;
    private final int capacity;
    private final MemorySegment slab;
    private final DropRecord slot = new DropRecord();
    private final DropRecord other = new DropRecord();
    private final DropRecord out = new DropRecord();
    private final MemorySegment scratch;
    private final long[] deadline;
    private final int[] kind;
    private final int[] remaining;
    private final int[] hashOf;
    private final int[] next;
    private final int[] prev;
    private final int[] bucket;
    private final boolean[] mergeableKernelReason = new boolean[1 << 16];
    private int head;
    private int tail;
    /** Slots from head to tail, holes included; {@code used} counts the occupied ones. */
    private int span;
    private int used;
    private long merged;
    private long cniAlone;
    private long kernelAlone;
    private long kernelAloneDrops;
    private long evictedEarly;

    /** {@code capacity} pending records at most; records wait {@code windowNs} for their other half. */
    public PacketMerger(int capacity, long windowNs, Output output) {
        this.capacity = capacity;
        this.windowNs = windowNs;
        this.output = output;
        this.slab = Arena.ofAuto().allocate((long) capacity * DropRecord.SIZE, 8);
        this.scratch = Arena.ofAuto().allocate(DropRecord.SIZE, 8);
        this.out.wrap(scratch, 0);
        this.deadline = new long[capacity];
        this.kind = new int[capacity];
        this.remaining = new int[capacity];
        this.hashOf = new int[capacity];
        this.next = new int[capacity];
        this.prev = new int[capacity];
        int buckets = Integer.highestOneBit(Math.max(16, capacity * 2 - 1)) << 1;
        this.bucket = new int[buckets];
        java.util.Arrays.fill(bucket, NIL);
    }

    /** Kernel records with this reason code wait for a CNI drop of the same packet. */
    public void mergeKernelReason(int code) {
        if (code >= 0 && code < mergeableKernelReason.length) mergeableKernelReason[code] = true;
    }

    /** Whether a kernel record with this reason goes through {@link #onKernel}. */
    public boolean mergesKernelReason(long code) {
        return code >= 0 && code < mergeableKernelReason.length && mergeableKernelReason[(int) code];
    }

    /** A kernel record (count n); merges with up to n waiting CNI drops, the rest waits. */
    public void onKernel(MemorySegment seg, long off, long nowNs) {
        DropRecord k = other.wrap(seg, off);
        int h = hash(seg, off);
        int n = k.count();
        // oldest first: the chain is newest-first, so walk to the end and come back
        int s = lastInChain(h);
        while (s != NIL && n > 0) {
            int before = prev[s];
            if (kind[s] == CNI && sameKey(slab, slotOffset(s), seg, off)) {
                emitMerged(slab, slotOffset(s), seg, off);
                release(s);
                n--;
            }
            s = before;
        }
        if (n > 0) {
            int t = claim(h, nowNs);
            MemorySegment.copy(seg, off, slab, slotOffset(t), DropRecord.SIZE);
            kind[t] = KERNEL;
            remaining[t] = n;
        }
    }

    /** A CNI drop; merges with a waiting kernel record of the same packet, or waits for one. */
    public void onCni(MemorySegment seg, long off, long nowNs) {
        int h = hash(seg, off);
        int s = lastInChain(h);
        while (s != NIL) {
            if (kind[s] == KERNEL && sameKey(slab, slotOffset(s), seg, off)) {
                emitMerged(seg, off, slab, slotOffset(s));
                if (--remaining[s] == 0) release(s);
                return;
            }
            s = prev[s];
        }
        int t = claim(h, nowNs);
        MemorySegment.copy(seg, off, slab, slotOffset(t), DropRecord.SIZE);
        kind[t] = CNI;
        remaining[t] = 1;
    }

    /** Emits alone whatever has waited past the window. */
    public void expire(long nowNs) {
        while (span > 0 && (kind[head] == FREE || nowNs - deadline[head] >= 0)) {
            if (kind[head] != FREE) emitAlone(head);
            advanceHead();
        }
    }

    /** Emits everything that waits (shutdown). */
    public void flushAll() {
        while (span > 0) {
            if (kind[head] != FREE) emitAlone(head);
            advanceHead();
        }
    }

    private void advanceHead() {
        head = head + 1 == capacity ? 0 : head + 1;
        span--;
    }

    private void emitAlone(int s) {
        long off = slotOffset(s);
        DropRecord r = slot.wrap(slab, off);
        if (kind[s] == KERNEL) {
            r.count(remaining[s]);
            kernelAlone++;
            kernelAloneDrops += Integer.toUnsignedLong(remaining[s]);
        } else {
            cniAlone++;
        }
        output.emit(slab, off);
        release(s);
    }

    /** The CNI record with the kernel's reason, place and time. */
    private void emitMerged(MemorySegment cniSeg, long cniOff, MemorySegment kSeg, long kOff) {
        MemorySegment.copy(cniSeg, cniOff, scratch, 0, DropRecord.SIZE);
        DropRecord k = other.wrap(kSeg, kOff);
        out.flags(out.flags() | DropRecord.FLAG_KERNEL_SEEN)
                .kernelReasonCode((int) k.reasonCode())
                .netns(k.netns())
                .ifindex(k.ifindex())
                .interfaceId(k.interfaceId())
                .location(k.location())
                .locationId(k.locationId())
                .ktimeNs(k.ktimeNs())
                .wallNs(k.wallNs())
                .cpu(k.cpu())
                .count(1);
        if (out.srcIdentityId() == 0) out.srcIdentityId(k.srcIdentityId());
        if (out.dstIdentityId() == 0) out.dstIdentityId(k.dstIdentityId());
        if (out.length() == 0) out.length(k.length());
        if (out.tcpFlags() == 0) out.tcpFlags(k.tcpFlags());
        merged++;
        output.emit(scratch, 0);
    }

    private int claim(int h, long nowNs) {
        while (span > 0 && kind[head] == FREE) advanceHead(); // holes left by merges
        if (span == capacity) { // full: the oldest goes out alone, early
            emitAlone(head);
            evictedEarly++;
            advanceHead();
        }
        int t = tail;
        tail = tail + 1 == capacity ? 0 : tail + 1;
        span++;
        used++;
        deadline[t] = nowNs + windowNs;
        hashOf[t] = h;
        int b = h & (bucket.length - 1);
        next[t] = bucket[b];
        prev[t] = NIL;
        if (bucket[b] != NIL) prev[bucket[b]] = t;
        bucket[b] = t;
        return t;
    }

    private void release(int s) {
        int b = hashOf[s] & (bucket.length - 1);
        if (prev[s] != NIL) next[prev[s]] = next[s];
        else bucket[b] = next[s];
        if (next[s] != NIL) prev[next[s]] = prev[s];
        kind[s] = FREE;
        used--;
    }

    private int lastInChain(int h) {
        int s = bucket[h & (bucket.length - 1)];
        if (s == NIL) return NIL;
        while (next[s] != NIL) s = next[s];
        return s;
    }

    private static long slotOffset(int s) {
        return (long) s * DropRecord.SIZE;
    }

    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;

    /** Family and protocol (bytes 3-4), ports (8-11), both addresses (16-47). */
    private static boolean sameKey(MemorySegment a, long ao, MemorySegment b, long bo) {
        return a.get(ValueLayout.JAVA_SHORT_UNALIGNED, ao + DropRecord.FAMILY_OFFSET) == b.get(ValueLayout.JAVA_SHORT_UNALIGNED, bo + DropRecord.FAMILY_OFFSET)
                && a.get(I, ao + DropRecord.SRC_PORT_OFFSET) == b.get(I, bo + DropRecord.SRC_PORT_OFFSET)
                && a.get(L, ao + 16) == b.get(L, bo + 16) && a.get(L, ao + 24) == b.get(L, bo + 24)
                && a.get(L, ao + 32) == b.get(L, bo + 32) && a.get(L, ao + 40) == b.get(L, bo + 40);
    }

    private static int hash(MemorySegment s, long o) {
        long h = s.get(ValueLayout.JAVA_SHORT_UNALIGNED, o + DropRecord.FAMILY_OFFSET);
        h = h * 0x9E3779B97F4A7C15L + s.get(I, o + DropRecord.SRC_PORT_OFFSET);
        for (int i = 16; i < 48; i += 8) h = (h ^ s.get(L, o + i)) * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    /** Pending records (both sides). */
    public int pending() { return used; }
    /** CNI drops journaled with the kernel's record of the same packet. */
    public long merged() { return merged; }
    /** CNI drops journaled alone (no kernel record within the window). */
    public long cniAlone() { return cniAlone; }
    /** Kernel records journaled alone after the window, and the drops they stood for. */
    public long kernelAlone() { return kernelAlone; }
    public long kernelAloneDrops() { return kernelAloneDrops; }
    /** Records emitted before their window ended because the pending ring was full. */
    public long evictedEarly() { return evictedEarly; }
}
