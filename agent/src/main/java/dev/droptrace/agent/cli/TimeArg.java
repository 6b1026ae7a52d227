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

    private TimeArg() {}

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
