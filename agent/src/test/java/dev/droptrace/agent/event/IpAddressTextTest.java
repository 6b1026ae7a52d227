package dev.droptrace.agent.event;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class IpAddressTextTest {
    private static String v6(String literal) {
        byte[] raw = InetAddress.ofLiteral(literal).getAddress();
        return IpAddressText.format(6, raw, 0);
    }

    @ParameterizedTest
    @CsvSource({
        "fd00:0:0:0:0:0:0:1, fd00::1",
        "0:0:0:0:0:0:0:1, ::1",
        "::, ::",
        "2001:db8:0:0:0:ff00:42:8329, 2001:db8::ff00:42:8329",
        "2001:0DB8:0000:0000:0000:0000:0000:0001, 2001:db8::1",
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",      // a single zero group is not compressed
        "2001:0:0:1:0:0:0:1, 2001:0:0:1::1",               // the longest run wins
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",         // first of equal runs
        "1:0:0:0:0:0:0:0, 1::",
        "fe80:0:0:0:abcd:0:0:0, fe80::abcd:0:0:0",
    })
    void ipv6IsRfc5952(String in, String expected) {
        assertEquals(expected, v6(in));
    }

    @Test
    void ipv4MappedAndIpv4() {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = (byte) 192;
        mapped[15] = 1;
        assertEquals("::ffff:192.0.0.1", IpAddressText.format(6, mapped, 0));
        assertEquals("10.200.0.255", IpAddressText.format(4, new byte[] {10, (byte) 200, 0, (byte) 255}, 0));
        assertNull(IpAddressText.format(0, new byte[16], 0));
    }

    @Test
    void parseLiteralsOnly() {
        byte[] slot = new byte[16];
        assertEquals(4, IpAddressText.parse("10.0.0.1", slot));
        assertEquals(10, slot[0]);
        assertEquals(0, slot[4]);
        assertEquals(6, IpAddressText.parse("fd00::1", slot));
        assertEquals((byte) 0xfd, slot[0]);
        assertThrows(IllegalArgumentException.class, () -> IpAddressText.parse("localhost", slot));
    }
}
