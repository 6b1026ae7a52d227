package dev.droptrace.btf;

/**
 * A BTF blob (or the ELF file carrying one) is malformed: truncated, out of bounds, of an unknown
 * kind or version, or referring to a type or string that does not exist.
 */
public final class BtfFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BtfFormatException(String message) {
        super(message);
    }

    public BtfFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
