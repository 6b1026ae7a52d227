package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A map another program created and pinned in a BPF filesystem, opened by path (bpf_obj_get): this
 * handle owns the fd it got, not the map, and closing it closes only that fd.
 *
 * <p>The fd is a file of its own. That matters for a {@code BPF_MAP_TYPE_PERF_EVENT_ARRAY}: when the
 * last reference to this file goes, the kernel removes every entry installed through it (unless the
 * map has {@code BPF_F_PRESERVE_ELEMS}), so a reader keeps this handle open for as long as it reads.
 *
 * <p>Type, sizes, capacity and name come from the kernel's map info (bpf_obj_get_info_by_fd) at open.
 */
public final class BpfPinnedMap implements AutoCloseable {
    /** {@code enum bpf_map_type} value of a perf event array. */
    public static final int TYPE_PERF_EVENT_ARRAY = 4;

    // struct bpf_map_info (uapi, append-only): type 0, id 4, key_size 8, value_size 12,
    // max_entries 16, map_flags 20, name[16] 24, ifindex 40, ... map_extra 80 -> 88 bytes.
    private static final int INFO_SIZE = 88;
    private static final int INFO_TYPE = 0, INFO_ID = 4, INFO_KEY_SIZE = 8, INFO_VALUE_SIZE = 12,
            INFO_MAX_ENTRIES = 16, INFO_MAP_FLAGS = 20, INFO_NAME = 24, NAME_SIZE = 16;

    private final Path path;
    private final int type;
    private final int id;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;
    private final int mapFlags;
    private final String name;
    private int fd;

    private BpfPinnedMap(Path path, int fd, MemorySegment info) {
        this.path = path;
        this.fd = fd;
        this.type = info.get(JAVA_INT, INFO_TYPE);
        this.id = info.get(JAVA_INT, INFO_ID);
        this.keySize = info.get(JAVA_INT, INFO_KEY_SIZE);
        this.valueSize = info.get(JAVA_INT, INFO_VALUE_SIZE);
        this.maxEntries = info.get(JAVA_INT, INFO_MAX_ENTRIES);
        this.mapFlags = info.get(JAVA_INT, INFO_MAP_FLAGS);
        this.name = info.asSlice(INFO_NAME, NAME_SIZE).getString(0);
    }

    /**
     * Opens the map pinned at {@code path} and reads its info.
     *
     * @throws dev.droptrace.libc.NativeCallException if nothing is pinned there (ENOENT), the
     *         caller may not open it (EPERM), or the pinned object is not a map
     */
    public static BpfPinnedMap open(Path path) {
        Libbpf.requireAvailable();
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) Calls.OBJ_GET.invokeExact(arena.allocateFrom(path.toString()));
            if (fd < 0) {
                throw Libbpf.failure("bpf_obj_get", -fd, path.toString());
            }
            try {
                MemorySegment info = arena.allocate(INFO_SIZE, 8);
                MemorySegment len = arena.allocate(JAVA_INT);
                len.set(JAVA_INT, 0, INFO_SIZE);
                int rc = (int) Calls.GET_INFO.invokeExact(fd, info, len);
                if (rc < 0) {
                    throw Libbpf.failure("bpf_obj_get_info_by_fd", -rc, path + " is not a BPF map");
                }
                return new BpfPinnedMap(path, fd, info);
            } catch (Throwable t) {
                Libc.close(fd);
                throw t;
            }
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** Where the map was opened from. */
    public Path path() {
        return path;
    }

    /** The fd this handle owns. */
    public synchronized int fd() {
        if (fd < 0) {
            throw new IllegalStateException("pinned map " + path + " is closed");
        }
        return fd;
    }

    /** The kernel map type ({@code enum bpf_map_type}), for example {@link #TYPE_PERF_EVENT_ARRAY}. */
    public int type() {
        return type;
    }

    /** The kernel's id of the map (as {@code bpftool map show} lists it). */
    public int id() {
        return id;
    }

    public int keySize() {
        return keySize;
    }

    public int valueSize() {
        return valueSize;
    }

    /** The map's capacity; for a perf event array, the number of CPU slots. */
    public int maxEntries() {
        return maxEntries;
    }

    /** The map's creation flags ({@code BPF_F_*}). */
    public int mapFlags() {
        return mapFlags;
    }

    /** The map's name as the kernel knows it (at most 15 characters). */
    public String name() {
        return name;
    }

    /** Writes {@code value} at {@code key} (bpf_map_update_elem) with {@link BpfMap#BPF_ANY} and friends. */
    public void update(MemorySegment key, MemorySegment value, long flags) {
        if (key.byteSize() < keySize || !key.isNative() || value.byteSize() < valueSize || !value.isNative()) {
            throw new IllegalArgumentException("map " + name + ": key and value must be native memory of "
                    + keySize + " and " + valueSize + " bytes");
        }
        int rc;
        try {
            rc = (int) Calls.UPDATE_ELEM.invokeExact(fd(), key, value, flags);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_map_update_elem", -rc, name + " (" + path + ")");
        }
    }

    /** Closes this handle's fd (not the map, which lives while pinned). Idempotent. */
    @Override
    public synchronized void close() {
        if (fd < 0) {
            return;
        }
        int f = fd;
        fd = -1;
        Libc.close(f);
    }

    @Override
    public String toString() {
        return "BpfPinnedMap[" + name + " at " + path + ", type " + type + ", " + maxEntries + " entries]";
    }

    private static final class Calls {
        static final MethodHandle OBJ_GET = Libbpf.downcall("bpf_obj_get", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle GET_INFO = Libbpf.downcall("bpf_obj_get_info_by_fd",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), false);
        static final MethodHandle UPDATE_ELEM = Libbpf.downcall("bpf_map_update_elem",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), false);
    }
}
