package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.PolicyRef;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/**
 * One Calico NFLOG prefix mapped back to its fields ({@code specs/calico-nflog.md} §3.3-§3.6).
 *
 * <pre>
 * prefix     := ruleHit | tierEnd | profileEnd
 * ruleHit    := ACTION OWNER DIR INDEX "|" ID     API0|knp/default/allow-web
 * tierEnd    := ("D" | "P") "P" DIR "|" TIER      DPI|default
 * profileEnd := "D" "R" DIR                       DRE
 * </pre>
 *
 * <p>{@code policy} is shaped like the journal's policy: {@code action} is "allow", "deny" or "pass";
 * for a policy rule, {@code kind} is Calico's short kind (knp, np, gnp, kcnp, snp, sgnp, sknp, and for
 * v3.30-v3.31 ids also kanp, kbanp, ossg) with namespace and name; a profile has kind "profile", tier
 * "__PROFILE__" (Calico's flow-log spelling) and the profile id as name ({@code kns.<ns>},
 * {@code ksa.<ns>.<sa>}); an end of tier has only the tier and action; an end of profiles has kind
 * "profile" and action "deny". v3.32 ids do not carry the tier: it is "default" for Kubernetes policies
 * and otherwise null until {@link CalicoPrefixResolver} fills it from the known policies.
 *
 * <p>A hashed prefix (exactly 63 characters, §3.5) keeps only its action, owner, direction and, when
 * it fits in the first 10 characters, the rule index; {@link CalicoPrefixResolver} maps it back. The
 * raw prefix is always kept. Parsing allocates (strings and this record): prefixes are few and are
 * meant to be parsed once and cached by their bytes ({@link CalicoPrefixCache}), never per packet.
 *
 * @param raw       the prefix as received, without its NUL
 * @param type      what the prefix marks
 * @param policy    the policy, profile or tier; null for {@link Type#UNKNOWN}
 * @param direction INGRESS for 'I', EGRESS for 'E', UNKNOWN otherwise
 * @param ruleIndex the 0-based Calico rule index of a rule hit, -1 otherwise (or when hashed away)
 * @param format    which release's id format the prefix uses
 * @param hashed    whether the prefix is the 63-character hashed form
 */
