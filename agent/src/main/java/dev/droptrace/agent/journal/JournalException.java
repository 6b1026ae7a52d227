package dev.droptrace.agent.journal;

/** A journal that cannot be opened, written or read; the message is one line meant for the user. */
public class JournalException extends RuntimeException {
    public JournalException(String message) {
        super(message);
    }

    public JournalException(String message, Throwable cause) {
        super(message, cause);
    }
}
