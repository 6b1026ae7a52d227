package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import dev.droptrace.agent.identity.IdentityCache;
import org.agrona.collections.Long2ObjectHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the Kubernetes API says about Cilium's security identities (spec section 6.4): numeric
 * identity to namespace and labels ({@code CiliumIdentity}), and pod address to endpoint
 * ({@code CiliumEndpoint}: namespace, pod name, identity, endpoint ID).
 *
 * <p>Copy-on-write. Writers (informer threads, tests) change the mutable state under a lock; a
 * publisher thread turns it into an immutable {@link Snapshot}, coalescing a burst of changes (an
 * informer's initial list) into few snapshots. The reader (the journal-writer thread) takes the
 * current snapshot with one volatile read and looks up without locks or allocation.
 *
 * <p>Labels are kept the way the IP cache keeps pod labels, so output is uniform: Cilium's
 * {@code k8s:} source prefix is stripped and the labels Cilium derives itself
 * ({@code io.kubernetes.pod.namespace}, {@code io.cilium.k8s.policy.*},
 * {@code io.cilium.k8s.namespace.labels.*}) are dropped; labels of other sources keep their prefix.
 * Only identity-relevant labels are in Cilium's objects (Cilium's label filter), so this may be a
 * subset of the pod's labels.
 */
public final class CiliumIdentityTable implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CiliumIdentityTable.class);
    /** Identity argument of the endpoint lookups that accepts an endpoint of any identity. */
    public static final long ANY_IDENTITY = -1;
    private static final String NAMESPACE_LABEL = "io.kubernetes.pod.namespace";

    /** A {@code CiliumIdentity}: one label set, shared by many pods, so it never names a pod. */
    public static final class SecurityIdentity {
        private final long id;
        private final String namespace;
        private final SortedMap<String, String> labels;
        private final String[] labelKeys;
        private final String[] labelValues;
        private final String json;
        private final int localId;

        SecurityIdentity(long id, String namespace, SortedMap<String, String> labels, int localId) {
            this.id = id;
            this.namespace = namespace;
            this.labels = Collections.unmodifiableSortedMap(labels);
            this.labelKeys = labels.keySet().toArray(new String[0]);
            this.labelValues = labels.values().toArray(new String[0]);
            this.json = DropView.identityJson(new EndpointIdentity(namespace, null, null, labels, null));
            this.localId = localId;
        }

        public long id() { return id; }

        /** From the {@code k8s:io.kubernetes.pod.namespace} label; null for an identity outside namespaces. */
        public String namespace() { return namespace; }

        /** Pod labels as the IP cache keeps them (see the class comment). */
        public SortedMap<String, String> labels() { return labels; }

        /** IDENTITY dictionary text: {@code {"namespace":..,"labels":{..}}}, no pod. */
        public String json() { return json; }

        /** Never reused; a changed identity gets a new one (readers cache per local id). */
        public int localId() { return localId; }

        /** True when every label of this identity has the same value in {@code podLabels}; allocation-free. */
        public boolean labelsContainedIn(Map<String, String> podLabels) {
            for (int i = 0; i < labelKeys.length; i++) {
                if (!labelValues[i].equals(podLabels.get(labelKeys[i]))) {
                    return false;
                }
            }
            return true;
        }

        boolean sameAs(SecurityIdentity o) {
            return o != null && id == o.id && json.equals(o.json);
        }
    }

    /** A {@code CiliumEndpoint}: one Cilium-managed pod (interface). */
    public static final class Endpoint {
        private final String namespace;
        private final String pod;
        private final long identity;
        private final long endpointId;
        private final String nodeIp;
        private final List<String> addresses;
        private final SortedMap<String, String> labels;
        private final String json;
        private final int localId;

        Endpoint(String namespace, String pod, long identity, long endpointId, String nodeIp, List<String> addresses,
                 SortedMap<String, String> labels, int localId) {
            this.namespace = namespace;
            this.pod = pod;
            this.identity = identity;
            this.endpointId = endpointId;
            this.nodeIp = nodeIp;
            this.addresses = List.copyOf(addresses);
            this.labels = Collections.unmodifiableSortedMap(labels);
            this.json = DropView.identityJson(new EndpointIdentity(namespace, pod, null, labels, null));
            this.localId = localId;
        }

        public String namespace() { return namespace; }

        /** The CEP's name: the pod name (or {@code <pod>-<ifname>} for secondary interfaces). */
        public String pod() { return pod; }

        /** {@code status.identity.id}; 0 when not yet assigned. */
        public long identity() { return identity; }

        /** {@code status.id}: the node-local endpoint ID (the {@code source} of its bpf_lxc events). */
        public long endpointId() { return endpointId; }

        /** {@code status.networking.node}: the IP of the node it runs on, or null. */
        public String nodeIp() { return nodeIp; }

        public List<String> addresses() { return addresses; }

        public SortedMap<String, String> labels() { return labels; }

        /** IDENTITY dictionary text: {@code {"namespace":..,"pod":..,"labels":{..}}}. */
        public String json() { return json; }

        /** Never reused; a changed endpoint gets a new one. */
        public int localId() { return localId; }

        boolean sameAs(Endpoint o) {
            return o != null && identity == o.identity && endpointId == o.endpointId && Objects.equals(nodeIp, o.nodeIp)
                    && addresses.equals(o.addresses) && json.equals(o.json);
        }
    }

    /** One address claimed by an endpoint. */
    private record Claim(long hi, long lo, Endpoint endpoint) {
    }

    /** An immutable view; lookups allocate nothing. */
    public static final class Snapshot {
        private final Long2ObjectHashMap<SecurityIdentity> identities;
        private final Long2ObjectHashMap<Claim[]> v4;
        private final Long2ObjectHashMap<Claim[]> v6;
        private final int endpoints;

        private Snapshot(Long2ObjectHashMap<SecurityIdentity> identities, Long2ObjectHashMap<Claim[]> v4,
                         Long2ObjectHashMap<Claim[]> v6, int endpoints) {
            this.identities = identities;
            this.v4 = v4;
            this.v6 = v6;
            this.endpoints = endpoints;
        }

        /** The CiliumIdentity with this number, or null. */
        public SecurityIdentity identity(long id) {
            return identities.get(id);
        }

        /**
         * The endpoint at an IPv4 address (host order, 0x0a000001 = 10.0.0.1) whose identity is
         * {@code identity} ({@link #ANY_IDENTITY}: any); the most recently changed one when several claim it.
         */
        public Endpoint endpointIpv4(int address, long identity) {
            return pick(v4.get(address & 0xffffffffL), 0, address & 0xffffffffL, identity);
        }

        /** The endpoint at an IPv6 address given as two big-endian halves, as {@link #endpointIpv4}. */
        public Endpoint endpointIpv6(long hi, long lo, long identity) {
            return pick(v6.get(mix(hi, lo)), hi, lo, identity);
        }

        private static Endpoint pick(Claim[] claims, long hi, long lo, long identity) {
            if (claims == null) {
                return null;
            }
            for (Claim c : claims) {
                if (c.hi == hi && c.lo == lo && (identity == ANY_IDENTITY || c.endpoint.identity == identity)) {
                    return c.endpoint;
                }
            }
            return null;
        }

        public int identityCount() { return identities.size(); }

        public int endpointCount() { return endpoints; }
    }

    private static final Snapshot EMPTY = new Snapshot(new Long2ObjectHashMap<>(), new Long2ObjectHashMap<>(),
            new Long2ObjectHashMap<>(), 0);

    private final Object lock = new Object();
    private final Map<Long, SecurityIdentity> identities = new HashMap<>();
    /** "namespace/name" to endpoint, in change order (the newest last). */
    private final Map<String, Endpoint> endpoints = new java.util.LinkedHashMap<>();
    private final List<CompletableFuture<Void>> flushes = new ArrayList<>();
    private final AtomicInteger nextLocalId = new AtomicInteger(1);
    private final AtomicBoolean publishPending = new AtomicBoolean();
    private final AtomicLong snapshotsPublished = new AtomicLong();
    private final AtomicLong ignored = new AtomicLong();
    private final ExecutorService publisher = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cilium-identity-publisher");
        t.setDaemon(true);
        return t;
    });
    private volatile Snapshot snapshot = EMPTY;
    private volatile boolean closed;

    /** The current snapshot: one volatile read. */
    public Snapshot snapshot() {
        return snapshot;
    }

    // ---- writers -----------------------------------------------------------------------------------

    /**
     * Adds or replaces the CiliumIdentity named {@code name} (the decimal identity). Objects whose name
     * is not a number are ignored (counted).
     *
     * @param securityLabels its {@code security-labels} (Cilium labels with source prefix); may be null
     * @param metadataLabels its {@code metadata.labels} (namespace fallback); may be null
     */
    public void upsertIdentity(String name, Map<String, String> securityLabels, Map<String, String> metadataLabels) {
        long id = parseId(name);
        if (id <= 0) {
            ignored.incrementAndGet();
            return;
        }
        Map<String, String> sec = securityLabels == null ? Map.of() : securityLabels;
        String namespace = sec.get("k8s:" + NAMESPACE_LABEL);
        if (namespace == null && metadataLabels != null) {
            namespace = metadataLabels.get(NAMESPACE_LABEL);
        }
        synchronized (lock) {
            SecurityIdentity old = identities.get(id);
            SecurityIdentity n = new SecurityIdentity(id, namespace, podLabels(sec), 0);
            if (n.sameAs(old)) {
                return;
            }
            identities.put(id, new SecurityIdentity(id, namespace, n.labels, nextLocalId.getAndIncrement()));
        }
        schedulePublish();
    }

    /** Removes the CiliumIdentity named {@code name}. */
    public void removeIdentity(String name) {
        long id = parseId(name);
        synchronized (lock) {
            if (identities.remove(id) == null) {
                return;
            }
        }
        schedulePublish();
    }

    /**
     * Adds or replaces the CiliumEndpoint {@code namespace/name}.
     *
     * @param identity       {@code status.identity.id}
     * @param endpointId     {@code status.id}
     * @param nodeIp         {@code status.networking.node}, may be null
     * @param addresses      the {@code ipv4}/{@code ipv6} values of {@code status.networking.addressing}
     * @param identityLabels {@code status.identity.labels} ("k8s:app=web"), may be null
     */
    public void upsertEndpoint(String namespace, String name, long identity, long endpointId, String nodeIp,
                               Collection<String> addresses, Collection<String> identityLabels) {
        Map<String, String> cilium = new TreeMap<>();
        if (identityLabels != null) {
            for (String l : identityLabels) {
                if (l == null) continue;
                int eq = l.indexOf('=');
                cilium.put(eq < 0 ? l : l.substring(0, eq), eq < 0 ? "" : l.substring(eq + 1));
            }
        }
        List<String> addrs = new ArrayList<>();
        for (String a : addresses) {
            if (a != null && !a.isBlank()) addrs.add(a.strip());
        }
        String key = namespace + "/" + name;
        synchronized (lock) {
            Endpoint old = endpoints.get(key);
            Endpoint n = new Endpoint(namespace, name, identity, endpointId, nodeIp, addrs, podLabels(cilium), 0);
            if (n.sameAs(old)) {
                return;
            }
            endpoints.remove(key); // re-insert: the newest last
            endpoints.put(key, new Endpoint(namespace, name, identity, endpointId, nodeIp, addrs, n.labels,
                    nextLocalId.getAndIncrement()));
        }
        schedulePublish();
    }

    /** Removes the CiliumEndpoint {@code namespace/name}. */
    public void removeEndpoint(String namespace, String name) {
        synchronized (lock) {
            if (endpoints.remove(namespace + "/" + name) == null) {
                return;
            }
        }
        schedulePublish();
    }

    /** Completes once every change made before this call is visible in {@link #snapshot()}. */
    public CompletableFuture<Void> flush() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        if (closed) {
            f.completeExceptionally(new IllegalStateException("closed"));
            return f;
        }
        synchronized (lock) {
            flushes.add(f);
        }
        schedulePublish();
        return f;
    }

    private void schedulePublish() {
        if (!closed && publishPending.compareAndSet(false, true)) {
            try {
                publisher.execute(this::publish);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                publishPending.set(false); // closed meanwhile
            }
        }
    }

    private void publish() {
        publishPending.set(false); // changes after this point schedule another publish
        List<CompletableFuture<Void>> done;
        Snapshot s;
        try {
            synchronized (lock) {
                done = new ArrayList<>(flushes);
                flushes.clear();
                s = build();
            }
        } catch (RuntimeException e) {
            LOG.warn("cilium identity snapshot failed", e);
            return;
        }
        snapshot = s;
        snapshotsPublished.incrementAndGet();
        done.forEach(f -> f.complete(null));
    }

    /** Under the lock. */
    private Snapshot build() {
        Long2ObjectHashMap<SecurityIdentity> ids = new Long2ObjectHashMap<>(Math.max(8, identities.size() * 2), 0.65f);
        identities.forEach(ids::put);
        Map<Long, List<Claim>> v4 = new HashMap<>();
        Map<Long, List<Claim>> v6 = new HashMap<>();
        List<Endpoint> newestFirst = new ArrayList<>(endpoints.values());
        Collections.reverse(newestFirst);
        for (Endpoint e : newestFirst) {
            for (String a : e.addresses) {
                IdentityCache.Key k = IdentityCache.Key.parse(a);
                if (k == null) continue;
                if (k.kind() == IdentityCache.KIND_V4) {
                    v4.computeIfAbsent(k.lo(), x -> new ArrayList<>(1)).add(new Claim(0, k.lo(), e));
                } else {
                    v6.computeIfAbsent(mix(k.hi(), k.lo()), x -> new ArrayList<>(1)).add(new Claim(k.hi(), k.lo(), e));
                }
            }
        }
        return new Snapshot(ids, toIndex(v4), toIndex(v6), endpoints.size());
    }

    private static Long2ObjectHashMap<Claim[]> toIndex(Map<Long, List<Claim>> m) {
        Long2ObjectHashMap<Claim[]> out = new Long2ObjectHashMap<>(Math.max(8, m.size() * 2), 0.65f);
        m.forEach((k, l) -> out.put(k, l.toArray(new Claim[0])));
        return out;
    }

    static long mix(long hi, long lo) {
        long h = hi * 0x9E3779B97F4A7C15L ^ lo;
        return h ^ (h >>> 29);
    }

    private static long parseId(String name) {
        if (name == null) return -1;
        try {
            long id = Long.parseLong(name.strip());
            return id > 0 && id <= 0xffffffffL ? id : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Cilium labels ({@code source:key} to value) as pod labels: {@code k8s:} stripped, the labels
     * Cilium derives dropped, other sources kept with their prefix.
     */
    static SortedMap<String, String> podLabels(Map<String, String> ciliumLabels) {
        SortedMap<String, String> out = new TreeMap<>();
        for (Map.Entry<String, String> e : ciliumLabels.entrySet()) {
            String k = e.getKey();
            if (k == null) continue;
            String v = e.getValue() == null ? "" : e.getValue();
            if (k.startsWith("k8s:")) {
                String key = k.substring(4);
                if (key.equals(NAMESPACE_LABEL) || key.startsWith("io.cilium.k8s.policy.")
                        || key.startsWith("io.cilium.k8s.namespace.labels.")) {
                    continue;
                }
                out.put(key, v);
            } else {
                out.put(k, v);
            }
        }
        return out;
    }

    // ---- statistics ----------------------------------------------------------------------------------

    /** CiliumIdentities currently held (writer side). */
    public int identities() {
        synchronized (lock) {
            return identities.size();
        }
    }

    /** CiliumEndpoints currently held (writer side). */
    public int endpoints() {
        synchronized (lock) {
            return endpoints.size();
        }
    }

    public long snapshotsPublished() {
        return snapshotsPublished.get();
    }

    /** Objects ignored (a CiliumIdentity whose name is not a number). */
    public long ignored() {
        return ignored.get();
    }

    /** Stops the publisher; the last snapshot stays readable. */
    @Override
    public void close() {
        closed = true;
        publisher.shutdown();
        synchronized (lock) {
            flushes.forEach(f -> f.completeExceptionally(new IllegalStateException("closed")));
            flushes.clear();
        }
    }
}
