package dev.droptrace.agent.source.cilium;

/**
 * A Cilium release as major.minor, given with {@code --cilium-version} to settle the header lengths
 * the notifications do not encode (spec section 3.6): drop version 0/1 is 32 bytes up to v1.12 and
 * 36 from v1.13; policy verdicts are 32 bytes up to v1.18 and 40 from v1.19.
 *
 * @param major major version, 1
 * @param minor minor version
 */
public record CiliumVersion(int major, int minor) implements Comparable<CiliumVersion> {
    /** First release with the 36-byte drop v1 layout. */
    public static final CiliumVersion V1_13 = new CiliumVersion(1, 13);
    /** First release with the 40-byte policy-verdict layout. */
    public static final CiliumVersion V1_19 = new CiliumVersion(1, 19);

    /**
     * Parses "1.16", "v1.16.3" or "1.20.0-dev".
     *
     * @throws IllegalArgumentException if the text is not a version
     */
    public static CiliumVersion parse(String text) {
        String s = text.strip();
        if (s.startsWith("v") || s.startsWith("V")) {
            s = s.substring(1);
        }
        String[] parts = s.split("[.\\-+]");
        try {
            if (parts.length < 2) {
                throw new IllegalArgumentException("not a Cilium version (want major.minor): " + text);
            }
            int major = Integer.parseInt(parts[0]);
            int minor = Integer.parseInt(parts[1]);
            if (major < 0 || minor < 0) {
                throw new IllegalArgumentException("not a Cilium version: " + text);
            }
            return new CiliumVersion(major, minor);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a Cilium version (want major.minor): " + text, e);
        }
    }

    /**
     * The release from its integer code {@code major * 100 + minor} (119 = v1.19), the form
     * {@code SourceOptions.ciliumVersion} carries; null for 0 (work the header lengths out).
     *
     * @throws IllegalArgumentException for a negative code or one below 100 (not major.minor)
     */
    public static CiliumVersion fromCode(int code) {
        if (code == 0) {
            return null;
        }
        if (code < 100) {
            throw new IllegalArgumentException("not a Cilium version code (want major*100+minor, e.g. 119 for 1.19): " + code);
        }
        return new CiliumVersion(code / 100, code % 100);
    }

    /** {@code major * 100 + minor}, the inverse of {@link #fromCode}. */
    public int code() {
        return major * 100 + minor;
    }

    public boolean atLeast(CiliumVersion other) {
        return compareTo(other) >= 0;
    }

    @Override
    public int compareTo(CiliumVersion o) {
        return major != o.major ? Integer.compare(major, o.major) : Integer.compare(minor, o.minor);
    }

    @Override
    public String toString() {
        return major + "." + minor;
    }
}
