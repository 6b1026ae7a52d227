package dev.droptrace.agent.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses --since/--until values as hubble does: an RFC 3339 time, or a duration ago such as 90s, 5m, 2h, 1d. */
final class TimeArg {
    private static final Pattern AGO = Pattern.compile("(\\d+)(ms|s|m|h|d)");

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(|B|K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)", Pattern.CASE_INSENSITIVE);

    private TimeArg() {}

    /** A duration such as 500ms, 1s, 5m, 24h, 7d, or 0 (off). */
    static Duration duration(String value) {
        String v = value.strip();
        if (v.equals("0")) return Duration.ZERO;
        Matcher m = AGO.matcher(v);
        if (!m.matches()) throw new IllegalArgumentException("not a duration: '" + value + "' (use for example 500ms, 1s, 5m, 24h, 7d)");
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    /** A size in bytes such as 1GiB, 512MiB, 100M (powers of 1024), or 0 (off). */
    static long size(String value) {
        Matcher m = SIZE.matcher(value.strip());
        if (!m.matches()) throw new IllegalArgumentException("not a size: '" + value + "' (use for example 1GiB, 512MiB, 0)");
        long n = Long.parseLong(m.group(1));
        int shift = switch (m.group(2).isEmpty() ? 'B' : Character.toUpperCase(m.group(2).charAt(0))) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        return Math.multiplyExact(n, 1L << shift);
    }

    static Instant parse(String value, Instant now) {
        Matcher m = AGO.matcher(value.strip());
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            Duration d = switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
            return now.minus(d);
        }
        try {
            return OffsetDateTime.parse(value.strip()).toInstant();
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("not a time: '" + value
                    + "' (use RFC 3339 such as 2026-11-23T12:00:00Z, or a duration ago such as 5m)");
        }
    }
}
