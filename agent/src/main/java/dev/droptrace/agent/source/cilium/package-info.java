/**
 * The Cilium source. Decoding layer: flyweights over the notifications Cilium's datapath writes to
 * its {@code cilium_events} perf ring ({@code drop_notify} and {@code policy_verdict_notify} of every
 * version, spec {@code cilium-monitor-format.md} section 3), a {@code CiliumMessageDecoder} that
 * classifies one sample, settles the header length (section 3.6, with a {@code --cilium-version}
 * override) and slices the captured packet with {@code len_cap}, a parser that fills a
 * {@code DropRecord} from the captured headers, and Cilium's drop-reason and reserved-identity
 * tables. Nothing is allocated per message and bad input is counted by kind, never thrown.
 *
 * <p>Transports: both routes deliver raw notifications to a {@code CiliumPayloadSink}. The default
 * one reads cilium-agent's monitor socket ({@code MonitorSocketClient}, reconnecting on its own) and
 * decodes its Go gob stream of payloads ({@code GobPayloadDecoder}); the opt-in one drains the pinned
 * perf ring from Java ({@code CiliumRingReader}). {@code CiliumDropSource} joins a transport to the
 * agent's pipeline.
 *
 * <p>Events: {@code CiliumPayloadTranslator} turns samples into journal events on the writer thread
 * (one event per packet: a denied verdict and the drop notification of the same packet are joined),
 * and {@code CiliumIdentitySource} feeds a lock-free {@code CiliumIdentityTable} from the
 * CiliumIdentity and CiliumEndpoint objects, which names the pods at both ends.
 */
package dev.droptrace.agent.source.cilium;
