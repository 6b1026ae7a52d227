package dev.droptrace.btf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;

/** Btf on blobs written by {@link BtfBuilder}: every kind, byte orders, split BTF, malformed input. */
class BtfTest {

    /** One of each kind; returns the builder so tests can add more. */
    static BtfBuilder everyKind() {
        BtfBuilder b = new BtfBuilder();
        int u8 = b.intType("unsigned char", 1, false, 8);                 // 1
        int u32 = b.intType("unsigned int", 4, false, 32);                // 2
        int u64 = b.intType("long long unsigned int", 8, false, 64);      // 3
        int t32 = b.typedef("__u32", u32);                                 // 4
        int cv = b.modifier(Btf.KIND_CONST, b.modifier(Btf.KIND_VOLATILE, t32)); // 6 -> 5
        int arr = b.array(u8, u32, 16);                                    // 7
        int arr2 = b.array(arr, u32, 3);                                   // 8: u8[3][16]
        int fwd = b.fwd("sock", false);                                    // 9
        int p = b.ptr(fwd);                                                // 10
        int inner = b.union("", 8, new BtfBuilder.M("x", u64, 0), new BtfBuilder.M("y", t32, 0)); // 11
        int bits = b.struct("bits", 4, new BtfBuilder.M("lo", u8, 0, 4), new BtfBuilder.M("hi", u8, 4, 4),
                new BtfBuilder.M("w", u32, 8, 24));                        // 12
        int rec = b.struct("rec", 64,
                new BtfBuilder.M("a", u64, 0),
                new BtfBuilder.M("b", cv, 64),
                new BtfBuilder.M("c", arr, 96),
                new BtfBuilder.M("", inner, 256),
                new BtfBuilder.M("sk", p, 320),
                new BtfBuilder.M("bits", bits, 384),
                new BtfBuilder.M("m", arr2, 416));                        // 13
        b.enum32("color", false, "RED", 0L, "GREEN", 1L, "BIG", 0xffff0000L); // 14
        b.enum32("sgn", true, "NEG", -2L, "POS", 3L);                     // 15
        b.enum64("wide", false, "W1", 1L, "WMAX", 0xfedcba9876543210L);   // 16
        int proto = b.funcProto(u32, t32, p);                              // 17
        b.func("do_it", proto);                                            // 18
        int v = b.var("global_rec", rec);                                  // 19
        b.datasec(".bss", 64, v, 0, 64);                                   // 20
        b.floatType("double", 8);                                          // 21
        b.declTag("tag", rec, 1);                                          // 22
        b.typeTag("user", u32);                                            // 23
        return b;
    }

    @Test
    void parsesEveryKind() {
        Btf btf = Btf.parse(everyKind().build());
        assertEquals(24, btf.typeCount());
        assertEquals("rec", btf.typeName(13));
        assertEquals("void", btf.typeName(0));
        assertEquals(8, btf.sizeOf(10), "pointer");
        assertEquals(48, btf.sizeOf(8), "u8[3][16]");
        assertEquals(4, btf.sizeOf(6), "const volatile __u32");
        assertEquals(64, btf.sizeOf(19), "var of struct rec");
        assertEquals(8, btf.sizeOf(21), "float");
        assertEquals(4, btf.sizeOf(23), "type tag");
        assertEquals(0, btf.sizeOf(9), "forward declaration");
        assertEquals(13, btf.typeId("rec"));
        assertEquals(0, btf.typeId("nope"));
    }

    @Test
    void structLayout() {
        StructLayout rec = Btf.parse(everyKind().build()).struct("rec").orElseThrow();
        assertEquals("rec", rec.name());
        assertEquals(64, rec.size());
        assertFalse(rec.union());
        assertEquals(List.of("a", "b", "c", "", "sk", "bits", "m"), rec.members().stream().map(StructLayout.Member::name).toList());
        assertEquals(0, rec.member("a").byteOffset());
        assertEquals(8, rec.member("a").size());
        assertEquals(8, rec.member("b").byteOffset());
        assertEquals(4, rec.member("b").size());
        assertEquals(12, rec.member("c").byteOffset());
        assertEquals(16, rec.member("c").size());
        assertEquals(8, rec.member("sk").size());
        assertEquals(48, rec.member("m").size());
        // members of an anonymous union are found through it, at offsets relative to rec
        assertEquals(32, rec.member("x").byteOffset());
        assertEquals(8, rec.member("x").size());
        assertEquals(32, rec.member("y").byteOffset());
        assertEquals(4, rec.member("y").size());
        assertTrue(rec.member("").layout().union());
        // bitfields (kind_flag set): size of the underlying type, bit offset and width
        StructLayout bits = rec.member("bits").layout();
        assertEquals(4, bits.member("hi").bitOffset());
        assertEquals(4, bits.member("hi").bitfieldSize());
        assertEquals(1, bits.member("hi").size());
        assertEquals(24, bits.member("w").bitfieldSize());
        assertEquals(1, bits.member("w").byteOffset());
        assertNull(rec.member("a").layout());
        assertFalse(rec.hasMember("zz"));
        assertThrows(NoSuchElementException.class, () -> rec.member("zz"));
    }

