#!/usr/bin/env bash
#
# sessions.sh — session throughput and latency, with redis-benchmark.
#
#   bench/sessions.sh [--no-build] [--clean] [--login-n N] [--create-n N] [--check-n N]
#
# One run:
#   1. builds the release rbacd (build-bench/, CMAKE_BUILD_TYPE=Release);
#   2. starts a private MariaDB in build-bench/sessdb (port $DB_PORT, default 3463) with
#      its default durability (innodb_flush_log_at_trx_commit = 1: one fsync per
#      commit, which is what group commit saves), loads the schema and the demo data
#      into database bench_sessions;
#   3. starts rbacd on it (port $RBACD_PORT, default 6463) and measures:
#        LOGIN          SESSION LOGIN demo admin admin123 (bcrypt $2b$, cost 10), 8
#                       clients: password checks per second, latency
#        CREATE c=1     SESSION CREATE 1 2 from one client: one commit per session
#        CREATE c=50    the same from 50 clients: writes share commits (group commit);
#                       the average batch comes from INFO sessions
#        GET, CANMENU   SESSION GET / SESSION CANMENU <token> sys:user:add, 50 clients
#                       (answered from memory)
#        CANMENU p99    SESSION CANMENU from one client, alone and while 8 clients log
#                       in without pause (the password checks compete for the CPU)
#   4. prints the table; everything started is stopped on exit (the MariaDB data
#      directory stays unless --clean).
#
# Every SESSION CREATE / LOGIN here is for the same user, so each one past the 20th
# also revokes the user's oldest session in the same transaction.
#
# Environment: DB_PORT, RBACD_PORT, BUILD_DIR (default build-bench).

set -euo pipefail

BENCH_NAME=sessions.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
BUILD=${BUILD_DIR:-$ROOT/build-bench}
DATADIR=$BUILD/sessdb
DB_PORT=${DB_PORT:-3463}
RBACD_PORT=${RBACD_PORT:-6463}
DBNAME=bench_sessions
LOGIN_N=400       # logins in the LOGIN run
LOGIN_CLIENTS=8   # clients logging in
CREATE_N=50000    # sessions in the CREATE c=50 run
CREATE_SERIAL_N=3000
CHECK_N=300000    # GET / CANMENU requests in the throughput runs
P99_N=30000       # CANMENU requests in each latency run
BUILD_IT=1
CLEAN=0

usage() {
    sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    --no-build) BUILD_IT=0 ;;
    --clean) CLEAN=1 ;;
    --login-n) LOGIN_N=$2 && shift ;;
    --create-n) CREATE_N=$2 && shift ;;
    --check-n) CHECK_N=$2 && shift ;;
    -h | --help) usage ;;
    *) echo "sessions.sh: unknown argument: $1" >&2 && usage ;;
    esac
    shift
done

bench_need_tools mariadb mariadbd mariadb-install-db redis-cli redis-benchmark cmake

# --- clean-up ------------------------------------------------------------------------
RBACD_PID=
LOAD_PID=
BENCH_STOP=(LOAD_PID RBACD_PID)
BENCH_CLEAN=$CLEAN
BENCH_TMP=$(mktemp -d /tmp/sessions-bench.XXXXXX)
TMP=$BENCH_TMP
bench_traps

# --- 1. build ------------------------------------------------------------------------
if ((BUILD_IT)); then
    bench_build "$BUILD" "$TMP/cmake.log"
fi
RBACD_BIN=$BUILD/rbacd
[[ -x $RBACD_BIN ]] || die "no $RBACD_BIN"

# --- 2. MariaDB and the demo data ----------------------------------------------------
bench_db_start "$DATADIR" "$DB_PORT"
SOCK=$BENCH_SOCK
"$ROOT/scripts/db.sh" load "$DATADIR" "$DBNAME" --demo 2>&1 | sed 's/^/  /' >&2
FLUSH=$("$ROOT/scripts/db.sh" sql "$DATADIR" -N -e "SELECT @@innodb_flush_log_at_trx_commit")

# --- 3. rbacd ------------------------------------------------------------------------
port_busy "$RBACD_PORT" && die "port $RBACD_PORT is taken (set RBACD_PORT)"
"$RBACD_BIN" "$ROOT/conf/rbacd.conf" --port "$RBACD_PORT" --db-socket "$SOCK" \
    --db-name "$DBNAME" --db-user rbacd --db-password rbacd --loglevel notice \
    --logfile "$TMP/rbacd.log" --slowlog-log-slower-than -1 &
