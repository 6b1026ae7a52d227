package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.TailerDirection;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.agrona.collections.Int2ObjectHashMap;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;

/**
 * One independent reader of a drop journal: a Chronicle tailer that fills {@link DropView}s with
 * dictionary ids resolved.
 *
 * <p>On open the reader makes one pass over the queue collecting every dictionary record, so a
 * reader positioned anywhere (for example by {@link #last}) resolves every id; while reading it
 * also applies dictionary records as it meets them, so a follower learns new ids. {@link #next} is
 * non-blocking: it returns false at the current end, and true again once a writer has appended.
 * A directory without queue files reads as empty (and is re-checked on each {@link #next}). Event
 * excerpts hold one event ({@code 'E'}) or a batch ({@code 'B'}); both read the same. An excerpt
 * with an unknown type byte, too short for its type, or a batch whose header disagrees with its
 * length, is skipped and counted in {@link #decodeErrors()}; nothing here throws on bad data. Not thread-safe: use from one thread
 * at a time (positioning methods hand the underlying tailer over to whichever thread reads next).
 */
public final class JournalReader implements AutoCloseable {
    static {
        JournalFormat.disableChronicleAnalytics();
    }

    private static final int KINDS = DictionaryKind.MAX_CODE + 1;

    private final Path dir;
    private SingleChronicleQueue queue;
    private ExcerptTailer tailer;

    @SuppressWarnings("unchecked")
    private final Int2ObjectHashMap<String>[] dictionary = new Int2ObjectHashMap[KINDS];
    private final byte[] scratch = new byte[DropRecord.SIZE];
    private final MemorySegment scratchSegment = MemorySegment.ofArray(scratch);
    private final DropRecord scratchRecord = new DropRecord().wrap(scratchSegment, 0);
    private byte[] text = new byte[256];
    /** Records of the batch excerpt being read, and how far {@link #next} has got in it. */
    private byte[] batch = new byte[JournalFormat.BATCH_CAPACITY * DropRecord.SIZE];
    private MemorySegment batchSegment = MemorySegment.ofArray(batch);
    private int batchCount;
    private int batchNext;
    private long batchIndex = -1;
    /** After positioning inside an excerpt: skip its first {@code skipCount} events when it is read. */
    private long skipIndex = -1;
    private int skipCount;

    private boolean readOnly;
    private long sinceNs = Long.MIN_VALUE;
    private long untilNs = Long.MAX_VALUE;
    private long decodeErrors;
    private boolean closed;

    private JournalReader(Path dir) {
        this.dir = dir;
        for (int k = 0; k < KINDS; k++) {
            dictionary[k] = new Int2ObjectHashMap<>();
        }
    }

    /**
     * Opens a reader on {@code dir}, positioned at the start. A missing or empty directory is not
     * an error: the reader yields nothing until queue files appear.
     *
     * @throws JournalException when existing queue files cannot be opened
     */
    public static JournalReader open(Path dir) {
        JournalReader r = new JournalReader(dir.toAbsolutePath().normalize());
        r.ensureOpen();
        return r;
    }

    private boolean ensureOpen() {
        if (tailer != null) {
            return true;
        }
        if (closed || !JournalFormat.hasQueueFiles(dir)) {
            return false;
        }
        net.openhft.chronicle.queue.RollCycle rollCycle = JournalFormat.rollCycleOf(dir);
        try {
            queue = SingleChronicleQueueBuilder.binary(dir).rollCycle(rollCycle).readOnly(true).build();
            readOnly = true;
        } catch (RuntimeException readOnlyFailed) {
            try {
                queue = SingleChronicleQueueBuilder.binary(dir).rollCycle(rollCycle).build();
            } catch (RuntimeException e) {
                throw new JournalException("journal directory " + dir + " cannot be read: " + e.getMessage(), e);
            }
        }
        tailer = queue.createTailer();
        tailer.toStart();
        loadDictionary();
        tailer.toStart();
        handOver();
        return true;
    }

