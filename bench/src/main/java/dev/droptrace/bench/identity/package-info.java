/**
 * JMH benchmarks of the identity cache: lookups on the source thread's path (IPv4 hit and miss,
 * IPv6 hit, netns, and the resolver's enrichment of a drop record) while a background writer
 * applies pod updates continuously. Run with {@code java -jar bench/target/benchmarks.jar
 * IdentityCacheBenchmark -prof gc}.
 */
package dev.droptrace.bench.identity;
