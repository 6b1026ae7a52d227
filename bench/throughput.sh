#!/usr/bin/env bash
# Throughput harness (issue 4): how many drops/s the datapath sustains with the kfree_skb tracer
# attached, and how many of the resulting records a consumer captures, for
#   (a) no tracer, (r) the minimal reason-only tracer (bench/src/main/bpf/reason_only.bpf.c: a per-CPU
#   counter per reason, nothing else; DESIGN.md section 7's reference), (b) the raw C libbpf consumer
#   (bench/src/main/c/rawdrain.c) of the agent's own program, (c) the droptrace agent,
# each on the same pair of network namespaces, the same UDP flood (bench/src/main/c/dropgen.c, one
# sender, sendmmsg batches) and the same iptables DROP rule.
#
# usage: sudo bench/throughput.sh [SECONDS (default 10)] [ROUNDS (default 1)]
# env:   SENDER_CPU (default 1) and CONSUMER_CPU (default 0): taskset pinning, empty for none;
#        PAYLOAD (default 64) bytes per datagram; BATCH (default 64) datagrams per sendmmsg;
#        SUBNET (default 10.230.1): the /24 the two namespaces share;
#        JOURNAL_BASE (default /tmp): where the agent's journal directory is made (its file system matters);
#        AGENT_JAVA_OPTS: extra JVM options for the agent (e.g. -Ddroptrace.kernel.drainIntervalMs=10);
#        AGENT_ARGS (default --no-aggregate, a record per drop like the raw consumer): agent options;
#        AGENT_ARGS="" runs it with per-flow aggregation (the default of droptrace agent);
#        RAW_INTERVAL_MS (default 10, the agent's drain interval): the raw consumer's ring_buffer__poll timeout;
#        CONTROL=1 adds a control phase: untraced, with a busy loop pinned to the consumer CPU (how much
#        any CPU use there slows the sender on this machine);
#        BPF_STATS=1 turns on kernel.bpf_stats_enabled for the run (restored after) and reports each
#        tracer's run count and nanoseconds per run (the kernel's own accounting; it adds two clock
#        reads per run to every phase, so drops/s are lower than without it).
# Needs root, cc, libbpf-dev, iproute2, iptables, and a built tree (./mvnw -q -B -o install -DskipTests).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/scripts/setup.sh"
droptrace_find_jdk
secs=${1:-10}
rounds=${2:-1}
sender_cpu=${SENDER_CPU-1}
consumer_cpu=${CONSUMER_CPU-0}
payload=${PAYLOAD:-64}
batch=${BATCH:-64}
subnet=${SUBNET:-10.230.1}
port=9999
[ "$(id -u)" = 0 ] || droptrace_die "throughput.sh needs root (namespaces, iptables, BPF)"

obj=$root/bpf/target/classes/dev/droptrace/bpf/kfree_skb.bpf.o
jar=$root/agent/target/droptrace-agent.jar
if [ ! -f "$obj" ] || [ ! -f "$jar" ]; then
  echo "building droptrace (./mvnw -q -B -o install -DskipTests) ..." >&2
  (cd "$root" && ./mvnw -q -B -o install -DskipTests >&2)
fi
bash "$root/bench/build-c.sh"
dropgen=$root/bench/target/c/dropgen
rawdrain=$root/bench/target/c/rawdrain
reasononly=$root/bench/target/c/reasononly
reason_obj=$root/bench/target/bpf/reason_only.bpf.o
if [ ! -f "$reason_obj" ] || [ "$root/bench/src/main/bpf/reason_only.bpf.c" -nt "$reason_obj" ]; then
  bash "$root/bench/build-bpf.sh" >&2
fi

pin() { if [ -n "$1" ]; then echo "taskset -c $1"; fi; }
sender_pin=$(pin "$sender_cpu")
consumer_pin=$(pin "$consumer_cpu")

# --- namespaces, always removed ----------------------------------------------------------------
tag=$$
nsa=dtbench-$tag-tx nsb=dtbench-$tag-rx
work=$(mktemp -d /tmp/droptrace-bench.XXXXXX)
consumer_pid=""
cleanup() {
  if [ -n "$consumer_pid" ] && kill -0 "$consumer_pid" 2>/dev/null; then
    kill "$consumer_pid" 2>/dev/null || true
    wait "$consumer_pid" 2>/dev/null || true
  fi
  ip netns del "$nsa" 2>/dev/null || true
  ip netns del "$nsb" 2>/dev/null || true
  rm -rf "$work"
  if [ -n "${journal:-}" ]; then rm -rf "$journal"; fi
  if [ -n "${stats_before:-}" ]; then sysctl -q -w kernel.bpf_stats_enabled="$stats_before" || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BPF_STATS:-0}" = 1 ]; then
  stats_before=$(sysctl -n kernel.bpf_stats_enabled)
  sysctl -q -w kernel.bpf_stats_enabled=1
