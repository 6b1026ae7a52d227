package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.DropRecord;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.droptrace.agent.source.cilium.CiliumMessageDecoder.Kind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded fuzzing of the decoder and the packet parser: random bytes, and the valid samples mutated,
 * truncated at every length and extended. Every input gives a kind (errors counted), never an
 * exception; samples are held in exactly-sized arrays so any read past the end would throw; and the
 * valid samples still decode after the fuzz.
 */
class DecoderFuzzTest {
    private static final long SEED = 0x5eed_c111_07L;

    private static List<byte[]> validSamples() {
        List<byte[]> v = new ArrayList<>();
        v.add(Samples.perfPad(Samples.concat(Samples.DROP_V3_HEADER, Samples.SYN_PACKET)));
        v.add(Samples.perfPad(Samples.concat(Samples.VERDICT_V119_HEADER, Samples.SYN_PACKET)));
        v.add(Samples.perfPad(Samples.concat(Arrays.copyOf(Samples.VERDICT_V119_HEADER, 32), Samples.SYN_PACKET)));
        v.add(Samples.hex(SpecVectorsTest.V4));
        v.add(Samples.perfPad(Samples.drop(32, 1, 133, 1, 0, Samples.SYN_PACKET)));
        v.add(Samples.perfPad(Samples.drop(36, 1, 133, 1, 0, Samples.ipv6UdpPacket())));
        v.add(Samples.perfPad(Samples.drop(40, 2, 182, 0, 0, Samples.vlanSctpPacket())));
        v.add(Samples.perfPad(Samples.drop(48, 3, 133, 0, DropNotify.FLAG_VXLAN, Samples.vxlanSynPacket())));
        v.add(Samples.perfPad(Samples.drop(48, 3, 133, 0, DropNotify.FLAG_GENEVE, Samples.geneveSynPacket())));
        v.add(Samples.perfPad(Samples.verdict(40, 2, -133, 0, 1, 0x81, 0, Samples.rawIpv4IcmpPacket())));
        return v;
    }

