package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The libbpf.so.1 library: symbol lookup, libbpf's log routed to SLF4J, and library-wide queries. */
public final class Libbpf {
    static final String MISSING = "libbpf.so.1 not found: install libbpf1 (apt-get install libbpf1)";

    private static final Logger LOG = LoggerFactory.getLogger("libbpf");
    private static final Linker LINKER = Linker.nativeLinker();

    // enum libbpf_print_level
    private static final int LIBBPF_WARN = 0;
    private static final int LIBBPF_INFO = 1;

    // A C callee receives a va_list as a pointer to the caller's 24-byte __va_list_tag on x86_64;
    // vsnprintf consumes it, so a second pass (message longer than the buffer) needs a copy made
    // first, which on x86_64 is what va_copy does: a struct copy.
    private static final boolean X86_64 = "amd64".equals(System.getProperty("os.arch"))
            || "x86_64".equals(System.getProperty("os.arch"));
    private static final long VA_LIST_SIZE = 24;
    private static final int FORMAT_BUFFER = 4096;

    // The library lives as long as the process: its arena is global. A missing library is kept as
    // null, not thrown from this initializer, so every use reports it with a readable message
    // instead of an ExceptionInInitializerError followed by NoClassDefFoundErrors.
    private static final SymbolLookup LOOKUP = lookup();