fi
cost_row() { # tracer run_cnt run_time_ns -> a row of the BPF cost table (ns per run "-" without stats)
  printf '%-5s %-12s %12s %10s' "$round" "$1" "${2:--}" \
    "$(awk -v c="${2:-0}" -v t="${3:-0}" 'BEGIN {if (c > 0 && t > 0) printf "%.1f", t / c; else print "-"}')"
}
kv() { sed -n "s/^$1=//p" "$2"; } # a key=value line of a C tool's output

ip netns add "$nsa"
ip netns add "$nsb"
ip link add "dtb$tag-a" netns "$nsa" type veth peer name "dtb$tag-b" netns "$nsb"
ip -n "$nsa" addr add "$subnet.1/24" dev "dtb$tag-a"
ip -n "$nsb" addr add "$subnet.2/24" dev "dtb$tag-b"
ip -n "$nsa" link set lo up
ip -n "$nsb" link set lo up
ip -n "$nsa" link set "dtb$tag-a" up
ip -n "$nsb" link set "dtb$tag-b" up
ip netns exec "$nsb" iptables -A INPUT -p udp --dport $port -j DROP
# resolve the neighbour before measuring, so no datagram waits on ARP
ip netns exec "$nsa" "$root/bench/target/c/dropgen" "$subnet.2" $port 0.2 >/dev/null

rule_counter() { # packets matched by the DROP rule
  ip netns exec "$nsb" iptables -nvxL INPUT | awk -v p="dpt:$port" '$0 ~ p {print $1; exit}'
}
cpu_ticks() { # "utime stime" of a process, in clock ticks
  awk '{print $14, $15}' "/proc/$1/stat"
}
cpu_text() { # "utime stime" before and after -> "total (sys)" seconds; sets cpu_s
  local a=($1) b=($2)
  cpu_s=$(awk -v u=$((b[0] - a[0])) -v s=$((b[1] - a[1])) -v hz="$hz" 'BEGIN {printf "%.2f", (u + s) / hz}')
  cpu_sys=$(awk -v s=$((b[1] - a[1])) -v hz="$hz" 'BEGIN {printf "%.2f", s / hz}')
}
hz=$(getconf CLK_TCK)
json_num() { # top-level numeric field of agent-status.json
  sed -n "s/^  \"$2\" : \([0-9]*\).*/\1/p" "$1" | head -1
}

# Runs the flood for $secs s; sets drops, drops_per_s, sent, load_s.
flood() {
  local before after out
  before=$(rule_counter)
  out=$(ip netns exec "$nsa" $sender_pin "$dropgen" "$subnet.2" $port "$secs" "$payload" "$batch")
  after=$(rule_counter)
  sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out")
  load_s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
  drops=$((after - before))
  drops_per_s=$(awk -v d="$drops" -v s="$load_s" 'BEGIN {printf "%.0f", d / s}')
}

