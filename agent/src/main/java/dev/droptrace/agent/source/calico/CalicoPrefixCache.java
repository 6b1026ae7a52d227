package dev.droptrace.agent.source.calico;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Parsed prefixes keyed by their bytes, so that the hot path maps the prefix bytes of a message
 * straight to a {@link CalicoPrefix} without allocating: a hit hashes and compares the bytes in place.
 * A miss copies the bytes, parses them (allocating), resolves them with the current
 * {@link CalicoPrefixResolver} if there is one, and remembers the result. The table holds at most
 * {@code capacity * 3 / 4} prefixes and is emptied when full (a Calico node has a few hundred distinct
 * prefixes at most), and emptied again whenever the resolver changes. One instance per thread.
 */
public final class CalicoPrefixCache {
    private final byte[][] keys;
    private final CalicoPrefix[] values;
    private final int[] hashes;
    private final int mask;
    private final int maxSize;
    private int size;
    private long misses;
    private CalicoPrefixResolver resolver;

    /** A cache of {@code capacity} slots (rounded up to a power of two, at least 16). */
    public CalicoPrefixCache(int capacity) {
        int c = Integer.highestOneBit(Math.max(16, capacity) - 1) << 1;
        keys = new byte[c][];
        values = new CalicoPrefix[c];
        hashes = new int[c];
        mask = c - 1;
        maxSize = c * 3 / 4;
    }

    /** Uses {@code resolver} (null for none) for prefixes parsed from now on, and forgets every cached one. */
    public void resolver(CalicoPrefixResolver resolver) {
        this.resolver = resolver;
        clear();
    }

    public void clear() {
        java.util.Arrays.fill(keys, null);
        java.util.Arrays.fill(values, null);
        size = 0;
    }

    /** The prefix whose bytes are {@code length} bytes at {@code offset} of {@code segment} (no NUL). */
    public CalicoPrefix lookup(MemorySegment segment, long offset, int length) {
        int h = 0x811c9dc5;
        for (int i = 0; i < length; i++) {
            h = (h ^ (segment.get(ValueLayout.JAVA_BYTE, offset + i) & 0xFF)) * 0x01000193;
        }
        int slot = h & mask;
        while (keys[slot] != null) {
            if (hashes[slot] == h && equal(keys[slot], segment, offset, length)) {
                return values[slot];
            }
            slot = (slot + 1) & mask;
        }
        misses++;
        byte[] key = new byte[length];
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, key, 0, length);
        CalicoPrefix parsed = CalicoPrefix.parse(key, 0, length);
        if (resolver != null) {
            parsed = resolver.resolve(parsed);
        }
        if (size >= maxSize) {
            clear();
            slot = h & mask;
        }
        keys[slot] = key;
        values[slot] = parsed;
        hashes[slot] = h;
        size++;
        return parsed;
    }

    /** The current prefix of {@code parser} (an empty prefix when it has none). */
    public CalicoPrefix lookup(NflogMessageParser parser) {
        return lookup(parser.segment(), parser.prefixOffset(), parser.prefixLength());
    }

    /** How many lookups had to parse. */
    public long misses() {
        return misses;
    }

    public int size() {
        return size;
    }

    private static boolean equal(byte[] key, MemorySegment segment, long offset, int length) {
        if (key.length != length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            if (key[i] != segment.get(ValueLayout.JAVA_BYTE, offset + i)) {
                return false;
            }
        }
        return true;
    }
}