    @Test
    void enums() {
        Btf btf = Btf.parse(everyKind().build());
        assertEquals(Map.of(0L, "RED", 1L, "GREEN", 0xffff0000L, "BIG"), btf.enumValues("color"));
        assertEquals(Map.of(-2L, "NEG", 3L, "POS"), btf.enumValues("sgn"));
        assertEquals(Map.of(1L, "W1", 0xfedcba9876543210L, "WMAX"), btf.enumValues("wide"));
        assertTrue(btf.enumType("sgn").orElseThrow().signed());
        assertEquals(8, btf.enumType("wide").orElseThrow().size());
        assertEquals(3, btf.enums().size());
        assertThrows(NoSuchElementException.class, () -> btf.enumValues("nope"));
        assertTrue(btf.enumType("rec").isEmpty(), "a struct is not an enum");
        assertTrue(btf.struct("color").isEmpty(), "an enum is not a struct");
        assertTrue(btf.struct("sock").isEmpty(), "a forward declaration has no layout");
    }

    @Test
    void bigEndianAndByteBuffer() {
        byte[] be = everyKind().build(ByteOrder.BIG_ENDIAN);
        Btf btf = Btf.parse(be);
        assertTrue(btf.bigEndian());
        assertEquals(12, btf.struct("rec").orElseThrow().member("c").byteOffset());
        assertEquals(Map.of(1L, "W1", 0xfedcba9876543210L, "WMAX"), btf.enumValues("wide"));

        byte[] le = everyKind().build();
        byte[] padded = new byte[le.length + 10];
        System.arraycopy(le, 0, padded, 5, le.length);
        ByteBuffer buf = ByteBuffer.wrap(padded, 5, le.length);
        assertEquals(24, Btf.parse(buf).typeCount());
        assertEquals(5, buf.position(), "the caller's buffer is left alone");
    }

    @Test
    void splitBtfContinuesItsBase() {
        BtfBuilder baseBuilder = everyKind();
        Btf base = Btf.parse(baseBuilder.build());
        BtfBuilder mod = new BtfBuilder(baseBuilder.nextId(), baseBuilder.stringsLength());
        int e = mod.enum32("mod_drop_reason", false, "MOD_DROP_A", 0x20001L); // 24
        int s = mod.struct("mod_rec", 16, new BtfBuilder.M("r", 13, 0), new BtfBuilder.M("e", e, 96));
        Btf split = Btf.parse(mod.build(), base);
        assertEquals(26, split.typeCount());
        assertEquals(Map.of(0x20001L, "MOD_DROP_A"), split.enumValues("mod_drop_reason"));
        assertEquals(Map.of(1L, "W1", 0xfedcba9876543210L, "WMAX"), split.enumValues("wide"), "base types are visible");
        StructLayout l = split.struct("mod_rec").orElseThrow();
        assertEquals(64, l.member("r").size());
        assertEquals(4, l.member("e").size());
        assertEquals("mod_rec", split.typeName(s));
        assertEquals(4, split.enums().size());
    }

    @Test
    void missingKernelBtfSaysSo() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Btf.fromFile(Path.of("/nonexistent/btf/vmlinux")));
        assertTrue(e.getMessage().startsWith("this kernel has no BTF ("), e.getMessage());
    }

    @Test
    void malformedHeaders() {
        byte[] good = everyKind().build();
        assertFormat("too short", new byte[10]);
        assertFormat("bad BTF magic", new byte[64]);
        byte[] v = good.clone();
        v[2] = 2;
        assertFormat("version 2", v);
        byte[] t = java.util.Arrays.copyOf(good, good.length - 1);
        assertFormat("runs past the end", t);
        byte[] h = good.clone();
        ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 1 << 30);
        assertFormat("header length", h);
        byte[] n = good.clone();
        n[n.length - 1] = 'x';
        assertFormat("does not end with NUL", n);
        assertThrows(BtfFormatException.class, () -> Btf.parse((byte[]) null));
    }

    @Test
    void malformedTypes() {
        BtfBuilder b = new BtfBuilder();
        b.intType("int", 4, true, 32);
        b.raw(0);
        b.raw(25 << 24);
        b.raw(0);
        assertFormat("unknown kind 25", b.build());

        BtfBuilder c = new BtfBuilder();
        c.struct("s", 4, new BtfBuilder.M("a", 99, 0));
        Btf btf = Btf.parse(c.build());
        assertFormatAt("refers to type 99", () -> btf.struct("s"));

        BtfBuilder self = new BtfBuilder();
        self.struct("s", 4, new BtfBuilder.M("a", 1, 0));
        assertFormatAt("contains itself", () -> Btf.parse(self.build()).struct("s"));

        BtfBuilder loop = new BtfBuilder();
        loop.typedef("a", 2);
        loop.typedef("b", 1);
        assertFormatAt("a loop", () -> Btf.parse(loop.build()).sizeOf(1));

        BtfBuilder trunc = new BtfBuilder();
        trunc.raw(0);
        trunc.raw(Btf.KIND_STRUCT << 24 | 100);
        trunc.raw(8);
        assertFormat("runs past the end of the type section", trunc.build());

        BtfBuilder name = new BtfBuilder();
        name.raw(5000);
        name.raw(Btf.KIND_PTR << 24);
        name.raw(0);
        assertFormat("name offset 5000", name.build());
    }

    static void assertFormat(String expected, byte[] raw) {
        assertFormatAt(expected, () -> Btf.parse(raw));
    }

    static void assertFormatAt(String expected, org.junit.jupiter.api.function.Executable e) {
        BtfFormatException ex = assertThrows(BtfFormatException.class, e);
        assertTrue(ex.getMessage().contains(expected), "message '" + ex.getMessage() + "' lacks '" + expected + "'");
    }
}