rows=()
summary=()
costs=()
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: ${secs}s per phase, sender cpu ${sender_cpu:-any}, consumer cpu ${consumer_cpu:-any}" >&2

  # (a) untraced
  flood
  untraced_rate=$drops_per_s
  rows+=("$(printf '%-5s %-9s %10s %9s %11s %11s %11s %5s %13s %8s %9s %7s' "$round" untraced "$drops" "$drops_per_s" - - - - - - - -)")

  if [ "${CONTROL:-0}" = 1 ]; then
    $consumer_pin sh -c 'while :; do :; done' &
    consumer_pid=$!
    flood
    kill "$consumer_pid"; wait "$consumer_pid" 2>/dev/null || true
    consumer_pid=""
    rows+=("$(printf '%-5s %-9s %10s %9s %11s %11s %11s %5s %13s %8s %9s %7s' "$round" busy-loop "$drops" "$drops_per_s" - - - - - - - -)")
  fi

  # (r) the minimal reason-only tracer
  out=$work/reasononly.out
  $consumer_pin "$reasononly" "$reason_obj" >"$out" 2>"$work/reasononly.err" &
  consumer_pid=$!
  for _ in $(seq 1 100); do grep -q '^attached' "$out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^attached' "$out" || { cat "$work/reasononly.err" >&2; droptrace_die "reasononly did not attach"; }
  sleep 1
  flood
  kill -INT "$consumer_pid"
  wait "$consumer_pid" || true
  consumer_pid=""
  reason_rate=$drops_per_s
  reason_seen=$(kv seen "$out")
  costs+=("$(cost_row reason-only "$(kv run_cnt "$out")" "$(kv run_time_ns "$out")")")
  rows+=("$(printf '%-5s %-9s %10s %9s %11s %11s %11s %5s %13s %8s %9s %7s' "$round" reason-only "$drops" "$drops_per_s" - - "$reason_seen" - - - - -)")

  # (b) raw C consumer
  out=$work/rawdrain.out
  RAWDRAIN_INTERVAL_MS=${RAW_INTERVAL_MS:-10} $consumer_pin "$rawdrain" "$obj" 0 "$subnet.2" $port >"$out" 2>"$work/rawdrain.err" &
  consumer_pid=$!
  for _ in $(seq 1 100); do grep -q '^attached' "$out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^attached' "$out" || { cat "$work/rawdrain.err" >&2; droptrace_die "rawdrain did not attach"; }
  sleep 1
  t0=$(cpu_ticks "$consumer_pid")
  flood
  sleep 0.5 # one more drain interval for the records still in the ring
  t1=$(cpu_ticks "$consumer_pid")
  kill -INT "$consumer_pid"
  wait "$consumer_pid" || true
  consumer_pid=""
  raw_events=$(sed -n 's/^events=//p' "$out")
  raw_flow=$(sed -n 's/^flow_events=//p' "$out")
  raw_lost=$(sed -n 's/^lost=//p' "$out")
  raw_seen=$(sed -n 's/^seen=//p' "$out")
  cpu_text "$t0" "$t1"; raw_cpu=$cpu_s raw_sys=$cpu_sys
  raw_rate=$drops_per_s raw_drops=$drops raw_load_s=$load_s
  raw_eps=$(awk -v e="$raw_flow" -v s="$load_s" 'BEGIN {printf "%.0f", e / s}')
  raw_cpu_per_s=$(awk -v c="$raw_cpu" -v s="$load_s" 'BEGIN {printf "%.3f", c / s}')
  raw_rss_kb=$(sed -n 's/^maxrss_kb=//p' "$out")
  costs+=("$(cost_row raw-C "$(kv run_cnt "$out")" "$(kv run_time_ns "$out")")")
  rows+=("$(printf '%-5s %-9s %10s %9s %11s %11s %11s %5s %13s %8s %9s %7s' "$round" raw-C "$drops" "$drops_per_s" "$raw_flow" "$raw_events" "$raw_seen" "$raw_lost" "$raw_cpu ($raw_sys)" "$raw_cpu_per_s" "$raw_eps" "$((raw_rss_kb / 1024))")")

  # (c) droptrace agent
  journal=$(mktemp -d "${JOURNAL_BASE:-/tmp}/droptrace-bench-journal.XXXXXX")
  $consumer_pin "$JAVA_HOME/bin/java" --sun-misc-unsafe-memory-access=allow -XX:+UseSerialGC -Xss512k \
    -Dchronicle.analytics.disable=true ${AGENT_JAVA_OPTS:-} -jar "$jar" agent --journal "$journal" ${AGENT_ARGS---no-aggregate} >"$work/agent.log" 2>&1 &
  consumer_pid=$!
  status=$journal/agent-status.json
  for _ in $(seq 1 300); do
    if [ -f "$status" ] && grep -q '"state" : "attached"' "$status"; then break; fi
    kill -0 "$consumer_pid" 2>/dev/null || { cat "$work/agent.log" >&2; droptrace_die "agent exited before attaching"; }
    sleep 0.1
  done
  grep -q '"state" : "attached"' "$status" || { cat "$work/agent.log" >&2; droptrace_die "agent did not attach in 30 s"; }
  sleep 1
  t0=$(cpu_ticks "$consumer_pid")
  flood
  sleep 0.5 # the agent drains every 10 ms; same margin as the raw consumer
  t1=$(cpu_ticks "$consumer_pid")
  sleep 2 # agent-status.json is rewritten once a second
  agent_events=$(json_num "$status" events)
  agent_lost=$(json_num "$status" lost)
  agent_seen=$(json_num "$status" kernel_drops)
  agent_rss_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$consumer_pid/status")
  if [ "${BPF_STATS:-0}" = 1 ]; then # the agent's program: the newest one of that name
    prog=$(bpftool -j prog show name kfree_skb_btf 2>/dev/null | grep -o '"id":[0-9]*[^}]*' | tail -1 || true)
    agent_runs=$(grep -o '"run_cnt":[0-9]*' <<<"$prog" | cut -d: -f2 || true)
    agent_run_ns=$(grep -o '"run_time_ns":[0-9]*' <<<"$prog" | cut -d: -f2 || true)
    costs+=("$(cost_row agent "$agent_runs" "$agent_run_ns")")
  fi
  kill -TERM "$consumer_pid"
  wait "$consumer_pid" || true
  consumer_pid=""
  cpu_text "$t0" "$t1"; agent_cpu=$cpu_s agent_sys=$cpu_sys
  # this flow's drops, summed from the journal itself (other drops on the machine are journaled too);
  # with aggregation on (AGENT_ARGS=""), records carry a repeat count, so sum "count", not lines
  agent_flow=$("$JAVA_HOME/bin/java" --sun-misc-unsafe-memory-access=allow -Dchronicle.analytics.disable=true -jar "$jar" \
    observe --journal "$journal" --to-ip "$subnet.2" --to-port $port -o json 2>/dev/null \
    | grep -o '"count":[0-9]*' | awk -F: '{s += $2} END {print s + 0}')
  rm -rf "$journal"
  agent_rate=$drops_per_s agent_drops=$drops
  agent_eps=$(awk -v e="$agent_flow" -v s="$load_s" 'BEGIN {printf "%.0f", e / s}')
  agent_cpu_per_s=$(awk -v c="$agent_cpu" -v s="$load_s" 'BEGIN {printf "%.3f", c / s}')
  rows+=("$(printf '%-5s %-9s %10s %9s %11s %11s %11s %5s %13s %8s %9s %7s' "$round" agent "$drops" "$drops_per_s" "$agent_flow" "$agent_events" "$agent_seen" "$agent_lost" "$agent_cpu ($agent_sys)" "$agent_cpu_per_s" "$agent_eps" "$((agent_rss_kb / 1024))")")

  summary+=("$(printf '%-5s %14s %14s %14s %16s %14s %10s %10s' "$round" \
    "$(awk -v a="$agent_rate" -v r="$raw_rate" 'BEGIN {printf "%.3f", a / r}')" \
    "$(awk -v a="$agent_rate" -v u="$untraced_rate" 'BEGIN {printf "%.3f", a / u}')" \
    "$(awk -v r="$raw_rate" -v m="$reason_rate" 'BEGIN {printf "%.3f", r / m}')" \
    "$(awk -v a="$agent_flow" -v r="$raw_flow" -v ad="$agent_drops" -v rd="$raw_drops" 'BEGIN {printf "%.4f", (a / ad) / (r / rd)}')" \
    "$(awk -v a="$agent_flow" -v d="$agent_drops" 'BEGIN {printf "%.4f", a / d}')" \
    "$((agent_lost + 0))" "$agent_cpu_per_s")")
