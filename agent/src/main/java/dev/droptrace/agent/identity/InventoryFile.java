package dev.droptrace.agent.identity;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The identities of a node without a cluster ({@code --inventory FILE}), in YAML:
 * <pre>
 * node: demo-node                     # optional: the node name of every pod (and of "host")
 * pods:
 *   - namespace: shop
 *     name: frontend-7d4b9c-x2x
 *     labels: {app: frontend}         # optional
 *     workload: Deployment/frontend   # optional
 *     ips: [10.201.1.1, fd00:201:1::1]
 *     netns: dt123x1-frontend         # optional: a named netns (/var/run/netns/NAME), a path, or an inode number
 * </pre>
 * Every pod needs a namespace, a name and at least one of {@code ips} or {@code netns}. Unknown
 * keys are errors (a typo should not silently drop a pod). {@link #applyTo} feeds the pods into an
 * {@link IdentityCache} and marks it complete; a named netns that does not exist (yet) is logged and
 * skipped, its IPs still map.
 */
public final class InventoryFile {
    private static final Logger LOG = LoggerFactory.getLogger(InventoryFile.class);
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Set<String> TOP_KEYS = Set.of("node", "pods");
    private static final Set<String> POD_KEYS = Set.of("namespace", "name", "labels", "workload", "ips", "netns");
    private static final Path NETNS_DIR = Path.of("/var/run/netns");

    /** One pod of the inventory. */
    public record Pod(String namespace, String name, Map<String, String> labels, String workload, List<String> ips,
                      String netns) {
        public Pod {
            labels = Map.copyOf(labels);
            ips = List.copyOf(ips);
        }
    }

    private final Path file;
    private final String node;
    private final List<Pod> pods;

    private InventoryFile(Path file, String node, List<Pod> pods) {
        this.file = file;
        this.node = node;
        this.pods = List.copyOf(pods);
    }

    /**
     * Reads and validates an inventory file.
     *
     * @throws InventoryException naming the file and the offending field
     */
    public static InventoryFile load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new InventoryException("inventory " + file + ": no such file");
        } catch (IOException e) {
            throw new InventoryException("inventory " + file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(file, text);
    }

    /** Parses inventory text; {@code file} only names it in errors. */
    public static InventoryFile parse(Path file, String text) {
        JsonNode root;
        try {
            root = YAML.readTree(text);
        } catch (JacksonException e) {
            throw new InventoryException("inventory " + file + ": not valid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ")" : ""), e);
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw new InventoryException("inventory " + file + ": empty file");
        }
        if (!root.isObject()) {
            throw new InventoryException("inventory " + file + ": expected a mapping with 'node' and 'pods'");
        }
        unknownKeys(file, "", root, TOP_KEYS);
        String node = optionalText(file, "node", root.get("node"));
        JsonNode podsNode = root.get("pods");
        if (podsNode == null || podsNode.isNull()) {
            throw new InventoryException("inventory " + file + ": pods: missing");
        }
        if (!podsNode.isArray()) {
            throw new InventoryException("inventory " + file + ": pods: expected a list");
        }
        List<Pod> pods = new ArrayList<>();
        Set<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < podsNode.size(); i++) {
            String at = "pods[" + i + "]";
            JsonNode p = podsNode.get(i);
            if (!p.isObject()) {
                throw new InventoryException("inventory " + file + ": " + at + ": expected a mapping");
            }
            unknownKeys(file, at + ".", p, POD_KEYS);
            String ns = requiredText(file, at + ".namespace", p.get("namespace"));
            String name = requiredText(file, at + ".name", p.get("name"));
            if (!seen.add(ns + "/" + name)) {
                throw new InventoryException("inventory " + file + ": " + at + ": duplicate pod " + ns + "/" + name);
            }
            Map<String, String> labels = new LinkedHashMap<>();
            JsonNode l = p.get("labels");
            if (l != null && !l.isNull()) {
                if (!l.isObject()) {
                    throw new InventoryException("inventory " + file + ": " + at + ".labels: expected a mapping of key: value");
                }
                for (Iterator<Map.Entry<String, JsonNode>> it = l.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (!e.getValue().isValueNode() || e.getValue().isNull()) {
                        throw new InventoryException("inventory " + file + ": " + at + ".labels." + e.getKey()
                                + ": expected a scalar value");
                    }
                    labels.put(e.getKey(), e.getValue().asText());
                }
            }
            String workload = optionalText(file, at + ".workload", p.get("workload"));
            List<String> ips = new ArrayList<>();
            JsonNode ipsNode = p.get("ips");
            if (ipsNode != null && !ipsNode.isNull()) {
                if (!ipsNode.isArray()) {
                    throw new InventoryException("inventory " + file + ": " + at + ".ips: expected a list of IP addresses");
                }
                for (int j = 0; j < ipsNode.size(); j++) {
                    JsonNode ip = ipsNode.get(j);
                    String t = ip.isValueNode() ? ip.asText() : null;
                    if (t == null || IdentityCache.Key.parse(t) == null) {
                        throw new InventoryException("inventory " + file + ": " + at + ".ips[" + j + "]: '"
                                + (t == null ? ip.toString() : t) + "' is not an IP address");
                    }
                    ips.add(t.trim());
                }
            }
            String netns = optionalText(file, at + ".netns", p.get("netns"));
            if (ips.isEmpty() && netns == null) {
                throw new InventoryException("inventory " + file + ": " + at + ": needs 'ips' or 'netns'");
            }
            pods.add(new Pod(ns, name, labels, workload, ips, netns));
        }
        return new InventoryFile(file, node, pods);
    }

    private static void unknownKeys(Path file, String at, JsonNode n, Set<String> allowed) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw new InventoryException("inventory " + file + ": " + at + k + ": unknown field (expected one of "
                        + new java.util.TreeSet<>(allowed) + ")");
            }
        }
    }

    private static String requiredText(Path file, String at, JsonNode n) {
        String s = optionalText(file, at, n);
        if (s == null || s.isBlank()) {
            throw new InventoryException("inventory " + file + ": " + at + ": missing");
        }
        return s;
    }

    private static String optionalText(Path file, String at, JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isValueNode()) {
            throw new InventoryException("inventory " + file + ": " + at + ": expected a string");
        }
        return n.asText();
    }

    public Path file() {
        return file;
    }

    /** The node name, or null. */
    public String node() {
        return node;
    }

    public List<Pod> pods() {
        return pods;
    }

    /**
     * Feeds every pod into the cache (owner key {@code inventory:NAMESPACE/NAME}) and marks the cache
     * complete. Named network namespaces are resolved to inodes now.
     */
    public void applyTo(IdentityCache cache) {
        for (Pod p : pods) {
            long inode = 0;
            if (p.netns() != null) {
                inode = netnsInode(p.netns());
                if (inode == 0) {
                    LOG.warn("inventory {}: pod {}/{}: network namespace '{}' not found, skipped", file, p.namespace(),
                            p.name(), p.netns());
                }
            }
            Identity id = Identity.pod(p.namespace(), p.name(), p.workload(), p.labels(), node);
            cache.upsert("inventory:" + p.namespace() + "/" + p.name(), id, p.ips(),
                    inode == 0 ? new long[0] : new long[] {inode}, 0);
        }
        cache.setComplete(true);
    }

    /** The inode of a netns given as an inode number, a path, or a name under /var/run/netns; 0 if missing. */
    static long netnsInode(String netns) {
        String s = netns.trim();
        if (!s.isEmpty() && s.chars().allMatch(Character::isDigit)) {
            return Long.parseLong(s);
        }
        Path p = s.startsWith("/") ? Path.of(s) : NETNS_DIR.resolve(s);
        return IdentityCache.NetnsInode.of(p);
    }
}
