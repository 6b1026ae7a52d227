package dev.droptrace.agent.identity;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.Direction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.ToIntFunction;

/**
 * The enrichment step of one source thread: addresses to journal IDENTITY dictionary ids. It reads
 * the shared {@link IdentityCache} (lock-free) and keeps, for this thread only, an int array from
 * cache local id to journal id, filled lazily through {@code intern} (the journal's
 * {@code intern(DictionaryKind.IDENTITY, text)}) the first time a local id is seen. Because local
 * ids are never reused, a cached journal id stays right forever: a drop names the pod that had the
 * address when it happened. Not thread-safe: one instance per source thread, like the journal's
 * writer. Allocation-free except when the id array grows and on the first sight of an identity.
 */
public final class IdentityResolver {
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final IdentityCache cache;
    private final ToIntFunction<String> intern;
    private int[] journalIds = new int[4096];

    /**
     * @param intern the journal's interning of IDENTITY text, e.g.
     *               {@code text -> journal.intern(DictionaryKind.IDENTITY, text)}; returns a non-zero id
     */
    public IdentityResolver(IdentityCache cache, ToIntFunction<String> intern) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.intern = Objects.requireNonNull(intern, "intern");
    }

    /** The cache this resolver reads. */
    public IdentityCache cache() {
        return cache;
    }

    /** The journal id for a cache local id; 0 for 0 or an identity no longer known. */
    public int journalIdFor(int localId) {
        if (localId <= 0) {
            return 0;
        }
        int[] ids = journalIds;
        if (localId < ids.length) {
            int j = ids[localId];
            if (j != 0) {
                return j;
            }
        }
        Identity identity = cache.identity(localId);
        if (identity == null) {
            return 0;
        }
        int j = intern.applyAsInt(identity.json());
        if (localId >= ids.length) {
            ids = journalIds = Arrays.copyOf(ids, Math.max(localId + 1, ids.length * 2));
        }
        ids[localId] = j;
        return j;
    }

    /** Journal id of an IPv4 address (host order), {@code world} for unknown addresses once the cache is complete. */
    public int ipv4(int address) {
        return journalIdFor(cache.resolveIpv4(address));
    }

    /** Journal id of an IPv6 address given as two big-endian halves. */
    public int ipv6(long hi, long lo) {
        return journalIdFor(cache.resolveIpv6(hi, lo));
    }

    /** Journal id of the 16 network-order bytes at {@code segment[offset..offset+16)}. */
    public int ipv6(MemorySegment segment, long offset) {
        return journalIdFor(cache.resolveIpv6(segment, offset));
    }

    /** Journal id of the pod (or host) owning a network namespace inode; 0 when unknown. */
    public int netns(long inode) {
        return journalIdFor(cache.lookupNetns(inode));
    }

    /**
     * Sets {@code src_identity_id} and {@code dst_identity_id} of a record from its addresses and
     * family. When an address resolves to nothing (or only to {@code world}) and the record's network
     * namespace is known, the netns identity fills the local end: the source for an egress drop, the
     * destination for an ingress drop. Allocation-free once the identities have been seen.
     */
    public void enrich(DropRecord r) {
        MemorySegment seg = r.segment();
        long off = r.offset();
        int src;
        int dst;
        switch (r.family()) {
            case DropRecord.FAMILY_IPV4 -> {
                src = cache.resolveIpv4(seg.get(BE_INT, off + DropRecord.SRC_IP_OFFSET));
                dst = cache.resolveIpv4(seg.get(BE_INT, off + DropRecord.DST_IP_OFFSET));
            }
            case DropRecord.FAMILY_IPV6 -> {
                src = cache.resolveIpv6(seg, off + DropRecord.SRC_IP_OFFSET);
                dst = cache.resolveIpv6(seg, off + DropRecord.DST_IP_OFFSET);
            }
            default -> {
                src = 0;
                dst = 0;
            }
        }
        int direction = r.direction();
        if (direction == Direction.EGRESS.code() && (src == 0 || src == IdentityCache.WORLD)) {
            int n = cache.lookupNetns(r.netns());
            src = n != 0 ? n : src;
        } else if (direction == Direction.INGRESS.code() && (dst == 0 || dst == IdentityCache.WORLD)) {
            int n = cache.lookupNetns(r.netns());
            dst = n != 0 ? n : dst;
        }
        r.srcIdentityId(journalIdFor(src));
        r.dstIdentityId(journalIdFor(dst));
    }
}