    /** One pass over the whole queue applying dictionary records only. */
    private void loadDictionary() {
        while (true) {
            try (DocumentContext dc = tailer.readingDocument()) {
                if (!dc.isPresent()) {
                    return;
                }
                Bytes<?> b = dc.wire().bytes();
                if (b.readRemaining() > 0 && b.readByte() == JournalFormat.TYPE_DICTIONARY) {
                    readDictionary(b, false);
                }
            } catch (RuntimeException e) {
                return;
            }
        }
    }

    /** Applies the dictionary record after its type byte; false (and counted when asked) if malformed. */
    private boolean readDictionary(Bytes<?> b, boolean count) {
        if (b.readRemaining() < JournalFormat.DICTIONARY_HEADER_SIZE - 1) {
            return malformed(count);
        }
        int kindCode = b.readUnsignedByte();
        int id = JournalFormat.readIntLE(b);
        int len = JournalFormat.readIntLE(b);
        DictionaryKind kind = DictionaryKind.fromCode(kindCode);
        if (kind == null || len < 0 || len > b.readRemaining() || len > JournalFormat.MAX_TEXT_BYTES) {
            return malformed(count);
        }
        if (text.length < len) {
            text = new byte[Math.max(len, text.length * 2)];
        }
        b.read(text, 0, len);
        dictionary[kindCode].put(id, new String(text, 0, len, StandardCharsets.UTF_8));
        return true;
    }

    private boolean malformed(boolean count) {
        if (count) {
            decodeErrors++;
        }
        return false;
    }

    /**
     * Fills {@code out} with the next event (within the since/until window) and returns true, or
     * returns false when there is none yet. Dictionary records on the way are applied.
     */
    public boolean next(DropView out) {
        if (!ensureOpen()) {
            return false;
        }
        while (true) {
            while (batchNext < batchCount) {
                MemorySegment.copy(batchSegment, (long) batchNext++ * DropRecord.SIZE, scratchSegment, 0, DropRecord.SIZE);
                if (deliver(out, batchIndex)) {
                    return true;
                }
            }
            DocumentContext dc;
            try {
                dc = tailer.readingDocument();
            } catch (RuntimeException e) {
                decodeErrors++;
                return false;
            }
            try (dc) {
                if (!dc.isPresent()) {
                    return false;
                }
                long index = dc.index();
                int skip = 0;
                if (index == skipIndex) {
                    skip = skipCount;
                    skipIndex = -1;
                }
                Bytes<?> b = dc.wire().bytes();
                if (b.readRemaining() < 1) {
                    decodeErrors++;
                    continue;
                }
                byte type = b.readByte();
                if (type == JournalFormat.TYPE_DICTIONARY) {
                    readDictionary(b, true);
                    continue;
                }
                if (type == JournalFormat.TYPE_BATCH) {
                    int n = JournalFormat.batchCount(b);
                    if (n < 0) {
                        decodeErrors++;
                        continue;
                    }
                    int bytes = n * DropRecord.SIZE;
                    if (batch.length < bytes) {
                        batch = new byte[bytes];
                        batchSegment = MemorySegment.ofArray(batch);
                    }
                    b.read(batch, 0, bytes);
                    batchIndex = index;
                    batchCount = n;
                    batchNext = Math.min(skip, n);
                    continue;
                }
                if (type != JournalFormat.TYPE_EVENT || b.readRemaining() < DropRecord.SIZE) {
                    decodeErrors++;
                    continue;
                }
                if (skip > 0) {
                    continue;
                }
                b.read(scratch, 0, DropRecord.SIZE);
                if (deliver(out, index)) {
                    return true;
                }
            } catch (RuntimeException e) {
                decodeErrors++;
            }
        }
    }

    /** Fills {@code out} from the scratch record when it is valid and in the window. */
    private boolean deliver(DropView out, long index) {
        if (scratchRecord.version() == 0) {
            decodeErrors++;
            return false;
        }
        long wall = scratchRecord.wallNs();
        if (wall < sinceNs || wall > untilNs) {
            return false;
        }
        out.load(scratchSegment, 0);
        out.index(index);
        resolve(out);
        return true;
    }

    /** Forgets the batch being read and any pending skip: the tailer was moved. */
    private void resetBatch() {
        batchCount = 0;
        batchNext = 0;
        batchIndex = -1;
        skipIndex = -1;
        skipCount = 0;
    }

