#!/usr/bin/env bash
#
# ping.sh — PING throughput of rbacd next to redis-server, with redis-benchmark.
#
#   bench/ping.sh                 uses build/rbacd (the optimised build), or $RBACD_BIN
#
# rbacd runs without a database (its db-socket points nowhere): PING and the other
# connection commands are served while it keeps trying to load. redis-server runs with
# persistence off. Both listen on free loopback ports and are stopped on exit.
#
# Environment:
#   RBACD_BIN        server binary (default: <checkout>/build/rbacd)
#   BENCH_REQUESTS   requests per run (default 200000)
#   BENCH_CLIENTS    parallel connections (default 50, redis-benchmark's default)
#   BENCH_PIPELINE   the pipelined runs' depth (default 16)
#
# Prints a table: test, rbacd requests/s, redis requests/s, rbacd/redis.

set -euo pipefail

BENCH_NAME=ping.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
RBACD=${RBACD_BIN:-$ROOT/build/rbacd}
REQUESTS=${BENCH_REQUESTS:-200000}
CLIENTS=${BENCH_CLIENTS:-50}
PIPELINE=${BENCH_PIPELINE:-16}

[[ -x $RBACD ]] || die "no rbacd binary at $RBACD (build it: scripts/build.sh, or set RBACD_BIN)"
command -v redis-benchmark >/dev/null || die "redis-benchmark is missing: scripts/deps.sh --bench"
command -v redis-cli >/dev/null || die "redis-cli is missing: scripts/deps.sh --bench"
HAVE_REDIS=1
if ! command -v redis-server >/dev/null; then
    HAVE_REDIS=0
    echo "ping.sh: redis-server is missing, measuring rbacd alone." >&2
    echo "ping.sh: install it with: scripts/deps.sh --bench" >&2
fi

rbacd_pid=
redis_pid=
BENCH_STOP=(rbacd_pid redis_pid)
BENCH_TMP=$(mktemp -d /tmp/rbacd-bench.XXXXXX)
work=$BENCH_TMP
bench_traps

# ---- start the servers ----

rbacd_port=$(free_port)
"$RBACD" --bind 127.0.0.1 --port "$rbacd_port" --db-socket "$work/no-database.sock" \
    --loglevel warning --logfile "$work/rbacd.log" >"$work/rbacd.out" 2>&1 &
rbacd_pid=$!
bench_wait_ping "$rbacd_port" "$rbacd_pid" rbacd "$work/rbacd.out"

if ((HAVE_REDIS)); then
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$work" --logfile "$work/redis.log" >"$work/redis.out" 2>&1 &
    redis_pid=$!
    bench_wait_ping "$redis_port" "$redis_pid" redis-server "$work/redis.log"
fi

# ---- measure ----

# bench PORT [extra redis-benchmark options]: prints "TEST RPS" lines.
bench() {
    local port=$1
    shift
    redis-benchmark -h 127.0.0.1 -p "$port" -t ping -n "$REQUESTS" -c "$CLIENTS" -q "$@" 2>&1 |
        tr '\r' '\n' |
        sed -nE 's/^(PING_[A-Z]+): ([0-9.]+) requests per second.*/\1 \2/p'
}

declare -A rps_rbacd rps_redis
tests=()
for mode in plain pipelined; do
    opts=()
    suffix=
    if [[ $mode == pipelined ]]; then
        opts=(-P "$PIPELINE")
        suffix=" -P $PIPELINE"
    fi
    while read -r name rps; do
        rps_rbacd["$name$suffix"]=$rps
        tests+=("$name$suffix")
    done < <(bench "$rbacd_port" "${opts[@]}")
    if ((HAVE_REDIS)); then
        while read -r name rps; do
            rps_redis["$name$suffix"]=$rps
        done < <(bench "$redis_port" "${opts[@]}")
    fi
done
((${#tests[@]} > 0)) || die "redis-benchmark printed no results for rbacd"

kill -0 "$rbacd_pid" 2>/dev/null || die "rbacd died during the benchmark"

# ---- report ----

echo
echo "PING, $REQUESTS requests, $CLIENTS clients ($("$RBACD" --version), $(redis-benchmark --version 2>/dev/null | head -n1 | cut -d' ' -f1-2))"
printf '%-22s %14s %14s %8s\n' test "rbacd rps" "redis rps" ratio
for t in "${tests[@]}"; do
    a=${rps_rbacd[$t]}
    b=${rps_redis[$t]:-}
    if [[ -n $b ]]; then
        ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    else
        b=-
        ratio=-
    fi
    printf '%-22s %14s %14s %8s\n' "$t" "$a" "$b" "$ratio"
done
