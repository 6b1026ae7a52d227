package dev.droptrace.agent.identity;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the network namespace of each pod on this node, so a drop inside a pod's namespace names
 * the pod even when the packet carries no pod address (an IPv6 address the API does not list, a
 * link-local, a drop before routing). It reads {@code /proc/PID/ns/net} and the pod UID that the
 * kubelet puts in every container's cgroup path ({@code .../pod<uid>/...} with the cgroupfs
 * driver, {@code kubepods-...-pod<uid_with_underscores>.slice} with systemd), and links the inode
 * to the pod the informers know by that UID.
 */
public final class PodNetnsScanner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PodNetnsScanner.class);
    private static final Pattern POD_UID = Pattern.compile(
            "pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})");
    private static final Pattern NET_NS = Pattern.compile("net:\\[(\\d+)]");

    private final Path proc;
    private final IdentityCache cache;
    private final Function<String, Optional<String>> podByUid;
    private final Map<Long, String> linked = new HashMap<>();
    private final ScheduledExecutorService timer;

    /**
     * @param podByUid pod UID -> "namespace/name" of a pod the informers know, if any
     */
    PodNetnsScanner(Path proc, IdentityCache cache, Function<String, Optional<String>> podByUid) {
        this.proc = proc;
        this.cache = cache;
        this.podByUid = podByUid;
        this.timer = Executors.newSingleThreadScheduledExecutor(
                r -> Thread.ofPlatform().name("pod-netns-scanner").daemon(true).unstarted(r));
    }

    /** Scans now and then every {@code period}. */
    static PodNetnsScanner start(Path proc, IdentityCache cache, Function<String, Optional<String>> podByUid, long periodMillis) {
        PodNetnsScanner s = new PodNetnsScanner(proc, cache, podByUid);
        s.timer.scheduleWithFixedDelay(() -> {
            try {
                s.scan();
            } catch (RuntimeException e) {
                LOG.warn("pod netns scan: {}", e.toString());
            }
        }, 0, periodMillis, TimeUnit.MILLISECONDS);
        return s;
    }

    /** One pass: links new pod namespaces, relinks changed ones, forgets vanished ones. */
    synchronized void scan() {
        long hostNetns = netnsOf(proc.resolve("1"));
        Map<Long, String> now = new HashMap<>();
        try (DirectoryStream<Path> pids = Files.newDirectoryStream(proc, p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path pid : pids) {
                long inode = netnsOf(pid);
                if (inode == 0 || inode == hostNetns || now.containsKey(inode)) continue;
                String uid = podUid(pid);
                if (uid == null) continue;
                podByUid.apply(uid).ifPresent(pod -> now.put(inode, pod));
            }
        } catch (IOException e) {
            LOG.debug("cannot list {}: {}", proc, e.toString());
            return;
        }
        for (Map.Entry<Long, String> e : now.entrySet()) {
            if (!e.getValue().equals(linked.get(e.getKey()))) {
                String[] nsName = e.getValue().split("/", 2);
                cache.registerNetns(e.getKey(), nsName[0], nsName[1]);
            }
        }
        for (Long gone : linked.keySet()) {
            if (!now.containsKey(gone)) cache.unregisterNetns(gone);
        }
        linked.clear();
        linked.putAll(now);
    }

    /** The pod namespaces linked by the last scan (inode -> namespace/pod). */
    synchronized Map<Long, String> linked() {
        return Map.copyOf(linked);
    }

    private static long netnsOf(Path pid) {
        try {
            Matcher m = NET_NS.matcher(Files.readSymbolicLink(pid.resolve("ns/net")).toString());
            return m.matches() ? Long.parseLong(m.group(1)) : 0;
        } catch (IOException | RuntimeException e) {
            return 0; // process gone, or not ours to read
        }
    }

    static String podUid(Path pid) {
        try {
            Matcher m = POD_UID.matcher(Files.readString(pid.resolve("cgroup")));
            return m.find() ? m.group(1).replace('_', '-') : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
