package dev.droptrace.agent.source.cilium;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.droptrace.agent.event.CiliumVerdict;
import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.identity.IdentityResolver;
import dev.droptrace.agent.journal.DictionaryKind;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.pipeline.EventSink;
import dev.droptrace.agent.pipeline.PayloadTranslator;
import dev.droptrace.agent.pipeline.SourceContext;
import dev.droptrace.agent.pipeline.SourceOptions;
import dev.droptrace.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Turns raw Cilium monitor samples (payload = one perf sample: notification, captured packet, perf
 * padding; aux = the CPU) into drop events, on the journal-writer thread.
 *
 * <p><b>Drop notifications</b> (every version) become one event each: source {@code cilium}, reason
 * = Cilium's reason name (REASON_CILIUM dictionary, the {@code flow.proto} names Hubble prints),
 * the 5-tuple, protocol, TCP flags and length from the captured packet (sliced with {@code len_cap}),
 * ifindex, the CPU, wall time and CLOCK_MONOTONIC time of arrival (notifications carry no time), the
 * node, the {@code cilium} detail object and both identities. Direction: ingress when the drop names a
 * destination endpoint ({@code dst_id}, spec 3.1); egress when the {@code source} endpoint is the
 * CiliumEndpoint at the packet's source address (Hubble's rule, spec 7.1); else the direction of a
 * paired verdict; else unknown. Drops are mergeable with the kernel's record of the same packet
 * ({@link #KERNEL_MERGE_REASONS}).
 *
 * <p><b>Policy verdicts</b> (every version): denied and audited verdicts become events, allowed and
 * redirected ones only counters unless {@code SourceOptions.ciliumAllowed}. Reason of a denied
 * verdict: {@code -verdict} with Cilium's name, as Hubble's {@code drop_reason_desc} (133
 * {@code POLICY_DENIED} default deny, 181 {@code POLICY_DENY} explicit deny rule, 189
 * {@code AUTH_REQUIRED}); audited, allowed and redirected verdicts have no drop reason, so they get
 * Hubble's verdict names {@code AUDIT}, {@code FORWARDED}, {@code REDIRECTED} under the codes
 * {@link #REASON_AUDIT}, {@link #REASON_FORWARDED}, {@link #REASON_REDIRECTED} (outside Cilium's u8
 * range). Direction from the verdict's flags; match type from bits 3-5 (spec 5.1); rule cookie from
 * the v1.19 layout.
 *
 * <p><b>One packet, one event.</b> For a denied packet the datapath sends a policy verdict and a drop
 * notification on the same CPU, one right after the other. A denied verdict (or a policy-denial drop,
 * for the other order) is held in a per-CPU slot (a copy, no allocation) until the next drop or
 * verdict of that CPU: the partner of the same 5-tuple makes one event (the drop's reason and
 * identities plus the verdict's direction, match type, cookie and policy); anything else releases
 * the held record as an event of its own first. {@link #flush} releases what has waited more than one
 * poll. Traces and other notifications do not release a held record.
 *
 * <p><b>Identities.</b> Reserved identities (spec 6.2) become {@code {"reserved":"world"}} and so on
 * ({@code host} with this node's name). Otherwise, for the address of each end: the CiliumEndpoint at
 * that address whose identity is the one Cilium sent (any, when Cilium sent 0) names the pod; else the
 * CiliumIdentity gives namespace and labels (pod unknown); else the IP cache
 * ({@link IdentityResolver}). Where the IP cache holds the same pod (or, for an identity, a pod of that
 * namespace carrying the identity's labels) its richer identity (workload, node) is used, so
 * output stays uniform with the kernel source.
 *
 * <p><b>Policy</b> ({@code policy} JSON) only from a verdict: {@code {"action":"deny","match_type":"L3-L4",
 * "rule_cookie":N}}. No name, namespace or kind: Cilium's notification does not carry them, and the
 * v1.19 cookie indexes the agent's in-memory policy-log table, which no Kubernetes object exposes
 * (spec 3.2, 7.1), so it is reported as a number and never resolved.
 *
 * <p>Nothing is allocated per event in the steady state; first sights of identities, detail and
 * policy texts allocate once. Bad input is counted by {@link CiliumMessageDecoder.DecodeError}, never
 * thrown. Single-threaded (the writer); counters may be read from any thread.
 */
public final class CiliumPayloadTranslator implements PayloadTranslator {
    /** Kernel drop reasons of the packets Cilium drops: its tc programs return TC_ACT_SHOT. */
    public static final Set<String> KERNEL_MERGE_REASONS = Set.of("TC_INGRESS", "TC_EGRESS");
    /** Reason code (REASON_CILIUM) of an audited verdict: "AUDIT". */
    public static final int REASON_AUDIT = 256;
    /** Reason code of an allowed verdict (with {@code ciliumAllowed}): "FORWARDED". */
    public static final int REASON_FORWARDED = 257;
    /** Reason code of a verdict redirecting to the L7 proxy (with {@code ciliumAllowed}): "REDIRECTED". */
    public static final int REASON_REDIRECTED = 258;
    /** CPUs (aux values) above this are not paired: their records are emitted at once. */
    public static final int MAX_CPU = 4095;

    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] ACTIONS = {"allow", "deny", "redirect", "audit"}; // PolicyVerdictNotify.Action order
    private static final int HELD_NONE = 0, HELD_VERDICT = 1, HELD_DROP = 2;
    private static final int NO_MATCH = -1;

    // counter indices
    private static final int SAMPLES = 0, DROPS = 1, DENIED = 2, AUDITED = 3, ALLOWED = 4, REDIRECTED = 5,
            COMBINED = 6, EVENTS = 7, VERDICTS_ALONE = 8, POLICY_DROPS_ALONE = 9, AMBIGUOUS = 10, EXTENSION = 11,
            COUNTERS = 12;

    private final DropJournal journal;
    private final CiliumMessageDecoder decoder;
    private final IdentityCache cache;
    private final IdentityResolver resolver;
    private final CiliumIdentityTable table;
    private final boolean emitAllowed;
    private final String node;
    private final int nodeId;
    private final int[] reservedIds = new int[11];
    private int[] tableIds = new int[1024];
    private final DictionaryIdCache detailIds = new DictionaryIdCache(256);
    private final DictionaryIdCache policyIds = new DictionaryIdCache(64);

    private final MemorySegment scratch = Arena.ofAuto().allocate(DropRecord.SIZE, 8);
    private final DropRecord work = new DropRecord();
    private final DropRecord heldView = new DropRecord();

    // per-CPU held records, grown on first sight of a CPU
    private MemorySegment slots;
    private byte[] heldKind;
    private long[] heldPoll;
    private long[] heldSrc;
    private long[] heldDst;
    private int[] heldMatch;
    private long[] heldCookie;
    private int heldCount;
    private long polls;

    private final AtomicLongArray counts = new AtomicLongArray(COUNTERS);
    private final AtomicLongArray skipped = new AtomicLongArray(256);
    private final AtomicLongArray errors = new AtomicLongArray(CiliumMessageDecoder.DecodeError.values().length);

    private long wallOffsetNs;
    private long nextClockSync;

    /**
     * @param journal    the journal the events go to (reasons are defined and texts interned in it)
     * @param node       this node's name, may be null
     * @param identities the IP cache of pod identities (fallback), may be null
     * @param table      CiliumIdentity/CiliumEndpoint knowledge, may be null
     * @param options    {@code ciliumVersion} ({@code major*100+minor}, 0 automatic) and {@code ciliumAllowed}
     * @throws IllegalArgumentException for an invalid {@code ciliumVersion}
     */
    public CiliumPayloadTranslator(DropJournal journal, String node, IdentityCache identities, CiliumIdentityTable table,
                                   SourceOptions options) {
        this.journal = journal;
        this.decoder = new CiliumMessageDecoder(CiliumVersion.fromCode(options.ciliumVersion()));
        this.cache = identities;
        this.resolver = identities == null ? null
                : new IdentityResolver(identities, text -> journal.intern(DictionaryKind.IDENTITY, text));
        this.table = table;
        this.emitAllowed = options.ciliumAllowed();
        this.node = node;
        this.nodeId = node == null ? 0 : journal.intern(DictionaryKind.STRING, node);
        for (int code = 0; code < 256; code++) {
            String name = CiliumDropReasons.name(code);
            if (name != null) {
                journal.defineReason(DropSource.CILIUM, code, name);
            }
        }
        journal.defineReason(DropSource.CILIUM, REASON_AUDIT, "AUDIT");
        journal.defineReason(DropSource.CILIUM, REASON_FORWARDED, "FORWARDED");
        journal.defineReason(DropSource.CILIUM, REASON_REDIRECTED, "REDIRECTED");
        for (int id = 1; id < reservedIds.length; id++) {
            String text = id == ReservedIdentities.HOST && node != null ? Identity.host(node).json()
                    : DropView.identityJson(new EndpointIdentity(null, null, null, Map.of(), null, null, ReservedIdentities.name(id)));
            reservedIds[id] = journal.intern(DictionaryKind.IDENTITY, text);
        }
        work.wrap(scratch, 0);
        growSlots(16);
        syncClock();
    }

    /** The translator for a source context (journal, node, IP cache, options). */
    public CiliumPayloadTranslator(SourceContext ctx, CiliumIdentityTable table) {
        this(ctx.journal(), ctx.node(), ctx.identities(), table, ctx.options());
    }

    /** The decoder (its version override and per-layout counters). */
    public CiliumMessageDecoder decoder() {
        return decoder;
    }

    // =================================================================================================
    // translate
    // =================================================================================================

    @Override
    public void translate(MemorySegment data, long offset, int length, int aux, EventSink sink) {
        inc(counts, SAMPLES);
        CiliumMessageDecoder.Kind kind = decoder.decode(data, offset, length);
        switch (kind) {
            case DROP -> onDrop(aux, sink);
            case POLICY_VERDICT -> onVerdict(aux, sink);
            case TRACE -> inc(skipped, CiliumNotification.TYPE_TRACE);
            case OTHER -> inc(skipped, data.get(ValueLayout.JAVA_BYTE, offset) & 0xff);
            case ERROR -> inc(errors, decoder.lastError().ordinal());
        }
        if (kind == CiliumMessageDecoder.Kind.DROP || kind == CiliumMessageDecoder.Kind.POLICY_VERDICT) {
            counts.setRelease(AMBIGUOUS, decoder.ambiguousDrops());
            counts.setRelease(EXTENSION, decoder.extensionSkipped());
        }
    }

    private void onDrop(int cpu, EventSink sink) {
        inc(counts, DROPS);
        DropRecord w = work;
        decoder.fill(w);
        DropNotify d = decoder.drop();
        stamp(w, cpu);
        long src = d.srcLabel();
        long dst = d.dstLabel();
        if (w.direction() == Direction.UNKNOWN.code() && egressFromSource(d.source(), src, w)) {
            w.direction(Direction.EGRESS);
        }
        w.srcIdentityId(identityId(src, w, true));
        w.dstIdentityId(identityId(dst, w, false));
        w.detailId(detailId(src, dst, NO_MATCH, 0));
        int c = slot(cpu);
        if (c >= 0 && heldKind[c] != HELD_NONE) {
            if (heldKind[c] == HELD_VERDICT && sameKey(slots, slotOffset(c), scratch, 0)) {
                DropRecord out = sink.begin();
                copy(scratch, 0, out);
                DropRecord v = heldView.wrap(slots, slotOffset(c));
                combine(out, v, src, dst, heldSrc[c], heldDst[c], heldMatch[c], heldCookie[c], v.policyId(), v.direction());
                release(c);
                emit(sink, true);
                return;
            }
            emitHeld(c, sink);
        }
        if (c >= 0 && CiliumDropReasons.isPolicyDenial(d.reason())) {
            hold(c, HELD_DROP, src, dst, NO_MATCH, 0);
            return;
        }
        copy(scratch, 0, sink.begin());
        emit(sink, true);
    }

    private void onVerdict(int cpu, EventSink sink) {
        PolicyVerdictNotify v = decoder.policyVerdict();
        PolicyVerdictNotify.Action action = v.action();
        int c = slot(cpu);
        switch (action) {
            case DENY -> inc(counts, DENIED);
            case AUDIT -> inc(counts, AUDITED);
            case ALLOW -> inc(counts, ALLOWED);
            case REDIRECT -> inc(counts, REDIRECTED);
        }
        boolean event = action == PolicyVerdictNotify.Action.DENY || action == PolicyVerdictNotify.Action.AUDIT || emitAllowed;
        if (!event) {
            if (c >= 0 && heldKind[c] != HELD_NONE) {
                emitHeld(c, sink); // the next notification of that CPU is not the partner
            }
            return;
        }
        DropRecord w = work;
        decoder.fill(w);
        stamp(w, cpu);
        switch (action) {
            case AUDIT -> w.reasonCode(REASON_AUDIT);
            case ALLOW -> w.reasonCode(REASON_FORWARDED);
            case REDIRECT -> w.reasonCode(REASON_REDIRECTED);
            case DENY -> { } // -verdict, set by fill
        }
        long src = decoder.srcIdentity();
        long dst = decoder.dstIdentity();
        int match = v.matchType();
        long cookie = v.cookie();
        w.srcIdentityId(identityId(src, w, true));
        w.dstIdentityId(identityId(dst, w, false));
        w.detailId(detailId(src, dst, match, cookie));
        w.policyId(policyId(action, match, cookie));
        if (c >= 0 && heldKind[c] != HELD_NONE) {
            if (action == PolicyVerdictNotify.Action.DENY && heldKind[c] == HELD_DROP
                    && sameKey(slots, slotOffset(c), scratch, 0)) {
                DropRecord out = sink.begin();
                copy(slots, slotOffset(c), out);
                combine(out, w, heldSrc[c], heldDst[c], src, dst, match, cookie, w.policyId(), w.direction());
                release(c);
                emit(sink, true);
                return;
            }
            emitHeld(c, sink);
        }
        if (action == PolicyVerdictNotify.Action.DENY) {
            if (c >= 0) {
                hold(c, HELD_VERDICT, src, dst, match, cookie);
                return;
            }
            inc(counts, VERDICTS_ALONE);
        }
        copy(scratch, 0, sink.begin());
        emit(sink, action == PolicyVerdictNotify.Action.DENY);
    }

    /**
     * {@code out} holds the drop; {@code verdict} the verdict of the same packet. The event keeps the
     * drop's reason, tuple and identities and takes the verdict's direction, match type, cookie and policy.
     */
    private void combine(DropRecord out, DropRecord verdict, long dropSrc, long dropDst, long verdictSrc, long verdictDst,
                         int match, long cookie, int policyId, int verdictDirection) {
        if (verdictDirection != Direction.UNKNOWN.code()) {
            out.direction(verdictDirection);
        }
        out.policyId(policyId);
        if (out.srcIdentityId() == 0) out.srcIdentityId(verdict.srcIdentityId());
        if (out.dstIdentityId() == 0) out.dstIdentityId(verdict.dstIdentityId());
        out.detailId(detailId(dropSrc != 0 ? dropSrc : verdictSrc, dropDst != 0 ? dropDst : verdictDst, match, cookie));
        inc(counts, COMBINED);
    }

    /** Emits what has waited more than one poll for its partner. */
    @Override
    public void flush(EventSink sink) {
        if (heldCount > 0) {
            for (int c = 0; c < heldKind.length; c++) {
                if (heldKind[c] != HELD_NONE && heldPoll[c] < polls) {
                    emitHeld(c, sink);
                }
            }
        }
        polls++;
    }

    /** Emits everything held, whatever its age (shutdown, after the last poll). */
    public void flushAll(EventSink sink) {
        if (heldCount > 0) {
            for (int c = 0; c < heldKind.length; c++) {
                if (heldKind[c] != HELD_NONE) {
                    emitHeld(c, sink);
                }
            }
        }
    }

    // ---- held records ------------------------------------------------------------------------------

    private int slot(int cpu) {
        if (cpu < 0 || cpu > MAX_CPU) {
            return -1;
        }
        if (cpu >= heldKind.length) {
            growSlots(Integer.highestOneBit(cpu) << 1);
        }
        return cpu;
    }

    private void growSlots(int n) {
        MemorySegment s = Arena.ofAuto().allocate((long) n * DropRecord.SIZE, 8);
        if (slots != null) {
            MemorySegment.copy(slots, 0, s, 0, slots.byteSize());
        }
        slots = s;
        heldKind = heldKind == null ? new byte[n] : Arrays.copyOf(heldKind, n);
        heldPoll = heldPoll == null ? new long[n] : Arrays.copyOf(heldPoll, n);
        heldSrc = heldSrc == null ? new long[n] : Arrays.copyOf(heldSrc, n);
        heldDst = heldDst == null ? new long[n] : Arrays.copyOf(heldDst, n);
        heldMatch = heldMatch == null ? new int[n] : Arrays.copyOf(heldMatch, n);
        heldCookie = heldCookie == null ? new long[n] : Arrays.copyOf(heldCookie, n);
    }

    private static long slotOffset(int c) {
        return (long) c * DropRecord.SIZE;
    }

    /** Copies the work record into slot {@code c}. */
    private void hold(int c, int kind, long src, long dst, int match, long cookie) {
        copySegment(scratch, 0, slots, slotOffset(c));
        heldKind[c] = (byte) kind;
        heldPoll[c] = polls;
        heldSrc[c] = src;
        heldDst[c] = dst;
        heldMatch[c] = match;
        heldCookie[c] = cookie;
        heldCount++;
    }

    private void release(int c) {
        heldKind[c] = HELD_NONE;
        heldCount--;
    }

    private void emitHeld(int c, EventSink sink) {
        inc(counts, heldKind[c] == HELD_VERDICT ? VERDICTS_ALONE : POLICY_DROPS_ALONE);
        copy(slots, slotOffset(c), sink.begin());
        release(c);
        emit(sink, true);
    }

    private void emit(EventSink sink, boolean mergeable) {
        inc(counts, EVENTS);
        sink.emit(mergeable);
    }

    private static void copy(MemorySegment from, long off, DropRecord to) {
        copySegment(from, off, to.segment(), to.offset());
    }

    /** 128 bytes as 16 long moves: never a bulk copy that may not inline between segment kinds. */
    private static void copySegment(MemorySegment from, long off, MemorySegment to, long toOff) {
        for (int i = 0; i < DropRecord.SIZE; i += 8) {
            to.set(L, toOff + i, from.get(L, off + i));
        }
    }

    /** Same family (known), protocol, ports and addresses. */
    private static boolean sameKey(MemorySegment a, long ao, MemorySegment b, long bo) {
        int family = a.get(ValueLayout.JAVA_BYTE, ao + DropRecord.FAMILY_OFFSET);
        return family != 0
                && a.get(ValueLayout.JAVA_SHORT_UNALIGNED, ao + DropRecord.FAMILY_OFFSET)
                == b.get(ValueLayout.JAVA_SHORT_UNALIGNED, bo + DropRecord.FAMILY_OFFSET)
                && a.get(I, ao + DropRecord.SRC_PORT_OFFSET) == b.get(I, bo + DropRecord.SRC_PORT_OFFSET)
                && a.get(L, ao + 16) == b.get(L, bo + 16) && a.get(L, ao + 24) == b.get(L, bo + 24)
                && a.get(L, ao + 32) == b.get(L, bo + 32) && a.get(L, ao + 40) == b.get(L, bo + 40);
    }

    // ---- fields ------------------------------------------------------------------------------------

    private void stamp(DropRecord w, int cpu) {
        long mono = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        if (mono >= nextClockSync) {
            syncClock();
            mono = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        }
        w.cpu(cpu).ktimeNs(mono).wallNs(mono + wallOffsetNs).nodeId(nodeId);
    }

    /** Wall time is CLOCK_MONOTONIC plus an offset to CLOCK_REALTIME refreshed once a second. */
    private void syncClock() {
        long mono = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        long real = Libc.clockGettimeNs(Libc.CLOCK_REALTIME);
        long mono2 = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        wallOffsetNs = real - (mono + mono2) / 2;
        nextClockSync = mono2 + 1_000_000_000L;
    }

    /**
     * Egress when the program that dropped ran for the endpoint at the packet's source address
     * (Hubble's rule): the CiliumEndpoint there has endpoint ID {@code source}. Endpoint IDs are
     * node-local, so an endpoint the IP cache places on another node does not count.
     */
    private boolean egressFromSource(int source, long srcLabel, DropRecord w) {
        if (source == 0 || table == null) {
            return false;
        }
        int family = w.family();
        MemorySegment seg = w.segment();
        long a = w.offset() + DropRecord.SRC_IP_OFFSET;
        CiliumIdentityTable.Snapshot s = table.snapshot();
        long want = srcLabel != 0 ? srcLabel : CiliumIdentityTable.ANY_IDENTITY;
        CiliumIdentityTable.Endpoint ep;
        int local = 0;
        if (family == DropRecord.FAMILY_IPV4) {
            int v4 = seg.get(BE_INT, a);
            ep = s.endpointIpv4(v4, want);
            if (cache != null) local = cache.lookupIpv4(v4);
        } else if (family == DropRecord.FAMILY_IPV6) {
            long hi = seg.get(BE_LONG, a), lo = seg.get(BE_LONG, a + 8);
            ep = s.endpointIpv6(hi, lo, want);
            if (cache != null) local = cache.lookupIpv6(hi, lo);
        } else {
            return false;
        }
        if (ep == null || ep.endpointId() != source) {
            return false;
        }
        Identity c = local != 0 ? cache.identity(local) : null;
        return c == null || c.node() == null || node == null || node.equals(c.node());
    }

    /** IDENTITY dictionary id of one end: Cilium identity {@code id} at the record's source or destination address. */
    private int identityId(long id, DropRecord w, boolean source) {
        if (id > 0 && id < reservedIds.length) {
            return reservedIds[(int) id];
        }
        int family = w.family();
        boolean haveIp = family == DropRecord.FAMILY_IPV4 || family == DropRecord.FAMILY_IPV6;
        MemorySegment seg = w.segment();
        long a = w.offset() + (source ? DropRecord.SRC_IP_OFFSET : DropRecord.DST_IP_OFFSET);
        int v4 = 0;
        long hi = 0, lo = 0;
        if (family == DropRecord.FAMILY_IPV4) {
            v4 = seg.get(BE_INT, a);
        } else if (family == DropRecord.FAMILY_IPV6) {
            hi = seg.get(BE_LONG, a);
            lo = seg.get(BE_LONG, a + 8);
        }
        int local = 0;
        Identity cached = null;
        if (cache != null && haveIp) {
            local = family == DropRecord.FAMILY_IPV4 ? cache.lookupIpv4(v4) : cache.lookupIpv6(hi, lo);
            cached = local != 0 ? cache.identity(local) : null;
        }
        if (table != null) {
            CiliumIdentityTable.Snapshot s = table.snapshot();
            if (haveIp) {
                long want = id == 0 ? CiliumIdentityTable.ANY_IDENTITY : id;
                CiliumIdentityTable.Endpoint ep = family == DropRecord.FAMILY_IPV4 ? s.endpointIpv4(v4, want)
                        : s.endpointIpv6(hi, lo, want);
                if (ep != null) {
                    if (cached != null && ep.pod().equals(cached.pod()) && ep.namespace().equals(cached.namespace())) {
                        return resolver.journalIdFor(local);
                    }
                    return tableId(ep.localId(), ep.json());
                }
            }
            if (id > 0) {
                CiliumIdentityTable.SecurityIdentity si = s.identity(id);
                if (si != null) {
                    if (cached != null && cached.pod() != null && si.namespace() != null
                            && si.namespace().equals(cached.namespace()) && si.labelsContainedIn(cached.labels())) {
                        return resolver.journalIdFor(local);
                    }
                    return tableId(si.localId(), si.json());
                }
            }
        }
        if (resolver == null || !haveIp) {
            return 0;
        }
        if (id > 0 && ReservedIdentities.scope(id) == ReservedIdentities.SCOPE_GLOBAL) {
            // a cluster identity Cilium knows: an address the IP cache does not know is not "world"
            return resolver.journalIdFor(local);
        }
        return family == DropRecord.FAMILY_IPV4 ? resolver.ipv4(v4) : resolver.ipv6(hi, lo);
    }

    private int tableId(int localId, String json) {
        int[] ids = tableIds;
        if (localId < ids.length && ids[localId] != 0) {
            return ids[localId];
        }
        int j = journal.intern(DictionaryKind.IDENTITY, json);
        if (localId >= ids.length) {
            ids = tableIds = Arrays.copyOf(ids, Math.max(localId + 1, ids.length * 2));
        }
        ids[localId] = j;
        return j;
    }

    /** DETAIL id of the {@code cilium} object; {@code match} {@link #NO_MATCH} omits match_type. */
    private int detailId(long src, long dst, int match, long cookie) {
        long k1 = (src & 0xffffffffL) << 32 | (dst & 0xffffffffL);
        long k2 = (long) (match + 1) << 32 | (cookie & 0xffffffffL);
        int id = detailIds.get(k1, k2);
        if (id == 0) {
            String text = DropView.ciliumJson(new CiliumVerdict(src, dst,
                    match == NO_MATCH ? null : PolicyVerdictNotify.matchTypeName(match), cookie));
            id = journal.intern(DictionaryKind.DETAIL, text);
            detailIds.put(k1, k2, id);
        }
        return id;
    }

    /** POLICY id of what a verdict tells: {@code {"action","match_type","rule_cookie"}} (cookie when non-zero). */
    private int policyId(PolicyVerdictNotify.Action action, int match, long cookie) {
        long k1 = action.ordinal();
        long k2 = (long) (match + 1) << 32 | (cookie & 0xffffffffL);
        int id = policyIds.get(k1, k2);
        if (id == 0) {
            id = journal.intern(DictionaryKind.POLICY, policyJson(action, match, cookie));
            policyIds.put(k1, k2, id);
        }
        return id;
    }

    /** The POLICY text of a verdict (see the class comment). */
    static String policyJson(PolicyVerdictNotify.Action action, int match, long cookie) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("action", ACTIONS[action.ordinal()]);
        m.put("match_type", PolicyVerdictNotify.matchTypeName(match));
        if (cookie != 0) {
            m.put("rule_cookie", cookie);
        }
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void inc(AtomicLongArray a, int i) {
        a.setRelease(i, a.getPlain(i) + 1);
    }

    // =================================================================================================
    // counters (any thread)
    // =================================================================================================

    /** Samples translated (every payload). */
    public long samples() { return counts.get(SAMPLES); }

    /** Drop notifications decoded. */
    public long drops() { return counts.get(DROPS); }

    /** Policy verdicts that denied (verdict &lt; 0). */
    public long verdictsDenied() { return counts.get(DENIED); }

    /** Policy verdicts allowed only by audit mode. */
    public long verdictsAudited() { return counts.get(AUDITED); }

    /** Policy verdicts that allowed (verdict 0, not audited). */
    public long verdictsAllowed() { return counts.get(ALLOWED); }

    /** Policy verdicts that redirected to the L7 proxy (verdict &gt; 0). */
    public long verdictsRedirected() { return counts.get(REDIRECTED); }

    /** Events made of a denied verdict and the drop notification of the same packet. */
    public long combined() { return counts.get(COMBINED); }

    /** Denied verdicts journaled without a drop notification. */
    public long verdictsAlone() { return counts.get(VERDICTS_ALONE); }

    /** Policy-denial drops journaled without a verdict (after waiting for one). */
    public long policyDropsAlone() { return counts.get(POLICY_DROPS_ALONE); }

    /** Events emitted. */
    public long events() { return counts.get(EVENTS); }

    /** Samples of message type {@code type} skipped (trace 4, debug 2, capture 3, recorder 6, trace-sock 7, ...). */
    public long skipped(int type) { return type >= 0 && type < 256 ? skipped.get(type) : 0; }

    /** All skipped samples. */
    public long skipped() {
        long n = 0;
        for (int i = 0; i < 256; i++) n += skipped.get(i);
        return n;
    }

    /** Samples rejected for {@code e}. */
    public long decodeErrors(CiliumMessageDecoder.DecodeError e) { return errors.get(e.ordinal()); }

    /** All rejected samples. */
    public long decodeErrors() {
        long n = 0;
        for (int i = 0; i < errors.length(); i++) n += errors.get(i);
        return n;
    }

    /** Records waiting for their partner now (writer thread's view; approximate from other threads). */
    public int held() { return heldCount; }

    /** Counters for {@code status -o json}: JSON-friendly nested maps. */
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("samples", samples());
        m.put("drops", drops());
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("denied", verdictsDenied());
        v.put("audited", verdictsAudited());
        v.put("allowed", verdictsAllowed());
        v.put("redirected", verdictsRedirected());
        m.put("verdicts", v);
        m.put("combined", combined());
        m.put("verdicts_alone", verdictsAlone());
        m.put("policy_drops_alone", policyDropsAlone());
        m.put("events", events());
        Map<String, Object> s = new LinkedHashMap<>();
        for (int t = 0; t < 256; t++) {
            long n = skipped.get(t);
            if (n != 0) s.put(typeName(t), n);
        }
        m.put("skipped", s);
        Map<String, Object> e = new LinkedHashMap<>();
        for (CiliumMessageDecoder.DecodeError k : CiliumMessageDecoder.DecodeError.values()) {
            e.put(k.name().toLowerCase(java.util.Locale.ROOT), decodeErrors(k));
        }
        m.put("decode_errors", e);
        m.put("ambiguous_drop_layouts", counts.get(AMBIGUOUS));
        m.put("extension_packets_skipped", counts.get(EXTENSION));
        return m;
    }

    /** {@code cilium monitor --type} names of message types. */
    static String typeName(int type) {
        return switch (type) {
            case CiliumNotification.TYPE_DEBUG -> "debug";
            case CiliumNotification.TYPE_DEBUG_CAPTURE -> "capture";
            case CiliumNotification.TYPE_TRACE -> "trace";
            case CiliumNotification.TYPE_RECORDER -> "recorder";
            case CiliumNotification.TYPE_TRACE_SOCK -> "trace-sock";
            case CiliumNotification.TYPE_ACCESS_LOG -> "l7";
            case CiliumNotification.TYPE_AGENT -> "agent";
            default -> Integer.toString(type);
        };
    }
}
