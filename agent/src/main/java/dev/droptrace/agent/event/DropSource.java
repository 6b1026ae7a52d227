package dev.droptrace.agent.event;

/** Where a drop was observed. The code is the record's {@code source} byte; the name is the JSON spelling. */
public enum DropSource {
    KERNEL(0, "kernel"),
    CILIUM(1, "cilium"),
    CALICO(2, "calico");

    private static final DropSource[] BY_CODE = {KERNEL, CILIUM, CALICO};

    private final int code;
    private final String jsonName;

    DropSource(int code, String jsonName) {
        this.code = code;
        this.jsonName = jsonName;
    }

    public int code() {
        return code;
    }

    public String jsonName() {
        return jsonName;
    }

    /** The source for a record's code, or null when the code is not known. */
    public static DropSource fromCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** Parses "kernel", "cilium" or "calico" (case-insensitive); null when unknown. */
    public static DropSource fromName(String name) {
        for (DropSource s : BY_CODE) {
            if (s.jsonName.equalsIgnoreCase(name)) {
                return s;
            }
        }
        return null;
    }
}
