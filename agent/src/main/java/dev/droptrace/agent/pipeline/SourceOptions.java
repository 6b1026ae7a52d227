package dev.droptrace.agent.pipeline;

import java.nio.file.Path;
import java.util.List;

/**
 * Options of the payload sources, from the command line: the Cilium monitor socket or pinned ring,
 * a forced notification version, whether allowed verdicts become events; the NFLOG groups and
 * whether Calico's allow and pass records become events.
 *
 * @param ciliumSocket   cilium-agent's monitor socket (the default route)
 * @param ciliumRing     the pinned cilium_events perf event array (opt-in route), null for the socket route
 * @param ciliumVersion  the Cilium release whose header lengths to assume for every drop/verdict message, as
 *                       {@code major * 100 + minor} ({@code CiliumVersion.parse("1.19").code()} = 119), 0 for
 *                       automatic (from the sample sizes)
 * @param ciliumAllowed  journal allowed policy verdicts too
 * @param nflogGroups    NFLOG groups to listen on
 * @param calicoAllowed  journal allow and pass records too
 * @param nflogNetns     a named network namespace to listen to NFLOG in (null: the agent's own); NFLOG
 *                       only sees the namespace its socket was made in, and Calico's rules live in the node's
 */
public record SourceOptions(Path ciliumSocket, Path ciliumRing, int ciliumVersion, boolean ciliumAllowed,
                            List<Integer> nflogGroups, boolean calicoAllowed, String nflogNetns) {
    public static final Path DEFAULT_CILIUM_SOCKET = Path.of("/var/run/cilium/monitor1_2.sock");
    public static final List<Integer> DEFAULT_NFLOG_GROUPS = List.of(1, 2);
    public static final SourceOptions DEFAULTS = new SourceOptions(DEFAULT_CILIUM_SOCKET, null, 0, false,
            DEFAULT_NFLOG_GROUPS, false, null);

    public SourceOptions(Path ciliumSocket, Path ciliumRing, int ciliumVersion, boolean ciliumAllowed,
                         List<Integer> nflogGroups, boolean calicoAllowed) {
        this(ciliumSocket, ciliumRing, ciliumVersion, ciliumAllowed, nflogGroups, calicoAllowed, null);
    }

    public SourceOptions {
        nflogGroups = List.copyOf(nflogGroups);
    }
}
