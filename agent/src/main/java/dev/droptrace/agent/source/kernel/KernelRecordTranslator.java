package dev.droptrace.agent.source.kernel;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.journal.DictionaryKind;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.identity.IdentityResolver;
import dev.droptrace.agent.journal.JournalException;
import dev.droptrace.ksym.KernelSymbols;
import dev.droptrace.libbpf.RecordHandler;
import dev.droptrace.libc.Libc;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns each kernel {@code struct drop_event} into a journal event, in place and without allocating:
 * wall time from the kernel's monotonic stamp, interface and drop-site names as dictionary ids. A
 * record of the wrong size or with an impossible family is counted as a decode error and skipped.
 * A record the journal refuses (disk full, I/O error) is counted as a journal error, with the drops
 * it stood for, and the source goes on. Used by the one drain thread only.
 */
final class KernelRecordTranslator implements RecordHandler {
    private static final Logger LOG = LoggerFactory.getLogger(KernelRecordTranslator.class);
    private static final int SITE_CACHE_SIZE = 256; // power of two
    private final DropJournal journal;
    private final IdentityResolver identities;
    private final KernelSymbols symbols;
    private final int[] symbolIds;
    /**
     * Direct-mapped cache of drop-site address -> dictionary id in front of the binary search over
     * kallsyms: a node drops at a handful of sites, and the search was the largest cost of a record
     * after the journal append itself (JMH HotPathBenchmark).
     */
    private final long[] siteCacheAddress = new long[SITE_CACHE_SIZE];
    private final int[] siteCacheId = new int[SITE_CACHE_SIZE];
    /**
     * Direct-mapped cache of the 16 interface-name bytes (as two longs) -> dictionary id in front of
     * {@link DropJournal#internBytes}, which hashes and compares byte by byte: a node drops on a
     * few interfaces, and two long compares are cheaper (JMH HotPathBenchmark). Bytes after the
     * name's NUL are part of the key, so stale bytes there only cost a miss, never a wrong id.
     */
    private static final int IF_CACHE_SIZE = 64; // power of two
    private final long[] ifCacheLo = new long[IF_CACHE_SIZE];
    private final long[] ifCacheHi = new long[IF_CACHE_SIZE];
    private final int[] ifCacheId = new int[IF_CACHE_SIZE];
    private final int nodeId;
    /** The kernel record being decoded (a copy) and the event being built, with a flyweight over it for enrichment. */
    private final byte[] in = new byte[KernelDropRecord.SIZE];
    private final MemorySegment inSegment = MemorySegment.ofArray(in);
    private final byte[] rec = new byte[DropRecord.SIZE];
    private final MemorySegment recSegment = MemorySegment.ofArray(rec);
    private final DropRecord out = new DropRecord().wrap(recSegment, 0);
    private static final VarHandle K16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.nativeOrder());
    private static final VarHandle K32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.nativeOrder());
    private static final VarHandle K64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final VarHandle R16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle R32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle R64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong decodeErrors = new AtomicLong();
    private final AtomicLong drops = new AtomicLong();
    private final AtomicLong journalErrors = new AtomicLong();
    private final AtomicLong journalErrorDrops = new AtomicLong();
    private final AtomicLong refusedDrops = new AtomicLong();
    /** Set while a CNI source runs (drain thread only): the pipeline and its merger. */
    private dev.droptrace.agent.pipeline.EventPipeline pipeline;
    private dev.droptrace.agent.pipeline.PacketMerger merger;
    private final AtomicLong deferred = new AtomicLong();
    private final AtomicLong deferredDrops = new AtomicLong();
    private long wallOffsetNs;
    private long nextClockSync;

    KernelRecordTranslator(DropJournal journal, KernelSymbols symbols, String node) {
        this(journal, symbols, node, null);
    }

    /** With {@code identities} (may be null), each event names the pods, services or hosts at both ends. */
    KernelRecordTranslator(DropJournal journal, KernelSymbols symbols, String node, IdentityCache identities) {
        this.journal = journal;
        this.identities = identities == null ? null
                : new IdentityResolver(identities, text -> journal.intern(DictionaryKind.IDENTITY, text));
        this.symbols = symbols;
        this.symbolIds = new int[symbols.available() ? symbols.size() : 0];
        this.nodeId = journal.intern(DictionaryKind.STRING, node);
        syncClock();
    }

    /** Kernel records of the pipeline's merge reasons go to its merger instead of the journal (drain thread). */
    void merger(dev.droptrace.agent.pipeline.EventPipeline pipeline) {
        this.pipeline = pipeline;
        this.merger = pipeline.merger();
    }

    /** Kernel timestamps are CLOCK_MONOTONIC; the offset to wall time is refreshed once a second. */
    void syncClock() {
        long mono = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        if (mono < nextClockSync) return;
        long real = Libc.clockGettimeNs(Libc.CLOCK_REALTIME);
        long mono2 = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        wallOffsetNs = real - (mono + mono2) / 2;
        nextClockSync = mono2 + 1_000_000_000L;
    }

    @Override
    public void onRecord(MemorySegment data, long off, int length) {
        if (length != KernelDropRecord.SIZE || off < 0 || off + length > data.byteSize()) {
            decodeErrors.setRelease(decodeErrors.getPlain() + 1);
            return;
        }
        // one bulk copy in, plain array stores out: ~40 segment accesses in this method made C2
        // stop inlining (NodeCountInliningCutoff) and left most field setters as calls
        MemorySegment.copy(data, off, inSegment, 0, KernelDropRecord.SIZE);
        byte[] k = in;
        int family = k[KernelDropRecord.FAMILY] & 0xff;
        if (family != 0 && family != 4 && family != 6) {
            decodeErrors.setRelease(decodeErrors.getPlain() + 1);
            return;
        }
        byte[] o = rec;
        Arrays.fill(o, (byte) 0);
        long ktime = (long) K64.get(k, KernelDropRecord.KTIME_NS);
        long location = (long) K64.get(k, KernelDropRecord.LOCATION);
        int count = Math.max(1, (int) K32.get(k, KernelDropRecord.COUNT));
        int direction = k[KernelDropRecord.DIRECTION] & 0xff;
        R16.set(o, DropRecord.VERSION_OFFSET, (short) DropRecord.VERSION);
        o[DropRecord.SOURCE_OFFSET] = (byte) DropSource.KERNEL.code();
        o[DropRecord.FAMILY_OFFSET] = (byte) family;
        o[DropRecord.DIRECTION_OFFSET] = (byte) (direction <= 2 ? direction : 0);
        o[DropRecord.PROTOCOL_OFFSET] = k[KernelDropRecord.PROTOCOL];
        o[DropRecord.TCP_FLAGS_OFFSET] = k[KernelDropRecord.TCP_FLAGS];
        o[DropRecord.ICMP_TYPE_OFFSET] = k[KernelDropRecord.ICMP_TYPE];
        o[DropRecord.ICMP_CODE_OFFSET] = k[KernelDropRecord.ICMP_CODE];
        R16.set(o, DropRecord.SRC_PORT_OFFSET, (short) K16.get(k, KernelDropRecord.SPORT));
        R16.set(o, DropRecord.DST_PORT_OFFSET, (short) K16.get(k, KernelDropRecord.DPORT));
        R32.set(o, DropRecord.LENGTH_OFFSET, (int) K32.get(k, KernelDropRecord.LENGTH));
        R32.set(o, DropRecord.IFINDEX_OFFSET, (int) K32.get(k, KernelDropRecord.IFINDEX));
        R32.set(o, DropRecord.NETNS_OFFSET, (int) K32.get(k, KernelDropRecord.NETNS));
        R32.set(o, DropRecord.CPU_OFFSET, (int) K32.get(k, KernelDropRecord.CPU));
        R32.set(o, DropRecord.REASON_CODE_OFFSET, (int) K32.get(k, KernelDropRecord.REASON));
        R64.set(o, DropRecord.KTIME_NS_OFFSET, ktime);
        R64.set(o, DropRecord.WALL_NS_OFFSET, ktime + wallOffsetNs);
        R64.set(o, DropRecord.LOCATION_OFFSET, location);
        R32.set(o, DropRecord.COUNT_OFFSET, count);
        R32.set(o, DropRecord.NODE_ID_OFFSET, nodeId);
        System.arraycopy(k, KernelDropRecord.SADDR, o, DropRecord.SRC_IP_OFFSET, DropRecord.IP_SIZE);
        System.arraycopy(k, KernelDropRecord.DADDR, o, DropRecord.DST_IP_OFFSET, DropRecord.IP_SIZE);
        if (k[KernelDropRecord.IFNAME] != 0) {
            R32.set(o, DropRecord.INTERFACE_ID_OFFSET, interfaceId(k));
        }
        DropRecord r = out;
        try {
            R32.set(o, DropRecord.LOCATION_ID_OFFSET, symbolId(location));
            if (identities != null) identities.enrich(r); // names as they are now, kept after the pod is gone
            if (merger != null && merger.mergesKernelReason(r.reasonCode())) {
                // one packet, one event: the pipeline journals it, merged with a CNI drop or alone
                deferred.setRelease(deferred.getPlain() + 1);
                deferredDrops.setRelease(deferredDrops.getPlain() + Integer.toUnsignedLong(count));
                pipeline.onKernel(recSegment, 0);
                return;
            }
            if (!journal.appendEvent(recSegment, 0)) { // the cycle is at its share of the size limit: counted there and here
                refusedDrops.setRelease(refusedDrops.getPlain() + Integer.toUnsignedLong(count));
                return;
            }
        } catch (JournalException e) {
            journalFailed(e, 1, Integer.toUnsignedLong(count));
            return;
        }
        events.setRelease(events.getPlain() + 1);
        drops.setRelease(drops.getPlain() + Integer.toUnsignedLong(count));
    }

    /**
     * Opens a journal batch for one drain: events are acknowledged (readable, crash-safe) by
     * {@link #endDrain}, which the drain loop calls when the drain is done.
     */
    void beginDrain() {
        journal.beginBatch();
    }

    /** Writes the drain's batch; a failure moves its events from journaled to journal errors. */
    void endDrain() {
        try {
            journal.endBatch();
        } catch (JournalException e) {
            journalFailed(e, 0, 0);
        }
    }

    /**
     * Counts a failed write: {@code records} records (standing for {@code recordDrops} drops) of
     * this call, plus the batch events the failure discarded, which had been counted as journaled.
     */
    private void journalFailed(JournalException e, long records, long recordDrops) {
        if (journalErrors.getPlain() == 0) LOG.error("journal write failed (counted from now on): {}", e.getMessage());
        long lost = e.eventsLost();
        long lostDrops = e.dropsLost();
        events.setRelease(events.getPlain() - lost);
        drops.setRelease(drops.getPlain() - lostDrops);
        journalErrors.setRelease(journalErrors.getPlain() + records + lost);
        journalErrorDrops.setRelease(journalErrorDrops.getPlain() + recordDrops + lostDrops);
    }

    private int interfaceId(byte[] k) {
        long lo = (long) K64.get(k, KernelDropRecord.IFNAME);
        long hi = (long) K64.get(k, KernelDropRecord.IFNAME + 8);
        int slot = (int) (((lo ^ hi) * 0x9E3779B97F4A7C15L) >>> 58) & (IF_CACHE_SIZE - 1);
        int id = ifCacheId[slot];
        if (id != 0 && ifCacheLo[slot] == lo && ifCacheHi[slot] == hi) return id;
        id = journal.internBytes(DictionaryKind.STRING, inSegment, KernelDropRecord.IFNAME, KernelDropRecord.IFNAME_SIZE);
        ifCacheLo[slot] = lo;
        ifCacheHi[slot] = hi;
        ifCacheId[slot] = id;
        return id;
    }

    private int symbolId(long address) {
        if (address == 0 || symbolIds.length == 0) return 0;
        int slot = (int) (address ^ (address >>> 8) ^ (address >>> 16)) & (SITE_CACHE_SIZE - 1);
        if (siteCacheAddress[slot] == address) return siteCacheId[slot];
        int id = lookupSymbolId(address);
        siteCacheAddress[slot] = address;
        siteCacheId[slot] = id;
        return id;
    }

    private int lookupSymbolId(long address) {
        int idx = symbols.indexOf(address);
        if (idx < 0) return 0;
        int id = symbolIds[idx];
        if (id == 0) {
            id = journal.intern(DictionaryKind.STRING, symbols.name(idx));
            symbolIds[idx] = id;
        }
        return id;
    }

    long events() {
        return events.get();
    }

    /** Records (and their drops) handed to the pipeline's merger instead of journaled here. */
    long deferred() {
        return deferred.get();
    }

    long deferredDrops() {
        return deferredDrops.get();
    }

    long decodeErrors() {
        return decodeErrors.get();
    }

    /** Drops the journaled events stand for (the sum of their counts). */
    long drops() {
        return drops.get();
    }

    /** Records the journal refused. */
    long journalErrors() {
        return journalErrors.get();
    }

    /** Drops in records the journal refused because its current cycle was at its size share. */
    long refusedDrops() {
        return refusedDrops.get();
    }

    /** Drops those refused records stood for. */
    long journalErrorDrops() {
        return journalErrorDrops.get();
    }
}
