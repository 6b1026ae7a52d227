package dev.droptrace.agent.output;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;

import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Aligned columns TIME, SOURCE, REASON, PROTO, SRC, DST, FLAGS, IFACE, COUNT. For a stream,
 * {@link #header()} then {@link #row} per drop use fixed minimum widths (a longer value pushes its
 * row's later columns right); {@link #format(List)} sizes the columns to a whole batch. SRC and DST
 * show namespace/pod when known, else the address; FLAGS shows TCP flags or ICMP type/code.
 */
public final class TableFormatter {
    public static final String[] COLUMNS = {"TIME", "SOURCE", "REASON", "PROTO", "SRC", "DST", "FLAGS", "IFACE", "COUNT"};
    private static final int[] STREAM_WIDTHS = {19, 6, 22, 6, 21, 21, 7, 15, 5};
    private static final String GAP = "  ";

    private final DateTimeFormatter time;

    public TableFormatter() {
        this(ZoneOffset.UTC);
    }

    public TableFormatter(ZoneId zone) {
        this.time = DateTimeFormatter.ofPattern("MMM dd HH:mm:ss.SSS", Locale.ENGLISH).withZone(zone);
    }

    /** The header line for streaming. */
    public String header() {
        return render(COLUMNS, STREAM_WIDTHS);
    }

    /** One row for streaming, aligned with {@link #header()}. */
    public String row(DropView v) {
        return render(cells(v), STREAM_WIDTHS);
    }

    /** Header and rows sized to fit every value, each line ending in '\n'. */
    public String format(List<DropView> views) {
        List<String[]> rows = new ArrayList<>(views.size() + 1);
        rows.add(COLUMNS);
        for (DropView v : views) {
            rows.add(cells(v));
        }
        int[] widths = new int[COLUMNS.length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                widths[i] = Math.max(widths[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] r : rows) {
            sb.append(render(r, widths)).append('\n');
        }
        return sb.toString();
    }

    /** The cell texts of one drop, in {@link #COLUMNS} order. */
    public String[] cells(DropView v) {
        DropSource s = v.source();
        return new String[] {
            time.format(JsonFormatter.instant(v.wallNs())),
            s != null ? s.jsonName() : Integer.toString(v.record().source()),
            v.reasonText(),
            EndpointText.protocol(v),
            EndpointText.of(v, true),
            EndpointText.of(v, false),
            EndpointText.flags(v),
            v.interfaceName() != null ? v.interfaceName() : v.ifindex() != 0 ? "#" + v.ifindex() : "-",
            Long.toString(v.count()),
        };
    }

    private static String render(String[] cells, int[] widths) {
        StringBuilder sb = new StringBuilder(160);
        for (int i = 0; i < cells.length; i++) {
            sb.append(cells[i]);
            if (i < cells.length - 1) {
                for (int pad = widths[i] - cells[i].length(); pad > 0; pad--) {
                    sb.append(' ');
                }
                sb.append(GAP);
            }
        }
        return sb.toString();
    }
}
