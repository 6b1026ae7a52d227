/**
 * Kernel text symbols from {@code /proc/kallsyms}, to turn a drop location (the kernel address a
 * BPF program reads as the caller of {@code kfree_skb}) into {@code function+0xoffset}.
 * {@link dev.droptrace.ksym.KernelSymbols} loads the table once into sorted primitive arrays and
 * looks an address up without allocating, so the hot path can keep the index and leave the string
 * for the edge.
 */
package dev.droptrace.ksym;
