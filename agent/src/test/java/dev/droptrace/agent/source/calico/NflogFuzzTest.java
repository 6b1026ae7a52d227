package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.droptrace.agent.event.DropRecord;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Seeded fuzzing of the netlink walk, the payload decoder and the prefix grammar: random, truncated,
 * oversized and mutated buffers must only ever be counted, never thrown, and every walk must end
 * within one step per 16 bytes.
 */
class NflogFuzzTest {
    private static final String[] PREFIXES = {"DPI|default", "API0|knp/default/allow-web", "DRE", "ARE0|kns.default",
        "DPE1|quite_nnW4FYptgISH4G3jdI6KJWVcEx19s0BDp2On0wVAY_olicy-name", "PPI|security", "", "DPE1|prod/default.deny-db"};

    private final NflogMessageParser parser = new NflogMessageParser();
    private final NflogPayloadDecoder decoder = new NflogPayloadDecoder();
    private final DropRecord record = new DropRecord().wrap(MemorySegment.ofArray(new byte[DropRecord.SIZE]), 0);

    @Test
    void randomBuffers() {
        SplittableRandom rnd = new SplittableRandom(6);
        for (int i = 0; i < 3000; i++) {
            byte[] b = new byte[rnd.nextInt(0, i % 100 == 0 ? 70_000 : 600)];
            for (int j = 0; j < b.length; j++) {
                b[j] = (byte) rnd.nextInt();
            }
            if (b.length >= 16 && rnd.nextBoolean()) { // plausible header, random body
                ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
                h.putInt(0, rnd.nextInt(0, b.length + 32));
                h.putShort(4, (short) (rnd.nextBoolean() ? 0x0400 : rnd.nextInt(0, 5)));
            }
            walk(b);
        }
    }

    @Test
    void mutationsOfValidBatches() {
        SplittableRandom rnd = new SplittableRandom(66);
        for (int i = 0; i < 5000; i++) {
            byte[] valid = validBatch(rnd);
            walk(valid);
            byte[] m = valid.clone();
            int mutations = rnd.nextInt(1, 8);
            for (int k = 0; k < mutations; k++) {
                switch (rnd.nextInt(5)) {
                    case 0 -> m[rnd.nextInt(m.length)] = (byte) rnd.nextInt();
                    case 1 -> { // a 16-bit length field anywhere
                        int at = rnd.nextInt(m.length - 1);
                        ByteBuffer.wrap(m).order(ByteOrder.nativeOrder()).putShort(at, (short) rnd.nextInt(0, 0x10000));
                    }
                    case 2 -> { // a 32-bit length field anywhere
                        int at = rnd.nextInt(m.length - 3);
                        ByteBuffer.wrap(m).order(ByteOrder.nativeOrder()).putInt(at, rnd.nextInt());
                    }
                    case 3 -> m[rnd.nextInt(m.length)] = 0;
                    default -> m[rnd.nextInt(m.length)] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            walk(m);
            walk(Arrays.copyOf(m, rnd.nextInt(0, m.length + 1))); // truncated
            walk(Arrays.copyOf(valid, rnd.nextInt(0, valid.length + 1)));
            byte[] oversized = Arrays.copyOf(valid, valid.length + rnd.nextInt(1, 64)); // trailing garbage
            for (int j = valid.length; j < oversized.length; j++) {
                oversized[j] = (byte) rnd.nextInt();
            }
            walk(oversized);
        }
        assertTrue(parser.totalErrors() > 0, "the mutations were meant to produce errors");
    }

    @Test
    void randomPrefixes() {
        SplittableRandom rnd = new SplittableRandom(666);
        String alphabet = "ADPRIE0123456789|/._-:abcdknsgpt";
        for (int i = 0; i < 20_000; i++) {
            StringBuilder sb = new StringBuilder();
            int n = rnd.nextInt(0, 70);
            if (rnd.nextBoolean()) {
                sb.append(PREFIXES[rnd.nextInt(PREFIXES.length)]);
            }
            for (int k = 0; k < n; k++) {
                sb.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            }
            String s = sb.length() > 63 ? sb.substring(0, 63) : sb.toString();
            CalicoPrefix p = CalicoPrefix.parse(s);
            assertTrue(p.raw().equals(s));
        }
    }

    private void walk(byte[] b) {
        parser.wrap(MemorySegment.ofArray(b), 0, b.length);
        int steps = 0;
        int bound = b.length / 16 + 2;
        NflogMessageParser.Kind k;
        while ((k = parser.next()) != NflogMessageParser.Kind.END) {
            assertTrue(++steps <= bound, "walk did not end");
            if (k == NflogMessageParser.Kind.PACKET) {
                assertTrue(parser.prefixLength() >= 0 && parser.prefixOffset() + parser.prefixLength() <= b.length);
                assertTrue(parser.payloadLength() >= 0 && parser.payloadOffset() + parser.payloadLength() <= b.length);
                record.clear();
                decoder.decode(parser, record);
                byte[] prefix = new byte[parser.prefixLength()];
                parser.copyPrefix(prefix);
                CalicoPrefix.parse(prefix, 0, prefix.length);
            }
        }
    }

    private static byte[] validBatch(SplittableRandom rnd) {
        NflogBuffers nb = new NflogBuffers();
        int packets = rnd.nextInt(1, 6);
        for (int i = 0; i < packets; i++) {
            nb.packet(rnd.nextBoolean() ? 2 : 10, rnd.nextInt(1, 3)).packetHdr(0x0800, 2)
                    .prefix(PREFIXES[rnd.nextInt(PREFIXES.length)]).be32(4, rnd.nextInt(1, 100));
            if (rnd.nextBoolean()) {
                nb.be32(2, rnd.nextInt());
            }
            if (rnd.nextBoolean()) {
                nb.timestamp(rnd.nextLong(), rnd.nextLong());
            }
            nb.payload(switch (rnd.nextInt(3)) {
                case 0 -> NflogBuffers.ipv4Tcp(rnd.nextInt(), rnd.nextInt(), 1000, 80, 0x12, rnd.nextInt(0, 80));
                case 1 -> NflogBuffers.ipv4Udp(rnd.nextInt(), rnd.nextInt(), 53, 53);
                default -> NflogBuffers.ipv6(0, new byte[] {6, 0, 0, 0, 0, 0, 0, 0},
                        new byte[] {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02}, (byte) 1, (byte) 2);
            }).end();
        }
        if (packets > 1) {
            nb.control(3, new byte[] {0, 0, 0, 1});
        }
        return nb.bytes();
    }
}
