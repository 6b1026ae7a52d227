package dev.droptrace.libc;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Plain unit tests of the libc binding: no root needed. */
class LibcTest {

    @Test
    void strerrorNamesTheError() {
        assertEquals("No such file or directory", Libc.strerror(Libc.ENOENT));
    }

    @Test
    void exceptionMessageIsCallErrnoTextAndErrno() {
        NativeCallException e = new NativeCallException("bpf_object__load", 13);
        assertEquals("bpf_object__load: Permission denied (errno 13)", e.getMessage());
        assertEquals("bpf_object__load", e.call());
        assertEquals(13, e.errno());
        assertEquals("", e.detail());

        NativeCallException withLog = new NativeCallException("bpf_object__load", 13, "0: (b7) r1 = 0\n");
        assertEquals("bpf_object__load: Permission denied (errno 13)\n0: (b7) r1 = 0", withLog.getMessage());
        assertEquals("0: (b7) r1 = 0\n", withLog.detail());
    }

    @Test
    void failedCallThrowsWithCapturedErrno() {
        NativeCallException e = assertThrows(NativeCallException.class, () -> Libc.close(-1));
        assertEquals("close", e.call());
        assertEquals(Libc.EBADF, e.errno());
        assertTrue(e.getMessage().startsWith("close: Bad file descriptor (errno 9)"), e.getMessage());
    }

    @Test
    void clocksTick() {
        long before = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        long after = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        assertTrue(after >= before);
        long realtimeMs = Libc.clockGettimeNs(Libc.CLOCK_REALTIME) / 1_000_000;
        assertTrue(Math.abs(realtimeMs - System.currentTimeMillis()) < 5_000, "CLOCK_REALTIME is wall time");
    }

    @Test
    void pageSizeIsAPowerOfTwo() {
        int page = Libc.getpagesize();
        assertTrue(page >= 4096 && Integer.bitCount(page) == 1, "page size " + page);
    }

    @Test
    void pollIgnoresNegativeFdAndTimesOut() {
        // poll(2) ignores entries with a negative fd: this is a pure timeout.
        assertEquals(0, Libc.poll(-1, Libc.POLLIN, 0));
    }

    @Test
    void mmapFailureIsANativeCallException() {
        NativeCallException e = assertThrows(NativeCallException.class,
                () -> Libc.mmap(4096, Libc.PROT_READ, Libc.MAP_SHARED, -1, 0));
        assertEquals("mmap", e.call());
        assertEquals(Libc.EBADF, e.errno());
    }
}
