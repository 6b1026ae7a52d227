package dev.droptrace.agent.event;

/** TCP flag bits as stored in the record's {@code tcp_flags} byte, and their text form ("SYN|ACK"). */
public final class TcpFlags {
    public static final int FIN = 0x01;
    public static final int SYN = 0x02;
    public static final int RST = 0x04;
    public static final int PSH = 0x08;
    public static final int ACK = 0x10;
    public static final int URG = 0x20;
    public static final int ECE = 0x40;
    public static final int CWR = 0x80;

    private static final String[] NAMES = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};

    private TcpFlags() {
    }

    /** Flag names joined by '|' in bit order (FIN|SYN|RST|PSH|ACK|URG|ECE|CWR); "" for no flags. */
    public static String toText(int flags) {
        StringBuilder sb = new StringBuilder(16);
        for (int i = 0; i < NAMES.length; i++) {
            if ((flags & (1 << i)) != 0) {
                if (!sb.isEmpty()) {
                    sb.append('|');
                }
                sb.append(NAMES[i]);
            }
        }
        return sb.toString();
    }
}
