package dev.droptrace.agent.cli;

import dev.droptrace.agent.Agent;
import dev.droptrace.agent.AgentStatus;
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
            description = "Drop sources to run (default: ${DEFAULT-VALUE}). Known: kernel.")
    List<String> sources;

    @Option(names = "--kubeconfig", paramLabel = "FILE",
            description = "Kubeconfig for pod identity (default: the in-cluster service account when run as a pod).")
    Path kubeconfig;

    @Option(names = "--inventory", paramLabel = "FILE",
            description = "No cluster: a YAML list of pods (namespace, name, labels, workload, ips, netns) that names the ends of drops.")
    Path inventory;

    @Override
    public Integer call() throws Exception {
        String nodeName = node != null ? node : defaultNode();
        CountDownLatch stopped = new CountDownLatch(1);
        Agent agent = Agent.start(new Agent.Config(journal, nodeName, new LinkedHashSet<>(sources), kubeconfig, inventory));
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
        System.err.println("droptrace agent: journal " + journal.toAbsolutePath() + ", node " + nodeName);
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
