package dev.droptrace.agent.source.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Field offsets of {@code struct drop_event} from bpf/src/main/bpf/kfree_skb.h, the record the BPF
 * program writes to the ring. Read in place; a test checks every offset against the object's BTF.
 */
public final class KernelDropRecord {
    public static final int KTIME_NS = 0;
    public static final int LOCATION = 8;
    public static final int REASON = 16;
    public static final int NETNS = 20;
    public static final int IFINDEX = 24;
    public static final int LENGTH = 28;
    public static final int CPU = 32;
    public static final int COUNT = 36;
    public static final int L3_PROTO = 40;
    public static final int FAMILY = 42;
    public static final int PROTOCOL = 43;
    public static final int SPORT = 44;
    public static final int DPORT = 46;
    public static final int TCP_FLAGS = 48;
    public static final int ICMP_TYPE = 49;
    public static final int ICMP_CODE = 50;
    public static final int DIRECTION = 51;
    public static final int SADDR = 56;
    public static final int DADDR = 72;
    public static final int IFNAME = 88;
    public static final int IFNAME_SIZE = 16;
    /** sizeof(struct drop_event) */
    public static final int SIZE = 104;

    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private KernelDropRecord() {}

    static long u64(MemorySegment s, long base, int field) { return s.get(U64, base + field); }
    static int u32(MemorySegment s, long base, int field) { return s.get(U32, base + field); }
    static int u16(MemorySegment s, long base, int field) { return Short.toUnsignedInt(s.get(U16, base + field)); }
    static int u8(MemorySegment s, long base, int field) { return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, base + field)); }
}
