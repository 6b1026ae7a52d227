package dev.droptrace.agent.source.calico;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.JournalReader;
import dev.droptrace.agent.output.JsonFormatter;
import dev.droptrace.agent.pipeline.EventSink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real journal in a directory plus an {@link EventSink} that appends what a translator emits to it
 * (the pipeline's job, without its merger), remembering whether each event was mergeable; and the
 * read-back of the journal as {@code -o json} objects.
 */
final class CalicoTestJournal implements EventSink, AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    final Path dir;
    final DropJournal journal;
    final List<Boolean> mergeable = new ArrayList<>();
    private final MemorySegment scratch = Arena.ofAuto().allocate(DropRecord.SIZE, 8);
    private final DropRecord record = new DropRecord().wrap(scratch, 0);
    private final boolean remember;

    CalicoTestJournal(Path dir) {
        this(dir, true);
    }

    /** {@code remember} false: nothing is recorded per event (allocation tests). */
    CalicoTestJournal(Path dir, boolean remember) {
        this.dir = dir;
        this.journal = DropJournal.open(dir);
        this.remember = remember;
    }

    @Override
    public DropRecord begin() {
        return record.clear();
    }

    @Override
    public void emit(boolean m) {
        if (remember) mergeable.add(m);
        journal.appendEvent(scratch, 0);
    }

    /** Every event journaled so far, as the JSON formatter prints it. */
    List<JsonNode> events() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        try (JournalReader r = JournalReader.open(dir)) {
            DropView v = new DropView();
            JsonFormatter f = new JsonFormatter();
            while (r.next(v)) {
                out.add(JSON.readTree(f.format(v)));
            }
        }
        return out;
    }

    /** Every event journaled so far, as views (for filters). */
    List<DropView> views() {
        List<DropView> out = new ArrayList<>();
        try (JournalReader r = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (r.next(v)) {
                out.add(v);
                v = new DropView();
            }
        }
        return out;
    }

    /** A payload copied into native memory, as the queue hands it to translators. */
    static MemorySegment native_(byte[] bytes) {
        MemorySegment s = Arena.ofAuto().allocate(Math.max(1, bytes.length));
        MemorySegment.copy(bytes, 0, s, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return s;
    }

    @Override
    public void close() {
        journal.close();
    }
}
