package dev.droptrace.agent.source.calico;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Flyweight over the netlink messages of one {@code recv()} from an nfnetlink_log socket
 * ({@code specs/calico-nflog.md} §1.2, §1.4, §1.5).
 *
 * <p>{@link #wrap} points it at a buffer; each {@link #next} steps to the following message and says
 * what it is. For an {@link Kind#PACKET NFULNL_MSG_PACKET} the attributes are read once, in place, and
 * the accessors ({@link #hook}, {@link #mark}, {@link #prefixOffset}, {@link #payloadOffset} …) return
 * them until the next call; nothing is allocated per message. Netlink header fields are read in host
 * byte order, nfgenmsg's {@code res_id} and every attribute number big-endian, and attribute types are
 * masked with {@code NLA_TYPE_MASK} (0x3FFF) so that the nested and byte-order bits never matter.
 *
 * <p>Bad input never throws and never loops: every step moves forward by at least one header, a
 * message or attribute that does not fit is counted by {@link NflogParseError} kind and skipped, and a
 * message header that cannot be trusted ends the buffer. Counters accumulate across buffers until
 * {@link #resetErrors}. One instance per reading thread; not thread-safe.
 */
public final class NflogMessageParser {

    /** What {@link #next} found. */
    public enum Kind {
        /** An NFULNL_MSG_PACKET (type 0x0400) whose header and attributes are well formed. */
        PACKET,
        /** NLMSG_ERROR: an ack (code 0) or a failure (a negative errno), see {@link #errorCode}. */
        ERROR,
        /** NLMSG_DONE, which ends a batch of several packets. */
        DONE,
        /** NLMSG_OVERRUN. */
        OVERRUN,
        /** Any other well-framed message (NLMSG_NOOP, config echoes, other subsystems); see {@link #type}. */
        OTHER,
        /** No more messages in this buffer. */
        END
    }

    /** Netlink header size. */
    public static final int NLMSG_HDRLEN = 16;
    /** nfgenmsg size. */
    public static final int NFGENMSG_LEN = 4;
    /** Netlink attribute header size. */
    public static final int NLA_HDRLEN = 4;
    /** Mask that strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an attribute type. */
    public static final int NLA_TYPE_MASK = 0x3FFF;

    public static final int NLMSG_NOOP = 1;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;
    public static final int NLMSG_OVERRUN = 4;
    /** {@code (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET}. */
    public static final int NFULNL_MSG_PACKET = 0x0400;
    /** {@code (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG}. */
    public static final int NFULNL_MSG_CONFIG = 0x0401;

    public static final int NFULA_PACKET_HDR = 1;
    public static final int NFULA_MARK = 2;
    public static final int NFULA_TIMESTAMP = 3;
    public static final int NFULA_IFINDEX_INDEV = 4;
    public static final int NFULA_IFINDEX_OUTDEV = 5;
    public static final int NFULA_IFINDEX_PHYSINDEV = 6;
    public static final int NFULA_IFINDEX_PHYSOUTDEV = 7;
    public static final int NFULA_HWADDR = 8;
    public static final int NFULA_PAYLOAD = 9;
    public static final int NFULA_PREFIX = 10;
    public static final int NFULA_UID = 11;
    public static final int NFULA_SEQ = 12;
    public static final int NFULA_SEQ_GLOBAL = 13;
    public static final int NFULA_GID = 14;
    public static final int NFULA_HWTYPE = 15;
    public static final int NFULA_HWHEADER = 16;
    public static final int NFULA_HWLEN = 17;
    public static final int NFULA_CT = 18;
    public static final int NFULA_CT_INFO = 19;

    private static final ValueLayout.OfInt HOST_U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfShort HOST_U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfInt BE_U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE_U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE_U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final NflogParseError[] ERRORS = NflogParseError.values();

    private final long[] errors = new long[ERRORS.length];

    private MemorySegment segment = MemorySegment.NULL;
    private long position;
    private long limit;

    // current message
    private long messageOffset;
    private int messageLength;
    private int type;
    private int flags;
    private int nlSeq;
    private int portId;
    private int errorCode;

    // current packet
    private int present;
    private int family;
    private int group;
    private int hwProtocol;
    private int hook;
    private int mark;
    private long timestampSeconds;
    private long timestampMicros;
    private int indev;
    private int outdev;
    private int physindev;
    private int physoutdev;
    private long prefixOffset;
    private int prefixLength;
    private int uid;
    private int gid;
    private int seq;
    private int seqGlobal;
    private long payloadOffset;
    private int payloadLength;
    private long conntrackOffset;
    private int conntrackLength;
    private int conntrackInfo;

    /**
     * Points the parser at {@code length} bytes of {@code segment} from {@code offset} (what one
     * {@code recv()} returned). Throws only for a range outside the segment, which is a caller's bug.
     */
    public NflogMessageParser wrap(MemorySegment segment, long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > segment.byteSize()) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + length + " outside segment of " + segment.byteSize());
        }
        this.segment = segment;
        this.position = offset;
        this.limit = offset + length;
        this.type = 0;
        this.present = 0;
        return this;
    }

    /** Steps to the next message; {@link Kind#END} once the buffer is used up (or cannot be trusted). */
    public Kind next() {
        while (true) {
            present = 0;
            long remaining = limit - position;
            if (remaining <= 0) {
                return Kind.END;
            }
            if (remaining < NLMSG_HDRLEN) {
                // a few stray bytes of alignment padding after the last message are harmless
                if (!allZero(position, remaining)) {
                    count(NflogParseError.HEADER_TRUNCATED);
                }
                position = limit;
                return Kind.END;
            }
            long len = Integer.toUnsignedLong(segment.get(HOST_U32, position));
            if (len < NLMSG_HDRLEN) {
                count(NflogParseError.MESSAGE_LENGTH_TOO_SHORT);
                position = limit;
                return Kind.END;
            }
            if (len > remaining) {
                count(NflogParseError.MESSAGE_PAST_BUFFER);
                position = limit;
                return Kind.END;
            }
            messageOffset = position;
            messageLength = (int) len;
            type = segment.get(HOST_U16, position + 4) & 0xFFFF;
            flags = segment.get(HOST_U16, position + 6) & 0xFFFF;
            nlSeq = segment.get(HOST_U32, position + 8);
            portId = segment.get(HOST_U32, position + 12);
            position = Math.min(limit, position + align4(len));

            switch (type) {
                case NFULNL_MSG_PACKET -> {
                    if (parsePacket()) {
                        return Kind.PACKET;
                    }
                    // counted; skip to the next message
                }
                case NLMSG_ERROR -> {
                    if (messageLength < NLMSG_HDRLEN + 4) {
                        count(NflogParseError.ERROR_TRUNCATED);
                        continue;
                    }
                    errorCode = segment.get(HOST_U32, messageOffset + NLMSG_HDRLEN);
                    return Kind.ERROR;
                }
                case NLMSG_DONE -> {
                    return Kind.DONE;
                }
                case NLMSG_OVERRUN -> {
                    return Kind.OVERRUN;
                }
                default -> {
                    return Kind.OTHER;
                }
            }
        }
    }

    private boolean parsePacket() {
        long start = messageOffset;
        long end = messageOffset + messageLength;
        if (messageLength < NLMSG_HDRLEN + NFGENMSG_LEN) {
            count(NflogParseError.NFGENMSG_TRUNCATED);
            return false;
        }
        family = segment.get(ValueLayout.JAVA_BYTE, start + NLMSG_HDRLEN) & 0xFF;
        group = segment.get(BE_U16, start + NLMSG_HDRLEN + 2) & 0xFFFF;
        mark = 0;
        indev = outdev = physindev = physoutdev = 0;
        prefixLength = payloadLength = conntrackLength = 0;
        prefixOffset = payloadOffset = conntrackOffset = start; // absent: empty, inside this message
        int seen = 0;
        long pos = start + NLMSG_HDRLEN + NFGENMSG_LEN;
        while (end - pos >= NLA_HDRLEN) {
            int nlaLen = segment.get(HOST_U16, pos) & 0xFFFF;
            int nlaType = segment.get(HOST_U16, pos + 2) & NLA_TYPE_MASK;
            if (nlaLen < NLA_HDRLEN) {
                count(NflogParseError.ATTRIBUTE_LENGTH_TOO_SHORT);
                return false;
            }
            if (nlaLen > end - pos) {
                count(NflogParseError.ATTRIBUTE_PAST_MESSAGE);
                return false;
            }
            long p = pos + NLA_HDRLEN;
            int n = nlaLen - NLA_HDRLEN;
            if (!attribute(nlaType, p, n)) {
                count(NflogParseError.ATTRIBUTE_BAD_SIZE);
                return false;
            }
            if (nlaType < 32) {
                seen |= 1 << nlaType;
            }
            pos += align4(nlaLen);
        }
        if ((seen & (1 << NFULA_PACKET_HDR)) == 0) {
            count(NflogParseError.PACKET_HEADER_MISSING);
            return false;
        }
        present = seen;
        return true;
    }

    /** Reads one attribute's payload; false when a known attribute is too short for its layout. */
    private boolean attribute(int t, long p, int n) {
        switch (t) {
            case NFULA_PACKET_HDR -> {
                if (n < 4) {
                    return false;
                }
                hwProtocol = segment.get(BE_U16, p) & 0xFFFF;
                hook = segment.get(ValueLayout.JAVA_BYTE, p + 2) & 0xFF;
            }
            case NFULA_MARK -> {
                if (n < 4) {
                    return false;
                }
                mark = segment.get(BE_U32, p);
            }
            case NFULA_TIMESTAMP -> {
                if (n < 16) {
                    return false;
                }
                timestampSeconds = segment.get(BE_U64, p);
                timestampMicros = segment.get(BE_U64, p + 8);
            }
            case NFULA_IFINDEX_INDEV, NFULA_IFINDEX_OUTDEV, NFULA_IFINDEX_PHYSINDEV, NFULA_IFINDEX_PHYSOUTDEV,
                 NFULA_UID, NFULA_GID, NFULA_SEQ, NFULA_SEQ_GLOBAL, NFULA_CT_INFO -> {
                if (n < 4) {
                    return false;
                }
                int v = segment.get(BE_U32, p);
                switch (t) {
                    case NFULA_IFINDEX_INDEV -> indev = v;
                    case NFULA_IFINDEX_OUTDEV -> outdev = v;
                    case NFULA_IFINDEX_PHYSINDEV -> physindev = v;
                    case NFULA_IFINDEX_PHYSOUTDEV -> physoutdev = v;
                    case NFULA_UID -> uid = v;
                    case NFULA_GID -> gid = v;
                    case NFULA_SEQ -> seq = v;
                    case NFULA_SEQ_GLOBAL -> seqGlobal = v;
                    default -> conntrackInfo = v;
                }
            }
            case NFULA_PREFIX -> {
                int len = 0;
                while (len < n && segment.get(ValueLayout.JAVA_BYTE, p + len) != 0) {
                    len++;
                }
                prefixOffset = p;
                prefixLength = len;
            }
            case NFULA_PAYLOAD -> {
                payloadOffset = p;
                payloadLength = n;
            }
            case NFULA_CT -> {
                conntrackOffset = p;
                conntrackLength = n;
            }
            default -> {
                // HWADDR, HWTYPE, HWHEADER, HWLEN, VLAN, L2HDR and unknown attributes are skipped
            }
        }
        return true;
    }

    private boolean allZero(long from, long n) {
        for (long i = 0; i < n; i++) {
            if (segment.get(ValueLayout.JAVA_BYTE, from + i) != 0) {
                return false;
            }
        }
        return true;
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }

    private void count(NflogParseError e) {
        errors[e.ordinal()]++;
    }

    // ---- errors --------------------------------------------------------------------------------

    /** How many times this kind of bad input was seen since creation or {@link #resetErrors}. */
    public long errors(NflogParseError kind) {
        return errors[kind.ordinal()];
    }

    /** The sum of all error counters. */
    public long totalErrors() {
        long sum = 0;
        for (long e : errors) {
            sum += e;
        }
        return sum;
    }

    public void resetErrors() {
        java.util.Arrays.fill(errors, 0);
    }

    // ---- current message -----------------------------------------------------------------------

    /** The buffer being walked; offsets returned by the accessors are into it. */
    public MemorySegment segment() { return segment; }

    public long messageOffset() { return messageOffset; }

    /** {@code nlmsg_len} of the current message (unpadded). */
    public int messageLength() { return messageLength; }

    /** {@code nlmsg_type}: 0x0400 for packets, 2 error, 3 done, 4 overrun. */
    public int type() { return type; }

    public int flags() { return flags; }

    /** {@code nlmsg_seq} (not NFULA_SEQ). */
    public int netlinkSequence() { return nlSeq; }

    public int portId() { return portId; }

    /** For {@link Kind#ERROR}: 0 for an ack, otherwise a negative errno. */
    public int errorCode() { return errorCode; }

    // ---- current packet ------------------------------------------------------------------------

    /** nfgenmsg family of the hook: 2 (IPv4), 10 (IPv6), 7 (bridge). */
    public int family() { return family; }

    /** The NFLOG group ({@code res_id}); with Calico, 1 is ingress and 2 egress. */
    public int group() { return group; }

    /** Whether the current packet carried attribute {@code nfulaType} (1..31). */
    public boolean has(int nfulaType) { return nfulaType > 0 && nfulaType < 32 && (present & (1 << nfulaType)) != 0; }

    /** The ethertype from NFULA_PACKET_HDR (0x0800 IPv4, 0x86DD IPv6). */
    public int hwProtocol() { return hwProtocol; }

    /** The netfilter hook (0 PRE_ROUTING, 1 LOCAL_IN, 2 FORWARD, 3 LOCAL_OUT, 4 POST_ROUTING). */
    public int hook() { return hook; }

    /** The skb mark; 0 when absent (the kernel omits a zero mark). */
    public int mark() { return mark; }

    public boolean hasTimestamp() { return has(NFULA_TIMESTAMP); }

    public long timestampSeconds() { return hasTimestamp() ? timestampSeconds : 0; }

    public long timestampMicros() { return hasTimestamp() ? timestampMicros : 0; }

    /** Input ifindex, 0 when absent. */
    public int indev() { return indev; }

    /** Output ifindex, 0 when absent. */
    public int outdev() { return outdev; }

    public int physindev() { return physindev; }

    public int physoutdev() { return physoutdev; }

    public boolean hasPrefix() { return has(NFULA_PREFIX); }

    /** Offset of the prefix's first byte in {@link #segment}. */
    public long prefixOffset() { return prefixOffset; }

    /** Prefix length up to (without) its NUL; 0 when absent or empty. */
    public int prefixLength() { return prefixLength; }

    /** Copies the prefix bytes (no NUL) into {@code dst}, at most {@code dst.length}; returns the count copied. */
    public int copyPrefix(byte[] dst) {
        int n = Math.min(prefixLength, dst.length);
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, prefixOffset, dst, 0, n);
        return n;
    }

    public boolean hasUid() { return has(NFULA_UID); }

    public int uid() { return hasUid() ? uid : -1; }

    public boolean hasGid() { return has(NFULA_GID); }

    public int gid() { return hasGid() ? gid : -1; }

    /** Whether NFULA_SEQ (per-instance sequence, flag SEQ) was present. */
    public boolean hasSeq() { return has(NFULA_SEQ); }

    public int seq() { return hasSeq() ? seq : 0; }

    public boolean hasSeqGlobal() { return has(NFULA_SEQ_GLOBAL); }

    public int seqGlobal() { return hasSeqGlobal() ? seqGlobal : 0; }

    public boolean hasPayload() { return has(NFULA_PAYLOAD); }

    /** Offset in {@link #segment} of the packet copy, which starts at the network header. */
    public long payloadOffset() { return payloadOffset; }

    public int payloadLength() { return payloadLength; }

    /** Whether NFULA_CT (nested ctnetlink attributes, left unparsed) was present. */
    public boolean hasConntrack() { return has(NFULA_CT); }

    public long conntrackOffset() { return conntrackOffset; }

    public int conntrackLength() { return conntrackLength; }

    /** {@code enum ip_conntrack_info} from NFULA_CT_INFO, -1 when absent. */
    public int conntrackInfo() { return has(NFULA_CT_INFO) ? conntrackInfo : -1; }
}
