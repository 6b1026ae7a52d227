package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Child process of {@link DiskFullTest}, run under a file-size limit ({@code ulimit -f}): appends
 * events with sequence numbers in ktime_ns until the journal reports it is full, then prints
 * {@code full <appended> <message>} and checks that a further append fails the same way. With
 * {@code args[1] = "batch"} it appends in journal batches ended every 100 events; {@code <appended>}
 * is then what was acknowledged: the events accepted minus those the failed batch discarded.
 */
public final class DiskFullWriterMain {
    private DiskFullWriterMain() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        boolean batched = args.length > 1 && args[1].equals("batch");
        long appended = 0;
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, 1, 9999);
            DropRecord r = new DropRecord().wrap(seg, 0);
            try {
                if (batched) j.beginBatch();
                while (true) {
                    r.ktimeNs(appended);
                    j.appendEvent(seg, 0);
                    appended++;
                    if (batched && appended % 100 == 0) {
                        j.endBatch();
                        j.beginBatch();
                    }
                }
            } catch (JournalException e) {
                appended -= e.eventsLost();
                if (batched && j.pendingEvents() != 0) System.out.println("unexpected pending " + j.pendingEvents());
                System.out.println("full " + appended + " " + e.getMessage());
                for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                    System.err.println("cause " + c);
                }
            }
            try {
                r.ktimeNs(appended);
                if (batched) j.beginBatch();
                j.appendEvent(seg, 0);
                if (batched) j.endBatch();
                System.out.println("again appended");
            } catch (JournalException e) {
                System.out.println("again " + e.getMessage());
            }
        } catch (Throwable t) {
            System.out.println("unexpected " + t);
            t.printStackTrace(System.out);
        }
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}
