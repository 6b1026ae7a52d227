package dev.droptrace.agent.journal;

import java.time.Duration;

/**
 * How much of the journal is kept: whole rolled cycle files are evicted when they are older than
 * {@code maxAge} (their cycle ended before now - maxAge), and the oldest ones while all files
 * together occupy more than {@code maxBytes} on disk. The current cycle is never evicted; so that
 * it cannot grow without bound during a storm either, one cycle holds at most {@code maxBytes / 2}
 * of events, and events beyond that are refused (and counted) until the next cycle begins. The
 * journal therefore stays within {@code maxBytes} plus one cycle of at most half of it. 0 (or a
 * zero duration) turns a limit off.
 */
public record RetentionPolicy(long maxBytes, Duration maxAge) {
    /** 1 GiB and 24 hours: bounded on any node's disk. */
    public static final RetentionPolicy DEFAULT = new RetentionPolicy(1L << 30, Duration.ofHours(24));
    /** Keeps everything (tests and tools that must not delete). */
    public static final RetentionPolicy UNBOUNDED = new RetentionPolicy(0, Duration.ZERO);

    public RetentionPolicy {
        if (maxBytes < 0) throw new IllegalArgumentException("retention size must not be negative");
        if (maxAge == null || maxAge.isNegative()) throw new IllegalArgumentException("retention age must not be negative");
    }

    boolean bySize() {
        return maxBytes > 0;
    }

    boolean byAge() {
        return !maxAge.isZero();
    }
}
