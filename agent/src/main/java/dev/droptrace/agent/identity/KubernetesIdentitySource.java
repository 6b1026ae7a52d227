package dev.droptrace.agent.identity;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Feeds an {@link IdentityCache} from the Kubernetes API with fabric8 informers (list + watch, read
 * only): Pods in all namespaces (pod IPs), Services (ClusterIPs), Nodes (InternalIP and ExternalIP
 * as {@code host}), Namespaces (labels, for policy explanation), and ReplicaSets and Jobs (to name a
 * pod's workload through its owner chain: ReplicaSet to Deployment, Job to CronJob).
 *
 * <p>{@link #start} never blocks: informers start in the background and, when the API server is
 * unreachable, keep retrying (their exception handler always asks for a retry); names appear once
 * it answers. After a watch disconnect fabric8 re-watches, or relists when the resource version is
 * gone; a relist that no longer contains a pod delivers its delete ({@code
 * deletedFinalStateUnknown}), which withdraws its claims, so no stale entry remains.
 *
 * <p>Informer callbacks run on fabric8's threads (one per informer); they only queue work on the
 * cache's writer thread, where all of this source's state lives, so a pod and its ReplicaSet are
 * joined in one order whatever order their informers deliver them in. When a ReplicaSet or Job
 * arrives after its pods, those pods are re-derived.
 *
 * <p>The network namespaces of this node's pods are linked to their pods by a
 * {@link PodNetnsScanner} (container processes' {@code /proc/PID/ns/net} and cgroup pod UIDs),
 * which runs beside the informers.
 */
public final class KubernetesIdentitySource implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KubernetesIdentitySource.class);
    private static final String POD_TEMPLATE_HASH = "pod-template-hash";

    private final IdentityCache cache;
    private final KubernetesClient client;
    private final boolean ownsClient;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    private final SharedIndexInformer<Pod> podInformer;
    private final CompletableFuture<Void> synced;
    private final AtomicLong apiErrors = new AtomicLong();
    private final Map<String, Map<String, String>> namespaceLabels = new ConcurrentHashMap<>();

    // ---- writer-thread state ----
    private final Map<String, Pod> pods = new HashMap<>();
    private final Map<String, Set<String>> podsByController = new HashMap<>();
    private final Map<String, String> replicaSetWorkloads = new HashMap<>();
    private final Map<String, String> jobWorkloads = new HashMap<>();

    private KubernetesIdentitySource(IdentityCache cache, KubernetesClient client, boolean ownsClient) {
        this.cache = cache;
        this.client = client;
        this.ownsClient = ownsClient;
        SharedIndexInformer<Pod> podInformer = client.pods().inAnyNamespace().runnableInformer(0);
        this.podInformer = podInformer;
        SharedIndexInformer<Service> serviceInformer = client.services().inAnyNamespace().runnableInformer(0);
        SharedIndexInformer<Node> nodeInformer = client.nodes().runnableInformer(0);
        CompletableFuture<?> podsSynced = inform(podInformer,
                p -> cache.execute(() -> podChanged(p)), p -> cache.execute(() -> podDeleted(p)));
        CompletableFuture<?> servicesSynced = inform(serviceInformer,
                s -> cache.execute(() -> serviceChanged(s)), s -> cache.execute(() -> cache.remove(ownerKey("svc", s))));
        CompletableFuture<?> nodesSynced = inform(nodeInformer,
                n -> cache.execute(() -> nodeChanged(n)), n -> cache.execute(() -> cache.remove(ownerKey("node", n))));
        inform(client.namespaces().runnableInformer(0),
                n -> namespaceLabels.put(n.getMetadata().getName(), labelsOf(n)),
                n -> namespaceLabels.remove(n.getMetadata().getName()));
        inform(client.apps().replicaSets().inAnyNamespace().runnableInformer(0),
                rs -> cache.execute(() -> replicaSetChanged(rs)), rs -> cache.execute(() -> replicaSetDeleted(rs)));
        inform(client.batch().v1().jobs().inAnyNamespace().runnableInformer(0),
                j -> cache.execute(() -> jobChanged(j)), j -> cache.execute(() -> jobDeleted(j)));
        synced = new CompletableFuture<>();
        CompletableFuture.allOf(podsSynced, servicesSynced, nodesSynced).thenRun(() -> cache.execute(() -> {
            // Handlers may still be delivering the initial list: take what the stores hold now (on the
            // writer thread, so any later change arrives after this), so that known pods are never
            // "world" in the moment the cache becomes complete. Re-applying a pod is idempotent.
            for (Pod p : podInformer.getStore().list()) {
                if (!pods.containsKey(p.getMetadata().getUid())) {
                    podChanged(p);
                }
            }
            serviceInformer.getStore().list().forEach(this::serviceChanged);
            nodeInformer.getStore().list().forEach(this::nodeChanged);
            cache.setComplete(true);
            LOG.info("identity: Kubernetes informers synced");
            cache.flush().whenComplete((v, t) -> synced.complete(null)); // after the publish
        }));
    }

    /**
     * Starts the informers on {@code client} feeding {@code cache}, and returns at once. The source
     * is attached to the cache, so closing the cache closes it.
     *
     * @param node       this node's name (reserved for the node-local pod informer; may be null)
     * @param ownsClient close the client when this source closes
     */
    public static KubernetesIdentitySource start(IdentityCache cache, KubernetesClient client, String node, boolean ownsClient) {
        KubernetesIdentitySource s = new KubernetesIdentitySource(cache, client, ownsClient);
        cache.attach(s);
        // the pods on this node: their network namespaces, from /proc and the kubelet's cgroup paths
        cache.attach(PodNetnsScanner.start(Path.of("/proc"), cache, s::podByUid, 5_000));
        return s;
    }

    /** "namespace/name" of the pod with this UID, from the pod informer's store. */
    Optional<String> podByUid(String uid) {
        for (Pod p : podInformer.getStore().list()) {
            if (uid.equals(p.getMetadata().getUid())) {
                return Optional.of(p.getMetadata().getNamespace() + "/" + p.getMetadata().getName());
            }
        }
        return Optional.empty();
    }

    /**
     * A client for {@code kubeconfig}, or, when null, fabric8's auto-configuration ({@code
     * KUBECONFIG}, {@code ~/.kube/config}, or the in-cluster service account).
     */
    public static KubernetesClient client(Path kubeconfig) {
        Config config;
        if (kubeconfig != null) {
            try {
                config = Config.fromKubeconfig(null, Files.readString(kubeconfig), kubeconfig.toString());
            } catch (IOException e) {
                throw new UncheckedIOException("kubeconfig " + kubeconfig + ": " + e.getMessage(), e);
            }
        } else {
            config = Config.autoConfigure(null);
        }
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    /** Completes when Pods, Services and Nodes have been listed once and the cache is complete. */
    public CompletableFuture<Void> synced() {
        return synced;
    }

    /** Errors reported by the informers (API unreachable, watch failures), each followed by a retry. */
    public long apiErrors() {
        return apiErrors.get();
    }

    /** The labels of a namespace as last seen, or null when unknown. */
    public Map<String, String> namespaceLabels(String namespace) {
        return namespaceLabels.get(namespace);
    }

    @Override
    public void close() {
        stopAll(informers);
        if (ownsClient) {
            client.close();
        }
    }

    /** Stops every informer of the list, whatever one of them throws, and empties the list. */
    public static void stopAll(java.util.List<? extends SharedIndexInformer<?>> informers) {
        for (SharedIndexInformer<?> i : informers) {
            try {
                i.stop();
            } catch (RuntimeException e) {
                LOG.debug("stopping informer", e);
            }
        }
        informers.clear();
    }

    private <T extends HasMetadata> CompletableFuture<Void> inform(SharedIndexInformer<T> informer, Consumer<T> changed,
                                                                Consumer<T> deleted) {
        String kind = informer.getApiTypeClass().getSimpleName();
        informer.addEventHandler(new ResourceEventHandler<T>() {
            @Override
            public void onAdd(T obj) {
                changed.accept(obj);
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                changed.accept(newObj);
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                deleted.accept(obj);
            }
        });
        informer.exceptionHandler((started, t) -> {
            long n = apiErrors.incrementAndGet();
            if (n <= 10 || Long.bitCount(n) == 1) {
                LOG.warn("identity: {} informer: {} (retrying; error {})", kind, t.toString(), n);
            }
            return true;
        });
        informers.add(informer);
        return informer.start().toCompletableFuture();
    }

    // ---- writer thread ----

    private void podChanged(Pod pod) {
        String uid = pod.getMetadata().getUid();
        Pod previous = pods.put(uid, pod);
        String oldController = previous == null ? null : controllerUid(previous);
        String controller = controllerUid(pod);
        if (oldController != null && !oldController.equals(controller)) {
            unindex(oldController, uid);
        }
        if (controller != null) {
            podsByController.computeIfAbsent(controller, c -> new LinkedHashSet<>()).add(uid);
        }
        upsertPod(pod);
    }

    private void podDeleted(Pod pod) {
        String uid = pod.getMetadata().getUid();
        Pod previous = pods.remove(uid);
        String controller = controllerUid(previous != null ? previous : pod);
        if (controller != null) {
            unindex(controller, uid);
        }
        cache.remove("pod:" + uid);
    }

    private void unindex(String controller, String podUid) {
        Set<String> s = podsByController.get(controller);
        if (s != null) {
            s.remove(podUid);
            if (s.isEmpty()) {
                podsByController.remove(controller);
            }
        }
    }

    private void upsertPod(Pod pod) {
        var meta = pod.getMetadata();
        List<String> ips = new ArrayList<>(2);
        var spec = pod.getSpec();
        var status = pod.getStatus();
        boolean hostNetwork = spec != null && Boolean.TRUE.equals(spec.getHostNetwork());
        String phase = status == null ? null : status.getPhase();
        boolean finished = "Succeeded".equals(phase) || "Failed".equals(phase);
        if (status != null && !hostNetwork && !finished) {
            if (status.getPodIPs() != null && !status.getPodIPs().isEmpty()) {
                for (PodIP ip : status.getPodIPs()) {
                    if (ip.getIp() != null) {
                        ips.add(ip.getIp());
                    }
                }
            } else if (status.getPodIP() != null) {
                ips.add(status.getPodIP());
            }
        }
        Identity id = Identity.pod(meta.getNamespace(), meta.getName(), workloadOf(pod), labelsOf(pod),
                spec == null ? null : spec.getNodeName());
        cache.upsert("pod:" + meta.getUid(), id, ips, created(pod));
    }

    /** {@code Kind/name} of the pod's top-most known controller; null for a bare pod. */
    String workloadOf(Pod pod) {
        OwnerReference ref = controllerRef(pod);
        if (ref == null) {
            return null;
        }
        switch (ref.getKind()) {
            case "ReplicaSet" -> {
                String w = replicaSetWorkloads.get(ref.getUid());
                if (w != null) {
                    return w;
                }
                String hash = pod.getMetadata().getLabels() == null ? null : pod.getMetadata().getLabels().get(POD_TEMPLATE_HASH);
                if (hash != null && ref.getName().endsWith("-" + hash)) {
                    return "Deployment/" + ref.getName().substring(0, ref.getName().length() - hash.length() - 1);
                }
                return "ReplicaSet/" + ref.getName();
            }
            case "Job" -> {
                String w = jobWorkloads.get(ref.getUid());
                return w != null ? w : "Job/" + ref.getName();
            }
            default -> {
                return ref.getKind() + "/" + ref.getName();
            }
        }
    }

    private void replicaSetChanged(ReplicaSet rs) {
        OwnerReference ref = controllerRef(rs);
        String w = ref != null && "Deployment".equals(ref.getKind()) ? "Deployment/" + ref.getName()
                : "ReplicaSet/" + rs.getMetadata().getName();
        controllerChanged(replicaSetWorkloads, rs.getMetadata().getUid(), w);
    }

    private void replicaSetDeleted(ReplicaSet rs) {
        replicaSetWorkloads.remove(rs.getMetadata().getUid());
    }

    private void jobChanged(Job job) {
        OwnerReference ref = controllerRef(job);
        String w = ref != null && "CronJob".equals(ref.getKind()) ? "CronJob/" + ref.getName()
                : "Job/" + job.getMetadata().getName();
        controllerChanged(jobWorkloads, job.getMetadata().getUid(), w);
    }

    private void jobDeleted(Job job) {
        jobWorkloads.remove(job.getMetadata().getUid());
    }

    private void controllerChanged(Map<String, String> workloads, String uid, String workload) {
        String old = workloads.put(uid, workload);
        if (!workload.equals(old)) {
            Set<String> owned = podsByController.get(uid);
            if (owned != null) {
                for (String podUid : owned) {
                    upsertPod(pods.get(podUid));
                }
            }
        }
    }

    private void serviceChanged(Service s) {
        var spec = s.getSpec();
        Set<String> ips = new LinkedHashSet<>();
        if (spec != null) {
            if (spec.getClusterIPs() != null) {
                ips.addAll(spec.getClusterIPs());
            }
            if (spec.getClusterIP() != null) {
                ips.add(spec.getClusterIP());
            }
        }
        ips.removeIf(ip -> ip == null || ip.isBlank() || "None".equals(ip));
        cache.upsert(ownerKey("svc", s), Identity.service(s.getMetadata().getNamespace(), s.getMetadata().getName()),
                ips, created(s));
    }

    private void nodeChanged(Node n) {
        Set<String> ips = new LinkedHashSet<>();
        if (n.getStatus() != null && n.getStatus().getAddresses() != null) {
            for (NodeAddress a : n.getStatus().getAddresses()) {
                if (("InternalIP".equals(a.getType()) || "ExternalIP".equals(a.getType())) && a.getAddress() != null) {
                    ips.add(a.getAddress());
                }
            }
        }
        cache.upsert(ownerKey("node", n), Identity.host(n.getMetadata().getName()), ips, created(n));
    }

    private static String ownerKey(String kind, HasMetadata o) {
        String uid = o.getMetadata().getUid();
        return kind + ":" + (uid != null ? uid : o.getMetadata().getNamespace() + "/" + o.getMetadata().getName());
    }

    private static OwnerReference controllerRef(HasMetadata o) {
        List<OwnerReference> refs = o.getMetadata().getOwnerReferences();
        if (refs == null) {
            return null;
        }
        for (OwnerReference r : refs) {
            if (Boolean.TRUE.equals(r.getController())) {
                return r;
            }
        }
        return null;
    }

    private static String controllerUid(Pod pod) {
        OwnerReference r = controllerRef(pod);
        return r == null ? null : r.getUid();
    }

    private static Map<String, String> labelsOf(HasMetadata o) {
        Map<String, String> l = o.getMetadata().getLabels();
        return l == null ? Map.of() : l;
    }

    private static long created(HasMetadata o) {
        String t = o.getMetadata().getCreationTimestamp();
        if (t == null) {
            return 0;
        }
        try {
            return Instant.parse(t).toEpochMilli();
        } catch (DateTimeParseException e) {
            return 0;
        }
    }
}
