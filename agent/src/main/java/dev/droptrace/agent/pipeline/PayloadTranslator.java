package dev.droptrace.agent.pipeline;

import java.lang.foreign.MemorySegment;

/**
 * Decodes raw payloads of a source (Cilium notifications, NFLOG packet messages) into drop events.
 * Runs on the journal-writer thread, so it may intern dictionary strings and hold state between
 * payloads (for example a Cilium policy verdict waiting for the drop notification of the same
 * packet). It must not throw on bad input: it counts it and emits nothing.
 */
public interface PayloadTranslator {
    /**
     * Decodes {@code length} bytes at {@code offset} and emits zero or more events through
     * {@code sink}; {@code aux} is the transport's side value (the CPU for Cilium, the group for NFLOG).
     */
    void translate(MemorySegment data, long offset, int length, int aux, EventSink sink);

    /** Called after each poll of the queue: emit what was held back and should not wait longer. */
    default void flush(EventSink sink) {
    }

    /** Called once at shutdown, after the last poll: emit everything still held. */
    default void flushAll(EventSink sink) {
        flush(sink);
    }
}
