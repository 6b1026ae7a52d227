package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Excerpt layout shared by writer and reader, and Chronicle settings that must precede Chronicle. */
final class JournalFormat {
    static final byte TYPE_EVENT = 'E';
    static final byte TYPE_DICTIONARY = 'D';
    /** A batch of events: type byte, count u16 LE, record size u16 LE, then count records. */
    static final byte TYPE_BATCH = 'B';
    static final int BATCH_HEADER_SIZE = 5;
    /** Records a writer puts in one batch excerpt (a reader accepts any count from 1 to 65535). */
    static final int BATCH_CAPACITY = 64;
    /** Type byte + record. */
    static final int EVENT_EXCERPT_SIZE = 1 + DropRecord.SIZE;
    /** Type byte, kind u8, id u32, length u32. */
    static final int DICTIONARY_HEADER_SIZE = 10;
    /** Upper bound on a dictionary text; longer texts are refused by the writer and skipped by the reader. */
    static final int MAX_TEXT_BYTES = 1 << 20;
    static final String QUEUE_FILE_SUFFIX = ".cq4";

    private static final boolean NATIVE_LE = java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN;

    private JournalFormat() {
    }

    /** Reads a little-endian u32 (Chronicle Bytes reads in native order). */
    static int readIntLE(net.openhft.chronicle.bytes.Bytes<?> b) {
        int v = b.readInt();
        return NATIVE_LE ? v : Integer.reverseBytes(v);
    }

    /** Reads a little-endian u16 at the read position. */
    static int readShortLE(net.openhft.chronicle.bytes.Bytes<?> b) {
        short v = b.readShort();
        return (NATIVE_LE ? v : Short.reverseBytes(v)) & 0xffff;
    }

    /**
     * The number of records of a batch excerpt whose type byte has been read, with the read
     * position left at the first record; -1 when the header is truncated, the count is 0, the
     * record size is not {@link DropRecord#SIZE}, or the records do not fill the excerpt exactly.
     */
    static int batchCount(net.openhft.chronicle.bytes.Bytes<?> b) {
        if (b.readRemaining() < BATCH_HEADER_SIZE - 1) return -1;
        int count = readShortLE(b);
        int size = readShortLE(b);
        if (count == 0 || size != DropRecord.SIZE || b.readRemaining() != (long) count * DropRecord.SIZE) return -1;
        return count;
    }

    /** Chronicle must never phone home; set before any Chronicle class initialises. */
    static void disableChronicleAnalytics() {
        System.setProperty("chronicle.analytics.disable", "true");
        System.setProperty("chronicle.announcer.disable", "true");
        // Chronicle logs file growth and syncs at INFO; keep observe's stderr quiet unless asked
        if (System.getProperty("org.slf4j.simpleLogger.log.net.openhft") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.net.openhft", "warn");
        }
    }

    /**
     * The roll cycle the queue in {@code dir} was written with, recognised from a cycle file's name
     * (each Chronicle roll cycle names its files with its own pattern); FAST_HOURLY when there is no
     * file yet. Readers pass it to Chronicle, which would otherwise override it with a warning.
     */
    static net.openhft.chronicle.queue.RollCycle rollCycleOf(Path dir) {
        String stem = null;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + QUEUE_FILE_SUFFIX)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                stem = name.substring(0, name.length() - QUEUE_FILE_SUFFIX.length());
                break;
            }
        } catch (IOException e) {
            stem = null;
        }
        if (stem != null) {
            java.util.List<net.openhft.chronicle.queue.RollCycle> known = new java.util.ArrayList<>();
            known.add(net.openhft.chronicle.queue.RollCycles.FAST_HOURLY);
            known.addAll(java.util.List.of(net.openhft.chronicle.queue.RollCycles.values()));
            known.addAll(java.util.List.of(net.openhft.chronicle.queue.rollcycles.TestRollCycles.values()));
            for (net.openhft.chronicle.queue.RollCycle rc : known) {
                java.text.SimpleDateFormat f = new java.text.SimpleDateFormat(rc.format());
                f.setLenient(false);
                f.setTimeZone(java.util.TimeZone.getTimeZone("UTC"));
                java.text.ParsePosition pos = new java.text.ParsePosition(0);
                if (f.parse(stem, pos) != null && pos.getIndex() == stem.length()
                        && f.format(f.parse(stem, new java.text.ParsePosition(0))).equals(stem)) {
                    return rc;
                }
            }
        }
        return net.openhft.chronicle.queue.RollCycles.FAST_HOURLY;
    }

    /** True when {@code dir} holds at least one queue file. */
    static boolean hasQueueFiles(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + QUEUE_FILE_SUFFIX)) {
            return ds.iterator().hasNext();
        } catch (IOException e) {
            return false;
        }
    }

    /** Bytes the queue files in {@code dir} occupy on disk (they are sparse: their length is preallocated). */
    public static long sizeBytes(Path dir) {
        long total = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + QUEUE_FILE_SUFFIX)) {
            for (Path p : ds) {
                try {
                    total += dev.droptrace.libc.Libc.allocatedBytes(p.toString());
                } catch (RuntimeException ignored) {
                    // file rolled away between listing and stat
                }
            }
        } catch (IOException e) {
            return total;
        }
        return total;
    }
}
