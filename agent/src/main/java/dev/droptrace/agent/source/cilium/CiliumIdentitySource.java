package dev.droptrace.agent.source.cilium;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Feeds a {@link CiliumIdentityTable} from the Kubernetes API: fabric8 informers (list + watch, read
 * only) over {@code cilium.io/v2} {@code CiliumIdentity} (cluster-scoped; name = numeric identity,
 * top-level {@code security-labels}) and {@code CiliumEndpoint} (namespaced; name = pod;
 * {@code status.id}, {@code status.identity.{id,labels}}, {@code status.networking.{addressing,node}}),
 * read as {@link GenericKubernetesResource}s with explicit resource contexts, so no API discovery
 * is needed.
 *
 * <p>The CRDs may be absent (no Cilium, kvstore identity mode, {@code disable-endpoint-crd}): a 404
 * does not fail anything. The informer is counted as "absent", counts towards {@link #synced()}, and
 * keeps retrying in the background (fabric8's backoff) in case the CRD is installed later. Other API
 * errors are counted and retried too. {@link #start} never blocks.
 */
public final class CiliumIdentitySource implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CiliumIdentitySource.class);

    /** {@code ciliumidentities.cilium.io/v2}, cluster-scoped. */
    public static final ResourceDefinitionContext CILIUM_IDENTITY = new ResourceDefinitionContext.Builder()
            .withGroup("cilium.io").withVersion("v2").withKind("CiliumIdentity").withPlural("ciliumidentities")
            .withNamespaced(false).build();
    /** {@code ciliumendpoints.cilium.io/v2}, namespaced. */
    public static final ResourceDefinitionContext CILIUM_ENDPOINT = new ResourceDefinitionContext.Builder()
            .withGroup("cilium.io").withVersion("v2").withKind("CiliumEndpoint").withPlural("ciliumendpoints")
            .withNamespaced(true).build();

    private final CiliumIdentityTable table;
    private final KubernetesClient client;
    private final boolean ownsClient;
    private final List<SharedIndexInformer<GenericKubernetesResource>> informers = new ArrayList<>();
    private final AtomicLong apiErrors = new AtomicLong();
    private final AtomicLong malformed = new AtomicLong();
    private final AtomicBoolean identitiesAbsent = new AtomicBoolean();
    private final AtomicBoolean endpointsAbsent = new AtomicBoolean();
    private final CompletableFuture<Void> synced;

    private CiliumIdentitySource(KubernetesClient client, CiliumIdentityTable table, boolean ownsClient) {
        this.client = client;
        this.table = table;
        this.ownsClient = ownsClient;
        CompletableFuture<Void> identitiesReady = inform(client.genericKubernetesResources(CILIUM_IDENTITY).runnableInformer(0),
                "CiliumIdentity", identitiesAbsent, this::identityChanged,
                r -> table.removeIdentity(r.getMetadata().getName()));
        CompletableFuture<Void> endpointsReady = inform(client.genericKubernetesResources(CILIUM_ENDPOINT).inAnyNamespace()
                        .runnableInformer(0), "CiliumEndpoint", endpointsAbsent, this::endpointChanged,
                r -> table.removeEndpoint(r.getMetadata().getNamespace(), r.getMetadata().getName()));
        synced = CompletableFuture.allOf(identitiesReady, endpointsReady).thenCompose(v -> table.flush());
    }

    /**
     * Starts the two informers on {@code client} feeding {@code table}, and returns at once.
     *
     * @param ownsClient close the client when this source closes
     */
    public static CiliumIdentitySource start(KubernetesClient client, CiliumIdentityTable table, boolean ownsClient) {
        return new CiliumIdentitySource(client, table, ownsClient);
    }

    /**
     * Completes when both resources have been listed once (or found absent) and the table shows
     * what was listed. Never completes exceptionally.
     */
    public CompletableFuture<Void> synced() {
        return synced;
    }

    /** Whether the last answer for CiliumIdentity objects was a 404 (CRD not installed). */
    public boolean identitiesAbsent() {
        return identitiesAbsent.get();
    }

    /** Whether the last answer for CiliumEndpoint objects was a 404. */
    public boolean endpointsAbsent() {
        return endpointsAbsent.get();
    }

    /** API errors reported by the informers other than 404 (each followed by a retry). */
    public long apiErrors() {
        return apiErrors.get();
    }

    /** Objects whose fields could not be read (skipped). */
    public long malformed() {
        return malformed.get();
    }

    private CompletableFuture<Void> inform(SharedIndexInformer<GenericKubernetesResource> informer, String kind,
                                           AtomicBoolean absent, Consumer<GenericKubernetesResource> changed,
                                           Consumer<GenericKubernetesResource> deleted) {
        CompletableFuture<Void> ready = new CompletableFuture<>();
        informer.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(GenericKubernetesResource obj) {
                apply(changed, obj);
            }

            @Override
            public void onUpdate(GenericKubernetesResource oldObj, GenericKubernetesResource newObj) {
                apply(changed, newObj);
            }

            @Override
            public void onDelete(GenericKubernetesResource obj, boolean deletedFinalStateUnknown) {
                apply(deleted, obj);
            }
        });
        informer.exceptionHandler((started, t) -> {
            if (isNotFound(t)) {
                if (absent.compareAndSet(false, true)) {
                    LOG.info("cilium identities: no {} resource in the API (CRD not installed); checking again in the background", kind);
                }
                ready.complete(null);
            } else {
                long n = apiErrors.incrementAndGet();
                if (n <= 10 || Long.bitCount(n) == 1) {
                    LOG.warn("cilium identities: {} informer: {} (retrying; error {})", kind, t.toString(), n);
                }
            }
            return true;
        });
        informers.add(informer);
        informer.start().whenComplete((v, t) -> {
            if (t == null) {
                absent.set(false);
            }
            ready.complete(null);
        });
        return ready;
    }

    private void apply(Consumer<GenericKubernetesResource> c, GenericKubernetesResource r) {
        try {
            c.accept(r);
        } catch (RuntimeException e) { // a malformed object must not stop the informer
            malformed.incrementAndGet();
            LOG.debug("cilium identities: skipped {}: {}", r.getMetadata() == null ? "?" : r.getMetadata().getName(), e.toString());
        }
    }

    private static boolean isNotFound(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof KubernetesClientException k && k.getCode() == 404) {
                return true;
            }
        }
        return false;
    }

    private void identityChanged(GenericKubernetesResource r) {
        table.upsertIdentity(r.getMetadata().getName(), stringMap(r.getAdditionalProperties().get("security-labels")),
                r.getMetadata().getLabels());
    }

    private void endpointChanged(GenericKubernetesResource r) {
        Map<?, ?> status = r.getAdditionalProperties().get("status") instanceof Map<?, ?> m ? m : Map.of();
        Map<?, ?> identity = status.get("identity") instanceof Map<?, ?> m ? m : Map.of();
        Map<?, ?> networking = status.get("networking") instanceof Map<?, ?> m ? m : Map.of();
        List<String> addresses = new ArrayList<>(2);
        if (networking.get("addressing") instanceof List<?> l) {
            for (Object o : l) {
                if (o instanceof Map<?, ?> a) {
                    if (a.get("ipv4") instanceof String s) addresses.add(s);
                    if (a.get("ipv6") instanceof String s) addresses.add(s);
                }
            }
        }
        List<String> labels = new ArrayList<>();
        if (identity.get("labels") instanceof List<?> l) {
            for (Object o : l) {
                if (o instanceof String s) labels.add(s);
            }
        }
        table.upsertEndpoint(r.getMetadata().getNamespace(), r.getMetadata().getName(), number(identity.get("id")),
                number(status.get("id")), networking.get("node") instanceof String s ? s : null, addresses, labels);
    }

    private static long number(Object o) {
        if (o instanceof Number n) return n.longValue();
        if (o instanceof String s) {
            try {
                return Long.parseLong(s.strip());
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return 0;
    }

    private static Map<String, String> stringMap(Object o) {
        if (!(o instanceof Map<?, ?> m)) {
            return Map.of();
        }
        Map<String, String> out = new java.util.HashMap<>();
        m.forEach((k, v) -> {
            if (k != null) out.put(k.toString(), v == null ? "" : v.toString());
        });
        return out;
    }

    /** Stops the informers (and the client when owned). The table keeps its last snapshot. */
    @Override
    public void close() {
        dev.droptrace.agent.identity.KubernetesIdentitySource.stopAll(informers);
        if (ownsClient) {
            client.close();
        }
    }
}
