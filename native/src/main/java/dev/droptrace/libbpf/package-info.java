/**
 * FFM binding of libbpf.so.1 (libbpf 1.x), one type per kernel object: {@link dev.droptrace.libbpf.BpfObject}
 * owns the ELF bytes and the loaded programs and maps, {@link dev.droptrace.libbpf.BpfProgram} attaches
 * to a {@link dev.droptrace.libbpf.BpfLink}, {@link dev.droptrace.libbpf.BpfMap} reads and writes map
 * elements, and {@link dev.droptrace.libbpf.BpfRingBuffer} reads a BPF ring buffer straight from its
 * mmap'd pages in Java, with acquire/release ordering on the positions, allocating nothing per record
 * (as cilium/ebpf's ringbuf reader does in Go). {@link dev.droptrace.libbpf.LibbpfRingBuffer} drains
 * the same ring through libbpf's own reader and one upcall per record, kept so a benchmark can compare
 * the two. {@link dev.droptrace.libbpf.BpfPinnedMap} opens a map another program pinned in a BPF
 * filesystem (bpf_obj_get) and owns only its fd; {@link dev.droptrace.libbpf.BpfTcAttachment} attaches a
 * tc program to a device's clsact hook through libbpf's netlink API, inside a named network namespace
 * if asked. Every handle is {@link java.lang.AutoCloseable} and every owner has its own
 * {@link java.lang.foreign.Arena}; libbpf's log goes to the SLF4J logger {@code libbpf}, and a failed
 * call throws {@link dev.droptrace.libc.NativeCallException}, with the verifier log for a failed load.
 */
package dev.droptrace.libbpf;
