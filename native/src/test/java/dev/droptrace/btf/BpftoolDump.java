package dev.droptrace.btf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text of {@code bpftool btf dump file <f>}, parsed independently of {@link Btf}, as the
 * reference the tests compare against.
 */
final class BpftoolDump {

    static final Path BPFTOOL = Path.of("/usr/sbin/bpftool");

    private static final Pattern HEADER = Pattern.compile("^\\[(\\d+)] (\\w+) '([^']*)'(.*)$");
    private static final Pattern ATTR = Pattern.compile("(\\w+)=(-?\\d+)");
    private static final Pattern LINE = Pattern.compile("^\\s+'([^']*)'(.*)$");

    /** One type: its header and the lines after it. */
    record Type(int id, String kind, String name, Map<String, Long> attrs, List<Line> lines) {
    }

    /** A member, enumerator or parameter line: its name and attributes (type_id, bits_offset, val...). */
    record Line(String name, Map<String, Long> attrs) {
    }

    private static final Map<Path, BpftoolDump> CACHE = new HashMap<>();

    final Map<Integer, Type> byId = new HashMap<>();

    /** The dump of {@code file}, or a skipped test when bpftool or the file is missing. */
    static synchronized BpftoolDump of(Path file) {
        assumeTrue(Files.isExecutable(BPFTOOL), "bpftool is not installed at " + BPFTOOL);
        assumeTrue(Files.isReadable(file), file + " is missing");
        return CACHE.computeIfAbsent(file, BpftoolDump::run);
    }

    private static BpftoolDump run(Path file) {
        try {
            Process p = new ProcessBuilder(BPFTOOL.toString(), "btf", "dump", "file", file.toString())
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            BpftoolDump d = new BpftoolDump();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("bpftool btf dump file " + file + " failed");
            }
            Type cur = null;
            for (String line : text.split("\n")) {
                Matcher h = HEADER.matcher(line);
                if (h.matches()) {
                    cur = new Type(Integer.parseInt(h.group(1)), h.group(2), h.group(3), attrs(h.group(4)), new ArrayList<>());
                    d.byId.put(cur.id(), cur);
                    continue;
                }
                Matcher l = LINE.matcher(line);
                if (l.matches() && cur != null) {
                    cur.lines().add(new Line(l.group(1), attrs(l.group(2))));
                }
            }
            return d;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Long> attrs(String s) {
        Map<String, Long> m = new HashMap<>();
        Matcher a = ATTR.matcher(s);
        while (a.find()) {
            String v = a.group(2);
            m.put(a.group(1), v.startsWith("-") ? Long.parseLong(v) : Long.parseUnsignedLong(v));
        }
        return m;
    }

    /** The first type of {@code kind} named {@code name} (with members, when it has any). */
    Type find(String kind, String name) {
        return byId.values().stream().filter(t -> t.kind().equals(kind) && t.name().equals(name))
                .min((a, b) -> Integer.compare(a.id(), b.id()))
                .orElseThrow(() -> new AssertionError("bpftool shows no " + kind + " " + name));
    }

    /** The size of type {@code id} as the dump describes it, following typedefs, modifiers and arrays. */
    long sizeOf(long id) {
        if (id == 0) {
            return 0;
        }
        Type t = byId.get((int) id);
        return switch (t.kind()) {
            case "INT", "STRUCT", "UNION", "ENUM", "ENUM64", "FLOAT" -> t.attrs().get("size");
            case "PTR" -> 8;
            case "TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG" -> sizeOf(t.attrs().get("type_id"));
            case "ARRAY" -> t.attrs().get("nr_elems") * sizeOf(t.attrs().get("type_id"));
            default -> 0;
        };
    }
}
