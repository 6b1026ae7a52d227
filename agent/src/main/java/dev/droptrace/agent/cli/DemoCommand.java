package dev.droptrace.agent.cli;

import dev.droptrace.agent.Agent;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.journal.JournalReader;
import dev.droptrace.agent.lab.NetnsLab;
import dev.droptrace.agent.output.CompactFormatter;
import dev.droptrace.agent.output.DropFilter;
import dev.droptrace.agent.output.JsonFormatter;
import dev.droptrace.agent.source.kernel.KernelPreflight;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * {@code droptrace demo}: three throwaway namespaces as pods, DROP rules and a closed port, real
 * traffic, the agent running, and the drops shown live; at the end, droptrace's counts beside the
 * kernel's. Everything it makes is removed on exit and on Ctrl-C.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Show live drops with no cluster: throwaway namespaces as pods, deny rules, real traffic.")
public final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--seconds", defaultValue = "15", description = "How long to send traffic (default: ${DEFAULT-VALUE}).")
    int seconds;
    @Option(names = {"-o", "--output"}, defaultValue = "compact", description = "compact or json (default: ${DEFAULT-VALUE}).")
    String output;
    @Option(names = "--journal", paramLabel = "DIR", description = "Keep the demo's journal in DIR (default: a temporary directory, removed at the end).")
    Path journal;

    private volatile boolean stopping;

    @Override
    public Integer call() throws Exception {
        KernelPreflight.problem().ifPresent(p -> { throw new IllegalStateException(p); });
        PrintWriter out = spec.commandLine().getOut();
        Path dir = journal != null ? journal : Files.createTempDirectory("droptrace-demo-");
        CountDownLatch finished = new CountDownLatch(1);
        NetnsLab lab = NetnsLab.create(201);
        lab.closeOnlyExplicitly(); // on Ctrl-C the main thread prints the summary first, then cleans up
        Thread hook = new Thread(() -> {
            stopping = true;
            try {
                finished.await(15, TimeUnit.SECONDS); // let the main thread detach, summarize and clean up
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            } finally {
                lab.close();
            }
        }, "demo-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try (lab) {
            NetnsLab.Pod frontend = lab.addPod("frontend");
            NetnsLab.Pod backend = lab.addPod("backend");
            NetnsLab.Pod db = lab.addPod("db");
            lab.link(frontend, backend, "eth0", "eth0");
            lab.link(frontend, db, "eth1", "eth0");
            lab.iptables(backend, "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "DROP");
            lab.ip6tables(backend, "-A", "INPUT", "-p", "udp", "--dport", "9090", "-j", "DROP");
            lab.iptables(db, "-A", "INPUT", "-p", "tcp", "--dport", "5432", "-j", "DROP");
            Path inventory = writeInventory(dir, lab, Map.of(
                    "frontend", new String[] {"shop", "frontend-6f7c9d-x2x4q", "frontend", "Deployment/frontend"},
                    "backend", new String[] {"shop", "api-0", "api", "StatefulSet/api"},
                    "db", new String[] {"data", "postgres-0", "postgres", "StatefulSet/postgres"}));
            out.printf("""
                    droptrace demo: three network namespaces stand in for pods
                      shop/frontend-6f7c9d-x2x4q %s / %s   shop/api-0 %s / %s   data/postgres-0 %s
                      api-0 drops TCP :8080 (iptables) and UDP :9090 over IPv6 (ip6tables)
                      postgres-0 drops TCP :5432 (iptables) and has nothing listening on UDP :53
                    the frontend sends to each once a second for %d s; droptrace shows what the kernel drops,
                    with pod names from the inventory %s (what the agent's --inventory reads without a cluster).
                    journal: %s

                    """, frontend.ip4(), frontend.ipv4().get(1), backend.ip4(), backend.ip6(), db.ip4(),
                    seconds, inventory, dir);
            out.flush();
            long backendNs = lab.netnsInode(backend);
            long dbNs = lab.netnsInode(db);
            DropFilter ours = DropFilter.builder().netns(backendNs, dbNs).build();
            try (Agent agent = Agent.start(new Agent.Config(dir, "demo-node", Set.of("kernel"), null, inventory))) {
                if (!agent.anyAttached()) throw new IllegalStateException("kernel source: " + agent.sourceStates().get("kernel").reason());
                Thread tail = Thread.ofPlatform().name("demo-tail").daemon(true).start(() -> tail(dir, ours, out));
                for (int s = 0; s < seconds && !stopping; s++) {
                    lab.tryTcp(frontend, backend.ip4(), 8080, 0, 0);
                    lab.sendUdp(frontend, backend.ip6(), 9090, 0, 1);
                    lab.tryTcp(frontend, db.ip4(), 5432, 0, 0);
                    lab.sendUdp(frontend, db.ip4(), 53, 0, 1);
                    Thread.sleep(1000);
                }
                Thread.sleep(300); // the agent drains its ring at least every 50 ms
                agent.close();
                tailStop = true;
                tail.join(2000);
                summary(out, lab, dir, backend, db, backendNs, dbNs);
            }
        } finally {
            if (journal == null) deleteTree(dir);
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // Ctrl-C: the hook is running and waits for us
            }
        }
        return 0;
    }

    private volatile boolean tailStop;

    private void tail(Path dir, DropFilter filter, PrintWriter out) {
        Function<DropView, String> format = output.equals("json") ? new JsonFormatter()::format : new CompactFormatter()::format;
        try (JournalReader reader = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (true) {
                boolean any = false;
                while (reader.next(v)) {
                    any = true;
                    if (!filter.test(v)) continue;
                    out.println(format.apply(v));
                }
                out.flush();
                if (!any && tailStop) return;
                if (!any) Thread.sleep(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void summary(PrintWriter out, NetnsLab lab, Path dir, NetnsLab.Pod backend, NetnsLab.Pod db,
                         long backendNs, long dbNs) {
        record Row(String what, long kernel, long droptrace) {}
        long tcp8080 = 0, udp9090 = 0, tcp5432 = 0, udp53 = 0;
        try (JournalReader reader = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (reader.next(v)) {
                if (v.netns() == backendNs && v.dstPort() == 8080 && v.protocol() == 6) tcp8080 += v.count();
                if (v.netns() == backendNs && v.dstPort() == 9090 && v.protocol() == 17) udp9090 += v.count();
                if (v.netns() == dbNs && v.dstPort() == 5432 && v.protocol() == 6) tcp5432 += v.count();
                if (v.netns() == dbNs && v.dstPort() == 53 && v.protocol() == 17) udp53 += v.count();
            }
        }
        List<Row> rows = List.of(
                new Row("api-0      TCP :8080  iptables DROP counter ", lab.ruleCounter(backend, false, "INPUT", 1), tcp8080),
                new Row("api-0      UDP :9090  ip6tables DROP counter", lab.ruleCounter(backend, true, "INPUT", 1), udp9090),
                new Row("postgres-0 TCP :5432  iptables DROP counter ", lab.ruleCounter(db, false, "INPUT", 1), tcp5432),
                new Row("postgres-0 UDP :53    SNMP Udp NoPorts      ", lab.snmpCounter(db, "Udp", "NoPorts"), udp53));
        out.printf("%ndrops the kernel counted vs drops droptrace journaled:%n");
        for (Row r : rows) {
            out.printf("  %s %6d  %6d  %s%n", r.what(), r.kernel(), r.droptrace(), r.kernel() == r.droptrace() ? "exact" : "MISMATCH");
        }
        out.flush();
    }

    /** The demo's pods as an inventory file: namespace, name, labels, workload, addresses and netns per pod. */
    private static Path writeInventory(Path dir, NetnsLab lab, Map<String, String[]> pods) throws IOException {
        StringBuilder y = new StringBuilder("node: demo-node\npods:\n");
        for (NetnsLab.Pod p : lab.pods()) {
            String[] meta = pods.get(p.name());
            List<String> ips = new java.util.ArrayList<>(p.ipv4());
            ips.addAll(p.ipv6());
            y.append("  - namespace: ").append(meta[0]).append('\n')
                    .append("    name: ").append(meta[1]).append('\n')
                    .append("    labels: {app: ").append(meta[2]).append("}\n")
                    .append("    workload: ").append(meta[3]).append('\n')
                    .append("    ips: [").append(String.join(", ", ips.stream().map(ip -> "\"" + ip + "\"").toList())).append("]\n")
                    .append("    netns: ").append(p.netns()).append('\n');
        }
        Path file = dir.resolve("demo-inventory.yaml");
        Files.writeString(file, y);
        return file;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a temp dir
        }
    }
}
