package dev.droptrace.agent.source.calico;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One line of {@code /proc/net/netfilter/nfnetlink_log}: an NFLOG group some netlink socket has bound
 * in this network namespace. The kernel prints {@code "%5u %6u %5u %1u %5u %6u %2u"}: group, port id
 * of the bound socket, packets queued, copy mode (0 none, 1 meta, 2 packet), copy range, flush
 * timeout (1/100 s) and a reference count.
 *
 * @param line the line as read, trimmed, for reports
 */
public record NflogInstance(int group, int portId, int queueLength, int copyMode, int copyRange, int flushTimeout,
                            int references, String line) {

    /** Parses the whole file; lines that do not have seven numbers are skipped. */
    public static List<NflogInstance> parse(String text) {
        List<NflogInstance> out = new ArrayList<>();
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty()) continue;
            String[] f = line.split("\\s+");
            if (f.length < 7) continue;
            try {
                long[] v = new long[7];
                for (int i = 0; i < 7; i++) v[i] = Long.parseLong(f[i]);
                out.add(new NflogInstance((int) v[0], (int) v[1], (int) v[2], (int) v[3], (int) v[4], (int) v[5],
                        (int) v[6], line));
            } catch (NumberFormatException e) {
                // not an instance line
            }
        }
        return out;
    }

    /** The instance of {@code group} in {@code text}, if any. */
    public static Optional<NflogInstance> find(String text, int group) {
        return parse(text).stream().filter(i -> i.group == group).findFirst();
    }

    /** Copy mode as a word. */
    public String copyModeName() {
        return switch (copyMode) {
            case 0 -> "none";
            case 1 -> "meta";
            case 2 -> "packet";
            default -> "mode " + copyMode;
        };
    }

    @Override
    public String toString() {
        return "group " + group + " portid " + portId + " queue " + queueLength + " copy " + copyModeName() + "/"
                + copyRange + " timeout " + flushTimeout;
    }
}
