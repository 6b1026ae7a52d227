package dev.droptrace.agent.cli;

import dev.droptrace.agent.Agent;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.journal.RetentionPolicy;
import dev.droptrace.agent.pipeline.SourceOptions;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code droptrace agent}: runs the node agent until SIGTERM or Ctrl-C. */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = "Run the node agent: capture drops from the sources and journal them.")
public final class AgentCommand implements Callable<Integer> {
    @Option(names = "--journal", paramLabel = "DIR", defaultValue = "/var/lib/droptrace/journal",
            description = "Journal directory (default: ${DEFAULT-VALUE}).")
    Path journal;

    @Option(names = "--node", paramLabel = "NAME", description = "Node name in events (default: the host name).")
    String node;

    @Option(names = "--sources", split = ",", paramLabel = "SOURCE", defaultValue = "kernel",
            description = "Drop sources to run, comma-separated (default: ${DEFAULT-VALUE}). Known: kernel, cilium, calico.")
    List<String> sources;

    @Option(names = "--cilium-socket", paramLabel = "PATH", defaultValue = "/var/run/cilium/monitor1_2.sock",
            description = "Cilium source, default route: cilium-agent's monitor socket (default: ${DEFAULT-VALUE}). "
                    + "Shares the datapath's events with cilium-agent and Hubble; reconnects when cilium-agent restarts.")
    Path ciliumSocket;

    @Option(names = "--cilium-ring", paramLabel = "PATH",
            description = "Cilium source, opt-in route: read the pinned cilium_events perf ring itself "
                    + "(usually /sys/fs/bpf/tc/globals/cilium_events) instead of the monitor socket. "
                    + "Only where cilium-agent does NOT read the ring. "
                    + dev.droptrace.agent.source.cilium.CiliumRingReader.COEXISTENCE_WARNING)
    Path ciliumRing;

    @Option(names = "--cilium-version", paramLabel = "MAJOR.MINOR",
            description = "The Cilium release on this node (for example 1.16), which settles the header length of "
                    + "drop and policy-verdict messages whose version byte is ambiguous (32/36/40 bytes). "
                    + "Default: worked out from each message's size.")
    String ciliumVersion;

    @Option(names = "--cilium-allowed", description = "Also journal allowed Cilium policy verdicts (default: counted only).")
    boolean ciliumAllowed;

    @Option(names = "--nflog-groups", split = ",", paramLabel = "GROUP", defaultValue = "1,2",
            description = "Calico source: NFLOG groups to listen on (default: ${DEFAULT-VALUE}; Calico logs ingress to 1, egress to 2). "
                    + "A group another listener holds (calico-node's flow logs) is reported, never taken.")
    List<Integer> nflogGroups;

    @Option(names = "--nflog-netns", paramLabel = "NAME", hidden = true,
            description = "Listen to NFLOG in this named network namespace instead of the agent's own (tests).")
    String nflogNetns;

    @Option(names = "--calico-allowed", description = "Also journal Calico allow and pass records (default: counted only).")
    boolean calicoAllowed;

    @Option(names = "--kubeconfig", paramLabel = "FILE",
            description = "Kubeconfig for pod identity (default: the in-cluster service account when run as a pod).")
    Path kubeconfig;

    @Option(names = "--inventory", paramLabel = "FILE",
            description = "No cluster: a YAML list of pods (namespace, name, labels, workload, ips, netns) that names the ends of drops.")
    Path inventory;

    @Option(names = "--aggregate-interval", paramLabel = "DURATION", defaultValue = "1s",
            description = "Per-flow aggregation in the kernel: the first drop of a flow is journaled at once, "
                    + "repeats as one record with a count per interval (default: ${DEFAULT-VALUE}; 0: off).")
    String aggregateInterval;

    @Option(names = "--no-aggregate", description = "Journal every drop as its own record (same as --aggregate-interval 0).")
    boolean noAggregate;

    @Option(names = "--retention-size", paramLabel = "SIZE", defaultValue = "1GiB",
            description = "Evict the oldest journal files while the journal is larger (default: ${DEFAULT-VALUE}; 0: no limit). "
                    + "The current file is never evicted, so the journal may exceed this by one file.")
    String retentionSize;

    @Option(names = "--retention-age", paramLabel = "DURATION", defaultValue = "24h",
            description = "Evict journal files older than this (default: ${DEFAULT-VALUE}; 0: no limit).")
    String retentionAge;

    @Option(names = "--roll-cycle", paramLabel = "NAME", defaultValue = "FAST_HOURLY", hidden = true,
            description = "Chronicle roll cycle of a new journal (tests: TEST_SECONDLY).")
    String rollCycle;

    /** The agent configuration the options describe. */
    Agent.Config config(String nodeName) {
        long interval = noAggregate ? 0 : TimeArg.duration(aggregateInterval).toNanos();
        RetentionPolicy retention = new RetentionPolicy(TimeArg.size(retentionSize), TimeArg.duration(retentionAge));
        return new Agent.Config(journal, nodeName, new LinkedHashSet<>(sources), kubeconfig, inventory)
                .withAggregateInterval(interval).withRetention(retention).withRollCycle(rollCycle(rollCycle))
                .withSourceOptions(new SourceOptions(ciliumSocket, ciliumRing,
                        ciliumVersion == null ? 0 : dev.droptrace.agent.source.cilium.CiliumVersion.parse(ciliumVersion).code(), ciliumAllowed,
                        nflogGroups, calicoAllowed, nflogNetns));
    }

    static RollCycle rollCycle(String name) {
        for (RollCycles rc : RollCycles.values()) if (rc.name().equalsIgnoreCase(name)) return rc;
        for (TestRollCycles rc : TestRollCycles.values()) if (rc.name().equalsIgnoreCase(name)) return rc;
        throw new IllegalArgumentException("unknown roll cycle " + name);
    }

    @Override
    public Integer call() throws Exception {
        String nodeName = node != null ? node : defaultNode();
        CountDownLatch stopped = new CountDownLatch(1);
        Agent agent = Agent.start(config(nodeName));
        for (Map.Entry<String, AgentStatus.SourceStatus> s : agent.sourceStates().entrySet()) {
            AgentStatus.SourceStatus st = s.getValue();
            System.err.println("droptrace agent: " + s.getKey() + " " + st.state()
                    + (st.attachment() != null ? " (" + st.attachment() + ")" : "")
                    + (st.reason() != null ? ": " + st.reason() : ""));
        }
        if (!agent.anyAttached()) {
            agent.close();
            return 2;
        }
        Agent.Config cfg = agent.config();
        System.err.println("droptrace agent: journal " + journal.toAbsolutePath() + ", node " + nodeName
                + ", aggregation " + (cfg.aggregateIntervalNs() > 0 ? java.time.Duration.ofNanos(cfg.aggregateIntervalNs()) : "off")
                + ", retention " + (cfg.retention().maxBytes() > 0 ? StatusCommand.human(cfg.retention().maxBytes()) : "unbounded")
                + " / " + (cfg.retention().maxAge().isZero() ? "forever" : cfg.retention().maxAge()));
        Thread hook = new Thread(() -> {
            agent.close();
            stopped.countDown();
        }, "agent-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        while (!stopped.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
            Throwable failure = agent.sourceFailure();
            if (failure != null) {
                System.err.println("droptrace agent: source failed: " + Main.oneLine(failure));
                return 3;
            }
        }
        return 0;
    }

    static String defaultNode() {
        String env = System.getenv("NODE_NAME");
        if (env != null && !env.isBlank()) return env;
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "localhost";
        }
    }
}
