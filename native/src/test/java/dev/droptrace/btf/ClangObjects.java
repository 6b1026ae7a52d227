package dev.droptrace.btf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Compiles small BPF C sources with clang for tests, or skips the test when clang is missing. */
final class ClangObjects {

    private ClangObjects() {
    }

    static boolean clangAvailable() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, "clang"))) {
                return true;
            }
        }
        return false;
    }

    /** {@code clang -g -O2 -target bpf -c x.bpf.c -o x.o [-I include]} and the object's bytes. */
    static byte[] compile(String source, Path... includes) throws IOException, InterruptedException {
        assumeTrue(clangAvailable(), "clang is not installed");
        Path dir = Files.createTempDirectory("droptrace-btf");
        try {
            Path c = dir.resolve("x.bpf.c");
            Files.writeString(c, source);
            List<String> cmd = new ArrayList<>(List.of("clang", "-g", "-O2", "-target", "bpf", "-c", c.toString(),
                    "-o", dir.resolve("x.o").toString()));
            for (Path inc : includes) {
                cmd.add("-I");
                cmd.add(inc.toString());
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError("clang failed: " + out);
            }
            return Files.readAllBytes(dir.resolve("x.o"));
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    static final String REC_SOURCE = """
            typedef unsigned long long __u64;
            typedef unsigned int __u32;
            typedef unsigned char __u8;
            struct rec { __u64 a; __u32 b; __u8 c[16]; char d; };
            struct rec rec_global;
            enum color { RED = 1, GREEN = 2, BIG = -3 };
            enum color color_global;
            """;
}
