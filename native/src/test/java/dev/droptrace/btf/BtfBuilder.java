package dev.droptrace.btf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Writes small BTF blobs for tests, one method per kind, laid out as btf.rst describes. */
final class BtfBuilder {

    private final List<Integer> words = new ArrayList<>();
    private final ByteArrayOutputStream strings = new ByteArrayOutputStream();
    private final Map<String, Integer> stringOffsets = new HashMap<>();
    private final int strBase;
    private int nextId;

    BtfBuilder() {
        this(1, 0);
    }

    /** A builder of split BTF whose ids start at {@code firstId} and strings at {@code strBase}. */
    BtfBuilder(int firstId, int strBase) {
        this.nextId = firstId;
        this.strBase = strBase;
        strings.write(0);
        stringOffsets.put("", 0);
    }

    int str(String s) {
        if (s.isEmpty()) {
            return 0;
        }
        return stringOffsets.computeIfAbsent(s, k -> {
            int off = strBase + strings.size();
            strings.writeBytes(k.getBytes(StandardCharsets.UTF_8));
            strings.write(0);
            return off;
        });
    }

    int stringsLength() {
        return strings.size();
    }

    int nextId() {
        return nextId;
    }

    private int type(String name, int kind, int vlen, boolean kindFlag, int sizeOrType) {
        words.add(str(name));
        words.add((kindFlag ? 1 << 31 : 0) | kind << 24 | vlen);
        words.add(sizeOrType);
        return nextId++;
    }

    int intType(String name, int size, boolean signed, int bits) {
        int id = type(name, Btf.KIND_INT, 0, false, size);
        words.add((signed ? 1 << 24 : 0) | bits);
        return id;
    }

    int ptr(int to) {
        return type("", Btf.KIND_PTR, 0, false, to);
    }

    int array(int elem, int index, int n) {
        int id = type("", Btf.KIND_ARRAY, 0, false, 0);
        words.add(elem);
        words.add(index);
        words.add(n);
        return id;
    }

    record M(String name, int type, int bitOffset, int bitfieldSize) {
        M(String name, int type, int bitOffset) {
            this(name, type, bitOffset, 0);
        }
    }

    int struct(String name, int size, M... members) {
        return composite(Btf.KIND_STRUCT, name, size, members);
    }

    int union(String name, int size, M... members) {
        return composite(Btf.KIND_UNION, name, size, members);
    }

    private int composite(int kind, String name, int size, M... members) {
        boolean bitfields = false;
        for (M m : members) {
            bitfields |= m.bitfieldSize() != 0;
        }
        int id = type(name, kind, members.length, bitfields, size);
        for (M m : members) {
            words.add(str(m.name()));
            words.add(m.type());
            words.add(bitfields ? m.bitfieldSize() << 24 | m.bitOffset() : m.bitOffset());
        }
        return id;
    }

    /** enum with name/value pairs: "A", 1L, "B", 2L. */
    int enum32(String name, boolean signed, Object... pairs) {
        int id = type(name, Btf.KIND_ENUM, pairs.length / 2, signed, 4);
        for (int i = 0; i < pairs.length; i += 2) {
            words.add(str((String) pairs[i]));
            words.add((int) (long) (Long) pairs[i + 1]);
        }
        return id;
    }

    int enum64(String name, boolean signed, Object... pairs) {
        int id = type(name, Btf.KIND_ENUM64, pairs.length / 2, signed, 8);
        for (int i = 0; i < pairs.length; i += 2) {
            long v = (Long) pairs[i + 1];
            words.add(str((String) pairs[i]));
            words.add((int) v);
            words.add((int) (v >>> 32));
        }
        return id;
    }

    int fwd(String name, boolean union) {
        return type(name, Btf.KIND_FWD, 0, union, 0);
    }

    int typedef(String name, int to) {
        return type(name, Btf.KIND_TYPEDEF, 0, false, to);
    }

    int modifier(int kind, int to) {
        return type("", kind, 0, false, to);
    }

    int funcProto(int ret, int... params) {
        int id = type("", Btf.KIND_FUNC_PROTO, params.length, false, ret);
        for (int p : params) {
            words.add(str("p" + p));
            words.add(p);
        }
        return id;
    }

    int func(String name, int proto) {
        return type(name, Btf.KIND_FUNC, 0, false, proto);
    }

    int var(String name, int to) {
        int id = type(name, Btf.KIND_VAR, 0, false, to);
        words.add(1); // global
        return id;
    }

    /** DATASEC with (type, offset, size) triples. */
    int datasec(String name, int size, int... triples) {
        int id = type(name, Btf.KIND_DATASEC, triples.length / 3, false, size);
        for (int t : triples) {
            words.add(t);
        }
        return id;
    }

    int floatType(String name, int size) {
        return type(name, Btf.KIND_FLOAT, 0, false, size);
    }

    int declTag(String name, int to, int component) {
        int id = type(name, Btf.KIND_DECL_TAG, 0, false, to);
        words.add(component);
        return id;
    }

    int typeTag(String name, int to) {
        return type(name, Btf.KIND_TYPE_TAG, 0, false, to);
    }

    /** Appends a raw word (to write malformed records). */
    void raw(int word) {
        words.add(word);
    }

    byte[] build() {
        return build(ByteOrder.LITTLE_ENDIAN);
    }

    byte[] build(ByteOrder order) {
        byte[] strs = strings.toByteArray();
        int typeLen = words.size() * 4;
        ByteBuffer b = ByteBuffer.allocate(24 + typeLen + strs.length).order(order);
        b.putShort((short) 0xeB9F).put((byte) 1).put((byte) 0);
        b.putInt(24).putInt(0).putInt(typeLen).putInt(typeLen).putInt(strs.length);
        for (int w : words) {
            b.putInt(w);
        }
        b.put(strs);
        return b.array();
    }
}
