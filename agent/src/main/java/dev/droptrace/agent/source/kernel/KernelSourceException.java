package dev.droptrace.agent.source.kernel;

/** The kernel source cannot run here; the message says what is missing in one line. */
public final class KernelSourceException extends RuntimeException {
    public KernelSourceException(String message, Throwable cause) {
        super(message, cause);
    }

    public KernelSourceException(String message) {
        super(message);
    }
}
