package dev.droptrace.libbpf;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** libbpf's ring reader, through one upcall stub, against the same BPF program. */
@Tag("kernel")
class LibbpfRingBufferTest {
    private static final int N = 10_000;

    @BeforeEach
    void needsKernel() {
        RingbufTestProgram.assumeKernel();
    }

    @Test
    void drainsEveryRecordInOrder() {
        try (RingbufTestProgram p = RingbufTestProgram.start(1 << 20);
             LibbpfRingBuffer ring = LibbpfRingBuffer.open(p.object.map("rb"))) {
            RingbufTestProgram.trigger(N);
            RingbufTestProgram.Checker checker = new RingbufTestProgram.Checker();
            assertEquals(N, ring.drain(checker));
            assertEquals(N, checker.count);
            assertEquals(0, ring.drain(checker));
            assertEquals(N, p.hits());
        }
    }

    @Test
    void wrapsAroundAndPolls() {
        try (RingbufTestProgram p = RingbufTestProgram.start(64 * 1024);
             LibbpfRingBuffer ring = LibbpfRingBuffer.open(p.object.map("rb"))) {
            RingbufTestProgram.Checker checker = new RingbufTestProgram.Checker();
            assertEquals(0, ring.poll(10, checker), "times out when empty");
            for (int batch = 0; batch < N / 1000; batch++) {
                RingbufTestProgram.trigger(1000);
                assertEquals(1000, ring.poll(1000, checker));
            }
            assertEquals(N, checker.count);
        }
    }

    @Test
    void handlerExceptionIsRethrownNotACrash() {
        try (RingbufTestProgram p = RingbufTestProgram.start(64 * 1024);
             LibbpfRingBuffer ring = LibbpfRingBuffer.open(p.object.map("rb"))) {
            RingbufTestProgram.trigger(2);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> ring.drain((data, offset, length) -> {
                throw new IllegalStateException("bad record");
            }));
            assertEquals("bad record", e.getMessage());
            ring.close();
            ring.close(); // idempotent
            assertThrows(IllegalStateException.class, () -> ring.drain((data, offset, length) -> { }));
        }
    }
}
