package dev.droptrace.agent.identity;

/**
 * A map from a 128-bit key to a non-zero int, split into 2^bits {@link AddressTable} shards by the
 * high bits of the key's hash, so that publishing a change copies only the shards it touched (plus
 * the array of shard references), not the whole map: a cluster of 100,000 pods with a few changes
 * per batch costs kilobytes per snapshot, not megabytes.
 *
 * <p>The writer mutates this object; {@link #publish()} returns an immutable {@link View} for
 * readers. A shard that has been published is copied before the writer's next change to it.
 */
final class AddressIndex {
    private final int shift;
    private final AddressTable[] shards;
    private final boolean[] owned; // shard copied since the last publish: the writer may mutate it
    private int size;

    AddressIndex(int bits) {
        shift = 32 - bits;
        shards = new AddressTable[1 << bits];
        owned = new boolean[1 << bits];
        AddressTable empty = new AddressTable();
        java.util.Arrays.fill(shards, empty); // shared, never mutated: copied on first change
    }

    /** What readers see; never changes. */
    static final class View {
        private final int shift;
        private final AddressTable[] shards;
        private final int size;

        private View(int shift, AddressTable[] shards, int size) {
            this.shift = shift;
            this.shards = shards;
            this.size = size;
        }

        /** The value for the key, 0 when absent. Lock-free, allocation-free. */
        int get(long hi, long lo) {
            int h = AddressTable.hash(hi, lo);
            return shards[h >>> shift].get(hi, lo, h);
        }

        int size() {
            return size;
        }
    }

    View publish() {
        java.util.Arrays.fill(owned, false);
        return new View(shift, shards.clone(), size);
    }

    private AddressTable writable(long hi, long lo) {
        int s = AddressTable.hash(hi, lo) >>> shift;
        if (!owned[s]) {
            shards[s] = shards[s].copy();
            owned[s] = true;
        }
        return shards[s];
    }

    void put(long hi, long lo, int value) {
        AddressTable t = writable(hi, lo);
        int before = t.size();
        t.put(hi, lo, value);
        size += t.size() - before;
    }

    void remove(long hi, long lo) {
        AddressTable t = shards[AddressTable.hash(hi, lo) >>> shift];
        if (t.get(hi, lo) == 0) {
            return;
        }
        t = writable(hi, lo);
        int before = t.size();
        t.remove(hi, lo);
        size += t.size() - before;
    }

    int size() {
        return size;
    }
}
