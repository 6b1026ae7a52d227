package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;

import java.lang.foreign.MemorySegment;

/**
 * Decodes one Cilium monitor sample (the raw bytes of one {@code PERF_RECORD_SAMPLE}, or the
 * {@code Data} of one monitor-socket payload): classifies it, settles the struct size as spec
 * section 3.6 describes, and locates the captured packet, sliced with {@code len_cap} and never
 * the 0-7 perf padding bytes after it.
 *
 * <p>Header lengths. Drop versions 2 and 3 are 40 and 48 bytes. Drop version 0/1 is 32 bytes up to
 * Cilium 1.12 and 36 from 1.13; policy verdicts are 32 bytes up to 1.18 and 40 from 1.19. With a
 * {@code versionOverride} ({@code --cilium-version}) the release decides. Without one the sample
 * size decides: it must be {@code roundup(H + len_cap + 4, 8) - 4} (perf padding) or exactly
 * {@code H + len_cap}; this always separates the two verdict layouts, but a drop v1 sample can fit
 * both 32 and 36, and then 36 is taken, as Cilium's own decoder does, and
 * {@link #ambiguousDrops()} is counted. A sample whose size fits no layout is a counted error.
 *
 * <p>One instance per thread: {@link #decode} wraps the flyweights {@link #drop()} and
 * {@link #policyVerdict()} in place and allocates nothing; bad input is counted by
 * {@link DecodeError} and never thrown. Trace notifications are skipped and counted.
 */
public final class CiliumMessageDecoder {
    /** What a sample was. */
    public enum Kind {
        /** A {@code drop_notify}; read it through {@link #drop()}. */
        DROP,
        /** A {@code policy_verdict_notify}; read it through {@link #policyVerdict()}. */
        POLICY_VERDICT,
        /** A trace notification: skipped and counted. */
        TRACE,
        /** Another known message type (debug, capture, recorder, trace-sock, agent): skipped and counted. */
        OTHER,
        /** Bad input; see {@link #lastError()}. */
        ERROR
    }

    /** Why a sample was rejected. */
    public enum DecodeError {
        /** No bytes at all, or a length outside the segment. */
        EMPTY,
        /** Shorter than its fixed struct. */
        TRUNCATED,
        /** Type 0 or a type Cilium does not define. */
        UNKNOWN_TYPE,
        /** A drop version above 3 or a policy-verdict version other than 1. */
        UNSUPPORTED_VERSION,
        /** The sample size fits no layout: {@code len_cap} runs past the end, or extra bytes follow the padding. */
        LENGTH_MISMATCH,
        /** {@code len_cap} is larger than {@code len_orig}. */
        CAPTURE_EXCEEDS_ORIGINAL
    }

    private static final Kind[] KINDS = Kind.values();
    private static final DecodeError[] ERRORS = DecodeError.values();
    private static final CapturedPacketParser.Status[] STATUSES = CapturedPacketParser.Status.values();

    private final CiliumVersion versionOverride;
    private final DropNotify drop = new DropNotify();
    private final PolicyVerdictNotify verdict = new PolicyVerdictNotify();
    private final long[] kindCounts = new long[KINDS.length];
    private final long[] errorCounts = new long[ERRORS.length];
    private final long[] packetCounts = new long[STATUSES.length];
    private long ambiguousDrops;
    private long extensionSkipped;

    private Kind lastKind = Kind.ERROR;
    private DecodeError lastError;
    private MemorySegment segment;
    private long packetOffset;
    private int packetLength;
    private boolean packetKnown;

    /** A decoder that works out header lengths from the sample size. */
    public CiliumMessageDecoder() {
        this(null);
    }

    /** A decoder for the given Cilium release ({@code --cilium-version}), or null to work it out. */
    public CiliumMessageDecoder(CiliumVersion versionOverride) {
        this.versionOverride = versionOverride;
    }

    public CiliumVersion versionOverride() {
        return versionOverride;
    }

    /** Decodes a sample held in a byte array (wrap the array once and use the segment form to avoid allocating). */
    public Kind decode(byte[] sample) {
        return decode(MemorySegment.ofArray(sample), 0, sample.length);
    }

    /** Decodes the sample of {@code length} bytes at {@code offset} of {@code segment}. */
    public Kind decode(MemorySegment segment, long offset, long length) {
        this.segment = segment;
        this.packetKnown = false;
        this.packetLength = 0;
        this.lastError = null;
        if (length <= 0 || offset < 0 || offset + length > segment.byteSize()) {
            return error(DecodeError.EMPTY);
        }
        int type = segment.get(CiliumNotification.U8, offset) & 0xff;
        return switch (type) {
            case CiliumNotification.TYPE_DROP -> decodeDrop(segment, offset, length);
            case CiliumNotification.TYPE_POLICY_VERDICT -> decodeVerdict(segment, offset, length);
            case CiliumNotification.TYPE_TRACE -> length < CiliumNotification.CAPTURE_HEADER_SIZE
                    ? error(DecodeError.TRUNCATED) : kind(Kind.TRACE);
            case CiliumNotification.TYPE_DEBUG, CiliumNotification.TYPE_DEBUG_CAPTURE, CiliumNotification.TYPE_RECORDER,
                    CiliumNotification.TYPE_TRACE_SOCK, CiliumNotification.TYPE_ACCESS_LOG,
                    CiliumNotification.TYPE_AGENT -> kind(Kind.OTHER);
            default -> error(DecodeError.UNKNOWN_TYPE);
        };
    }

