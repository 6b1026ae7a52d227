#!/usr/bin/env bash
# Compiles the native module's test BPF programs (src/test/bpf/*.bpf.c) into target/test-classes.
# Missing tools are a warning, not a failure: the kernel tests then skip, naming what is missing,
# so the module still builds on machines without clang or BTF.
set -euo pipefail
src=$1 out=$2 inc=$3
mkdir -p "$out" "$inc"
missing=""
for tool in clang bpftool; do
  command -v "$tool" >/dev/null || missing="$missing $tool"
done
[ -r /usr/include/bpf/bpf_helpers.h ] || missing="$missing libbpf-dev"
[ -r /sys/kernel/btf/vmlinux ] || missing="$missing /sys/kernel/btf/vmlinux"
if [ -n "$missing" ]; then
  echo "native test BPF: not compiled, missing:$missing (apt-get install clang llvm libbpf-dev bpftool)" >&2
  echo "missing:$missing" > "$out/bpf-build-skipped.txt"
  exit 0
fi
rm -f "$out/bpf-build-skipped.txt"
btf=/sys/kernel/btf/vmlinux
if [ ! -s "$inc/vmlinux.h" ] || [ "$btf" -nt "$inc/vmlinux.h" ]; then
  bpftool btf dump file "$btf" format c > "$inc/vmlinux.h.tmp" && mv "$inc/vmlinux.h.tmp" "$inc/vmlinux.h"
fi
arch=$(uname -m); case "$arch" in x86_64) tarch=x86;; aarch64) tarch=arm64;; *) tarch=$arch;; esac
for c in "$src"/*.bpf.c; do
  name=$(basename "$c" .c)
  if [ ! -s "$out/$name.o" ] || [ -n "$(find "$src" -newer "$out/$name.o" -type f | head -1)" ]; then
    clang -g -O2 -target bpf -D__TARGET_ARCH_$tarch -Wall -Werror \
      -I"$inc" -I"$src" -c "$c" -o "$out/$name.o"
  fi
done
