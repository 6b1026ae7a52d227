package dev.droptrace.libbpf;

import java.lang.foreign.MemorySegment;

/**
 * Receives one ring buffer record in place: {@code data} is the whole data area (no slice is made
 * per record) and the record is {@code length} bytes at {@code offset}. The bytes are valid only
 * during the call: once it returns, the kernel may overwrite them.
 */
@FunctionalInterface
public interface RecordHandler {
    void onRecord(MemorySegment data, long offset, int length);
}
