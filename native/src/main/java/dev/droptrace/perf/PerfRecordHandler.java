package dev.droptrace.perf;

import java.lang.foreign.MemorySegment;

/**
 * Receives the records of a perf event ring in place. A sample's bytes are valid only during the
 * call: once it returns, the kernel may overwrite them.
 */
public interface PerfRecordHandler {
    /**
     * One {@code PERF_RECORD_SAMPLE}: its raw data is {@code length} bytes at {@code offset} of
     * {@code data} (the ring's data area, or a scratch copy when the record wrapped around its end).
     * The raw data includes the kernel's 0-7 padding bytes (so that {@code 4 + length} is a multiple
     * of 8), which are not zeroed.
     */
    void onSample(int cpu, MemorySegment data, long offset, int length);

    /** One {@code PERF_RECORD_LOST}: the ring of {@code cpu} was full and {@code lost} samples were dropped. */
    void onLost(int cpu, long lost);
}
