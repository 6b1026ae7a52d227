package dev.droptrace.agent.pipeline;

import java.util.Map;
import java.util.Set;

/**
 * A source whose transport thread feeds raw payloads into the {@link EventPipeline} (Cilium, Calico),
 * as the agent sees it: where it is attached, its counters for {@code status}, and which kernel drop
 * reasons the kernel gives the packets it drops (the reasons to merge).
 */
public interface PayloadSource extends AutoCloseable {
    /** "cilium" or "calico". */
    String name();

    /** One line: where it reads from and in what state ("connected to /var/run/cilium/monitor1_2.sock"). */
    String attachment();

    /** Whether it is receiving or will receive by itself (reconnecting counts); false when it gave up. */
    boolean attached();

    /** Kernel reason names (BTF enum skb_drop_reason, without prefix) of the packets it reports as dropped. */
    Set<String> kernelMergeReasons();

    /** Names the policy behind kernel drops of its merge reasons that it did not report itself; null for none. */
    default DropAttributor attributor() {
        return null;
    }

    /** Counters and states for {@code status -o json} under this source's name (JSON-friendly values). */
    Map<String, Object> status();

    /** Stops the transport thread and frees its handles. */
    @Override
    void close();
}
