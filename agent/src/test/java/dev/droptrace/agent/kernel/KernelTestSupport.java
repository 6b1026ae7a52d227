package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.droptrace.agent.cli.Main;
import dev.droptrace.agent.lab.NetnsLab;
import dev.droptrace.agent.source.kernel.KernelPreflight;
import org.junit.jupiter.api.Assumptions;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Shared pieces of the kernel tests: the root check, running the CLI, reading observe's JSON. */
final class KernelTestSupport {
    static final ObjectMapper JSON = new ObjectMapper();

    private KernelTestSupport() {}

    /** Skips the test, with the reason, unless this process may load BPF and make namespaces. */
    static void assumeKernelTestbed() {
        boolean root = false;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) root = line.substring(4).strip().split("\\s+")[1].equals("0");
            }
        } catch (Exception e) {
            root = false;
        }
        Assumptions.assumeTrue(root, "kernel tests need root (BPF, network namespaces, iptables); skipped");
        KernelPreflight.problem().ifPresent(p -> Assumptions.abort("kernel tests skipped: " + p));
    }

    /**
     * Two pods, "client" and "server", joined by eth0 on both sides, the server dropping UDP to
     * {@code udpDropPort} (rule 1 of its INPUT chain). Closed again if setting it up fails.
     */
    static NetnsLab clientServer(int octet, int udpDropPort) {
        NetnsLab lab = NetnsLab.create(octet);
        try {
            NetnsLab.Pod client = lab.addPod("client");
            NetnsLab.Pod server = lab.addPod("server");
            lab.link(client, server, "eth0", "eth0");
            lab.iptables(server, "-A", "INPUT", "-p", "udp", "--dport", "" + udpDropPort, "-j", "DROP");
            return lab;
        } catch (RuntimeException e) {
            lab.close();
            throw e;
        }
    }

    record CliResult(int exit, String out, String err) {}

    static CliResult cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new CliResult(exit, out.toString(), err.toString());
    }

    /** observe -o json on the journal, with extra filter arguments, parsed line by line. */
    static List<JsonNode> observe(Path journal, String... filters) throws Exception {
        List<String> args = new ArrayList<>(List.of("observe", "--journal", journal.toString(), "-o", "json"));
        args.addAll(List.of(filters));
        CliResult r = cli(args.toArray(String[]::new));
        if (r.exit() != 0) throw new AssertionError("observe failed: " + r.err());
        List<JsonNode> events = new ArrayList<>();
        for (String line : r.out().split("\n")) {
            if (!line.isBlank()) events.add(JSON.readTree(line));
        }
        return events;
    }

    /** Waits (bounded) until {@code done} holds for what observe returns; returns the last read. */
    static List<JsonNode> awaitEvents(Path journal, Predicate<List<JsonNode>> done, String... filters) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        List<JsonNode> events = observe(journal, filters);
        while (!done.test(events) && System.nanoTime() < deadline) {
            Thread.sleep(200);
            events = observe(journal, filters);
        }
        return events;
    }

    static long sumCount(List<JsonNode> events, Predicate<JsonNode> which) {
        return events.stream().filter(which).mapToLong(e -> e.path("count").asLong(1)).sum();
    }
}
