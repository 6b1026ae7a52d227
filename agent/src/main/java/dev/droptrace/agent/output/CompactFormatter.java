package dev.droptrace.agent.output;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.IpProtocol;
import dev.droptrace.agent.event.PolicyRef;

import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * One line per drop, shaped like {@code hubble observe -o compact}:
 * {@code Nov 23 12:34:56.123 kernel NETFILTER_DROP 10.200.0.1:40000 -> 10.200.0.2:9999 UDP len=60 if=veth-b netns=4026532 count=1}.
 * TCP adds its flags after the protocol, ICMP adds {@code type=N code=N}; a known policy is
 * appended as {@code policy=namespace/name}. Times are shown in the given zone (UTC by default).
 */
public final class CompactFormatter {
    private final DateTimeFormatter time;

    public CompactFormatter() {
        this(ZoneOffset.UTC);
    }

    public CompactFormatter(ZoneId zone) {
        this.time = DateTimeFormatter.ofPattern("MMM dd HH:mm:ss.SSS", Locale.ENGLISH).withZone(zone);
    }

    /** The line for {@code v}, without a trailing newline. */
    public String format(DropView v) {
        StringBuilder sb = new StringBuilder(160);
        DropSource s = v.source();
        sb.append(time.format(JsonFormatter.instant(v.wallNs()))).append(' ')
                .append(s != null ? s.jsonName() : Integer.toString(v.record().source())).append(' ')
                .append(v.reasonText()).append(' ')
                .append(EndpointText.of(v, true)).append(" -> ").append(EndpointText.of(v, false)).append(' ')
                .append(EndpointText.protocol(v));
        if (v.protocol() == IpProtocol.TCP.number() && v.tcpFlags() != 0) {
            sb.append(' ').append(EndpointText.flags(v));
        } else if (IpProtocol.isIcmp(v.protocol())) {
            sb.append(" type=").append(v.icmpType()).append(" code=").append(v.icmpCode());
        }
        sb.append(" len=").append(v.length());
        if (v.interfaceName() != null) {
            sb.append(" if=").append(v.interfaceName());
        } else if (v.ifindex() != 0) {
            sb.append(" ifindex=").append(v.ifindex());
        }
        sb.append(" netns=").append(v.netns()).append(" count=").append(v.count());
        PolicyRef p = v.policy();
        if (p != null && p.name() != null) {
            sb.append(" policy=");
            if (p.namespace() != null) {
                sb.append(p.namespace()).append('/');
            }
            sb.append(p.name());
        }
        return sb.toString();
    }
}
