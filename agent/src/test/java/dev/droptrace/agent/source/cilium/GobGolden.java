package dev.droptrace.agent.source.cilium;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;

import static dev.droptrace.agent.source.cilium.Samples.concat;
import static dev.droptrace.agent.source.cilium.Samples.hex;
import static dev.droptrace.agent.source.cilium.Samples.perfPad;

/**
 * The golden gob streams under {@code src/test/resources/cilium/gob} (written by Go's encoding/gob from
 * {@code gen/main.go}, see the README there) and what they hold, built independently from the spec hex
 * in {@link Samples} and {@link SpecVectorsTest}.
 */
final class GobGolden {
    private GobGolden() {
    }

    static final String PAYLOADS = "payloads.gob";
    static final String REORDERED = "reordered.gob";

    static final byte[] DROP = perfPad(concat(Samples.DROP_V3_HEADER, Samples.SYN_PACKET));
    static final byte[] VERDICT = perfPad(concat(Samples.VERDICT_V119_HEADER, Samples.SYN_PACKET));
    static final byte[] VERDICT_V118 = perfPad(concat(Arrays.copyOf(Samples.VERDICT_V119_HEADER, 32), Samples.SYN_PACKET));
    static final byte[] TRACE = hex(SpecVectorsTest.V4);

    /** The payloads of {@code payloads.gob}, in order, as the sink receives them (type 1 is skipped). */
    static final List<RecordingSink.Got> PAYLOADS_DELIVERED = List.of(
            RecordingSink.Got.sample(DROP, 1),
            RecordingSink.Got.sample(VERDICT, 2),
            RecordingSink.Got.loss(3, (1L << 40) + 5),
            RecordingSink.Got.sample(TRACE, 0),
            RecordingSink.Got.sample(VERDICT_V118, 300),
            RecordingSink.Got.sample(new byte[0], 5),
            RecordingSink.Got.loss(130, 7),
            RecordingSink.Got.sample(DROP, 70000));
    static final int PAYLOADS_SAMPLES = 6;
    static final int PAYLOADS_LOST_RECORDS = 2;
    static final long PAYLOADS_LOST_SUM = (1L << 40) + 5 + 7;
    static final int PAYLOADS_OTHER = 1;
    /** One type definition and nine values. */
    static final int PAYLOADS_MESSAGES = 10;
    /** Size of the type-definition message at the start of {@code payloads.gob}: length byte 0x38 and 56 bytes. */
    static final int PAYLOADS_DEFINITION_SIZE = 57;

    /** The payloads of {@code reordered.gob}. */
    static final List<RecordingSink.Got> REORDERED_DELIVERED = List.of(
            RecordingSink.Got.sample(DROP, 1),
            RecordingSink.Got.loss(3, (1L << 40) + 5),
            RecordingSink.Got.sample(TRACE, 300));

    static byte[] load(String name) {
        try (InputStream in = GobGolden.class.getResourceAsStream("/cilium/gob/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource /cilium/gob/" + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
