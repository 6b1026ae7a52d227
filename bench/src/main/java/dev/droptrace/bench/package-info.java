/**
 * JMH benchmarks and their helpers: {@link dev.droptrace.bench.RingDrainBenchmark} compares the two
 * ring buffer readers on a kernel producer. The hot-path benchmark lives in the package of the code
 * it drives ({@code dev.droptrace.agent.source.kernel.HotPathBenchmark}), because the translator is
 * package-private. The throughput harness is {@code bench/throughput.sh}. Never needed at run time.
 */
package dev.droptrace.bench;
