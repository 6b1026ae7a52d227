package dev.droptrace.agent.output;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.droptrace.agent.event.CiliumVerdict;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import dev.droptrace.agent.event.IpProtocol;
import dev.droptrace.agent.event.PolicyRef;
import dev.droptrace.agent.event.TcpFlags;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.TreeMap;

/**
 * A drop as one single-line JSON object with the field names of DESIGN section 3, in this order:
 * time, node, source, reason, reason_code, direction, family, protocol, src_ip, src_port, dst_ip,
 * dst_port, tcp_flags, icmp, length, ifindex, interface, netns, count, src, dst, policy, cilium,
 * location.
 *
 * <p>Unknown values are omitted rather than null: node, interface and location when the
 * dictionary has no name; family, src_ip and dst_ip when the family is unknown; ports unless the
 * protocol is TCP, UDP or SCTP; tcp_flags unless TCP with a flag set; icmp (an extension:
 * {@code {"type","code"}}) unless ICMP/ICMPv6; src, dst and policy unless known; cilium unless
 * present; location for events the kernel did not see. kernel_reason and kernel_reason_code
 * appear on a Cilium or Calico event merged with the kernel's record of the same packet. location is the kernel symbol, or the address
 * in hex when only the address is known. reason falls back to the code as text.
 */
public final class JsonFormatter {
    /** RFC 3339, UTC, always nine fractional digits. */
    public static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSSSS'Z'")
            .withZone(ZoneOffset.UTC);

    private final JsonFactory factory = new JsonFactory();

    /** The JSON object for {@code v}, without a trailing newline. */
    public String format(DropView v) {
        StringWriter w = new StringWriter(512);
        write(v, w);
        return w.toString();
    }

    /** Writes the JSON object for {@code v} followed by '\n'. */
    public void writeLine(DropView v, Writer out) throws IOException {
        write(v, out);
        out.write('\n');
    }

    private void write(DropView v, Writer out) {
        try (JsonGenerator g = factory.createGenerator(out)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            writeObject(v, g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Instant of a wall-clock time in ns since the epoch. */
    public static Instant instant(long wallNs) {
        return Instant.ofEpochSecond(Math.floorDiv(wallNs, 1_000_000_000L), Math.floorMod(wallNs, 1_000_000_000L));
    }

    /** RFC 3339 text of a wall-clock time, e.g. 2026-11-23T12:34:56.123456789Z. */
    public static String time(long wallNs) {
        return TIME.format(instant(wallNs));
    }

    /** The "family" value, or null when unknown. */
    public static String family(int family) {
        return switch (family) {
            case DropRecord.FAMILY_IPV4 -> "ipv4";
            case DropRecord.FAMILY_IPV6 -> "ipv6";
            default -> null;
        };
    }

    private void writeObject(DropView v, JsonGenerator g) throws IOException {
        DropRecord r = v.record();
        int proto = r.protocol();
        DropSource source = v.source();
        g.writeStartObject();
        g.writeStringField("time", time(r.wallNs()));
        stringIfKnown(g, "node", v.node());
        g.writeStringField("source", source != null ? source.jsonName() : Integer.toString(r.source()));
        g.writeStringField("reason", v.reason());
        g.writeNumberField("reason_code", r.reasonCode());
        if (v.kernelSeen()) { // a CNI drop merged with the kernel's record of the same packet
            g.writeStringField("kernel_reason", v.kernelReason());
            g.writeNumberField("kernel_reason_code", v.kernelReasonCode());
        }
        g.writeStringField("direction", v.direction().jsonName());
        String family = family(r.family());
        stringIfKnown(g, "family", family);
        String protoName = IpProtocol.nameOf(proto);
        if (protoName != null) {
            g.writeStringField("protocol", protoName);
        } else {
            g.writeNumberField("protocol", proto);
        }
        boolean ports = IpProtocol.hasPorts(proto);
        if (family != null) {
            g.writeStringField("src_ip", v.srcIp());
        }
        if (ports) {
            g.writeNumberField("src_port", r.srcPort());
        }
        if (family != null) {
            g.writeStringField("dst_ip", v.dstIp());
        }
        if (ports) {
            g.writeNumberField("dst_port", r.dstPort());
        }
        if (proto == IpProtocol.TCP.number() && r.tcpFlags() != 0) {
            g.writeStringField("tcp_flags", TcpFlags.toText(r.tcpFlags()));
        }
        if (IpProtocol.isIcmp(proto)) {
            g.writeObjectFieldStart("icmp");
            g.writeNumberField("type", r.icmpType());
            g.writeNumberField("code", r.icmpCode());
            g.writeEndObject();
        }
        g.writeNumberField("length", r.length());
        g.writeNumberField("ifindex", r.ifindex());
        stringIfKnown(g, "interface", v.interfaceName());
        g.writeNumberField("netns", r.netns());
        g.writeNumberField("count", v.count());
        identity(g, "src", v.srcIdentity());
        identity(g, "dst", v.dstIdentity());
        PolicyRef p = v.policy();
        if (p != null) {
            // the dictionary text as written: it parsed as an object, and a source may add fields
            // beyond the five of PolicyRef (direction, rule_index, prefix, isolated_by)
            g.writeFieldName("policy");
            g.writeRawValue(v.policyJson());
        }
        CiliumVerdict c = v.cilium();
        if (c != null) {
            g.writeObjectFieldStart("cilium");
            g.writeNumberField("src_identity", c.srcIdentity());
            g.writeNumberField("dst_identity", c.dstIdentity());
            stringIfKnown(g, "match_type", c.matchType());
            g.writeNumberField("rule_cookie", c.ruleCookie());
            g.writeEndObject();
        }
        if (source == DropSource.CALICO && DropView.isJsonObject(v.detailJson())) {
            g.writeFieldName("calico"); // NFLOG group, hook, mark and interfaces, as the translator wrote them
            g.writeRawValue(v.detailJson());
        }
        if (source == DropSource.KERNEL || v.kernelSeen()) {
            if (v.locationName() != null) {
                g.writeStringField("location", v.locationName());
            } else if (r.location() != 0) {
                g.writeStringField("location", "0x" + Long.toHexString(r.location()));
            }
        }
        g.writeEndObject();
    }

    private static void identity(JsonGenerator g, String field, EndpointIdentity id) throws IOException {
        if (id == null) {
            return;
        }
        g.writeObjectFieldStart(field);
        stringIfKnown(g, "namespace", id.namespace());
        stringIfKnown(g, "pod", id.pod());
        stringIfKnown(g, "workload", id.workload());
        if (!id.labels().isEmpty()) {
            g.writeObjectFieldStart("labels");
            for (Map.Entry<String, String> e : new TreeMap<>(id.labels()).entrySet()) {
                g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
        }
        stringIfKnown(g, "node", id.node());
        stringIfKnown(g, "service", id.service());
        stringIfKnown(g, "reserved", id.reserved());
        g.writeEndObject();
    }

    private static void stringIfKnown(JsonGenerator g, String field, String value) throws IOException {
        if (value != null) {
            g.writeStringField(field, value);
        }
    }
}
