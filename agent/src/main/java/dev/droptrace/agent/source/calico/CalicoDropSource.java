package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.identity.KubernetesIdentitySource;
import dev.droptrace.agent.pipeline.DropAttributor;
import dev.droptrace.agent.pipeline.EventPipeline;
import dev.droptrace.agent.pipeline.PayloadSource;
import dev.droptrace.agent.pipeline.SourceContext;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The Calico source: Calico's NFLOG records (groups from {@code --nflog-groups}) read on the reader's
 * thread and queued raw to the journal writer, where {@link CalicoPayloadTranslator} names the policy
 * and the deny is merged with the kernel's NETFILTER_DROP of the same packet. A group another
 * listener holds is reported in the attachment line and status, never taken.
 */
public final class CalicoDropSource implements PayloadSource, NflogMessageSink {
    private final EventPipeline pipeline;
    private final CalicoPayloadTranslator translator;
    private final KubernetesPolicySource policies;
    private final DropAttributor attributor;
    private final AtomicLong queued = new AtomicLong();
    private NflogSocket socket;
    private NflogReader reader;

    private CalicoDropSource(EventPipeline pipeline, CalicoPayloadTranslator translator, KubernetesPolicySource policies,
                             DropAttributor attributor) {
        this.pipeline = pipeline;
        this.translator = translator;
        this.policies = policies;
        this.attributor = attributor;
    }

    /**
     * Registers the translator, binds the groups it can and starts reading. Kernel NETFILTER_DROPs are
     * attributed to isolating policies only when the kernel source runs (it knows the reason's code).
     */
    public static CalicoDropSource open(SourceContext ctx) {
        int netfilterDropCode = ctx.kernelReasonCode().applyAsInt("NETFILTER_DROP");
        // the Kubernetes and Calico policies resolve hashed prefixes and name what isolates a pod
        KubernetesPolicySource policies = ctx.hasCluster()
                ? KubernetesPolicySource.start(KubernetesIdentitySource.client(ctx.kubeconfig()), true) : null;
        Supplier<KnownPolicies> known = policies != null ? policies : () -> KnownPolicies.EMPTY;
        CalicoPayloadTranslator t = new CalicoPayloadTranslator(ctx, known);
        DropAttributor attributor = ctx.identities() != null && netfilterDropCode >= 0
                ? new DefaultDenyAttributor(ctx.journal(), ctx.identities(), known, netfilterDropCode) : null;
        CalicoDropSource source = new CalicoDropSource(ctx.pipeline(), t, policies, attributor);
        ctx.pipeline().translator(EventPipeline.TYPE_NFLOG, t);
        try {
            NflogSocket.Settings settings = NflogSocket.Settings.forGroups(ctx.options().nflogGroups());
            source.socket = ctx.options().nflogNetns() == null ? NflogSocket.open(settings)
                    : openIn(ctx.options().nflogNetns(), settings);
            if (!source.socket.boundGroups().isEmpty()) source.reader = NflogReader.start(source.socket, source);
            return source;
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    private static NflogSocket openIn(String netns, NflogSocket.Settings settings) {
        try {
            return NflogSocket.openIn(netns, settings);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("cannot open NFLOG in network namespace " + netns + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void onPacket(MemorySegment buf, long offset, int length) {
        if (pipeline.queue().offer(EventPipeline.TYPE_NFLOG, buf, offset, length, 0)) queued.incrementAndGet();
    }

    @Override
    public String name() {
        return "calico";
    }

    @Override
    public String attachment() {
        return socket == null ? "closed" : socket.state();
    }

    @Override
    public boolean attached() {
        return reader != null && reader.isRunning();
    }

    @Override
    public Set<String> kernelMergeReasons() {
        return CalicoPayloadTranslator.KERNEL_MERGE_REASONS;
    }

    @Override
    public DropAttributor attributor() {
        return attributor;
    }

    @Override
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("state", attachment());
        if (socket != null) {
            Map<String, Object> groups = new LinkedHashMap<>();
            socket.groups().forEach((g, st) -> groups.put(Integer.toString(g), st.describe()));
            m.put("groups", groups);
        }
        m.put("queued", queued.get());
        if (reader != null) {
            m.put("datagrams", reader.datagrams());
            m.put("packets", reader.packets());
            m.put("lost_overruns", reader.overruns()); // ENOBUFS: the socket buffer overflowed, records lost
            m.put("truncated", reader.truncatedDatagrams());
            m.put("malformed", reader.malformed());
        }
        m.putAll(translator.status());
        if (policies != null) m.putAll(policies.status());
        return m;
    }

    @Override
    public synchronized void close() {
        if (reader != null) reader.close();
        if (socket != null) socket.close();
        if (policies != null) policies.close();
    }
}
