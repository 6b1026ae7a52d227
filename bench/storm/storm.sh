#!/usr/bin/env bash
# Drop storm of one flow at full rate against a running agent (the issue's "60 s storm").
#
#   sudo bench/storm/storm.sh [SECONDS] [agent options...]     e.g. bench/storm/storm.sh 60
#                                                                   bench/storm/storm.sh 10 --no-aggregate
# Makes two network namespaces joined by a veth pair (10.248.0.1 -> 10.248.0.2), drops UDP port
# 9999 in the second with iptables, runs `droptrace agent` on a fresh journal, floods the one flow
# with sendmmsg (bench/src/main/c/dropgen.c) for SECONDS, stops the agent (which flushes pending flow
# counts), and reports: drops (the rule's counter), the journal's summed count and record count for
# the flow, their difference (must be 0), the agent's loss counters, agent CPU seconds (whole run
# and during the storm), peak RSS (VmHWM) and the journal's size. Removes everything it made
# (KEEP=1 keeps the journal).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
seconds=${1:-60}
[ $# -gt 0 ] && shift
agent_opts=("$@")
[ "$(id -u)" = 0 ] || { echo "storm: needs root (BPF, namespaces, iptables)" >&2; exit 1; }
for tool in ip iptables clang python3; do command -v $tool >/dev/null || { echo "storm: $tool is missing" >&2; exit 1; }; done

tag=dtstorm$$
cns=$tag-c sns=$tag-s
work=$(mktemp -d /tmp/droptrace-storm.XXXXXX)
journal=$work/journal
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; fi
  ip netns del "$cns" 2>/dev/null || true
  ip netns del "$sns" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "storm: journal kept in $journal" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

bash "$root/bench/build-c.sh" # dropgen, the throughput harness's flooder
# Build this checkout. The agent jar finds the other modules in agent/target/lib, which Maven does
# not overwrite with an older file: remove them first, so another checkout's snapshot (worktrees
# share ~/.m2) can never stand in for this one's BPF object.
rm -f "$root"/agent/target/lib/droptrace-*.jar
(cd "$root" && ./mvnw -q -B -o -DskipTests install -pl bpf,native,agent >&2) || { echo "storm: build failed" >&2; exit 1; }
# run the built jar directly, with the launcher's JVM flags
jar="$root/agent/target/droptrace-agent.jar"
java="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
dt=("$java" --sun-misc-unsafe-memory-access=allow -XX:+UseSerialGC -Xss512k -Dchronicle.analytics.disable=true -jar "$jar")

ip netns add "$cns"; ip netns add "$sns"
ip link add "${tag}a" type veth peer name "${tag}b"
ip link set "${tag}a" netns "$cns"; ip link set "${tag}b" netns "$sns"
ip -n "$cns" link set "${tag}a" name eth0; ip -n "$sns" link set "${tag}b" name eth0
ip -n "$cns" addr add 10.248.0.1/24 dev eth0; ip -n "$sns" addr add 10.248.0.2/24 dev eth0
for ns in "$cns" "$sns"; do ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up; done
ip netns exec "$sns" iptables -A INPUT -p udp --dport 9999 -j DROP
# a static neighbour, so no datagram waits for (or is dropped by) address resolution
mac=$(ip -n "$sns" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
ip -n "$cns" neigh replace 10.248.0.2 lladdr "$mac" dev eth0 nud permanent
netns_inode=$(stat -L -c %i "/run/netns/$sns")

"${dt[@]}" agent --journal "$journal" --node storm "${agent_opts[@]}" 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 600); do
  grep -q '"attached"' "$journal/agent-status.json" 2>/dev/null && break
  kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.log" >&2; exit 1; }
  sleep 0.1
done
grep -q '"attached"' "$journal/agent-status.json" || { echo "storm: agent did not attach" >&2; cat "$work/agent.log" >&2; exit 1; }

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
cpu_before=$(cpu_ticks)
echo "storm: flooding 10.248.0.1:41000 -> 10.248.0.2:9999 (UDP, dropped by iptables) for ${seconds}s ..." >&2
# 32-byte datagrams in sendmmsg batches of 64, from the fixed source port 41000
sent=$(ip netns exec "$cns" "$root/bench/target/c/dropgen" 10.248.0.2 9999 "$seconds" 32 64 41000 | sed -n 's/^sent=\([0-9]*\).*/\1/p')
cpu_storm=$(cpu_ticks)
sleep 3   # the last aggregation interval flushes (the shutdown flush would catch it anyway)
cpu_end=$(cpu_ticks)
hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$agent_pid/status")
rss=$(awk '/VmRSS/ {print $2, $3}' "/proc/$agent_pid/status")
drops=$(ip netns exec "$sns" iptables -nvxL INPUT | awk '$3 == "DROP" && /dpt:9999/ {print $1; exit}')
kill -TERM "$agent_pid"; wait "$agent_pid" || true
agent_pid=

"${dt[@]}" observe --journal "$journal" -o json --netns "$netns_inode" > "$work/flow.json"
"${dt[@]}" status --journal "$journal" -o json > "$work/status.json"
python3 - "$work/flow.json" "$work/status.json" "$drops" "$sent" "$seconds" "$cpu_before" "$cpu_storm" "$cpu_end" "$tck" "$hwm" "$rss" <<'PY'
import json, sys
flow, status, drops, sent, seconds, c0, c1, c2, tck, hwm, rss = sys.argv[1:]
recs = [json.loads(l) for l in open(flow) if l.strip()]
ours = [r for r in recs if r.get("src_port") == 41000 and r.get("dst_port") == 9999 and r.get("protocol") == "UDP"
        and r.get("reason") == "NETFILTER_DROP"]
summed = sum(r.get("count", 1) for r in ours)
st = json.load(open(status))
drops, sent, seconds, tck = int(drops), int(sent), float(seconds), int(tck)
c0, c1, c2 = int(c0), int(c1), int(c2)
ag = st.get("aggregation", {})
print(f"datagrams sent            {sent}")
print(f"drops (iptables counter)  {drops}   ({drops / seconds:,.0f}/s)")
print(f"journal summed count      {summed}")
print(f"difference                {summed - drops}")
print(f"journal records (flow)    {len(ours)}   (ratio {drops / max(1, len(ours)):,.0f} drops/record)")
print(f"aggregation               {'every ' + ag['interval'] if ag.get('enabled') else 'off'}")
print(f"lost in ring              {st.get('lost')}   decode errors {st.get('decode_errors')}   journal errors {st['journal_errors']['records']}   evicted files {st['evicted']['files']}")
print(f"agent CPU during storm    {(c1 - c0) / tck:.2f} s over {seconds:.0f} s  ({100.0 * (c1 - c0) / tck / seconds:.1f} % of a core)")
print(f"agent CPU whole run       {c2 / tck:.2f} s (JVM start, attach, storm, flush)")
print(f"agent peak RSS (VmHWM)    {hwm}   (VmRSS at end {rss})")
print(f"journal size              {st['journal']['bytes']} bytes, {st['journal']['events']} events for {st['journal']['drops']} drops (all flows)")
sys.exit(0 if summed == drops else 1)
PY
