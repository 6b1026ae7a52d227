package dev.droptrace.agent.source.calico;

import java.lang.foreign.MemorySegment;

/**
 * Receives each NFULNL_MSG_PACKET message {@link NflogReader} finds, on the reader's thread. The bytes
 * are valid only during the call (the buffer is reused for the next datagram); wrap an
 * {@link NflogMessageParser} on {@code (offset, length)} to read the attributes in place.
 */
@FunctionalInterface
public interface NflogMessageSink {
    /**
     * One packet message.
     *
     * @param buffer the receive buffer
     * @param offset where the message's netlink header starts
     * @param length {@code nlmsg_len}
     */
    void onPacket(MemorySegment buffer, long offset, int length);
}
