package dev.droptrace.agent.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code droptrace} command line. */
@Command(name = "droptrace", mixinStandardHelpOptions = true, version = "droptrace 0.1.0",
        description = "Makes silent packet drops visible: who, what, where, why and how many.",
        subcommands = {AgentCommand.class, ObserveCommand.class, StatusCommand.class, DemoCommand.class})
public final class Main implements Runnable {
    static {
        // before any Chronicle class loads: droptrace never phones home
        System.setProperty("chronicle.analytics.disable", "true");
        System.setProperty("chronicle.announcer.disable", "true");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX");
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        System.setProperty("org.slf4j.simpleLogger.log.net.openhft", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.libbpf", "warn");
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code; failures print one line, not a stack trace. */
    public static int run(String... args) {
        return run(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
    }

    /** As {@link #run(String...)}, printing to the given writers (tests capture the output). */
    public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("droptrace " + cmd.getCommandName() + ": " + oneLine(e));
            if (Boolean.getBoolean("droptrace.debug")) e.printStackTrace(cmd.getErr());
            return 1;
        });
        return cli.execute(args);
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