RBACD_PID=$!
cli() { redis-cli -p "$RBACD_PORT" "$@"; }
bench_wait_loaded "$RBACD_PORT" "$RBACD_PID" "$TMP/rbacd.log" 20
info() { cli INFO sessions | tr -d '\r' | sed -n "s/^$1://p"; }

# bench NAME CLIENTS N COMMAND...: one redis-benchmark run; appends a table row.
ROWS=()
bench() {
    local name=$1 c=$2 n=$3
    shift 3
    local line
    line=$(redis-benchmark -p "$RBACD_PORT" -c "$c" -n "$n" --csv "$@" | tail -n1 | tr -d '"')
    IFS=, read -r _ rps avg _ p50 _ p99 max <<<"$line"
    ROWS+=("$(printf '%-34s %4s %10s %9s %9s %9s %9s' "$name" "$c" "$rps" "$avg" "$p50" "$p99" "$max")")
    note "$name: $rps requests/s, p99 $p99 ms"
}

# --- 4. the runs ---------------------------------------------------------------------
note "LOGIN (bcrypt cost 10), $LOGIN_CLIENTS clients"
bench "SESSION LOGIN (bcrypt cost 10)" "$LOGIN_CLIENTS" "$LOGIN_N" SESSION LOGIN demo admin admin123

note "CREATE from one client"
w0=$(info session_writes) c0=$(info group_commits)
bench "SESSION CREATE, one client" 1 "$CREATE_SERIAL_N" SESSION CREATE 1 2
w1=$(info session_writes) c1=$(info group_commits)
note "CREATE from 50 clients"
bench "SESSION CREATE, 50 clients" 50 "$CREATE_N" SESSION CREATE 1 2
w2=$(info session_writes) c2=$(info group_commits)
BATCH1=$(awk -v w=$((w1 - w0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.1f", c ? w / c : 0 }')
BATCH50=$(awk -v w=$((w2 - w1)) -v c=$((c2 - c1)) 'BEGIN { printf "%.1f", c ? w / c : 0 }')

TOKEN=$(cli SESSION CREATE 1 2)
[[ ${#TOKEN} == 43 ]] || die "SESSION CREATE did not return a token: $TOKEN"
bench "SESSION GET (memory)" 50 "$CHECK_N" SESSION GET "$TOKEN"
bench "SESSION CANMENU (memory)" 50 "$CHECK_N" SESSION CANMENU "$TOKEN" sys:user:add
bench "SESSION CANMENU, alone" 1 "$P99_N" SESSION CANMENU "$TOKEN" sys:user:add

note "CANMENU while $LOGIN_CLIENTS clients log in"
redis-benchmark -p "$RBACD_PORT" -c "$LOGIN_CLIENTS" -n 1000000 -q \
    SESSION LOGIN demo admin admin123 >/dev/null 2>&1 &
LOAD_PID=$!
sleep 1
logins0=$(info logins_ok)
t0=$(date +%s%3N)
bench "SESSION CANMENU, during logins" 1 "$P99_N" SESSION CANMENU "$TOKEN" sys:user:add
t1=$(date +%s%3N)
logins1=$(info logins_ok)
stop_pid "$LOAD_PID" "login load"
LOAD_PID=
DURING=$(awk -v n=$((logins1 - logins0)) -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms ? n * 1000 / ms : 0 }')

# --- 5. the table --------------------------------------------------------------------
CPUS=$(nproc)
echo
echo "rbacd sessions — $(date -u '+%Y-%m-%d %H:%M UTC'), $CPUS CPUs, MariaDB innodb_flush_log_at_trx_commit=$FLUSH"
printf '%-34s %4s %10s %9s %9s %9s %9s\n' test c 'req/s' 'avg ms' 'p50 ms' 'p99 ms' 'max ms'
printf '%s\n' "${ROWS[@]}"
echo
echo "group commit: $BATCH1 writes per commit with one client, $BATCH50 with 50"
echo "logins completed during the CANMENU latency run: $DURING per second"
echo "password checkers: $(info session_hash_threads) threads (niced); sessions live: $(info sessions_live)"
