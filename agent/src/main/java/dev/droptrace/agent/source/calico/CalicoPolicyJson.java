package dev.droptrace.agent.source.calico;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.PolicyRef;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The POLICY dictionary texts of Calico events and default-deny attributions (the event's
 * {@code policy} object). Keys come in the journal's schema order ({@code name, namespace, kind, tier,
 * action}) followed by Calico's extras; absent values are left out.
 *
 * <pre>
 * rule hit         {"name","namespace","kind","tier","action","direction","rule_index","prefix"}
 * unresolved hash  {"kind"?,"tier"?,"action","direction","rule_index"?,"prefix","hash"}      (no name)
 * end of tier      {"tier","action","direction","prefix"}
 * default deny     {"name","namespace","kind":"NetworkPolicy","tier"?,"action":"deny","direction",
 *                   "default_deny":true,"isolated_by":[{"namespace","name"},...],"prefix"?}
 * end of profiles  {"kind":"Profile","tier":"__PROFILE__","action":"deny","direction","prefix"}
 * unknown prefix   {"direction","prefix"}
 * </pre>
 *
 * {@code kind} is the resource kind a user looks up: {@code NetworkPolicy} (Kubernetes,
 * networking.k8s.io), {@code CalicoNetworkPolicy} and {@code GlobalNetworkPolicy}
 * (projectcalico.org), their staged forms, {@code Profile}, {@code ClusterNetworkPolicy},
 * {@code AdminNetworkPolicy}, {@code BaselineAdminNetworkPolicy}, {@code OpenStackSecurityGroup}.
 * Built once per distinct text and interned, never per packet.
 */
public final class CalicoPolicyJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private CalicoPolicyJson() {
    }

    /** The resource kind for Calico's short kind (knp, np, gnp, ...); the short kind itself when unknown. */
    public static String kindName(String shortKind) {
        if (shortKind == null) {
            return null;
        }
        return switch (shortKind) {
            case "knp" -> "NetworkPolicy";
            case "np" -> "CalicoNetworkPolicy";
            case "gnp" -> "GlobalNetworkPolicy";
            case "snp" -> "StagedNetworkPolicy";
            case "sgnp" -> "StagedGlobalNetworkPolicy";
            case "sknp" -> "StagedKubernetesNetworkPolicy";
            case "kcnp" -> "ClusterNetworkPolicy";
            case "kanp" -> "AdminNetworkPolicy";
            case "kbanp" -> "BaselineAdminNetworkPolicy";
            case "ossg" -> "OpenStackSecurityGroup";
            case CalicoPrefix.PROFILE_KIND -> "Profile";
            default -> shortKind;
        };
    }

    /**
     * The policy of an NFLOG record that is not a default deny: a rule hit, an end of tier (pass), an
     * end of profiles, or an unknown prefix. {@code direction} is the record's (from the prefix, else
     * the group).
     */
    public static String of(CalicoPrefix prefix, Direction direction) {
        return of(prefix, direction, null);
    }

    /** As {@link #of(CalicoPrefix, Direction)}, with the tier from the API where the prefix has none. */
    public static String of(CalicoPrefix prefix, Direction direction, String tierFromApi) {
        Map<String, Object> m = new LinkedHashMap<>();
        PolicyRef p = prefix.policy();
        if (p != null) {
            put(m, "name", p.name());
            put(m, "namespace", p.namespace());
            put(m, "kind", kindName(p.kind()));
            put(m, "tier", p.tier() != null ? p.tier() : tierFromApi);
            put(m, "action", p.action());
        }
        put(m, "direction", direction == Direction.UNKNOWN ? null : direction.jsonName());
        if (prefix.type() == CalicoPrefix.Type.RULE && prefix.ruleIndex() >= 0) {
            m.put("rule_index", prefix.ruleIndex());
        }
        m.put("prefix", prefix.raw());
        if (unresolvedHash(prefix)) {
            m.put("hash", hashPart(prefix.raw()));
        }
        return write(m);
    }

    /**
     * A default deny: the packet hit the end of a tier (NFLOG, {@code prefix} non-null) or a kernel
     * NETFILTER_DROP between pods ({@code prefix} null), and {@code isolatedBy} (sorted, may be empty)
     * are the Kubernetes NetworkPolicies that select the pod in that direction. The first names the
     * event; all are listed.
     */
    public static String defaultDeny(Direction direction, List<KnownPolicies.NetworkPolicyEntry> isolatedBy,
                                     CalicoPrefix prefix) {
        Map<String, Object> m = new LinkedHashMap<>();
        String tier = prefix != null && prefix.policy() != null ? prefix.policy().tier() : null;
        if (!isolatedBy.isEmpty()) {
            KnownPolicies.NetworkPolicyEntry first = isolatedBy.getFirst();
            m.put("name", first.name());
            m.put("namespace", first.namespace());
            m.put("kind", kindName("knp"));
        }
        put(m, "tier", tier);
        m.put("action", "deny");
        put(m, "direction", direction == Direction.UNKNOWN ? null : direction.jsonName());
        m.put("default_deny", true);
        if (!isolatedBy.isEmpty()) {
            List<Map<String, String>> list = new ArrayList<>();
            for (KnownPolicies.NetworkPolicyEntry e : isolatedBy) {
                Map<String, String> x = new LinkedHashMap<>();
                x.put("namespace", e.namespace());
                x.put("name", e.name());
                list.add(x);
            }
            m.put("isolated_by", list);
        }
        if (prefix != null) {
            m.put("prefix", prefix.raw());
            if (unresolvedHash(prefix)) m.put("hash", hashPart(prefix.raw()));
        }
        return write(m);
    }

    /** A hashed prefix no known policy hashes to: the resolver left its name (or tier) unknown. */
    static boolean unresolvedHash(CalicoPrefix prefix) {
        if (!prefix.hashed() || prefix.type() == CalicoPrefix.Type.UNKNOWN) return false;
        PolicyRef p = prefix.policy();
        return p == null || (p.name() == null && p.tier() == null)
                || (prefix.type() == CalicoPrefix.Type.RULE && p.name() == null);
    }

    /** The 41 base64url characters between the underscores of a hashed prefix (§3.5). */
    static String hashPart(String raw) {
        return raw.length() == CalicoPrefix.MAX_LENGTH ? raw.substring(11, 52) : raw;
    }

    private static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) m.put(k, v);
    }

    private static String write(Object o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final String[] HOOKS = {"prerouting", "input", "forward", "output", "postrouting"};

    /**
     * The {@code calico} object of an event (DETAIL record): NFLOG group, netfilter hook, the packet
     * mark in hex when logged, and the input and output interfaces (ifindex, and the name when the
     * agent's network namespace has it: the node's, where it runs).
     */
    public static String detail(int group, int hook, boolean hasMark, int mark, int in, String indev, int out,
                                String outdev) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("group", group);
        m.put("hook", hook >= 0 && hook < HOOKS.length ? HOOKS[hook] : Integer.toString(hook));
        if (hasMark) m.put("mark", "0x" + Integer.toHexString(mark));
        if (in != 0) m.put("indev_ifindex", in);
        put(m, "indev", indev);
        if (out != 0) m.put("outdev_ifindex", out);
        put(m, "outdev", outdev);
        return write(m);
    }
}
