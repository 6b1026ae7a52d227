package dev.droptrace.agent.event;

import java.net.Inet4Address;
import java.net.InetAddress;

/** Text form of the record's 16-byte address slots: dotted IPv4, RFC 5952 compressed IPv6. */
public final class IpAddressText {
    private IpAddressText() {
    }

    /**
     * Formats the 16-byte slot at {@code bytes[off..off+16)}. Family 4 uses the first four bytes;
     * family 6 the whole slot; other families yield null.
     */
    public static String format(int family, byte[] bytes, int off) {
        if (family == DropRecord.FAMILY_IPV4) {
            return ipv4(bytes, off);
        }
        if (family == DropRecord.FAMILY_IPV6) {
            return ipv6(bytes, off);
        }
        return null;
    }

    private static String ipv4(byte[] b, int off) {
        return (b[off] & 0xff) + "." + (b[off + 1] & 0xff) + "." + (b[off + 2] & 0xff) + "." + (b[off + 3] & 0xff);
    }

    /** RFC 5952: lower case, no leading zeros, longest run (>= 2) of zero groups as "::", first on ties. */
    static String ipv6(byte[] b, int off) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = (b[off + 2 * i] & 0xff) << 8 | (b[off + 2 * i + 1] & 0xff);
        }
        // IPv4-mapped ::ffff:a.b.c.d (RFC 5952 section 5)
        if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff) {
            return "::ffff:" + ipv4(b, off + 12);
        }
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (g[i] == 0) {
                int j = i;
                while (j < 8 && g[j] == 0) {
                    j++;
                }
                if (j - i > bestLen) {
                    bestStart = i;
                    bestLen = j - i;
                }
                i = j;
            } else {
                i++;
            }
        }
        if (bestLen < 2) {
            bestStart = -1;
        }
        StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (!sb.isEmpty() && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }

    /**
     * Parses an IPv4 or IPv6 literal (never a host name) into a 16-byte slot; returns the family
     * (4 or 6). IPv4-mapped IPv6 literals count as IPv4, as Java parses them.
     *
     * @throws IllegalArgumentException when {@code text} is not an address literal
     */
    public static int parse(String text, byte[] slot16) {
        InetAddress a = InetAddress.ofLiteral(text.trim());
        byte[] raw = a.getAddress();
        java.util.Arrays.fill(slot16, (byte) 0);
        System.arraycopy(raw, 0, slot16, 0, raw.length);
        return a instanceof Inet4Address ? DropRecord.FAMILY_IPV4 : DropRecord.FAMILY_IPV6;
    }
}