    private static final ThreadLocal<StringBuilder> CAPTURE = new ThreadLocal<>();
    private static final ThreadLocal<MemorySegment> FORMAT_SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(FORMAT_BUFFER + VA_LIST_SIZE, 8));

    private static volatile int possibleCpus;

    static {
        if (LOOKUP != null) {
            installPrintCallback();
        }
    }

    private Libbpf() {
    }

    private static SymbolLookup lookup() {
        try {
            return SymbolLookup.libraryLookup("libbpf.so.1", Arena.global());
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return null;
        }
    }

    /** Whether libbpf.so.1 could be loaded into this process. */
    public static boolean available() {
        return LOOKUP != null;
    }

    /** Throws {@link IllegalStateException} with install instructions if libbpf.so.1 is missing. */
    public static void requireAvailable() {
        if (LOOKUP == null) {
            throw new IllegalStateException(MISSING);
        }
    }

    /** libbpf's version, for example "v1.1". */
    public static String version() {
        requireAvailable();
        try {
            MemorySegment text = (MemorySegment) Calls.VERSION_STRING.invokeExact();
            return text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /**
     * The number of possible CPUs, which sizes every per-CPU map value buffer
     * ({@code numPossibleCpus() * round_up(valueSize, 8)} bytes).
     */
    public static int numPossibleCpus() {
        int n = possibleCpus;
        if (n > 0) {
            return n;
        }
        requireAvailable();
        try {
            n = (int) Calls.NUM_POSSIBLE_CPUS.invokeExact();
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (n < 0) {
            throw failure("libbpf_num_possible_cpus", -n);
        }
        possibleCpus = n;
        return n;
    }

    /** A downcall handle for a libbpf function; with {@code captureErrno} its first argument is {@link Libc#callState()}. */
    static MethodHandle downcall(String name, FunctionDescriptor descriptor, boolean captureErrno) {
        requireAvailable();
        MemorySegment symbol = LOOKUP.find(name)
                .orElseThrow(() -> new IllegalStateException("libbpf.so.1 has no symbol " + name + " (libbpf 1.1 or later is needed)"));
        return captureErrno
                ? LINKER.downcallHandle(symbol, descriptor, Libc.captureErrno())
                : LINKER.downcallHandle(symbol, descriptor);
    }

    /**
     * The exception for a libbpf call that failed with {@code errno}. libbpf has its own codes from
     * 4000 up (bad ELF, bad relocation...) that libc's strerror does not know.
     */
    static NativeCallException failure(String call, int errno) {
        return failure(call, errno, "");
    }

    static NativeCallException failure(String call, int errno, String detail) {
        return new NativeCallException(call, errno, errorText(errno), detail);
    }

    /** The text for an errno or a libbpf error code. */
    static String errorText(int errno) {
        if (errno < 4000 || LOOKUP == null) {
            return Libc.strerror(errno);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            int rc = (int) Calls.STRERROR.invokeExact(errno, buf, buf.byteSize());
            return rc == 0 ? buf.getString(0) : "Unknown libbpf error " + errno;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /**
     * Starts collecting the WARN messages libbpf prints on this thread. libbpf prints a failed
     * program's verifier log through its print callback, on the thread that called it, so this is
     * how a load failure's exception gets the log.
     */
    static void startCapture() {
        CAPTURE.set(new StringBuilder());
    }

    /** Stops collecting on this thread and returns what was collected. */
    static String stopCapture() {
        StringBuilder captured = CAPTURE.get();
        CAPTURE.remove();
        return captured == null ? "" : captured.toString();
    }

    private static void installPrintCallback() {
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(Libbpf.class, "print",
                    MethodType.methodType(int.class, int.class, MemorySegment.class, MemorySegment.class));
            // The stub lives as long as the process: libbpf may log from any thread at any time.
            MemorySegment stub = LINKER.upcallStub(target, FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), Arena.global());
            MemorySegment previous = (MemorySegment) Calls.SET_PRINT.invokeExact(stub);
        } catch (Throwable t) {
            // Without the callback libbpf prints to stderr: worse, but not fatal.
            LOG.warn("could not route libbpf's log to SLF4J", t);
        }
    }

    /** libbpf's print callback: {@code int (*)(enum libbpf_print_level, const char *fmt, va_list ap)}. */
    private static int print(int level, MemorySegment fmt, MemorySegment ap) {
        // An exception escaping an upcall kills the JVM; a log line is never worth that.
        try {
            StringBuilder captured = level == LIBBPF_WARN ? CAPTURE.get() : null;
            boolean enabled = switch (level) {
                case LIBBPF_WARN -> LOG.isWarnEnabled();
                case LIBBPF_INFO -> LOG.isInfoEnabled();
                default -> LOG.isDebugEnabled();
            };
            if (captured == null && !enabled) {
                return 0; // libbpf's debug output is large: format it only when someone reads it
            }
            String message = format(fmt, ap);
            if (captured != null) {
                captured.append(message).append('\n');
            }
            if (enabled) {
                switch (level) {
                    case LIBBPF_WARN -> LOG.warn(message);
                    case LIBBPF_INFO -> LOG.info(message);
                    default -> LOG.debug(message);
                }
            }
        } catch (Throwable t) {
            try {
                LOG.error("libbpf print callback failed", t);
            } catch (Throwable ignored) {
                // nothing left to report with
            }
        }
        return 0;
    }

    private static String format(MemorySegment fmt, MemorySegment ap) {
        MemorySegment scratch = FORMAT_SCRATCH.get();
        MemorySegment buf = scratch.asSlice(0, FORMAT_BUFFER);
        MemorySegment apCopy = scratch.asSlice(FORMAT_BUFFER, VA_LIST_SIZE);
        MemorySegment format = fmt.reinterpret(Long.MAX_VALUE);
        if (X86_64) {
            MemorySegment.copy(ap.reinterpret(VA_LIST_SIZE), 0, apCopy, 0, VA_LIST_SIZE);
        }
        int needed = Libc.vsnprintf(buf, FORMAT_BUFFER, format, ap);
        String message;
        if (needed < 0) {
            message = format.getString(0); // formatting failed: the raw format is better than nothing
        } else if (needed < FORMAT_BUFFER || !X86_64) {
            message = buf.getString(0);
        } else {
            // A verifier log arrives as one message of up to megabytes: format it again at its size.
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment big = arena.allocate(needed + 1L);
                Libc.vsnprintf(big, needed + 1L, format, apCopy);
                message = big.getString(0);
            }
        }
        return message.stripTrailing();
    }

    /** Handles for library-wide functions, created on first use, after {@link #requireAvailable()}. */
    private static final class Calls {
        static final MethodHandle SET_PRINT = downcall("libbpf_set_print", FunctionDescriptor.of(ADDRESS, ADDRESS), false);
        static final MethodHandle NUM_POSSIBLE_CPUS = downcall("libbpf_num_possible_cpus", FunctionDescriptor.of(JAVA_INT), false);
        static final MethodHandle VERSION_STRING = downcall("libbpf_version_string", FunctionDescriptor.of(ADDRESS), false);
        static final MethodHandle STRERROR = downcall("libbpf_strerror",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG), false);
    }
}
