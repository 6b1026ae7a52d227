package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.agrona.collections.Int2ObjectHashMap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The writer of a drop journal: a Chronicle Queue directory, rolled hourly, holding event and
 * dictionary excerpts (see the package documentation for the excerpt format).
 *
 * <p>Not thread-safe: one thread appends (the appender is created on that thread's first write).
 * {@link #appendEvent} and a hit of {@link #intern} or {@link #internBytes} allocate nothing in
 * steady state. Dictionary ids are sequential per kind from 1; on open the writer scans the
 * existing dictionary records, so ids continue across restarts and never collide.
 *
 * <p>Chronicle writes through memory-mapped files and commits each excerpt by a header word, so
 * after a crash (even SIGKILL) every fully written excerpt is readable and a new writer continues
 * after it. A full disk surfaces as {@link JournalException} ("journal directory X is full") and
 * rolls back the excerpt being written; excerpts already written stay readable.
 *
 * <p>Retention ({@link RetentionPolicy}): whole rolled cycle files are deleted when older than the
 * age limit, and the oldest while the journal exceeds the size limit; never the current cycle.
 * Because an event refers to dictionary entries that may have been written in an evicted file, the
 * writer writes the whole live dictionary again into each new cycle right after its first excerpt,
 * so the files that remain always hold every name their events need. What is evicted (files,
 * bytes, events) is counted ({@link #evictedFiles()} and friends).
 */
public final class DropJournal implements AutoCloseable {
    static {
        JournalFormat.disableChronicleAnalytics();
    }

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int KINDS = DictionaryKind.MAX_CODE + 1;

    private final Path dir;
    private final SingleChronicleQueue queue;
    private ExcerptAppender appender;

    /** An event excerpt: the type byte, then the record; reused for every append. */
    private final byte[] eventExcerpt = new byte[1 + DropRecord.SIZE];
    private final MemorySegment eventExcerptSegment = MemorySegment.ofArray(eventExcerpt);
    /** The open batch: a batch excerpt's header, then {@link #pending} records; reused for every batch. */
    private final byte[] batch = new byte[JournalFormat.BATCH_HEADER_SIZE + JournalFormat.BATCH_CAPACITY * DropRecord.SIZE];
    private final MemorySegment batchSegment = MemorySegment.ofArray(batch);
    /** Between {@link #beginBatch} and {@link #endBatch}: events are gathered into batch excerpts. */
    private boolean batching;
    /** Records in the open batch, accepted but not yet written. */
    private int pending;

    /** text -> id per kind code (STRING, IDENTITY, POLICY). */
    @SuppressWarnings("unchecked")
    private final Map<String, Integer>[] idsByText = new Map[KINDS];
    private final int[] nextId = new int[KINDS];
    /** code -> name per reason kind code. */
    @SuppressWarnings("unchecked")
    private final Int2ObjectHashMap<String>[] reasons = new Int2ObjectHashMap[KINDS];
    private final ByteKeyTable byteKeys = new ByteKeyTable();
    /**
     * id (or reason code) -> UTF-8 text per kind code, every entry this journal knows: what a roll
     * writes into the new cycle, kept encoded so that rewrite allocates nothing per entry.
     */
    @SuppressWarnings("unchecked")
    private final Int2ObjectHashMap<byte[]>[] utf8ById = new Int2ObjectHashMap[KINDS];
    /** A dictionary excerpt being written; grown for longer texts, reused otherwise. */
    private byte[] dictionaryExcerpt = new byte[JournalFormat.DICTIONARY_HEADER_SIZE + 256];
    private MemorySegment dictionaryExcerptSegment = MemorySegment.ofArray(dictionaryExcerpt);

    private long eventsAppended;
    private long dictionaryRecordsAppended;
    private boolean closed;

    private final RetentionPolicy retention;
    /** Cycle of the writer's last excerpt; a change means a roll. */
    private int writerCycle = Integer.MIN_VALUE;
    private volatile int currentCycle = Integer.MIN_VALUE;
    private boolean rewritingDictionary;
    private long eventsThisCycle;
    /** Events per cycle file (counted on open and while writing), for eviction accounting. */
    private final Map<Integer, Long> eventsByCycle = new ConcurrentHashMap<>();
    private final Object evictionLock = new Object();
    private final AtomicLong evictedFiles = new AtomicLong();
    private final AtomicLong evictedBytes = new AtomicLong();
    private final AtomicLong evictedEvents = new AtomicLong();
    private final AtomicLong dictionaryRewrites = new AtomicLong();
    private final AtomicLong refusedEvents = new AtomicLong();
    /** Events one cycle may hold: half the size limit in event excerpts (no cap without a size limit). */
    private final long cycleEventCap;
    /**
     * Bytes a single-event excerpt occupies in a cycle file: Chronicle's 4-byte header, type byte,
     * record, padding. Batched events take less (128 bytes plus 9 per batch); the cap is reckoned
     * with this larger figure, so it stays on the safe side of the size limit.
     */
    static final int EVENT_EXCERPT_BYTES = 136;

    private DropJournal(Path dir, SingleChronicleQueue queue, RetentionPolicy retention) {
        this.dir = dir;
        this.queue = queue;
        this.retention = retention;
        this.cycleEventCap = retention.bySize() ? Math.max(1, retention.maxBytes() / 2 / EVENT_EXCERPT_BYTES) : Long.MAX_VALUE;
        for (int k = 0; k < KINDS; k++) {
            idsByText[k] = new HashMap<>();
            reasons[k] = new Int2ObjectHashMap<>();
            utf8ById[k] = new Int2ObjectHashMap<>();
            nextId[k] = 1;
        }
    }

    /**
     * Opens (creating if needed) the journal in {@code dir}.
     *
     * @throws JournalException when the directory cannot be created or written, with a one-line message
     */
    public static DropJournal open(Path dir) {
        return open(dir, RollCycles.FAST_HOURLY, RetentionPolicy.UNBOUNDED);
    }

    /**
     * Opens (creating if needed) the journal in {@code dir}, rolling files by {@code rollCycle} (an
     * existing journal keeps the roll cycle it was created with) and evicting by {@code retention}.
     *
     * @throws JournalException when the directory cannot be created or written, with a one-line message
     */
    public static DropJournal open(Path dir, RollCycle rollCycle, RetentionPolicy retention) {
        return open(dir, rollCycle, retention, null);
    }

    /** As {@link #open(Path, RollCycle, RetentionPolicy)} with Chronicle's clock replaced (tests). */
    static DropJournal open(Path dir, RollCycle rollCycle, RetentionPolicy retention,
                            net.openhft.chronicle.core.time.TimeProvider clock) {
        Path abs = dir.toAbsolutePath().normalize();
        checkWritable(abs);
        SingleChronicleQueue q;
        try {
            SingleChronicleQueueBuilder b = SingleChronicleQueueBuilder.binary(abs).rollCycle(rollCycle);
            if (clock != null) b.timeProvider(clock);
            q = b.build();
        } catch (RuntimeException e) {
            throw new JournalException("journal directory " + abs + " cannot be opened: " + describe(e), e);
        }
        DropJournal j = new DropJournal(abs, q, retention);
        try {
            j.loadDictionary();
            int last = q.lastCycle();
            j.writerCycle = last;
            j.currentCycle = last;
            j.eventsThisCycle = j.eventsByCycle.getOrDefault(last, 0L);
        } catch (RuntimeException e) {
            q.close();
            throw new JournalException("journal directory " + abs + " cannot be read: " + describe(e), e);
        }
        return j;
    }

    private static void checkWritable(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new JournalException("journal directory " + dir + " is not writable: " + reason(e, dir), e);
        }
        if (!Files.isDirectory(dir)) {
            throw new JournalException("journal directory " + dir + " is not writable: Not a directory");
        }
        try {
            Path probe = Files.createTempFile(dir, ".droptrace-probe", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new JournalException("journal directory " + dir + " is not writable: " + reason(e, dir), e);
        }
    }

    /** The errno-like reason of a file error, e.g. "Permission denied" or "/x/file is not a directory". */
    private static String reason(IOException e, Path dir) {
        for (Path p = dir; p != null; p = p.getParent()) {
            if (Files.exists(p)) {
                if (!Files.isDirectory(p)) {
                    return p + " is not a directory";
                }
                break;
            }
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "Permission denied";
        }
        if (e instanceof FileSystemException fse && fse.getReason() != null) {
            return fse.getFile() != null && !Path.of(fse.getFile()).equals(dir)
                    ? fse.getFile() + ": " + fse.getReason() : fse.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        return (m != null ? m : root.getClass().getSimpleName()).lines().findFirst().orElse("");
    }

    /** Rebuilds the dictionary maps from every dictionary record already in the queue. */
    private void loadDictionary() {
        byte[] text = new byte[256];
        try (ExcerptTailer t = queue.createTailer()) {
            t.toStart();
            while (true) {
                try (DocumentContext dc = t.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    Bytes<?> b = dc.wire().bytes();
                    if (b.readRemaining() >= JournalFormat.EVENT_EXCERPT_SIZE && b.peekUnsignedByte() == JournalFormat.TYPE_EVENT) {
                        eventsByCycle.merge(queue.rollCycle().toCycle(dc.index()), 1L, Long::sum);
                        continue;
                    }
                    if (b.readRemaining() > 0 && b.peekUnsignedByte() == JournalFormat.TYPE_BATCH) {
                        b.readSkip(1);
                        int n = JournalFormat.batchCount(b);
                        if (n > 0) eventsByCycle.merge(queue.rollCycle().toCycle(dc.index()), (long) n, Long::sum);
                        continue;
                    }
                    if (b.readRemaining() < JournalFormat.DICTIONARY_HEADER_SIZE || b.readByte() != JournalFormat.TYPE_DICTIONARY) {
                        continue;
                    }
                    int kindCode = b.readUnsignedByte();
                    int id = JournalFormat.readIntLE(b);
                    int len = JournalFormat.readIntLE(b);
                    DictionaryKind kind = DictionaryKind.fromCode(kindCode);
                    if (kind == null || len < 0 || len > b.readRemaining() || len > JournalFormat.MAX_TEXT_BYTES) {
                        continue;
                    }
                    if (text.length < len) {
                        text = new byte[Math.max(len, text.length * 2)];
                    }
                    b.read(text, 0, len);
                    String s = new String(text, 0, len, StandardCharsets.UTF_8);
                    if (kind.isReason()) {
                        reasons[kindCode].put(id, s);
                        utf8ById[kindCode].put(id, java.util.Arrays.copyOf(text, len));
                    } else if (id > 0) {
                        idsByText[kindCode].putIfAbsent(s, id);
                        utf8ById[kindCode].put(id, java.util.Arrays.copyOf(text, len));
                        if (id >= nextId[kindCode]) {
                            nextId[kindCode] = id + 1;
                        }
                    }
                }
            }
        }
    }

    private ExcerptAppender appender() {
        if (closed) {
            throw new IllegalStateException("journal " + dir + " is closed");
        }
        ExcerptAppender a = appender;
        if (a == null) {
            a = appender = queue.createAppender();
        }
        return a;
    }

    /**
     * Appends the 128-byte record at {@code seg[offset..)}. Allocates nothing. Outside a batch the
     * record is written as one event excerpt before this returns; inside one ({@link #beginBatch})
     * it is copied into the open batch, which is written when it is full, before any dictionary
     * record, and at {@link #endBatch}: only then is it acknowledged (readable, and kept across a
     * crash).
     *
     * @return false when the event is refused because the current cycle has reached its share of
     *     the size limit (counted in {@link #refusedEvents()}; see {@link RetentionPolicy})
     * @throws JournalException when the disk is full: nothing of this event is kept, and when a
     *     full batch could not be written, its events are lost too ({@link JournalException#eventsLost()})
     */
    public boolean appendEvent(MemorySegment seg, long offset) {
        if (eventsThisCycle + pending >= cycleEventCap && !cycleEnded()) {
            refusedEvents.setRelease(refusedEvents.getPlain() + 1);
            return false;
        }
        if (batching) {
            if (pending == JournalFormat.BATCH_CAPACITY) {
                writeBatch();
            }
            MemorySegment.copy(seg, offset, batchSegment, JournalFormat.BATCH_HEADER_SIZE + (long) pending * DropRecord.SIZE, DropRecord.SIZE);
            pending++;
            return true;
        }
        eventExcerpt[0] = JournalFormat.TYPE_EVENT;
        MemorySegment.copy(seg, offset, eventExcerptSegment, 1, DropRecord.SIZE);
        ExcerptAppender a = writeExcerpt(eventExcerpt, eventExcerpt.length);
        eventsAppended++;
        if (a.cycle() != writerCycle) {
            rolled(a.cycle());
        }
        eventsThisCycle++;
        return true;
    }

    /**
     * From now on {@link #appendEvent} gathers events into batch excerpts of up to 64 events, which
     * costs one Chronicle excerpt per batch instead of one per event. A source opens a batch at the
     * start of each drain of its kernel channel and ends it when the drain is done, so an event is
     * acknowledged (readable by tailers, kept across a crash) at most one drain after it arrived.
     */
    public void beginBatch() {
        batching = true;
    }

    /**
     * Writes the open batch and ends batching: every event accepted so far is acknowledged when
     * this returns. Allocates nothing.
     *
     * @throws JournalException when the batch cannot be written; its events are lost
     *     ({@link JournalException#eventsLost()}) and batching has ended
     */
    public void endBatch() {
        batching = false;
        if (pending > 0) {
            writeBatch();
        }
    }

    /** Events accepted into the open batch and not yet written. */
    public int pendingEvents() {
        return pending;
    }

    /**
     * Writes the {@link #pending} records: one record as a plain event excerpt, more as a batch
     * excerpt. On failure the records are discarded and the exception says how many.
     */
    private void writeBatch() {
        int n = pending;
        ExcerptAppender a;
        try {
            if (n == 1) {
                eventExcerpt[0] = JournalFormat.TYPE_EVENT;
                MemorySegment.copy(batchSegment, JournalFormat.BATCH_HEADER_SIZE, eventExcerptSegment, 1, DropRecord.SIZE);
                a = writeExcerpt(eventExcerpt, eventExcerpt.length);
            } else {
                batch[0] = JournalFormat.TYPE_BATCH;
                batchSegment.set(U16, 1, (short) n);
                batchSegment.set(U16, 3, (short) DropRecord.SIZE);
                a = writeExcerpt(batch, JournalFormat.BATCH_HEADER_SIZE + n * DropRecord.SIZE);
            }
        } catch (JournalException e) {
            long drops = 0;
            for (int i = 0; i < n; i++) {
                drops += Integer.toUnsignedLong(batchSegment.get(U32, JournalFormat.BATCH_HEADER_SIZE + (long) i * DropRecord.SIZE + DropRecord.COUNT_OFFSET));
            }
            pending = 0;
            throw new JournalException(e.getMessage(), e.getCause(), n, drops);
        }
        pending = 0;
        eventsAppended += n;
        if (a.cycle() != writerCycle) {
            rolled(a.cycle());
        }
        eventsThisCycle += n;
    }

    /**
     * Writes one excerpt of {@code length} bytes and returns the appender; a failure rolls the
     * excerpt back (no partial excerpt is left) and throws a {@link JournalException}.
     */
    private ExcerptAppender writeExcerpt(byte[] bytes, int length) {
        ExcerptAppender a = appender();
        DocumentContext dc;
        try {
            dc = a.writingDocument();
        } catch (RuntimeException | Error e) {
            throw translate(e);
        }
        try {
            dc.wire().bytes().write(bytes, 0, length);
        } catch (RuntimeException | Error e) {
            rollback(dc);
            throw translate(e);
        }
        try {
            dc.close();
        } catch (RuntimeException | Error e) {
            throw translate(e);
        }
        return a;
    }

    /** At the cap: whether the clock has moved on to a new cycle, so the next append rolls and may write. */
    private boolean cycleEnded() {
        return queue.cycle() != writerCycle;
    }

    /** Appends the record under a {@link DropRecord} flyweight; false when refused (see {@link #appendEvent(MemorySegment, long)}). */
    public boolean appendEvent(DropRecord record) {
        return appendEvent(record.segment(), record.offset());
    }

    /**
     * The id of {@code text} in dictionary {@code kind} (STRING, IDENTITY or POLICY), writing a
     * dictionary record the first time the text is seen. A hit allocates nothing.
     *
     * @throws IllegalArgumentException for a REASON_* kind (use {@link #defineReason})
     */
    public int intern(DictionaryKind kind, String text) {
        if (kind.isReason()) {
            throw new IllegalArgumentException("reason names are defined with defineReason, not interned");
        }
        int k = kind.code();
        Integer id = idsByText[k].get(text);
        if (id != null) {
            return id;
        }
        int newId = nextId[k];
        writeDictionary(k, newId, text.getBytes(StandardCharsets.UTF_8));
        nextId[k] = newId + 1;
        idsByText[k].put(text, newId);
        return newId;
    }

    /**
     * The id of the NUL-terminated C string at {@code seg[off..off+maxLen)} (at most maxLen bytes
     * when there is no NUL) in dictionary {@code kind}. A hit allocates nothing; the first sight of
     * a string decodes it as UTF-8 and interns it.
     */
    public int internBytes(DictionaryKind kind, MemorySegment seg, long off, int maxLen) {
        int limit = (int) Math.min(maxLen, seg.byteSize() - off);
        int len = 0;
        int hash = 0x811c9dc5 ^ kind.code();
        while (len < limit) {
            byte c = seg.get(ValueLayout.JAVA_BYTE, off + len);
            if (c == 0) {
                break;
            }
            hash = (hash ^ (c & 0xff)) * 0x01000193;
            len++;
        }
        int id = byteKeys.get(kind.code(), hash, seg, off, len);
        if (id != 0) {
            return id;
        }
        byte[] key = new byte[len];
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, key, 0, len);
        id = intern(kind, new String(key, StandardCharsets.UTF_8));
        byteKeys.put(kind.code(), hash, key, id);
        return id;
    }

    /**
     * Records that {@code code} of {@code source} is called {@code name}; writes a reason dictionary
     * record unless this journal already holds the same name for the code.
     */
    public void defineReason(DropSource source, int code, String name) {
        int k = DictionaryKind.reasonOf(source).code();
        String known = reasons[k].get(code);
        if (name.equals(known)) {
            return;
        }
        writeDictionary(k, code, name.getBytes(StandardCharsets.UTF_8));
        reasons[k].put(code, name);
    }

    /** The reason name this journal holds for a source's code, or null. */
    public String reasonName(DropSource source, int code) {
        return reasons[DictionaryKind.reasonOf(source).code()].get(code);
    }

    /** Writes a dictionary excerpt and remembers the entry for the next roll's rewrite. */
    private void writeDictionary(int kindCode, int id, byte[] utf8) {
        if (pending > 0) {
            writeBatch(); // keeps excerpts in the order of the calls: the events before, then the name
        }
        if (utf8.length > JournalFormat.MAX_TEXT_BYTES) {
            throw new IllegalArgumentException("dictionary text longer than " + JournalFormat.MAX_TEXT_BYTES + " bytes");
        }
        int size = JournalFormat.DICTIONARY_HEADER_SIZE + utf8.length;
        if (dictionaryExcerpt.length < size) {
            dictionaryExcerpt = new byte[Math.max(size, dictionaryExcerpt.length * 2)];
            dictionaryExcerptSegment = MemorySegment.ofArray(dictionaryExcerpt);
        }
        byte[] rec = dictionaryExcerpt;
        MemorySegment s = dictionaryExcerptSegment;
        rec[0] = JournalFormat.TYPE_DICTIONARY;
        rec[1] = (byte) kindCode;
        s.set(U32, 2, id);
        s.set(U32, 6, utf8.length);
        System.arraycopy(utf8, 0, rec, JournalFormat.DICTIONARY_HEADER_SIZE, utf8.length);
        ExcerptAppender a = writeExcerpt(rec, size);
        dictionaryRecordsAppended++;
        if (rewritingDictionary) return;
        if (a.cycle() != writerCycle) {
            rolled(a.cycle()); // rewrites what was known before: this entry is in the new cycle already
        }
        utf8ById[kindCode].put(id, utf8);
    }

    /**
     * The writer's first excerpt landed in a new cycle: write the live dictionary into it (so this
     * cycle resolves every name even after older files are evicted), then apply retention.
     */
    private void rolled(int cycle) {
        if (writerCycle != Integer.MIN_VALUE) {
            eventsByCycle.merge(writerCycle, eventsThisCycle, Math::max);
        }
        writerCycle = cycle;
        currentCycle = cycle;
        eventsThisCycle = 0;
        rewritingDictionary = true;
        try {
            for (int k = 0; k < KINDS; k++) {
                if (DictionaryKind.fromCode(k) == null) continue;
                // Agrona's map reuses its iterator: a roll allocates nothing per entry
                for (Int2ObjectHashMap<byte[]>.EntryIterator it = utf8ById[k].entrySet().iterator(); it.hasNext(); ) {
                    it.next();
                    writeDictionary(k, it.getIntKey(), it.getValue());
                }
            }
            dictionaryRewrites.incrementAndGet();
        } finally {
            rewritingDictionary = false;
        }
        enforceRetention();
    }

    /**
     * Applies the retention policy now: deletes rolled cycle files past the age limit, then the
     * oldest while the journal exceeds the size limit, never the newest file nor the writer's current
     * cycle. Safe from any thread (the agent also calls it on its status timer, so age applies while
     * nothing is written). Returns the number of files deleted.
     */
    public int enforceRetention() {
        if (!retention.bySize() && !retention.byAge()) return 0;
        synchronized (evictionLock) {
            java.util.List<CycleFile> files = cycleFiles();
            if (files.size() <= 1) return 0;
            long total = 0;
            for (CycleFile f : files) total += f.bytes();
            int protectFrom = Math.min(currentCycle == Integer.MIN_VALUE ? Integer.MAX_VALUE : currentCycle, queue.cycle());
            long now = queue.time().currentTimeMillis();
            long ageLimit = retention.byAge() ? now - retention.maxAge().toMillis() : Long.MIN_VALUE;
            int deleted = 0;
            for (int i = 0; i < files.size() - 1; i++) { // never the newest file
                CycleFile f = files.get(i);
                if (f.cycle() >= protectFrom) break;
                boolean tooOld = f.endMillis() <= ageLimit;
                boolean tooBig = retention.bySize() && total > retention.maxBytes();
                if (!tooOld && !tooBig) break; // files are oldest first: the rest are younger and fit
                try {
                    Files.delete(f.path());
                } catch (IOException e) {
                    continue; // gone already, or not ours to delete: try the next
                }
                total -= f.bytes();
                cycleStartByName.remove(f.path().getFileName().toString());
                deleted++;
                evictedFiles.incrementAndGet();
                evictedBytes.addAndGet(f.bytes());
                Long events = eventsByCycle.remove(f.cycle());
                if (events != null) evictedEvents.addAndGet(events);
            }
            if (deleted > 0) queue.refreshDirectoryListing();
            return deleted;
        }
    }

    private record CycleFile(Path path, int cycle, long endMillis, long bytes) {}

    /** File name -> start of its cycle in ms (Long.MIN_VALUE for other names); used under the eviction lock. */
    private final Map<String, Long> cycleStartByName = new HashMap<>();

    /** The cycle files of the journal, oldest first. A name is parsed once, not at every roll. */
    private java.util.List<CycleFile> cycleFiles() {
        RollCycle rc = queue.rollCycle();
        java.util.List<CycleFile> files = new java.util.ArrayList<>();
        try (java.nio.file.DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (!name.endsWith(JournalFormat.QUEUE_FILE_SUFFIX)) continue;
                Long start = cycleStartByName.computeIfAbsent(name, n -> cycleStart(rc, n));
                if (start == Long.MIN_VALUE) continue; // not a cycle file
                int cycle = (int) Math.floorDiv(start - queue.epoch(), (long) rc.lengthInMillis());
                long bytes;
                try {
                    bytes = dev.droptrace.libc.Libc.allocatedBytes(p.toString());
                } catch (RuntimeException gone) {
                    continue;
                }
                files.add(new CycleFile(p, cycle, start + rc.lengthInMillis(), bytes));
            }
        } catch (IOException e) {
            return java.util.List.of();
        }
        files.sort(java.util.Comparator.comparingInt(CycleFile::cycle));
        return files;
    }

    /** The start (UTC ms) of the cycle a file name stands for under the roll cycle's format, or Long.MIN_VALUE. */
    private static Long cycleStart(RollCycle rc, String name) {
        String stem = name.substring(0, name.length() - JournalFormat.QUEUE_FILE_SUFFIX.length());
        java.text.SimpleDateFormat fmt = new java.text.SimpleDateFormat(rc.format());
        fmt.setTimeZone(java.util.TimeZone.getTimeZone("UTC"));
        fmt.setLenient(false);
        java.text.ParsePosition pos = new java.text.ParsePosition(0);
        java.util.Date start = fmt.parse(stem, pos);
        return start == null || pos.getIndex() != stem.length() ? Long.MIN_VALUE : start.getTime();
    }

    /** The retention policy in force. */
    public RetentionPolicy retention() {
        return retention;
    }

    /** The roll cycle in force (an existing journal keeps its own). */
    public String rollCycleName() {
        RollCycle rc = queue.rollCycle();
        return rc instanceof Enum<?> e ? e.name() : rc.toString();
    }

    /** Cycle files deleted by retention since open. */
    public long evictedFiles() {
        return evictedFiles.get();
    }

    /** Bytes on disk those files occupied. */
    public long evictedBytes() {
        return evictedBytes.get();
    }

    /** Events those files held (counted on open and while writing). */
    public long evictedEvents() {
        return evictedEvents.get();
    }

    /** Events refused because the current cycle had reached its share (half) of the size limit. */
    public long refusedEvents() {
        return refusedEvents.get();
    }

    /** Times the live dictionary was written into a new cycle. */
    public long dictionaryRewrites() {
        return dictionaryRewrites.get();
    }

    private static void rollback(DocumentContext dc) {
        try {
            dc.rollbackOnClose();
            dc.close();
        } catch (RuntimeException | Error ignored) {
            // the excerpt was never committed; its header stays "not complete" and readers skip it
        }
    }

    private JournalException translate(Throwable e) {
        if (isDiskFull(e)) {
            return new JournalException("journal directory " + dir + " is full", e);
        }
        if (e instanceof JournalException je) {
            return je;
        }
        return new JournalException("journal directory " + dir + " cannot be written: " + describe(e), e);
    }

    /** ENOSPC, EFBIG, or a fault on a mapped page (what a full tmpfs or sparse file gives). */
    static boolean isDiskFull(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("No space left") || m.contains("ENOSPC") || m.contains("File too large")
                    || m.contains("Disk quota exceeded"))) {
                return true;
            }
            if (t instanceof InternalError && m != null && m.contains("unsafe memory access")) {
                return true;
            }
        }
        return false;
    }

    /** The journal directory (absolute). */
    public Path directory() {
        return dir;
    }

    /** Total size of the queue files. */
    /** Bytes the journal in {@code dir} occupies on disk, without opening it. */
    public static long diskBytes(Path dir) {
        return JournalFormat.sizeBytes(dir);
    }

    public long sizeBytes() {
        return JournalFormat.sizeBytes(dir);
    }

    /** Index of the last excerpt in the queue (any writer), or -1 when empty. */
    public long lastIndex() {
        long i = queue.lastIndex();
        return i < 0 ? -1 : i;
    }

    /** Events written by this instance (an open batch's events count once it is written). */
    public long eventsAppended() {
        return eventsAppended;
    }

    /** Dictionary records appended by this instance. */
    public long dictionaryRecordsAppended() {
        return dictionaryRecordsAppended;
    }

    /** Next id {@link #intern} would hand out for a kind (for tests and status). */
    public int nextId(DictionaryKind kind) {
        return nextId[kind.code()];
    }

    /**
     * Makes the calling thread the journal's one writer from now on: a source opens the journal and
     * writes its dictionary on one thread, then hands it to its drain thread. The caller must know
     * the previous writer has stopped (a Thread.start or join orders the two).
     */
    public void handOffToCurrentThread() {
        if (appender != null) appender.singleThreadedCheckReset();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (appender != null) {
            appender.singleThreadedCheckReset();
        }
        try {
            endBatch(); // what was accepted is written before the queue closes
        } catch (JournalException e) {
            // the batch is lost; the exception's count is all that could be said, and close must go on
        } finally {
            closed = true;
            if (appender != null) {
                appender.close();
            }
            queue.close();
        }
    }

    /** Open-addressing map (kind, bytes) -> id, probed without allocation. */
    static final class ByteKeyTable {
        private int[] hashes = new int[64];
        private int[] ids = new int[64];
        private int[] kinds = new int[64];
        private byte[][] keys = new byte[64][];
        private int size;

        int get(int kind, int hash, MemorySegment seg, long off, int len) {
            int mask = keys.length - 1;
            for (int i = mix(hash) & mask; ; i = (i + 1) & mask) {
                byte[] k = keys[i];
                if (k == null) {
                    return 0;
                }
                if (hashes[i] == hash && kinds[i] == kind && k.length == len && same(k, seg, off)) {
                    return ids[i];
                }
            }
        }

        private static boolean same(byte[] k, MemorySegment seg, long off) {
            for (int j = 0; j < k.length; j++) {
                if (k[j] != seg.get(ValueLayout.JAVA_BYTE, off + j)) {
                    return false;
                }
            }
            return true;
        }

        void put(int kind, int hash, byte[] key, int id) {
            if ((size + 1) * 2 > keys.length) {
                grow();
            }
            insert(kind, hash, key, id);
            size++;
        }

        private void insert(int kind, int hash, byte[] key, int id) {
            int mask = keys.length - 1;
            int i = mix(hash) & mask;
            while (keys[i] != null) {
                i = (i + 1) & mask;
            }
            keys[i] = key;
            hashes[i] = hash;
            kinds[i] = kind;
            ids[i] = id;
        }

        private void grow() {
            int[] oh = hashes, oi = ids, ok = kinds;
            byte[][] okeys = keys;
            int n = okeys.length * 2;
            hashes = new int[n];
            ids = new int[n];
            kinds = new int[n];
            keys = new byte[n][];
            for (int i = 0; i < okeys.length; i++) {
                if (okeys[i] != null) {
                    insert(ok[i], oh[i], okeys[i], oi[i]);
                }
            }
        }

        private static int mix(int h) {
            return h ^ (h >>> 16);
        }
    }
}
