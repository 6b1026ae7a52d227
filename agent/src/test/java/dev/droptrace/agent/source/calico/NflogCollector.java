package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.IpAddressText;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Predicate;

/** A test sink: parses every packet message the reader hands over and keeps what it saw. */
final class NflogCollector implements NflogMessageSink {

    /** One logged packet, as the kernel reported it. */
    record Seen(int group, int family, int hook, String prefix, boolean hasMark, int mark, int indev, int outdev,
                String src, String dst, int protocol, int srcPort, int dstPort, int tcpFlags, int payloadLength) {}

    private final NflogMessageParser parser = new NflogMessageParser();
    private final NflogPayloadDecoder decoder = new NflogPayloadDecoder();
    private final DropRecord record = new DropRecord().wrap(MemorySegment.ofArray(new byte[DropRecord.SIZE]), 0);
    private final ConcurrentLinkedQueue<Seen> seen = new ConcurrentLinkedQueue<>();
    private volatile long unparsable;

    @Override
    public void onPacket(MemorySegment buffer, long offset, int length) {
        parser.wrap(buffer, offset, length);
        if (parser.next() != NflogMessageParser.Kind.PACKET) {
            unparsable++;
            return;
        }
        byte[] p = new byte[parser.prefixLength()];
        parser.copyPrefix(p);
        record.clear();
        decoder.decode(parser, record);
        byte[] ip = new byte[16];
        record.copySrcIp(ip, 0);
        String src = IpAddressText.format(record.family(), ip, 0);
        record.copyDstIp(ip, 0);
        String dst = IpAddressText.format(record.family(), ip, 0);
        seen.add(new Seen(parser.group(), parser.family(), parser.hook(), new String(p, StandardCharsets.US_ASCII),
                parser.has(NflogMessageParser.NFULA_MARK), parser.mark(), parser.indev(), parser.outdev(), src, dst,
                record.protocol(), record.srcPort(), record.dstPort(), record.tcpFlags(), parser.payloadLength()));
    }

    List<Seen> seen() {
        return List.copyOf(seen);
    }

    long unparsable() {
        return unparsable;
    }

    /** Messages per prefix among those matching {@code which}. */
    Map<String, Long> countsByPrefix(Predicate<Seen> which) {
        Map<String, Long> counts = new TreeMap<>();
        for (Seen s : seen) {
            if (which.test(s)) counts.merge(s.prefix(), 1L, Long::sum);
        }
        return counts;
    }

    /** Waits (bounded, generous) until {@code done} holds; never asserts on the time it took. */
    static boolean await(java.util.function.BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) return false;
            Thread.sleep(50);
        }
        return true;
    }

    static void assumeRoot() {
        boolean root = false;
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) root = line.substring(4).strip().split("\\s+")[1].equals("0");
            }
        } catch (Exception e) {
            root = false;
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(root,
                "NFLOG kernel tests need root (network namespaces, iptables/nft, NETLINK_NETFILTER); skipped");
    }
}
