package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import dev.droptrace.agent.event.PolicyRef;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.identity.IdentityResolver;
import dev.droptrace.agent.journal.DictionaryKind;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.pipeline.EventSink;
import dev.droptrace.agent.pipeline.PayloadTranslator;
import dev.droptrace.agent.pipeline.SourceContext;
import dev.droptrace.libc.Libc;
import org.agrona.collections.Int2IntHashMap;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * Turns one nfnetlink_log packet message (the payload, from its {@code nlmsghdr}; aux = the NFLOG
 * group) into a Calico event: the 5-tuple, TCP flags, ICMP type and code and length from the logged
 * packet; direction from the prefix (else the group: 1 ingress, 2 egress); the workload interface
 * (the output device for ingress, the input device for egress, whichever is set otherwise) and its
 * name; wall time from NFULA_TIMESTAMP when present and plausible, else now; the node; the pods at
 * both ends; a {@link CalicoReason}; and the policy as a POLICY dictionary text
 * ({@link CalicoPolicyJson}).
 *
 * <p>Deny records ({@link CalicoReason#drop()}) are emitted mergeable: the kernel drops the packet
 * next with {@code NETFILTER_DROP} ({@link #KERNEL_MERGE_REASONS}), and the pipeline joins the two.
 * Allow and pass records (and prefixes outside Calico's grammar) are only counted, unless
 * {@code journalAllowed}, when they are journaled as they are.
 *
 * <p>Hashed prefixes are resolved against the current {@link KnownPolicies} snapshot; a new snapshot
 * (any policy change) empties the prefix and policy-text caches. An end-of-tier deny in the default
 * tier (or an unresolved tier) is a default deny: it names the Kubernetes NetworkPolicies that isolate
 * the pod at the policy's end (the destination for ingress, the source for egress), cached per pod
 * version. Steady state allocates nothing: prefixes, policy ids and interface ids are cached; only a
 * first sight parses, builds JSON and interns. Writer thread only; counters may be read from any
 * thread.
 */
public final class CalicoPayloadTranslator implements PayloadTranslator {
    /** Kernel drop reasons of the packets Calico denies (its DROP rules), to merge with. */
    public static final Set<String> KERNEL_MERGE_REASONS = Set.of("NETFILTER_DROP");
    /** Calico's NFLOG groups (§3.1). */
    public static final int GROUP_INGRESS = 1, GROUP_EGRESS = 2;
    /** A kernel timestamp further than this from the clock is not believed (an unstamped or mono-stamped skb). */
    static final long MAX_CLOCK_SKEW_NS = 3_600_000_000_000L;
    private static final int MAX_CACHED_PREFIXES = 4096;
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final NflogParseError[] ERRORS = NflogParseError.values();

    private final DropJournal journal;
    private final IdentityCache cache;
    private final IdentityResolver identities;
    private final String node;
    private final Supplier<KnownPolicies> policies;
    private final InterfaceNames interfaces;
    private final boolean journalAllowed;

    private final NflogMessageParser parser = new NflogMessageParser();
    private final NflogPayloadDecoder decoder = new NflogPayloadDecoder();
    private final CalicoPrefixCache prefixes = new CalicoPrefixCache(1024);
    private final IdentityHashMap<CalicoPrefix, PrefixInfo> infos = new IdentityHashMap<>();
    private final Int2IntHashMap interfaceIds = new Int2IntHashMap(0);
    private volatile KnownPolicies known;
    private boolean initialized;
    private int nodeId;
    private long seenParserErrors;
    private long seenDecoderErrors;

    private final AtomicLong packets = new AtomicLong();
    private final AtomicLongArray byReason = new AtomicLongArray(CalicoReason.values().length + 1);
    private final AtomicLong emitted = new AtomicLong();
    private final AtomicLong otherMessages = new AtomicLong();
    private final AtomicLong undecodable = new AtomicLong();
    private final AtomicLong unresolvedHashed = new AtomicLong();
    private final AtomicLong groupMismatch = new AtomicLong();
    private final AtomicLong clockRejected = new AtomicLong();
    private final AtomicLong transportTruncated = new AtomicLong();
    private final AtomicLong policySnapshots = new AtomicLong();
    private final AtomicLongArray errors = new AtomicLongArray(ERRORS.length);

    /** What is known about one prefix (one parsed {@link CalicoPrefix} object of the cache). */
    private static final class PrefixInfo {
        final CalicoReason reason;
        final boolean unresolvedHash;
        final boolean defaultDeny;
        /** POLICY ids by direction code, 0 until first needed. */
        final int[] policyIds = new int[3];
        /** Default deny: POLICY id per pod (cache local id), for the prefix's direction. */
        Int2IntHashMap perPod;

        PrefixInfo(CalicoPrefix p) {
            reason = CalicoReason.of(p);
            unresolvedHash = CalicoPolicyJson.unresolvedHash(p);
            String tier = p.policy() == null ? null : p.policy().tier();
            defaultDeny = reason == CalicoReason.TIER_END_DENY && (tier == null || tier.equals("default"));
        }
    }

    /**
     * @param journal        the journal (dictionary text is interned on the writer thread)
     * @param identities     pods by address, or null (no identities, no default-deny attribution)
     * @param node           this node's name, or null
     * @param policies       the current policy snapshot ({@link KubernetesPolicySource}, or
     *                       {@code () -> KnownPolicies.EMPTY} without a cluster)
     * @param interfaces     interface names of the agent's network namespace
     * @param journalAllowed journal allow and pass records too ({@code SourceOptions.calicoAllowed})
     */
    public CalicoPayloadTranslator(DropJournal journal, IdentityCache identities, String node,
                                   Supplier<KnownPolicies> policies, InterfaceNames interfaces, boolean journalAllowed) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.cache = identities;
        this.identities = identities == null ? null
                : new IdentityResolver(identities, text -> journal.intern(DictionaryKind.IDENTITY, text));
        this.node = node;
        this.policies = Objects.requireNonNull(policies, "policies");
        this.interfaces = Objects.requireNonNull(interfaces, "interfaces");
        this.journalAllowed = journalAllowed;
    }

    /** The agent's translator: journal, identities, node and {@code calicoAllowed} from the context. */
    public CalicoPayloadTranslator(SourceContext ctx, Supplier<KnownPolicies> policies) {
        this(ctx.journal(), ctx.identities(), ctx.node(), policies, new InterfaceNames(), ctx.options().calicoAllowed());
    }

    @Override
    public void translate(MemorySegment data, long offset, int length, int aux, EventSink sink) {
        if (!initialized) {
            initialize();
        }
        refreshPolicies();
        if (offset < 0 || length < 0 || offset + length > data.byteSize()) {
            count(otherMessages);
            return;
        }
        parser.wrap(data, offset, length);
        NflogMessageParser.Kind kind;
        while ((kind = parser.next()) != NflogMessageParser.Kind.END) {
            if (kind == NflogMessageParser.Kind.PACKET) {
                onPacket(sink);
            } else {
                count(otherMessages);
            }
        }
        publishErrors();
    }

    private void initialize() {
        initialized = true;
        CalicoReason.defineAll(journal);
        nodeId = node == null ? 0 : journal.intern(DictionaryKind.STRING, node);
    }

    private void refreshPolicies() {
        KnownPolicies k = policies.get();
        if (k != known) {
            known = k;
            prefixes.resolver(k == null ? null : k.resolver());
            infos.clear();
            count(policySnapshots);
        }
    }

    private void onPacket(EventSink sink) {
        count(packets);
        CalicoPrefix prefix = prefixes.lookup(parser);
        PrefixInfo info = infos.get(prefix);
        if (info == null) {
            if (infos.size() >= MAX_CACHED_PREFIXES) infos.clear();
            info = new PrefixInfo(prefix);
            infos.put(prefix, info);
        }
        CalicoReason reason = info.reason;
        byReason.setRelease(reason.code(), byReason.getPlain(reason.code()) + 1);
        if (info.unresolvedHash) count(unresolvedHashed);
        int group = parser.group();
        Direction direction = prefix.direction();
        Direction groupDirection = group == GROUP_INGRESS ? Direction.INGRESS
                : group == GROUP_EGRESS ? Direction.EGRESS : Direction.UNKNOWN;
        if (direction == Direction.UNKNOWN) {
            direction = groupDirection;
        } else if (groupDirection != Direction.UNKNOWN && groupDirection != direction) {
            count(groupMismatch);
        }
        if (!reason.drop() && !journalAllowed) {
            return;
        }
        DropRecord r = sink.begin();
        if (!decoder.decode(parser, r)) {
            count(undecodable);
            return;
        }
        long real = Libc.clockGettimeNs(Libc.CLOCK_REALTIME);
        long wall = real;
        if (parser.hasTimestamp()) {
            long ts = parser.timestampSeconds() * 1_000_000_000L + parser.timestampMicros() * 1_000L;
            if (Math.abs(ts - real) <= MAX_CLOCK_SKEW_NS) wall = ts;
            else count(clockRejected);
        }
        int in = parser.indev();
        int out = parser.outdev();
        int ifindex = direction == Direction.INGRESS ? (out != 0 ? out : in) : (in != 0 ? in : out);
        r.source(DropSource.CALICO)
                .direction(direction)
                .reasonCode(reason.code())
                .ifindex(ifindex)
                .interfaceId(interfaceId(ifindex))
                .ktimeNs(Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC))
                .wallNs(wall)
                .nodeId(nodeId);
        if (identities != null) identities.enrich(r);
        r.policyId(policyId(prefix, info, direction, r));
        r.detailId(detailId(parser.group(), parser.hook(), parser.has(NflogMessageParser.NFULA_MARK), parser.mark(), in, out));
        if (decoder.transportTruncated() != transportTruncated.getPlain()) {
            transportTruncated.setRelease(decoder.transportTruncated());
        }
        sink.emit(reason.drop());
        count(emitted);
    }

    /**
     * The DETAIL id of the NFLOG facts the event's fields do not hold: group, netfilter hook, packet
     * mark (Calico's accept/pass/drop bits) and both interfaces. Few distinct combinations on a node,
     * so the ids are cached by value and a repeat allocates nothing.
     */
    private int detailId(int group, int hook, boolean hasMark, int mark, int in, int out) {
        long k1 = (long) mark << 32 | (hasMark ? 1L << 24 : 0) | (group & 0xffffL) << 8 | (hook & 0xff);
        long k2 = (long) in << 32 | (out & 0xffffffffL);
        Long2LongHashMap inner = detailIds.get(k1);
        if (inner == null) {
            inner = new Long2LongHashMap(0);
            detailIds.put(k1, inner);
        }
        long id = inner.get(k2);
        if (id == 0) {
            id = journal.intern(DictionaryKind.DETAIL, CalicoPolicyJson.detail(group, hook, hasMark, mark,
                    in, in == 0 ? null : interfaces.name(in), out, out == 0 ? null : interfaces.name(out)));
            inner.put(k2, id);
        }
        return (int) id;
    }

    private final Long2ObjectHashMap<Long2LongHashMap> detailIds = new Long2ObjectHashMap<>();

    private int policyId(CalicoPrefix prefix, PrefixInfo info, Direction direction, DropRecord r) {
        if (info.defaultDeny && cache != null) {
            int local = localPod(r, direction);
            Identity pod = local > IdentityCache.WORLD ? cache.identity(local) : null;
            if (pod != null && pod.pod() != null) {
                if (info.perPod == null) info.perPod = new Int2IntHashMap(0);
                int id = info.perPod.get(local);
                if (id == 0) {
                    List<KnownPolicies.NetworkPolicyEntry> by = known == null ? List.of()
                            : known.isolating(pod.namespace(), pod.labels(), direction);
                    id = journal.intern(DictionaryKind.POLICY, CalicoPolicyJson.defaultDeny(direction, by, prefix));
                    info.perPod.put(local, id);
                }
                return id;
            }
        }
        int d = direction.code();
        int id = info.policyIds[d];
        if (id == 0) {
            String text = info.reason == CalicoReason.TIER_END_DENY
                    ? CalicoPolicyJson.defaultDeny(direction, List.of(), prefix)
                    : CalicoPolicyJson.of(prefix, direction, tierFromApi(prefix));
            id = journal.intern(DictionaryKind.POLICY, text);
            info.policyIds[d] = id;
        }
        return id;
    }

    /**
     * The tier of a rule hit whose prefix does not carry it (v3.32 and later, spec 3.6 step 7), from
     * the policy as the API knows it; null when the prefix has it or the policy is unknown.
     */
    private String tierFromApi(CalicoPrefix prefix) {
        PolicyRef p = prefix.policy();
        if (p == null || p.tier() != null || p.name() == null) return null;
        KnownPolicies known = policies.get();
        return known == null ? null : known.tierOf(p.kind(), p.namespace(), p.name());
    }

    /** The cache local id of the address at the policy's end: destination for ingress, source for egress. */
    private int localPod(DropRecord r, Direction direction) {
        int field = direction == Direction.EGRESS ? DropRecord.SRC_IP_OFFSET : DropRecord.DST_IP_OFFSET;
        MemorySegment seg = r.segment();
        long at = r.offset() + field;
        return switch (r.family()) {
            case DropRecord.FAMILY_IPV4 -> cache.resolveIpv4(seg.get(BE_INT, at));
            case DropRecord.FAMILY_IPV6 -> cache.resolveIpv6(seg, at);
            default -> 0;
        };
    }

    private int interfaceId(int ifindex) {
        if (ifindex <= 0) return 0;
        int id = interfaceIds.get(ifindex);
        if (id != 0) return id;
        String name = interfaces.name(ifindex);
        if (name == null) return 0;
        id = journal.intern(DictionaryKind.STRING, name);
        interfaceIds.put(ifindex, id);
        return id;
    }

    private void publishErrors() {
        long p = parser.totalErrors();
        long d = decoder.totalErrors();
        if (p == seenParserErrors && d == seenDecoderErrors) return;
        seenParserErrors = p;
        seenDecoderErrors = d;
        for (NflogParseError e : ERRORS) {
            errors.setRelease(e.ordinal(), parser.errors(e) + decoder.errors(e));
        }
    }

    private static void count(AtomicLong c) {
        c.setRelease(c.getPlain() + 1);
    }

    // ---- counters ------------------------------------------------------------------------------

    /**
     * Counters for status: packet messages; records by reason (deny, allow, pass … by
     * {@link CalicoReason}); events emitted; non-packet netlink messages (acks, DONE, bad framing);
     * packets whose IP header could not be decoded (not emitted); packets with a hashed prefix no known
     * policy resolves; prefixes whose direction disagrees with their group; kernel timestamps not
     * believed; packets cut inside the transport header (not an error); policy snapshots applied;
     * decode errors by {@link NflogParseError} kind.
     */
    public record Counters(long packets, Map<CalicoReason, Long> byReason, long emitted, long otherMessages,
                           long undecodable, long unresolvedHashed, long groupMismatch, long clockRejected,
                           long transportTruncated, long policySnapshots, Map<NflogParseError, Long> errors) {
        /** Records whose reason is a drop. */
        public long denied() {
            return byReason.entrySet().stream().filter(e -> e.getKey().drop()).mapToLong(Map.Entry::getValue).sum();
        }

        public long allowed() {
            return byReason.getOrDefault(CalicoReason.ALLOW, 0L);
        }

        public long passed() {
            return byReason.getOrDefault(CalicoReason.PASS, 0L) + byReason.getOrDefault(CalicoReason.TIER_END_PASS, 0L);
        }

        public long decodeErrors() {
            return errors.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    public Counters counters() {
        Map<CalicoReason, Long> reasons = new LinkedHashMap<>();
        for (CalicoReason r : CalicoReason.values()) reasons.put(r, byReason.get(r.code()));
        Map<NflogParseError, Long> errs = new LinkedHashMap<>();
        for (NflogParseError e : ERRORS) errs.put(e, errors.get(e.ordinal()));
        return new Counters(packets.get(), reasons, emitted.get(), otherMessages.get(), undecodable.get(),
                unresolvedHashed.get(), groupMismatch.get(), clockRejected.get(), transportTruncated.get(),
                policySnapshots.get(), errs);
    }

    /** The counters as JSON-friendly values for {@code status -o json} (non-zero error kinds only). */
    public Map<String, Object> status() {
        Counters c = counters();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("packets", c.packets());
        m.put("denied", c.denied());
        m.put("allowed", c.allowed());
        m.put("passed", c.passed());
        Map<String, Long> reasons = new LinkedHashMap<>();
        c.byReason().forEach((k, v) -> reasons.put(k.name(), v));
        m.put("by_reason", reasons);
        m.put("events", c.emitted());
        m.put("other_messages", c.otherMessages());
        m.put("undecodable", c.undecodable());
        m.put("unresolved_hashed_prefixes", c.unresolvedHashed());
        m.put("group_mismatch", c.groupMismatch());
        m.put("timestamps_rejected", c.clockRejected());
        m.put("decode_errors", c.decodeErrors());
        Map<String, Long> errs = new LinkedHashMap<>();
        c.errors().forEach((k, v) -> {
            if (v != 0) errs.put(k.name(), v);
        });
        m.put("decode_errors_by_kind", errs);
        KnownPolicies k = known;
        if (k != null) {
            m.put("known_policies", k.policyCount());
            m.put("known_network_policies", k.networkPolicyCount());
        }
        return m;
    }
}
