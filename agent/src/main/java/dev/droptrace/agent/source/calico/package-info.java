/**
 * The Calico source's pure parsing layer: {@link dev.droptrace.agent.source.calico.NflogMessageParser}
 * walks the netlink messages of one {@code recv()} from nfnetlink_log in place (a flyweight, nothing
 * allocated per message, bad input counted by {@link dev.droptrace.agent.source.calico.NflogParseError}
 * and never thrown); {@link dev.droptrace.agent.source.calico.NflogPayloadDecoder} turns the logged
 * packet (IPv4 or IPv6 from the network header on) into a drop record's 5-tuple;
 * {@link dev.droptrace.agent.source.calico.CalicoPrefix} maps Calico's NFLOG prefix grammar (ids of
 * v3.30-v3.31 and of v3.32 and later) back to the tier, policy, action, direction and rule index, and
 * {@link dev.droptrace.agent.source.calico.CalicoPrefixResolver} resolves hashed 63-character prefixes
 * by recomputing the prefixes of known policies.
 * {@link dev.droptrace.agent.source.calico.CalicoPayloadTranslator} turns one NFLOG packet message into
 * a Calico event (a {@link dev.droptrace.agent.source.calico.CalicoReason} and the policy as JSON) on
 * the journal writer; {@link dev.droptrace.agent.source.calico.KubernetesPolicySource} watches the
 * Kubernetes and Calico policies and publishes immutable
 * {@link dev.droptrace.agent.source.calico.KnownPolicies} snapshots, used to resolve hashed prefixes
 * and to name the NetworkPolicies that isolate a pod when a default deny drops its traffic (in NFLOG's
 * end-of-tier records and, through {@link dev.droptrace.agent.source.calico.DefaultDenyAttributor}, in
 * kernel NETFILTER_DROP records).
 * {@link dev.droptrace.agent.source.calico.NflogSocket} binds
 * the NFLOG groups inside the node's network namespace (a group another listener holds is reported
 * with its holder and left alone), and {@link dev.droptrace.agent.source.calico.NflogReader} drains
 * it on its own thread into an {@link dev.droptrace.agent.source.calico.NflogMessageSink}, counting
 * overruns and malformed input. Facts and test vectors: {@code specs/calico-nflog.md}.
 */
package dev.droptrace.agent.source.calico;
