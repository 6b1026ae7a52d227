package dev.droptrace.agent.source.calico;

import java.util.Optional;

/** What became of one NFLOG group an {@link NflogSocket} asked for. */
public sealed interface NflogGroupState {
    int group();

    /** One line for status output. */
    String describe();

    /** Bound to this socket: its packets come to us. */
    record Bound(int group) implements NflogGroupState {
        @Override
        public String describe() {
            return "group " + group + " bound";
        }
    }

    /**
     * Another socket owns the group (BIND answered EPERM), for example calico-node's flow-log
     * collector. It is left alone: never unbound, never retried.
     *
     * @param holderPortId the owner's port id from /proc/net/netfilter/nfnetlink_log, -1 if not listed
     * @param holder       the owner's line of that file, if it was there
     */
    record Held(int group, int holderPortId, Optional<NflogInstance> holder) implements NflogGroupState {
        @Override
        public String describe() {
            return "group " + group + " held by portid " + holderPortId
                    + holder.map(h -> " (" + h + ")").orElse(" (not listed in nfnetlink_log)");
        }
    }

    /** Binding or configuring failed for another reason; the group is not ours. */
    record Failed(int group, String reason) implements NflogGroupState {
        @Override
        public String describe() {
            return "group " + group + " failed: " + reason;
        }
    }
}
