/**
 * The Cilium source's decoding layer: flyweights over the notifications Cilium's datapath writes to
 * its {@code cilium_events} perf ring ({@code drop_notify} and {@code policy_verdict_notify} of every
 * version, spec {@code cilium-monitor-format.md} section 3), a {@code CiliumMessageDecoder} that
 * classifies one sample, settles the header length (section 3.6, with a {@code --cilium-version}
 * override) and slices the captured packet with {@code len_cap}, a parser that fills a
 * {@code DropRecord} from the captured headers, and Cilium's drop-reason and reserved-identity
 * tables. Nothing is allocated per message and bad input is counted by kind, never thrown. The gob
 * stream of the monitor socket and the perf ring route build on this package.
 *
 * <p>On top of the decoding layer, {@code CiliumPayloadTranslator} turns samples into journal events
 * on the writer thread (one event per packet: a denied verdict and the drop notification of the same
 * packet are joined), and {@code CiliumIdentitySource} feeds a lock-free {@code CiliumIdentityTable}
 * from the CiliumIdentity and CiliumEndpoint objects, which names the pods at both ends.
 */
package dev.droptrace.agent.source.cilium;
