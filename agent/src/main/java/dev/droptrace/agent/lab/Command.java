package dev.droptrace.agent.lab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a system command (ip, iptables) and returns its output, failing with its stderr. */
final class Command {
    private Command() {}

    static String run(String... argv) {
        return run(List.of(argv));
    }

    static String run(List<String> argv) {
        Result r = tryRun(argv);
        if (r.exit != 0) {
            throw new LabException(String.join(" ", argv) + " failed (exit " + r.exit + "): " + r.err.strip());
        }
        return r.out;
    }

    record Result(int exit, String out, String err) {}

    static Result tryRun(List<String> argv) {
        try {
            Process p = new ProcessBuilder(new ArrayList<>(argv)).redirectInput(ProcessBuilder.Redirect.PIPE).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            byte[] err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new LabException(String.join(" ", argv) + " did not finish");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new LabException("cannot run " + argv.getFirst() + ": " + e.getMessage()
                    + " (install iproute2 and iptables)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LabException("interrupted while running " + String.join(" ", argv));
        }
    }
}
