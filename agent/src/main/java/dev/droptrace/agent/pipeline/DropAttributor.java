package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.event.DropRecord;

/**
 * Names the policy behind a kernel drop that no CNI record explained (for example a Kubernetes
 * default deny: a NETFILTER_DROP between pods with no NFLOG record). Called on the writer thread for
 * each kernel record the merger emits alone; may set the record's policy id, must not throw.
 */
@FunctionalInterface
public interface DropAttributor {
    void attribute(DropRecord kernelRecord);
}
