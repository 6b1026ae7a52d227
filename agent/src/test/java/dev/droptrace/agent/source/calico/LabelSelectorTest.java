package dev.droptrace.agent.source.calico;

import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Kubernetes label-selector semantics, as a table (selector, labels, selected?). */
class LabelSelectorTest {
    record Row(String what, LabelSelector selector, Map<String, String> labels, boolean selected) {
        @Override
        public String toString() {
            return what;
        }
    }

    static LabelSelector labels(Map<String, String> m) {
        return new LabelSelector(m, List.of());
    }

    static LabelSelector expr(String key, String op, String... values) {
        return new LabelSelector(Map.of(), List.of(new LabelSelector.Requirement(key, op, Set.of(values))));
    }

    static final Map<String, String> API = Map.of("app", "api", "tier", "backend");
    static final Map<String, String> NONE = Map.of();

    static Stream<Row> table() {
        return Stream.of(
                new Row("empty selects a labelled pod", LabelSelector.ALL, API, true),
                new Row("empty selects an unlabelled pod", LabelSelector.ALL, NONE, true),
                new Row("matchLabels equal", labels(Map.of("app", "api")), API, true),
                new Row("matchLabels other value", labels(Map.of("app", "web")), API, false),
                new Row("matchLabels missing key", labels(Map.of("env", "prod")), API, false),
                new Row("matchLabels all pairs", labels(Map.of("app", "api", "tier", "backend")), API, true),
                new Row("matchLabels one pair of two fails", labels(Map.of("app", "api", "tier", "frontend")), API, false),
                new Row("In with the value", expr("tier", "In", "backend", "cache"), API, true),
                new Row("In without the value", expr("tier", "In", "frontend"), API, false),
                new Row("In without the key", expr("env", "In", "prod"), API, false),
                new Row("NotIn with the value", expr("tier", "NotIn", "backend"), API, false),
                new Row("NotIn other value", expr("tier", "NotIn", "frontend"), API, true),
                new Row("NotIn without the key", expr("env", "NotIn", "prod"), API, true),
                new Row("Exists with the key", expr("app", "Exists"), API, true),
                new Row("Exists without the key", expr("env", "Exists"), API, false),
                new Row("DoesNotExist with the key", expr("app", "DoesNotExist"), API, false),
                new Row("DoesNotExist without the key", expr("env", "DoesNotExist"), API, true),
                new Row("unknown operator selects nothing", expr("app", "Gt", "1"), API, false),
                new Row("labels and expressions are ANDed (both hold)",
                        new LabelSelector(Map.of("app", "api"), List.of(new LabelSelector.Requirement("env", "DoesNotExist", null))), API, true),
                new Row("labels and expressions are ANDed (expression fails)",
                        new LabelSelector(Map.of("app", "api"), List.of(new LabelSelector.Requirement("tier", "In", Set.of("x")))), API, false),
                new Row("expressions are ANDed",
                        new LabelSelector(Map.of(), List.of(new LabelSelector.Requirement("app", "Exists", null),
                                new LabelSelector.Requirement("tier", "NotIn", Set.of("backend")))), API, false),
                new Row("null labels are no labels", expr("app", "DoesNotExist"), null, true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void selects(Row row) {
        assertEquals(row.selected(), row.selector().matches(row.labels()), row.what());
    }

    @Test
    void fromFabric8() {
        var s = LabelSelector.of(new LabelSelectorBuilder().addToMatchLabels("app", "api")
                .addNewMatchExpression().withKey("tier").withOperator("In").withValues("backend").endMatchExpression().build());
        assertTrue(s.matches(API));
        assertFalse(s.matches(Map.of("app", "api")));
        assertTrue(LabelSelector.of(null).isEmpty(), "an absent podSelector selects every pod");
        assertTrue(LabelSelector.of(new LabelSelectorBuilder().build()).matches(NONE));
    }
}
