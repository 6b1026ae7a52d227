package dev.droptrace.agent.output;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import dev.droptrace.agent.event.IpProtocol;
import dev.droptrace.agent.event.TcpFlags;

/** Short human text for one end of a drop and for its protocol, shared by the table and compact forms. */
final class EndpointText {
    private EndpointText() {
    }

    /** "namespace/pod:port" when the pod is known, else "ip:port" or "[ipv6]:port" ("ip" without ports). */
    static String of(DropView v, boolean src) {
        DropRecord r = v.record();
        boolean ports = IpProtocol.hasPorts(r.protocol());
        int port = src ? r.srcPort() : r.dstPort();
        EndpointIdentity id = src ? v.srcIdentity() : v.dstIdentity();
        String base;
        if (id != null && id.pod() != null) {
            base = id.namespace() != null ? id.namespace() + "/" + id.pod() : id.pod();
        } else {
            String ip = src ? v.srcIp() : v.dstIp();
            if (ip == null) {
                base = "?";
            } else if (r.family() == DropRecord.FAMILY_IPV6 && ports) {
                base = "[" + ip + "]";
            } else {
                base = ip;
            }
        }
        return ports ? base + ":" + port : base;
    }

    /** "TCP", "UDP", "ICMP", ... or the protocol number. */
    static String protocol(DropView v) {
        int p = v.protocol();
        String n = IpProtocol.nameOf(p);
        return n != null ? n : Integer.toString(p);
    }

    /** TCP flags ("SYN|ACK"), "type/code" for ICMP, else "-". */
    static String flags(DropView v) {
        int p = v.protocol();
        if (p == IpProtocol.TCP.number() && v.tcpFlags() != 0) {
            return TcpFlags.toText(v.tcpFlags());
        }
        if (IpProtocol.isIcmp(p)) {
            return v.icmpType() + "/" + v.icmpCode();
        }
        return "-";
    }
}