    /** After the tailer was moved to {@code index}: skip the first {@code skip} events of that excerpt. */
    private void skipAt(long index, int skip) {
        resetBatch();
        if (skip > 0) {
            skipIndex = index;
            skipCount = skip;
        }
    }

    private void resolve(DropView v) {
        DropRecord r = v.record();
        DropSource source = DropSource.fromCode(r.source());
        v.reasonName(source == null ? null : dictionary[DictionaryKind.reasonOf(source).code()].get((int) r.reasonCode()));
        Int2ObjectHashMap<String> strings = dictionary[DictionaryKind.STRING.code()];
        v.node(lookup(strings, r.nodeId()));
        v.interfaceName(lookup(strings, r.interfaceId()));
        v.locationName(lookup(strings, r.locationId()));
        Int2ObjectHashMap<String> ids = dictionary[DictionaryKind.IDENTITY.code()];
        v.srcIdentityJson(lookup(ids, r.srcIdentityId()));
        v.dstIdentityJson(lookup(ids, r.dstIdentityId()));
        v.policyJson(lookup(dictionary[DictionaryKind.POLICY.code()], r.policyId()));
        v.detailJson(lookup(dictionary[DictionaryKind.DETAIL.code()], r.detailId()));
        if ((r.flags() & DropRecord.FLAG_KERNEL_SEEN) != 0) {
            v.kernelReasonName(dictionary[DictionaryKind.REASON_KERNEL.code()].get(r.kernelReasonCode()));
        }
    }

    private static String lookup(Int2ObjectHashMap<String> map, int id) {
        return id == 0 ? null : map.get(id);
    }

    /** The text of a dictionary entry this reader knows (reason kinds: id = code), or null. */
    public String dictionaryText(DictionaryKind kind, int id) {
        ensureOpen();
        return dictionary[kind.code()].get(id);
    }

    /**
     * Chronicle binds a tailer to the first thread that uses it; every positioning method ends by
     * releasing that binding, so the thread that opens and positions a reader need not be the one
     * that calls {@link #next}.
     */
    private void handOver() {
        tailer.singleThreadedCheckReset();
    }

    /** True when the queue was opened in Chronicle's read-only mode (false: it fell back to read-write). */
    public boolean isReadOnly() {
        return readOnly;
    }

    /** Positions at the start of the journal. */
    public void fromStart() {
        if (ensureOpen()) {
            resetBatch();
            tailer.direction(TailerDirection.FORWARD).toStart();
            handOver();
        }
    }

    /** Positions after the last excerpt: {@link #next} returns only what is appended from now on. */
    public void toEnd() {
        if (ensureOpen()) {
            resetBatch();
            tailer.direction(TailerDirection.FORWARD).toEnd();
            handOver();
        }
    }

    /**
     * Positions so that the next events {@link #next} returns are the last {@code n} events of the
     * journal within the since/until window (fewer when the journal holds fewer).
     */
    public void last(long n) {
        if (!ensureOpen()) {
            return;
        }
        if (n <= 0) {
            toEnd();
            return;
        }
        resetBatch();
        long start = -1;
        int startSkip = 0;
        long found = 0;
        tailer.direction(TailerDirection.BACKWARD).toEnd();
        while (found < n) {
            try (DocumentContext dc = tailer.readingDocument()) {
                if (!dc.isPresent()) {
                    break;
                }
                int events = eventsInExcerpt(dc.wire().bytes());
                for (int i = events - 1; i >= 0 && found < n; i--) { // the excerpt's events, last first
                    if (inWindow(i)) {
                        found++;
                        start = dc.index();
                        startSkip = i;
                    }
                }
            } catch (RuntimeException e) {
                break;
            }
        }
        tailer.direction(TailerDirection.FORWARD);
        if (start < 0) {
            tailer.toEnd();
        } else if (!tailer.moveToIndex(start)) {
            tailer.toStart();
        } else {
            skipAt(start, startSkip);
        }
        handOver();
    }

