package dev.droptrace.ksym;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelSymbolsTest {

    @TempDir
    Path tmp;

    private KernelSymbols load(String text) throws IOException {
        Path f = tmp.resolve("kallsyms");
        Files.writeString(f, text);
        return KernelSymbols.load(f);
    }

    @Test
    void sortsUnsortedEntriesAndKeepsTextOnly() throws IOException {
        KernelSymbols k = load("""
                ffffffff81000200 T second
                ffffffff81000000 T _stext
                ffffffff81000000 t _text_alias
                ffffffff81000100 D some_data
                ffffffff81000080 t local_fn
                ffffffffc0a01000 t ovs_vport_receive\t[openvswitch]
                ffffffffc0a00000 T ovs_dp_process_packet\t[openvswitch]
                ffffffff81000300 W weak_fn
                ffffffff81000400 w weak_local
                ffffffff81000500 r ro_data
                garbage line
                zzzz T bad_hex
                """);
        assertTrue(k.available());
        assertEquals(List.of("_stext", "local_fn", "second", "weak_fn", "weak_local", "ovs_dp_process_packet",
                "ovs_vport_receive"), names(k));
        assertEquals(-1, k.indexOf(0xffffffff80ffffffL), "below the first symbol");
        assertEquals(-1, k.indexOf(0));
        assertEquals("local_fn", k.name(k.indexOf(0xffffffff810000ffL)));
        assertEquals("second", k.name(k.indexOf(0xffffffff81000200L)));
        assertEquals("ovs_vport_receive", k.name(k.indexOf(0xffffffffc0a01234L)));
        assertEquals("ovs_vport_receive", k.name(k.indexOf(-1L)), "the last symbol runs to the top");
        assertEquals("ovs_dp_process_packet+0x10", k.describe(0xffffffffc0a00010L));
        assertEquals("_stext+0x0", k.describe(0xffffffff81000000L));
        assertEquals("0x1234", k.describe(0x1234));
        assertEquals(0xffffffff81000200L, k.address(k.indexOfName("second")));
        assertEquals(-1, k.indexOfName("some_data"));
    }

    @Test
    void aGlobalSymbolWinsAnAddressShared() throws IOException {
        KernelSymbols k = load("""
                ffffffff81000000 t a_local
                ffffffff81000000 T the_global
                ffffffff81000000 T another_global
                ffffffff81000010 t only
                """);
        assertEquals(List.of("the_global", "only"), names(k));
    }

    @Test
    void hiddenAddressesAreReportedNotGuessed() throws IOException {
        KernelSymbols k = load("""
                0000000000000000 T _stext
                0000000000000000 T kfree_skb_reason
                0000000000000000 t local_fn
                """);
        assertFalse(k.available());
        assertEquals(-1, k.indexOf(0xffffffff81000000L));
        assertEquals(0, k.size());
        assertEquals("0xffffffff81000000", k.describe(0xffffffff81000000L));
    }

    @Test
    void emptyOrMissingFile() throws IOException {
        assertFalse(load("").available());
        assertThrows(UncheckedIOException.class, () -> KernelSymbols.load(tmp.resolve("missing")));
    }

    @Test
    void realKallsyms() throws IOException {
        assumeTrue(Files.isReadable(KernelSymbols.KALLSYMS), "no /proc/kallsyms");
        KernelSymbols k = KernelSymbols.load();
        assumeTrue(k.available(), "kptr_restrict hides kernel addresses from this user");
        assertTrue(k.size() > 1000, k.toString());
        for (int i = 1; i < k.size(); i++) {
            assertTrue(Long.compareUnsigned(k.address(i - 1), k.address(i)) < 0, "sorted, distinct addresses at " + i);
        }
        int found = 0;
        for (String name : List.of("kfree_skb_reason", "sk_skb_reason_drop", "nf_hook_slow")) {
            int i = k.indexOfName(name);
            if (i < 0) {
                continue;
            }
            found++;
            long a = k.address(i);
            assertEquals(i, k.indexOf(a), name);
            assertEquals(i, k.indexOf(a + 1), name + "+1");
            assertEquals(name + "+0x1", k.describe(a + 1));
        }
        assertTrue(found > 0, "none of the drop functions is in kallsyms");
    }

    private static List<String> names(KernelSymbols k) {
        return java.util.stream.IntStream.range(0, k.size()).mapToObj(k::name).toList();
    }
}
