/**
 * The few libc calls droptrace needs, bound with Java's FFM API, and the one exception type for a
 * failed native call. Every downcall that can fail captures {@code errno} through
 * {@link java.lang.foreign.Linker.Option#captureCallState(String...)} into a per-thread segment,
 * because errno read by a later call would belong to whatever the JVM did in between. Calls used
 * on hot paths ({@link dev.droptrace.libc.Libc#poll}, {@link dev.droptrace.libc.Libc#clockGettimeNs})
 * allocate nothing: their argument structs live in per-thread scratch memory.
 */
package dev.droptrace.libc;
