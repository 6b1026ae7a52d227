package dev.droptrace.agent.journal;

/** A journal that cannot be opened, written or read; the message is one line meant for the user. */
public class JournalException extends RuntimeException {
    private final long eventsLost;
    private final long dropsLost;

    public JournalException(String message) {
        this(message, null);
    }

    public JournalException(String message, Throwable cause) {
        this(message, cause, 0, 0);
    }

    /**
     * A failed write of a batch: {@code eventsLost} events that {@link DropJournal#appendEvent}
     * had already accepted into the open batch were discarded with it, standing for
     * {@code dropsLost} drops (the sum of their counts).
     */
    public JournalException(String message, Throwable cause, long eventsLost, long dropsLost) {
        super(message, cause);
        this.eventsLost = eventsLost;
        this.dropsLost = dropsLost;
    }

    /** Events accepted earlier into the open batch and discarded with it (0 outside a batch). */
    public long eventsLost() {
        return eventsLost;
    }

    /** Drops those discarded events stood for. */
    public long dropsLost() {
        return dropsLost;
    }
}
