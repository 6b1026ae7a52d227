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
