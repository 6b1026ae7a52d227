package dev.droptrace.btf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The names of the kernel's packet drop reasons, read from the running kernel's BTF: never a
 * hard-coded table, so a kernel that adds, removes or renumbers reasons is named correctly.
 *
 * <p>Core reasons are the enumerators of {@code enum skb_drop_reason} with their
 * {@code SKB_DROP_REASON_} (or {@code SKB_}) prefix removed: {@code SKB_DROP_REASON_NETFILTER_DROP}
 * is "NETFILTER_DROP", {@code SKB_CONSUMED} is "CONSUMED". The sentinels
 * {@code SKB_DROP_REASON_MAX} and {@code SKB_DROP_REASON_SUBSYS_MASK} are not reasons.
 *
 * <p>Subsystem reasons carry a subsystem id (an enumerator of {@code enum skb_drop_reason_subsys})
 * in their high 16 bits. They are named by the enumerators of any enum whose name contains
 * {@code drop_reason} (such as {@code ovs_drop_reason} or {@code mac80211_drop_reason}) whose
 * values carry a known subsystem id, kept as written (e.g. "OVS_DROP_LAST_ACTION"); enumerators
 * starting with "__" or ending with "_MAX" are sentinels and skipped. Such enums usually live in a
 * module's BTF: {@link #fromKernel()} reads {@code /sys/kernel/btf/<module>} for the modules the
 * subsystem names suggest (OPENVSWITCH: openvswitch, MAC80211_UNUSABLE: mac80211) when they are
 * loaded. A subsystem code with no such enumerator is named "SUBSYS_&lt;subsystem&gt;_&lt;low 16 bits&gt;",
 * e.g. "SUBSYS_OPENVSWITCH_5", and any other unknown code "UNKNOWN_&lt;code&gt;".
 *
 * <p>{@link #name(int)} allocates nothing for a known code. Instances are immutable.
 */
public final class DropReasons {

    /** The kernel's SKB_DROP_REASON_SUBSYS_SHIFT. */
    public static final int SUBSYS_SHIFT = 16;
    /** The kernel's SKB_DROP_REASON_SUBSYS_MASK. */
    public static final int SUBSYS_MASK = 0xffff0000;

    static final String ENUM = "skb_drop_reason";
    static final String SUBSYS_ENUM = "skb_drop_reason_subsys";
    private static final String REASON_PREFIX = "SKB_DROP_REASON_";
    private static final String SKB_PREFIX = "SKB_";
    private static final String SUBSYS_PREFIX = "SKB_DROP_REASON_SUBSYS_";

    /** Core reason names indexed by code; null where the enum has no enumerator. */
    private final String[] core;
    /** Subsystem reason codes, sorted, and their names. */
    private final int[] subsysCodes;
    private final String[] subsysNames;
    /** Subsystem names ("OPENVSWITCH") indexed by subsystem id; null where unknown. */
    private final String[] subsystems;
    private final Map<String, Integer> byName;
    private final Map<Integer, String> all;

    private DropReasons(String[] core, int[] subsysCodes, String[] subsysNames, String[] subsystems) {
        this.core = core;
        this.subsysCodes = subsysCodes;
        this.subsysNames = subsysNames;
        this.subsystems = subsystems;
        Map<Integer, String> m = new LinkedHashMap<>();
        Map<String, Integer> inverse = new HashMap<>();
        for (int c = 0; c < core.length; c++) {
            if (core[c] != null) {
                m.put(c, core[c]);
                inverse.putIfAbsent(core[c], c);
            }
        }
        for (int i = 0; i < subsysCodes.length; i++) {
            m.put(subsysCodes[i], subsysNames[i]);
            inverse.putIfAbsent(subsysNames[i], subsysCodes[i]);
        }
        this.all = Collections.unmodifiableMap(m);
        this.byName = Map.copyOf(inverse);
    }

    /**
     * Reads the running kernel's drop reasons from /sys/kernel/btf/vmlinux, and subsystem reasons
     * from the BTF of the modules that define them when those are loaded.
     *
     * @throws IllegalStateException if the kernel has no BTF or no {@code enum skb_drop_reason}
     */
    public static DropReasons fromKernel() {
        Btf vmlinux = Btf.kernel();
        List<Btf> extra = new ArrayList<>();
        for (String subsystem : subsystemNames(vmlinux)) {
            if (subsystem == null) {
                continue;
            }
            String lower = subsystem.toLowerCase(Locale.ROOT);
            int us = lower.indexOf('_');
            for (String module : us > 0 ? List.of(lower, lower.substring(0, us)) : List.of(lower)) {
                Optional<Btf> m = Btf.kernelModule(module, vmlinux);
                if (m.isPresent()) {
                    extra.add(m.get());
                    break;
                }
            }
        }
        return from(vmlinux, extra);
    }

    /**
     * Reads drop reasons from {@code btf}.
     *
     * @throws IllegalStateException if {@code btf} has no {@code enum skb_drop_reason}
     */
    public static DropReasons from(Btf btf) {
        return from(btf, List.of());
    }

    /**
     * Reads drop reasons from {@code btf}, and subsystem reasons also from {@code modules} (split BTF
     * on top of it, or any other BTF).
     */
    public static DropReasons from(Btf btf, List<Btf> modules) {
        BtfEnum reasons = btf.enumType(ENUM).orElseThrow(() -> new IllegalStateException(
                "kernel BTF has no enum " + ENUM + " (drop reasons need Linux 5.17 or later)"));
        int max = -1;
        for (BtfEnum.Enumerator e : reasons.enumerators()) {
            if (isCoreReason(e)) {
                max = Math.max(max, (int) e.value());
            }
        }
        String[] core = new String[max + 1];
        for (BtfEnum.Enumerator e : reasons.enumerators()) {
            if (isCoreReason(e) && core[(int) e.value()] == null) {
                core[(int) e.value()] = stripPrefix(e.name());
            }
        }

        String[] subsystems = subsystemNames(btf);
        Map<Integer, String> sub = new HashMap<>();
        List<Btf> sources = new ArrayList<>(modules.size() + 1);
        sources.add(btf);
        sources.addAll(modules);
        for (Btf b : sources) {
            for (BtfEnum en : b.enums()) {
                if (!en.name().contains("drop_reason") || en.name().equals(ENUM) || en.name().equals(SUBSYS_ENUM)) {
                    continue;
                }
                for (BtfEnum.Enumerator e : en.enumerators()) {
                    long v = e.value();
                    int id = (int) (v >>> SUBSYS_SHIFT);
                    if (v < 0 || v > 0xffffffffL || id == 0 || id >= subsystems.length || subsystems[id] == null
                            || e.name().startsWith("__") || e.name().endsWith("_MAX")) {
                        continue;
                    }
                    sub.putIfAbsent((int) v, e.name());
                }
            }
        }
        int[] codes = sub.keySet().stream().mapToInt(Integer::intValue).sorted().toArray();
        String[] names = new String[codes.length];
        for (int i = 0; i < codes.length; i++) {
            names[i] = sub.get(codes[i]);
        }
        return new DropReasons(core, codes, names, subsystems);
    }

    private static boolean isCoreReason(BtfEnum.Enumerator e) {
        long v = e.value();
        return v >= 0 && v <= 0xffff && !e.name().equals(REASON_PREFIX + "MAX") && !e.name().startsWith("__");
    }

    private static String stripPrefix(String name) {
        if (name.startsWith(REASON_PREFIX)) {
            return name.substring(REASON_PREFIX.length());
        }
        if (name.startsWith(SKB_PREFIX)) {
            return name.substring(SKB_PREFIX.length());
        }
        return name;
    }

    /** Subsystem names by id from {@code enum skb_drop_reason_subsys}, without CORE and the NUM sentinel. */
    private static String[] subsystemNames(Btf btf) {
        Optional<BtfEnum> en = btf.enumType(SUBSYS_ENUM);
        if (en.isEmpty()) {
            return new String[0];
        }
        int max = 0;
        for (BtfEnum.Enumerator e : en.get().enumerators()) {
            if (e.value() > 0 && e.value() <= 0xffff) {
                max = Math.max(max, (int) e.value());
            }
        }
        String[] out = new String[max + 1];
        for (BtfEnum.Enumerator e : en.get().enumerators()) {
            String n = e.name();
            if (e.value() <= 0 || e.value() > 0xffff || n.equals(SUBSYS_PREFIX + "NUM") || !n.startsWith(SUBSYS_PREFIX)) {
                continue;
            }
            if (out[(int) e.value()] == null) {
                out[(int) e.value()] = n.substring(SUBSYS_PREFIX.length());
            }
        }
        return out;
    }

    /**
     * The name of drop reason {@code code} (an {@code enum skb_drop_reason} value as the kernel
     * passes it, subsystem bits included). Allocates nothing when the code is known.
     */
    public String name(int code) {
        if (code >= 0 && code < core.length) {
            String n = core[code];
            if (n != null) {
                return n;
            }
        }
        int i = Arrays.binarySearch(subsysCodes, code);
        if (i >= 0) {
            return subsysNames[i];
        }
        int id = code >>> SUBSYS_SHIFT;
        if (id != 0 && id < subsystems.length && subsystems[id] != null) {
            return "SUBSYS_" + subsystems[id] + "_" + (code & 0xffff);
        }
        return "UNKNOWN_" + Integer.toUnsignedString(code);
    }

    /** Whether {@code code} has a name from BTF (not a SUBSYS_ or UNKNOWN_ fallback). */
    public boolean known(int code) {
        return (code >= 0 && code < core.length && core[code] != null) || Arrays.binarySearch(subsysCodes, code) >= 0;
    }

    /**
     * The code of the reason named {@code name} (as {@link #name(int)} returns it, including the
     * "SUBSYS_&lt;subsystem&gt;_&lt;n&gt;" form), or -1 when there is none.
     */
    public int code(String name) {
        Integer c = byName.get(name);
        if (c != null) {
            return c;
        }
        if (name.startsWith("SUBSYS_")) {
            int us = name.lastIndexOf('_');
            for (int id = 1; id < subsystems.length; id++) {
                if (subsystems[id] != null && us == "SUBSYS_".length() + subsystems[id].length()
                        && name.startsWith(subsystems[id], "SUBSYS_".length())) {
                    try {
                        int low = Integer.parseInt(name.substring(us + 1));
                        if (low >= 0 && low <= 0xffff) {
                            return id << SUBSYS_SHIFT | low;
                        }
                    } catch (NumberFormatException e) {
                        return -1;
                    }
                }
            }
        }
        return -1;
    }

    /** Every known reason, code -> name, core reasons first, in code order. */
    public Map<Integer, String> all() {
        return all;
    }

    /** The subsystem name ("OPENVSWITCH") for subsystem id {@code id}, if the kernel has one. */
    public Optional<String> subsystem(int id) {
        return id > 0 && id < subsystems.length ? Optional.ofNullable(subsystems[id]) : Optional.empty();
    }

    @Override
    public String toString() {
        return "DropReasons[" + all.size() + " reasons]";
    }
}
