/**
 * The kernel drop source: the BPF program on skb:kfree_skb (tp_btf, or the classic tracepoint where
 * BTF tracepoints are missing), its ring buffer drained from Java, and the translation of each
 * kernel record into a journal event, with the drop reason's name from the kernel's BTF and the drop
 * site from /proc/kallsyms. In a drop storm the program aggregates per flow in the kernel (the first
 * drop of a flow at once, then one record with a count per interval); {@code KernelFlowTables}
 * flushes the counts so that the journal's summed counts equal the kernel's drops exactly.
 */
package dev.droptrace.agent.source.kernel;
