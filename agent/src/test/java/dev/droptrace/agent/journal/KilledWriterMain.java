package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Child process of {@link KilledWriterTest}: appends events with sequence numbers 0, 1, 2, ... in
 * ktime_ns (a new interface name every 100 events) until killed or {@code args[1]} are written,
 * printing progress. With {@code args[2] = "torn"} it then holds a half-written excerpt open until
 * killed. With {@code "batch"} or {@code "torn-batch"} it appends in journal batches ended every 100
 * events and prints progress only after a batch has ended (acknowledged); "torn-batch" then holds a
 * half-written batch excerpt open until killed.
 */
public final class KilledWriterMain {
    private KilledWriterMain() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        long max = Long.parseLong(args[1]);
        String mode = args.length > 2 ? args[2] : "";
        boolean batched = mode.endsWith("batch");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            j.defineReason(DropSource.KERNEL, 6, "NETFILTER_DROP");
            MemorySegment seg = JournalTestEvents.udp(arena, 1, 9999);
            DropRecord r = new DropRecord().wrap(seg, 0).reasonCode(6);
            if (batched) j.beginBatch();
            for (long i = 0; i < max; i++) {
                r.ktimeNs(i).interfaceId(j.intern(DictionaryKind.STRING, "veth-" + (i / 100)));
                j.appendEvent(seg, 0);
                if (batched && i % 100 == 99) {
                    j.endBatch(); // acknowledged from here on
                    j.beginBatch();
                }
                if (i % 1000 == 999) {
                    System.out.println("appended " + (i + 1));
                    System.out.flush();
                }
            }
            if (batched) j.endBatch();
            System.out.println("done");
        }
        if (mode.equals("torn-batch")) {
            // hold a batch excerpt half written: its header promises 10 records, 3 are there
            var q = net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder.binary(dir)
                    .rollCycle(net.openhft.chronicle.queue.RollCycles.FAST_HOURLY).build();
            var dc = q.createAppender().writingDocument();
            var b = dc.wire().bytes();
            b.writeByte((byte) 'B').writeByte((byte) 10).writeByte((byte) 0).writeByte((byte) DropRecord.SIZE).writeByte((byte) 0);
            b.write(new byte[3 * DropRecord.SIZE]);
            System.out.println("torn");
            System.out.flush();
            try {
                Thread.sleep(600_000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }
        if (mode.equals("torn")) {
            // hold an excerpt half written, as a writer killed inside appendEvent would leave it
            var q = net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder.binary(dir)
                    .rollCycle(net.openhft.chronicle.queue.RollCycles.FAST_HOURLY).build();
            var dc = q.createAppender().writingDocument();
            dc.wire().bytes().writeByte((byte) 'E').write(new byte[50]);
            System.out.println("torn");
            System.out.flush();
            try {
                Thread.sleep(600_000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
