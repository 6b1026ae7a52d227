#!/usr/bin/env bash
# Compiles bench/src/main/bpf/*.bpf.c (the RingDrainBenchmark producer) into bench/target/bpf with
# the bpf module's script. Run before the benchmark; not part of the Maven build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../bpf/build-bpf.sh" "$here/src/main/bpf" "$here/target/bpf" "$here/target/bpf-include"
