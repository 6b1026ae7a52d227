/**
 * The journal-writer side of the payload sources (Cilium, Calico): transport threads copy raw
 * payloads into a {@link dev.droptrace.agent.pipeline.PayloadQueue}; the one thread that writes the
 * journal decodes them with a {@link dev.droptrace.agent.pipeline.PayloadTranslator}, and the
 * {@link dev.droptrace.agent.pipeline.PacketMerger} joins a CNI drop with the kernel's kfree_skb record
 * of the same packet, so one packet is one event. Keeping decode, dictionary interning and append on
 * one thread keeps the journal single-writer.
 */
package dev.droptrace.agent.pipeline;
