package dev.droptrace.libc;

/**
 * A native call failed: carries the call's name, its errno and an optional detail block (for a
 * failed BPF load, the verifier log), the one exception type for every failed native call.
 */
public class NativeCallException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;
    private final String detail;

    /** A failed call whose errno is explained by {@code strerror}. */
    public NativeCallException(String call, int errno) {
        this(call, errno, Libc.strerror(errno), "");
    }

    /** A failed call with a detail block appended to the message (for example a verifier log). */
    public NativeCallException(String call, int errno, String detail) {
        this(call, errno, Libc.strerror(errno), detail);
    }

    /**
     * A failed call whose error text does not come from {@code strerror}: libbpf has its own
     * error codes (4000 and up) that only {@code libbpf_strerror} knows.
     */
    public NativeCallException(String call, int errno, String errnoText, String detail) {
        super(message(call, errno, errnoText, detail));
        this.call = call;
        this.errno = errno;
        this.detail = detail == null ? "" : detail;
    }

    private static String message(String call, int errno, String errnoText, String detail) {
        String head = call + ": " + errnoText + " (errno " + errno + ")";
        return detail == null || detail.isBlank() ? head : head + "\n" + detail.stripTrailing();
    }

    /** The native function that failed, for example {@code bpf_object__load}. */
    public String call() {
        return call;
    }

    /** The positive errno value the call failed with. */
    public int errno() {
        return errno;
    }

    /** The detail block (for a failed load, the log libbpf printed while loading); empty if none. */
    public String detail() {
        return detail;
    }
}
