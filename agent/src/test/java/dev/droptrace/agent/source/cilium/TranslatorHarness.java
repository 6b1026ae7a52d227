package dev.droptrace.agent.source.cilium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.JournalReader;
import dev.droptrace.agent.output.JsonFormatter;
import dev.droptrace.agent.pipeline.EventSink;
import dev.droptrace.agent.pipeline.SourceOptions;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A translator writing into a real {@link DropJournal} in a directory, read back with a
 * {@link JournalReader} and printed with the {@link JsonFormatter}: the path an event takes to
 * {@code droptrace observe -o json}, without the pipeline's merger.
 */
final class TranslatorHarness implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    final Path dir;
    final DropJournal journal;
    final CiliumPayloadTranslator translator;
    final Sink sink;

    /** Records what the translator emits: the mergeable flag of each event, in order. */
    static final class Sink implements EventSink {
        private final DropJournal journal;
        private final MemorySegment seg = Arena.ofAuto().allocate(DropRecord.SIZE, 8);
        private final DropRecord rec = new DropRecord().wrap(seg, 0);
        final List<Boolean> mergeable = new ArrayList<>();

        Sink(DropJournal journal) {
            this.journal = journal;
        }

        @Override
        public DropRecord begin() {
            return rec.clear();
        }

        @Override
        public void emit(boolean m) {
            mergeable.add(m);
            journal.appendEvent(seg, 0);
        }
    }

    TranslatorHarness(Path dir, String node, IdentityCache cache, CiliumIdentityTable table, SourceOptions options) {
        this.dir = dir;
        this.journal = DropJournal.open(dir);
        this.translator = new CiliumPayloadTranslator(journal, node, cache, table, options);
        this.sink = new Sink(journal);
    }

    static SourceOptions options(int version, boolean allowed) {
        return new SourceOptions(SourceOptions.DEFAULT_CILIUM_SOCKET, null, version, allowed, SourceOptions.DEFAULT_NFLOG_GROUPS,
                false);
    }

    /** Translates one sample (copied into native memory, as the payload queue holds it). */
    void translate(byte[] sample, int cpu) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Math.max(1, sample.length) + 16L);
            MemorySegment.copy(sample, 0, s, java.lang.foreign.ValueLayout.JAVA_BYTE, 8, sample.length);
            translator.translate(s, 8, sample.length, cpu, sink);
        }
    }

    /** Two polls: whatever is held is released. */
    void flush() {
        translator.flush(sink);
        translator.flush(sink);
    }

    /** Every event in the journal as parsed JSON, in order. */
    List<JsonNode> events() {
        List<JsonNode> out = new ArrayList<>();
        JsonFormatter f = new JsonFormatter();
        try (JournalReader r = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (r.next(v)) {
                try {
                    out.add(JSON.readTree(f.format(v)));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        }
        return out;
    }

    /** The only event in the journal. */
    JsonNode only() {
        List<JsonNode> e = events();
        if (e.size() != 1) {
            throw new AssertionError("expected one event, got " + e.size() + ": " + e);
        }
        return e.get(0);
    }

    @Override
    public void close() {
        journal.close();
    }
}
