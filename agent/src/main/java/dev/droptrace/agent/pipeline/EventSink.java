package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.event.DropRecord;

/** Where a {@link PayloadTranslator} writes its events; one event at a time, writer thread only. */
public interface EventSink {
    /** A cleared record (version 1, count 1) to fill; valid until {@link #emit}. */
    DropRecord begin();

    /**
     * Journals the record filled since {@link #begin}. {@code mergeable}: a drop the kernel also
     * frees, journaled once together with the kernel's record of the same packet; otherwise (an
     * allowed verdict, an audit) journaled as it is.
     */
    void emit(boolean mergeable);
}
