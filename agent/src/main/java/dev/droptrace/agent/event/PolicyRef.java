package dev.droptrace.agent.event;

/**
 * The policy that denied a packet, as stored in a POLICY dictionary record (JSON text
 * {@code {"name","namespace","kind","tier","action"}}). Any component may be null.
 */
public record PolicyRef(String name, String namespace, String kind, String tier, String action) {
}
