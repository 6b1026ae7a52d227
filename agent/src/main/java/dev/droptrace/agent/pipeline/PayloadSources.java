package dev.droptrace.agent.pipeline;

/** Opens a payload source by name ("cilium", "calico"). */
public final class PayloadSources {
    private PayloadSources() {
    }

    /** Opens and starts the named source; throws with one line when it cannot start at all. */
    public static PayloadSource open(String name, SourceContext ctx) {
        return switch (name) {
            case "cilium" -> dev.droptrace.agent.source.cilium.CiliumDropSource.open(ctx);
            case "calico" -> dev.droptrace.agent.source.calico.CalicoDropSource.open(ctx);
            default -> throw new IllegalArgumentException("unknown payload source " + name);
        };
    }
}
