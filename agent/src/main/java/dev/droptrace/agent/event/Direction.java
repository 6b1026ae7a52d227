package dev.droptrace.agent.event;

/** The direction of a dropped packet relative to the observed endpoint; the code is the record's byte. */
public enum Direction {
    UNKNOWN(0, "unknown"),
    INGRESS(1, "ingress"),
    EGRESS(2, "egress");

    private final int code;
    private final String jsonName;

    Direction(int code, String jsonName) {
        this.code = code;
        this.jsonName = jsonName;
    }

    public int code() {
        return code;
    }

    public String jsonName() {
        return jsonName;
    }

    /** Never null: unknown codes map to {@link #UNKNOWN}. */
    public static Direction fromCode(int code) {
        return switch (code) {
            case 1 -> INGRESS;
            case 2 -> EGRESS;
            default -> UNKNOWN;
        };
    }
}
