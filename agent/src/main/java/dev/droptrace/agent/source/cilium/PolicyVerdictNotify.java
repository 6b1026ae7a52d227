package dev.droptrace.agent.source.cilium;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over a {@code policy_verdict_notify} (type 5) of any version (spec section 3.2).
 *
 * <p>The version byte is always 1, but the struct is 32 bytes up to v1.18 and 40 bytes (with a
 * rule {@code cookie}) from v1.19; the size is given to {@link #wrap}. The remote identity is the
 * peer's: the source for ingress, the destination for egress.
 *
 * <pre>
 * off size field             off size field
 * 0-15  capture header       27  1  flags: dir(0-1) ipv6(2) match(3-5) audited(6) l3(7)
 * 16  4  remote_label        28  1  auth_type (v1.14+)
 * 20  4  verdict (s32)       32  4  cookie (40-byte layout only)
 * 24  2  dst_port (host)     36  4  pad
 * 26  1  proto
 * </pre>
 */
public final class PolicyVerdictNotify extends CiliumNotification {
    /** Direction value of the flags' bits 0-1. */
    public static final int DIR_INGRESS = 1;
    public static final int DIR_EGRESS = 2;

    /** The action a verdict stands for, as {@code cilium monitor} names it. */
    public enum Action {
        /** {@code verdict == 0}, not audited (Hubble FORWARDED). */
        ALLOW,
        /** {@code verdict < 0}: dropped with reason {@code -verdict} (Hubble DROPPED). */
        DENY,
        /** {@code verdict > 0}: redirected to the L7 proxy on port {@code verdict}. */
        REDIRECT,
        /** {@code verdict == 0} and the audited bit: allowed only by audit mode (Hubble AUDIT). */
        AUDIT
    }

    private static final String[] MATCH_TYPES = {
        "none", "L3-Only", "L3-L4", "L4-Only", "all", "L3-Proto", "Proto-Only", "unknown",
    };

    private int headerLength;

    /** Wraps a verdict of the given struct size (32 or 40); returns this. */
    public PolicyVerdictNotify wrap(MemorySegment segment, long offset, long length, int headerLength) {
        super.wrap(segment, offset, length);
        this.headerLength = headerLength;
        return this;
    }

    /** Struct size assumed for this verdict, which is also the offset of the captured packet. */
    public int headerLength() { return headerLength; }

    /** Security identity of the peer (u32). */
    public long remoteLabel() { return u32(16); }

    /** 0 allowed, &gt;0 proxy port, &lt;0 negated drop reason. */
    public int verdict() { return i32(20); }

    /** L4 destination port from the conntrack tuple (host order); not a port for ICMP. */
    public int dstPort() { return u16(24); }

    /** IP protocol number. */
    public int proto() { return u8(26); }

    /** The raw flags byte. */
    public int flags() { return u8(27); }

    /** Direction bits: {@link #DIR_INGRESS}, {@link #DIR_EGRESS}, or 0/3 (unknown). */
    public int direction() { return flags() & 0x03; }

    /** The IPv6 bit. */
    public boolean ipv6() { return (flags() & 0x04) != 0; }

    /** Policy match type, 0-7 (spec section 5.1). */
    public int matchType() { return (flags() & 0x38) >>> 3; }

    /** Allowed only because of audit mode (v1.9+). */
    public boolean audited() { return (flags() & 0x40) != 0; }

    /** The capture starts at the IP header (v1.19+; always false before). */
    public boolean l3() { return (flags() & 0x80) != 0; }

    /** Auth type (v1.14+): 0 disabled, 1 SPIRE, 2 test-always-fail. */
    public int authType() { return u8(28); }

    /** Policy-log cookie (u32) in the 40-byte layout, else 0. */
    public long cookie() { return headerLength >= 40 ? u32(32) : 0; }

    /** The action the verdict stands for. */
    public Action action() {
        int v = verdict();
        if (v < 0) {
            return Action.DENY;
        }
        if (v > 0) {
            return Action.REDIRECT;
        }
        return audited() ? Action.AUDIT : Action.ALLOW;
    }

    /** The drop reason of a denying verdict ({@code -verdict}), else 0. */
    public int dropReason() {
        int v = verdict();
        return v < 0 ? -v : 0;
    }

    /** The {@code cilium monitor} text of a match type ("none", "L3-Only", ...). */
    public static String matchTypeName(int matchType) {
        return MATCH_TYPES[matchType & 7];
    }
}