    @Test
    void decoderSurvivesRandomMutatedTruncatedAndOversizedInput() {
        Random rnd = new Random(SEED);
        List<byte[]> valid = validSamples();
        CiliumMessageDecoder[] decoders = {
            new CiliumMessageDecoder(), new CiliumMessageDecoder(CiliumVersion.parse("1.12")),
            new CiliumMessageDecoder(CiliumVersion.parse("1.18")), new CiliumMessageDecoder(CiliumVersion.parse("1.19")),
        };
        long calls = 0;
        try (Arena arena = Arena.ofConfined()) {
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
            List<byte[]> inputs = new ArrayList<>();
            for (byte[] v : valid) {
                for (int n = 0; n <= v.length; n++) {
                    inputs.add(Arrays.copyOf(v, n)); // truncated at every length
                }
                for (int k = 1; k <= 64; k++) {
                    byte[] o = Arrays.copyOf(v, v.length + k); // oversized
                    for (int i = v.length; i < o.length; i++) {
                        o[i] = (byte) rnd.nextInt();
                    }
                    inputs.add(o);
                }
            }
            for (int i = 0; i < 20_000; i++) {
                byte[] v = valid.get(rnd.nextInt(valid.size())).clone();
                int flips = 1 + rnd.nextInt(8);
                for (int f = 0; f < flips; f++) {
                    // mostly in the header, where the interesting fields are
                    int at = rnd.nextBoolean() ? rnd.nextInt(Math.min(48, v.length)) : rnd.nextInt(v.length);
                    v[at] = (byte) rnd.nextInt();
                }
                if (rnd.nextInt(4) == 0) {
                    v = Arrays.copyOf(v, rnd.nextInt(v.length + 32));
                }
                inputs.add(v);
            }
            for (int i = 0; i < 10_000; i++) {
                byte[] b = new byte[rnd.nextInt(300)];
                rnd.nextBytes(b);
                if (b.length > 0) {
                    b[0] = (byte) new int[] {1, 4, 5, 5, 1, 0, 2, 3, 6, 7, 129, 130, 200}[rnd.nextInt(13)];
                }
                if (b.length > 15 && rnd.nextBoolean()) {
                    b[14] = (byte) rnd.nextInt(5);
                    b[15] = 0;
                }
                inputs.add(b);
            }
            for (byte[] in : inputs) {
                MemorySegment seg = MemorySegment.ofArray(in); // exactly sized: an over-read throws
                for (CiliumMessageDecoder dec : decoders) {
                    Kind k = dec.decode(seg, 0, in.length);
                    calls++;
                    if (k == Kind.DROP || k == Kind.POLICY_VERDICT) {
                        if (dec.packetKnown()) {
                            assertTrue(dec.packetOffset() + dec.packetLength() <= in.length);
                        }
                        dec.fill(r);
                        dec.reasonCode();
                        dec.srcIdentity();
                        dec.dstIdentity();
                        CiliumDropReasons.nameOrNumber(dec.reasonCode());
                    }
                }
            }
            long errors = 0;
            for (CiliumMessageDecoder dec : decoders) {
                long sum = 0;
                for (Kind k : Kind.values()) {
                    sum += dec.count(k);
                }
                assertEquals(inputs.size(), sum, "every input is counted exactly once");
                long byKind = 0;
                for (CiliumMessageDecoder.DecodeError e : CiliumMessageDecoder.DecodeError.values()) {
                    byKind += dec.decodeErrors(e);
                }
                assertEquals(dec.decodeErrors(), byKind, "every error is counted by kind");
                errors += byKind;
            }
            assertEquals(inputs.size() * (long) decoders.length, calls);
            assertTrue(errors > inputs.size(), "the fuzz produced errors: " + errors);

            // the valid samples still decode, with the same instances
            CiliumMessageDecoder auto = decoders[0];
            byte[] drop = valid.get(0);
            assertEquals(Kind.DROP, auto.decode(MemorySegment.ofArray(drop), 0, drop.length));
            assertEquals(CapturedPacketParser.Status.OK, auto.fill(r));
            SpecVectorsTest.assertSyn(r);
            assertEquals(133, r.reasonCode());
            byte[] verdict = valid.get(1);
            assertEquals(Kind.POLICY_VERDICT, auto.decode(MemorySegment.ofArray(verdict), 0, verdict.length));
            assertEquals(40, auto.headerLength());
            assertEquals(CapturedPacketParser.Status.OK, auto.fill(r));
            SpecVectorsTest.assertSyn(r);
            assertEquals(Kind.TRACE, auto.decode(MemorySegment.ofArray(valid.get(3)), 0, valid.get(3).length));
        }
    }

    @Test
    void packetParserSurvivesRandomAndMutatedCaptures() {
        Random rnd = new Random(SEED + 1);
        byte[][] packets = {Samples.SYN_PACKET, Samples.ipv6UdpPacket(), Samples.vlanSctpPacket(), Samples.vxlanSynPacket(), Samples.geneveSynPacket(),
            Samples.rawIpv4IcmpPacket()};
        try (Arena arena = Arena.ofConfined()) {
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
            int ok = 0;
            for (int i = 0; i < 50_000; i++) {
                byte[] p;
                if (i % 3 == 0) {
                    p = new byte[rnd.nextInt(200)];
                    rnd.nextBytes(p);
                } else {
                    p = packets[rnd.nextInt(packets.length)].clone();
                    for (int f = rnd.nextInt(6); f >= 0; f--) {
                        p[rnd.nextInt(p.length)] = (byte) rnd.nextInt();
                    }
                    p = Arrays.copyOf(p, rnd.nextInt(p.length + 1));
                }
                r.clear();
                CapturedPacketParser.Status s = CapturedPacketParser.parse(MemorySegment.ofArray(p), 0, p.length,
                        rnd.nextInt(4) == 0, rnd.nextInt(3), r);
                if (s == CapturedPacketParser.Status.OK) {
                    ok++;
                }
            }
            assertTrue(ok > 0);
        }
    }
}
