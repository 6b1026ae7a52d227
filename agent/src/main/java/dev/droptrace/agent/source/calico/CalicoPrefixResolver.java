package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.PolicyRef;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Maps prefixes back to known policies, the way Felix's policy lookup cache does
 * ({@code specs/calico-nflog.md} §0 finding 4, §3.5): for every known policy it builds the raw prefix
 * of every rule, in both id formats, for each action letter, hashes those of 63 characters or more
 * and remembers which policy each hash stands for. It also knows each policy's tier, which v3.32 ids
 * leave out. Tiers with long names get their end-of-tier prefixes hashed the same way.
 *
 * <p>Built once per change of the policy set (allocates); {@link #resolve} then only reads maps.
 * Immutable and thread-safe after construction.
 */
public final class CalicoPrefixResolver {

    /**
     * A policy as known from the Kubernetes or Calico API.
     *
     * @param kind         Calico's short kind: knp, np, gnp, kcnp, kanp, kbanp (staged kinds are never logged)
     * @param namespace    namespace of namespaced kinds, else null
     * @param name         {@code metadata.name}
     * @param tier         the policy's tier ("default" for Kubernetes policies)
     * @param ingressRules number of Calico ingress rules (after conversion, §3.3)
     * @param egressRules  number of Calico egress rules
     */
    public record KnownPolicy(String kind, String namespace, String name, String tier, int ingressRules,
                              int egressRules) {
    }

    private static final char[] ACTIONS = {'A', 'D', 'P'};

    private final Map<String, CalicoPrefix> hashed = new HashMap<>();
    private final Map<String, String> tiers = new HashMap<>();

    public CalicoPrefixResolver(List<KnownPolicy> policies, List<String> tierNames) {
        for (KnownPolicy p : policies) {
            tiers.put(key(p.kind(), p.namespace(), p.name()), p.tier());
            String v332 = CalicoPrefix.idV332(p.kind(), p.namespace(), p.name());
            String v330 = CalicoPrefix.idV330(p.kind(), p.namespace(), p.name(), p.tier());
            for (Direction d : new Direction[] {Direction.INGRESS, Direction.EGRESS}) {
                int rules = d == Direction.INGRESS ? p.ingressRules() : p.egressRules();
                for (int i = 0; i < rules; i++) {
                    for (char a : ACTIONS) {
                        remember(CalicoPrefix.ruleHit(a, 'P', d, i, v332), p);
                        remember(CalicoPrefix.ruleHit(a, 'P', d, i, v330), p);
                    }
                }
            }
        }
        for (String tier : tierNames) {
            for (String head : new String[] {"DPI|", "DPE|", "PPI|", "PPE|"}) {
                remember(head + tier, new KnownPolicy(null, null, null, tier, 0, 0));
            }
        }
    }

    private void remember(String raw, KnownPolicy p) {
        if (raw.length() < CalicoPrefix.MAX_LENGTH) {
            return;
        }
        String h = CalicoPrefix.hash(raw);
        CalicoPrefix parsed = CalicoPrefix.parse(raw);
        if (parsed.policy() == null) {
            return;
        }
        // the known policy names itself exactly; the parse only adds action, direction, index, format
        PolicyRef ref = new PolicyRef(p.name(), p.namespace(), p.kind(), p.tier(), parsed.policy().action());
        hashed.put(h, new CalicoPrefix(h, parsed.type(), ref, parsed.direction(), parsed.ruleIndex(), parsed.format(),
                true));
    }

    /**
     * Completes a parsed prefix: a hashed one becomes the known policy it stands for (its raw prefix
     * stays the hashed text), or is returned unchanged when no known policy hashes to it; an unhashed
     * rule hit without a tier gets the known policy's tier.
     */
    public CalicoPrefix resolve(CalicoPrefix prefix) {
        if (prefix.hashed()) {
            CalicoPrefix known = hashed.get(prefix.raw());
            return known != null ? known : prefix;
        }
        if (prefix.type() == CalicoPrefix.Type.RULE && prefix.policy() != null && prefix.policy().tier() == null) {
            String tier = tiers.get(key(prefix.policy().kind(), prefix.policy().namespace(), prefix.policy().name()));
            return tier != null ? prefix.withTier(tier) : prefix;
        }
        return prefix;
    }

    /** How many hashed prefixes this resolver can map back. */
    public int hashedCount() {
        return hashed.size();
    }

    private static String key(String kind, String namespace, String name) {
        return kind + "/" + (namespace == null ? "" : namespace) + "/" + name;
    }
}
