package dev.droptrace.agent.pipeline;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Many transport threads to the one journal-writer thread: an Agrona many-to-one ring of raw
 * payloads, each prefixed by an 8-byte header (u32 aux value, u32 zero). A full ring rejects the
 * payload and counts it, so a slow writer never blocks a socket reader. Offer and drain allocate nothing.
 */
public final class PayloadQueue {
    /** Header before each payload: aux (u32) and padding. */
    static final int HEADER = 8;
    /** Default capacity: 16 MiB, some 100 k NFLOG or Cilium payloads. */
    public static final int DEFAULT_CAPACITY = 16 << 20;

    private final RingBuffer ring;
    private final MemorySegment view;
    private final AtomicLong offered = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong oversized = new AtomicLong();

    /** Receives drained payloads (valid only during the call). */
    @FunctionalInterface
    public interface Handler {
        void onPayload(int type, MemorySegment data, long offset, int length, int aux);
    }

    public PayloadQueue() {
        this(DEFAULT_CAPACITY);
    }

    /** {@code capacity}: a power of two. */
    public PayloadQueue(int capacity) {
        ByteBuffer bb = ByteBuffer.allocateDirect(capacity + RingBufferDescriptor.TRAILER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        this.ring = new ManyToOneRingBuffer(new UnsafeBuffer(bb));
        this.view = MemorySegment.ofBuffer(bb);
    }

    /** Copies a payload in; false (counted) when the ring is full or the payload is too large. {@code type} >= 1. */
    public boolean offer(int type, MemorySegment data, long offset, int length, int aux) {
        if (length < 0 || length + HEADER > ring.maxMsgLength()) {
            oversized.incrementAndGet();
            return false;
        }
        int index = ring.tryClaim(type, length + HEADER);
        if (index < 0) {
            rejected.incrementAndGet();
            return false;
        }
        view.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, index, aux);
        view.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, index + 4, 0);
        MemorySegment.copy(data, offset, view, index + HEADER, length);
        ring.commit(index);
        offered.incrementAndGet();
        return true;
    }

    /** Hands up to {@code limit} payloads to {@code handler}; returns how many. Consumer thread only. */
    public int drain(Handler handler, int limit) {
        return ring.read((type, buffer, index, length) -> handler.onPayload(type, view, index + HEADER, length - HEADER,
                view.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, index)), limit);
    }

    /** Payloads accepted. */
    public long offered() {
        return offered.get();
    }

    /** Payloads refused because the ring was full (lost). */
    public long rejected() {
        return rejected.get();
    }

    /** Payloads refused because they exceed the largest message (lost). */
    public long oversized() {
        return oversized.get();
    }

    /** Bytes waiting. */
    public int size() {
        return ring.size();
    }
}
