package dev.droptrace.agent.lab;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Calico-shaped node in network namespaces ({@code specs/calico-nflog.md} §3-§4): a "node"
 * namespace routes between three "pod" namespaces the way Calico wires them, and its forward path
 * runs Calico-shaped policy chains whose rule hits log to NFLOG group 1 (ingress) or 2 (egress)
 * with real Calico prefixes, in the id format of v3.30-v3.31 or of v3.32 and later, rendered either
 * as iptables rules (filter FORWARD) or as nftables rules (table {@code inet calico}, forward hook).
 *
 * <p><b>Wiring.</b> Each pod has {@code eth0} with a /32 (10.{octet}.0.{n}) and a /128
 * (fd00:{octet}::{n}), a default route via 169.254.1.1 (on-link) and via
 * fe80::ecee:eeff:feee:eeee. The node end is {@code cali<11 hex>} (Calico's naming, sha1 of
 * {@code namespace.pod}) with MAC ee:ee:ee:ee:ee:ee, proxy_arp on, that link-local address, and host
 * routes to the pod's /32 and /128; forwarding is on in the node.
 *
 * <p><b>Pods.</b> {@code frontend} (namespace default), {@code backend} (default), {@code other}
 * (namespace dmz). <b>Policies</b> (Calico order: tier security, then tier default, then profiles):
 * <pre>
 * ingress of backend (cali-tw-&lt;backend&gt;, group 1)
 *   tier security, GNP security.edge:   rule 0  from frontend                 pass   PPI0|edge
 *                                       rule 1  from other, UDP 9             deny   DPI1|edge
 *                                       rule 2  from other                    pass   PPI2|edge
 *                                       end of tier                           drop   DPI|security
 *   tier default, KNP default/allow-frontend: rule 0 from frontend TCP 80     allow  API0|allow-frontend
 *                                       rule 1  from frontend UDP 5353        allow  API1|allow-frontend
 *                 KNP default/deny-all (no rules); end of tier                drop   DPI|default
 *   profiles kns.default (rule 0 allow: ARI0|kns.default), ksa.default.default; then DRI, drop
 * ingress of frontend, other: profiles only (kns.default / kns.dmz rule 0 allow: ARI0|kns.&lt;ns&gt;), DRI
 * egress of frontend (cali-fw-&lt;frontend&gt;, group 2)
 *   tier default, NP default/limit-egress: rule 0 UDP 7 deny DPE0|limit-egress; rule 1 allow APE1|...
 *   end of tier DPE|default; profiles kns.default (ARE0|kns.default), ksa.default.default; DRE
 * egress of other: profiles kns.dmz (rule 0 TCP allow ARE0|kns.dmz, rule 1 UDP 9 allow ARE1|kns.dmz),
 *   ksa.dmz.default; then DRE, drop
 * egress of backend: profiles kns.default (ARE0|kns.default), ksa.default.default; DRE
 * </pre>
 * Marks as Felix allocates them by default: accept 0x10000, pass 0x20000, drop 0x40000. A packet that
 * passes every chain is accepted at the end of cali-FORWARD on the accept mark. Established and
 * related packets are accepted at the top of each endpoint chain, so only the first packet of a
 * flow (and every retry of a denied one) is logged. {@link Prefixes} lists every prefix.
 *
 * <p><b>Counters.</b> {@link #nflogCounts()} sums, per prefix, the packet counters of the NFLOG rules
 * (iptables and ip6tables, or the nft rules' {@code counter}) that carry it, so a test can compare
 * what a reader received with what the kernel logged. Closing the lab deletes every namespace.
 */
public final class CalicoLab implements AutoCloseable {
    /** Accept, pass and drop bits of Felix's default mark allocation. */
    public static final int MARK_ACCEPT = 0x10000;
    public static final int MARK_PASS = 0x20000;
    public static final int MARK_DROP = 0x40000;
    public static final int INGRESS_GROUP = 1;
    public static final int EGRESS_GROUP = 2;
    /** The per-rule copy size Felix renders ({@code --nflog-size 80}, nft {@code snaplen 80}). */
    public static final int SNAPLEN = 80;
    public static final int WEB_TCP_PORT = 80;
    public static final int DNS_UDP_PORT = 5353;
    public static final int DISCARD_UDP_PORT = 9;
    public static final int ECHO_UDP_PORT = 7;
    public static final String GATEWAY4 = "169.254.1.1";
    public static final String GATEWAY6 = "fe80::ecee:eeff:feee:eeee";
    public static final String TABLE_NFT = "calico";

    /** How the policy is programmed. */
    public enum Dataplane { IPTABLES, NFTABLES }

    /** Which Calico release's policy ids the prefixes use (§3.4). */
    public enum IdFormat { V3_30, V3_32 }

    /**
     * A pod.
     *
     * @param iface   the node-side interface, {@code cali} + 11 hex digits
     * @param ifindex the node-side interface's ifindex in the node namespace
     */
    public record Workload(String name, String namespace, String netns, String iface, int ifindex, String ip4,
                           String ip6, NetnsLab.Pod pod) {}

    /** Every prefix the lab's rules log, for the lab's id format. */
    public record Prefixes(String edgePassFrontend, String edgeDenyOtherDiscard, String edgePassOther,
                           String securityTierEnd, String allowFrontendWeb, String allowFrontendDns,
                           String defaultTierEnd, String limitEgressDenyEcho, String limitEgressAllow,
                           String egressDefaultTierEnd, String profileDefaultIngress, String profileDmzIngress,
                           String profileDefaultEgress, String profileDmzTcp, String profileDmzDiscard,
                           String ingressProfileEnd, String egressProfileEnd) {
        public List<String> all() {
            return List.of(edgePassFrontend, edgeDenyOtherDiscard, edgePassOther, securityTierEnd, allowFrontendWeb,
                    allowFrontendDns, defaultTierEnd, limitEgressDenyEcho, limitEgressAllow, egressDefaultTierEnd,
                    profileDefaultIngress, profileDmzIngress, profileDefaultEgress, profileDmzTcp, profileDmzDiscard,
                    ingressProfileEnd, egressProfileEnd);
        }
    }

    private final NetnsLab lab;
    private final int octet;
    private final Dataplane dataplane;
    private final IdFormat format;
    private final NetnsLab.Pod node;
    private final Map<String, Workload> workloads = new LinkedHashMap<>();
    private final Map<String, List<Rule>> chains = new LinkedHashMap<>();
    private final Prefixes prefixes;
    /** Policy ids, by role. */
    private final String edgeId;
    private final String allowFrontendId;
    private final String denyAllId;
    private final String limitEgressId;

    private CalicoLab(NetnsLab lab, int octet, Dataplane dataplane, IdFormat format) {
        this.lab = lab;
        this.octet = octet;
        this.dataplane = dataplane;
        this.format = format;
        boolean v332 = format == IdFormat.V3_32;
        edgeId = v332 ? "gnp/security.edge" : "security.edge";
        allowFrontendId = v332 ? "knp/default/allow-frontend" : "default/knp.default.allow-frontend";
        denyAllId = v332 ? "knp/default/deny-all" : "default/knp.default.deny-all";
        limitEgressId = v332 ? "np/default/limit-egress" : "default/default.limit-egress";
        prefixes = new Prefixes("PPI0|" + edgeId, "DPI1|" + edgeId, "PPI2|" + edgeId, "DPI|security",
                "API0|" + allowFrontendId, "API1|" + allowFrontendId, "DPI|default",
                "DPE0|" + limitEgressId, "APE1|" + limitEgressId, "DPE|default",
                "ARI0|kns.default", "ARI0|kns.dmz", "ARE0|kns.default", "ARE0|kns.dmz", "ARE1|kns.dmz", "DRI", "DRE");
        this.node = lab.addPod("node");
    }

    /**
     * Builds the node, the three pods and the policy. {@code octet} picks 10.{octet}.0.0/16 and
     * fd00:{octet}::/32 (tests use 223-226). Everything is removed again if a step fails.
     */
    public static CalicoLab create(int octet, Dataplane dataplane, IdFormat format) {
        NetnsLab lab = NetnsLab.create(octet);
        try {
            CalicoLab c = new CalicoLab(lab, octet, dataplane, format);
            c.wireNode();
            c.addWorkload("frontend", "default", 10);
            c.addWorkload("backend", "default", 11);
            c.addWorkload("other", "dmz", 12);
            c.buildPolicy();
            c.program();
            return c;
        } catch (RuntimeException e) {
            lab.close();
            throw e;
        }
    }

    // ---- wiring ----------------------------------------------------------------------------------

    private void wireNode() {
        sysctl(node, "net.ipv4.ip_forward", "1");
        sysctl(node, "net.ipv6.conf.all.forwarding", "1");
        sysctl(node, "net.ipv4.conf.all.rp_filter", "0");
        sysctl(node, "net.ipv6.conf.default.accept_dad", "0");
        // proxy ARP answers for 169.254.1.1 only if the node has a route to it through another device
        // (a veth pair stands in for the node's uplink: this kernel may have no dummy driver)
        Command.run("ip", "-n", node.netns(), "link", "add", "eth0", "type", "veth", "peer", "name", "uplink0");
        Command.run("ip", "-n", node.netns(), "link", "set", "uplink0", "up");
        Command.run("ip", "-n", node.netns(), "link", "set", "eth0", "up");
        Command.run("ip", "-n", node.netns(), "route", "add", GATEWAY4 + "/32", "dev", "eth0");
    }

    private void addWorkload(String name, String namespace, int host) {
        NetnsLab.Pod pod = lab.addPod(name);
        sysctl(pod, "net.ipv6.conf.default.accept_dad", "0");
        sysctl(pod, "net.ipv6.conf.all.accept_dad", "0");
        String iface = "cali" + sha1Hex(namespace + "." + name).substring(0, 11);
        String ip4 = "10." + octet + ".0." + host;
        String ip6 = "fd00:" + octet + "::" + host;
        Command.run("ip", "link", "add", iface, "netns", node.netns(), "type", "veth", "peer", "name", "eth0",
                "netns", pod.netns());
        // node side, as Calico's CNI plugin leaves it
        Command.run("ip", "-n", node.netns(), "link", "set", iface, "address", "ee:ee:ee:ee:ee:ee", "addrgenmode", "none");
        sysctl(node, "net.ipv4.conf." + iface + ".proxy_arp", "1");
        sysctl(node, "net.ipv4.neigh." + iface + ".proxy_delay", "0");
        sysctl(node, "net.ipv6.conf." + iface + ".accept_dad", "0");
        Command.run("ip", "-n", node.netns(), "-6", "addr", "add", GATEWAY6 + "/64", "dev", iface, "nodad");
        Command.run("ip", "-n", node.netns(), "link", "set", iface, "up");
        Command.run("ip", "-n", node.netns(), "route", "add", ip4 + "/32", "dev", iface);
        Command.run("ip", "-n", node.netns(), "-6", "route", "add", ip6 + "/128", "dev", iface);
        // pod side
        Command.run("ip", "-n", pod.netns(), "addr", "add", ip4 + "/32", "dev", "eth0");
        Command.run("ip", "-n", pod.netns(), "-6", "addr", "add", ip6 + "/128", "dev", "eth0", "nodad");
        Command.run("ip", "-n", pod.netns(), "link", "set", "eth0", "up");
        Command.run("ip", "-n", pod.netns(), "route", "add", GATEWAY4 + "/32", "dev", "eth0", "scope", "link");
        Command.run("ip", "-n", pod.netns(), "route", "add", "default", "via", GATEWAY4, "dev", "eth0");
        Command.run("ip", "-n", pod.netns(), "-6", "route", "add", "default", "via", GATEWAY6, "dev", "eth0");
        pod.ipv4().add(ip4);
        pod.ipv6().add(ip6);
        int ifindex = lab.ifindex(node, iface);
        workloads.put(name, new Workload(name, namespace, pod.netns(), iface, ifindex, ip4, ip6, pod));
    }

    private static void sysctl(NetnsLab.Pod ns, String key, String value) {
        Command.run("ip", "netns", "exec", ns.netns(), "sysctl", "-q", "-w", key + "=" + value);
    }

    // ---- policy model ------------------------------------------------------------------------------

    /** One rule: matches (family-neutral text pieces), a verdict, and the NFLOG prefix it logs, if any. */
    private record Rule(String iif, String oif, Workload src, String proto, int dport, int markValue,
                        int markMask, String ctstate, String comment, Verdict verdict) {}

    private sealed interface Verdict {}

    private record Accept() implements Verdict {}

    private record Drop() implements Verdict {}

    private record Return() implements Verdict {}

    private record Jump(String chain, boolean gotoChain) implements Verdict {}

    private record SetMark(int value, int mask) implements Verdict {}

    private record Nflog(int group, String prefix) implements Verdict {}

    private static final class R {
        String iif;
        String oif;
        Workload src;
        String proto;
        int dport;
        int markValue;
        int markMask;
        String ctstate;
        String comment;

        R in(String i) { iif = i; return this; }
        R out(String o) { oif = o; return this; }
        R from(Workload w) { src = w; return this; }
        R proto(String p) { proto = p; return this; }
        R dport(String p, int port) { proto = p; dport = port; return this; }
        R mark(int value, int mask) { markValue = value; markMask = mask; return this; }
        R ct(String s) { ctstate = s; return this; }
        R comment(String c) { comment = c; return this; }

        Rule then(Verdict v) {
            return new Rule(iif, oif, src, proto, dport, markValue, markMask, ctstate, comment, v);
        }
    }

    private static R when() {
        return new R();
    }

    private void add(String chain, Rule rule) {
        chains.computeIfAbsent(chain, c -> new ArrayList<>()).add(rule);
    }

    private void chain(String chain) {
        chains.computeIfAbsent(chain, c -> new ArrayList<>());
    }

    /** A Calico policy or profile rule: match and set the action's bit, then NFLOG and RETURN or DROP on it. */
    private void calicoRule(String chain, R match, char action, int group, String prefix) {
        int bit = action == 'A' ? MARK_ACCEPT : action == 'P' ? MARK_PASS : MARK_DROP;
        add(chain, match.then(new SetMark(bit, bit)));
        add(chain, when().mark(bit, bit).then(new Nflog(group, prefix)));
        add(chain, when().mark(bit, bit).then(action == 'D' ? new Drop() : new Return()));
    }

    private static String policyChain(boolean ingress, String id) {
        return chainName(ingress ? "cali-pi-" : "cali-po-", id);
    }

    private static String profileChain(boolean ingress, String id) {
        return chainName(ingress ? "cali-pri-" : "cali-pro-", id);
    }

    /** Felix's chain-name rule (§3.5) with iptables' 28-character limit. */
    private static String chainName(String prefix, String id) {
        if (prefix.length() + id.length() <= 28) return prefix + id;
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
            String b64 = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(d);
            return prefix + "_" + b64.substring(0, 28 - 1 - prefix.length());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void buildPolicy() {
        Workload frontend = workload("frontend");
        Workload backend = workload("backend");
        Workload other = workload("other");
        Prefixes p = prefixes;

        // top level
        add("cali-FORWARD", when().comment("cali:clear marks").then(new SetMark(0, MARK_ACCEPT | MARK_PASS | MARK_DROP)));
        add("cali-FORWARD", when().in("cali+").then(new Jump("cali-from-wl-dispatch", false)));
        add("cali-FORWARD", when().out("cali+").then(new Jump("cali-to-wl-dispatch", false)));
        add("cali-FORWARD", when().mark(MARK_ACCEPT, MARK_ACCEPT).comment("Policy explicitly accepted packet.")
                .then(new Accept()));
        for (Workload w : workloads.values()) {
            add("cali-from-wl-dispatch", when().in(w.iface()).then(new Jump("cali-fw-" + w.iface(), true)));
        }
        add("cali-from-wl-dispatch", when().comment("Unknown interface").then(new Drop()));
        for (Workload w : workloads.values()) {
            add("cali-to-wl-dispatch", when().out(w.iface()).then(new Jump("cali-tw-" + w.iface(), true)));
        }
        add("cali-to-wl-dispatch", when().comment("Unknown interface").then(new Drop()));

        // policies
        String edgeIn = policyChain(true, edgeId);
        calicoRule(edgeIn, when().from(frontend), 'P', INGRESS_GROUP, p.edgePassFrontend());
        calicoRule(edgeIn, when().from(other).dport("udp", DISCARD_UDP_PORT), 'D', INGRESS_GROUP, p.edgeDenyOtherDiscard());
        calicoRule(edgeIn, when().from(other), 'P', INGRESS_GROUP, p.edgePassOther());
        String allowIn = policyChain(true, allowFrontendId);
        calicoRule(allowIn, when().from(frontend).dport("tcp", WEB_TCP_PORT), 'A', INGRESS_GROUP, p.allowFrontendWeb());
        calicoRule(allowIn, when().from(frontend).dport("udp", DNS_UDP_PORT), 'A', INGRESS_GROUP, p.allowFrontendDns());
        String denyAllIn = policyChain(true, denyAllId);
        chain(denyAllIn); // a Kubernetes default deny has no rules
        String limitOut = policyChain(false, limitEgressId);
        calicoRule(limitOut, when().dport("udp", ECHO_UDP_PORT), 'D', EGRESS_GROUP, p.limitEgressDenyEcho());
        calicoRule(limitOut, when(), 'A', EGRESS_GROUP, p.limitEgressAllow());

        // profiles
        calicoRule(profileChain(true, "kns.default"), when(), 'A', INGRESS_GROUP, p.profileDefaultIngress());
        calicoRule(profileChain(true, "kns.dmz"), when(), 'A', INGRESS_GROUP, p.profileDmzIngress());
        calicoRule(profileChain(false, "kns.default"), when(), 'A', EGRESS_GROUP, p.profileDefaultEgress());
        calicoRule(profileChain(false, "kns.dmz"), when().proto("tcp"), 'A', EGRESS_GROUP, p.profileDmzTcp());
        calicoRule(profileChain(false, "kns.dmz"), when().dport("udp", DISCARD_UDP_PORT), 'A', EGRESS_GROUP,
                p.profileDmzDiscard());
        for (String ns : List.of("default", "dmz")) {
            chain(profileChain(true, "ksa." + ns + ".default")); // service-account profiles: labels only
            chain(profileChain(false, "ksa." + ns + ".default"));
        }

        // endpoint chains
        for (Workload w : workloads.values()) {
            boolean isBackend = w == backend;
            boolean isFrontend = w == frontend;
            endpoint("cali-tw-" + w.iface(), true, w,
                    isBackend ? List.of(new Tier("security", List.of(edgeIn)), new Tier("default", List.of(allowIn, denyAllIn)))
                            : List.of());
            endpoint("cali-fw-" + w.iface(), false, w,
                    isFrontend ? List.of(new Tier("default", List.of(limitOut))) : List.of());
        }
    }

    private record Tier(String name, List<String> policyChains) {}

    /** An endpoint chain in Felix's order (§3.7, §4). */
    private void endpoint(String chain, boolean ingress, Workload w, List<Tier> tiers) {
        int group = ingress ? INGRESS_GROUP : EGRESS_GROUP;
        char dir = ingress ? 'I' : 'E';
        add(chain, when().ct("RELATED,ESTABLISHED").then(new Accept()));
        add(chain, when().ct("INVALID").then(new Drop()));
        add(chain, when().then(new SetMark(0, MARK_ACCEPT | MARK_PASS)));
        for (Tier t : tiers) {
            add(chain, when().comment("Start of tier " + t.name()).then(new SetMark(0, MARK_PASS)));
            for (String pc : t.policyChains()) {
                add(chain, when().mark(0, MARK_PASS).then(new Jump(pc, false)));
                add(chain, when().mark(MARK_ACCEPT, MARK_ACCEPT).comment("Return if policy accepted").then(new Return()));
            }
            add(chain, when().mark(0, MARK_PASS).then(new Nflog(group, "DP" + dir + "|" + t.name())));
            add(chain, when().mark(0, MARK_PASS).comment("End of tier " + t.name() + ". Drop if no policies passed packet")
                    .then(new Drop()));
        }
        for (String profile : List.of("kns." + w.namespace(), "ksa." + w.namespace() + ".default")) {
            add(chain, when().then(new Jump(profileChain(ingress, profile), false)));
            add(chain, when().mark(MARK_ACCEPT, MARK_ACCEPT).comment("Return if profile accepted").then(new Return()));
        }
        add(chain, when().then(new Nflog(group, "DR" + dir)));
        add(chain, when().comment("Drop if no profiles matched").then(new Drop()));
    }

    // ---- rendering -------------------------------------------------------------------------------

    private void program() {
        if (dataplane == Dataplane.IPTABLES) {
            for (boolean v6 : new boolean[] {false, true}) {
                String tool = v6 ? "ip6tables" : "iptables";
                for (String c : chains.keySet()) lab.exec(node, tool, "-w", "-N", c);
                for (var e : chains.entrySet()) {
                    for (Rule r : e.getValue()) {
                        List<String> args = iptablesArgs(r, v6);
                        if (args == null) continue;
                        List<String> cmd = new ArrayList<>(List.of(tool, "-w", "-A", e.getKey()));
                        cmd.addAll(args);
                        lab.exec(node, cmd.toArray(String[]::new));
                    }
                }
                lab.exec(node, tool, "-w", "-A", "FORWARD", "-j", "cali-FORWARD");
            }
        } else {
            StringBuilder nft = new StringBuilder();
            nft.append("add table inet ").append(TABLE_NFT).append('\n');
            nft.append("add chain inet ").append(TABLE_NFT)
                    .append(" filter-FORWARD { type filter hook forward priority filter; policy accept; }\n");
            for (String c : chains.keySet()) {
                nft.append("add chain inet ").append(TABLE_NFT).append(' ').append(c).append('\n');
            }
            for (var e : chains.entrySet()) {
                for (Rule r : e.getValue()) {
                    for (int family : new int[] {4, 6}) {
                        String rule = nftRule(r, family);
                        if (rule == null) continue;
                        nft.append("add rule inet ").append(TABLE_NFT).append(' ').append(e.getKey()).append(' ')
                                .append(rule).append('\n');
                    }
                }
            }
            nft.append("add rule inet ").append(TABLE_NFT).append(" filter-FORWARD jump cali-FORWARD")
                    .append('\n');
            try {
                Path file = Files.createTempFile("calico-lab-", ".nft");
                try {
                    Files.writeString(file, nft);
                    lab.exec(node, "nft", "-f", file.toString());
                } finally {
                    Files.deleteIfExists(file);
                }
            } catch (java.io.IOException e) {
                throw new LabException("cannot write the nft ruleset: " + e.getMessage());
            }
        }
    }

    private static String hex(int v) {
        return "0x" + Integer.toHexString(v);
    }

    /** iptables arguments after {@code -A chain}; null when the rule does not apply to this family. */
    private static List<String> iptablesArgs(Rule r, boolean v6) {
        List<String> a = new ArrayList<>();
        if (r.iif() != null) a.addAll(List.of("-i", r.iif()));
        if (r.oif() != null) a.addAll(List.of("-o", r.oif()));
        if (r.src() != null) a.addAll(List.of("-s", v6 ? r.src().ip6() + "/128" : r.src().ip4() + "/32"));
        if (r.proto() != null) a.addAll(List.of("-p", r.proto()));
        if (r.dport() != 0) a.addAll(List.of("--dport", Integer.toString(r.dport())));
        if (r.markMask() != 0) a.addAll(List.of("-m", "mark", "--mark", hex(r.markValue()) + "/" + hex(r.markMask())));
        if (r.ctstate() != null) a.addAll(List.of("-m", "conntrack", "--ctstate", r.ctstate()));
        if (r.comment() != null) a.addAll(List.of("-m", "comment", "--comment", r.comment()));
        switch (r.verdict()) {
            case Accept x -> a.addAll(List.of("-j", "ACCEPT"));
            case Drop x -> a.addAll(List.of("-j", "DROP"));
            case Return x -> a.addAll(List.of("-j", "RETURN"));
            case Jump j -> a.addAll(List.of(j.gotoChain() ? "-g" : "-j", j.chain()));
            case SetMark m -> a.addAll(List.of("-j", "MARK", "--set-xmark", hex(m.value()) + "/" + hex(m.mask())));
            case Nflog n -> a.addAll(List.of("-j", "NFLOG", "--nflog-group", Integer.toString(n.group()),
                    "--nflog-prefix", n.prefix(), "--nflog-size", Integer.toString(SNAPLEN)));
        }
        return a;
    }

    /**
     * The nft rule for one family; null when it is the other family's twin. Rules without an address
     * are written once (they match both families in an inet table).
     */
    private static String nftRule(Rule r, int family) {
        if (r.src() == null && family == 6) return null;
        StringBuilder s = new StringBuilder();
        if (r.iif() != null) s.append("iifname ").append(quote(r.iif().replace('+', '*'))).append(' ');
        if (r.oif() != null) s.append("oifname ").append(quote(r.oif().replace('+', '*'))).append(' ');
        if (r.src() != null) {
            s.append(family == 4 ? "ip saddr " + r.src().ip4() : "ip6 saddr " + r.src().ip6()).append(' ');
        }
        if (r.dport() != 0) {
            s.append(r.proto()).append(" dport ").append(r.dport()).append(' ');
        } else if (r.proto() != null) {
            s.append("meta l4proto ").append(r.proto()).append(' ');
        }
        if (r.markMask() != 0) {
            s.append("meta mark & ").append(hex(r.markMask())).append(" == ").append(hex(r.markValue())).append(' ');
        }
        if (r.ctstate() != null) s.append("ct state ").append(r.ctstate().toLowerCase()).append(' ');
        s.append("counter ");
        switch (r.verdict()) {
            case Accept x -> s.append("accept");
            case Drop x -> s.append("drop");
            case Return x -> s.append("return");
            case Jump j -> s.append(j.gotoChain() ? "goto " : "jump ").append(j.chain()); // nft takes no quotes here
            case SetMark m -> s.append(m.value() == 0
                    ? "meta mark set meta mark & " + hex(~m.mask())
                    : "meta mark set meta mark | " + hex(m.value()));
            case Nflog n -> s.append("log prefix ").append(quote(n.prefix())).append(" snaplen ").append(SNAPLEN)
                    .append(" group ").append(n.group());
        }
        if (r.comment() != null) s.append(" comment ").append(quote(r.comment()));
        return s.toString();
    }

    private static String quote(String s) {
        return "\"" + s + "\"";
    }

    // ---- counters ------------------------------------------------------------------------------------

    private static final Pattern IPT_NFLOG = Pattern.compile("^\\[(\\d+):\\d+\\] -A \\S+ .*--nflog-prefix (\"[^\"]*\"|\\S+)");
    private static final Pattern NFT_NFLOG = Pattern.compile("counter packets (\\d+) bytes \\d+ log prefix \"([^\"]*)\"");

    /**
     * Packets logged per prefix: the sum of the packet counters of every NFLOG rule that carries the
     * prefix (IPv4 and IPv6 rules together). Every prefix of {@link #prefixes()} is present, zero or not.
     */
    public Map<String, Long> nflogCounts() {
        Map<String, Long> counts = new TreeMap<>();
        for (String p : prefixes.all()) counts.put(p, 0L);
        if (dataplane == Dataplane.IPTABLES) {
            for (String tool : List.of("iptables-save", "ip6tables-save")) {
                for (String line : lab.exec(node, tool, "-c", "-t", "filter").split("\n")) {
                    Matcher m = IPT_NFLOG.matcher(line);
                    if (m.find()) {
                        String prefix = m.group(2).startsWith("\"") ? m.group(2).substring(1, m.group(2).length() - 1) : m.group(2);
                        counts.merge(prefix, Long.parseLong(m.group(1)), Long::sum);
                    }
                }
            }
        } else {
            Matcher m = NFT_NFLOG.matcher(lab.exec(node, "nft", "list", "table", "inet", TABLE_NFT));
            while (m.find()) counts.merge(m.group(2), Long.parseLong(m.group(1)), Long::sum);
        }
        return counts;
    }

    /** Packets logged with one prefix (see {@link #nflogCounts()}). */
    public long nflogCount(String prefix) {
        return nflogCounts().getOrDefault(prefix, 0L);
    }

    /** The node's ruleset as text (iptables-save and ip6tables-save, or nft list), for failure messages. */
    public String ruleset() {
        return dataplane == Dataplane.IPTABLES
                ? lab.exec(node, "iptables-save", "-c", "-t", "filter") + lab.exec(node, "ip6tables-save", "-c", "-t", "filter")
                : lab.exec(node, "nft", "-a", "list", "table", "inet", TABLE_NFT);
    }

    // ---- traffic ---------------------------------------------------------------------------------

    /** Sends {@code count} UDP datagrams from one pod to another (IPv6 if {@code ipv6}). */
    public void sendUdp(Workload from, Workload to, int port, int srcPort, int count, boolean ipv6) throws Exception {
        lab.sendUdp(from.pod(), ipv6 ? to.ip6() : to.ip4(), port, srcPort, count);
    }

    /** Starts a TCP connection (a SYN, retried while denied) and abandons it after {@code holdMillis}. */
    public void trySyn(Workload from, Workload to, int port, int srcPort, long holdMillis, boolean ipv6) throws Exception {
        lab.tryTcp(from.pod(), ipv6 ? to.ip6() : to.ip4(), port, srcPort, holdMillis);
    }

    /** Runs a command inside the node namespace. */
    public String execInNode(String... argv) {
        return lab.exec(node, argv);
    }

    // ---- accessors ---------------------------------------------------------------------------------

    /** The node namespace's name (for {@code ip netns exec}, {@code NflogSocket.openIn}, or running the agent there). */
    public String nodeNetns() {
        return node.netns();
    }

    public NetnsLab.Pod node() {
        return node;
    }

    public Workload workload(String name) {
        Workload w = workloads.get(name);
        if (w == null) throw new IllegalArgumentException("no workload " + name);
        return w;
    }

    public Workload frontend() { return workload("frontend"); }

    public Workload backend() { return workload("backend"); }

    public Workload other() { return workload("other"); }

    public List<Workload> workloads() {
        return List.copyOf(workloads.values());
    }

    public Prefixes prefixes() {
        return prefixes;
    }

    public Dataplane dataplane() {
        return dataplane;
    }

    public IdFormat format() {
        return format;
    }

    /** The policy id of GNP security.edge (tier security) in the lab's format. */
    public String edgeId() { return edgeId; }

    /** The policy id of KNP default/allow-frontend. */
    public String allowFrontendId() { return allowFrontendId; }

    /** The policy id of KNP default/deny-all (never in a prefix: a default deny logs DPI|default). */
    public String denyAllId() { return denyAllId; }

    /** The policy id of Calico NP default/limit-egress (tier default). */
    public String limitEgressId() { return limitEgressId; }

    /** The names of the chains in the node, in creation order. */
    public List<String> chainNames() {
        return List.copyOf(chains.keySet());
    }

    /** The underlying namespaces (pods and node). */
    public NetnsLab netns() {
        return lab;
    }

    @Override
    public void close() {
        lab.close();
    }

    private static String sha1Hex(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
