/**
 * Netlink sockets over FFM: {@link dev.droptrace.netlink.NetlinkSocket} opens an {@code AF_NETLINK}
 * raw socket for one protocol (NETLINK_NETFILTER for nfnetlink_log, NETLINK_ROUTE for tests), binds
 * it to a kernel-assigned port id, sends requests and receives datagrams into a caller's reused
 * buffer. A receive that fails with ENOBUFS (the kernel dropped messages because the socket's queue
 * was full) is a counted, ordinary outcome, not an exception, so a reader can note the loss and go on.
 * Message layouts belong to the callers; this package knows only the socket.
 */
package dev.droptrace.netlink;
