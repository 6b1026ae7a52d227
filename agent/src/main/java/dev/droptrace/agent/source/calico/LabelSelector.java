package dev.droptrace.agent.source.calico;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Kubernetes label selector ({@code metav1.LabelSelector}) with its full semantics: every
 * {@code matchLabels} pair and every {@code matchExpressions} requirement must hold; {@code In} needs
 * the key with one of the values, {@code NotIn} is true when the key is absent or has none of them,
 * {@code Exists} and {@code DoesNotExist} test the key only. The empty selector selects everything; a
 * null selector (absent field) is not this class's business: callers decide what absent means.
 * A requirement with an unknown operator selects nothing, as the API server would have refused it.
 * Immutable.
 */
public final class LabelSelector {
    /** The selector that selects every set of labels. */
    public static final LabelSelector ALL = new LabelSelector(Map.of(), List.of());

    /** One {@code matchExpressions} entry. */
    public record Requirement(String key, String operator, Set<String> values) {
        public Requirement {
            values = values == null ? Set.of() : Set.copyOf(values);
        }

        boolean matches(Map<String, String> labels) {
            String v = labels.get(key);
            return switch (operator) {
                case "In" -> v != null && values.contains(v);
                case "NotIn" -> v == null || !values.contains(v);
                case "Exists" -> labels.containsKey(key);
                case "DoesNotExist" -> !labels.containsKey(key);
                default -> false;
            };
        }
    }

    private final Map<String, String> matchLabels;
    private final List<Requirement> matchExpressions;

    public LabelSelector(Map<String, String> matchLabels, List<Requirement> matchExpressions) {
        this.matchLabels = matchLabels == null ? Map.of() : Map.copyOf(matchLabels);
        this.matchExpressions = matchExpressions == null ? List.of() : List.copyOf(matchExpressions);
    }

    /** From fabric8's model; null (an absent selector) becomes {@link #ALL}, as for a policy's podSelector. */
    public static LabelSelector of(io.fabric8.kubernetes.api.model.LabelSelector s) {
        if (s == null) {
            return ALL;
        }
        List<Requirement> reqs = new ArrayList<>();
        if (s.getMatchExpressions() != null) {
            for (var e : s.getMatchExpressions()) {
                reqs.add(new Requirement(e.getKey(), e.getOperator(), e.getValues() == null ? Set.of() : Set.copyOf(e.getValues())));
            }
        }
        return new LabelSelector(s.getMatchLabels(), reqs);
    }

    /** Whether the selector selects a pod (or namespace) with these labels. */
    public boolean matches(Map<String, String> labels) {
        Map<String, String> l = labels == null ? Map.of() : labels;
        for (Map.Entry<String, String> e : matchLabels.entrySet()) {
            if (!e.getValue().equals(l.get(e.getKey()))) {
                return false;
            }
        }
        for (Requirement r : matchExpressions) {
            if (!r.matches(l)) {
                return false;
            }
        }
        return true;
    }

    /** Whether this is the empty selector (selects everything). */
    public boolean isEmpty() {
        return matchLabels.isEmpty() && matchExpressions.isEmpty();
    }

    @Override
    public String toString() {
        return "LabelSelector{matchLabels=" + matchLabels + ", matchExpressions=" + matchExpressions + "}";
    }
}
