package dev.droptrace.agent.source.calico;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds nfnetlink_log messages byte by byte, as the kernel lays them out (§1.2, §1.4), for tests. */
final class NflogBuffers {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private ByteArrayOutputStream attrs;
    private int type;
    private int family;
    private int group;

    /** Starts an NFULNL_MSG_PACKET. */
    NflogBuffers packet(int family, int group) {
        this.type = 0x0400;
        this.family = family;
        this.group = group;
        this.attrs = new ByteArrayOutputStream();
        return this;
    }

    NflogBuffers attr(int type, byte[] payload) {
        int len = 4 + payload.length;
        ByteBuffer b = ByteBuffer.allocate((len + 3) & ~3).order(ByteOrder.nativeOrder());
        b.putShort((short) len).putShort((short) type).put(payload);
        attrs.writeBytes(b.array());
        return this;
    }

    NflogBuffers be32(int type, int v) {
        return attr(type, ByteBuffer.allocate(4).putInt(v).array());
    }

    NflogBuffers packetHdr(int hwProtocol, int hook) {
        return attr(1, new byte[] {(byte) (hwProtocol >>> 8), (byte) hwProtocol, (byte) hook, 0});
    }

    NflogBuffers prefix(String s) {
        byte[] p = s.getBytes(StandardCharsets.US_ASCII);
        byte[] withNul = new byte[p.length + 1];
        System.arraycopy(p, 0, withNul, 0, p.length);
        return attr(10, withNul);
    }

    NflogBuffers timestamp(long sec, long usec) {
        return attr(3, ByteBuffer.allocate(16).putLong(sec).putLong(usec).array());
    }

    NflogBuffers payload(byte[] packet) {
        return attr(9, packet);
    }

    /** Ends the current packet message: header, nfgenmsg, attributes (padded). */
    NflogBuffers end() {
        byte[] a = attrs.toByteArray();
        ByteBuffer b = ByteBuffer.allocate(20 + a.length).order(ByteOrder.nativeOrder());
        b.putInt(20 + a.length).putShort((short) type).putShort((short) 0).putInt(0).putInt(0);
        b.put((byte) family).put((byte) 0).order(ByteOrder.BIG_ENDIAN).putShort((short) group);
        b.put(a);
        out.writeBytes(b.array());
        return this;
    }

    /** A control message (NLMSG_DONE etc.) with {@code body} after the header. */
    NflogBuffers control(int type, byte[] body) {
        int len = 16 + body.length;
        ByteBuffer b = ByteBuffer.allocate((len + 3) & ~3).order(ByteOrder.nativeOrder());
        b.putInt(len).putShort((short) type).putShort((short) 2).putInt(7).putInt(0).put(body);
        out.writeBytes(b.array());
        return this;
    }

    /** NLMSG_ERROR with {@code code} (0 or -errno) followed by a copy of a 16-byte request header. */
    NflogBuffers error(int code) {
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
        b.putInt(code).putInt(16).putShort((short) 0x0401).putShort((short) 5).putInt(1).putInt(0);
        return control(2, b.array());
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    // ---- packets -------------------------------------------------------------------------------

    static byte[] ipv4Tcp(int src, int dst, int sport, int dport, int flags, int snap) {
        ByteBuffer b = ByteBuffer.allocate(60);
        b.put((byte) 0x45).put((byte) 0).putShort((short) 60).putInt(0).put((byte) 64).put((byte) 6).putShort((short) 0);
        b.putInt(src).putInt(dst);
        b.putShort((short) sport).putShort((short) dport).putInt(1).putInt(0).put((byte) 0xa0).put((byte) flags);
        byte[] full = b.array();
        byte[] cut = new byte[Math.min(snap, full.length)];
        System.arraycopy(full, 0, cut, 0, cut.length);
        return cut;
    }

    static byte[] ipv4Udp(int src, int dst, int sport, int dport) {
        ByteBuffer b = ByteBuffer.allocate(28);
        b.put((byte) 0x45).put((byte) 0).putShort((short) 28).putInt(0).put((byte) 64).put((byte) 17).putShort((short) 0);
        b.putInt(src).putInt(dst).putShort((short) sport).putShort((short) dport).putShort((short) 8).putShort((short) 0);
        return b.array();
    }

    static byte[] ipv6(int nextHeader, byte[] ext, byte[] l4, byte lastSrc, byte lastDst) {
        ByteBuffer b = ByteBuffer.allocate(40 + ext.length + l4.length);
        b.putInt(0x60000000).putShort((short) (ext.length + l4.length)).put((byte) nextHeader).put((byte) 64);
        byte[] src = new byte[16];
        src[0] = (byte) 0xfd;
        src[15] = lastSrc;
        byte[] dst = new byte[16];
        dst[0] = (byte) 0xfd;
        dst[15] = lastDst;
        b.put(src).put(dst).put(ext).put(l4);
        return b.array();
    }
}
