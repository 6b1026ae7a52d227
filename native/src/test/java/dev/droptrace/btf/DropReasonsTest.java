package dev.droptrace.btf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** DropReasons on built BTF: prefixes, sentinels, subsystem reasons here and in split (module) BTF. */
class DropReasonsTest {

    private static BtfBuilder kernelLike() {
        BtfBuilder b = new BtfBuilder();
        b.enum32("skb_drop_reason", false,
                "SKB_NOT_DROPPED_YET", 0L,
                "SKB_CONSUMED", 1L,
                "SKB_DROP_REASON_NOT_SPECIFIED", 2L,
                "SKB_DROP_REASON_NO_SOCKET", 3L,
                "SKB_DROP_REASON_NETFILTER_DROP", 7L,
                "SKB_DROP_REASON_MAX", 8L,
                "SKB_DROP_REASON_SUBSYS_MASK", 0xffff0000L);
        b.enum32("skb_drop_reason_subsys", false,
                "SKB_DROP_REASON_SUBSYS_CORE", 0L,
                "SKB_DROP_REASON_SUBSYS_MAC80211_UNUSABLE", 1L,
                "SKB_DROP_REASON_SUBSYS_OPENVSWITCH", 2L,
                "SKB_DROP_REASON_SUBSYS_NUM", 3L);
        b.enum32("mac80211_drop_reason", false,
                "RX_CONTINUE", 1L,
                "___RX_DROP_UNUSABLE", 0x10000L,
                "RX_DROP_U_MIC_FAIL", 0x10001L);
        b.enum32("tc_flags_not_a_reason", false, "TCF_X", 0x20001L);
        return b;
    }

    @Test
    void namesCoreReasonsWithoutPrefixOrSentinels() {
        DropReasons r = DropReasons.from(Btf.parse(kernelLike().build()));
        assertEquals("NOT_DROPPED_YET", r.name(0));
        assertEquals("CONSUMED", r.name(1));
        assertEquals("NO_SOCKET", r.name(3));
        assertEquals("NETFILTER_DROP", r.name(7));
        assertEquals(7, r.code("NETFILTER_DROP"));
        assertEquals("UNKNOWN_5", r.name(5));
        assertEquals("UNKNOWN_8", r.name(8), "MAX is a sentinel, not a reason");
        assertEquals(-1, r.code("MAX"));
        assertEquals(-1, r.code("SUBSYS_MASK"));
        assertEquals("UNKNOWN_4294967295", r.name(-1));
        assertTrue(r.known(7));
        assertFalse(r.known(5));
    }

    @Test
    void namesSubsystemReasons() {
        DropReasons r = DropReasons.from(Btf.parse(kernelLike().build()));
        assertEquals("RX_DROP_U_MIC_FAIL", r.name(0x10001));
        assertEquals(0x10001, r.code("RX_DROP_U_MIC_FAIL"));
        assertEquals("SUBSYS_MAC80211_UNUSABLE_0", r.name(0x10000), "the ___ base enumerator is skipped");
        assertEquals("SUBSYS_OPENVSWITCH_1", r.name(0x20001), "only *drop_reason* enums name reasons");
        assertEquals(0x20001, r.code("SUBSYS_OPENVSWITCH_1"));
        assertEquals(-1, r.code("SUBSYS_OPENVSWITCH_x"));
        assertEquals("UNKNOWN_196609", r.name(0x30001), "subsystem 3 is the NUM sentinel");
        assertEquals(Optional.of("OPENVSWITCH"), r.subsystem(2));
        assertEquals(Optional.empty(), r.subsystem(3));
        assertEquals(Map.of(0, "NOT_DROPPED_YET", 1, "CONSUMED", 2, "NOT_SPECIFIED", 3, "NO_SOCKET",
                7, "NETFILTER_DROP", 0x10001, "RX_DROP_U_MIC_FAIL"), r.all());
    }

    @Test
    void readsSubsystemReasonsFromModuleBtf() {
        BtfBuilder vmlinux = kernelLike();
        Btf base = Btf.parse(vmlinux.build());
        BtfBuilder mod = new BtfBuilder(vmlinux.nextId(), vmlinux.stringsLength());
        mod.enum32("ovs_drop_reason", false,
                "__OVS_DROP_REASON", 0x20000L,
                "OVS_DROP_LAST_ACTION", 0x20001L,
                "OVS_DROP_ACTION_ERROR", 0x20002L,
                "OVS_DROP_MAX", 0x20003L);
        DropReasons r = DropReasons.from(base, List.of(Btf.parse(mod.build(), base)));
        assertEquals("OVS_DROP_LAST_ACTION", r.name(0x20001));
        assertEquals("OVS_DROP_ACTION_ERROR", r.name(0x20002));
        assertEquals("SUBSYS_OPENVSWITCH_3", r.name(0x20003));
        assertEquals(0x20002, r.code("OVS_DROP_ACTION_ERROR"));
    }

    @Test
    void needsTheEnum() {
        BtfBuilder b = new BtfBuilder();
        b.intType("int", 4, true, 32);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> DropReasons.from(Btf.parse(b.build())));
        assertTrue(e.getMessage().contains("skb_drop_reason"));
    }
}