    /**
     * Copies the events of an excerpt into the batch buffer (without delivering them) and returns
     * how many there are: 1 for a single event, the count for a well-formed batch, 0 otherwise.
     */
    private int eventsInExcerpt(Bytes<?> b) {
        if (b.readRemaining() < 1) {
            return 0;
        }
        byte type = b.readByte();
        if (type == JournalFormat.TYPE_EVENT) {
            if (b.readRemaining() < DropRecord.SIZE) return 0;
            b.read(batch, 0, DropRecord.SIZE);
            return 1;
        }
        if (type != JournalFormat.TYPE_BATCH) {
            return 0;
        }
        int n = JournalFormat.batchCount(b);
        if (n < 0) return 0;
        if (batch.length < n * DropRecord.SIZE) {
            batch = new byte[n * DropRecord.SIZE];
            batchSegment = MemorySegment.ofArray(batch);
        }
        b.read(batch, 0, n * DropRecord.SIZE);
        return n;
    }

    /** Whether event {@code i} of those {@link #eventsInExcerpt} copied is valid and in the window. */
    private boolean inWindow(int i) {
        MemorySegment.copy(batchSegment, (long) i * DropRecord.SIZE, scratchSegment, 0, DropRecord.SIZE);
        long wall = scratchRecord.wallNs();
        return scratchRecord.version() != 0 && wall >= sinceNs && wall <= untilNs;
    }

    /**
     * Only events with {@code wall_ns >= since} are returned from now on, and the reader is moved
     * (linear scan from the start) to the first such event.
     */
    public void since(Instant since) {
        sinceNs = toNanos(since);
        if (!ensureOpen()) {
            return;
        }
        resetBatch();
        tailer.direction(TailerDirection.FORWARD).toStart();
        while (true) {
            long index;
            int hit = -1;
            try (DocumentContext dc = tailer.readingDocument()) {
                if (!dc.isPresent()) {
                    handOver();
                    return;
                }
                index = dc.index();
                int events = eventsInExcerpt(dc.wire().bytes());
                for (int i = 0; i < events; i++) {
                    if (inWindow(i)) {
                        hit = i;
                        break;
                    }
                }
            } catch (RuntimeException e) {
                return;
            }
            if (hit >= 0) {
                tailer.moveToIndex(index);
                skipAt(index, hit);
                handOver();
                return;
            }
        }
    }

    /** Only events with {@code wall_ns <= until} are returned from now on (later ones are skipped, not an end). */
    public void until(Instant until) {
        untilNs = toNanos(until);
    }

    private static long toNanos(Instant t) {
        try {
            return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
        } catch (ArithmeticException e) {
            return t.getEpochSecond() < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    /** Index of the last excerpt in the journal (events and dictionary records), -1 when empty. */
    public long lastIndex() {
        if (!ensureOpen()) {
            return -1;
        }
        long i = queue.lastIndex();
        return i < 0 ? -1 : i;
    }

    /**
     * The index of the excerpt the next read starts in, -1 when empty. Inside a batch excerpt,
     * {@link #positionSkip()} of its events have been read already: save both to resume with
     * {@link #moveTo(long, int)}.
     */
    public long position() {
        if (!ensureOpen()) return -1;
        if (batchNext < batchCount) return batchIndex;
        if (skipIndex >= 0) return skipIndex;
        return tailer.index();
    }

    /** Events of the excerpt at {@link #position()} already read (0 at an excerpt's start). */
    public int positionSkip() {
        if (batchNext < batchCount) return batchNext;
        return skipIndex >= 0 ? skipCount : 0;
    }

    /** Moves to the start of the excerpt at {@code index}; false when it is no longer in the journal. */
    public boolean moveTo(long index) {
        return moveTo(index, 0);
    }

    /**
     * Moves to a saved {@link #position()} and {@link #positionSkip()}: the next event read is the
     * {@code skip}-th of the excerpt at {@code index}. False when that index is no longer in the journal.
     */
    public boolean moveTo(long index, int skip) {
        if (!ensureOpen()) {
            return false;
        }
        resetBatch();
        boolean moved = tailer.direction(TailerDirection.FORWARD).moveToIndex(index);
        if (moved) skipAt(index, skip);
        handOver();
        return moved;
    }

    /** Excerpts skipped because they were malformed. */
    public long decodeErrors() {
        return decodeErrors;
    }

    public Path directory() {
        return dir;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (tailer != null) {
            tailer.close();
        }
        if (queue != null) {
            queue.close();
        }
    }
}
