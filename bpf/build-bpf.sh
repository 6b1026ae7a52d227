#!/usr/bin/env bash
# Compiles every bpf/src/main/bpf/*.bpf.c into a CO-RE BPF object with clang.
# vmlinux.h is generated from this machine's BTF; CO-RE relocations make the object run on any
# kernel with BTF, so the build machine's kernel only has to have BTF itself.
set -euo pipefail
src=$1 out=$2 inc=$3
mkdir -p "$out" "$inc"
for tool in clang bpftool; do
  command -v "$tool" >/dev/null || { echo "build-bpf: $tool is missing (apt-get install clang llvm libbpf-dev bpftool)" >&2; exit 1; }
done
[ -r /usr/include/bpf/bpf_helpers.h ] || { echo "build-bpf: libbpf headers missing (apt-get install libbpf-dev)" >&2; exit 1; }
btf=/sys/kernel/btf/vmlinux
[ -r "$btf" ] || { echo "build-bpf: $btf is missing: this kernel has no BTF" >&2; exit 1; }
if [ ! -s "$inc/vmlinux.h" ] || [ "$btf" -nt "$inc/vmlinux.h" ]; then
  bpftool btf dump file "$btf" format c > "$inc/vmlinux.h.tmp" && mv "$inc/vmlinux.h.tmp" "$inc/vmlinux.h"
fi
arch=$(uname -m); case "$arch" in x86_64) tarch=x86;; aarch64) tarch=arm64;; *) tarch=$arch;; esac
# Programs at the top level, and test fixtures (programs that write CNI formats) under fixtures/,
# land in the same relative place under $out.
for c in "$src"/*.bpf.c "$src"/fixtures/*.bpf.c; do
  [ -e "$c" ] || continue
  rel=${c#"$src"/}
  obj="$out/${rel%.c}.o"
  mkdir -p "$(dirname "$obj")"
  if [ ! -s "$obj" ] || [ -n "$(find "$src" -newer "$obj" -type f | head -1)" ]; then
    clang -g -O2 -target bpf -D__TARGET_ARCH_$tarch -Wall -Werror -Wno-unused-function \
      -I"$inc" -I"$src" -c "$c" -o "$obj"
    # strip DWARF but keep BTF (.BTF / .BTF.ext), which CO-RE and our layout test need
    llvm-strip -g "$obj" 2>/dev/null || true
  fi
done
