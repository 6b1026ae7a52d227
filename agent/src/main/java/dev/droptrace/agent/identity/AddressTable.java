package dev.droptrace.agent.identity;

/**
 * An open-addressing (linear probing) map from a 128-bit key to a non-zero int, on primitive arrays:
 * one shard of an {@link AddressIndex}. The writer mutates a private instance; once published it is
 * never written again (the writer {@link #copy()}s it first), so any number of threads may {@link
 * #get} from it without locks or allocation. Value 0 marks an empty slot; the load factor stays at or
 * below one half. Slots are chosen by the low bits of {@link #hash}; the index uses the high bits.
 */
final class AddressTable {
    private static final int MIN_CAPACITY = 8;

    private long[] keys;   // hi at 2i, lo at 2i+1
    private int[] values;
    private int mask;
    private int size;

    AddressTable() {
        this(MIN_CAPACITY);
    }

    private AddressTable(int capacity) {
        keys = new long[2 * capacity];
        values = new int[capacity];
        mask = capacity - 1;
    }

    private AddressTable(AddressTable from) {
        keys = from.keys.clone();
        values = from.values.clone();
        mask = from.mask;
        size = from.size;
    }

    /** A snapshot for readers. */
    AddressTable copy() {
        return new AddressTable(this);
    }

    int size() {
        return size;
    }

    static int hash(long hi, long lo) {
        long h = hi * 0x9E3779B97F4A7C15L ^ lo;
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return (int) h;
    }

    /** The value for the key, 0 when absent. Allocation-free. */
    int get(long hi, long lo) {
        return get(hi, lo, hash(hi, lo));
    }

    /** {@link #get(long, long)} with the key's {@link #hash} already computed. */
    int get(long hi, long lo, int hash) {
        long[] k = keys;
        int[] v = values;
        int m = mask;
        int i = hash & m;
        while (true) {
            int val = v[i];
            if (val == 0) {
                return 0;
            }
            if (k[2 * i] == hi && k[2 * i + 1] == lo) {
                return val;
            }
            i = (i + 1) & m;
        }
    }

    /** Writer only. {@code value} must be non-zero. */
    void put(long hi, long lo, int value) {
        if (value == 0) {
            throw new IllegalArgumentException("value 0 means empty");
        }
        if (2 * (size + 1) > values.length) {
            resize(values.length * 2);
        }
        int i = hash(hi, lo) & mask;
        while (values[i] != 0) {
            if (keys[2 * i] == hi && keys[2 * i + 1] == lo) {
                values[i] = value;
                return;
            }
            i = (i + 1) & mask;
        }
        keys[2 * i] = hi;
        keys[2 * i + 1] = lo;
        values[i] = value;
        size++;
    }

    /** Writer only; backward-shift deletion, so no tombstones. */
    void remove(long hi, long lo) {
        int i = hash(hi, lo) & mask;
        while (true) {
            if (values[i] == 0) {
                return;
            }
            if (keys[2 * i] == hi && keys[2 * i + 1] == lo) {
                break;
            }
            i = (i + 1) & mask;
        }
        size--;
        int hole = i;
        int j = i;
        while (true) {
            j = (j + 1) & mask;
            if (values[j] == 0) {
                break;
            }
            int home = hash(keys[2 * j], keys[2 * j + 1]) & mask;
            // move j into the hole unless its home lies cyclically in (hole, j]
            boolean stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (!stays) {
                keys[2 * hole] = keys[2 * j];
                keys[2 * hole + 1] = keys[2 * j + 1];
                values[hole] = values[j];
                hole = j;
            }
        }
        keys[2 * hole] = 0;
        keys[2 * hole + 1] = 0;
        values[hole] = 0;
        if (values.length > MIN_CAPACITY && 8 * size < values.length) {
            resize(values.length / 2);
        }
    }

    private void resize(int capacity) {
        long[] oldKeys = keys;
        int[] oldValues = values;
        keys = new long[2 * capacity];
        values = new int[capacity];
        mask = capacity - 1;
        size = 0;
        for (int i = 0; i < oldValues.length; i++) {
            if (oldValues[i] != 0) {
                put(oldKeys[2 * i], oldKeys[2 * i + 1], oldValues[i]);
            }
        }
    }

    @Override
    public String toString() {
        return "AddressTable[size=" + size + ", capacity=" + values.length + "]";
    }
}
