package dev.droptrace.btf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * A parsed BTF blob (the BPF Type Format of the kernel's {@code Documentation/bpf/btf.rst}).
 *
 * <p>{@link #parse(byte[])} walks the type section once, checking that every record and its trailing
 * data lie inside the section and that every name points into the string section, and keeps only
 * the offset of each type. Names, enums and struct layouts are decoded on demand. Type ids and
 * string offsets read later are checked when used, so a malformed blob fails with a
 * {@link BtfFormatException} at parse or at lookup, never with an index error.
 *
 * <p>Split BTF (a kernel module's {@code /sys/kernel/btf/<module>}, whose ids and strings continue
 * those of vmlinux) is read with {@link #parse(byte[], Btf)}.
 *
 * <p>Names are C identifiers in practice; they are read as ISO-8859-1 (one char per byte) so that any
 * name this class returns can be looked up again.
 *
 * <p>Instances are immutable and safe to share between threads.
 */
public final class Btf {

    /** Where the running kernel publishes its own BTF. */
    public static final Path VMLINUX = Path.of("/sys/kernel/btf/vmlinux");

    static final int KIND_UNKN = 0;
    static final int KIND_INT = 1;
    static final int KIND_PTR = 2;
    static final int KIND_ARRAY = 3;
    static final int KIND_STRUCT = 4;
    static final int KIND_UNION = 5;
    static final int KIND_ENUM = 6;
    static final int KIND_FWD = 7;
    static final int KIND_TYPEDEF = 8;
    static final int KIND_VOLATILE = 9;
    static final int KIND_CONST = 10;
    static final int KIND_RESTRICT = 11;
    static final int KIND_FUNC = 12;
    static final int KIND_FUNC_PROTO = 13;
    static final int KIND_VAR = 14;
    static final int KIND_DATASEC = 15;
    static final int KIND_FLOAT = 16;
    static final int KIND_DECL_TAG = 17;
    static final int KIND_TYPE_TAG = 18;
    static final int KIND_ENUM64 = 19;

    private static final int MAGIC = 0xeB9F;
    private static final int HEADER_LEN = 24;
    private static final int TYPE_RECORD = 12;
    private static final int MAX_CHAIN = 64;
    private static final int MAX_NESTING = 256;
    /** BTF does not say how wide a pointer is; droptrace runs on 64-bit kernels only. */
    private static final int POINTER_SIZE = 8;

    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private final byte[] data;
    private final boolean bigEndian;
    private final int typeStart;
    private final int typeEnd;
    private final int strStart;
    private final int strLen;
    /** Absolute offsets in {@link #data} of this blob's types; index 0 is id {@link #firstId}. */
    private final int[] typeOffsets;
    private final Btf base;
    /** The id of the first type in this blob: 1, or the base's type count for split BTF. */
    private final int firstId;
    /** The offset of this blob's string 0 in the combined string space. */
    private final int strBase;

    private Btf(byte[] data, boolean bigEndian, int typeStart, int typeEnd, int strStart, int strLen,
                int[] typeOffsets, Btf base) {
        this.data = data;
        this.bigEndian = bigEndian;
        this.typeStart = typeStart;
        this.typeEnd = typeEnd;
        this.strStart = strStart;
        this.strLen = strLen;
        this.typeOffsets = typeOffsets;
        this.base = base;
        this.firstId = base == null ? 1 : base.typeCount();
        this.strBase = base == null ? 0 : base.stringSpace();
    }

    // ---------------------------------------------------------------- construction

    /** Parses raw BTF (header, types, strings), e.g. the contents of /sys/kernel/btf/vmlinux. */
    public static Btf parse(byte[] raw) {
        return parse(raw, null);
    }

    /** Parses the remaining bytes of {@code raw} (its position and limit are respected; it is not modified). */
    public static Btf parse(ByteBuffer raw) {
        ByteBuffer b = raw.duplicate();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return parse(bytes, null);
    }

    /**
     * Parses split BTF whose type ids and string offsets continue those of {@code base} (as a
     * kernel module's BTF continues vmlinux's), or standalone BTF when {@code base} is null.
     */
    public static Btf parse(byte[] raw, Btf base) {
        if (raw == null) {
            throw new BtfFormatException("no BTF data (null)");
        }
        try {
            return doParse(raw, base);
        } catch (BtfFormatException e) {
            throw e;
        } catch (RuntimeException e) {
            // Every read is bounds-checked; this is a backstop so nothing else ever leaks out.
            throw new BtfFormatException("malformed BTF: " + e, e);
        }
    }

    /**
     * Reads the running kernel's BTF from {@link #VMLINUX}.
     *
     * @throws IllegalStateException if the kernel has no BTF
     * @throws UncheckedIOException  if the file cannot be read
     */
    public static Btf kernel() {
        return fromFile(VMLINUX);
    }

    /** Reads the split BTF of a loaded kernel module ({@code /sys/kernel/btf/<module>}) on top of {@code vmlinux}. */
    public static Optional<Btf> kernelModule(String module, Btf vmlinux) {
        Path p = VMLINUX.resolveSibling(module);
        if (module.isEmpty() || module.contains("/") || !Files.isRegularFile(p)) {
            return Optional.empty();
        }
        try {
            return Optional.of(parse(Files.readAllBytes(p), vmlinux));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }

    static Btf fromFile(Path path) {
        byte[] raw;
        try {
            raw = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new IllegalStateException("this kernel has no BTF (" + path + " is missing)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
        return parse(raw);
    }

    /**
     * Parses the {@code .BTF} section of an ELF file, as clang writes into a BPF object
     * ({@code clang -g -target bpf -c}).
     *
     * @throws BtfFormatException if {@code elf} is not an ELF file or has no {@code .BTF} section
     */
    public static Btf fromElf(byte[] elf) {
        if (elf == null) {
            throw new BtfFormatException("no ELF data (null)");
        }
        ElfSections.Section s;
        try {
            s = ElfSections.find(elf, ".BTF")
                    .orElseThrow(() -> new BtfFormatException("ELF file has no .BTF section (was it compiled with -g?)"));
        } catch (BtfFormatException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new BtfFormatException("malformed ELF file: " + e, e);
        }
        byte[] raw = new byte[(int) s.size()];
        System.arraycopy(elf, (int) s.offset(), raw, 0, raw.length);
        return parse(raw);
    }

    private static Btf doParse(byte[] d, Btf base) {
        if (d.length < HEADER_LEN) {
            throw new BtfFormatException("BTF too short for a header: " + d.length + " bytes");
        }
        int magicLe = (d[0] & 0xff) | (d[1] & 0xff) << 8;
        boolean be;
        if (magicLe == MAGIC) {
            be = false;
        } else if (magicLe == Integer.reverseBytes(MAGIC) >>> 16) {
            be = true;
        } else {
            throw new BtfFormatException(String.format("bad BTF magic 0x%04x (want 0x%04x)", magicLe, MAGIC));
        }
        int version = d[2] & 0xff;
        if (version != 1) {
            throw new BtfFormatException("unsupported BTF version " + version);
        }
        long hdrLen = u32(d, 4, be);
        long typeOff = u32(d, 8, be);
        long typeLen = u32(d, 12, be);
        long strOff = u32(d, 16, be);
        long strLen = u32(d, 20, be);
        if (hdrLen < HEADER_LEN || hdrLen > d.length) {
            throw new BtfFormatException("bad BTF header length " + hdrLen + " (blob is " + d.length + " bytes)");
        }
        long typeStart = hdrLen + typeOff;
        long typeEnd = typeStart + typeLen;
        long strStart = hdrLen + strOff;
        long strEnd = strStart + strLen;
        if (typeEnd > d.length) {
            throw new BtfFormatException("BTF type section [" + typeStart + ", " + typeEnd + ") runs past the end of the "
                    + d.length + "-byte blob");
        }
        if (strEnd > d.length) {
            throw new BtfFormatException("BTF string section [" + strStart + ", " + strEnd + ") runs past the end of the "
                    + d.length + "-byte blob");
        }
        if (typeStart < strEnd && strStart < typeEnd && typeLen > 0 && strLen > 0) {
            throw new BtfFormatException("BTF type and string sections overlap");
        }
        if ((typeOff & 3) != 0) {
            throw new BtfFormatException("BTF type section offset " + typeOff + " is not 4-byte aligned");
        }
        if (strLen == 0 && base == null) {
            throw new BtfFormatException("BTF string section is empty");
        }
        if (strLen > 0 && d[(int) (strEnd - 1)] != 0) {
            throw new BtfFormatException("BTF string section does not end with NUL");
        }
        if (strLen > 0 && base == null && d[(int) strStart] != 0) {
            throw new BtfFormatException("BTF string section does not start with the empty string");
        }
        int baseStrings = base == null ? 0 : base.stringSpace();
        long stringSpace = baseStrings + strLen;

        int[] offsets = new int[Math.max(16, (int) (typeLen / 16))];
        int n = 0;
        int off = (int) typeStart;
        int end = (int) typeEnd;
        int firstId = base == null ? 1 : base.typeCount();
        while (off < end) {
            if (end - off < TYPE_RECORD) {
                throw new BtfFormatException("BTF type " + (firstId + n) + " at offset " + off + " is truncated");
            }
            long nameOff = u32(d, off, be);
            int info = i32(d, off + 4, be);
            int kind = (info >>> 24) & 0x1f;
            int vlen = info & 0xffff;
            if (nameOff >= stringSpace) {
                throw new BtfFormatException("BTF type " + (firstId + n) + " has name offset " + nameOff
                        + " outside the " + stringSpace + "-byte string section");
            }
            long extra = switch (kind) {
                case KIND_INT, KIND_VAR, KIND_DECL_TAG -> 4;
                case KIND_ARRAY -> 12;
                case KIND_STRUCT, KIND_UNION, KIND_DATASEC, KIND_ENUM64 -> 12L * vlen;
                case KIND_ENUM, KIND_FUNC_PROTO -> 8L * vlen;
                case KIND_PTR, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_FUNC,
                     KIND_FLOAT, KIND_TYPE_TAG -> 0;
                default -> throw new BtfFormatException("BTF type " + (firstId + n) + " at offset " + off
                        + " has unknown kind " + kind);
            };
            long next = off + TYPE_RECORD + extra;
            if (next > end) {
                throw new BtfFormatException("BTF type " + (firstId + n) + " (kind " + kindName(kind) + ", vlen " + vlen
                        + ") runs past the end of the type section");
            }
            if (n == offsets.length) {
                offsets = java.util.Arrays.copyOf(offsets, offsets.length * 2);
            }
            offsets[n++] = off;
            off = (int) next;
        }
        if ((long) firstId + n > Integer.MAX_VALUE) {
            throw new BtfFormatException("too many BTF types");
        }
        return new Btf(d, be, (int) typeStart, end, (int) strStart, (int) strLen, java.util.Arrays.copyOf(offsets, n), base);
    }

    // ---------------------------------------------------------------- public queries

    /** One more than the greatest type id (ids run from 1; id 0 is void), counting a base's types. */
    public int typeCount() {
        return firstId + typeOffsets.length;
    }

    /** Whether the blob's byte order is big-endian (BTF is written in the byte order of its target). */
    public boolean bigEndian() {
        return bigEndian;
    }

    /**
     * The enumerators of {@code enum enumName} (BTF kind ENUM or ENUM64) as value -> name, in
     * declaration order. When two enumerators share a value the first one is kept; use
     * {@link #enumType(String)} to see them all.
     *
     * @throws NoSuchElementException if there is no enum of that name
     */
    public Map<Long, String> enumValues(String enumName) {
        BtfEnum e = enumType(enumName).orElseThrow(() -> new NoSuchElementException("no enum " + enumName + " in BTF"));
        Map<Long, String> m = new LinkedHashMap<>();
        for (BtfEnum.Enumerator en : e.enumerators()) {
            m.putIfAbsent(en.value(), en.name());
        }
        return Collections.unmodifiableMap(m);
    }

    /** The first enum (ENUM or ENUM64, with enumerators) named {@code name}, here or in the base. */
    public Optional<BtfEnum> enumType(String name) {
        int id = findNamed(name, KIND_ENUM, KIND_ENUM64, true);
        return id == 0 ? Optional.empty() : Optional.of(decodeEnum(id));
    }

    /** Every named or anonymous enum with at least one enumerator, in type id order (base first). */
    public List<BtfEnum> enums() {
        List<BtfEnum> out = new ArrayList<>();
        for (int id = 1, n = typeCount(); id < n; id++) {
            int k = kind(id);
            if ((k == KIND_ENUM || k == KIND_ENUM64) && vlen(id) > 0) {
                out.add(decodeEnum(id));
            }
        }
        return out;
    }

    /**
     * The layout of the first struct named {@code name} that is defined (not a forward
     * declaration), or else of a union of that name.
     */
    public Optional<StructLayout> struct(String name) {
        int id = findNamed(name, KIND_STRUCT, KIND_STRUCT, false);
        if (id == 0) {
            id = findNamed(name, KIND_UNION, KIND_UNION, false);
        }
        return id == 0 ? Optional.empty() : Optional.of(layout(id, new HashMap<>(), 0));
    }

    /** The id of the first type of any kind named {@code name}, or 0 (void) when none. */
    public int typeId(String name) {
        return findNamed(name, -1, -1, false);
    }

    /** The name of type {@code id} ("" when anonymous; "void" for id 0). */
    public String typeName(int id) {
        if (id == 0) {
            return "void";
        }
        return string(nameOff(id));
    }

    /**
     * The size in bytes of type {@code id}, resolved through typedefs, modifiers (const, volatile,
     * restrict, type tags) and variables; an array is its element count times its element size, a
     * pointer is 8 bytes; void, functions and forward declarations are 0.
     */
    public long sizeOf(int id) {
        long mult = 1;
        for (int depth = 0; depth < MAX_CHAIN; depth++) {
            if (id == 0) {
                return 0;
            }
            switch (kind(id)) {
                case KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_DATASEC -> {
                    return mult * sizeOrType(id);
                }
                case KIND_PTR -> {
                    return mult * POINTER_SIZE;
                }
                case KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG, KIND_VAR ->
                        id = refType(id);
                case KIND_ARRAY -> {
                    long nelems = u32(ownerData(id), extraOff(id) + 8, bigEndian(id));
                    mult = Math.multiplyExact(mult, nelems);
                    if (mult > Integer.MAX_VALUE) {
                        throw new BtfFormatException("BTF array type " + id + " is larger than 2 GiB");
                    }
                    id = checkedId(i32(ownerData(id), extraOff(id), bigEndian(id)), id);
                }
                default -> {
                    return 0;
                }
            }
        }
        throw new BtfFormatException("BTF type chain from type " + id + " is longer than " + MAX_CHAIN + " (a loop?)");
    }

    // ---------------------------------------------------------------- decoding

    private BtfEnum decodeEnum(int id) {
        Btf o = owner(id);
        int off = o.typeOffsets[id - o.firstId];
        int info = o.i32(off + 4);
        int kind = (info >>> 24) & 0x1f;
        boolean signed = info < 0;
        int vlen = info & 0xffff;
        List<BtfEnum.Enumerator> list = new ArrayList<>(vlen);
        int p = off + TYPE_RECORD;
        for (int i = 0; i < vlen; i++) {
            String name = string(o.u32(p));
            long value;
            if (kind == KIND_ENUM) {
                int v = o.i32(p + 4);
                value = signed ? v : v & 0xffffffffL;
                p += 8;
            } else {
                long lo = o.u32(p + 4);
                long hi = o.u32(p + 8);
                value = hi << 32 | lo;
                p += 12;
            }
            list.add(new BtfEnum.Enumerator(name, value));
        }
        return new BtfEnum(string(o.u32(off)), (int) o.u32(off + 8), signed, list);
    }

    /**
     * Decodes struct or union {@code id} and, recursively, the structs it embeds. {@code done} holds
     * the layouts decoded so far (each decoded once, so a type shared by many members costs once) and
     * null for those being decoded (a struct that contains itself is malformed BTF).
     */
    private StructLayout layout(int id, Map<Integer, StructLayout> done, int depth) {
        if (done.containsKey(id)) {
            StructLayout l = done.get(id);
            if (l == null) {
                throw new BtfFormatException("BTF struct type " + id + " contains itself");
            }
            return l;
        }
        if (depth > MAX_NESTING) {
            throw new BtfFormatException("BTF struct type " + id + " is nested more than " + MAX_NESTING + " deep");
        }
        done.put(id, null);
        Btf o = owner(id);
        int off = o.typeOffsets[id - o.firstId];
        int info = o.i32(off + 4);
        boolean kindFlag = info < 0;
        int vlen = info & 0xffff;
        long size = o.u32(off + 8);
        if (size > Integer.MAX_VALUE) {
            throw new BtfFormatException("BTF struct type " + id + " is larger than 2 GiB");
        }
        List<StructLayout.Member> members = new ArrayList<>(vlen);
        int p = off + TYPE_RECORD;
        for (int i = 0; i < vlen; i++, p += 12) {
            String name = string(o.u32(p));
            int type = checkedId(o.i32(p + 4), id);
            long raw = o.u32(p + 8);
            long bitOffset = kindFlag ? raw & 0xffffff : raw;
            int bitfieldSize = kindFlag ? (int) (raw >>> 24) : 0;
            long memberSize = sizeOf(type);
            if (memberSize > Integer.MAX_VALUE) {
                throw new BtfFormatException("member " + name + " of BTF type " + id + " is larger than 2 GiB");
            }
            int resolved = skipModifiers(type);
            int rk = resolved == 0 ? KIND_UNKN : kind(resolved);
            StructLayout inner = (rk == KIND_STRUCT || rk == KIND_UNION) ? layout(resolved, done, depth + 1) : null;
            members.add(new StructLayout.Member(name, bitOffset, bitfieldSize, (int) memberSize, type, inner));
        }
        StructLayout l = new StructLayout(string(o.u32(off)), (int) size, ((info >>> 24) & 0x1f) == KIND_UNION, members);
        done.put(id, l);
        return l;
    }

    /** Follows typedefs and modifiers to the underlying type. */
    private int skipModifiers(int id) {
        for (int depth = 0; depth < MAX_CHAIN; depth++) {
            if (id == 0) {
                return 0;
            }
            switch (kind(id)) {
                case KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG -> id = refType(id);
                default -> {
                    return id;
                }
            }
        }
        throw new BtfFormatException("BTF type chain from type " + id + " is longer than " + MAX_CHAIN + " (a loop?)");
    }

    /**
     * The first type id named {@code name} whose kind is kindA or kindB (any kind when -1), skipping
     * forward declarations and, when {@code needMembers}, empty types. Searches the base first.
     */
    private int findNamed(String name, int kindA, int kindB, boolean needMembers) {
        if (base != null) {
            int id = base.findNamed(name, kindA, kindB, needMembers);
            if (id != 0) {
                return id;
            }
        }
        if (name.isEmpty()) {
            return 0;
        }
        for (int i = 0; i < typeOffsets.length; i++) {
            int off = typeOffsets[i];
            int info = i32(off + 4);
            int k = (info >>> 24) & 0x1f;
            if (kindA >= 0 && k != kindA && k != kindB) {
                continue;
            }
            if (needMembers && (info & 0xffff) == 0) {
                continue;
            }
            if (nameEquals(u32(off), name)) {
                return firstId + i;
            }
        }
        return 0;
    }

    /** Whether string {@code nameOff} is {@code want}; strings are read as ISO-8859-1, byte for char. */
    private boolean nameEquals(long nameOff, String want) {
        if (nameOff < strBase) {
            return base.nameEquals(nameOff, want);
        }
        long rel = nameOff - strBase;
        if (rel >= strLen) {
            throw new BtfFormatException("BTF string offset " + nameOff + " is outside the string section");
        }
        int p = strStart + (int) rel;
        int limit = strStart + strLen;
        int n = want.length();
        if (limit - p <= n) {
            return false;
        }
        for (int j = 0; j < n; j++) {
            if ((data[p + j] & 0xff) != want.charAt(j)) {
                return false;
            }
        }
        return data[p + n] == 0;
    }

    String string(long nameOff) {
        if (nameOff < strBase) {
            return base.string(nameOff);
        }
        long rel = nameOff - strBase;
        if (rel >= strLen) {
            throw new BtfFormatException("BTF string offset " + nameOff + " is outside the string section");
        }
        int p = strStart + (int) rel;
        int e = p;
        int limit = strStart + strLen; // the section ends with NUL, checked at parse
        while (e < limit && data[e] != 0) {
            e++;
        }
        return new String(data, p, e - p, StandardCharsets.ISO_8859_1);
    }

    // ---------------------------------------------------------------- low-level access

    private int stringSpace() {
        return strBase + strLen;
    }

    private Btf owner(int id) {
        if (id <= 0 || id >= typeCount()) {
            throw new BtfFormatException("BTF type id " + id + " does not exist (types run 1.." + (typeCount() - 1) + ")");
        }
        Btf o = this;
        while (id < o.firstId) {
            o = o.base;
        }
        return o;
    }

    private int checkedId(int id, int from) {
        if (id < 0 || id >= typeCount()) {
            throw new BtfFormatException("BTF type " + from + " refers to type " + Integer.toUnsignedString(id)
                    + ", which does not exist");
        }
        return id;
    }

    private int kind(int id) {
        Btf o = owner(id);
        return (o.i32(o.typeOffsets[id - o.firstId] + 4) >>> 24) & 0x1f;
    }

    private int vlen(int id) {
        Btf o = owner(id);
        return o.i32(o.typeOffsets[id - o.firstId] + 4) & 0xffff;
    }

    private long nameOff(int id) {
        Btf o = owner(id);
        return o.u32(o.typeOffsets[id - o.firstId]);
    }

    private long sizeOrType(int id) {
        Btf o = owner(id);
        return o.u32(o.typeOffsets[id - o.firstId] + 8);
    }

    private int refType(int id) {
        return checkedId((int) sizeOrType(id), id);
    }

    private int extraOff(int id) {
        Btf o = owner(id);
        return o.typeOffsets[id - o.firstId] + TYPE_RECORD;
    }

    private byte[] ownerData(int id) {
        return owner(id).data;
    }

    private boolean bigEndian(int id) {
        return owner(id).bigEndian;
    }

    private int i32(int off) {
        return i32(data, off, bigEndian);
    }

    private long u32(int off) {
        return u32(data, off, bigEndian);
    }

    private static int i32(byte[] d, int off, boolean be) {
        return be ? (int) INT_BE.get(d, off) : (int) INT_LE.get(d, off);
    }

    private static long u32(byte[] d, int off, boolean be) {
        return i32(d, off, be) & 0xffffffffL;
    }

    static String kindName(int kind) {
        return switch (kind) {
            case KIND_UNKN -> "UNKN";
            case KIND_INT -> "INT";
            case KIND_PTR -> "PTR";
            case KIND_ARRAY -> "ARRAY";
            case KIND_STRUCT -> "STRUCT";
            case KIND_UNION -> "UNION";
            case KIND_ENUM -> "ENUM";
            case KIND_FWD -> "FWD";
            case KIND_TYPEDEF -> "TYPEDEF";
            case KIND_VOLATILE -> "VOLATILE";
            case KIND_CONST -> "CONST";
            case KIND_RESTRICT -> "RESTRICT";
            case KIND_FUNC -> "FUNC";
            case KIND_FUNC_PROTO -> "FUNC_PROTO";
            case KIND_VAR -> "VAR";
            case KIND_DATASEC -> "DATASEC";
            case KIND_FLOAT -> "FLOAT";
            case KIND_DECL_TAG -> "DECL_TAG";
            case KIND_TYPE_TAG -> "TYPE_TAG";
            case KIND_ENUM64 -> "ENUM64";
            default -> "kind " + kind;
        };
    }

    @Override
    public String toString() {
        return "Btf[" + typeOffsets.length + " types, " + strLen + " bytes of strings"
                + (base == null ? "" : ", split on " + base) + "]";
    }
}