    private Kind decodeDrop(MemorySegment seg, long off, long len) {
        if (len < CiliumNotification.CAPTURE_HEADER_SIZE) {
            return error(DecodeError.TRUNCATED);
        }
        drop.wrap(seg, off, len, 0);
        int cap = drop.lenCap();
        int h;
        switch (drop.version()) {
            case 0, 1 -> {
                if (versionOverride != null) {
                    h = versionOverride.atLeast(CiliumVersion.V1_13) ? 36 : 32;
                } else if (drop.extVersion() != 0) {
                    h = 36;
                } else {
                    boolean f36 = fits(len, 36, cap);
                    boolean f32 = fits(len, 32, cap);
                    if (f36 && f32) {
                        ambiguousDrops++;
                    }
                    h = f36 || !f32 ? 36 : 32;
                }
            }
            case 2 -> h = 40;
            case 3 -> h = 48;
            default -> {
                return error(DecodeError.UNSUPPORTED_VERSION);
            }
        }
        if (len < h) {
            return error(DecodeError.TRUNCATED);
        }
        drop.wrap(seg, off, len, h);
        return locate(Kind.DROP, off, len, h, cap, drop.lenOrig(), drop.extVersion());
    }

    private Kind decodeVerdict(MemorySegment seg, long off, long len) {
        if (len < CiliumNotification.CAPTURE_HEADER_SIZE) {
            return error(DecodeError.TRUNCATED);
        }
        verdict.wrap(seg, off, len, 0);
        if (verdict.version() != 1) {
            return error(DecodeError.UNSUPPORTED_VERSION);
        }
        int cap = verdict.lenCap();
        int h;
        if (versionOverride != null) {
            h = versionOverride.atLeast(CiliumVersion.V1_19) ? 40 : 32;
        } else if (verdict.extVersion() != 0) {
            h = 40; // ext_version exists only from v1.19
        } else {
            h = fits(len, 32, cap) ? 32 : 40;
        }
        if (len < h) {
            return error(DecodeError.TRUNCATED);
        }
        verdict.wrap(seg, off, len, h);
        return locate(Kind.POLICY_VERDICT, off, len, h, cap, verdict.lenOrig(), verdict.extVersion());
    }

    private Kind locate(Kind kind, long off, long len, int h, int cap, long lenOrig, int extVersion) {
        if (cap > lenOrig) {
            return error(DecodeError.CAPTURE_EXCEEDS_ORIGINAL);
        }
        if (extVersion != 0) {
            // a downstream extension of unknown length sits before the packet: keep the header only
            extensionSkipped++;
            return kind(kind);
        }
        if (!fits(len, h, cap)) {
            return error(DecodeError.LENGTH_MISMATCH);
        }
        packetOffset = off + h;
        packetLength = cap;
        packetKnown = true;
        return kind(kind);
    }

    /** True if {@code size} is {@code h + cap} exactly or with perf padding to {@code 4 + size ≡ 0 (mod 8)}. */
    static boolean fits(long size, int h, int cap) {
        long exact = (long) h + cap;
        return size == exact || size == ((exact + 4 + 7) & ~7L) - 4;
    }

    private Kind kind(Kind k) {
        kindCounts[k.ordinal()]++;
        lastKind = k;
        return k;
    }

    private Kind error(DecodeError e) {
        errorCounts[e.ordinal()]++;
        lastError = e;
        return kind(Kind.ERROR);
    }

    // ---- the last decoded sample -------------------------------------------------------------------

    /** Kind of the last decoded sample. */
    public Kind lastKind() {
        return lastKind;
    }

    /** Why the last sample was rejected, or null. */
    public DecodeError lastError() {
        return lastError;
    }

    /** The last drop (valid after {@link #decode} returned {@link Kind#DROP}). */
    public DropNotify drop() {
        return drop;
    }

    /** The last policy verdict (valid after {@link #decode} returned {@link Kind#POLICY_VERDICT}). */
    public PolicyVerdictNotify policyVerdict() {
        return verdict;
    }

    /** Header length of the last drop or verdict, which is where its packet starts. */
    public int headerLength() {
        return lastKind == Kind.DROP ? drop.headerLength() : lastKind == Kind.POLICY_VERDICT ? verdict.headerLength() : 0;
    }

    /** False when the packet's offset is unknown (non-zero {@code ext_version}) or there was no drop/verdict. */
    public boolean packetKnown() {
        return packetKnown;
    }

    /** Absolute offset of the captured packet in the decoded segment. */
    public long packetOffset() {
        return packetOffset;
    }

    /** Number of captured packet bytes ({@code len_cap}); 0 when not {@link #packetKnown()}. */
    public int packetLength() {
        return packetLength;
    }

