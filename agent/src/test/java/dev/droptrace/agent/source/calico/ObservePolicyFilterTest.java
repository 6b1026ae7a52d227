package dev.droptrace.agent.source.calico;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.cli.Main;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.output.DropFilter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.API;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.WEB;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.message;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.nowSec;
import static dev.droptrace.agent.source.calico.CalicoPayloadTranslatorTest.translate;
import static dev.droptrace.agent.source.calico.CalicoTestJournal.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@code observe --policy} and {@code --policy-namespace} over a journal of Calico events. */
class ObservePolicyFilterTest {
    @TempDir
    Path tmp;

    /** The dst ports of the events {@code observe} prints with these extra arguments. */
    List<Integer> observe(Path dir, String... filter) throws Exception {
        List<String> args = new ArrayList<>(List.of("observe", "--journal", dir.toString(), "-o", "json"));
        args.addAll(List.of(filter));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
        assertEquals(0, exit, err.toString());
        List<Integer> ports = new ArrayList<>();
        for (String line : out.toString().lines().toList()) {
            JsonNode e = JSON.readTree(line);
            ports.add(e.get("dst_port").asInt());
        }
        return ports;
    }

    @Test
    void policyNameNamespaceAndIsolatingPolicies() throws Exception {
        Path dir = tmp.resolve("journal");
        try (IdentityCache cache = IdentityCache.create(); CalicoTestJournal out = new CalicoTestJournal(dir)) {
            cache.upsert("pod:api", Identity.pod("shop", "api-0", null, Map.of("app", "api"), null), List.of("10.210.0.2"), 1);
            cache.flush().get(30, TimeUnit.SECONDS);
            KnownPolicies policies = KnownPolicies.of(1, List.of(
                    new KnownPolicies.NetworkPolicyEntry("shop", "a-first", LabelSelector.ALL, true, false),
                    new KnownPolicies.NetworkPolicyEntry("shop", "b-second", LabelSelector.ALL, true, false)), List.of());
            CalicoPayloadTranslator t = new CalicoPayloadTranslator(out.journal, cache, "n", () -> policies,
                    new InterfaceNames(), false);
            long s = nowSec();
            translate(t, out, message(1, "DPI0|knp/shop/deny-web", 7, 9, s, 0, WEB, API, 1), 1);
            translate(t, out, message(1, "DPI0|knp/prod/deny-web", 7, 9, s, 0, WEB, API, 2), 1);
            translate(t, out, message(1, "DPI0|gnp/deny-web", 7, 9, s, 0, WEB, API, 3), 1);
            translate(t, out, message(1, "DPI|default", 7, 9, s, 0, WEB, API, 4), 1);  // a-first, b-second
            translate(t, out, message(1, "DPI0|" + "x".repeat(58), 7, 9, s, 0, WEB, API, 5), 1); // hashed, unresolved
        }
        assertEquals(List.of(1, 2, 3), observe(dir, "--policy", "deny-web"));
        assertEquals(List.of(1), observe(dir, "--policy", "shop/deny-web"));
        assertEquals(List.of(1, 2), observe(dir, "--policy", "shop/deny-web", "--policy", "prod/deny-web"));
        assertEquals(List.of(1, 4), observe(dir, "--policy-namespace", "shop"));
        assertEquals(List.of(1), observe(dir, "--policy", "deny-web", "--policy-namespace", "shop"));
        assertEquals(List.of(4), observe(dir, "--policy", "a-first"));
        assertEquals(List.of(4), observe(dir, "--policy", "b-second"), "a default deny matches every isolating policy");
        assertEquals(List.of(4), observe(dir, "--policy", "shop/b-second,nothing"));
        assertEquals(List.of(), observe(dir, "--policy", "other/b-second"));
        assertEquals(List.of(), observe(dir, "--policy", "x".repeat(10)));
        assertThrows(IllegalArgumentException.class, () -> DropFilter.builder().policy("shop/"));
    }
}
