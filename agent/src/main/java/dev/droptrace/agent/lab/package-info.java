/**
 * Throwaway network namespaces joined by veth pairs that stand in for pods, with iptables rules and
 * traffic that the kernel really drops. The demo and the kernel tests use it; everything it makes
 * is removed on close, on Ctrl-C, and by the next lab if a process died before it could clean up.
 * {@link dev.droptrace.agent.lab.CalicoLab} builds a Calico-shaped node on top: pods routed through a
 * node namespace, Calico's policy chains with NFLOG rules in iptables or nftables.
 */
package dev.droptrace.agent.lab;