    /** The captured packet of the last sample as a slice (allocates a view; for tests and the edge). */
    public MemorySegment packet() {
        return segment.asSlice(packetOffset, packetLength);
    }

    /** Cilium source identity of the last drop or verdict (for an egress verdict, 0: the local side is not sent). */
    public long srcIdentity() {
        if (lastKind == Kind.DROP) {
            return drop.srcLabel();
        }
        if (lastKind == Kind.POLICY_VERDICT && verdict.direction() == PolicyVerdictNotify.DIR_INGRESS) {
            return verdict.remoteLabel();
        }
        return 0;
    }

    /** Cilium destination identity of the last drop or verdict (for an ingress verdict, 0). */
    public long dstIdentity() {
        if (lastKind == Kind.DROP) {
            return drop.dstLabel();
        }
        if (lastKind == Kind.POLICY_VERDICT && verdict.direction() == PolicyVerdictNotify.DIR_EGRESS) {
            return verdict.remoteLabel();
        }
        return 0;
    }

    /** Cilium's reason code of the last drop (subtype) or denying verdict ({@code -verdict}); else 0. */
    public int reasonCode() {
        return lastKind == Kind.DROP ? drop.reason() : lastKind == Kind.POLICY_VERDICT ? verdict.dropReason() : 0;
    }

    /**
     * Fills {@code out} (already wrapped) from the last drop or verdict: clears it, sets source
     * {@code cilium}, length ({@code len_orig}), ifindex, direction, reason code, and the family,
     * addresses, protocol, ports and flags parsed from the captured packet. Identity and policy ids
     * are left for the enrichment step (see {@link #srcIdentity()}, {@link #dstIdentity()}).
     *
     * @return how far the packet parsed; {@link CapturedPacketParser.Status#EMPTY} when there was no packet
     */
    public CapturedPacketParser.Status fill(DropRecord out) {
        out.clear().source(DropSource.CILIUM);
        boolean l3;
        int tunnel;
        if (lastKind == Kind.DROP) {
            int flags = drop.flags();
            out.length(drop.lenOrig()).ifindex(drop.ifindex()).reasonCode(drop.reason());
            // dst_id is the local endpoint of an ingress drop and 0 for egress (and for early drops)
            out.direction(drop.dstId() != 0 ? Direction.INGRESS : Direction.UNKNOWN);
            if (packetLength > 0 && (flags & DropNotify.FLAG_IPV6) != 0) {
                out.family(DropRecord.FAMILY_IPV6);
            }
            l3 = (flags & DropNotify.FLAG_L3_DEV) != 0;
            tunnel = (flags & DropNotify.FLAG_GENEVE) != 0 ? CapturedPacketParser.TUNNEL_GENEVE
                    : (flags & DropNotify.FLAG_VXLAN) != 0 ? CapturedPacketParser.TUNNEL_VXLAN
                    : CapturedPacketParser.TUNNEL_NONE;
        } else if (lastKind == Kind.POLICY_VERDICT) {
            out.length(verdict.lenOrig()).reasonCode(verdict.dropReason());
            out.direction(Direction.fromCode(verdict.direction()));
            if (packetLength > 0) { // no family without addresses: they would print as 0.0.0.0
                out.family(verdict.ipv6() ? DropRecord.FAMILY_IPV6 : DropRecord.FAMILY_IPV4);
            }
            int proto = verdict.proto();
            out.protocol(proto);
            if (proto == CapturedPacketParser.IPPROTO_TCP || proto == CapturedPacketParser.IPPROTO_UDP
                    || proto == CapturedPacketParser.IPPROTO_SCTP) {
                out.dstPort(verdict.dstPort());
            }
            l3 = verdict.l3();
            tunnel = CapturedPacketParser.TUNNEL_NONE;
        } else {
            return CapturedPacketParser.Status.EMPTY;
        }
        CapturedPacketParser.Status s = packetKnown
                ? CapturedPacketParser.parse(segment, packetOffset, packetLength, l3, tunnel, out)
                : CapturedPacketParser.Status.EMPTY;
        packetCounts[s.ordinal()]++;
        return s;
    }

    // ---- counters -------------------------------------------------------------------------------------

    /** Samples decoded as {@code kind} (errors count under {@link Kind#ERROR}). */
    public long count(Kind kind) {
        return kindCounts[kind.ordinal()];
    }

    /** Samples rejected for {@code error}. */
    public long decodeErrors(DecodeError error) {
        return errorCounts[error.ordinal()];
    }

    /** All rejected samples. */
    public long decodeErrors() {
        return kindCounts[Kind.ERROR.ordinal()];
    }

    /** Packets {@link #fill} parsed with {@code status}. */
    public long packetCount(CapturedPacketParser.Status status) {
        return packetCounts[status.ordinal()];
    }

    /** Drop v0/v1 samples whose size fitted both the 32- and the 36-byte layout (36 taken). */
    public long ambiguousDrops() {
        return ambiguousDrops;
    }

    /** Drops and verdicts with a non-zero {@code ext_version}, whose packet was skipped. */
    public long extensionSkipped() {
        return extensionSkipped;
    }
}
