package dev.droptrace.btf;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Truncated, oversized and randomly mutated input: the only exception that may escape Btf is
 * BtfFormatException, at parse or at any later query.
 */
class BtfFuzzTest {

    private static final int ROUNDS = 5000;

    @Test
    void mutatedBuiltBlob() {
        fuzz(BtfTest.everyKind().build(), 1, Btf::parse);
    }

    @Test
    void mutatedClangBlobAndObject() throws Exception {
        byte[] elf = ClangObjects.compile(ClangObjects.REC_SOURCE);
        fuzz(elf, 2, Btf::fromElf);
        ElfSections.Section s = ElfSections.find(elf, ".BTF").orElseThrow();
        fuzz(Arrays.copyOfRange(elf, (int) s.offset(), (int) (s.offset() + s.size())), 3, Btf::parse);
    }

    @Test
    void everyTruncationAndRandomBytes() {
        byte[] good = BtfTest.everyKind().build();
        for (int len = 0; len < good.length; len++) {
            exercise(Arrays.copyOf(good, len), Btf::parse);
        }
        Random r = new Random(4);
        for (int i = 0; i < 1000; i++) {
            byte[] junk = new byte[r.nextInt(512)];
            r.nextBytes(junk);
            if (junk.length >= 4 && r.nextBoolean()) {
                junk[0] = (byte) 0x9f;
                junk[1] = (byte) 0xeb;
                junk[2] = 1;
            }
            exercise(junk, Btf::parse);
            exercise(junk, Btf::fromElf);
        }
    }

    private static void fuzz(byte[] seed, long salt, Function<byte[], Btf> parser) {
        Random r = new Random(0x5eed_0000L + salt);
        for (int i = 0; i < ROUNDS; i++) {
            byte[] b = mutate(seed, r);
            exercise(b, parser);
        }
    }

    private static byte[] mutate(byte[] seed, Random r) {
        byte[] b;
        switch (r.nextInt(6)) {
            case 0 -> b = Arrays.copyOf(seed, r.nextInt(seed.length)); // truncated
            case 1 -> { // oversized: random tail
                b = Arrays.copyOf(seed, seed.length + 1 + r.nextInt(256));
                for (int i = seed.length; i < b.length; i++) {
                    b[i] = (byte) r.nextInt();
                }
            }
            case 2 -> { // one 32-bit word set to an extreme value
                b = seed.clone();
                int at = r.nextInt(seed.length - 3) & ~3;
                int[] extremes = {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 0xffff, 0x10000, 1 << 24, r.nextInt()};
                int v = extremes[r.nextInt(extremes.length)];
                for (int k = 0; k < 4; k++) {
                    b[at + k] = (byte) (v >>> (8 * k));
                }
            }
            default -> { // a few random bytes
                b = seed.clone();
                for (int k = 1 + r.nextInt(8); k > 0; k--) {
                    b[r.nextInt(b.length)] = (byte) r.nextInt();
                }
            }
        }
        return b;
    }

    /** Parses and then asks everything of the result. */
    private static void exercise(byte[] b, Function<byte[], Btf> parser) {
        try {
            Btf btf = parser.apply(b);
            for (BtfEnum e : btf.enums()) {
                if (!e.name().isEmpty()) {
                    btf.enumValues(e.name());
                }
            }
            for (int id = 0; id < btf.typeCount(); id++) {
                String name = btf.typeName(id);
                btf.sizeOf(id);
                if (!name.isEmpty()) {
                    btf.struct(name).ifPresent(s -> s.members().forEach(m -> s.hasMember(m.name())));
                }
            }
            btf.struct("rec");
            btf.struct("drop_event");
            btf.enumType("skb_drop_reason");
        } catch (BtfFormatException expected) {
            if (expected.getMessage() == null || expected.getMessage().isEmpty()) {
                fail("BtfFormatException without a message", expected);
            }
            if (expected.getCause() != null) {
                fail("caught only by the backstop, not by an explicit check: " + hex(b), expected);
            }
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            fail("input " + hex(b) + " threw " + e, e);
        }
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(b.length, 96); i++) {
            s.append(String.format("%02x", b[i]));
        }
        return s + (b.length > 96 ? "... (" + b.length + " bytes)" : "");
    }
}
