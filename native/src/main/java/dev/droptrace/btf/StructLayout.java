package dev.droptrace.btf;

import java.util.List;
import java.util.NoSuchElementException;

/**
 * The layout of a struct or union as BTF describes it.
 *
 * @param name    the struct's name ("" for an anonymous one)
 * @param size    its size in bytes
 * @param union   true for a union
 * @param members its direct members in declaration order; anonymous struct or union members have
 *                the name "" and their own {@link Member#layout() layout}
 */
public record StructLayout(String name, int size, boolean union, List<Member> members) {

    public StructLayout {
        members = List.copyOf(members);
    }

    /**
     * The member called {@code name}: a direct member, or else one found inside an anonymous struct
     * or union member (as C lets you name it), with its offset relative to this struct.
     *
     * @throws NoSuchElementException if there is no such member
     */
    public Member member(String name) {
        Member m = find(name, 0);
        if (m == null) {
            throw new NoSuchElementException((union ? "union " : "struct ") + this.name + " has no member '" + name + "'");
        }
        return m;
    }

    /** Whether {@link #member(String)} would find {@code name}. */
    public boolean hasMember(String name) {
        return find(name, 0) != null;
    }

    private Member find(String wanted, long baseBits) {
        for (Member m : members) {
            if (m.name().equals(wanted)) {
                return baseBits == 0 ? m : m.shifted(baseBits);
            }
        }
        for (Member m : members) {
            if (m.name().isEmpty() && m.layout() != null) {
                Member inner = m.layout().find(wanted, baseBits + m.bitOffset());
                if (inner != null) {
                    return inner;
                }
            }
        }
        return null;
    }

    /**
     * One member of a struct or union.
     *
     * @param name         the member's name, "" when anonymous
     * @param bitOffset    offset from the start of the struct, in bits
     * @param bitfieldSize the width of a bitfield in bits, 0 when the member is not a bitfield
     * @param size         the size in bytes of the member's type, resolved through typedefs and
     *                     modifiers (an array: elements times element size; a bitfield: its
     *                     underlying type's size)
     * @param typeId       the BTF id of the member's type
     * @param layout       the member's own layout when its type (after typedefs and modifiers) is a
     *                     struct or union, else null
     */
    public record Member(String name, long bitOffset, int bitfieldSize, int size, int typeId, StructLayout layout) {

        /** Offset from the start of the struct in whole bytes (bitOffset / 8). */
        public long byteOffset() {
            return bitOffset >>> 3;
        }

        /** Whether this member is a bitfield. */
        public boolean isBitfield() {
            return bitfieldSize != 0;
        }

        Member shifted(long bits) {
            return new Member(name, bitOffset + bits, bitfieldSize, size, typeId, layout);
        }
    }
}
