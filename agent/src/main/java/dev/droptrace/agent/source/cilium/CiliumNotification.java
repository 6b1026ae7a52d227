package dev.droptrace.agent.source.cilium;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Flyweight over one Cilium datapath notification: the 8-byte common header ({@code type},
 * {@code subtype}, {@code source}, {@code hash}, spec section 2.1) and, for messages that carry a
 * packet, the 16-byte capture header ({@code len_orig}, {@code len_cap}, {@code version},
 * {@code ext_version}, section 2.2).
 *
 * <p>{@link #wrap} points it at a sample in place; getters read little-endian (host order on amd64
 * and arm64) and allocate nothing. The flyweight does not check lengths: callers
 * ({@link CiliumMessageDecoder}) check {@link #length()} against the header size first.
 */
public class CiliumNotification {
    /** Message type codes (byte 0, spec section 2.3). */
    public static final int TYPE_UNSPEC = 0;
    public static final int TYPE_DROP = 1;
    public static final int TYPE_DEBUG = 2;
    public static final int TYPE_DEBUG_CAPTURE = 3;
    public static final int TYPE_TRACE = 4;
    public static final int TYPE_POLICY_VERDICT = 5;
    public static final int TYPE_RECORDER = 6;
    public static final int TYPE_TRACE_SOCK = 7;
    public static final int TYPE_ACCESS_LOG = 129;
    public static final int TYPE_AGENT = 130;

    /** Size of the common header. */
    public static final int COMMON_HEADER_SIZE = 8;
    /** Size of the common plus capture header. */
    public static final int CAPTURE_HEADER_SIZE = 16;

    static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    protected MemorySegment segment;
    protected long offset;
    protected long length;

    /** Points this flyweight at the sample of {@code length} bytes at {@code offset}; returns this. */
    public CiliumNotification wrap(MemorySegment segment, long offset, long length) {
        this.segment = segment;
        this.offset = offset;
        this.length = length;
        return this;
    }

    public MemorySegment segment() {
        return segment;
    }

    public long offset() {
        return offset;
    }

    /** Length of the whole sample (struct, packet and perf padding). */
    public long length() {
        return length;
    }

    // ---- common header ---------------------------------------------------------------------------

    /** Message type, byte 0. */
    public int type() { return u8(0); }

    /** Subtype, byte 1: the drop reason for drops, the observation point for traces, 0 for verdicts. */
    public int subtype() { return u8(1); }

    /** {@code EVENT_SOURCE}: the endpoint ID of the program that ran, 0 outside bpf_lxc/bpf_host. */
    public int source() { return u16(2); }

    /** {@code skb->hash}, the flow hash (unsigned, as a long). */
    public long hash() { return u32(4); }

    // ---- capture header --------------------------------------------------------------------------

    /** Original packet length ({@code skb->len}). */
    public long lenOrig() { return u32(8); }

    /** Number of packet bytes captured after the struct. */
    public int lenCap() { return u16(12); }

    /** Per-message format version, byte 14. */
    public int version() { return u8(14); }

    /** Downstream extension version, byte 15; always 0 upstream. */
    public int extVersion() { return u8(15); }

    // ---- accessors --------------------------------------------------------------------------------

    protected final int u8(int off) {
        return segment.get(U8, offset + off) & 0xff;
    }

    protected final int u16(int off) {
        return segment.get(U16, offset + off) & 0xffff;
    }

    protected final int i32(int off) {
        return segment.get(U32, offset + off);
    }

    protected final long u32(int off) {
        return Integer.toUnsignedLong(segment.get(U32, offset + off));
    }

    protected final long i64(int off) {
        return segment.get(U64, offset + off);
    }
}
