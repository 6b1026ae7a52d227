package dev.droptrace.agent.cli;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.journal.DictionaryKind;
import dev.droptrace.agent.journal.DropJournal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PipedReader;
import java.io.PipedWriter;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** observe --follow and --last on a journal that a writer is appending to at the same time. */
class ObserveFollowTest {
    @TempDir Path dir;

    private static void append(DropJournal j, DropRecord r, int port) {
        r.clear().source(DropSource.KERNEL).family(4).protocol(17).srcIpv4(0x0AD20101).dstIpv4(0x0AD20102)
                .srcPort(40000).dstPort(port).reasonCode(3).wallNs(1_800_000_000_000_000_000L + port)
                .nodeId(j.intern(DictionaryKind.STRING, "n"));
        j.appendEvent(r);
    }

    @Test
    void followPrintsWhatIsAppendedWhileItRuns() throws Exception {
        try (DropJournal journal = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            journal.defineReason(DropSource.KERNEL, 3, "NO_SOCKET");
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
            for (int p = 1; p <= 3; p++) append(journal, r, p);

            PipedWriter sink = new PipedWriter();
            BufferedReader lines = new BufferedReader(new PipedReader(sink, 1 << 16));
            Thread follower = Thread.ofPlatform().start(() -> Main.run(new PrintWriter(sink, true),
                    new PrintWriter(new StringWriter(), true), "observe", "--journal", dir.toString(),
                    "--follow", "--last", "2", "-o", "compact", "--reason", "NO_SOCKET"));
            List<String> seen = new ArrayList<>();
            seen.add(lines.readLine());
            seen.add(lines.readLine());
            for (int p = 4; p <= 6; p++) append(journal, r, p);
            for (int i = 0; i < 3; i++) seen.add(lines.readLine());
            follower.interrupt();
            follower.join(5000);

            List<Integer> ports = seen.stream().map(l -> Integer.parseInt(l.split(" -> 10.210.1.2:")[1].split(" ")[0])).toList();
            assertEquals(List.of(2, 3, 4, 5, 6), ports, String.join("\n", seen));
            assertTrue(seen.getFirst().contains("NO_SOCKET"), seen.getFirst());
        }
    }
}
