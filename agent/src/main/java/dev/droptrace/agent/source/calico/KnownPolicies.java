package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One immutable snapshot of the policies the Kubernetes and Calico APIs hold, as the Calico
 * translator needs them: a {@link CalicoPrefixResolver} over every policy (so hashed NFLOG prefixes
 * resolve, {@code specs/calico-nflog.md} §3.5) and the Kubernetes NetworkPolicies by namespace (so a
 * default deny can name the policies that isolate a pod). Built off the writer thread whenever the
 * policy set changes and published whole (copy-on-write); readers never lock. {@link #version()}
 * grows with every snapshot, so a reader notices a new one with one comparison.
 */
public final class KnownPolicies {

    /**
     * A Kubernetes NetworkPolicy as far as isolation goes: whom it selects and in which directions
     * ({@code policyTypes} after Kubernetes' defaulting).
     */
    public record NetworkPolicyEntry(String namespace, String name, LabelSelector podSelector, boolean ingress,
                                     boolean egress) {
        /** Whether this policy isolates a pod with these labels in {@code namespace} for {@code direction}. */
        public boolean isolates(String podNamespace, Map<String, String> labels, Direction direction) {
            boolean types = direction == Direction.INGRESS ? ingress : direction == Direction.EGRESS && egress;
            return types && namespace.equals(podNamespace) && podSelector.matches(labels);
        }
    }

    /** No policies: hashed prefixes stay unresolved and no pod is isolated. */
    public static final KnownPolicies EMPTY = new KnownPolicies(0, List.of(), List.of());

    private static final Comparator<NetworkPolicyEntry> BY_NAME =
            Comparator.comparing(NetworkPolicyEntry::namespace).thenComparing(NetworkPolicyEntry::name);

    private final long version;
    private final CalicoPrefixResolver resolver;
    private final Map<String, List<NetworkPolicyEntry>> byNamespace;
    private final int calicoPolicies;
    private final int networkPolicies;
    /** "kind/namespace/name" (namespace empty for cluster kinds) -> tier. */
    private final Map<String, String> tiers;

    private KnownPolicies(long version, List<NetworkPolicyEntry> networkPolicies,
                          List<CalicoPrefixResolver.KnownPolicy> policies) {
        this.version = version;
        Set<String> tiers = new TreeSet<>();
        tiers.add("default");
        for (CalicoPrefixResolver.KnownPolicy p : policies) {
            if (p.tier() != null) tiers.add(p.tier());
        }
        this.resolver = new CalicoPrefixResolver(policies, List.copyOf(tiers));
        Map<String, List<NetworkPolicyEntry>> m = new HashMap<>();
        for (NetworkPolicyEntry e : networkPolicies) {
            m.computeIfAbsent(e.namespace(), k -> new ArrayList<>()).add(e);
        }
        m.replaceAll((ns, l) -> l.stream().sorted(BY_NAME).toList());
        this.byNamespace = Map.copyOf(m);
        this.networkPolicies = networkPolicies.size();
        this.calicoPolicies = policies.size();
        Map<String, String> t = new HashMap<>();
        for (CalicoPrefixResolver.KnownPolicy p : policies) {
            if (p.tier() != null) t.put(tierKey(p.kind(), p.namespace(), p.name()), p.tier());
        }
        this.tiers = Map.copyOf(t);
    }

    private static String tierKey(String kind, String namespace, String name) {
        return kind + "/" + (namespace == null ? "" : namespace) + "/" + name;
    }

    /**
     * The tier of a known policy by the short kind of its prefix ({@code np}, {@code gnp}, {@code knp}),
     * namespace (null for cluster kinds) and name; Kubernetes NetworkPolicies are in tier default.
     * Null when the policy is unknown.
     */
    public String tierOf(String kind, String namespace, String name) {
        if ("knp".equals(kind)) return "default";
        return tiers.get(tierKey(kind, namespace, name));
    }

    /**
     * A snapshot of these policies. {@code networkPolicies} are the Kubernetes NetworkPolicies for
     * isolation; {@code policies} every policy for prefix resolution (Kubernetes ones as kind "knp").
     */
    public static KnownPolicies of(long version, Collection<NetworkPolicyEntry> networkPolicies,
                                   Collection<CalicoPrefixResolver.KnownPolicy> policies) {
        return new KnownPolicies(version, List.copyOf(networkPolicies), List.copyOf(policies));
    }

    /** A snapshot of Kubernetes NetworkPolicies and Calico (Global)NetworkPolicies as the API returns them. */
    public static KnownPolicies from(long version, Collection<NetworkPolicy> networkPolicies,
                                     Collection<GenericKubernetesResource> calicoNetworkPolicies,
                                     Collection<GenericKubernetesResource> globalNetworkPolicies) {
        List<NetworkPolicyEntry> entries = new ArrayList<>();
        List<CalicoPrefixResolver.KnownPolicy> known = new ArrayList<>();
        for (NetworkPolicy np : networkPolicies) {
            entries.add(entry(np));
            known.add(known(np));
        }
        for (GenericKubernetesResource r : calicoNetworkPolicies) {
            known.addAll(calico(r, "np"));
        }
        for (GenericKubernetesResource r : globalNetworkPolicies) {
            known.addAll(calico(r, "gnp"));
        }
        return new KnownPolicies(version, entries, known);
    }

    public long version() {
        return version;
    }

    public CalicoPrefixResolver resolver() {
        return resolver;
    }

    /** How many Kubernetes NetworkPolicies and how many policies in all (for status). */
    public int networkPolicyCount() {
        return networkPolicies;
    }

    public int policyCount() {
        return calicoPolicies;
    }

    /**
     * The Kubernetes NetworkPolicies that isolate a pod (namespace and labels) in a direction: those
     * of its namespace whose podSelector selects it and whose policy types include the direction.
     * Sorted by name; empty when none (the pod is not isolated: everything is allowed that way).
     */
    public List<NetworkPolicyEntry> isolating(String namespace, Map<String, String> labels, Direction direction) {
        List<NetworkPolicyEntry> all = namespace == null ? null : byNamespace.get(namespace);
        if (all == null) {
            return List.of();
        }
        List<NetworkPolicyEntry> out = new ArrayList<>();
        for (NetworkPolicyEntry e : all) {
            if (e.isolates(namespace, labels, direction)) out.add(e);
        }
        return out;
    }

    // ---- conversions -------------------------------------------------------------------------

    /**
     * Isolation facts of a Kubernetes NetworkPolicy. Without {@code policyTypes} Kubernetes defaults to
     * Ingress, plus Egress when the policy has egress rules ({@code pkg/apis/networking/v1/defaults.go});
     * the API server writes that default, but a policy read from elsewhere may lack it.
     */
    public static NetworkPolicyEntry entry(NetworkPolicy np) {
        var spec = np.getSpec();
        List<String> types = spec == null || spec.getPolicyTypes() == null ? List.of() : spec.getPolicyTypes();
        boolean ingress;
        boolean egress;
        if (types.isEmpty()) {
            ingress = true;
            egress = spec != null && spec.getEgress() != null && !spec.getEgress().isEmpty();
        } else {
            ingress = types.stream().anyMatch("Ingress"::equalsIgnoreCase);
            egress = types.stream().anyMatch("Egress"::equalsIgnoreCase);
        }
        return new NetworkPolicyEntry(np.getMetadata().getNamespace(), np.getMetadata().getName(),
                LabelSelector.of(spec == null ? null : spec.getPodSelector()), ingress, egress);
    }

    /**
     * A Kubernetes NetworkPolicy as Calico renders it (kind knp, tier default) with its Calico rule
     * counts: each Kubernetes rule becomes (distinct protocols of its ports) x (peers, at least one)
     * Calico rules, a port without protocol being TCP and a port with neither port nor protocol
     * allowing all ({@code k8sRuleToCalico} in libcalico-go's conversion.go, §3.3).
     */
    public static CalicoPrefixResolver.KnownPolicy known(NetworkPolicy np) {
        var spec = np.getSpec();
        int in = 0;
        int out = 0;
        if (spec != null && spec.getIngress() != null) {
            for (NetworkPolicyIngressRule r : spec.getIngress()) {
                in += calicoRules(r.getFrom() == null ? 0 : r.getFrom().size(), r.getPorts());
            }
        }
        if (spec != null && spec.getEgress() != null) {
            for (NetworkPolicyEgressRule r : spec.getEgress()) {
                out += calicoRules(r.getTo() == null ? 0 : r.getTo().size(), r.getPorts());
            }
        }
        return new CalicoPrefixResolver.KnownPolicy("knp", np.getMetadata().getNamespace(), np.getMetadata().getName(),
                "default", in, out);
    }

    static int calicoRules(int peers, List<NetworkPolicyPort> ports) {
        Set<String> protocols = new HashSet<>();
        if (ports == null || ports.isEmpty()) {
            protocols.add("");
        } else {
            for (NetworkPolicyPort p : ports) {
                if (p.getPort() == null && p.getProtocol() == null) {
                    protocols.clear();
                    protocols.add("");
                    break;
                }
                protocols.add(p.getProtocol() == null ? "TCP" : p.getProtocol());
            }
        }
        return protocols.size() * Math.max(1, peers);
    }

    /**
     * A Calico NetworkPolicy ({@code kind} "np") or GlobalNetworkPolicy ("gnp") from its
     * {@code crd.projectcalico.org/v1} resource: tier from {@code spec.tier} ("default" when absent),
     * rule counts from {@code spec.ingress} and {@code spec.egress}. The CRD may hold a default-tier
     * policy under its tiered name {@code default.<name>}; both spellings are returned, so either
     * id format resolves.
     */
    public static List<CalicoPrefixResolver.KnownPolicy> calico(GenericKubernetesResource r, String kind) {
        Object specObj = r.getAdditionalProperties().get("spec");
        Map<?, ?> spec = specObj instanceof Map<?, ?> m ? m : Map.of();
        String tier = spec.get("tier") instanceof String t && !t.isEmpty() ? t : "default";
        int in = spec.get("ingress") instanceof List<?> l ? l.size() : 0;
        int out = spec.get("egress") instanceof List<?> l ? l.size() : 0;
        String ns = "np".equals(kind) ? r.getMetadata().getNamespace() : null;
        String name = r.getMetadata().getName();
        Set<String> names = new LinkedHashSet<>();
        names.add(name);
        if (tier.equals("default") && name.startsWith("default.")) {
            names.add(name.substring("default.".length()));
        }
        List<CalicoPrefixResolver.KnownPolicy> list = new ArrayList<>();
        for (String n : names) list.add(new CalicoPrefixResolver.KnownPolicy(kind, ns, n, tier, in, out));
        return list;
    }
}
