#!/usr/bin/env bash
# A/B of produce latency at 10k records/s, acks=all, RF 3, 3 partitions, 100-byte records.
# Usage: scripts/bench/latency-ab.sh ROUNDS TREE_A [TREE_B ...]  (each TREE a built checkout of runnel)
# Every round runs each variant once, in turn, on a fresh cluster, so slow and fast hours of a shared
# machine fall on every variant alike. A tree may be named twice to compare flags on one build:
# extra bench flags come from $BENCH_FLAGS_<index> (0-based position in the list), extra daemon
# Node flags from $DAEMON_NODE_OPTIONS_<index>, e.g. DAEMON_NODE_OPTIONS_1=--max-semi-space-size=16.
# It prints each run's figures, the CPU the three brokers used during the bench and the client's
# CPU; CLIENT_NODE_FLAGS go to the bench client's node (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
# Run it under the shared port lock: flock /tmp/runnel-ports.lock scripts/bench/latency-ab.sh 3 /tmp/a /work/wt-perf
set -euo pipefail
rounds=$1; shift
B=127.0.0.1:9092
# utime + stime of the given pids, in clock ticks: CPU per run is steadier than latency on a shared machine.
broker_cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$total"
}
for ((round = 1; round <= rounds; round++)); do
  index=0
  for tree in "$@"; do
    work=$(mktemp -d /tmp/runnel-ab.XXXXXX)
    opts_var="DAEMON_NODE_OPTIONS_${index}"
    flags_var="BENCH_FLAGS_${index}"
    (cd "$work" && NODE_OPTIONS="${!opts_var:-}" node "$tree/scripts/dev-cluster.mjs" up > "$work/up.log")
    R="node $tree/packages/cli/bin/runnel.mjs"
    for attempt in 1 2 3 4 5; do $R topics create --bootstrap-server $B --topic b3 --partitions 3 --replication-factor 3 > /dev/null 2>&1 && break; sleep 1; done
    pids=$(cat "$work"/data/node-*/runnel.pid)
    cpu_before=$(broker_cpu_ticks $pids)
    result=$(TIMEFORMAT='%U %S' && { time node ${CLIENT_NODE_FLAGS:-} $tree/packages/cli/bin/runnel.mjs bench produce --bootstrap-server $B --topic b3 --num-records 50000 --acks all --throughput 10000 \
      --records-per-send "${RECORDS_PER_SEND:-10}" --warmup-records 20000 ${!flags_var:-} 2>/dev/null | tail -1; } 2>&1)
    client_cpu_ms=$(echo "$result" | tail -1 | awk '{printf "%d", ($1 + $2) * 1000}')
    result=$(echo "$result" | head -1)
    cpu_ms=$(( ($(broker_cpu_ticks $pids) - cpu_before) * 1000 / $(getconf CLK_TCK) ))
    echo "round $round tree $index ($tree ${!opts_var:-} ${!flags_var:-}): $result; brokers' CPU ${cpu_ms} ms, client's CPU ${client_cpu_ms} ms"
    (cd "$work" && node "$tree/scripts/dev-cluster.mjs" down > /dev/null)
    rm -rf "$work"
    index=$((index + 1))
  done
done
