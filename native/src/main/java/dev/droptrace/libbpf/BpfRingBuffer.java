package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A reader of a BPF_MAP_TYPE_RINGBUF map written in Java over the map's mmap'd pages, as
 * cilium/ebpf's ringbuf reader is in Go: no upcall and no allocation per record.
 *
 * <p>Kernel ABI: page 0 of the map fd, mapped read-write, holds the consumer position; from page 1
 * on, mapped read-only, come one page holding the producer position and then the data area,
 * mapped twice in a row so a record that wraps around the end is contiguous. Each record is an
 * 8-byte header (u32 length with the BUSY and DISCARD flags in its top bits, u32 page offset)
 * followed by the data, padded to 8 bytes. The producer position and each header are read with
 * acquire semantics, so the record's bytes are visible once its header says it is committed; the
 * consumer position is stored with release semantics, so the kernel reuses the space only after
 * the record was read.
 *
 * <p>One thread reads a ring at a time. Closing the ring does not close the map.
 */
public final class BpfRingBuffer implements AutoCloseable {
    private static final int BUSY_BIT = 1 << 31;
    private static final int DISCARD_BIT = 1 << 30;
    private static final int HEADER_SIZE = 8;

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final String name;
    private final int fd;
    private final long mask;
    // Segments are scoped to this arena so that after close any use fails cleanly instead of
    // touching unmapped memory; the mappings themselves are unmapped explicitly in close().
    private final Arena arena;
    private final MemorySegment consumerPage;
    private final MemorySegment producerPage;
    private final MemorySegment data;
    private final long consumerAddress;
    private final long consumerLength;
    private final long producerAddress;
    private final long producerLength;
    private boolean closed;

    private BpfRingBuffer(String name, int fd, long size, MemorySegment consumer, MemorySegment producer) {
        int page = Libc.getpagesize();
        this.name = name;
        this.fd = fd;
        this.mask = size - 1;
        this.arena = Arena.ofShared();
        this.consumerAddress = consumer.address();
        this.consumerLength = consumer.byteSize();
        this.producerAddress = producer.address();
        this.producerLength = producer.byteSize();
        this.consumerPage = consumer.reinterpret(arena, null);
        MemorySegment readOnly = producer.reinterpret(arena, null);
        this.producerPage = readOnly.asSlice(0, page);
        this.data = readOnly.asSlice(page, 2 * size);
    }

    /**
     * Maps the ring of a loaded BPF_MAP_TYPE_RINGBUF map.
     *
     * @throws IllegalArgumentException if the map is not a ring buffer
     * @throws NativeCallException if the kernel refuses the mappings
     */
    public static BpfRingBuffer open(BpfMap map) {
        if (map.type() != BpfMap.TYPE_RINGBUF) {
            throw new IllegalArgumentException("map " + map.name() + " is not a ring buffer (type " + map.type() + ")");
        }
        int fd = map.fd();
        long size = Integer.toUnsignedLong(map.maxEntries());
        int page = Libc.getpagesize();
        MemorySegment consumer = Libc.mmap(page, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        MemorySegment producer;
        try {
            producer = Libc.mmap(page + 2 * size, Libc.PROT_READ, Libc.MAP_SHARED, fd, page);
        } catch (RuntimeException e) {
            Libc.munmap(consumer);
            throw e;
        }
        return new BpfRingBuffer(map.name(), fd, size, consumer, producer);
    }

    /**
     * Hands every record available now to {@code handler}, in order, and releases their space.
     * Allocates nothing. A record that throws is still consumed, so it cannot block the ring.
     *
     * @return the number of records handled (discarded records are skipped, not counted)
     */
    public int drain(RecordHandler handler) {
        MemorySegment consumer = consumerPage;
        MemorySegment producer = producerPage;
        MemorySegment ring = data;
        long mask = this.mask;
        // Only this reader writes the consumer position, so a plain read sees its own last store.
        long cons = (long) LONG.get(consumer, 0L);
        int handled = 0;
        boolean progressed;
        do {
            progressed = false;
            long prod = (long) LONG.getAcquire(producer, 0L);
            while (cons < prod) {
                long offset = cons & mask;
                int header = (int) INT.getAcquire(ring, offset);
                if ((header & BUSY_BIT) != 0) {
                    // Reserved but not yet committed: everything after it waits too, in order.
                    return handled;
                }
                int length = header & ~(BUSY_BIT | DISCARD_BIT);
                long next = cons + ((length + HEADER_SIZE + 7L) & ~7L);
                try {
                    if ((header & DISCARD_BIT) == 0) {
                        handled++;
                        handler.onRecord(ring, offset + HEADER_SIZE, length);
                    }
                } finally {
                    cons = next;
                    LONG.setRelease(consumer, 0L, cons);
                }
                progressed = true;
            }
        } while (progressed);
        return handled;
    }

    /**
     * Waits up to {@code timeoutMs} (0: not at all, -1: forever) for records, then drains them.
     *
     * @return the number of records handled, 0 on timeout
     */
    public int poll(int timeoutMs, RecordHandler handler) {
        if (pending() == 0) {
            int revents = Libc.poll(fd, Libc.POLLIN, timeoutMs);
            if ((revents & (Libc.POLLERR | Libc.POLLNVAL)) != 0) {
                throw new NativeCallException("poll", Libc.EBADF, "ring buffer " + name + ": revents 0x" + Integer.toHexString(revents));
            }
        }
        return drain(handler);
    }

    /** Bytes written by the kernel and not yet consumed, headers and padding included. */
    public long pending() {
        return (long) LONG.getAcquire(producerPage, 0L) - (long) LONG.get(consumerPage, 0L);
    }

    /** The ring's data size in bytes (the map's max_entries). */
    public long size() {
        return mask + 1;
    }

    /** Unmaps the ring. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        arena.close();
        Libc.munmap(producerAddress, producerLength);
        Libc.munmap(consumerAddress, consumerLength);
    }

    @Override
    public String toString() {
        return "BpfRingBuffer[" + name + ", " + size() + " bytes]";
    }
}
