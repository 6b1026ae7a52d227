/**
 * The drop event. {@link dev.droptrace.agent.event.DropRecord} is a flyweight over the fixed
 * 128-byte little-endian record that sources fill in place and the journal stores verbatim; it
 * allocates nothing. {@link dev.droptrace.agent.event.DropView} is the same event at the edge, with
 * dictionary ids resolved to strings (reason, interface, node, identities, policy), for formatters,
 * filters and exporters; it may allocate. The small enums and text helpers here ({@link
 * dev.droptrace.agent.event.DropSource}, {@link dev.droptrace.agent.event.Direction}, {@link
 * dev.droptrace.agent.event.IpProtocol}, {@link dev.droptrace.agent.event.TcpFlags}, {@link
 * dev.droptrace.agent.event.IpAddressText}) hold the JSON spellings fixed by DESIGN section 3.
 */
package dev.droptrace.agent.event;
