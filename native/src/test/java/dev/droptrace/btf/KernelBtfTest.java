package dev.droptrace.btf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The running kernel's BTF, read by {@link Btf}, against what bpftool prints for the same file.
 * Skipped where the kernel has no BTF or bpftool is missing.
 */
class KernelBtfTest {

    private static Btf btf;

    @BeforeAll
    static void load() {
        assumeTrue(Files.isReadable(Btf.VMLINUX), "this kernel has no BTF");
        long t0 = System.nanoTime();
        btf = Btf.kernel();
        System.out.printf("parsed %s in %.1f ms%n", btf, (System.nanoTime() - t0) / 1e6);
    }

    @Test
    void everySkbDropReasonMatchesBpftool() {
        BpftoolDump dump = BpftoolDump.of(Btf.VMLINUX);
        BpftoolDump.Type ref = dump.find("ENUM", DropReasons.ENUM);
        BtfEnum ours = btf.enumType(DropReasons.ENUM).orElseThrow();
        List<String> expected = new ArrayList<>();
        for (BpftoolDump.Line l : ref.lines()) {
            expected.add(l.name() + "=" + l.attrs().get("val"));
        }
        List<String> actual = ours.enumerators().stream().map(e -> e.name() + "=" + e.value()).toList();
        assertEquals(expected, actual);

        Map<Long, String> values = btf.enumValues(DropReasons.ENUM);
        for (String n : List.of("NETFILTER_DROP", "NO_SOCKET", "TCP_CSUM", "NOT_SPECIFIED")) {
            assertTrue(values.containsValue("SKB_DROP_REASON_" + n), n);
        }
    }

    @Test
    void skBuffMatchesBpftool() {
        compareStruct("sk_buff");
        StructLayout skb = btf.struct("sk_buff").orElseThrow();
        assertEquals(4, skb.member("len").size());
        assertTrue(skb.hasMember("dev"), "dev lives in an anonymous union and is still found");
    }

    @Test
    void smallStructsMatchBpftool() {
        for (String s : List.of("iphdr", "ipv6hdr", "tcphdr", "udphdr", "net_device", "sock_common")) {
            compareStruct(s);
        }
        StructLayout ip = btf.struct("iphdr").orElseThrow();
        assertEquals(20, ip.size());
        assertEquals(4, ip.member("version").bitfieldSize());
        assertEquals(9, ip.member("protocol").byteOffset());
        assertEquals(12, ip.member("saddr").byteOffset());
        assertEquals(4, ip.member("saddr").size());
    }

    /** Every member's name, type id, bit offset, bitfield size and resolved size, and the struct's size. */
    private static void compareStruct(String name) {
        BpftoolDump dump = BpftoolDump.of(Btf.VMLINUX);
        BpftoolDump.Type ref = dump.find("STRUCT", name);
        StructLayout ours = btf.struct(name).orElseThrow();
        assertEquals(ref.attrs().get("size"), (long) ours.size(), name + " size");
        assertEquals(ref.lines().size(), ours.members().size(), name + " member count");
        for (int i = 0; i < ref.lines().size(); i++) {
            BpftoolDump.Line l = ref.lines().get(i);
            StructLayout.Member m = ours.members().get(i);
            String where = name + "." + l.name();
            assertEquals(l.name().equals("(anon)") ? "" : l.name(), m.name(), where);
            assertEquals(l.attrs().get("type_id"), (long) m.typeId(), where + " type");
            assertEquals(l.attrs().get("bits_offset"), m.bitOffset(), where + " bit offset");
            assertEquals(l.attrs().getOrDefault("bitfield_size", 0L), (long) m.bitfieldSize(), where + " bitfield size");
            assertEquals(dump.sizeOf(l.attrs().get("type_id")), m.size(), where + " size");
            assertEquals(m.bitOffset() / 8, m.byteOffset(), where);
        }
    }

    @Test
    void dropReasonNamesComeFromBtf() {
        BpftoolDump dump = BpftoolDump.of(Btf.VMLINUX);
        DropReasons reasons = DropReasons.from(btf);
        int named = 0;
        for (BpftoolDump.Line l : dump.find("ENUM", DropReasons.ENUM).lines()) {
            int code = (int) (long) l.attrs().get("val");
            if (l.name().equals("SKB_DROP_REASON_MAX") || l.name().equals("SKB_DROP_REASON_SUBSYS_MASK")) {
                assertFalse(reasons.all().containsValue(l.name().substring("SKB_DROP_REASON_".length())), l.name());
                continue;
            }
            String expected = l.name().startsWith("SKB_DROP_REASON_")
                    ? l.name().substring("SKB_DROP_REASON_".length()) : l.name().substring("SKB_".length());
            assertEquals(expected, reasons.name(code), l.name());
            assertEquals(code, reasons.code(expected), l.name());
            assertSame(reasons.name(code), reasons.name(code), "no allocation on a hit");
            named++;
        }
        assertEquals(named, reasons.all().size() - countSubsystemReasons(reasons));
        assertEquals("NOT_DROPPED_YET", reasons.name(0));
        assertEquals("CONSUMED", reasons.name(1));
        assertEquals("NOT_SPECIFIED", reasons.name(reasons.code("NOT_SPECIFIED")));
        assertTrue(reasons.code("NETFILTER_DROP") > 1);
        assertEquals(-1, reasons.code("NO_SUCH_REASON"));
        assertEquals("UNKNOWN_65535", reasons.name(0xffff));

        // a subsystem code without a named enumerator falls back to the subsystem's name from BTF
        BpftoolDump.Line sub = dump.find("ENUM", DropReasons.SUBSYS_ENUM).lines().get(1);
        int id = (int) (long) sub.attrs().get("val");
        int code = id << 16 | 0xfffe;
        String fallback = "SUBSYS_" + sub.name().substring("SKB_DROP_REASON_SUBSYS_".length()) + "_65534";
        assertEquals(fallback, reasons.name(code));
        assertEquals(code, reasons.code(fallback));
    }

    @Test
    void dropReasonsFromTheRunningKernel() {
        DropReasons reasons = DropReasons.fromKernel();
        assertTrue(reasons.code("NETFILTER_DROP") > 0);
        assertTrue(reasons.code("NO_SOCKET") > 0);
        assertEquals("NETFILTER_DROP", reasons.name(reasons.code("NETFILTER_DROP")));
    }

    private static int countSubsystemReasons(DropReasons r) {
        return (int) r.all().keySet().stream().filter(c -> (c & DropReasons.SUBSYS_MASK) != 0).count();
    }
}
