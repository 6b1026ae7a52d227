package dev.droptrace.agent.source.cilium;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Streaming decoder for the Go {@code encoding/gob} stream that cilium-agent writes to each
 * monitor-socket connection (spec {@code cilium-monitor-format.md} section 1.4): a type definition
 * for {@code Payload{Data []byte; CPU int; Lost uint64; Type int}}, then one value per payload.
 * Payloads of type 9 ({@code EventSample}) go to {@link CiliumPayloadSink#onSample}, type 2
 * ({@code RecordLost}) to {@link CiliumPayloadSink#onLost}; other types are counted and skipped.
 *
 * <p>Only what this stream needs of gob: length-prefixed messages; a negative type id introduces a
 * {@code wireType} (struct definitions are read, others are recorded and never accepted as values);
 * a positive one a struct value as field deltas ending in 0, zero-valued fields omitted. The
 * payload struct is recognised by its field names and types in any order; extra fields of gob's
 * basic types are skipped. Unsigned integers are a byte below 128 or a negated byte count and that
 * many big-endian bytes; a signed integer is an unsigned one with the sign in bit 0.
 *
 * <p>Bytes may arrive in any split: {@link #feed} copies them into one reused buffer that holds a
 * message of up to {@code maxMessage} bytes, and decodes each message once it is complete. Nothing
 * is allocated per payload and no allocation is sized from the input. gob cannot resynchronise
 * inside a stream, so any bad input (an oversized message or {@code Data}, a malformed integer, a
 * value that is not a payload) is counted by {@link GobError} and marks the stream broken:
 * {@link #feed} returns false until {@link #reset()}, which the client calls on a new connection.
 * One instance per reading thread; the counters may be read from any thread.
 */
public final class GobPayloadDecoder {
    private static final Logger LOG = LoggerFactory.getLogger(GobPayloadDecoder.class);

    /** Largest gob message accepted (a Cilium payload is one perf sample, below 64 KiB, plus a few bytes). */
    public static final int DEFAULT_MAX_MESSAGE = 1 << 20;
    /** Largest {@code Data} accepted: a perf sample's size is a u16. */
    public static final int DEFAULT_MAX_DATA = 64 << 10;
    /** {@code payload.EventSample} (PERF_RECORD_SAMPLE). */
    public static final int EVENT_SAMPLE = 9;
    /** {@code payload.RecordLost} (PERF_RECORD_LOST). */
    public static final int RECORD_LOST = 2;

    /** Why a stream was declared broken. */
    public enum GobError {
        /** A message length that is 0 or whose byte count is above 8. */
        BAD_LENGTH,
        /** A message longer than the cap. */
        MESSAGE_TOO_LARGE,
        /** A payload whose {@code Data} is longer than the cap. */
        DATA_TOO_LARGE,
        /** A message whose content runs past its end, leaves bytes over, or has an impossible field number or integer. */
        MALFORMED,
        /** A type definition for a predefined or already defined id, or beyond the table's size. */
        BAD_TYPE_DEFINITION,
        /** A value of an undefined type, of a type without the payload's fields, or with a field that cannot be skipped. */
        NOT_A_PAYLOAD,
        /** A CPU that is negative or does not fit an int. */
        VALUE_OUT_OF_RANGE
    }

    private static final GobError[] ERRORS = GobError.values();

    // gob's predefined type ids (encoding/gob type.go)
    private static final int T_BOOL = 1;
    private static final int T_INT = 2;
    private static final int T_UINT = 3;
    private static final int T_FLOAT = 4;
    private static final int T_BYTES = 5;
    private static final int T_STRING = 6;
    private static final int T_COMPLEX = 7;
    private static final int FIRST_USER_TYPE = 65;
    /** wireType's field number of {@code StructT}; wireType has 7 fields. */
    private static final int WIRE_STRUCT = 2;
    private static final int WIRE_FIELDS = 7;

    private static final int MAX_TYPES = 16;
    private static final int MAX_FIELDS = 32;
    /** An unsigned integer is at most a count byte and 8 bytes. */
    private static final int MAX_UINT_BYTES = 9;

    // what a struct field is to the payload decoder
    private static final byte R_DATA = 1;
    private static final byte R_CPU = 2;
    private static final byte R_LOST = 3;
    private static final byte R_TYPE = 4;
    private static final byte R_SKIP_UINT = 5;
    private static final byte R_SKIP_BYTES = 6;
    private static final byte R_SKIP_COMPLEX = 7;
    private static final byte R_UNSUPPORTED = 8;
    private static final byte R_MISTYPED = 9;

    private static final byte[] NAME_DATA = "Data".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NAME_CPU = "CPU".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NAME_LOST = "Lost".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NAME_TYPE = "Type".getBytes(StandardCharsets.US_ASCII);

    private final CiliumPayloadSink sink;
    private final int maxMessage;
    private final int maxData;
    private final ByteBuffer buffer;
    private final MemorySegment segment;
    private int end;

    // the types defined so far in this stream
    private final long[] typeIds = new long[MAX_TYPES];
    private final byte[][] roles = new byte[MAX_TYPES][MAX_FIELDS];
    private final int[] fieldCounts = new int[MAX_TYPES];
    private final boolean[] payloadShaped = new boolean[MAX_TYPES];
    private int typeCount;

    // the message being decoded
    private int pos;
    private int lim;
    private GobError fail;
    private GobError broken;

    private final AtomicLong messages = new AtomicLong();
    private final AtomicLong typeDefinitions = new AtomicLong();
    private final AtomicLong samples = new AtomicLong();
    private final AtomicLong lostRecords = new AtomicLong();
    private final AtomicLong lostSamples = new AtomicLong();
    private final AtomicLong otherPayloads = new AtomicLong();
    private final AtomicLong sinkFailures = new AtomicLong();
    private final AtomicLong decodeErrors = new AtomicLong();
    private final AtomicLongArray errorCounts = new AtomicLongArray(ERRORS.length);

    /** A decoder with the default caps (1 MiB messages, 64 KiB {@code Data}). */
    public GobPayloadDecoder(CiliumPayloadSink sink) {
        this(sink, DEFAULT_MAX_MESSAGE, DEFAULT_MAX_DATA);
    }

    /** A decoder that accepts messages of up to {@code maxMessage} bytes and {@code Data} of up to {@code maxData}. */
    public GobPayloadDecoder(CiliumPayloadSink sink, int maxMessage, int maxData) {
        if (maxMessage < 16 || maxMessage > (1 << 30) || maxData < 0 || maxData > maxMessage) {
            throw new IllegalArgumentException("bad caps: maxMessage " + maxMessage + ", maxData " + maxData);
        }
        this.sink = sink;
        this.maxMessage = maxMessage;
        this.maxData = maxData;
        this.buffer = ByteBuffer.allocateDirect(maxMessage + MAX_UINT_BYTES);
        this.segment = MemorySegment.ofBuffer(buffer);
    }

    /** Starts a new stream (a new connection): forgets buffered bytes, defined types and a broken state; keeps the counters. */
    public void reset() {
        end = 0;
        typeCount = 0;
        broken = null;
        fail = null;
    }

    /**
     * Consumes all remaining bytes of {@code src} (its position moves to its limit), delivering every
     * payload they complete. Returns false if the stream is broken, now or before: the caller should
     * drop the connection and, on a new one, {@link #reset()}.
     */
    public boolean feed(ByteBuffer src) {
        while (broken == null && src.hasRemaining()) {
            int n = Math.min(src.remaining(), buffer.capacity() - end);
            buffer.put(end, src, src.position(), n);
            src.position(src.position() + n);
            end += n;
            int consumed = drain();
            if (consumed > 0) {
                MemorySegment.copy(segment, consumed, segment, 0, end - consumed);
                end -= consumed;
            } else if (n == 0 && broken == null) {
                breakStream(GobError.MESSAGE_TOO_LARGE); // cannot happen: a full buffer always holds a whole message
            }
        }
        if (broken != null) {
            src.position(src.limit());
            return false;
        }
        return true;
    }

    /** Decodes every complete message at the front of the buffer; returns the bytes consumed. */
    private int drain() {
        int p = 0;
        while (broken == null) {
            int avail = end - p;
            if (avail == 0) {
                return p;
            }
            byte b0 = segment.get(ValueLayout.JAVA_BYTE, p);
            int header;
            long length;
            if (b0 >= 0) {
                header = 1;
                length = b0;
            } else {
                int n = -b0;
                if (n > 8) {
                    breakStream(GobError.BAD_LENGTH);
                    return p;
                }
                if (avail < 1 + n) {
                    return p; // the length itself is not complete yet
                }
                length = 0;
                for (int i = 1; i <= n; i++) {
                    length = (length << 8) | (segment.get(ValueLayout.JAVA_BYTE, p + i) & 0xff);
                }
                header = 1 + n;
            }
            if (length == 0) {
                breakStream(GobError.BAD_LENGTH);
                return p;
            }
            if (length < 0 || length > maxMessage) {
                breakStream(GobError.MESSAGE_TOO_LARGE);
                return p;
            }
            if (avail - header < length) {
                return p;
            }
            int start = p + header;
            p = start + (int) length;
            if (!message(start, p)) {
                return p;
            }
        }
        return p;
    }

    private boolean message(int start, int limit) {
        pos = start;
        lim = limit;
        fail = null;
        long id = readInt();
        if (fail == null) {
            if (id < 0) {
                defineType(-id);
            } else if (id > 0) {
                value(id);
            } else {
                fail = GobError.MALFORMED;
            }
        }
        if (fail == null && pos != lim) {
            fail = GobError.MALFORMED;
        }
        if (fail != null) {
            breakStream(fail);
            return false;
        }
        messages.setRelease(messages.getPlain() + 1);
        return true;
    }

    // ---- type definitions ----------------------------------------------------------------------

    private void defineType(long id) {
        // Long.MIN_VALUE stays negative when negated
        if (id < FIRST_USER_TYPE || id > Integer.MAX_VALUE || indexOf(id) >= 0 || typeCount == MAX_TYPES) {
            fail = GobError.BAD_TYPE_DEFINITION;
            return;
        }
        int t = typeCount;
        fieldCounts[t] = 0;
        payloadShaped[t] = false;
        long delta = readUint();
        if (fail != null) {
            return;
        }
        if (delta <= 0 || delta > WIRE_FIELDS) {
            fail = delta == 0 ? GobError.BAD_TYPE_DEFINITION : GobError.MALFORMED;
            return;
        }
        if (delta - 1 == WIRE_STRUCT) {
            structType(t);
            if (fail != null) {
                return;
            }
            if (readUint() != 0 && fail == null) {
                fail = GobError.MALFORMED; // a wireType sets one of its fields
            }
        } else {
            pos = lim; // an array, slice, map or marshaler type: recorded, and never a payload
        }
        if (fail == null) {
            typeIds[t] = id;
            typeCount++;
            typeDefinitions.setRelease(typeDefinitions.getPlain() + 1);
        }
    }

    /** {@code structType{CommonType{Name string; Id int}; Field []fieldType}}. */
    private void structType(int t) {
        for (int field = nextField(-1, 1); field >= 0; field = nextField(field, 1)) {
            if (field == 0) {
                skipStruct(); // CommonType: the type's name and id, neither needed
            } else {
                fields(t);
            }
        }
    }

    /** Skips a struct of basic-typed fields, such as CommonType: {@code Name string} (0), {@code Id int} (1). */
    private void skipStruct() {
        for (int field = nextField(-1, 1); field >= 0; field = nextField(field, 1)) {
            if (field == 0) {
                skipBytes();
            } else {
                readUint();
            }
        }
    }

    /** {@code []fieldType}, each {@code fieldType{Name string; Id int}}: settles what each field is. */
    private void fields(int t) {
        long count = readUint();
        if (fail != null) {
            return;
        }
        if (count < 0 || count > MAX_FIELDS) {
            fail = GobError.BAD_TYPE_DEFINITION;
            return;
        }
        int data = 0;
        int cpu = 0;
        int lost = 0;
        int type = 0;
        boolean mistyped = false;
        byte[] r = roles[t];
        for (int i = 0; i < count && fail == null; i++) {
            int nameOffset = 0;
            int nameLength = 0;
            long typeId = 0;
            for (int field = nextField(-1, 1); field >= 0; field = nextField(field, 1)) {
                if (field == 0) {
                    long n = readUint();
                    if (fail != null || n < 0 || n > lim - pos) {
                        fail = GobError.MALFORMED;
                        return;
                    }
                    nameOffset = pos;
                    nameLength = (int) n;
                    pos += nameLength;
                } else {
                    typeId = readInt();
                }
            }
            if (fail != null) {
                return;
            }
            byte role = role(nameOffset, nameLength, typeId);
            r[i] = role;
            switch (role) {
                case R_DATA -> data++;
                case R_CPU -> cpu++;
                case R_LOST -> lost++;
                case R_TYPE -> type++;
                case R_MISTYPED -> mistyped = true;
                default -> { }
            }
        }
        fieldCounts[t] = (int) count;
        payloadShaped[t] = data == 1 && cpu == 1 && lost == 1 && type == 1 && !mistyped;
    }

    private byte role(int nameOffset, int nameLength, long typeId) {
        if (nameIs(nameOffset, nameLength, NAME_DATA)) {
            return typeId == T_BYTES ? R_DATA : R_MISTYPED;
        }
        if (nameIs(nameOffset, nameLength, NAME_CPU)) {
            return typeId == T_INT ? R_CPU : R_MISTYPED;
        }
        if (nameIs(nameOffset, nameLength, NAME_LOST)) {
            return typeId == T_UINT ? R_LOST : R_MISTYPED;
        }
        if (nameIs(nameOffset, nameLength, NAME_TYPE)) {
            return typeId == T_INT ? R_TYPE : R_MISTYPED;
        }
        if (typeId == T_BOOL || typeId == T_INT || typeId == T_UINT || typeId == T_FLOAT) {
            return R_SKIP_UINT; // a float is sent as a byte-reversed uint
        }
        if (typeId == T_BYTES || typeId == T_STRING) {
            return R_SKIP_BYTES;
        }
        return typeId == T_COMPLEX ? R_SKIP_COMPLEX : R_UNSUPPORTED;
    }

    private boolean nameIs(int offset, int length, byte[] name) {
        if (length != name.length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            if (segment.get(ValueLayout.JAVA_BYTE, offset + i) != name[i]) {
                return false;
            }
        }
        return true;
    }

    private int indexOf(long id) {
        for (int i = 0; i < typeCount; i++) {
            if (typeIds[i] == id) {
                return i;
            }
        }
        return -1;
    }

    // ---- values ---------------------------------------------------------------------------------

    private void value(long id) {
        int t = indexOf(id);
        if (t < 0 || !payloadShaped[t]) {
            fail = GobError.NOT_A_PAYLOAD;
            return;
        }
        byte[] r = roles[t];
        int last = fieldCounts[t] - 1;
        int dataOffset = 0;
        int dataLength = 0;
        long cpu = 0;
        long lost = 0;
        long type = 0;
        for (int field = nextField(-1, last); field >= 0; field = nextField(field, last)) {
            switch (r[field]) {
                case R_DATA -> {
                    long n = readUint();
                    if (fail != null) {
                        return;
                    }
                    if (n < 0 || n > maxData) {
                        fail = GobError.DATA_TOO_LARGE;
                        return;
                    }
                    if (n > lim - pos) {
                        fail = GobError.MALFORMED;
                        return;
                    }
                    dataOffset = pos;
                    dataLength = (int) n;
                    pos += dataLength;
                }
                case R_CPU -> cpu = readInt();
                case R_LOST -> lost = readUint();
                case R_TYPE -> type = readInt();
                case R_SKIP_UINT -> readUint();
                case R_SKIP_BYTES -> skipBytes();
                case R_SKIP_COMPLEX -> {
                    readUint();
                    readUint();
                }
                default -> {
                    fail = GobError.NOT_A_PAYLOAD; // a field of a type this decoder cannot skip
                    return;
                }
            }
        }
        if (fail != null) {
            return;
        }
        if (pos != lim) {
            fail = GobError.MALFORMED;
            return;
        }
        if (cpu < 0 || cpu > Integer.MAX_VALUE) {
            fail = GobError.VALUE_OUT_OF_RANGE;
            return;
        }
        deliver(type, dataOffset, dataLength, (int) cpu, lost);
    }

    private void deliver(long type, int dataOffset, int dataLength, int cpu, long lost) {
        try {
            if (type == EVENT_SAMPLE) {
                sink.onSample(segment, dataOffset, dataLength, cpu);
                samples.setRelease(samples.getPlain() + 1);
            } else if (type == RECORD_LOST) {
                sink.onLost(cpu, lost);
                lostRecords.setRelease(lostRecords.getPlain() + 1);
                lostSamples.setRelease(lostSamples.getPlain() + lost);
            } else {
                otherPayloads.setRelease(otherPayloads.getPlain() + 1);
            }
        } catch (RuntimeException e) {
            // the sink's failure is not the stream's: count it and go on with the next payload
            if (sinkFailures.getPlain() == 0) {
                LOG.error("cilium payload sink failed (counted from now on)", e);
            }
            sinkFailures.setRelease(sinkFailures.getPlain() + 1);
        }
    }

    // ---- gob integers ---------------------------------------------------------------------------

    /**
     * The number of a struct's next field after {@code field} (-1 before the first), read as gob's
     * field delta; -1 at the struct's end (delta 0) or once {@link #fail} is set, which a delta
     * past field {@code last} does (MALFORMED).
     */
    private int nextField(int field, int last) {
        if (fail != null) {
            return -1;
        }
        long delta = readUint();
        if (fail != null || delta == 0) {
            return -1;
        }
        if (delta < 0 || delta > last - field) {
            fail = GobError.MALFORMED;
            return -1;
        }
        return field + (int) delta;
    }

    /** A gob unsigned integer inside the current message; sets {@link #fail} and returns 0 when it is malformed. */
    private long readUint() {
        if (pos >= lim) {
            fail = GobError.MALFORMED;
            return 0;
        }
        byte b = segment.get(ValueLayout.JAVA_BYTE, pos++);
        if (b >= 0) {
            return b;
        }
        int n = -b;
        if (n > 8 || n > lim - pos) {
            fail = GobError.MALFORMED;
            return 0;
        }
        long v = 0;
        for (int i = 0; i < n; i++) {
            v = (v << 8) | (segment.get(ValueLayout.JAVA_BYTE, pos++) & 0xff);
        }
        return v;
    }

    /** A gob signed integer: bit 0 is the sign, the rest the value (complemented when negative). */
    private long readInt() {
        long u = readUint();
        return (u & 1) != 0 ? ~(u >>> 1) : u >>> 1;
    }

    private void skipBytes() {
        long n = readUint();
        if (fail == null && (n < 0 || n > lim - pos)) {
            fail = GobError.MALFORMED;
            return;
        }
        pos += (int) n;
    }

    private void breakStream(GobError e) {
        broken = e;
        errorCounts.setRelease(e.ordinal(), errorCounts.getPlain(e.ordinal()) + 1);
        decodeErrors.setRelease(decodeErrors.getPlain() + 1);
    }

    // ---- state and counters ---------------------------------------------------------------------

    /** True once bad input was seen in this stream, until {@link #reset()}. */
    public boolean broken() {
        return broken != null;
    }

    /** Why this stream is broken, or null. */
    public GobError brokenBy() {
        return broken;
    }

    /** Bytes held of a message not yet complete (a stream cut here is truncated, not malformed). */
    public int pendingBytes() {
        return end;
    }

    /** gob messages decoded (type definitions and values), over all streams. */
    public long messages() {
        return messages.getAcquire();
    }

    /** Type definitions read, over all streams (one per stream from cilium-agent). */
    public long typeDefinitions() {
        return typeDefinitions.getAcquire();
    }

    /** Payloads of type {@code EventSample} delivered. */
    public long samples() {
        return samples.getAcquire();
    }

    /** Payloads of type {@code RecordLost} delivered. */
    public long lostRecords() {
        return lostRecords.getAcquire();
    }

    /** The sum of {@code Lost} over the lost records: samples the datapath could not write to its ring. */
    public long lostSamples() {
        return lostSamples.getAcquire();
    }

    /** Payloads of any other type, skipped. */
    public long otherPayloads() {
        return otherPayloads.getAcquire();
    }

    /** Payloads whose sink call threw (counted and skipped; the stream goes on). */
    public long sinkFailures() {
        return sinkFailures.getAcquire();
    }

    /** Streams declared broken, over all streams. */
    public long decodeErrors() {
        return decodeErrors.getAcquire();
    }

    /** Streams declared broken for {@code error}. */
    public long decodeErrors(GobError error) {
        return errorCounts.getAcquire(error.ordinal());
    }
}
