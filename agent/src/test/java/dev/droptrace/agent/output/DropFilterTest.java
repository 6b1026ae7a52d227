package dev.droptrace.agent.output;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Instant;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DropFilterTest {
    private static DropView view(String src, int sport, String dst, int dport, int proto, String reason) {
        DropView v = new DropView();
        v.record().family(src.contains(":") ? 6 : 4).protocol(proto)
                .srcIp(InetAddress.ofLiteral(src).getAddress()).dstIp(InetAddress.ofLiteral(dst).getAddress())
                .srcPort(sport).dstPort(dport).netns(4026532001L).wallNs(1_000_000_000L)
                .source(DropSource.KERNEL);
        v.reasonName(reason);
        return v;
    }

    private final DropView udp = view("10.200.0.1", 40000, "10.200.0.2", 53, 17, "NETFILTER_DROP");
    private final DropView tcp6 = view("fd00::1", 1234, "fd00::2", 443, 6, "NO_SOCKET");

    @Test
    void emptyMatchesAll() {
        DropFilter f = DropFilter.builder().build();
        assertTrue(f.isEmpty());
        assertTrue(f.test(udp));
    }

    @Test
    void addresses() {
        assertTrue(DropFilter.builder().fromIp("10.200.0.1").build().test(udp));
        assertFalse(DropFilter.builder().fromIp("10.200.0.2").build().test(udp));
        assertTrue(DropFilter.builder().toIp("10.200.0.2").build().test(udp));
        assertTrue(DropFilter.builder().ip("10.200.0.2").build().test(udp));
        assertTrue(DropFilter.builder().ip("fd00:0::2").build().test(tcp6));
        assertFalse(DropFilter.builder().ip("fd00::3").build().test(tcp6));
        assertFalse(DropFilter.builder().ip("10.200.0.1").build().test(tcp6));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DropFilter.builder().fromIp("example.com"));
        assertEquals("--from-ip: 'example.com' is not an IP address", e.getMessage());
    }

    @Test
    void valuesOfOneOptionAreOredOptionsAnded() {
        DropFilter f = DropFilter.builder().reason("netfilter_drop", "no_socket").port(53).build();
        assertTrue(f.test(udp));
        assertFalse(f.test(tcp6), "reason matches, port does not");
        DropFilter g = DropFilter.builder().port(53).port(443).protocol("tcp", "17").build();
        assertTrue(g.test(udp));
        assertTrue(g.test(tcp6));
        assertFalse(DropFilter.builder().protocol("icmp").build().test(udp));
        assertTrue(DropFilter.builder().fromPort(40000).toPort(53).build().test(udp));
        assertFalse(DropFilter.builder().fromPort(53).build().test(udp));
    }

    @Test
    void reasonByCodeWhenUnnamed() {
        DropView v = view("10.0.0.1", 1, "10.0.0.2", 2, 17, null);
        v.record().reasonCode(77);
        assertTrue(DropFilter.builder().reason("77").build().test(v));
    }

    @Test
    void sourceNetnsTime() {
        assertTrue(DropFilter.builder().source("kernel").netns(4026532001L).build().test(udp));
        assertFalse(DropFilter.builder().source("cilium").build().test(udp));
        assertThrows(IllegalArgumentException.class, () -> DropFilter.builder().source("bogus"));
        assertTrue(DropFilter.builder().since(Instant.ofEpochSecond(1)).until(Instant.ofEpochSecond(1)).build().test(udp));
        assertFalse(DropFilter.builder().since(Instant.ofEpochSecond(1, 1)).build().test(udp));
        assertFalse(DropFilter.builder().until(Instant.ofEpochSecond(0, 999_999_999)).build().test(udp));
    }

    @Test
    void namespaceAndPod() {
        DropView v = view("10.0.0.1", 1, "10.0.0.2", 2, 17, "X");
        v.dstIdentityJson(DropView.identityJson(new EndpointIdentity("team-b", "server-7d9f", null, Map.of(), null)));
        assertTrue(DropFilter.builder().namespace("team-b").build().test(v));
        assertFalse(DropFilter.builder().namespace("team-a").build().test(v));
        assertTrue(DropFilter.builder().pod("server").build().test(v));
        assertTrue(DropFilter.builder().pod("team-b/server-7d9f").build().test(v));
        assertFalse(DropFilter.builder().pod("team-a/server").build().test(v));
        assertFalse(DropFilter.builder().pod("client").build().test(udp), "no identity, no match");
    }
}
