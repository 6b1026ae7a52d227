package dev.droptrace.btf;

import java.util.List;

/**
 * An enum (BTF kind ENUM or ENUM64).
 *
 * @param name        the enum's name, "" when anonymous
 * @param size        its size in bytes
 * @param signed      whether BTF marks the values as signed (otherwise they are zero-extended)
 * @param enumerators the enumerators in declaration order
 */
public record BtfEnum(String name, int size, boolean signed, List<Enumerator> enumerators) {

    public BtfEnum {
        enumerators = List.copyOf(enumerators);
    }

    /** One enumerator: its name and its value (an unsigned 64-bit enum may read as negative). */
    public record Enumerator(String name, long value) {
    }
}
