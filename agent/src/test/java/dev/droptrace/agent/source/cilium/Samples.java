package dev.droptrace.agent.source.cilium;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

/** Builders for test samples: spec hex, packets, and notifications of every layout, perf-padded. */
final class Samples {
    private Samples() {
    }

    /** Space-separated hex as in the spec. */
    static byte[] hex(String spaced) {
        return HexFormat.of().parseHex(spaced.replace(" ", "").replace("\n", ""));
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    /** Pads to the perf raw size {@code roundup(n + 4, 8) - 4} with non-zero garbage, as the kernel may leave. */
    static byte[] perfPad(byte[] raw) {
        int size = ((raw.length + 4 + 7) & ~7) - 4;
        byte[] out = java.util.Arrays.copyOf(raw, size);
        for (int i = raw.length; i < size; i++) {
            out[i] = (byte) 0xa5;
        }
        return out;
    }

    /** The spec's synthesised packet (section 8): IPv4 TCP SYN 10.0.1.5:43210 -> 10.0.2.7:8080, 54 bytes. */
    static final byte[] SYN_PACKET = hex("0a 58 0a 00 02 07 0a 58 0a 00 01 01 08 00 45 00 00 28 12 34 40 00 40 06 11 91 "
            + "0a 00 01 05 0a 00 02 07 a8 ca 1f 90 01 02 03 04 00 00 00 00 50 02 fa f0 d1 85 00 00");

    /** The spec's synthesised drop v3 header (section 8), 48 bytes. */
    static final byte[] DROP_V3_HEADER = hex("01 85 d2 04 ef be ad de 36 00 00 00 36 00 03 00 2e 16 00 00 22 c8 00 00 "
            + "d2 04 00 00 89 05 02 00 1d 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");

    /** The spec's synthesised policy verdict, v1.19 layout (section 8), 40 bytes. */
    static final byte[] VERDICT_V119_HEADER = hex("05 00 d2 04 ef be ad de 36 00 00 00 36 00 01 00 2e 16 00 00 "
            + "7b ff ff ff 90 1f 06 01 00 00 00 00 00 00 00 00 00 00 00 00");

    /**
     * A drop notification with the given struct size (32, 36, 40, 48) and version byte, followed by
     * {@code packet}. Fields: reason, source 7, hash 0x11223344, src 5678, dst 51234, dstId, line 99,
     * file 2, ext_error -3, ifindex 29 (36+), flags (40+), ip_trace_id 0x99 (48).
     */
    static byte[] drop(int headerLength, int version, int reason, long dstId, int flags, byte[] packet) {
        ByteBuffer b = ByteBuffer.allocate(headerLength + packet.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 1).put((byte) reason).putShort((short) 7).putInt(0x11223344);
        b.putInt(packet.length + 10).putShort((short) packet.length).put((byte) version).put((byte) 0);
        b.putInt(5678).putInt(51234).putInt((int) dstId);
        if (headerLength >= 36) {
            b.putShort((short) 99).put((byte) 2).put((byte) -3).putInt(29);
        } else {
            b.putInt(0);
        }
        if (headerLength >= 40) {
            b.put((byte) flags).put(new byte[3]);
        }
        if (headerLength >= 48) {
            b.putLong(0x99);
        }
        b.put(packet);
        return b.array();
    }

    /** A policy verdict of the given struct size (32 or 40), followed by {@code packet}. */
    static byte[] verdict(int headerLength, long remote, int verdict, int dstPort, int proto, int flags, int cookie,
            byte[] packet) {
        ByteBuffer b = ByteBuffer.allocate(headerLength + packet.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 5).put((byte) 0).putShort((short) 12).putInt(0x55667788);
        b.putInt(packet.length).putShort((short) packet.length).put((byte) 1).put((byte) 0);
        b.putInt((int) remote).putInt(verdict).putShort((short) dstPort).put((byte) proto).put((byte) flags);
        b.put((byte) 1).put(new byte[3]);
        if (headerLength >= 40) {
            b.putInt(cookie).putInt(0);
        }
        b.put(packet);
        return b.array();
    }

    /** Ethernet + IPv6 + UDP fd00::1:5353 -> fd00::2:53, 8-byte UDP header only. */
    static byte[] ipv6UdpPacket() {
        ByteBuffer b = ByteBuffer.allocate(14 + 40 + 8);
        b.put(new byte[12]).putShort((short) 0x86dd);
        b.putInt(0x60000000).putShort((short) 8).put((byte) 17).put((byte) 64);
        b.put(hex("fd000000000000000000000000000001")).put(hex("fd000000000000000000000000000002"));
        b.putShort((short) 5353).putShort((short) 53).putShort((short) 8).putShort((short) 0);
        return b.array();
    }

    /** Raw IPv4 (no Ethernet) ICMP echo request 10.1.1.1 -> 10.2.2.2. */
    static byte[] rawIpv4IcmpPacket() {
        ByteBuffer b = ByteBuffer.allocate(20 + 8);
        b.put((byte) 0x45).put((byte) 0).putShort((short) 28).putInt(0).put((byte) 64).put((byte) 1).putShort((short) 0);
        b.put(new byte[] {10, 1, 1, 1}).put(new byte[] {10, 2, 2, 2});
        b.put((byte) 8).put((byte) 0).putShort((short) 0).putInt(0x00010001);
        return b.array();
    }

    /** Ethernet + 802.1Q tag + IPv4 + SCTP 10.0.0.1:3868 -> 10.0.0.2:3869. */
    static byte[] vlanSctpPacket() {
        ByteBuffer b = ByteBuffer.allocate(18 + 20 + 12);
        b.put(new byte[12]).putShort((short) 0x8100).putShort((short) 42).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) 32).putInt(0).put((byte) 64).put((byte) 132).putShort((short) 0);
        b.put(new byte[] {10, 0, 0, 1}).put(new byte[] {10, 0, 0, 2});
        b.putShort((short) 3868).putShort((short) 3869).putInt(0).putInt(0);
        return b.array();
    }

    /** The SYN packet inside VXLAN: outer Ethernet/IPv4/UDP 4789/VXLAN, then the inner frame. */
    static byte[] vxlanSynPacket() {
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + 8 + SYN_PACKET.length);
        b.put(new byte[12]).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + 8 + SYN_PACKET.length)).putInt(0)
                .put((byte) 64).put((byte) 17).putShort((short) 0);
        b.put(new byte[] {(byte) 192, (byte) 168, 0, 1}).put(new byte[] {(byte) 192, (byte) 168, 0, 2});
        b.putShort((short) 51000).putShort((short) 4789).putShort((short) (16 + SYN_PACKET.length)).putShort((short) 0);
        b.putInt(0x08000000).putInt(0x00000100);
        b.put(SYN_PACKET);
        return b.array();
    }

    /** The SYN packet inside Geneve on a non-default port, with one 4-byte option. */
    static byte[] geneveSynPacket() {
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + 12 + SYN_PACKET.length);
        b.put(new byte[12]).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + 12 + SYN_PACKET.length)).putInt(0)
                .put((byte) 64).put((byte) 17).putShort((short) 0);
        b.put(new byte[] {(byte) 192, (byte) 168, 0, 1}).put(new byte[] {(byte) 192, (byte) 168, 0, 2});
        b.putShort((short) 51000).putShort((short) 16081).putShort((short) (20 + SYN_PACKET.length)).putShort((short) 0);
        b.put((byte) 0x01).put((byte) 0).putShort((short) 0x6558).putInt(0x00000100).putInt(0x01020304);
        b.put(SYN_PACKET);
        return b.array();
    }
}
