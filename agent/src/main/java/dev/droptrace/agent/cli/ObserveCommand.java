package dev.droptrace.agent.cli;

import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.journal.JournalReader;
import dev.droptrace.agent.output.CompactFormatter;
import dev.droptrace.agent.output.DropFilter;
import dev.droptrace.agent.output.JsonFormatter;
import dev.droptrace.agent.output.TableFormatter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;

/** {@code droptrace observe}: prints drops from a journal, with filters shaped like {@code hubble observe}. */
@Command(name = "observe", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print drops from a journal (one the agent may be writing).",
                "Repeating a filter ORs its values; different filters AND."})
public final class ObserveCommand implements Callable<Integer> {
    /** Output formats. */
    public enum Format { table, json, compact }

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--journal", paramLabel = "DIR", defaultValue = "/var/lib/droptrace/journal",
            description = "Journal directory (default: ${DEFAULT-VALUE}).")
    Path journal;
    @Option(names = "--server", paramLabel = "URL", description = "Read from an agent's HTTP stream (not available yet).")
    String server;
    @Option(names = {"-o", "--output"}, defaultValue = "compact", description = "table, json or compact (default: ${DEFAULT-VALUE}).")
    Format output;
    @Option(names = {"-f", "--follow"}, description = "Keep printing drops as they are journaled.")
    boolean follow;
    @Option(names = "--last", paramLabel = "N", description = "Only the last N matching drops (then --follow, if given).")
    Long last;
    @Option(names = "--since", paramLabel = "TIME", description = "Drops at or after TIME (RFC 3339, or a duration ago: 5m).")
    String since;
    @Option(names = "--until", paramLabel = "TIME", description = "Drops at or before TIME (RFC 3339, or a duration ago).")
    String until;
    @Option(names = "--ip", split = ",", description = "Either end has this address.") List<String> ip;
    @Option(names = "--from-ip", split = ",", description = "Source address.") List<String> fromIp;
    @Option(names = "--to-ip", split = ",", description = "Destination address.") List<String> toIp;
    @Option(names = "--port", split = ",", description = "Either end has this port.") List<Integer> port;
    @Option(names = "--from-port", split = ",", description = "Source port.") List<Integer> fromPort;
    @Option(names = "--to-port", split = ",", description = "Destination port.") List<Integer> toPort;
    @Option(names = "--protocol", split = ",", description = "TCP, UDP, ICMP, ICMPv6, SCTP or a number.") List<String> protocol;
    @Option(names = "--reason", split = ",", description = "Drop reason name, e.g. NETFILTER_DROP, NO_SOCKET.") List<String> reason;
    @Option(names = "--source", split = ",", description = "kernel, cilium or calico.") List<String> source;
    @Option(names = "--netns", split = ",", description = "Network namespace inode.") List<Long> netns;
    @Option(names = "--policy", split = ",", paramLabel = "[NS/]NAME",
            description = "Policy that denied the drop (a default deny also matches the policies that isolate the pod).") List<String> policy;
    @Option(names = "--policy-namespace", split = ",", paramLabel = "NS", description = "Namespace of that policy.") List<String> policyNamespace;
    @Option(names = "--namespace", split = ",", description = "Kubernetes namespace at either end.") List<String> namespace;
    @Option(names = "--from-namespace", split = ",", description = "Namespace of the source.") List<String> fromNamespace;
    @Option(names = "--to-namespace", split = ",", description = "Namespace of the destination.") List<String> toNamespace;
    @Option(names = "--pod", split = ",", description = "Pod name prefix ([namespace/]prefix) at either end.") List<String> pod;
    @Option(names = "--from-pod", split = ",", description = "Source pod ([namespace/]prefix).") List<String> fromPod;
    @Option(names = "--to-pod", split = ",", description = "Destination pod ([namespace/]prefix).") List<String> toPod;
    @Option(names = "--label", description = "Pod label key=value at either end (repeatable).") List<String> label;
    @Option(names = "--from-label", description = "Source pod label key=value.") List<String> fromLabel;
    @Option(names = "--to-label", description = "Destination pod label key=value.") List<String> toLabel;
    @Option(names = "--workload", split = ",", description = "Workload (name or Kind/name) at either end.") List<String> workload;
    @Option(names = "--from-workload", split = ",", description = "Workload of the source.") List<String> fromWorkload;
    @Option(names = "--to-workload", split = ",", description = "Workload of the destination.") List<String> toWorkload;

    @Override
    public Integer call() throws Exception {
        if (server != null) throw new IllegalArgumentException("--server is not available yet; read the journal with --journal DIR");
        PrintWriter out = spec.commandLine().getOut();
        DropFilter filter = filter(Instant.now());
        Function<DropView, String> format = formatter(out);
        try (JournalReader reader = JournalReader.open(journal)) {
            Instant now = Instant.now();
            if (since != null) reader.since(TimeArg.parse(since, now));
            if (until != null) reader.until(TimeArg.parse(until, now));
            DropView view = new DropView();
            if (last != null) {
                if (last < 0) throw new IllegalArgumentException("--last must be >= 0");
                if (filter.isEmpty()) {
                    reader.last(last);
                    while (reader.next(view)) out.println(format.apply(view));
                } else {
                    ArrayDeque<String> tail = new ArrayDeque<>();
                    while (reader.next(view)) {
                        if (!filter.test(view)) continue;
                        tail.addLast(format.apply(view));
                        if (tail.size() > last) tail.removeFirst();
                    }
                    tail.forEach(out::println);
                }
            } else {
                while (reader.next(view)) if (filter.test(view)) out.println(format.apply(view));
            }
            out.flush();
            while (follow && !Thread.currentThread().isInterrupted()) {
                boolean any = false;
                while (reader.next(view)) {
                    any = true;
                    if (filter.test(view)) out.println(format.apply(view));
                }
                if (any) out.flush();
                else Thread.sleep(100);
            }
        }
        return 0;
    }

    private static void identityFilters(DropFilter.Builder b, DropFilter.Builder.End end, List<String> namespaces,
                                        List<String> pods, List<String> labels, List<String> workloads) {
        if (namespaces != null) b.namespace(end, namespaces.toArray(String[]::new));
        if (pods != null) b.pod(end, pods.toArray(String[]::new));
        if (labels != null) b.label(end, labels.toArray(String[]::new));
        if (workloads != null) b.workload(end, workloads.toArray(String[]::new));
    }

    private Function<DropView, String> formatter(PrintWriter out) {
        return switch (output) {
            case json -> new JsonFormatter()::format;
            case compact -> new CompactFormatter()::format;
            case table -> {
                TableFormatter t = new TableFormatter();
                out.println(t.header());
                yield t::row;
            }
        };
    }

    DropFilter filter(Instant now) {
        DropFilter.Builder b = DropFilter.builder();
        if (ip != null) b.ip(ip.toArray(String[]::new));
        if (fromIp != null) b.fromIp(fromIp.toArray(String[]::new));
        if (toIp != null) b.toIp(toIp.toArray(String[]::new));
        if (port != null) b.port(port.stream().mapToInt(Integer::intValue).toArray());
        if (fromPort != null) b.fromPort(fromPort.stream().mapToInt(Integer::intValue).toArray());
        if (toPort != null) b.toPort(toPort.stream().mapToInt(Integer::intValue).toArray());
        if (protocol != null) b.protocol(protocol.toArray(String[]::new));
        if (reason != null) b.reason(reason.toArray(String[]::new));
        if (source != null) b.source(source.toArray(String[]::new));
        if (netns != null) b.netns(netns.stream().mapToLong(Long::longValue).toArray());
        if (policy != null) b.policy(policy.toArray(String[]::new));
        if (policyNamespace != null) b.policyNamespace(policyNamespace.toArray(String[]::new));
        identityFilters(b, DropFilter.Builder.End.EITHER, namespace, pod, label, workload);
        identityFilters(b, DropFilter.Builder.End.FROM, fromNamespace, fromPod, fromLabel, fromWorkload);
        identityFilters(b, DropFilter.Builder.End.TO, toNamespace, toPod, toLabel, toWorkload);
        return b.build();
    }
}
