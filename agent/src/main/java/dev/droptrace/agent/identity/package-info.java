/**
 * Who is at each end of a drop. {@link dev.droptrace.agent.identity.IdentityCache} maps IPv4 and
 * IPv6 addresses and network-namespace inodes to immutable {@link
 * dev.droptrace.agent.identity.Identity} versions, each under a never-reused local id; source threads
 * read it without locks and without allocation, while one writer thread applies updates from
 * {@link dev.droptrace.agent.identity.KubernetesIdentitySource} (fabric8 informers on Pods, Services,
 * Nodes, Namespaces, ReplicaSets and Jobs) or an {@link dev.droptrace.agent.identity.InventoryFile}
 * in order and publishes copy-on-write snapshots. {@link dev.droptrace.agent.identity.IdentityResolver},
 * owned by a source thread, turns local ids into journal dictionary ids, so a drop keeps the names
 * that were true when it happened, after the pod is gone and after its IP is reused.
 */
package dev.droptrace.agent.identity;
