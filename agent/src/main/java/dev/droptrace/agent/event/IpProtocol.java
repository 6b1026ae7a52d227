package dev.droptrace.agent.event;

/** The IP protocols droptrace names; any other protocol is shown by its number. */
public enum IpProtocol {
    ICMP(1, "ICMP"),
    TCP(6, "TCP"),
    UDP(17, "UDP"),
    ICMPV6(58, "ICMPv6"),
    SCTP(132, "SCTP");

    private final int number;
    private final String displayName;

    IpProtocol(int number, String displayName) {
        this.number = number;
        this.displayName = displayName;
    }

    public int number() {
        return number;
    }

    public String displayName() {
        return displayName;
    }

    /** The name of a known protocol number, or null. */
    public static String nameOf(int number) {
        for (IpProtocol p : values()) {
            if (p.number == number) {
                return p.displayName;
            }
        }
        return null;
    }

    /** True for ICMP and ICMPv6. */
    public static boolean isIcmp(int number) {
        return number == ICMP.number || number == ICMPV6.number;
    }

    /** True for the protocols whose records carry ports (TCP, UDP, SCTP). */
    public static boolean hasPorts(int number) {
        return number == TCP.number || number == UDP.number || number == SCTP.number;
    }

    /**
     * Parses a protocol name (case-insensitive: tcp, udp, icmp, icmpv6, sctp) or a number 0-255.
     *
     * @throws IllegalArgumentException when neither
     */
    public static int parse(String text) {
        String t = text.trim();
        for (IpProtocol p : values()) {
            if (p.displayName.equalsIgnoreCase(t)) {
                return p.number;
            }
        }
        try {
            int n = Integer.parseInt(t);
            if (n >= 0 && n <= 255) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // fall through
        }
        throw new IllegalArgumentException(
                "unknown protocol '" + text + "' (expected tcp, udp, icmp, icmpv6, sctp or a number 0-255)");
    }
}
