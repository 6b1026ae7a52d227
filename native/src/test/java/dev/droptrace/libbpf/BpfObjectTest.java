package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening, loading and querying a BPF object, and how each failure is reported. */
@Tag("kernel")
class BpfObjectTest {

    @BeforeEach
    void needsKernel() {
        RingbufTestProgram.assumeKernel();
    }

    @Test
    void libbpfIsVersionOne() {
        assertTrue(Libbpf.version().startsWith("v1."), Libbpf.version());
        assertTrue(Libbpf.numPossibleCpus() >= 1);
    }

    @Test
    void garbageBytesAreANativeCallExceptionNotACrash() {
        byte[] garbage = "this is not an ELF file, just some bytes".getBytes(StandardCharsets.US_ASCII);
        NativeCallException e = assertThrows(NativeCallException.class, () -> BpfObject.open("garbage", garbage));
        assertEquals("bpf_object__open_mem", e.call());
        assertTrue(e.errno() > 0);

        assertThrows(NativeCallException.class, () -> BpfObject.open("empty", new byte[0]));
        // a truncated real object: a valid ELF header with nothing behind it
        byte[] truncated = java.util.Arrays.copyOf(RingbufTestProgram.elf(), 100);
        assertThrows(NativeCallException.class, () -> BpfObject.open("truncated", truncated));
    }

    @Test
    void verifierRejectionCarriesErrnoTextAndVerifierLog() {
        try (BpfObject object = BpfObject.open("ringbuf_test", RingbufTestProgram.elf())) {
            object.program("rejected_by_verifier").setAutoload(true);
            NativeCallException e = assertThrows(NativeCallException.class, object::load);
            assertEquals("bpf_object__load", e.call());
            assertTrue(e.getMessage().startsWith("bpf_object__load: " + Libc.strerror(e.errno()) + " (errno " + e.errno() + ")"),
                    e.getMessage());
            // the kernel verifier's own words, printed by libbpf and captured during load()
            assertTrue(e.detail().contains("invalid access to map value"), e.detail());
            assertTrue(e.detail().contains("rejected_by_verifier"), e.detail());
            assertTrue(e.getMessage().contains("invalid access to map value"));
            assertFalse(object.loaded());
        }
    }

    @Test
    void mapsAndProgramsDescribeThemselves() {
        try (BpfObject object = BpfObject.open("ringbuf_test", RingbufTestProgram.elf())) {
            BpfMap rb = object.map("rb");
            assertSame(rb, object.map("rb"));
            assertEquals(BpfMap.TYPE_RINGBUF, rb.type());
            assertEquals(64 * 1024, rb.maxEntries());

            BpfMap hits = object.map("hits");
            assertEquals(BpfMap.TYPE_PERCPU_ARRAY, hits.type());
            assertTrue(hits.perCpu());
            assertEquals(4, hits.keySize());
            assertEquals(8, hits.valueSize());
            assertEquals(Libbpf.numPossibleCpus() * 8L, hits.valueBufferSize());

            BpfMap settings = object.map("settings");
            assertEquals(16, settings.valueSize());
            assertFalse(settings.perCpu());

            assertEquals("on_getpid", object.program("on_getpid").name());
            assertThrows(IllegalArgumentException.class, () -> object.program("no_such_program"));
            assertThrows(IllegalArgumentException.class, () -> object.map("no_such_map"));
            // no fd before load
            assertThrows(NativeCallException.class, rb::fd);

            object.load();
            assertTrue(rb.fd() >= 0);
            assertTrue(object.program("on_getpid").fd() >= 0);
        }
    }

    @Test
    void mapElementsRoundTrip() {
        try (BpfObject object = BpfObject.open("ringbuf_test", RingbufTestProgram.elf());
             Arena arena = Arena.ofConfined()) {
            object.load();
            BpfMap settings = object.map("settings");
            MemorySegment key = arena.allocate(JAVA_INT);
            MemorySegment value = arena.allocate(16, 8);
            value.set(JAVA_INT, 0, 4242);
            value.set(JAVA_LONG, 8, 77);
            settings.update(key, value, BpfMap.BPF_ANY);

            MemorySegment read = arena.allocate(16, 8);
            assertTrue(settings.lookup(key, read));
            assertEquals(4242, read.get(JAVA_INT, 0));
            assertEquals(77, read.get(JAVA_LONG, 8));

            key.set(JAVA_INT, 0, 5); // beyond max_entries of the array
            assertFalse(settings.lookup(key, read));

            MemorySegment next = arena.allocate(JAVA_INT);
            assertTrue(settings.nextKey(null, next));
            assertEquals(0, next.get(JAVA_INT, 0));
            assertFalse(settings.nextKey(next, next), "an array of one entry has no second key");

            // buffers too small for what the kernel writes are refused before the call
            assertThrows(IllegalArgumentException.class, () -> settings.lookup(next, arena.allocate(8)));
            BpfMap hits = object.map("hits");
            assertThrows(IllegalArgumentException.class, () -> hits.lookup(next, arena.allocate(8)));
            assertEquals(0, hits.sumPerCpuLong(next));
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseFailsCleanly() {
        BpfObject object = BpfObject.open("ringbuf_test", RingbufTestProgram.elf());
        BpfMap rb = object.map("rb");
        object.load();
        object.close();
        object.close();
        assertThrows(IllegalStateException.class, rb::fd);
        assertThrows(IllegalStateException.class, () -> object.program("on_getpid"));
        assertThrows(IllegalStateException.class, object::load);
    }
}
