package dev.droptrace.agent.event;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One drop at the edge: a private copy of the 128-byte record plus the strings its dictionary ids
 * resolve to. Readers fill a view per event and may reuse it; formatters and filters read it.
 * Unlike {@link DropRecord} this class allocates (strings, parsed identities) and is not meant for
 * the capture path.
 *
 * <p>Numeric fields are read and written through {@link #record()}. The JSON texts of identities
 * and policy are parsed lazily; a text that does not parse yields null.
 */
public final class DropView {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private static final TypeReference<Map<String, String>> LABELS = new TypeReference<>() {
    };

    private final byte[] bytes = new byte[DropRecord.SIZE];
    private final MemorySegment segment = MemorySegment.ofArray(bytes);
    private final DropRecord record = new DropRecord().wrap(segment, 0);
    private final byte[] ip = new byte[DropRecord.IP_SIZE];

    private long index = -1;
    private String reasonName;
    private String node;
    private String interfaceName;
    private String locationName;
    private String srcIdentityJson;
    private String dstIdentityJson;
    private String policyJson;
    private String detailJson;
    private String kernelReasonName;
    private CiliumVerdict cilium;
    private boolean ciliumParsed;

    private boolean srcParsed;
    private boolean dstParsed;
    private boolean policyParsed;
    private EndpointIdentity srcIdentity;
    private EndpointIdentity dstIdentity;
    private PolicyRef policy;
    private java.util.List<PolicyRef> isolatedBy;

    public DropView() {
        record.clear();
    }

    /** Copies the record at {@code seg[offset..+128)} and clears every resolved string. */
    public DropView load(MemorySegment seg, long offset) {
        MemorySegment.copy(seg, offset, segment, 0, DropRecord.SIZE);
        clearResolved();
        return this;
    }

    /** Resets to an empty record (version 1, count 1) with nothing resolved. */
    public DropView clear() {
        record.clear();
        clearResolved();
        index = -1;
        return this;
    }

    private void clearResolved() {
        reasonName = null;
        node = null;
        interfaceName = null;
        locationName = null;
        srcIdentityJson = null;
        dstIdentityJson = null;
        policyJson = null;
        detailJson = null;
        kernelReasonName = null;
        cilium = null;
        ciliumParsed = false;
        srcParsed = dstParsed = policyParsed = false;
        srcIdentity = dstIdentity = null;
        policy = null;
        isolatedBy = null;
    }

    /** The flyweight over this view's own copy of the record; writable. */
    public DropRecord record() {
        return record;
    }

    // ---- numeric shortcuts -----------------------------------------------------------------------
    public DropSource source() { return DropSource.fromCode(record.source()); }
    public Direction direction() { return Direction.fromCode(record.direction()); }
    public int family() { return record.family(); }
    public int protocol() { return record.protocol(); }
    public int srcPort() { return record.srcPort(); }
    public int dstPort() { return record.dstPort(); }
    public int tcpFlags() { return record.tcpFlags(); }
    public int icmpType() { return record.icmpType(); }
    public int icmpCode() { return record.icmpCode(); }
    public long length() { return record.length(); }
    public int ifindex() { return record.ifindex(); }
    public long netns() { return record.netns(); }
    public int cpu() { return record.cpu(); }
    public long reasonCode() { return record.reasonCode(); }
    public long ktimeNs() { return record.ktimeNs(); }
    public long wallNs() { return record.wallNs(); }
    public long location() { return record.location(); }
    public long count() { return Integer.toUnsignedLong(record.count()); }

    /** Source address as text (dotted or RFC 5952), null when the family is unknown. */
    public String srcIp() {
        record.copySrcIp(ip, 0);
        return IpAddressText.format(record.family(), ip, 0);
    }

    public String dstIp() {
        record.copyDstIp(ip, 0);
        return IpAddressText.format(record.family(), ip, 0);
    }

    /** True when the source slot equals {@code slot16} (a 16-byte slot as made by {@link IpAddressText#parse}). */
    public boolean srcIpEquals(int family, byte[] slot16) {
        record.copySrcIp(ip, 0);
        return family == record.family() && java.util.Arrays.equals(ip, slot16);
    }

    public boolean dstIpEquals(int family, byte[] slot16) {
        record.copyDstIp(ip, 0);
        return family == record.family() && java.util.Arrays.equals(ip, slot16);
    }

    // ---- position --------------------------------------------------------------------------------
    /** The journal index the event was read at, -1 if not from a journal. */
    public long index() { return index; }
    public DropView index(long v) { index = v; return this; }

    // ---- resolved strings ------------------------------------------------------------------------
    /** The reason name from the dictionary, or the decimal code when the dictionary has none. */
    public String reason() {
        return reasonName != null ? reasonName : Long.toString(record.reasonCode());
    }

    /** The reason name from the dictionary, or null. */
    public String reasonName() { return reasonName; }
    public DropView reasonName(String v) { reasonName = v; return this; }

    public String node() { return node; }
    public DropView node(String v) { node = v; return this; }

    public String interfaceName() { return interfaceName; }
    public DropView interfaceName(String v) { interfaceName = v; return this; }

    /** Kernel symbol of the drop site, or null. */
    public String locationName() { return locationName; }
    public DropView locationName(String v) { locationName = v; return this; }

    public String srcIdentityJson() { return srcIdentityJson; }
    public DropView srcIdentityJson(String v) { srcIdentityJson = v; srcParsed = false; srcIdentity = null; return this; }

    public String dstIdentityJson() { return dstIdentityJson; }
    public DropView dstIdentityJson(String v) { dstIdentityJson = v; dstParsed = false; dstIdentity = null; return this; }

    public String policyJson() { return policyJson; }
    public DropView policyJson(String v) { policyJson = v; policyParsed = false; policy = null; isolatedBy = null; return this; }

    /** The DETAIL dictionary text (source-specific JSON object), or null. */
    public String detailJson() { return detailJson; }
    public DropView detailJson(String v) { detailJson = v; ciliumParsed = false; cilium = null; return this; }

    /** True when the kernel's record of the same packet was merged into this (CNI) event. */
    public boolean kernelSeen() { return (record.flags() & DropRecord.FLAG_KERNEL_SEEN) != 0; }

    /** The kernel's reason code of a merged event, -1 when not merged. */
    public int kernelReasonCode() { return kernelSeen() ? record.kernelReasonCode() : -1; }

    /** The kernel reason name of a merged event (the code as text when the dictionary has none), null when not merged. */
    public String kernelReason() {
        if (!kernelSeen()) return null;
        return kernelReasonName != null ? kernelReasonName : Integer.toString(record.kernelReasonCode());
    }

    public DropView kernelReasonName(String v) { kernelReasonName = v; return this; }

    /** The reason, followed by "+" and the kernel's reason on a merged event ("POLICY_DENY+NETFILTER_DROP"). */
    public String reasonText() {
        return kernelSeen() ? reason() + "+" + kernelReason() : reason();
    }

    /** The Cilium detail of a Cilium event (from its DETAIL record), or null. */
    public CiliumVerdict cilium() {
        if (!ciliumParsed) {
            if (cilium == null && source() == DropSource.CILIUM) cilium = parseCilium(detailJson);
            ciliumParsed = true;
        }
        return cilium;
    }

    public DropView cilium(CiliumVerdict v) { cilium = v; ciliumParsed = true; return this; }

    /** The source identity, parsed on first use; null when unknown or unparsable. */
    public EndpointIdentity srcIdentity() {
        if (!srcParsed) {
            srcIdentity = parseIdentity(srcIdentityJson);
            srcParsed = true;
        }
        return srcIdentity;
    }

    public EndpointIdentity dstIdentity() {
        if (!dstParsed) {
            dstIdentity = parseIdentity(dstIdentityJson);
            dstParsed = true;
        }
        return dstIdentity;
    }

    public PolicyRef policy() {
        if (!policyParsed) {
            policy = parsePolicy(policyJson);
            policyParsed = true;
        }
        return policy;
    }

    /**
     * The policies a default-deny policy names in {@code isolated_by} (each with namespace and name
     * only); empty when the policy has none or is absent.
     */
    public java.util.List<PolicyRef> isolatedBy() {
        if (isolatedBy == null) {
            isolatedBy = parseIsolatedBy(policyJson);
        }
        return isolatedBy;
    }

    /** The {@code isolated_by} entries of POLICY dictionary text; empty for none or malformed text. */
    public static java.util.List<PolicyRef> parseIsolatedBy(String json) {
        if (json == null || json.isEmpty() || !json.contains("\"isolated_by\"")) {
            return java.util.List.of();
        }
        try {
            JsonNode n = JSON.readTree(json);
            JsonNode list = n == null ? null : n.get("isolated_by");
            if (list == null || !list.isArray()) {
                return java.util.List.of();
            }
            java.util.List<PolicyRef> out = new java.util.ArrayList<>();
            for (JsonNode e : list) {
                out.add(new PolicyRef(text(e, "name"), text(e, "namespace"), null, null, null));
            }
            return java.util.List.copyOf(out);
        } catch (Exception e) {
            return java.util.List.of();
        }
    }

    /** Parses IDENTITY dictionary text; null for null or malformed text. */
    public static EndpointIdentity parseIdentity(String json) {
        if (json == null || json.isEmpty()) {
            return null;
        }
        try {
            JsonNode n = JSON.readTree(json);
            if (n == null || !n.isObject()) {
                return null;
            }
            Map<String, String> labels = n.hasNonNull("labels") && n.get("labels").isObject()
                    ? JSON.convertValue(n.get("labels"), LABELS) : Map.of();
            return new EndpointIdentity(text(n, "namespace"), text(n, "pod"), text(n, "workload"), labels, text(n, "node"),
                    text(n, "service"), text(n, "reserved"));
        } catch (Exception e) {
            return null;
        }
    }

    /** Parses POLICY dictionary text; null for null or malformed text. */
    public static PolicyRef parsePolicy(String json) {
        JsonNode n = object(json);
        return n == null ? null
                : new PolicyRef(text(n, "name"), text(n, "namespace"), text(n, "kind"), text(n, "tier"), text(n, "action"));
    }

    /** Whether {@code json} is one well-formed JSON object (dictionary text read back from a journal). */
    public static boolean isJsonObject(String json) {
        return object(json) != null;
    }

    /** Parses a Cilium DETAIL text; null for null or malformed text. */
    public static CiliumVerdict parseCilium(String json) {
        JsonNode n = object(json);
        return n == null ? null : new CiliumVerdict(n.path("src_identity").asLong(0), n.path("dst_identity").asLong(0),
                text(n, "match_type"), n.path("rule_cookie").asLong(0));
    }

    /** The JSON object {@code json} holds; null for null, malformed text or another JSON value. */
    private static JsonNode object(String json) {
        if (json == null || json.isEmpty()) {
            return null;
        }
        try {
            JsonNode n = JSON.readTree(json);
            return n != null && n.isObject() ? n : null;
        } catch (Exception e) {
            return null;
        }
    }

    /** The DETAIL dictionary text of a Cilium verdict (keys in schema order, a null match type omitted). */
    public static String ciliumJson(CiliumVerdict c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("src_identity", c.srcIdentity());
        m.put("dst_identity", c.dstIdentity());
        putIfNotNull(m, "match_type", c.matchType());
        m.put("rule_cookie", c.ruleCookie());
        return write(m);
    }

    /** The IDENTITY dictionary text for an identity (keys in schema order, nulls omitted). */
    public static String identityJson(EndpointIdentity id) {
        Map<String, Object> m = new LinkedHashMap<>();
        putIfNotNull(m, "namespace", id.namespace());
        putIfNotNull(m, "pod", id.pod());
        putIfNotNull(m, "workload", id.workload());
        if (!id.labels().isEmpty()) {
            m.put("labels", new java.util.TreeMap<>(id.labels()));
        }
        putIfNotNull(m, "node", id.node());
        putIfNotNull(m, "service", id.service());
        putIfNotNull(m, "reserved", id.reserved());
        return write(m);
    }

    /** The POLICY dictionary text for a policy (keys in schema order, nulls omitted). */
    public static String policyJson(PolicyRef p) {
        Map<String, Object> m = new LinkedHashMap<>();
        putIfNotNull(m, "name", p.name());
        putIfNotNull(m, "namespace", p.namespace());
        putIfNotNull(m, "kind", p.kind());
        putIfNotNull(m, "tier", p.tier());
        putIfNotNull(m, "action", p.action());
        return write(m);
    }

    private static void putIfNotNull(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }

    private static String write(Object o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }
}
