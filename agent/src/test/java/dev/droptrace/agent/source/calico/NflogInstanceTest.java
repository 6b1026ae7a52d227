package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Lines of /proc/net/netfilter/nfnetlink_log as the kernel prints them ("%5u %6u %5u %1u %5u %6u %2u"). */
class NflogInstanceTest {

    @Test
    void parsesTheKernelsColumns() {
        String text = String.format("%5d %6d %5d %1d %5d %6d %2d\n%5d %6d %5d %1d %5d %6d %2d\n",
                1, 3876543210L & 0x7fffffffL, 0, 2, 255, 1, 1, 2, 4321, 7, 1, 65531, 100, 1);
        List<NflogInstance> all = NflogInstance.parse(text);
        assertEquals(2, all.size());
        NflogInstance g1 = all.getFirst();
        assertEquals(1, g1.group());
        assertEquals((int) (3876543210L & 0x7fffffffL), g1.portId());
        assertEquals("packet", g1.copyModeName());
        assertEquals(255, g1.copyRange());
        assertEquals(1, g1.flushTimeout());
        NflogInstance g2 = NflogInstance.find(text, 2).orElseThrow();
        assertEquals(4321, g2.portId());
        assertEquals(7, g2.queueLength());
        assertEquals("meta", g2.copyModeName());
        assertEquals(65531, g2.copyRange());
        assertEquals(100, g2.flushTimeout());
        assertTrue(g2.line().startsWith("2"));
        assertTrue(NflogInstance.find(text, 3).isEmpty());
    }

    @Test
    void skipsGarbage() {
        assertEquals(List.of(), NflogInstance.parse(""));
        assertEquals(List.of(), NflogInstance.parse("group portid\n1 2 3\nx y z a b c d\n"));
        assertEquals(1, NflogInstance.parse("junk\n    5   99    0 2   255      1  1\n").size());
    }
}
