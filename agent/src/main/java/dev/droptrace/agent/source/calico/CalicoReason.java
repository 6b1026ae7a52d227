package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.journal.DropJournal;

/**
 * The reasons of Calico events (the journal's REASON_CALICO dictionary), one per kind of NFLOG
 * record Felix renders ({@code specs/calico-nflog.md} §3.2). Codes are stable: they are stored in
 * journals. Names follow Calico's own words for rule actions (Allow, Deny, Pass) and for the end of a
 * tier and of the profiles, where a Calico user looks for "default deny".
 */
public enum CalicoReason {
    /** A Deny rule of a policy matched ({@code DP<D><idx>|<id>}). */
    POLICY_DENY(1, true),
    /** A Deny rule of a profile matched ({@code DR<D><idx>|<profile>}). */
    PROFILE_DENY(2, true),
    /**
     * The packet fell off the end of a tier without a policy allowing or passing it
     * ({@code DP<D>|<tier>}): the tier's default deny, which is how a Kubernetes default deny shows.
     */
    TIER_END_DENY(3, true),
    /** No profile accepted the packet after the tiers ({@code DR<D>}). */
    PROFILE_END_DENY(4, true),
    /** An Allow rule of a policy or profile matched ({@code A<O><D><idx>|<id>}); not a drop. */
    ALLOW(5, false),
    /** A Pass (next-tier) rule of a policy matched ({@code PP<D><idx>|<id>}); not a drop. */
    PASS(6, false),
    /** End of a tier whose policies are all staged or whose default action is Pass ({@code PP<D>|<tier>}); not a drop. */
    TIER_END_PASS(7, false),
    /** An NFLOG record whose prefix is not Calico's grammar (a rule of someone else's); verdict unknown. */
    UNKNOWN_PREFIX(8, false);

    private static final CalicoReason[] BY_CODE = {null, POLICY_DENY, PROFILE_DENY, TIER_END_DENY, PROFILE_END_DENY,
            ALLOW, PASS, TIER_END_PASS, UNKNOWN_PREFIX};

    private final int code;
    private final boolean drop;

    CalicoReason(int code, boolean drop) {
        this.code = code;
        this.drop = drop;
    }

    /** The record's reason code. */
    public int code() {
        return code;
    }

    /** Whether the dataplane drops the packet after this record (Felix's DROP, or REJECT if configured). */
    public boolean drop() {
        return drop;
    }

    /** The reason for a code, or null. */
    public static CalicoReason fromCode(int code) {
        return code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** The reason of a parsed prefix. */
    public static CalicoReason of(CalicoPrefix prefix) {
        String action = prefix.policy() == null ? null : prefix.policy().action();
        boolean profile = CalicoPrefix.PROFILE_KIND.equals(prefix.policy() == null ? null : prefix.policy().kind());
        return switch (prefix.type()) {
            case RULE -> switch (action) {
                case "deny" -> profile ? PROFILE_DENY : POLICY_DENY;
                case "allow" -> ALLOW;
                case "pass" -> PASS;
                default -> UNKNOWN_PREFIX;
            };
            case TIER_END -> "deny".equals(action) ? TIER_END_DENY : TIER_END_PASS;
            case PROFILE_END -> PROFILE_END_DENY;
            case UNKNOWN -> UNKNOWN_PREFIX;
        };
    }

    /** Writes every name into the journal's REASON_CALICO dictionary (writer thread). */
    public static void defineAll(DropJournal journal) {
        for (CalicoReason r : values()) {
            journal.defineReason(DropSource.CALICO, r.code, r.name());
        }
    }
}
