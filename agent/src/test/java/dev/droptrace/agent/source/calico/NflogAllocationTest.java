package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.droptrace.agent.event.DropRecord;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * The hot path (netlink walk, attribute reads, payload decoding into a record, prefix lookup in the
 * cache) allocates nothing per message.
 */
class NflogAllocationTest {
    private static final int MESSAGES_PER_BUFFER = 10;

    @Test
    void lessThanOneBytePerMessage() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        NflogBuffers nb = new NflogBuffers();
        for (int i = 0; i < MESSAGES_PER_BUFFER; i++) {
            nb.packet(2, 1 + i % 2).packetHdr(0x0800, 2).prefix(i % 2 == 0 ? "DPI|default" : "API0|knp/default/allow-web")
                    .be32(4, 7).be32(5, 9).be32(2, 0x40000).timestamp(1_700_000_000L, i)
                    .payload(i % 3 == 0 ? NflogBuffers.ipv4Udp(0x0a000001, 0x0a000002, 5353, 53)
                            : NflogBuffers.ipv4Tcp(0x0a000001, 0x0a000002, 40000 + i, 80, 0x02, 80)).end();
        }
        nb.control(3, new byte[] {0, 0, 0, 1});
        byte[] bytes = nb.bytes();

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(bytes.length);
            MemorySegment.copy(bytes, 0, buffer, ValueLayout.JAVA_BYTE, 0, bytes.length);
            MemorySegment records = arena.allocate(DropRecord.SIZE);
            NflogMessageParser parser = new NflogMessageParser();
            NflogPayloadDecoder decoder = new NflogPayloadDecoder();
            CalicoPrefixCache prefixes = new CalicoPrefixCache(64);
            DropRecord record = new DropRecord().wrap(records, 0);

            long warm = run(parser, decoder, prefixes, record, buffer, bytes.length, 50_000);
            long threadId = Thread.currentThread().threadId();
            // steady state: until C2 has compiled the path a round may allocate; an allocation per
            // message would show in every round
            long packets = 0;
            long allocated = Long.MAX_VALUE;
            for (int round = 0; round < 20 && allocated >= 100_000; round++) {
                long before = mx.getThreadAllocatedBytes(threadId);
                packets = run(parser, decoder, prefixes, record, buffer, bytes.length, 10_000);
                allocated = Math.min(allocated, mx.getThreadAllocatedBytes(threadId) - before);
            }

            System.out.println("NflogAllocationTest: " + allocated + " bytes allocated for " + packets + " messages");
            assertEquals(100_000, packets);
            assertTrue(warm > 0);
            assertTrue(allocated < packets, "allocated " + allocated + " bytes for " + packets + " messages");
            assertEquals(0, parser.totalErrors());
            assertEquals(0, decoder.totalErrors());
        }
    }

    private static long run(NflogMessageParser parser, NflogPayloadDecoder decoder, CalicoPrefixCache prefixes,
                            DropRecord record,
                            MemorySegment buffer, int length, int buffers) {
        long packets = 0;
        long checksum = 0;
        for (int b = 0; b < buffers; b++) {
            parser.wrap(buffer, 0, length);
            NflogMessageParser.Kind k;
            while ((k = parser.next()) != NflogMessageParser.Kind.END) {
                if (k == NflogMessageParser.Kind.PACKET) {
                    record.clear();
                    decoder.decode(parser, record);
                    checksum += record.dstPort() + prefixes.lookup(parser).ruleIndex() + parser.mark();
                    packets++;
                }
            }
        }
        return checksum == 0 ? -1 : packets;
    }
}
