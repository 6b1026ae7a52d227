package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A map of a {@link BpfObject}, owned by the object; element calls go straight to the map's fd.
 *
 * <p>Per-CPU maps ({@link #perCpu()}) hold one value per possible CPU: a value buffer for
 * {@link #lookup}/{@link #update} must then be {@code Libbpf.numPossibleCpus() * round_up(valueSize, 8)}
 * bytes ({@link #valueBufferSize()}), CPU {@code i}'s value at {@code i * round_up(valueSize, 8)}.
 * Buffers are checked against these sizes, because the kernel writes the whole value whatever the
 * buffer's size. Key and value segments must be native memory.
 *
 * <p>{@link #sumPerCpuLong} reuses one buffer: call it from one thread at a time.
 */
public final class BpfMap {
    public static final int TYPE_HASH = 1;
    public static final int TYPE_ARRAY = 2;
    public static final int TYPE_PERCPU_HASH = 5;
    public static final int TYPE_PERCPU_ARRAY = 6;
    public static final int TYPE_LRU_HASH = 9;
    public static final int TYPE_LRU_PERCPU_HASH = 10;
    public static final int TYPE_ARRAY_OF_MAPS = 12;
    public static final int TYPE_HASH_OF_MAPS = 13;
    public static final int TYPE_PERCPU_CGROUP_STORAGE = 21;
    public static final int TYPE_RINGBUF = 27;

    /** Update flags of bpf_map_update_elem. */
    public static final long BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2;

    private static final int ENOENT = 2;

    private final BpfObject owner;
    private final MemorySegment ptr;
    private final String name;
    // Fixed by the ELF (nothing here changes them), so read once instead of per element call.
    private final int keySize;
    private final int valueSize;
    private final int type;
    private final long valueBufferSize;
    private int fd = -1; // cached once the object is loaded
    private MemorySegment perCpuSum; // allocated in the owner's arena on first sumPerCpuLong

    BpfMap(BpfObject owner, MemorySegment ptr) {
        this.owner = owner;
        this.ptr = ptr;
        try {
            this.name = ((MemorySegment) Calls.NAME.invokeExact(ptr)).reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        this.keySize = intCall(Calls.KEY_SIZE);
        this.valueSize = intCall(Calls.VALUE_SIZE);
        this.type = intCall(Calls.TYPE);
        this.valueBufferSize = perCpu() ? (long) Libbpf.numPossibleCpus() * roundUp8(valueSize) : valueSize;
    }

    /** The map's name in the object. */
    public String name() {
        return name;
    }

    /** The map's fd once the object is loaded. */
    public int fd() {
        owner.handle();
        int cached = fd;
        if (cached >= 0) {
            return cached;
        }
        int fresh = intCall(Calls.FD);
        if (fresh < 0) {
            throw Libbpf.failure("bpf_map__fd", -fresh);
        }
        fd = fresh;
        return fresh;
    }

    /** Size of a key in bytes. */
    public int keySize() {
        return keySize;
    }

    /** Size of one value in bytes (of one CPU's value, for a per-CPU map). */
    public int valueSize() {
        return valueSize;
    }

    /** The map's capacity; for a ring buffer, its data size in bytes. */
    public int maxEntries() {
        return intCall(Calls.MAX_ENTRIES);
    }

    /** The kernel map type ({@code enum bpf_map_type}), for example {@link #TYPE_RINGBUF}. */
    public int type() {
        return type;
    }

    /** Whether values are per CPU, which changes the value buffer size. */
    public boolean perCpu() {
        return type == TYPE_PERCPU_HASH || type == TYPE_PERCPU_ARRAY
                || type == TYPE_LRU_PERCPU_HASH || type == TYPE_PERCPU_CGROUP_STORAGE;
    }

    /** The bytes a value buffer needs: valueSize, or numPossibleCpus * round_up(valueSize, 8) for a per-CPU map. */
    public long valueBufferSize() {
        return valueBufferSize;
    }

    /**
     * Changes the capacity before the object is loaded (bpf_map__set_max_entries); for a ring
     * buffer, a power of two multiple of the page size.
     */
    public void setMaxEntries(int maxEntries) {
        owner.handle();
        int rc;
        try {
            rc = (int) Calls.SET_MAX_ENTRIES.invokeExact(ptr, maxEntries);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map__set_max_entries", -rc);
        }
    }

    /**
     * Reads the value at {@code key} into {@code value} (bpf_map_lookup_elem).
     *
     * @return false if there is no such key
     * @throws dev.droptrace.libc.NativeCallException on any other error
     */
    public boolean lookup(MemorySegment key, MemorySegment value) {
        checkKey(key);
        checkValue(value);
        int fd = fd();
        int rc;
        try {
            rc = (int) Calls.LOOKUP_ELEM.invokeExact(fd, key, value);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc == -ENOENT) {
            return false;
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map_lookup_elem", -rc);
        }
        return true;
    }

    /** Writes {@code value} at {@code key} (bpf_map_update_elem) with {@link #BPF_ANY}, {@link #BPF_NOEXIST} or {@link #BPF_EXIST}. */
    public void update(MemorySegment key, MemorySegment value, long flags) {
        checkKey(key);
        checkValue(value);
        int fd = fd();
        int rc;
        try {
            rc = (int) Calls.UPDATE_ELEM.invokeExact(fd, key, value, flags);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map_update_elem", -rc);
        }
    }

    /**
     * Removes {@code key} (bpf_map_delete_elem).
     *
     * @return false if there was no such key
     * @throws dev.droptrace.libc.NativeCallException on any other error
     */
    public boolean delete(MemorySegment key) {
        checkKey(key);
        int fd = fd();
        int rc;
        try {
            rc = (int) Calls.DELETE_ELEM.invokeExact(fd, key);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc == -ENOENT) {
            return false;
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map_delete_elem", -rc);
        }
        return true;
    }

    /**
     * Writes the key after {@code keyOrNull} into {@code nextKey} (bpf_map_get_next_key); a null
     * key, or one no longer in the map, gives the first key.
     *
     * @return false when there is no next key (the end of the map)
     */
    public boolean nextKey(MemorySegment keyOrNull, MemorySegment nextKey) {
        MemorySegment key = keyOrNull == null ? MemorySegment.NULL : keyOrNull;
        if (keyOrNull != null) {
            checkKey(keyOrNull);
        }
        checkKey(nextKey);
        int fd = fd();
        int rc;
        try {
            rc = (int) Calls.NEXT_KEY.invokeExact(fd, key, nextKey);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc == -ENOENT) {
            return false;
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map_get_next_key", -rc);
        }
        return true;
    }

    /**
     * The sum over all CPUs of a per-CPU u64 value (a counter), 0 if the key is absent.
     * Allocation-free: the buffer is allocated once in the object's arena. Not thread-safe.
     */
    public long sumPerCpuLong(MemorySegment key) {
        MemorySegment buffer = perCpuSum;
        if (buffer == null) {
            if (!perCpu() || valueSize() != Long.BYTES) {
                throw new IllegalStateException("map " + name + " does not hold per-CPU u64 values");
            }
            buffer = owner.arena().allocate(valueBufferSize(), 8);
            perCpuSum = buffer;
        }
        if (!lookup(key, buffer)) {
            return 0;
        }
        long sum = 0;
        long size = buffer.byteSize();
        for (long offset = 0; offset < size; offset += Long.BYTES) {
            sum += buffer.get(JAVA_LONG, offset);
        }
        return sum;
    }

    /**
     * Pins the loaded map at {@code path} in a BPF filesystem (bpf_map__pin), so other processes
     * can open it by path; the parent directory must exist. The pin outlives this object until
     * {@link #unpin}.
     */
    public void pin(java.nio.file.Path path) {
        owner.handle();
        int rc;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            rc = (int) Calls.PIN.invokeExact(ptr, arena.allocateFrom(path.toString()));
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map__pin", -rc, path.toString());
        }
    }

    /** Removes the pin at {@code path} made by {@link #pin} (bpf_map__unpin). */
    public void unpin(java.nio.file.Path path) {
        owner.handle();
        int rc;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            rc = (int) Calls.UNPIN.invokeExact(ptr, arena.allocateFrom(path.toString()));
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map__unpin", -rc, path.toString());
        }
    }

    private void checkKey(MemorySegment key) {
        if (key.byteSize() < keySize || !key.isNative()) {
            throw new IllegalArgumentException("map " + name + ": key must be native memory of " + keySize() + " bytes, got " + key);
        }
    }

    private void checkValue(MemorySegment value) {
        long needed = valueBufferSize;
        if (value.byteSize() < needed || !value.isNative()) {
            throw new IllegalArgumentException("map " + name + ": value buffer must be native memory of " + needed + " bytes, got " + value);
        }
    }

    private int intCall(MethodHandle handle) {
        owner.handle(); // no call through a pointer into a closed object
        try {
            return (int) handle.invokeExact(ptr);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    private static long roundUp8(long n) {
        return (n + 7) & ~7L;
    }

    @Override
    public String toString() {
        return "BpfMap[" + name + "]";
    }

    private static final class Calls {
        static final MethodHandle NAME = Libbpf.downcall("bpf_map__name", FunctionDescriptor.of(ADDRESS, ADDRESS), false);
        static final MethodHandle FD = Libbpf.downcall("bpf_map__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle KEY_SIZE = Libbpf.downcall("bpf_map__key_size", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle VALUE_SIZE = Libbpf.downcall("bpf_map__value_size", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle MAX_ENTRIES = Libbpf.downcall("bpf_map__max_entries", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle TYPE = Libbpf.downcall("bpf_map__type", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle SET_MAX_ENTRIES = Libbpf.downcall("bpf_map__set_max_entries",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), false);
        static final MethodHandle LOOKUP_ELEM = Libbpf.downcall("bpf_map_lookup_elem",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), false);
        static final MethodHandle UPDATE_ELEM = Libbpf.downcall("bpf_map_update_elem",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), false);
        static final MethodHandle DELETE_ELEM = Libbpf.downcall("bpf_map_delete_elem",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), false);
        static final MethodHandle PIN = Libbpf.downcall("bpf_map__pin", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), false);
        static final MethodHandle UNPIN = Libbpf.downcall("bpf_map__unpin", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), false);
        static final MethodHandle NEXT_KEY = Libbpf.downcall("bpf_map_get_next_key",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), false);
    }
}
