package dev.droptrace.agent;

import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.RetentionPolicy;
import dev.droptrace.agent.pipeline.EventPipeline;
import dev.droptrace.agent.pipeline.PacketMerger;
import dev.droptrace.agent.pipeline.PayloadQueue;
import dev.droptrace.agent.pipeline.PayloadSource;
import dev.droptrace.agent.pipeline.PayloadSources;
import dev.droptrace.agent.pipeline.SourceContext;
import dev.droptrace.agent.pipeline.SourceOptions;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import dev.droptrace.agent.source.kernel.KernelDropSource;
import dev.droptrace.agent.source.kernel.KernelSourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The node agent: opens the journal, starts the requested drop sources, and writes its status once a
 * second. Close detaches every source and closes the journal.
 */
public final class Agent implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Agent.class);

    /**
     * What to run: the journal (directory, roll cycle, retention), the node name, the sources, the
     * pod-identity feed ({@code kubeconfig} or {@code inventory}, both may be null: then the
     * in-cluster service account when run as a pod, nothing otherwise), and the per-flow aggregation
     * interval of the kernel source (0: a record per drop).
     */
    public record Config(Path journalDir, String node, Set<String> sources, Path kubeconfig, Path inventory,
                         long aggregateIntervalNs, RetentionPolicy retention, RollCycle rollCycle,
                         SourceOptions sourceOptions) {
        public Config(Path journalDir, String node, Set<String> sources, Path kubeconfig, Path inventory,
                      long aggregateIntervalNs, RetentionPolicy retention, RollCycle rollCycle) {
            this(journalDir, node, sources, kubeconfig, inventory, aggregateIntervalNs, retention, rollCycle, SourceOptions.DEFAULTS);
        }

        /** Defaults: no identity feed, 1 s aggregation, 1 GiB / 24 h retention, hourly files. */
        public Config(Path journalDir, String node, Set<String> sources) {
            this(journalDir, node, sources, null, null);
        }

        /** Defaults but for the identity feed. */
        public Config(Path journalDir, String node, Set<String> sources, Path kubeconfig, Path inventory) {
            this(journalDir, node, sources, kubeconfig, inventory, KernelDropSource.DEFAULT_AGGREGATE_INTERVAL_NS,
                    RetentionPolicy.DEFAULT, RollCycles.FAST_HOURLY);
        }

        public Config withAggregateInterval(long ns) {
            return new Config(journalDir, node, sources, kubeconfig, inventory, ns, retention, rollCycle, sourceOptions);
        }

        public Config withRetention(RetentionPolicy r) {
            return new Config(journalDir, node, sources, kubeconfig, inventory, aggregateIntervalNs, r, rollCycle, sourceOptions);
        }

        public Config withRollCycle(RollCycle rc) {
            return new Config(journalDir, node, sources, kubeconfig, inventory, aggregateIntervalNs, retention, rc, sourceOptions);
        }

        public Config withSourceOptions(SourceOptions o) {
            return new Config(journalDir, node, sources, kubeconfig, inventory, aggregateIntervalNs, retention, rollCycle, o);
        }
    }

    private final Config config;
    private final DropJournal journal;
    private final Map<String, AgentStatus.SourceStatus> sourceStates = new LinkedHashMap<>();
    private final String started = Instant.now().toString();
    private final ScheduledExecutorService statusWriter;
    private KernelDropSource kernel;
    private EventPipeline pipeline;
    private final Map<String, PayloadSource> payloadSources = new LinkedHashMap<>();
    private IdentityCache identities;
    private volatile boolean closed;

    private Agent(Config config, DropJournal journal) {
        this.config = config;
        this.journal = journal;
        this.statusWriter = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("status-writer").daemon(true).unstarted(r));
    }

    /** Opens the journal and starts the sources; a source that cannot attach is reported, not fatal. */
    public static Agent start(Config config) {
        DropJournal journal = DropJournal.open(config.journalDir(), config.rollCycle(), config.retention());
        Agent agent = new Agent(config, journal);
        try {
            // does not wait for the API server: capture starts at once, names appear when it answers
            agent.identities = IdentityCache.start(config.node(), config.kubeconfig(), config.inventory());
            agent.startSources();
            agent.writeStatus();
            agent.statusWriter.scheduleAtFixedRate(agent::writeStatusQuietly, 1, 1, TimeUnit.SECONDS);
            return agent;
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
    }

    private void startSources() {
        for (String source : config.sources()) {
            if (!Set.of("kernel", "cilium", "calico").contains(source)) {
                throw new IllegalArgumentException("unknown source " + source + " (known: kernel, cilium, calico)");
            }
        }
        if (config.sources().contains("kernel")) {
            try {
                kernel = KernelDropSource.open(journal, config.node(), identities, config.aggregateIntervalNs());
                sourceStates.put("kernel", AgentStatus.SourceStatus.attached(kernel.attachedAs()));
                LOG.info("kernel source attached to {}", kernel.attachedAs());
            } catch (KernelSourceException e) {
                sourceStates.put("kernel", AgentStatus.SourceStatus.failed(e.getMessage()));
                LOG.debug("kernel source: {}", e.getMessage());
            }
        }
        pipeline = new EventPipeline(journal, new PayloadQueue());
        KernelDropSource k = kernel;
        SourceContext ctx = new SourceContext(journal, pipeline, identities, config.node(), config.kubeconfig(),
                config.sourceOptions(), name -> k == null ? -1 : k.reasonCode(name));
        for (String name : List.of("cilium", "calico")) {
            if (!config.sources().contains(name)) continue;
            try {
                PayloadSource s = PayloadSources.open(name, ctx);
                payloadSources.put(name, s);
                sourceStates.put(name, s.attached() ? AgentStatus.SourceStatus.attached(s.attachment())
                        : AgentStatus.SourceStatus.failed(s.attachment()));
                LOG.info("{} source: {}", name, s.attachment());
            } catch (RuntimeException e) {
                sourceStates.put(name, AgentStatus.SourceStatus.failed(e.getMessage()));
                LOG.warn("{} source: {}", name, e.getMessage());
            }
        }
        if (kernel != null) {
            if (!payloadSources.isEmpty()) {
                // one packet, one event: kernel records of the reasons the CNI drops give wait for its record
                PacketMerger merger = pipeline.enableMerge(config.aggregateIntervalNs() + EventPipeline.MERGE_SLACK_NS);
                for (PayloadSource s : payloadSources.values()) {
                    if (s.attributor() != null) pipeline.attributor(s.attributor());
                    for (String reason : s.kernelMergeReasons()) {
                        int code = ctx.kernelReasonCode().applyAsInt(reason);
                        if (code >= 0) merger.mergeKernelReason(code);
                    }
                }
                kernel.drive(pipeline);
            }
            kernel.start();
        } else if (!payloadSources.isEmpty()) {
            pipeline.start();
        }
    }

    public Config config() {
        return config;
    }

    /** Whether at least one source is attached. */
    public boolean anyAttached() {
        return sourceStates.values().stream().anyMatch(s -> s.state().equals("attached"));
    }

    public Map<String, AgentStatus.SourceStatus> sourceStates() {
        return Map.copyOf(sourceStates);
    }

    /** Why a source's thread stopped, if one has. */
    public Throwable sourceFailure() {
        return kernel == null ? null : kernel.failure();
    }

    /** The current status, with exact counters read from the kernel. */
    public AgentStatus status() {
        long events = 0, kernelDrops = 0, lost = 0, decodeErrors = 0, drops = 0, journalErrors = 0, journalErrorDrops = 0;
        long refusedDrops = 0, missed = 0;
        AgentStatus.Aggregation aggregation = null;
        Map<String, Long> byReason = new TreeMap<>();
        Map<String, AgentStatus.SourceStatus> states = new LinkedHashMap<>(sourceStates);
        if (kernel != null) {
            KernelDropSource.KernelCounters c = kernel.counters();
            events += c.events();
            kernelDrops += c.seen();
            lost += c.lost();
            decodeErrors += c.decodeErrors();
            byReason.putAll(c.byReason());
            drops += c.drops();
            journalErrors += c.journalErrors();
            journalErrorDrops += c.journalErrorDrops();
            refusedDrops += c.refusedDrops();
            missed += c.missed();
            boolean on = c.aggregateIntervalNs() > 0;
            aggregation = new AgentStatus.Aggregation(on, on ? java.time.Duration.ofNanos(c.aggregateIntervalNs()).toString() : null,
                    c.drops(), c.events(), c.events() == 0 ? 0 : Math.round(100.0 * c.drops() / c.events()) / 100.0,
                    c.aggregated(), c.flowRecords(), c.flowDrops(), c.flowTableFull(), c.flowCapacity(),
                    c.activeFlows(), c.flushes(), c.pending());
            if (kernel.failure() != null) {
                states.put("kernel", AgentStatus.SourceStatus.failed("stopped: " + kernel.failure().getMessage()));
            }
        }
        AgentStatus.Pipeline pipe = null;
        Map<String, Map<String, Object>> detail = null;
        if (pipeline != null && !payloadSources.isEmpty()) {
            EventPipeline.Counters p = pipeline.counters();
            events += p.events();
            drops += p.drops();
            journalErrors += p.journalErrors();
            refusedDrops += p.refusedDrops();
            pipe = new AgentStatus.Pipeline(p.ciliumPayloads(), p.ciliumEvents(), p.ciliumIgnored(), p.nflogPayloads(),
                    p.nflogEvents(), p.nflogIgnored(), p.queueLost(), p.merging(), p.merged(), p.cniAlone(),
                    p.kernelAlone(), p.evictedEarly(), p.pending());
            detail = new LinkedHashMap<>();
            for (PayloadSource s : payloadSources.values()) {
                try {
                    detail.put(s.name(), s.status());
                    states.put(s.name(), s.attached() ? AgentStatus.SourceStatus.attached(s.attachment())
                            : AgentStatus.SourceStatus.failed(s.attachment()));
                } catch (RuntimeException e) {
                    detail.put(s.name(), Map.of("error", String.valueOf(e.getMessage())));
                }
            }
            if (pipeline.failure() != null) {
                states.put("pipeline", AgentStatus.SourceStatus.failed("stopped: " + pipeline.failure().getMessage()));
            }
        }
        RetentionPolicy rp = journal.retention();
        return new AgentStatus(ProcessHandle.current().pid(), config.node(), started, Instant.now().toString(),
                closed, states, events, kernelDrops, lost, decodeErrors, byReason, drops,
                new AgentStatus.JournalErrors(journalErrors, journalErrorDrops),
                new AgentStatus.Evicted(journal.evictedFiles(), journal.evictedBytes(), journal.evictedEvents()),
                new AgentStatus.Refused(journal.refusedEvents(), refusedDrops),
                aggregation,
                new AgentStatus.Retention(rp.maxBytes(), rp.maxAge().toString(), journal.rollCycleName()), missed,
                identities == null ? null : new AgentStatus.Identities(identities.size(), identities.complete(), identities.updatesApplied()),
                detail, pipe);
    }

    private void writeStatus() {
        try {
            status().write(config.journalDir());
        } catch (IOException e) {
            LOG.warn("cannot write {}: {}", AgentStatus.FILE, e.getMessage());
        }
    }

    private void writeStatusQuietly() {
        try {
            if (!closed) journal.enforceRetention(); // age applies also while nothing is written
            writeStatus();
        } catch (RuntimeException e) {
            LOG.warn("status: {}", e.getMessage());
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        statusWriter.shutdownNow();
        try {
            statusWriter.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (PayloadSource s : payloadSources.values()) s.close(); // transports first: what they queued is still journaled
        if (kernel != null) kernel.stop(); // its thread polls the pipeline a last time
        if (pipeline != null) pipeline.close();
        closed = true;
        writeStatusQuietly(); // the last figures, marked stopped, while the maps still exist
        if (kernel != null) kernel.close();
        if (identities != null) identities.close();
        journal.handOffToCurrentThread(); // the drain thread has ended
        journal.close();
    }
}
