package dev.droptrace.agent.event;

import java.util.Map;

/**
 * Who is at one end of a drop, as stored in an IDENTITY dictionary record (JSON text
 * {@code {"namespace","pod","workload","labels","node","service","reserved"}}). Any component may be
 * null; labels is never null (empty when unknown). {@code service} names the Service when the
 * address was a ClusterIP; {@code reserved} is {@code "host"} (a node address, with {@code node}
 * set) or {@code "world"} (an address outside the cluster), as Hubble spells them.
 */
public record EndpointIdentity(String namespace, String pod, String workload, Map<String, String> labels, String node,
                               String service, String reserved) {
    public EndpointIdentity {
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }

    /** A pod identity without service or reserved name. */
    public EndpointIdentity(String namespace, String pod, String workload, Map<String, String> labels, String node) {
        this(namespace, pod, workload, labels, node, null, null);
    }
}
