package dev.droptrace.agent.source.cilium;

/**
 * Dictionary ids by a two-long key (for example the four numbers of a Cilium detail object), so a
 * repeated combination finds its journal id without building its text. Open addressing with linear
 * probing over primitive arrays; a hit allocates nothing, growth doubles the arrays. Single-threaded.
 */
final class DictionaryIdCache {
    private long[] k1;
    private long[] k2;
    private int[] ids;
    private int size;

    DictionaryIdCache(int capacity) {
        int c = Integer.highestOneBit(Math.max(16, capacity - 1) << 1);
        k1 = new long[c];
        k2 = new long[c];
        ids = new int[c];
    }

    /** The id stored for the key, or 0. */
    int get(long a, long b) {
        int mask = ids.length - 1;
        for (int i = index(a, b, mask); ; i = (i + 1) & mask) {
            int id = ids[i];
            if (id == 0) {
                return 0;
            }
            if (k1[i] == a && k2[i] == b) {
                return id;
            }
        }
    }

    /** Stores a non-zero id for the key. */
    void put(long a, long b, int id) {
        if (id == 0) {
            return;
        }
        if ((size + 1) * 2 > ids.length) {
            grow();
        }
        int mask = ids.length - 1;
        for (int i = index(a, b, mask); ; i = (i + 1) & mask) {
            if (ids[i] == 0) {
                k1[i] = a;
                k2[i] = b;
                ids[i] = id;
                size++;
                return;
            }
            if (k1[i] == a && k2[i] == b) {
                ids[i] = id;
                return;
            }
        }
    }

    int size() {
        return size;
    }

    private void grow() {
        long[] o1 = k1, o2 = k2;
        int[] oi = ids;
        k1 = new long[oi.length * 2];
        k2 = new long[oi.length * 2];
        ids = new int[oi.length * 2];
        size = 0;
        for (int i = 0; i < oi.length; i++) {
            if (oi[i] != 0) {
                put(o1[i], o2[i], oi[i]);
            }
        }
    }

    private static int index(long a, long b, int mask) {
        long h = (a * 0x9E3779B97F4A7C15L) ^ (b * 0xC2B2AE3D27D4EB4FL);
        return (int) (h ^ (h >>> 31)) & mask;
    }
}
