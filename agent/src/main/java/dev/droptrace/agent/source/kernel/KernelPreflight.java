package dev.droptrace.agent.source.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Checks, before loading anything, what the kernel source needs: privileges, BTF, the tracepoint. */
public final class KernelPreflight {
    private static final int CAP_SYS_ADMIN = 21;
    private static final int CAP_PERFMON = 38;
    private static final int CAP_BPF = 39;

    private KernelPreflight() {}

    /** One line naming what is missing, or empty when the kernel source can try to attach. */
    public static Optional<String> problem() {
        return problem(Path.of("/proc/self/status"), Path.of("/sys/kernel/btf/vmlinux"),
                List.of(Path.of("/sys/kernel/tracing/events"), Path.of("/sys/kernel/debug/tracing/events")));
    }

    static Optional<String> problem(Path procStatus, Path btf, List<Path> tracingEvents) {
        long caps = 0;
        long uid = -1;
        try {
            for (String line : Files.readAllLines(procStatus)) {
                if (line.startsWith("CapEff:")) caps = Long.parseUnsignedLong(line.substring(7).strip(), 16);
                if (line.startsWith("Uid:")) uid = Long.parseLong(line.substring(4).strip().split("\\s+")[1]);
            }
        } catch (IOException | RuntimeException e) {
            return Optional.of("cannot read " + procStatus + " to check privileges: " + e.getMessage());
        }
        boolean admin = has(caps, CAP_SYS_ADMIN);
        List<String> missing = new ArrayList<>();
        if (!admin && !has(caps, CAP_BPF)) missing.add("CAP_BPF");
        if (!admin && !has(caps, CAP_PERFMON)) missing.add("CAP_PERFMON");
        if (!missing.isEmpty()) {
            return Optional.of((uid == 0 ? "" : "not root: ") + "the kernel source needs CAP_BPF and CAP_PERFMON (or root); missing "
                    + String.join(", ", missing));
        }
        if (!Files.isReadable(btf)) {
            return Optional.of("this kernel has no BTF (" + btf + " is missing): droptrace needs CONFIG_DEBUG_INFO_BTF=y");
        }
        for (Path events : tracingEvents) {
            if (Files.isDirectory(events) && !Files.isDirectory(events.resolve("skb/kfree_skb"))) {
                return Optional.of("tracepoint skb:kfree_skb is missing (" + events.resolve("skb/kfree_skb") + ")");
            }
        }
        return Optional.empty();
    }

    private static boolean has(long caps, int cap) {
        return (caps & (1L << cap)) != 0;
    }
}
