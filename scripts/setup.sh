# Sourced by ./droptrace and ./run-tests: finds JDK 25 and installs the Debian packages droptrace
# needs when they are missing. Prints what it does; stops with one clear line when it cannot.

droptrace_die() { echo "droptrace: $*" >&2; exit 1; }

droptrace_java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }

droptrace_find_jdk() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/java-25-* /usr/lib/jvm/jdk-25*)
  command -v java >/dev/null 2>&1 && candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  local c
  for c in "${candidates[@]}"; do
    if [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] && [ "$(droptrace_java_major "$c/bin/java")" = "25" ]; then
      export JAVA_HOME="$c"
      export PATH="$JAVA_HOME/bin:$PATH"
      return 0
    fi
  done
  droptrace_die "JDK 25 is required but was not found (looked at \$JAVA_HOME and /usr/lib/jvm). Install Temurin 25 (for example /usr/lib/jvm/temurin-25-jdk-amd64) or set JAVA_HOME to a JDK 25."
}

droptrace_packages() {
  # command or file -> Debian package
  local missing=()
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  command -v llvm-strip >/dev/null 2>&1 || missing+=(llvm)
  [ -r /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
  ldconfig -p 2>/dev/null | grep -q 'libbpf.so.1 ' || missing+=(libbpf1)
  command -v bpftool >/dev/null 2>&1 || [ -x /usr/sbin/bpftool ] || missing+=(bpftool)
  command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
  command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)         # Calico nftables testbed
  command -v go >/dev/null 2>&1 || [ -x /usr/lib/go/bin/go ] || missing+=(golang-go)    # Cilium gob golden bytes
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      droptrace_die "missing Debian packages: ${missing[*]} (run as root, or apt-get install ${missing[*]})"
    fi
    command -v apt-get >/dev/null 2>&1 || droptrace_die "missing packages ${missing[*]} and no apt-get to install them"
    echo "droptrace: installing ${missing[*]} ..." >&2
    apt-get update -qq >&2 || droptrace_die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 \
      || droptrace_die "apt-get install ${missing[*]} failed"
  fi
  export PATH="$PATH:/usr/sbin:/sbin"
}

droptrace_setup() {
  droptrace_find_jdk
  droptrace_packages
}
