package dev.droptrace.agent.source.calico;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The policies the Calico translator resolves prefixes and default denies against, from the
 * Kubernetes API with fabric8 informers (list + watch, read only): {@code networking.k8s.io/v1}
 * NetworkPolicies and Calico's {@code crd.projectcalico.org/v1} NetworkPolicies and
 * GlobalNetworkPolicies. Staged policies are left out: Felix never programs them, so no NFLOG prefix
 * names them ({@code specs/calico-nflog.md} §0 finding 6).
 *
 * <p>Informer callbacks only update maps and ask for a rebuild; a single rebuild thread coalesces a
 * burst (the initial list of a thousand policies is one rebuild, not a thousand) into a new
 * {@link KnownPolicies}, built there (prefix hashing costs SHA-256 per rule) and published with one
 * volatile write. {@link #get()} is that volatile read, for the journal writer.
 *
 * <p>Calico's CRDs may be absent (another CNI, or Calico without them): the API answers 404, which
 * is logged once and retried quietly by the informer's backoff, so the agent starts either way and
 * picks the policies up if the CRDs appear. Errors never fail the agent.
 */
public final class KubernetesPolicySource implements Supplier<KnownPolicies>, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KubernetesPolicySource.class);
    /** How long a burst of informer events may grow before the snapshot is rebuilt. */
    static final long REBUILD_DELAY_MS = 100;

    /** Calico's namespaced NetworkPolicy CRD. */
    public static final ResourceDefinitionContext CALICO_NETWORK_POLICIES = new ResourceDefinitionContext.Builder()
            .withGroup("crd.projectcalico.org").withVersion("v1").withPlural("networkpolicies")
            .withKind("NetworkPolicy").withNamespaced(true).build();
    /** Calico's cluster-wide GlobalNetworkPolicy CRD. */
    public static final ResourceDefinitionContext CALICO_GLOBAL_NETWORK_POLICIES = new ResourceDefinitionContext.Builder()
            .withGroup("crd.projectcalico.org").withVersion("v1").withPlural("globalnetworkpolicies")
            .withKind("GlobalNetworkPolicy").withNamespaced(false).build();

    private final KubernetesClient client;
    private final boolean ownsClient;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    private final Map<String, NetworkPolicy> networkPolicies = new ConcurrentHashMap<>();
    private final Map<String, GenericKubernetesResource> calicoPolicies = new ConcurrentHashMap<>();
    private final Map<String, GenericKubernetesResource> globalPolicies = new ConcurrentHashMap<>();
    private final ScheduledExecutorService rebuilder;
    private final AtomicBoolean rebuildPending = new AtomicBoolean();
    private final AtomicLong apiErrors = new AtomicLong();
    private final Map<String, Boolean> absent = new ConcurrentHashMap<>();
    private final CompletableFuture<Void> synced = new CompletableFuture<>();
    private volatile KnownPolicies snapshot = KnownPolicies.EMPTY;
    private volatile boolean networkPoliciesSynced;
    private long version;

    private KubernetesPolicySource(KubernetesClient client, boolean ownsClient) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.rebuilder = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform()
                .name("calico-policies").daemon(true).unstarted(r));
    }

    /**
     * Starts the informers on {@code client} and returns at once; policies appear in {@link #get()}
     * as the API answers. Close it to stop the informers (and the client when {@code ownsClient}).
     */
    public static KubernetesPolicySource start(KubernetesClient client, boolean ownsClient) {
        KubernetesPolicySource s = new KubernetesPolicySource(client, ownsClient);
        try {
            s.startInformers();
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private void startInformers() {
        CompletableFuture<Void> npSynced = inform("NetworkPolicy",
                client.network().v1().networkPolicies().inAnyNamespace().runnableInformer(0), networkPolicies);
        inform("crd.projectcalico.org NetworkPolicy",
                client.genericKubernetesResources(CALICO_NETWORK_POLICIES).inAnyNamespace().runnableInformer(0),
                calicoPolicies);
        inform("crd.projectcalico.org GlobalNetworkPolicy",
                client.genericKubernetesResources(CALICO_GLOBAL_NETWORK_POLICIES).runnableInformer(0), globalPolicies);
        npSynced.whenComplete((v, t) -> {
            if (t != null) return;
            networkPoliciesSynced = true;
            // publish what the list returned before saying so
            rebuilder.execute(() -> {
                rebuild();
                synced.complete(null);
            });
        });
    }

    private <T extends HasMetadata> CompletableFuture<Void> inform(String what, SharedIndexInformer<T> informer,
                                                                   Map<String, T> into) {
        informer.addEventHandler(new ResourceEventHandler<T>() {
            @Override
            public void onAdd(T obj) {
                into.put(key(obj), obj);
                requestRebuild();
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                into.remove(key(oldObj));
                into.put(key(newObj), newObj);
                requestRebuild();
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                into.remove(key(obj));
                requestRebuild();
            }
        });
        informer.exceptionHandler((started, t) -> {
            apiErrors.incrementAndGet();
            if (t instanceof KubernetesClientException k && k.getCode() == 404) {
                if (absent.put(what, Boolean.TRUE) == null) {
                    LOG.info("calico policies: {} is not served by the API (CRD absent); retrying in the background", what);
                }
            } else {
                long n = apiErrors.get();
                if (n <= 10 || Long.bitCount(n) == 1) {
                    LOG.warn("calico policies: {} informer: {} (retrying; error {})", what, t.toString(), n);
                }
            }
            return true;
        });
        informers.add(informer);
        CompletableFuture<Void> f = informer.start().toCompletableFuture();
        f.whenComplete((v, t) -> {
            if (t == null) absent.remove(what);
        });
        return f;
    }

    private static String key(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return (ns == null ? "" : ns) + "/" + o.getMetadata().getName();
    }

    private void requestRebuild() {
        if (rebuildPending.compareAndSet(false, true)) {
            try {
                rebuilder.schedule(this::rebuild, REBUILD_DELAY_MS, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                rebuildPending.set(false); // closed
            }
        }
    }

    /** Rebuild thread only. */
    private void rebuild() {
        rebuildPending.set(false);
        try {
            KnownPolicies k = KnownPolicies.from(++version, List.copyOf(networkPolicies.values()),
                    List.copyOf(calicoPolicies.values()), List.copyOf(globalPolicies.values()));
            snapshot = k;
        } catch (RuntimeException e) {
            apiErrors.incrementAndGet();
            LOG.warn("calico policies: snapshot not rebuilt: {}", e.toString());
        }
    }

    /** The current snapshot; a volatile read, never null. */
    @Override
    public KnownPolicies get() {
        return snapshot;
    }

    /** Completes once the Kubernetes NetworkPolicies have been listed and published (the CRDs may still be absent). */
    public CompletableFuture<Void> synced() {
        return synced;
    }

    /** Informer errors (API unreachable, CRD absent), each followed by a retry. */
    public long apiErrors() {
        return apiErrors.get();
    }

    /** For {@code status -o json}. */
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        KnownPolicies k = snapshot;
        m.put("network_policies_synced", networkPoliciesSynced);
        m.put("network_policies", networkPolicies.size());
        m.put("calico_network_policies", calicoPolicies.size());
        m.put("calico_global_network_policies", globalPolicies.size());
        m.put("snapshot_version", k.version());
        m.put("api_errors", apiErrors.get());
        m.put("absent", List.copyOf(absent.keySet()));
        return m;
    }

    @Override
    public void close() {
        dev.droptrace.agent.identity.KubernetesIdentitySource.stopAll(informers);
        rebuilder.shutdownNow();
        if (ownsClient) {
            client.close();
        }
    }
}
