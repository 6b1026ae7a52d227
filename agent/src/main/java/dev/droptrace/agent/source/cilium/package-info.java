/**
 * The Cilium source's decoding layer: flyweights over the notifications Cilium's datapath writes to
 * its {@code cilium_events} perf ring ({@code drop_notify} and {@code policy_verdict_notify} of every
 * version, spec {@code cilium-monitor-format.md} section 3), a {@code CiliumMessageDecoder} that
 * classifies one sample, settles the header length (section 3.6, with a {@code --cilium-version}
 * override) and slices the captured packet with {@code len_cap}, a parser that fills a
 * {@code DropRecord} from the captured headers, and Cilium's drop-reason and reserved-identity
 * tables. Nothing is allocated per message and bad input is counted by kind, never thrown. Both
 * routes deliver raw notifications to a {@code CiliumPayloadSink}: the default one reads
 * cilium-agent's monitor socket ({@code MonitorSocketClient}, reconnecting on its own) and decodes
 * its Go gob stream of payloads ({@code GobPayloadDecoder}); the perf ring route builds on the same
 * sink.
 */
package dev.droptrace.agent.source.cilium;
