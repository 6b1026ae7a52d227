package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropSource;

/** The kinds of dictionary record; the code is the record's kind byte. */
public enum DictionaryKind {
    /** Kernel {@code skb_drop_reason} names; id = reason code. */
    REASON_KERNEL(1),
    /** Cilium drop reason names; id = reason code. */
    REASON_CILIUM(2),
    /** Calico reason names; id = reason code. */
    REASON_CALICO(3),
    /** Interface names, kernel symbols, node names. */
    STRING(4),
    /** JSON {@code {namespace,pod,workload,labels,node}}. */
    IDENTITY(5),
    /** JSON {@code {name,namespace,kind,tier,action}}. */
    POLICY(6),
    /** JSON object of source-specific detail; for Cilium {@code {src_identity,dst_identity,match_type,rule_cookie}}. */
    DETAIL(7);

    static final int MAX_CODE = 7;
    private static final DictionaryKind[] BY_CODE = {null, REASON_KERNEL, REASON_CILIUM, REASON_CALICO, STRING, IDENTITY, POLICY, DETAIL};

    private final int code;

    DictionaryKind(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** True for the REASON_* kinds, whose ids are reason codes rather than sequential ids. */
    public boolean isReason() {
        return code <= REASON_CALICO.code;
    }

    /** The kind for a code, null when unknown. */
    public static DictionaryKind fromCode(int code) {
        return code > 0 && code <= MAX_CODE ? BY_CODE[code] : null;
    }

    /** The reason dictionary of a source. */
    public static DictionaryKind reasonOf(DropSource source) {
        return switch (source) {
            case KERNEL -> REASON_KERNEL;
            case CILIUM -> REASON_CILIUM;
            case CALICO -> REASON_CALICO;
        };
    }
}
