package dev.droptrace.agent.source.calico;

import dev.droptrace.libc.Libc;
import org.agrona.collections.Int2ObjectHashMap;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Interface index to name in the agent's own network namespace (where Calico's NFLOG rules run when
 * the agent has the host network), read from {@code /sys/class/net/<name>/ifindex}. The whole
 * directory is read on a miss, at most once per {@link #RESCAN_INTERVAL_NS}, so an index nobody has
 * costs a map lookup, not a directory walk, per packet. Names are kept once read: the kernel hands
 * out interface indexes cyclically, so an index is not reused for a new interface in practice.
 * A hit allocates nothing. One thread (the journal writer).
 */
public final class InterfaceNames {
    /** Minimum time between two directory reads caused by misses. */
    public static final long RESCAN_INTERVAL_NS = 1_000_000_000L;

    private final Path dir;
    private final Int2ObjectHashMap<String> names = new Int2ObjectHashMap<>();
    private long lastScanNs = Long.MIN_VALUE;
    private long scans;

    /** Names from {@code /sys/class/net}. */
    public InterfaceNames() {
        this(Path.of("/sys/class/net"));
    }

    /** Names from a directory laid out as {@code /sys/class/net} (tests). */
    public InterfaceNames(Path dir) {
        this.dir = dir;
    }

    /** The name of interface {@code ifindex}, or null when it is not (or no longer) there. */
    public String name(int ifindex) {
        if (ifindex <= 0) {
            return null;
        }
        String n = names.get(ifindex);
        if (n != null) {
            return n;
        }
        long now = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        if (lastScanNs != Long.MIN_VALUE && now - lastScanNs < RESCAN_INTERVAL_NS) {
            return null;
        }
        lastScanNs = now;
        scan();
        return names.get(ifindex);
    }

    /** How many times the directory was read. */
    public long scans() {
        return scans;
    }

    private void scan() {
        scans++;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                try {
                    int index = Integer.parseInt(Files.readString(p.resolve("ifindex")).strip());
                    names.put(index, p.getFileName().toString());
                } catch (IOException | NumberFormatException e) {
                    // an interface that went away while we read, or a file that is not an index
                }
            }
        } catch (IOException e) {
            // no sysfs: names stay unknown
        }
    }
}
