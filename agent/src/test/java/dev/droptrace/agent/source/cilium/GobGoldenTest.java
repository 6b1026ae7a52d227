package dev.droptrace.agent.source.cilium;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The committed golden gob streams are what Go's encoding/gob writes today: runs the generator
 * ({@code src/test/resources/cilium/gob/gen/main.go}) with the installed Go into a temporary directory
 * and compares byte for byte. Skipped only when no {@code go} is installed.
 */
class GobGoldenTest {
    private static Path findGo() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "go"))) {
                return Path.of(dir, "go");
            }
        }
        Path debian = Path.of("/usr/lib/go/bin/go");
        return Files.isExecutable(debian) ? debian : null;
    }

    /** The generator's directory: the source tree when run from the module, else the copy on the class path. */
    private static Path goldenDir() throws URISyntaxException {
        Path source = Path.of("src/test/resources/cilium/gob");
        if (Files.isRegularFile(source.resolve("gen/main.go"))) {
            return source.toAbsolutePath();
        }
        URL copy = GobGoldenTest.class.getResource("/cilium/gob/gen/main.go");
        assertTrue(copy != null && "file".equals(copy.getProtocol()), "generator not found: " + copy);
        return Path.of(copy.toURI()).getParent().getParent();
    }

    @Test
    void goldenFilesAreWhatGoWritesToday(@TempDir Path out) throws Exception {
        Path go = findGo();
        assumeTrue(go != null, "no go on PATH or in /usr/lib/go/bin: cannot re-run the gob generator (CI installs golang-go)");
        Path dir = goldenDir();

        ProcessBuilder pb = new ProcessBuilder(go.toString(), "run", "./gen/main.go", out.toString())
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(out.resolve("go.log").toFile());
        Map<String, String> env = pb.environment();
        env.put("GOPROXY", "off"); // standard library only: never the network
        env.put("GOTOOLCHAIN", "local");
        env.put("GOFLAGS", "");
        if (!env.containsKey("GOCACHE") && !env.containsKey("HOME") && !env.containsKey("XDG_CACHE_HOME")) {
            env.put("GOCACHE", out.resolve("gocache").toString());
        }
        Process p = pb.start();
        boolean ended = p.waitFor(10, TimeUnit.MINUTES); // a hang guard, not a timing assertion
        if (!ended) {
            p.destroyForcibly();
        }
        String log = Files.readString(out.resolve("go.log"), StandardCharsets.UTF_8);
        assertTrue(ended, "go run did not end: " + log);
        assertEquals(0, p.exitValue(), "go run failed: " + log);

        for (String name : List.of(GobGolden.PAYLOADS, GobGolden.REORDERED)) {
            assertArrayEquals(Files.readAllBytes(dir.resolve(name)), Files.readAllBytes(out.resolve(name)),
                    name + " differs from what " + goVersion(go) + " writes: regenerate it (see README.md there)");
        }
    }

    private static String goVersion(Path go) {
        try {
            Process p = new ProcessBuilder(go.toString(), "version").redirectErrorStream(true).start();
            String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            p.waitFor(1, TimeUnit.MINUTES);
            return v;
        } catch (IOException | InterruptedException e) {
            return "go";
        }
    }
}
