package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.identity.KubernetesIdentitySource;
import dev.droptrace.agent.pipeline.EventPipeline;
import dev.droptrace.agent.pipeline.PayloadSource;
import dev.droptrace.agent.pipeline.SourceContext;
import dev.droptrace.agent.pipeline.SourceOptions;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Cilium source: Cilium's datapath notifications from cilium-agent's monitor socket (default) or
 * from the pinned perf ring (opt-in), queued raw to the journal writer, where
 * {@link CiliumPayloadTranslator} turns them into events merged with the kernel's record of the packet.
 */
public final class CiliumDropSource implements PayloadSource, CiliumPayloadSink {
    private final EventPipeline pipeline;
    private final CiliumPayloadTranslator translator;
    private final CiliumIdentityTable table;
    private final CiliumIdentitySource identities;
    private final AtomicLong lostSamples = new AtomicLong();
    private final AtomicLong queued = new AtomicLong();
    private MonitorSocketClient socket;
    private CiliumRingReader ring;

    private CiliumDropSource(EventPipeline pipeline, CiliumPayloadTranslator translator, CiliumIdentityTable table,
                             CiliumIdentitySource identities) {
        this.pipeline = pipeline;
        this.translator = translator;
        this.table = table;
        this.identities = identities;
    }

    /** Registers the translator and starts the transport: the ring when {@code --cilium-ring} is given, the socket otherwise. */
    public static CiliumDropSource open(SourceContext ctx) {
        SourceOptions o = ctx.options();
        CiliumIdentityTable table = new CiliumIdentityTable();
        CiliumIdentitySource ids = null;
        CiliumPayloadTranslator t;
        try {
            // CiliumIdentity and CiliumEndpoint objects name the pods; absent CRDs or no cluster: the IP cache does
            if (ctx.hasCluster()) ids = CiliumIdentitySource.start(KubernetesIdentitySource.client(ctx.kubeconfig()), table, true);
            t = new CiliumPayloadTranslator(ctx, table);
        } catch (RuntimeException e) {
            if (ids != null) ids.close();
            table.close();
            throw e;
        }
        CiliumDropSource source = new CiliumDropSource(ctx.pipeline(), t, table, ids);
        ctx.pipeline().translator(EventPipeline.TYPE_CILIUM, t);
        try {
            if (o.ciliumRing() != null) {
                source.ring = CiliumRingReader.open(o.ciliumRing(), source);
            } else {
                source.socket = MonitorSocketClient.start(o.ciliumSocket(), source);
            }
            return source;
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    @Override
    public void onSample(MemorySegment data, long offset, int length, int cpu) {
        // the payload is copied into the queue; a full queue counts it as lost there
        if (pipeline.queue().offer(EventPipeline.TYPE_CILIUM, data, offset, length, cpu)) queued.incrementAndGet();
    }

    @Override
    public void onLost(int cpu, long lost) {
        lostSamples.addAndGet(lost);
    }

    @Override
    public String name() {
        return "cilium";
    }

    @Override
    public String attachment() {
        return ring != null ? "ring: " + ring.state() : socket != null ? "monitor socket: " + socket.state() : "closed";
    }

    @Override
    public boolean attached() {
        return ring != null ? ring.running() : socket != null;
    }

    @Override
    public Set<String> kernelMergeReasons() {
        return CiliumPayloadTranslator.KERNEL_MERGE_REASONS;
    }

    @Override
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("route", ring != null ? "ring" : "socket");
        m.put("state", attachment());
        m.put("queued", queued.get());
        m.put("lost", lostSamples.get()); // samples the datapath lost (perf ring full), as reported by the ring or cilium-agent
        if (socket != null) {
            m.put("connects", socket.connects());
            m.put("disconnects", socket.disconnects());
            m.put("stream_errors", socket.decodeErrors());
        }
        if (ring != null) {
            m.put("cpus", ring.cpus());
            m.put("unknown_records", ring.unknownRecords());
            m.put("malformed_records", ring.malformedRecords());
        }
        m.putAll(translator.status());
        if (identities != null) {
            m.put("identities_synced", identities.synced().isDone());
            m.put("identity_api_errors", identities.apiErrors());
        }
        return m;
    }

    @Override
    public synchronized void close() {
        if (socket != null) socket.close();
        if (ring != null) ring.close();
        if (identities != null) identities.close();
        table.close();
    }
}
