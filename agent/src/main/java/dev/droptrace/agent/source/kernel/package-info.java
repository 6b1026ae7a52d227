/**
 * The kernel drop source: the BPF program on skb:kfree_skb (tp_btf, or the classic tracepoint where
 * BTF tracepoints are missing), its ring buffer drained from Java, and the translation of each
 * kernel record into a journal event, with the drop reason's name from the kernel's BTF and the drop
 * site from /proc/kallsyms.
 */
package dev.droptrace.agent.source.kernel;
