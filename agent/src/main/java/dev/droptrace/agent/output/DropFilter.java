package dev.droptrace.agent.output;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import dev.droptrace.agent.event.IpAddressText;
import dev.droptrace.agent.event.IpProtocol;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The filter of {@code droptrace observe}, with {@code hubble observe} semantics: the values of one
 * option are OR'ed, different options are AND'ed. An empty filter matches everything.
 *
 * <p>Options: {@code ip} (either end), {@code fromIp}, {@code toIp} (exact address literals, never
 * host names), {@code port} (either end), {@code fromPort}, {@code toPort}, {@code protocol} (name,
 * case-insensitive, or number), {@code reason} (name, case-insensitive, or the code as text),
 * {@code source}, {@code netns}, {@code namespace} (either end), {@code pod} ({@code [namespace/]pod},
 * a prefix of the pod name, either end), {@code since}, {@code until}. New options are added with
 * {@link Builder#anyOf(String, Predicate)}, which ORs under the option's name. Bad values throw
 * {@link IllegalArgumentException} with a message naming the option.
 */
public final class DropFilter implements Predicate<DropView> {
    /** Matches every drop. */
    public static final DropFilter ALL = new DropFilter(List.of());

    private final List<List<Predicate<DropView>>> clauses;

    private DropFilter(List<List<Predicate<DropView>>> clauses) {
        this.clauses = clauses;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public boolean test(DropView v) {
        for (List<Predicate<DropView>> anyOf : clauses) {
            boolean hit = false;
            for (Predicate<DropView> p : anyOf) {
                if (p.test(v)) {
                    hit = true;
                    break;
                }
            }
            if (!hit) {
                return false;
            }
        }
        return true;
    }

    /** True when the filter matches everything. */
    public boolean isEmpty() {
        return clauses.isEmpty();
    }

    /** Collects option values; {@link #build()} makes the immutable filter. */
    public static final class Builder {
        private final Map<String, List<Predicate<DropView>>> options = new LinkedHashMap<>();

        /** Adds one alternative under {@code option}: alternatives of an option are OR'ed, options AND'ed. */
        public Builder anyOf(String option, Predicate<DropView> alternative) {
            options.computeIfAbsent(option, k -> new ArrayList<>()).add(alternative);
            return this;
        }

        public Builder ip(String... addresses) {
            for (String a : addresses) {
                Address x = Address.parse("ip", a);
                anyOf("ip", v -> v.srcIpEquals(x.family, x.slot) || v.dstIpEquals(x.family, x.slot));
            }
            return this;
        }

        public Builder fromIp(String... addresses) {
            for (String a : addresses) {
                Address x = Address.parse("from-ip", a);
                anyOf("from-ip", v -> v.srcIpEquals(x.family, x.slot));
            }
            return this;
        }

        public Builder toIp(String... addresses) {
            for (String a : addresses) {
                Address x = Address.parse("to-ip", a);
                anyOf("to-ip", v -> v.dstIpEquals(x.family, x.slot));
            }
            return this;
        }

        public Builder port(int... ports) {
            for (int p : ports) {
                checkPort("port", p);
                anyOf("port", v -> IpProtocol.hasPorts(v.protocol()) && (v.srcPort() == p || v.dstPort() == p));
            }
            return this;
        }

        public Builder fromPort(int... ports) {
            for (int p : ports) {
                checkPort("from-port", p);
                anyOf("from-port", v -> IpProtocol.hasPorts(v.protocol()) && v.srcPort() == p);
            }
            return this;
        }

        public Builder toPort(int... ports) {
            for (int p : ports) {
                checkPort("to-port", p);
                anyOf("to-port", v -> IpProtocol.hasPorts(v.protocol()) && v.dstPort() == p);
            }
            return this;
        }

        public Builder protocol(String... protocols) {
            for (String p : protocols) {
                int n;
                try {
                    n = IpProtocol.parse(p);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--protocol: " + e.getMessage(), e);
                }
                anyOf("protocol", v -> v.protocol() == n);
            }
            return this;
        }

        public Builder reason(String... reasons) {
            for (String r : reasons) {
                String want = r.trim();
                anyOf("reason", v -> v.reason().equalsIgnoreCase(want));
            }
            return this;
        }

        public Builder source(String... sources) {
            for (String s : sources) {
                DropSource src = DropSource.fromName(s.trim());
                if (src == null) {
                    throw new IllegalArgumentException("--source: unknown source '" + s + "' (expected kernel, cilium or calico)");
                }
                anyOf("source", v -> v.source() == src);
            }
            return this;
        }

        public Builder netns(long... inodes) {
            for (long n : inodes) {
                anyOf("netns", v -> v.netns() == n);
            }
            return this;
        }

        public Builder namespace(String... namespaces) {
            for (String ns : namespaces) {
                anyOf("namespace", v -> inNamespace(v.srcIdentity(), ns) || inNamespace(v.dstIdentity(), ns));
            }
            return this;
        }

        public Builder pod(String... pods) {
            for (String spec : pods) {
                int slash = spec.indexOf('/');
                String ns = slash < 0 ? null : spec.substring(0, slash);
                String prefix = slash < 0 ? spec : spec.substring(slash + 1);
                anyOf("pod", v -> podMatches(v.srcIdentity(), ns, prefix) || podMatches(v.dstIdentity(), ns, prefix));
            }
            return this;
        }

        /** Only drops at or after {@code since} (by wall-clock time). */
        public Builder since(Instant since) {
            long ns = EpochNanos.nanos(since);
            options.put("since", new ArrayList<>(List.of(v -> v.wallNs() >= ns)));
            return this;
        }

        /** Only drops at or before {@code until} (by wall-clock time). */
        public Builder until(Instant until) {
            long ns = EpochNanos.nanos(until);
            options.put("until", new ArrayList<>(List.of(v -> v.wallNs() <= ns)));
            return this;
        }

        public DropFilter build() {
            List<List<Predicate<DropView>>> c = new ArrayList<>();
            for (List<Predicate<DropView>> l : options.values()) {
                c.add(List.copyOf(l));
            }
            return c.isEmpty() ? ALL : new DropFilter(List.copyOf(c));
        }

        private static void checkPort(String option, int p) {
            if (p < 0 || p > 65535) {
                throw new IllegalArgumentException("--" + option + ": port " + p + " is not in 0-65535");
            }
        }

        private static boolean inNamespace(EndpointIdentity id, String ns) {
            return id != null && ns.equals(id.namespace());
        }

        private static boolean podMatches(EndpointIdentity id, String ns, String prefix) {
            return id != null && id.pod() != null && id.pod().startsWith(prefix)
                    && (ns == null || ns.equals(id.namespace()));
        }
    }

    private record Address(int family, byte[] slot) {
        static Address parse(String option, String text) {
            byte[] slot = new byte[16];
            try {
                int family = IpAddressText.parse(text, slot);
                return new Address(family, slot);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--" + option + ": '" + text + "' is not an IP address", e);
            }
        }
    }

    /** Instant to epoch ns, saturating. */
    private static final class EpochNanos {
        static long nanos(Instant t) {
            try {
                return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
            } catch (ArithmeticException e) {
                return t.getEpochSecond() < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
            }
        }
    }
}
