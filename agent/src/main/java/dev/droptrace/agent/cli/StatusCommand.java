package dev.droptrace.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.JournalReader;
import dev.droptrace.agent.output.JsonFormatter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code droptrace status}: sources, exact counters from the agent, and the journal's size and span. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show what is attached, event, loss and per-reason counters, and the journal's size and time span.")
public final class StatusCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--journal", paramLabel = "DIR", defaultValue = "/var/lib/droptrace/journal",
            description = "Journal directory (default: ${DEFAULT-VALUE}).")
    Path journal;
    @Option(names = {"-o", "--output"}, defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    String output;

    /** The journal's own figures. */
    record JournalSummary(String dir, long bytes, long events, long drops, String first, String last,
                          @com.fasterxml.jackson.annotation.JsonProperty("decode_errors") long decodeErrors) {}

    @Override
    public Integer call() throws Exception {
        if (!output.equals("text") && !output.equals("json")) throw new IllegalArgumentException("-o must be text or json");
        Optional<AgentStatus> agent = AgentStatus.read(journal);
        JournalSummary js = summarize(journal);
        Map<String, AgentStatus.SourceStatus> sources = new LinkedHashMap<>();
        boolean alive = agent.map(AgentStatus::alive).orElse(false);
        if (agent.isEmpty()) {
            sources.put("kernel", AgentStatus.SourceStatus.failed("no agent has written to this journal"));
        } else if (!alive) {
            for (String name : agent.get().sources().keySet()) {
                sources.put(name, AgentStatus.SourceStatus.failed("agent not running (pid " + agent.get().pid()
                        + ", last seen " + agent.get().updated() + ")"));
            }
        } else {
            sources.putAll(agent.get().sources());
        }
        PrintWriter out = spec.commandLine().getOut();
        if (output.equals("json")) {
            ObjectMapper json = new ObjectMapper();
            ObjectNode root = json.createObjectNode();
            ObjectNode a = root.putObject("agent");
            a.put("running", alive);
            agent.ifPresent(s -> a.put("pid", s.pid()).put("node", s.node()).put("started", s.started()).put("updated", s.updated()));
            root.set("sources", json.valueToTree(sources));
            root.put("events", agent.map(AgentStatus::events).orElse(0L));
            root.put("kernel_drops", agent.map(AgentStatus::kernelDrops).orElse(0L));
            root.put("drops", agent.map(AgentStatus::drops).orElse(0L));
            root.put("lost", agent.map(AgentStatus::lost).orElse(0L));
            root.put("missed", agent.map(AgentStatus::missed).orElse(0L));
            root.put("decode_errors", agent.map(AgentStatus::decodeErrors).orElse(0L));
            root.set("journal_errors", json.valueToTree(agent.map(AgentStatus::journalErrors).orElse(new AgentStatus.JournalErrors(0, 0))));
            root.set("evicted", json.valueToTree(agent.map(AgentStatus::evicted).orElse(new AgentStatus.Evicted(0, 0, 0))));
            root.set("refused", json.valueToTree(agent.map(AgentStatus::refused).orElse(new AgentStatus.Refused(0, 0))));
            agent.map(AgentStatus::aggregation).ifPresent(ag -> root.set("aggregation", json.valueToTree(ag)));
            agent.map(AgentStatus::retention).ifPresent(r -> root.set("retention", json.valueToTree(r)));
            root.set("by_reason", json.valueToTree(agent.map(AgentStatus::byReason).orElse(Map.of())));
            agent.ifPresent(st -> root.set("identities", json.valueToTree(st.identities())));
            agent.map(AgentStatus::pipeline).ifPresent(p -> root.set("pipeline", json.valueToTree(p)));
            agent.map(AgentStatus::sourceDetail).ifPresent(d -> d.forEach((name, m) -> root.set(name, json.valueToTree(m))));
            root.set("journal", json.valueToTree(js));
            out.println(json.writeValueAsString(root));
        } else {
            if (agent.isPresent()) {
                AgentStatus s = agent.get();
                out.printf("agent      %s, pid %d, node %s, started %s%n", alive ? "running" : "not running", s.pid(), s.node(), s.started());
            } else {
                out.println("agent      none has written to this journal");
            }
            for (Map.Entry<String, AgentStatus.SourceStatus> e : sources.entrySet()) {
                AgentStatus.SourceStatus st = e.getValue();
                out.printf("source     %-8s %s%s%s%n", e.getKey(), st.state(),
                        st.attachment() != null ? " (" + st.attachment() + ")" : "",
                        st.reason() != null ? ": " + st.reason() : "");
            }
            agent.ifPresent(s -> {
                out.printf("counters   events %d (%d drops)   kernel drops %d%n", s.events(), s.drops(), s.kernelDrops());
                AgentStatus.JournalErrors je = s.journalErrors() != null ? s.journalErrors() : new AgentStatus.JournalErrors(0, 0);
                AgentStatus.Evicted ev = s.evicted() != null ? s.evicted() : new AgentStatus.Evicted(0, 0, 0);
                AgentStatus.Refused rf = s.refused() != null ? s.refused() : new AgentStatus.Refused(0, 0);
                out.printf("loss       lost in ring %d   missed (program busy on the CPU) %d   decode errors %d   journal errors %d (%d drops)   refused at size limit %d (%d drops)%n",
                        s.lost(), s.missed(), s.decodeErrors(), je.records(), je.drops(), rf.records(), rf.drops());
                out.printf("evicted    %d files, %s, %d events%n", ev.files(), human(ev.bytes()), ev.events());
                AgentStatus.Aggregation ag = s.aggregation();
                if (ag != null) {
                    if (ag.enabled()) {
                        out.printf("aggregation every %s   ratio %.2f (%d drops / %d records)   flows %d   table full %d   pending %d%n",
                                ag.interval(), ag.ratio(), ag.drops(), ag.records(), ag.flows(), ag.tableFull(), ag.pending());
                    } else {
                        out.printf("aggregation off   (%d drops / %d records)%n", ag.drops(), ag.records());
                    }
                }
                if (s.retention() != null) {
                    out.printf("retention  %s   %s   %s files%n",
                            s.retention().maxBytes() > 0 ? human(s.retention().maxBytes()) : "no size limit",
                            s.retention().maxAge().equals("PT0S") ? "no age limit" : s.retention().maxAge(),
                            s.retention().rollCycle());
                }
                if (s.identities() != null) {
                    out.printf("identities %d known, %s%n", s.identities().known(),
                            s.identities().synced() ? "synced" : "not synced (no inventory or cluster answering yet)");
                }
                AgentStatus.Pipeline p = s.pipeline();
                if (p != null) {
                    out.printf("payloads   cilium %d (%d events, %d not journaled)   nflog %d (%d events, %d not journaled)   lost at full queue %d%n",
                            p.ciliumPayloads(), p.ciliumEvents(), p.ciliumIgnored(), p.nflogPayloads(), p.nflogEvents(),
                            p.nflogIgnored(), p.queueLost());
                    if (p.merging()) {
                        out.printf("merge      %d one-packet events (CNI + kernel)   CNI alone %d   kernel alone %d   early %d   pending %d%n",
                                p.merged(), p.cniAlone(), p.kernelAlone(), p.evictedEarly(), p.pending());
                    }
                }
                if (s.sourceDetail() != null) {
                    s.sourceDetail().forEach((name, m) -> out.printf("%-10s %s%n", name, m));
                }
                if (!s.byReason().isEmpty()) {
                    out.println("by reason");
                    s.byReason().entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                            .forEach(r -> out.printf("  %-32s %12d%n", r.getKey(), r.getValue()));
                }
            });
            out.printf("journal    %s   %s   %d events (%d drops)%s%s%n", js.dir(), human(js.bytes()), js.events(), js.drops(),
                    js.first() != null ? "   " + js.first() + " .. " + js.last() : "",
                    js.decodeErrors() > 0 ? "   " + js.decodeErrors() + " unreadable excerpts" : "");
        }
        out.flush();
        return 0;
    }

    static JournalSummary summarize(Path dir) throws IOException {
        long bytes = Files.isDirectory(dir) ? DropJournal.diskBytes(dir) : 0;
        long events = 0, drops = 0, first = 0, last = 0;
        long errors;
        try (JournalReader reader = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (reader.next(v)) {
                if (events == 0) first = v.wallNs();
                last = v.wallNs();
                events++;
                drops += v.count();
            }
            errors = reader.decodeErrors();
        }
        return new JournalSummary(dir.toAbsolutePath().toString(), bytes, events, drops,
                events > 0 ? JsonFormatter.time(first) : null, events > 0 ? JsonFormatter.time(last) : null, errors);
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        if (bytes < 1024 * 1024) return String.format("%.1f KiB", bytes / 1024.0);
        if (bytes < 1024L * 1024 * 1024) return String.format("%.1f MiB", bytes / (1024.0 * 1024));
        return String.format("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}
