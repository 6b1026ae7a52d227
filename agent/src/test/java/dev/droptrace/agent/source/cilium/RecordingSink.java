package dev.droptrace.agent.source.cilium;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/** A sink that keeps a copy of everything it is given, for tests; safe to read from another thread. */
final class RecordingSink implements CiliumPayloadSink {
    /** One delivered payload: a sample (data not null) or a loss (data null). */
    record Got(byte[] data, int cpu, long lost) {
        static Got sample(byte[] data, int cpu) {
            return new Got(data, cpu, 0);
        }

        static Got loss(int cpu, long lost) {
            return new Got(null, cpu, lost);
        }

        boolean isSample() {
            return data != null;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Got g && java.util.Arrays.equals(data, g.data) && cpu == g.cpu && lost == g.lost;
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(data) * 31 + cpu * 7 + Long.hashCode(lost);
        }

        @Override
        public String toString() {
            return data == null ? "lost(cpu " + cpu + ", " + lost + ")"
                    : "sample(cpu " + cpu + ", " + java.util.HexFormat.of().formatHex(data) + ")";
        }
    }

    private final List<Got> got = new ArrayList<>();

    @Override
    public synchronized void onSample(MemorySegment data, long offset, int length, int cpu) {
        byte[] copy = new byte[length];
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, offset, copy, 0, length);
        got.add(Got.sample(copy, cpu));
    }

    @Override
    public synchronized void onLost(int cpu, long lost) {
        got.add(Got.loss(cpu, lost));
    }

    synchronized List<Got> got() {
        return List.copyOf(got);
    }

    synchronized int size() {
        return got.size();
    }

    synchronized void clear() {
        got.clear();
    }
}
