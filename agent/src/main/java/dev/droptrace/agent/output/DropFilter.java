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
 * a prefix of the pod name, either end), {@code policy} ({@code [namespace/]name} of the policy that
 * denied the packet, or of any policy a default deny lists in {@code isolated_by}),
 * {@code policyNamespace}, {@code since}, {@code until}. New options are added with
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

        /** Which end of the drop an identity filter looks at, as hubble's --from-* and --to-* options. */
        public enum End { EITHER, FROM, TO }

        private Builder identity(String option, End end, Predicate<EndpointIdentity> match) {
            String name = switch (end) {
                case EITHER -> option;
                case FROM -> "from-" + option;
                case TO -> "to-" + option;
            };
            return anyOf(name, v -> switch (end) {
                case EITHER -> test(match, v.srcIdentity()) || test(match, v.dstIdentity());
                case FROM -> test(match, v.srcIdentity());
                case TO -> test(match, v.dstIdentity());
            });
        }

        private static boolean test(Predicate<EndpointIdentity> match, EndpointIdentity id) {
            return id != null && match.test(id);
        }

        public Builder namespace(String... namespaces) {
            return namespace(End.EITHER, namespaces);
        }

        /** Kubernetes namespace of the pod or service at that end. */
        public Builder namespace(End end, String... namespaces) {
            for (String ns : namespaces) identity("namespace", end, id -> ns.equals(id.namespace()));
            return this;
        }

        public Builder pod(String... pods) {
            return pod(End.EITHER, pods);
        }

        /** Pod name prefix, optionally {@code namespace/prefix}, as hubble's --pod. */
        public Builder pod(End end, String... pods) {
            for (String spec : pods) {
                int slash = spec.indexOf('/');
                String ns = slash < 0 ? null : spec.substring(0, slash);
                String prefix = slash < 0 ? spec : spec.substring(slash + 1);
                identity("pod", end, id -> id.pod() != null && id.pod().startsWith(prefix)
                        && (ns == null || ns.equals(id.namespace())));
            }
            return this;
        }

        /** A label {@code key=value} (or just {@code key}, any value) on the pod at that end. */
        public Builder label(End end, String... labels) {
            for (String spec : labels) {
                int eq = spec.indexOf('=');
                String key = eq < 0 ? spec.strip() : spec.substring(0, eq).strip();
                String value = eq < 0 ? null : spec.substring(eq + 1).strip();
                if (key.isEmpty()) throw new IllegalArgumentException("--label: '" + spec + "' has no key (use key=value)");
                identity("label", end, id -> id.labels().containsKey(key) && (value == null || value.equals(id.labels().get(key))));
            }
            return this;
        }

        /** Workload name ({@code web}) or kind/name ({@code Deployment/web}) of the pod at that end. */
        public Builder workload(End end, String... workloads) {
            for (String w : workloads) {
                identity("workload", end, id -> id.workload() != null
                        && (id.workload().equals(w) || id.workload().endsWith("/" + w)));
            }
            return this;
        }

        /**
         * The policy that decided the drop, {@code name} or {@code namespace/name}; for a default
         * deny also any policy listed in {@code isolated_by}. A hashed prefix nobody resolved has no
         * name and matches nothing.
         */
        public Builder policy(String... policies) {
            for (String spec : policies) {
                String s = spec.strip();
                int slash = s.indexOf('/');
                String ns = slash < 0 ? null : s.substring(0, slash);
                String name = slash < 0 ? s : s.substring(slash + 1);
                if (name.isEmpty()) throw new IllegalArgumentException("--policy: '" + spec + "' has no name");
                anyOf("policy", v -> policyMatches(v, p -> name.equals(p.name()) && (ns == null || ns.equals(p.namespace()))));
            }
            return this;
        }

        /** The namespace of the policy that decided the drop (or of one a default deny lists in {@code isolated_by}). */
        public Builder policyNamespace(String... namespaces) {
            for (String ns : namespaces) {
                String want = ns.strip();
                anyOf("policy-namespace", v -> policyMatches(v, p -> want.equals(p.namespace())));
            }
            return this;
        }

        private static boolean policyMatches(DropView v, Predicate<dev.droptrace.agent.event.PolicyRef> match) {
            dev.droptrace.agent.event.PolicyRef p = v.policy();
            if (p == null) return false;
            if (match.test(p)) return true;
            for (dev.droptrace.agent.event.PolicyRef other : v.isolatedBy()) {
                if (match.test(other)) return true;
            }
            return false;
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
