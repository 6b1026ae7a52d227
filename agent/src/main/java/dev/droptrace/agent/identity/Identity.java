package dev.droptrace.agent.identity;

import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One version of what is at an address: a pod, a Service (its ClusterIP), a node ({@code reserved
 * = "host"}) or the outside world ({@code reserved = "world"}). Immutable; the IDENTITY dictionary
 * text ({@link #json()}) is computed once, so interning it on the source thread costs a hash lookup.
 *
 * <p>{@code workload} is {@code Kind/name} of the top-most controller, as Hubble shows it:
 * {@code Deployment/web} (a pod of ReplicaSet {@code web-5d8f9c} with the pod-template-hash
 * stripped), {@code StatefulSet/db}, {@code DaemonSet/agent}, {@code CronJob/backup} (via its Job),
 * {@code Job/migrate}; null for a bare pod. Two identities are equal when their JSON text is equal.
 */
public final class Identity {
    /** The address is outside everything the cache knows, as Hubble's {@code reserved:world}. */
    public static final Identity WORLD = new Identity(null, null, null, Map.of(), null, null, "world");

    private final String namespace;
    private final String pod;
    private final String workload;
    private final SortedMap<String, String> labels;
    private final String node;
    private final String service;
    private final String reserved;
    private final String json;

    private Identity(String namespace, String pod, String workload, Map<String, String> labels, String node,
                     String service, String reserved) {
        this.namespace = namespace;
        this.pod = pod;
        this.workload = workload;
        this.labels = labels == null || labels.isEmpty() ? Collections.emptySortedMap()
                : Collections.unmodifiableSortedMap(new TreeMap<>(labels));
        this.node = node;
        this.service = service;
        this.reserved = reserved;
        this.json = DropView.identityJson(toEndpointIdentity());
    }

    /** A pod; any argument but {@code name} may be null. */
    public static Identity pod(String namespace, String name, String workload, Map<String, String> labels, String node) {
        return new Identity(namespace, Objects.requireNonNull(name, "pod name"), workload, labels, node, null, null);
    }

    /** A Service, as seen at its ClusterIP (a drop before DNAT). */
    public static Identity service(String namespace, String name) {
        return new Identity(namespace, null, null, Map.of(), null, Objects.requireNonNull(name, "service name"), null);
    }

    /** A node's own address or network namespace: {@code reserved = "host"}, {@code node = name}. */
    public static Identity host(String node) {
        return new Identity(null, null, null, Map.of(), node, null, "host");
    }

    public String namespace() { return namespace; }

    public String pod() { return pod; }

    /** {@code Kind/name} of the controlling workload, null for a bare pod. */
    public String workload() { return workload; }

    /** Sorted, unmodifiable; empty when none. */
    public SortedMap<String, String> labels() { return labels; }

    public String node() { return node; }

    /** The Service name when this is a ClusterIP, else null. */
    public String service() { return service; }

    /** {@code "host"}, {@code "world"} or null. */
    public String reserved() { return reserved; }

    /** The IDENTITY dictionary text (DESIGN section 3), computed once. */
    public String json() { return json; }

    /** The same identity as the event package's record. */
    public EndpointIdentity toEndpointIdentity() {
        return new EndpointIdentity(namespace, pod, workload, labels, node, service, reserved);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Identity other && json.equals(other.json);
    }

    @Override
    public int hashCode() {
        return json.hashCode();
    }

    @Override
    public String toString() {
        return json;
    }
}
