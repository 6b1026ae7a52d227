package dev.droptrace.agent;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;

/**
 * What a running agent reports about itself, written once a second as {@code agent-status.json} in
 * its journal directory, so that {@code droptrace status} can read it without talking to the agent.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AgentStatus(
        long pid,
        String node,
        String started,
        String updated,
        boolean stopped,
        Map<String, SourceStatus> sources,
        long events,
        @JsonProperty("kernel_drops") long kernelDrops,
        long lost,
        @JsonProperty("decode_errors") long decodeErrors,
        @JsonProperty("by_reason") Map<String, Long> byReason,
        long drops,
        @JsonProperty("journal_errors") JournalErrors journalErrors,
        Evicted evicted,
        Refused refused,
        Aggregation aggregation,
        Retention retention,
        long missed,
        Identities identities,
        @JsonProperty("source_detail") Map<String, Map<String, Object>> sourceDetail,
        Pipeline pipeline) {

    /**
     * The payload sources' writer side: payloads and the events they became per source, payloads
     * that became none (allowed verdicts, traces, bad input), payloads lost at the full queue, and
     * one-packet-one-event merging: CNI drops journaled with the kernel's record of the packet,
     * alone, kernel records that waited in vain, records emitted early, records waiting.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Pipeline(@JsonProperty("cilium_payloads") long ciliumPayloads,
                           @JsonProperty("cilium_events") long ciliumEvents,
                           @JsonProperty("cilium_ignored") long ciliumIgnored,
                           @JsonProperty("nflog_payloads") long nflogPayloads,
                           @JsonProperty("nflog_events") long nflogEvents,
                           @JsonProperty("nflog_ignored") long nflogIgnored,
                           @JsonProperty("queue_lost") long queueLost,
                           boolean merging, long merged,
                           @JsonProperty("cni_alone") long cniAlone,
                           @JsonProperty("kernel_alone") long kernelAlone,
                           @JsonProperty("evicted_early") long evictedEarly,
                           long pending) {}

    /** The pod-identity cache: how many identities it knows and whether its sources have synced. */
    public record Identities(int known, boolean synced, @JsonProperty("updates_applied") long updatesApplied) {}

    /** Records the journal refused (disk full, I/O error) and the drops they stood for. */
    public record JournalErrors(long records, long drops) {}

    /**
     * Events the journal refused because its current cycle held its share (half) of the retention
     * size, and the drops they stood for: the price of a bounded journal in a storm that aggregation
     * cannot fold (many flows).
     */
    public record Refused(long records, long drops) {}

    /** What retention deleted since the agent started: cycle files, their bytes on disk, their events. */
    public record Evicted(long files, long bytes, long events) {}

    /** The retention policy in force. */
    public record Retention(@JsonProperty("max_bytes") long maxBytes, @JsonProperty("max_age") String maxAge,
                            @JsonProperty("roll_cycle") String rollCycle) {}

    /**
     * Per-flow aggregation: the interval (null when off), drops represented by the journaled kernel
     * records and the number of records (ratio = drops / records), drops folded into flow counts in
     * the kernel, records and drops made from flow counts, drops recorded one by one because the flow
     * table was full, flows in the last retired table, flushes, and drops awaiting the next flush.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Aggregation(boolean enabled, String interval, long drops, long records, double ratio,
                              @JsonProperty("kernel_aggregated") long kernelAggregated,
                              @JsonProperty("flow_records") long flowRecords,
                              @JsonProperty("flow_drops") long flowDrops,
                              @JsonProperty("table_full") long tableFull,
                              @JsonProperty("table_capacity") long tableCapacity,
                              long flows, long flushes, long pending) {}

    /** File name inside the journal directory. */
    public static final String FILE = "agent-status.json";
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One source: "attached" with where, or the reason it is not. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record SourceStatus(String state, String attachment, String reason) {
        public static SourceStatus attached(String attachment) {
            return new SourceStatus("attached", attachment, null);
        }

        public static SourceStatus failed(String reason) {
            return new SourceStatus("not attached", null, reason);
        }
    }

    /** Writes atomically (temp file and rename), so a reader never sees half a file. */
    public void write(Path journalDir) throws IOException {
        Path tmp = journalDir.resolve(FILE + ".tmp");
        JSON.writeValue(tmp.toFile(), this);
        Files.move(tmp, journalDir.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static Optional<AgentStatus> read(Path journalDir) throws IOException {
        Path f = journalDir.resolve(FILE);
        if (!Files.exists(f)) return Optional.empty();
        return Optional.of(JSON.readValue(f.toFile(), AgentStatus.class));
    }

    /** Whether the process that wrote this status is still alive and has not stopped. */
    public boolean alive() {
        return !stopped && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
