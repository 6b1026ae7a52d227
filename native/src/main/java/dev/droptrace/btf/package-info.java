/**
 * A reader of BTF, the kernel's BPF Type Format: the running kernel's types from
 * {@code /sys/kernel/btf/vmlinux}, or the {@code .BTF} section of a BPF object built by clang.
 * {@link dev.droptrace.btf.Btf} parses a blob in one pass, validating every record, and resolves
 * names lazily; it answers the questions droptrace asks of the kernel: the enumerators of an enum
 * ({@link dev.droptrace.btf.DropReasons} turns {@code enum skb_drop_reason} into reason names, so no
 * name table is ever hard-coded) and the layout of a struct (to check that the Java mirror of a
 * record shared with a BPF program matches the C header it was compiled from). Malformed input
 * fails with a {@link dev.droptrace.btf.BtfFormatException}, never with an index error.
 */
package dev.droptrace.btf;
