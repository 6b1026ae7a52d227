package dev.droptrace.agent.source.cilium;

/**
 * Cilium's reserved security identities by number (spec section 6.2), and the scope bits of a
 * numeric identity (section 6.1). Names are the part after {@code reserved:} in the label, as
 * {@code cilium monitor} prints them; identity 0 is {@code unknown}. Lookups allocate nothing.
 */
public final class ReservedIdentities {
    public static final int UNKNOWN = 0;
    public static final int HOST = 1;
    public static final int WORLD = 2;
    public static final int UNMANAGED = 3;
    public static final int HEALTH = 4;
    public static final int INIT = 5;
    public static final int REMOTE_NODE = 6;
    public static final int KUBE_APISERVER = 7;
    public static final int INGRESS = 8;
    public static final int WORLD_IPV4 = 9;
    public static final int WORLD_IPV6 = 10;

    /** Scope byte (bits 24-31) of global and reserved identities. */
    public static final int SCOPE_GLOBAL = 0x00;
    /** Scope byte of node-local CIDR/FQDN identities. */
    public static final int SCOPE_LOCAL = 0x01;
    /** Scope byte of node-local remote-node identities (v1.15+). */
    public static final int SCOPE_REMOTE_NODE = 0x02;

    private static final String[] NAMES = {
        "unknown", "host", "world", "unmanaged", "health", "init", "remote-node", "kube-apiserver", "ingress",
        "world-ipv4", "world-ipv6",
    };

    private ReservedIdentities() {
    }

    /** The reserved name of {@code identity} (an unsigned u32), or null if it is not reserved. */
    public static String name(long identity) {
        return identity >= 0 && identity < NAMES.length ? NAMES[(int) identity] : null;
    }

    /** True for identities 0 to 10. */
    public static boolean isReserved(long identity) {
        return identity >= 0 && identity < NAMES.length;
    }

    /** The scope byte, bits 24-31 of the u32 identity. */
    public static int scope(long identity) {
        return (int) ((identity >>> 24) & 0xff);
    }

    /** True for node-local identities (scopes 1 and 2): they have no CRD and mean different things per node. */
    public static boolean isNodeLocal(long identity) {
        int s = scope(identity);
        return s == SCOPE_LOCAL || s == SCOPE_REMOTE_NODE;
    }
}
