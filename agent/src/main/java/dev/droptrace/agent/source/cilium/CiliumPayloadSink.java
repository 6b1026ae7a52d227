package dev.droptrace.agent.source.cilium;

import java.lang.foreign.MemorySegment;

/**
 * Receives Cilium datapath notifications as raw bytes, from the monitor socket or from the perf ring.
 * Called on the reading thread; the bytes are valid only during the call.
 */
public interface CiliumPayloadSink {
    /** One perf sample: a Cilium notification, its captured packet bytes and the perf padding. */
    void onSample(MemorySegment data, long offset, int length, int cpu);

    /** The datapath lost {@code lost} samples on {@code cpu} (a PERF_RECORD_LOST or a lost-record payload). */
    void onLost(int cpu, long lost);
}
