#!/usr/bin/env bash
# Every benchmark under bench/ in its quick mode, one after the other, each under
# $BENCH_LOCK (a flock file) when set; then one table of the ratio lines each printed
# (ours against its baseline, measured in the same run). Every full output is kept.
#
#   bash bench/run_all.sh                  # all of them (~25 min on the 2-core machine)
#   bash bench/run_all.sh get_run proxy    # only those whose name contains a word given
#   BENCH_OUT=/tmp/b bash bench/run_all.sh # where the outputs go (default: a new temp dir)
#
# Left out: bench.chaos (faults and soak, minutes each even with --quick; run it alone),
# bench.bootstrap and bench.daprd_build (they rebuild the toolchain from clean clones).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh >/dev/null
out="${BENCH_OUT:-$(mktemp -d -t dursor-bench-XXXXXX)}"
mkdir -p "$out"
lock="${BENCH_LOCK:-}"  # a lock file shared with other benchmarking work, if any

# name | command (quick settings)
BENCHES=(
  "get_run_16|python -m bench.run_api_get_run --duration 5 --connections 16 --blocks 2"
  "get_run_1|python -m bench.run_api_get_run --duration 5 --connections 1 --blocks 2"
  "proxy_clients|python -m bench.proxy_clients --quick"
  "sse_fanout|python -m bench.sse_fanout --clients 1000 --seconds 5 --replay 1000"
  "submit_to_running|python -m bench.submit_to_running --runs 20 --block 10 --warmup 2"
  "password_hashing|python -m bench.password_hashing --logins 16"
  "command_jail|python -m bench.command_jail --rounds 10"
  "sandbox|python -m bench.sandbox --rounds 10"
  "run_repos|python -m bench.run_repos --rounds 5 --files 500"
  "pg_statements|python -m bench.pg_statements --rounds 1"
)

wanted() {
  [[ $# -le 1 ]] && return 0
  local name="$1"; shift
  for word in "$@"; do [[ "$name" == *"$word"* ]] && return 0; done
  return 1
}

declare -A status
for entry in "${BENCHES[@]}"; do
  name="${entry%%|*}"; command="${entry#*|}"
  wanted "$name" "$@" || continue
  echo "== $name: $command (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  # shellcheck disable=SC2086 # the command is split into words on purpose
  if [[ -e "$lock" ]]; then
    flock "$lock" uv run --frozen $command >"$out/$name.txt" 2>&1
  else
    uv run --frozen $command >"$out/$name.txt" 2>&1
  fi
  status[$name]=$?
done

printf '\n%-20s %-6s %s\n' "benchmark" "exit" "ratios it printed (ours/baseline unless it says otherwise)"
for entry in "${BENCHES[@]}"; do
  name="${entry%%|*}"
  [[ -n "${status[$name]+set}" ]] || continue
  ratios="$(grep -iE 'ratio|ours/' "$out/$name.txt" | grep -v '^{' | head -6 \
    | sed 's/^[[:space:]]*//' | paste -sd ';' -)"
  printf '%-20s %-6s %s\n' "$name" "${status[$name]}" "${ratios:-(none printed: see $out/$name.txt)}"
done
echo "full outputs: $out"
