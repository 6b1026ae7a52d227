package dev.droptrace.btf;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Finds a section by name in a 64-bit little-endian ELF file, as clang writes for
 * {@code -target bpf} (or {@code bpfel}). Only the section header table and its string table are
 * read; every offset is checked against the file.
 */
final class ElfSections {

    private static final int EHDR_SIZE = 64;
    private static final int SHDR_SIZE = 64;
    private static final int SHN_XINDEX = 0xffff;
    private static final int SHT_NOBITS = 8;

    record Section(String name, long offset, long size) {
    }

    private ElfSections() {
    }

    static Optional<Section> find(byte[] elf, String wanted) {
        if (elf.length < EHDR_SIZE) {
            throw new BtfFormatException("ELF file too short for a header: " + elf.length + " bytes");
        }
        if (elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F') {
            throw new BtfFormatException("not an ELF file (bad magic)");
        }
        if (elf[4] != 2) {
            throw new BtfFormatException("not a 64-bit ELF file (EI_CLASS " + elf[4] + ")");
        }
        if (elf[5] != 1) {
            throw new BtfFormatException("not a little-endian ELF file (EI_DATA " + elf[5] + ")");
        }
        long shoff = u64(elf, 0x28);
        int shentsize = u16(elf, 0x3a);
        long shnum = u16(elf, 0x3c);
        long shstrndx = u16(elf, 0x3e);
        if (shoff == 0) {
            throw new BtfFormatException("ELF file has no section header table");
        }
        if (shentsize < SHDR_SIZE) {
            throw new BtfFormatException("bad ELF section header size " + shentsize);
        }
        checkRange(elf, shoff, shentsize, "section header 0");
        if (shnum == 0) {
            shnum = u64(elf, (int) shoff + 0x20); // sh_size of section 0 holds the real count
        }
        if (shstrndx == SHN_XINDEX) {
            shstrndx = u32(elf, (int) shoff + 0x28); // sh_link of section 0
        }
        if (shnum < 0 || shnum > (elf.length - shoff) / shentsize) {
            throw new BtfFormatException("ELF section header table (" + shnum + " entries at " + shoff
                    + ") runs past the end of the " + elf.length + "-byte file");
        }
        if (shstrndx >= shnum) {
            throw new BtfFormatException("ELF section name table index " + shstrndx + " out of range (" + shnum + " sections)");
        }
        int strHdr = (int) (shoff + shstrndx * shentsize);
        long strOff = u64(elf, strHdr + 0x18);
        long strSize = u64(elf, strHdr + 0x20);
        checkRange(elf, strOff, strSize, "section name table");
        byte[] want = wanted.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < shnum; i++) {
            int h = (int) (shoff + (long) i * shentsize);
            long nameOff = u32(elf, h);
            if (nameOff >= strSize || !nameIs(elf, strOff + nameOff, strOff + strSize, want)) {
                continue;
            }
            if (u32(elf, h + 4) == SHT_NOBITS) {
                throw new BtfFormatException("ELF section " + wanted + " has no data (SHT_NOBITS)");
            }
            long off = u64(elf, h + 0x18);
            long size = u64(elf, h + 0x20);
            checkRange(elf, off, size, "section " + wanted);
            return Optional.of(new Section(wanted, off, size));
        }
        return Optional.empty();
    }

    private static boolean nameIs(byte[] elf, long at, long limit, byte[] want) {
        if (limit - at <= want.length) {
            return false;
        }
        int p = (int) at;
        for (int j = 0; j < want.length; j++) {
            if (elf[p + j] != want[j]) {
                return false;
            }
        }
        return elf[p + want.length] == 0;
    }

    private static void checkRange(byte[] elf, long off, long size, String what) {
        if (off < 0 || size < 0 || off > elf.length || size > elf.length - off) {
            throw new BtfFormatException("ELF " + what + " [" + Long.toUnsignedString(off) + ", +" + Long.toUnsignedString(size)
                    + ") runs past the end of the " + elf.length + "-byte file");
        }
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8;
    }

    private static long u32(byte[] b, int off) {
        return (b[off] & 0xffL) | (b[off + 1] & 0xffL) << 8 | (b[off + 2] & 0xffL) << 16 | (b[off + 3] & 0xffL) << 24;
    }

    private static long u64(byte[] b, int off) {
        return u32(b, off) | u32(b, off + 4) << 32;
    }
}
