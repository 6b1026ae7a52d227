package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.journal.DropJournal;

import java.nio.file.Path;
import java.util.function.ToIntFunction;

/**
 * What a payload source needs from the agent: the journal (its translator interns dictionary text
 * on the writer thread), the pipeline its transport feeds, the pod-identity cache (may be null), the
 * node name, the kubeconfig for its own informers (null: in-cluster when run as a pod, none otherwise),
 * the command-line options, and the running kernel's code of a drop reason name (-1 when the kernel
 * source does not run, or the kernel has no such reason).
 */
public record SourceContext(DropJournal journal, EventPipeline pipeline, IdentityCache identities, String node,
                            Path kubeconfig, SourceOptions options, ToIntFunction<String> kernelReasonCode) {
    /** Without the kernel source: no kernel reason codes. */
    public SourceContext(DropJournal journal, EventPipeline pipeline, IdentityCache identities, String node,
                         Path kubeconfig, SourceOptions options) {
        this(journal, pipeline, identities, node, kubeconfig, options, name -> -1);
    }

    /** Whether a Kubernetes API is configured (a kubeconfig, or the in-cluster service account). */
    public boolean hasCluster() {
        return kubeconfig != null || System.getenv("KUBERNETES_SERVICE_HOST") != null;
    }
}
