package dev.droptrace.agent.event;

import java.util.Map;

/**
 * Who is at one end of a drop, as stored in an IDENTITY dictionary record (JSON text
 * {@code {"namespace","pod","workload","labels","node"}}). Any component may be null; labels is
 * never null (empty when unknown).
 */
public record EndpointIdentity(String namespace, String pod, String workload, Map<String, String> labels, String node) {
    public EndpointIdentity {
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }
}