done

echo
echo "drain interval: raw ${RAW_INTERVAL_MS:-10} ms, agent ${AGENT_JAVA_OPTS:-default (10 ms)}"
echo "agent journal on: $(df -T "${JOURNAL_BASE:-/tmp}" | awk 'NR == 2 {print $2}') (${JOURNAL_BASE:-/tmp})"
echo "throughput: $(nproc) CPUs, kernel $(uname -r), ${secs}s of load per phase, UDP payload ${payload} B, sendmmsg batch ${batch}, sender cpu ${sender_cpu:-any}, consumer cpu ${consumer_cpu:-any}"
printf '%-5s %-9s %10s %9s %11s %11s %11s %5s %13s %8s %9s %7s''\n' round consumer drops drops/s flow_events all_events kernel_seen lost "cpu_s (sys)" cpu_s/s events/s rss_MiB
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "headline (agent vs raw C consumer, same run):"
printf '%-5s %14s %14s %14s %16s %14s %10s %10s\n' round drops/s_ratio vs_untraced raw/reason_only capture_ratio flow_ev/drops agent_lost cpu_s/s
for s in "${summary[@]}"; do echo "$s"; done
if [ "${BPF_STATS:-0}" = 1 ]; then
  echo
  echo "BPF program cost (kernel.bpf_stats_enabled: runs of kfree_skb while attached, every skb freed, and ns per run):"
  printf '%-5s %-12s %12s %10s\n' round tracer runs ns/run
  for c in "${costs[@]}"; do echo "$c"; done
fi
echo
echo "drops: the DROP rule's packet counter over the load; flow_events: records of this flow the consumer got"
echo "(raw: counted in its callback; agent: counted in the journal with observe --to-ip --to-port);"
echo "all_events/kernel_seen/lost: every drop on the machine since the consumer attached (kernel_seen and lost"
echo "from the program's per-CPU counters); cpu_s: consumer CPU over the load plus 0.5 s, of it in the kernel;"
echo "events/s: flow_events / load seconds; capture_ratio: (agent flow_events/drops) / (raw flow_events/drops);"
echo "vs_untraced: agent drops/s / untraced drops/s; raw/reason_only: drops/s with the agent's program (raw consumer)"
echo "/ drops/s with the minimal reason-only tracer; rss_MiB: peak RSS (agent VmHWM, raw ru_maxrss)."
