package dev.droptrace.agent.source.cilium;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over a {@code drop_notify} (type 1) of any version (spec section 3.1).
 *
 * <p>The struct size, which is also the packet offset, is given to {@link #wrap} because it is not
 * fully self-describing: 32 bytes (v1.7-1.12, version 0/1), 36 (v1.13-1.17, version 1), 40
 * (v1.18, version 2) or 48 (v1.19+, version 3). Fields the wrapped size does not contain read as 0.
 *
 * <pre>
 * off size field             off size field
 * 0-15  capture header       30  1  file (v1.13+)
 * 16  4  src_label           31  1  ext_error (s8, v1.13+)
 * 20  4  dst_label           32  4  ifindex (36+ bytes)
 * 24  4  dst_id              36  1  flags (40+ bytes)
 * 28  2  line (v1.13+)       40  8  ip_trace_id (48 bytes)
 * </pre>
 */
public final class DropNotify extends CiliumNotification {
    /** Drop/trace flag: the packet is IPv6. */
    public static final int FLAG_IPV6 = 0x01;
    /** Drop/trace flag: the packet came from an L3 device; the capture starts at the IP header. */
    public static final int FLAG_L3_DEV = 0x02;
    /** Drop/trace flag: the capture is a VXLAN overlay packet. */
    public static final int FLAG_VXLAN = 0x04;
    /** Drop/trace flag: the capture is a Geneve overlay packet. */
    public static final int FLAG_GENEVE = 0x08;

    private int headerLength;

    /** Wraps a drop of the given struct size (32, 36, 40 or 48); returns this. */
    public DropNotify wrap(MemorySegment segment, long offset, long length, int headerLength) {
        super.wrap(segment, offset, length);
        this.headerLength = headerLength;
        return this;
    }

    /** Struct size assumed for this drop, which is also the offset of the captured packet. */
    public int headerLength() { return headerLength; }

    /** The drop reason (subtype byte), a positive code of {@link CiliumDropReasons}. */
    public int reason() { return subtype(); }

    /** Source security identity (u32); 0 if not yet known. */
    public long srcLabel() { return u32(16); }

    /** Destination security identity (u32); often 0 for early or egress-side drops. */
    public long dstLabel() { return u32(20); }

    /** Destination endpoint ID for ingress drops at a local endpoint; 0 for egress. */
    public long dstId() { return u32(24); }

    /** BPF source line (v1.13+, 0 before). */
    public int line() { return u16(28); }

    /** BPF source-file ID (v1.13+, 0 before; release-specific meaning, spec section 4.3). */
    public int file() { return u8(30); }

    /** Signed extended error, e.g. the FIB lookup result for reason 169; 0 = none. */
    public int extError() { return segment.get(U8, offset + 31); }

    /** {@code skb->ifindex} at the drop, or 0 for the 32-byte layout. */
    public int ifindex() { return headerLength >= 36 ? i32(32) : 0; }

    /** Classifier flags ({@code FLAG_*}); 0 before version 2. */
    public int flags() { return headerLength >= 40 ? u8(36) : 0; }

    /** IP-option trace ID; 0 before version 3. */
    public long ipTraceId() { return headerLength >= 48 ? i64(40) : 0; }
}