public record CalicoPrefix(String raw, Type type, PolicyRef policy, Direction direction, int ruleIndex,
                           IdFormat format, boolean hashed) {

    /** What a prefix marks. */
    public enum Type {
        /** A policy or profile rule matched: {@code A|D|P} {@code P|R} {@code I|E} index {@code |} id. */
        RULE,
        /** The packet fell off the end of a tier: {@code DP<D>|tier} (deny) or {@code PP<D>|tier} (pass). */
        TIER_END,
        /** No profile accepted the packet: {@code DRI} or {@code DRE}. */
        PROFILE_END,
        /** Not Calico's grammar. */
        UNKNOWN
    }

    /** The policy id format of a rule hit (§3.4). */
    public enum IdFormat {
        /** {@code <kind>/<ns>/<name>} or {@code <kind>/<name>}: Calico v3.32 and later. */
        V3_32,
        /** Felix's v1 names ({@code <ns>/knp.default.<name>}, {@code <tier>.<name>} …): v3.30 and v3.31. */
        V3_30,
        /** The prefix carries no policy id (end of tier, end of profiles, profile rules). */
        NONE,
        /** Hashed and not resolved, or not Calico's grammar. */
        UNKNOWN
    }

    /** NFLOG's prefix limit is 64 bytes with the NUL, so a prefix has at most 63 characters. */
    public static final int MAX_LENGTH = 63;
    /** The tier Calico's flow logs give profiles. */
    public static final String PROFILE_TIER = "__PROFILE__";
    /** The kind given to profiles. */
    public static final String PROFILE_KIND = "profile";

    private static final java.util.Set<String> V3_32_KINDS =
            java.util.Set.of("np", "gnp", "knp", "snp", "sgnp", "sknp", "kcnp");
    private static final java.util.Set<String> NAMESPACED_KINDS = java.util.Set.of("np", "knp", "snp", "sknp");

    /** Parses prefix bytes (ASCII; a NUL, if any, ends the prefix). */
    public static CalicoPrefix parse(byte[] bytes, int offset, int length) {
        int n = 0;
        while (n < length && bytes[offset + n] != 0) {
            n++;
        }
        return parse(new String(bytes, offset, n, StandardCharsets.UTF_8));
    }

    /** Parses one prefix (without its NUL). Never throws: anything off-grammar is {@link Type#UNKNOWN}. */
    public static CalicoPrefix parse(String raw) {
        if (raw.length() < 3) {
            return unknown(raw);
        }
        String action = action(raw.charAt(0));
        char owner = raw.charAt(1);
        Direction direction = direction(raw.charAt(2));
        if (action == null || (owner != 'P' && owner != 'R') || direction == Direction.UNKNOWN) {
            return unknown(raw);
        }
        if (isHashed(raw)) {
            return parseHashed(raw, action, owner, direction);
        }
        if (raw.length() == 3) {
            if (owner == 'R' && raw.charAt(0) == 'D') {
                return new CalicoPrefix(raw, Type.PROFILE_END,
                        new PolicyRef(null, null, PROFILE_KIND, PROFILE_TIER, action), direction, -1, IdFormat.NONE, false);
            }
            return unknown(raw);
        }
        int i = 3;
        int index = 0;
        while (i < raw.length() && isDigit(raw.charAt(i))) {
            i++;
        }
        if (i - 3 > 9) { // not a rule index
            return unknown(raw);
        }
        for (int d = 3; d < i; d++) {
            index = index * 10 + (raw.charAt(d) - '0');
        }
        if (i >= raw.length() || raw.charAt(i) != '|') {
            return unknown(raw);
        }
        String rest = raw.substring(i + 1);
        if (i == 3) {
            // no index: end of tier, only DP<D>| and PP<D>|
            if (owner != 'P' || raw.charAt(0) == 'A' || rest.isEmpty()) {
                return unknown(raw);
            }
            return new CalicoPrefix(raw, Type.TIER_END, new PolicyRef(null, null, null, rest, action), direction, -1,
                    IdFormat.NONE, false);
        }
        if (rest.isEmpty()) {
            return unknown(raw);
        }
        if (owner == 'R') {
            return new CalicoPrefix(raw, Type.RULE, profile(rest, action), direction, index, IdFormat.NONE, false);
        }
        return policyHit(raw, rest, action, direction, index, false);
    }

    /**
     * A prefix is hashed iff it has 63 characters (§3.5: Felix hashes raw prefixes of exactly 63
     * characters too, so no unhashed prefix has that length); Felix's have '_' at 10 and 52.
     */
    public static boolean isHashed(String raw) {
        return raw.length() == MAX_LENGTH;
    }

    /**
     * Whether the direction letter agrees with the NFLOG group Calico logs it to (§3.1: group 1 is
     * ingress, group 2 egress). False for other groups and for prefixes without a direction.
     */
    public boolean agreesWithGroup(int group) {
        return (group == 1 && direction == Direction.INGRESS) || (group == 2 && direction == Direction.EGRESS);
    }

    /**
     * Felix's prefix shortening (§3.5): a raw prefix of 63 characters or more becomes
     * {@code raw[0:10] + "_" + base64url_nopad(SHA-256(raw))[0:41] + "_" + raw[len-10:]}, exactly 63
     * characters; a shorter one is returned as is.
     */
    public static String hash(String raw) {
        if (raw.length() < MAX_LENGTH) {
            return raw;
        }
        String digest = base64Sha256(raw);
        return raw.substring(0, 10) + "_" + digest.substring(0, 41) + "_" + raw.substring(raw.length() - 10);
    }

    /**
     * Felix's chain-name rule (§3.5): {@code prefix + id} when it fits in {@code maxLength} (28 for
     * iptables), otherwise {@code prefix + "_" + base64url(SHA-256(id))[0 : maxLength-1-len(prefix)]}.
     */
    public static String chainName(String prefix, String id, int maxLength) {
        if (prefix.length() + id.length() <= maxLength) {
            return prefix + id;
        }
        return prefix + "_" + base64Sha256(id).substring(0, maxLength - 1 - prefix.length());
    }

    /** The v3.32 id of a policy: {@code kind/ns/name} for namespaced kinds, {@code kind/name} otherwise. */
    public static String idV332(String kind, String namespace, String name) {
        return NAMESPACED_KINDS.contains(kind) && namespace != null ? kind + "/" + namespace + "/" + name : kind + "/" + name;
    }

    /**
     * The v3.30-v3.31 id (Felix's v1 name) of a policy: {@code <ns>/knp.default.<name>} for Kubernetes
     * policies, {@code [<ns>/][staged:]<tier>.<name>} for Calico ones ("default." is added in the
     * default tier; a name that already starts with its tier and a dot is kept as is),
     * {@code kanp.adminnetworkpolicy.<name>} and {@code kbanp.baselineadminnetworkpolicy.<name>}.
     */
    public static String idV330(String kind, String namespace, String name, String tier) {
        String ns = namespace != null && NAMESPACED_KINDS.contains(kind) ? namespace + "/" : "";
        String staged = kind.startsWith("s") ? "staged:" : "";
        return switch (kind) {
            case "knp", "sknp" -> ns + staged + "knp.default." + name;
            case "kanp" -> "kanp.adminnetworkpolicy." + name;
            case "kbanp" -> "kbanp.baselineadminnetworkpolicy." + name;
            case "ossg" -> "ossg.default." + name;
            default -> {
                String t = tier == null ? "default" : tier;
                yield ns + staged + (name.startsWith(t + ".") ? name : t + "." + name);
            }
        };
    }

    /** A rule-hit prefix before hashing: {@code <A|D|P><P|R><I|E><index>|<id>}. */
    public static String ruleHit(char action, char owner, Direction direction, int index, String id) {
        return "" + action + owner + (direction == Direction.EGRESS ? 'E' : 'I') + index + "|" + id;
    }

    /** A copy with the policy's tier set (used by the resolver); everything else unchanged. */
    public CalicoPrefix withTier(String tier) {
        if (policy == null) {
            return this;
        }
        return new CalicoPrefix(raw, type, new PolicyRef(policy.name(), policy.namespace(), policy.kind(), tier,
                policy.action()), direction, ruleIndex, format, hashed);
    }

    // ---- parsing helpers ---------------------------------------------------------------------

    private static CalicoPrefix parseHashed(String raw, String action, char owner, Direction direction) {
        int i = 3;
        int index = 0;
        while (i < 10 && isDigit(raw.charAt(i))) {
            index = index * 10 + (raw.charAt(i) - '0');
            i++;
        }
        boolean bar = i < 10 && raw.charAt(i) == '|';
        if (i == 3) {
            if (bar && owner == 'P' && raw.charAt(0) != 'A') {
                return new CalicoPrefix(raw, Type.TIER_END, new PolicyRef(null, null, null, null, action), direction, -1,
                        IdFormat.UNKNOWN, true);
            }
            return unknown(raw);
        }
        PolicyRef ref = new PolicyRef(null, null, owner == 'R' ? PROFILE_KIND : null,
                owner == 'R' ? PROFILE_TIER : null, action);
        return new CalicoPrefix(raw, Type.RULE, ref, direction, bar ? index : -1, IdFormat.UNKNOWN, true);
    }

    private static CalicoPrefix policyHit(String raw, String id, String action, Direction direction, int index,
                                          boolean hashed) {
        int slash = id.indexOf('/');
        if (slash > 0 && V3_32_KINDS.contains(id.substring(0, slash))) {
            String kind = id.substring(0, slash);
            String rest = id.substring(slash + 1);
            String namespace = null;
            String name = rest;
            if (NAMESPACED_KINDS.contains(kind)) {
                int s2 = rest.indexOf('/');
                if (s2 >= 0) {
                    namespace = rest.substring(0, s2);
                    name = rest.substring(s2 + 1);
                }
            }
            String tier = kind.equals("knp") || kind.equals("sknp") ? "default" : null;
            return new CalicoPrefix(raw, Type.RULE, new PolicyRef(name, namespace, kind, tier, action), direction, index,
                    IdFormat.V3_32, hashed);
        }
        String namespace = null;
        String rest = id;
        if (slash >= 0) {
            namespace = id.substring(0, slash);
            rest = id.substring(slash + 1);
        }
        boolean staged = rest.startsWith("staged:");
        if (staged) {
            rest = rest.substring("staged:".length());
        }
        String kind;
        String tier;
        String name;
        if (rest.startsWith("knp.default.")) {
            kind = staged ? "sknp" : "knp";
            tier = "default";
            name = rest.substring("knp.default.".length());
        } else if (rest.startsWith("kanp.adminnetworkpolicy.")) {
            kind = "kanp";
            tier = "adminnetworkpolicy";
            name = rest.substring("kanp.adminnetworkpolicy.".length());
        } else if (rest.startsWith("kbanp.baselineadminnetworkpolicy.")) {
            kind = "kbanp";
            tier = "baselineadminnetworkpolicy";
            name = rest.substring("kbanp.baselineadminnetworkpolicy.".length());
        } else if (rest.startsWith("ossg.default.")) {
            kind = "ossg";
            tier = "default";
            name = rest.substring("ossg.default.".length());
        } else {
            kind = namespace != null ? (staged ? "snp" : "np") : (staged ? "sgnp" : "gnp");
            int dot = rest.indexOf('.');
            if (dot > 0) {
                tier = rest.substring(0, dot);
                // Felix adds "default." in the default tier; in other tiers the name itself is "tier.name"
                name = tier.equals("default") ? rest.substring(dot + 1) : rest;
            } else {
                tier = null;
                name = rest;
            }
        }
        return new CalicoPrefix(raw, Type.RULE, new PolicyRef(name, namespace, kind, tier, action), direction, index,
                IdFormat.V3_30, hashed);
    }

    private static PolicyRef profile(String id, String action) {
        String namespace = null;
        if (id.startsWith("kns.")) {
            namespace = id.substring(4);
        } else if (id.startsWith("ksa.")) {
            int dot = id.indexOf('.', 4);
            namespace = dot > 4 ? id.substring(4, dot) : null;
        }
        return new PolicyRef(id, namespace, PROFILE_KIND, PROFILE_TIER, action);
    }

    private static CalicoPrefix unknown(String raw) {
        return new CalicoPrefix(raw, Type.UNKNOWN, null, Direction.UNKNOWN, -1, IdFormat.UNKNOWN, isHashed(raw));
    }

    private static String action(char c) {
        return switch (c) {
            case 'A' -> "allow";
            case 'D' -> "deny";
            case 'P' -> "pass";
            default -> null;
        };
    }

    private static Direction direction(char c) {
        return c == 'I' ? Direction.INGRESS : c == 'E' ? Direction.EGRESS : Direction.UNKNOWN;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static String base64Sha256(String s) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JDK", e);
        }
    }
}
