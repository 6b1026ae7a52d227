package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.event.DropRecord;

import java.lang.foreign.MemorySegment;

/**
 * Decodes one raw payload of a source (a Cilium notification, an NFLOG packet message) into a drop
 * event. Runs on the journal-writer thread, so it may intern dictionary strings; it must not throw
 * on bad input (count it and return {@link #NONE}).
 */
public interface PayloadTranslator {
    /** Nothing to journal: an allowed verdict, a trace, a bad payload (counted by the translator). */
    int NONE = 0;
    /** An event to journal as it is (for example an allowed verdict with --cilium-allowed). */
    int EVENT = 1;
    /** A drop the kernel also frees: journaled once, merged with the kernel's record of the packet. */
    int EVENT_MERGEABLE = 2;

    /**
     * Fills {@code out} (already cleared: version 1, count 1) from {@code length} bytes at
     * {@code offset}; {@code aux} is the transport's side value (the CPU for Cilium, the group for NFLOG).
     */
    int translate(MemorySegment data, long offset, int length, int aux, DropRecord out);
}
