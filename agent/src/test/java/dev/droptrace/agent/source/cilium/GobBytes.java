package dev.droptrace.agent.source.cilium;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A minimal gob writer for hand-made bad streams in tests (the good ones come from Go itself): gob's
 * unsigned and signed integers, byte strings, struct type definitions and message framing.
 */
final class GobBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** gob's predefined type ids. */
    static final int BOOL = 1, INT = 2, UINT = 3, FLOAT = 4, BYTES = 5, STRING = 6, COMPLEX = 7, INTERFACE = 8;

    GobBytes uint(long v) {
        if (v >= 0 && v < 128) {
            out.write((int) v);
            return this;
        }
        int n = 8 - Long.numberOfLeadingZeros(v) / 8;
        out.write(-n & 0xff);
        for (int i = n - 1; i >= 0; i--) {
            out.write((int) (v >>> (8 * i)) & 0xff);
        }
        return this;
    }

    GobBytes sint(long v) {
        return uint(v < 0 ? (~v << 1) | 1 : v << 1);
    }

    GobBytes bytes(byte[] b) {
        uint(b.length);
        out.writeBytes(b);
        return this;
    }

    GobBytes raw(int... b) {
        for (int x : b) {
            out.write(x);
        }
        return this;
    }

    byte[] toBytes() {
        return out.toByteArray();
    }

    /** One message: its length, then the content. */
    static byte[] message(byte[] content) {
        GobBytes m = new GobBytes().uint(content.length);
        m.out.writeBytes(content);
        return m.toBytes();
    }

    /** A message defining struct type {@code id} named {@code name} with fields as alternating name, type id. */
    static byte[] structDefinition(int id, String name, Object... fields) {
        GobBytes g = new GobBytes().sint(-id);
        g.uint(3); // wireType.StructT
        g.uint(1).uint(1).bytes(name.getBytes(StandardCharsets.US_ASCII)).uint(1).sint(id).uint(0); // CommonType
        g.uint(1).uint(fields.length / 2); // Field
        for (int i = 0; i < fields.length; i += 2) {
            g.uint(1).bytes(((String) fields[i]).getBytes(StandardCharsets.US_ASCII)).uint(1).sint((Integer) fields[i + 1]).uint(0);
        }
        g.uint(0).uint(0); // end of structType, end of wireType
        return message(g.toBytes());
    }

    /** Cilium's Payload as type 65, as Go's encoder defines it. */
    static byte[] payloadDefinition() {
        return structDefinition(65, "Payload", "Data", BYTES, "CPU", INT, "Lost", UINT, "Type", INT);
    }

    /** A Payload value of type 65; zero fields omitted, as gob does. */
    static byte[] payload(byte[] data, long cpu, long lost, long type) {
        GobBytes g = new GobBytes().sint(65);
        int last = -1;
        if (data != null && data.length > 0) {
            g.uint(0 - last).bytes(data);
            last = 0;
        }
        if (cpu != 0) {
            g.uint(1 - last).sint(cpu);
            last = 1;
        }
        if (lost != 0) {
            g.uint(2 - last).uint(lost);
            last = 2;
        }
        if (type != 0) {
            g.uint(3 - last).sint(type);
        }
        g.uint(0);
        return message(g.toBytes());
    }
}
