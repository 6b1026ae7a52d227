package dev.droptrace.agent.source.kernel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class KernelPreflightTest {
    @TempDir Path dir;

    private Path status(String uid, String capEff) throws Exception {
        return Files.writeString(dir.resolve("status"), "Name:\tjava\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid
                + "\nCapEff:\t" + capEff + "\n");
    }

    private Path btf() throws Exception {
        return Files.writeString(dir.resolve("vmlinux"), "x");
    }

    @Test
    void rootWithEverythingPasses() throws Exception {
        Files.createDirectories(dir.resolve("events/skb/kfree_skb"));
        assertEquals(Optional.empty(), KernelPreflight.problem(status("0", "000001ffffffffff"), btf(), List.of(dir.resolve("events"))));
    }

    @Test
    void notRootNamesTheMissingCapabilities() throws Exception {
        String p = KernelPreflight.problem(status("1000", "0000000000000000"), btf(), List.of()).orElseThrow();
        assertTrue(p.startsWith("not root"), p);
        assertTrue(p.contains("CAP_BPF") && p.contains("CAP_PERFMON"), p);
    }

    @Test
    void capBpfAndPerfmonWithoutRootAreEnough() throws Exception {
        long caps = (1L << 38) | (1L << 39);
        assertEquals(Optional.empty(), KernelPreflight.problem(status("1000", Long.toHexString(caps)), btf(), List.of()));
    }

    @Test
    void missingPerfmonOnlyIsNamed() throws Exception {
        String p = KernelPreflight.problem(status("1000", Long.toHexString(1L << 39)), btf(), List.of()).orElseThrow();
        assertTrue(p.contains("missing CAP_PERFMON") && !p.contains("CAP_BPF,"), p);
    }

    @Test
    void noBtfIsNamed() throws Exception {
        String p = KernelPreflight.problem(status("0", "000001ffffffffff"), dir.resolve("absent"), List.of()).orElseThrow();
        assertTrue(p.contains("no BTF"), p);
    }

    @Test
    void missingTracepointIsNamed() throws Exception {
        Files.createDirectories(dir.resolve("events/net"));
        String p = KernelPreflight.problem(status("0", "000001ffffffffff"), btf(), List.of(dir.resolve("events"))).orElseThrow();
        assertTrue(p.contains("skb:kfree_skb is missing"), p);
    }
}
