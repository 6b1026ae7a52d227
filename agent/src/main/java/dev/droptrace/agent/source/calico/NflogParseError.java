package dev.droptrace.agent.source.calico;

/**
 * The kinds of bad input {@link NflogMessageParser} and {@link NflogPayloadDecoder} count instead of
 * throwing. A message with any of the message or attribute errors is skipped whole; a buffer whose
 * message header cannot be trusted is abandoned at that point (there is no way to resynchronise).
 */
public enum NflogParseError {
    /** Fewer than 16 bytes left in the buffer where a netlink header should start; the rest is dropped. */
    HEADER_TRUNCATED,
    /** {@code nlmsg_len} below the 16-byte header (zero included); the rest of the buffer is dropped. */
    MESSAGE_LENGTH_TOO_SHORT,
    /** {@code nlmsg_len} runs past the end of the buffer; the rest of the buffer is dropped. */
    MESSAGE_PAST_BUFFER,
    /** A packet message too short for its nfgenmsg header. */
    NFGENMSG_TRUNCATED,
    /** An NLMSG_ERROR message too short for its error code. */
    ERROR_TRUNCATED,
    /** An attribute whose {@code nla_len} is below its own 4-byte header (zero included). */
    ATTRIBUTE_LENGTH_TOO_SHORT,
    /** An attribute whose {@code nla_len} runs past the end of its message. */
    ATTRIBUTE_PAST_MESSAGE,
    /** A known attribute whose payload is shorter than its fixed layout (a 3-byte mark, say). */
    ATTRIBUTE_BAD_SIZE,
    /** A packet message without NFULA_PACKET_HDR. */
    PACKET_HEADER_MISSING,
    /** A payload that is empty or not long enough for its IPv4 or IPv6 header. */
    IP_TRUNCATED,
    /** A payload whose IP version is neither 4 nor 6, or whose IPv4 header length is below 20 bytes. */
    IP_BAD_HEADER,
    /** IPv6 extension headers that are truncated or too many to follow. */
    IPV6_EXTENSION_BAD
}
