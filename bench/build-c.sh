#!/usr/bin/env bash
# Builds the throughput harness's C tools (dropgen, rawdrain, reasononly) into bench/target/c.
# Run by bench/throughput.sh; not part of the Maven build, so CI does not need a C toolchain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/src/main/c out=$here/target/c
mkdir -p "$out"
cc=${CC:-$(command -v cc || command -v gcc || command -v clang)}
[ -n "$cc" ] || { echo "build-c: no C compiler (apt-get install gcc or clang)" >&2; exit 1; }
[ -r /usr/include/bpf/libbpf.h ] || { echo "build-c: libbpf headers missing (apt-get install libbpf-dev)" >&2; exit 1; }
build() { # name, extra flags
  local name=$1; shift
  if [ ! -x "$out/$name" ] || [ "$src/$name.c" -nt "$out/$name" ]; then
    "$cc" -O2 -Wall -Wextra -Werror -o "$out/$name" "$src/$name.c" "$@"
  fi
}
build dropgen
build rawdrain -lbpf -lelf -lz
build reasononly -lbpf -lelf -lz
