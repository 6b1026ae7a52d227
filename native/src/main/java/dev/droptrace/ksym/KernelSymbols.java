package dev.droptrace.ksym;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The kernel's text symbols (kallsyms types t, T, w, W), sorted by address.
 *
 * <p>Addresses are unsigned (kernel addresses have the top bit set) and compared as such. When
 * several symbols share an address one is kept: a global one (T, W) before a local one, else the
 * first listed. A module symbol ({@code name [module]}) keeps its name only. When
 * {@code kptr_restrict} hides addresses, kallsyms lists every symbol at 0: then
 * {@link #available()} is false and {@link #indexOf(long)} always answers -1.
 *
 * <p>Immutable; {@link #indexOf(long)}, {@link #name(int)} and {@link #address(int)} allocate nothing.
 */
public final class KernelSymbols {

    /** Where the kernel lists its symbols. */
    public static final Path KALLSYMS = Path.of("/proc/kallsyms");

    private final long[] addresses;
    private final String[] names;
    private final boolean available;

    private KernelSymbols(long[] addresses, String[] names, boolean available) {
        this.addresses = addresses;
        this.names = names;
        this.available = available;
    }

    /** Loads /proc/kallsyms. */
    public static KernelSymbols load() {
        return load(KALLSYMS);
    }

    /**
     * Loads a file in the format of /proc/kallsyms ({@code <hex address> <type> <name> [\t[module]]}
     * per line). Lines that do not parse are skipped.
     *
     * @throws UncheckedIOException if the file cannot be read
     */
    public static KernelSymbols load(Path path) {
        record Sym(long address, String name, boolean global) {
        }
        List<Sym> syms = new ArrayList<>(1 << 16);
        boolean nonZero = false;
        try (BufferedReader r = Files.newBufferedReader(path, StandardCharsets.ISO_8859_1)) {
            String line;
            while ((line = r.readLine()) != null) {
                int sp1 = line.indexOf(' ');
                if (sp1 <= 0 || sp1 > 16 || line.length() < sp1 + 4 || line.charAt(sp1 + 2) != ' ') {
                    continue;
                }
                char type = line.charAt(sp1 + 1);
                if (type != 't' && type != 'T' && type != 'w' && type != 'W') {
                    continue;
                }
                long address;
                try {
                    address = Long.parseUnsignedLong(line, 0, sp1, 16);
                } catch (NumberFormatException e) {
                    continue;
                }
                int start = sp1 + 3;
                int end = start;
                while (end < line.length() && line.charAt(end) != '\t' && line.charAt(end) != ' ') {
                    end++;
                }
                if (end == start) {
                    continue;
                }
                nonZero |= address != 0;
                syms.add(new Sym(address, line.substring(start, end), type == 'T' || type == 'W'));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
        if (!nonZero) {
            return new KernelSymbols(new long[0], new String[0], false);
        }
        // Stable sort: among equal addresses, the first listed stays first.
        syms.sort(Comparator.comparing(Sym::address, Long::compareUnsigned));
        long[] addrs = new long[syms.size()];
        String[] nms = new String[syms.size()];
        boolean keptGlobal = false;
        int n = 0;
        for (Sym s : syms) {
            if (n > 0 && addrs[n - 1] == s.address()) {
                if (s.global() && !keptGlobal) {
                    nms[n - 1] = s.name();
                    keptGlobal = true;
                }
                continue;
            }
            addrs[n] = s.address();
            nms[n] = s.name();
            keptGlobal = s.global();
            n++;
        }
        return new KernelSymbols(Arrays.copyOf(addrs, n), Arrays.copyOf(nms, n), true);
    }

    /** Whether kallsyms showed real addresses (false when kptr_restrict hides them). */
    public boolean available() {
        return available;
    }

    /** The number of symbols kept. */
    public int size() {
        return addresses.length;
    }

    /**
     * The index of the symbol containing {@code address}: the one with the greatest address at or
     * below it, or -1 when {@code address} is below every symbol or addresses are unavailable.
     */
    public int indexOf(long address) {
        int lo = 0;
        int hi = addresses.length - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(addresses[mid], address) <= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    /** The name of symbol {@code index}. */
    public String name(int index) {
        return names[index];
    }

    /** The address of symbol {@code index}. */
    public long address(int index) {
        return addresses[index];
    }

    /** The index of the symbol named {@code name}, or -1 (a linear scan, for setup and tests). */
    public int indexOfName(String name) {
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * {@code address} as "symbol+0xoffset" (offset in hex), or as "0x&lt;address&gt;" when no symbol
     * contains it. Allocates: for the edge (JSON, CLI), not the hot path.
     */
    public String describe(long address) {
        int i = indexOf(address);
        if (i < 0) {
            return "0x" + Long.toHexString(address);
        }
        return names[i] + "+0x" + Long.toHexString(address - addresses[i]);
    }

    @Override
    public String toString() {
        return available ? "KernelSymbols[" + addresses.length + " text symbols]" : "KernelSymbols[addresses hidden]";
    }
}
