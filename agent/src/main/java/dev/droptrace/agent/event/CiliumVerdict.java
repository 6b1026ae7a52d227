package dev.droptrace.agent.event;

/**
 * Cilium-only detail of a drop (the JSON {@code cilium} object): numeric security identities of
 * both ends, the policy match type and the rule cookie. Record layout version 1 has no slot for
 * these, so only a {@link DropView} filled by a Cilium-aware producer carries one.
 */
public record CiliumVerdict(long srcIdentity, long dstIdentity, String matchType, long ruleCookie) {
}
