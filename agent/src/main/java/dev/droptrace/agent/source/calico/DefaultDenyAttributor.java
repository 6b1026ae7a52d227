package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.journal.DictionaryKind;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.pipeline.DropAttributor;
import org.agrona.collections.Int2IntHashMap;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Names the Kubernetes default deny behind a kernel {@code NETFILTER_DROP} between two pods that no
 * CNI record explained (Calico without flow logs renders no NFLOG rules, and other network-policy
 * implementations drop silently): the NetworkPolicies that isolate the destination pod for ingress,
 * or else the source pod for egress (a record with a known direction looks only there). The policy
 * text is {@link CalicoPolicyJson#defaultDeny} without a prefix.
 *
 * <p>Acts only on records whose reason is the kernel's NETFILTER_DROP code, that carry no policy yet,
 * and whose both ends are pods the {@link IdentityCache} knows; leaves every other record alone.
 * Policy ids are cached per pod version and direction and forgotten when the policy snapshot changes,
 * so steady state allocates nothing. Writer thread only.
 */
public final class DefaultDenyAttributor implements DropAttributor {
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    /** Cached "this pod is not isolated that way". */
    private static final int NONE = -1;

    private final DropJournal journal;
    private final IdentityCache cache;
    private final Supplier<KnownPolicies> policies;
    private final long netfilterDropCode;
    private final Int2IntHashMap ingress = new Int2IntHashMap(0);
    private final Int2IntHashMap egress = new Int2IntHashMap(0);
    private KnownPolicies known;
    private final AtomicLong attributed = new AtomicLong();

    /**
     * @param netfilterDropCode the kernel's {@code SKB_DROP_REASON_NETFILTER_DROP} value on this
     *                          kernel (from its BTF), the only reason acted on
     */
    public DefaultDenyAttributor(DropJournal journal, IdentityCache cache, Supplier<KnownPolicies> policies,
                                 long netfilterDropCode) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.cache = Objects.requireNonNull(cache, "cache");
        this.policies = Objects.requireNonNull(policies, "policies");
        this.netfilterDropCode = netfilterDropCode;
    }

    @Override
    public void attribute(DropRecord r) {
        if (r.reasonCode() != netfilterDropCode || r.policyId() != 0) {
            return;
        }
        KnownPolicies k = policies.get();
        if (k != known) {
            known = k;
            ingress.clear();
            egress.clear();
        }
        if (k == null) return;
        int src = local(r, DropRecord.SRC_IP_OFFSET);
        int dst = local(r, DropRecord.DST_IP_OFFSET);
        Identity srcPod = pod(src);
        Identity dstPod = pod(dst);
        if (srcPod == null || dstPod == null) {
            return;
        }
        Direction d = Direction.fromCode(r.direction());
        int id = 0;
        if (d != Direction.EGRESS) id = policyId(ingress, dst, dstPod, Direction.INGRESS);
        if ((id == NONE && d == Direction.UNKNOWN) || d == Direction.EGRESS) id = policyId(egress, src, srcPod, Direction.EGRESS);
        if (id > 0) {
            r.policyId(id);
            attributed.setRelease(attributed.getPlain() + 1);
        }
    }

    private int policyId(Int2IntHashMap ids, int local, Identity pod, Direction direction) {
        int id = ids.get(local);
        if (id != 0) return id;
        List<KnownPolicies.NetworkPolicyEntry> by = known.isolating(pod.namespace(), pod.labels(), direction);
        id = by.isEmpty() ? NONE : journal.intern(DictionaryKind.POLICY, CalicoPolicyJson.defaultDeny(direction, by, null));
        ids.put(local, id);
        return id;
    }

    private Identity pod(int local) {
        if (local <= IdentityCache.WORLD) return null;
        Identity id = cache.identity(local);
        return id != null && id.pod() != null ? id : null;
    }

    private int local(DropRecord r, int field) {
        MemorySegment seg = r.segment();
        long at = r.offset() + field;
        return switch (r.family()) {
            case DropRecord.FAMILY_IPV4 -> cache.lookupIpv4(seg.get(BE_INT, at));
            case DropRecord.FAMILY_IPV6 -> cache.lookupIpv6(seg, at);
            default -> 0;
        };
    }

    /** Kernel records given a default-deny policy. */
    public long attributed() {
        return attributed.get();
    }
}
