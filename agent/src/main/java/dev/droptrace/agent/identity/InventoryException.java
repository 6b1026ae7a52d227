package dev.droptrace.agent.identity;

/** An inventory file that cannot be read or is invalid; the message names the file and the field. */
public final class InventoryException extends RuntimeException {
    public InventoryException(String message) {
        super(message);
    }

    public InventoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
