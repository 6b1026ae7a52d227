package dev.droptrace.agent.output;

import dev.droptrace.agent.event.CiliumVerdict;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import org.junit.jupiter.api.Test;

import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FormatterTest {
    @Test
    void jsonEscapesStringsAndAddsCilium() throws Exception {
        DropView v = new DropView();
        v.record().source(DropSource.CILIUM).wallNs(-1).reasonCode(181);
        v.interfaceName("we\"ird\\\u0001\n").node("n\u00e9").reasonName("POLICY_DENY");
        v.cilium(new CiliumVerdict(12345, 2, "L3-only", 0x1234));
        v.srcIdentityJson("not json"); // malformed dictionary text: src simply absent
        StringWriter w = new StringWriter();
        new JsonFormatter().writeLine(v, w);
        assertEquals("{\"time\":\"1969-12-31T23:59:59.999999999Z\",\"node\":\"n\u00e9\",\"source\":\"cilium\","
                + "\"reason\":\"POLICY_DENY\",\"reason_code\":181,\"direction\":\"unknown\",\"protocol\":0,"
                + "\"length\":0,\"ifindex\":0,\"interface\":\"we\\\"ird\\\\\\u0001\\n\",\"netns\":0,\"count\":1,"
                + "\"cilium\":{\"src_identity\":12345,\"dst_identity\":2,\"match_type\":\"L3-only\",\"rule_cookie\":4660}}\n",
                w.toString());
    }

    @Test
    void tableStreamingRowsAlignWithHeader() {
        DropView v = new DropView();
        v.record().source(DropSource.KERNEL).family(4).protocol(6).tcpFlags(0x02)
                .srcIpv4(0x0ac80001).dstIpv4(0x0ac80002).srcPort(40000).dstPort(9999).ifindex(4);
        v.reasonName("TCP_INVALID_SEQUENCE");
        TableFormatter t = new TableFormatter();
        String header = t.header();
        String row = t.row(v);
        assertTrue(header.startsWith("TIME"));
        assertEquals(header.indexOf("REASON"), row.indexOf("TCP_INVALID_SEQUENCE"));
        assertEquals(header.indexOf("SRC "), row.indexOf("10.200.0.1:40000"));
        assertEquals(header.indexOf("FLAGS"), row.indexOf("SYN"));
        assertEquals(header.indexOf("IFACE"), row.indexOf("#4"));
    }
}
