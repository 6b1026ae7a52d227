package dev.droptrace.btf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Btf.fromElf on BPF objects compiled by clang from the test (skipped without clang). */
class ElfBtfTest {

    /** The record the kfree_skb program shares with user space; the bpf module's header, read as text. */
    static final Path DROP_EVENT_HEADER = Path.of("../bpf/src/main/bpf/kfree_skb.h");

    @Test
    void readsStructRecFromAClangObject() throws Exception {
        Btf btf = Btf.fromElf(ClangObjects.compile(ClangObjects.REC_SOURCE));
        StructLayout rec = btf.struct("rec").orElseThrow();
        assertEquals(32, rec.size(), "29 bytes of members, aligned to 8");
        assertEquals(List.of("a", "b", "c", "d"), rec.members().stream().map(StructLayout.Member::name).toList());
        assertEquals(0, rec.member("a").byteOffset());
        assertEquals(8, rec.member("a").size());
        assertEquals(8, rec.member("b").byteOffset());
        assertEquals(4, rec.member("b").size());
        assertEquals(12, rec.member("c").byteOffset());
        assertEquals(16, rec.member("c").size());
        assertEquals(28, rec.member("d").byteOffset());
        assertEquals(1, rec.member("d").size());
        Map<Long, String> color = btf.enumValues("color");
        assertEquals("RED", color.get(1L));
        // clang 14 leaves kind_flag clear (unsigned, as bpftool prints it too); newer clang sets it
        boolean signed = btf.enumType("color").orElseThrow().signed();
        assertEquals("BIG", color.get(signed ? -3L : 0xfffffffdL));
    }

    /**
     * struct drop_event as clang lays it out matches the offsets written in the header's comments,
     * which the Java mirror of the record follows.
     */
    @Test
    void dropEventMatchesItsHeader() throws Exception {
        assumeTrue(Files.isReadable(DROP_EVENT_HEADER), DROP_EVENT_HEADER + " is not in this checkout");
        String header = Files.readString(DROP_EVENT_HEADER);
        Btf btf = Btf.fromElf(ClangObjects.compile("""
                typedef unsigned long long __u64;
                typedef unsigned int __u32;
                typedef unsigned short __u16;
                typedef unsigned char __u8;
                #include "kfree_skb.h"
                struct drop_event drop_event_global;
                """, DROP_EVENT_HEADER.toAbsolutePath().getParent()));
        StructLayout ev = btf.struct("drop_event").orElseThrow();

        Map<String, Integer> defines = new HashMap<>();
        Matcher d = Pattern.compile("#define\\s+(\\w+)\\s+(\\d+)").matcher(header);
        while (d.find()) {
            defines.put(d.group(1), Integer.parseInt(d.group(2)));
        }
        Map<String, Integer> scalar = Map.of("__u64", 8, "__u32", 4, "__u16", 2, "__u8", 1, "char", 1);
        String body = header.substring(header.indexOf("struct drop_event {"));
        body = body.substring(0, body.indexOf("\n};") + 40); // this struct only, with its size comment
        Matcher m = Pattern.compile("(?m)^\\s*(\\w+)\\s+(\\w+)(?:\\[(\\w+)])?;\\s*/\\*\\s*(\\d+)").matcher(body);
        int checked = 0;
        while (m.find()) {
            String name = m.group(2);
            int n = m.group(3) == null ? 1
                    : m.group(3).matches("\\d+") ? Integer.parseInt(m.group(3)) : defines.get(m.group(3));
            assertEquals(Long.parseLong(m.group(4)), ev.member(name).byteOffset(), name + " offset");
            assertEquals(scalar.get(m.group(1)) * n, ev.member(name).size(), name + " size");
            checked++;
        }
        assertTrue(checked >= 10, "found " + checked + " commented members in the header");
        Matcher size = Pattern.compile("};\\s*/\\*\\s*(\\d+)\\s*\\*/").matcher(body);
        assertTrue(size.find(), "the header notes the struct's size");
        assertEquals(Integer.parseInt(size.group(1)), ev.size());
        assertEquals(ev.members().size(), checked, "every member has its offset in a comment");
    }

    @Test
    void rejectsWhatIsNotABpfObject() throws Exception {
        BtfTest.assertFormatAt("not an ELF file", () -> Btf.fromElf(new byte[100]));
        BtfTest.assertFormatAt("too short", () -> Btf.fromElf(new byte[] {0x7f, 'E', 'L', 'F'}));
        BtfTest.assertFormatAt("no ELF data", () -> Btf.fromElf(null));
        byte[] elf = ClangObjects.compile(ClangObjects.REC_SOURCE);
        byte[] wide = elf.clone();
        wide[4] = 1;
        BtfTest.assertFormatAt("not a 64-bit ELF", () -> Btf.fromElf(wide));
        byte[] be = elf.clone();
        be[5] = 2;
        BtfTest.assertFormatAt("not a little-endian ELF", () -> Btf.fromElf(be));
        byte[] cut = java.util.Arrays.copyOf(elf, elf.length / 2);
        BtfTest.assertFormatAt("runs past the end", () -> Btf.fromElf(cut));
        byte[] farTable = elf.clone();
        ByteBuffer.wrap(farTable).order(ByteOrder.LITTLE_ENDIAN).putLong(0x28, 1L << 40);
        BtfTest.assertFormatAt("runs past the end", () -> Btf.fromElf(farTable));

        // an object built without -g has no .BTF: rename the section in the section name table
        String s = new String(elf, java.nio.charset.StandardCharsets.ISO_8859_1);
        int at = s.indexOf(".BTF\0");
        assertTrue(at > 0);
        byte[] renamed = elf.clone();
        renamed[at + 1] = 'X';
        BtfTest.assertFormatAt("no .BTF section", () -> Btf.fromElf(renamed));
    }
}
