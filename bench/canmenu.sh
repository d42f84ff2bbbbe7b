#!/usr/bin/env bash
#
# canmenu.sh — permission checks end to end, side by side with the references.
#
#   bench/canmenu.sh [--small] [--users N] [--tenants N] [--big-tenant N] [-n N] [-c N]
#                    [--regen] [--clean] [--perf] [--no-build]
#
# One run:
#   1. builds the release rbacd (build-bench/, CMAKE_BUILD_TYPE=Release);
#   2. starts a private MariaDB in build-bench/benchdb (port $DB_PORT, default 3461),
#      loads the schema and a data set made by bench/gen_data.py into the database
#      bench_<users>u_<tenants>t; a data set already there, made by the same
#      gen_data.py with the same parameters, is reused (--regen makes it again);
#   3. starts rbacd on it (port $RBACD_PORT, default 6461) and measures the first load:
#      wall time from exec to `loading:0`, the reported last_load_duration_ms, RSS
#      after the load (and the peak, VmHWM), and the model's own accounting
#      (INFO rbac model_bytes);
#   4. starts a redis-server (port $REDIS_PORT, default 6462) holding the SAME answers
#      as sets: menus:<tenant>:<user, 12 digits> = the codes of `MENUS 1 u CODES`, for
#      every user of tenant 1 (bench/refdata.py fill, which also checks on a sample
#      that CANMENU and SISMEMBER agree);
#   5. redis-benchmark -n N -c C, with -P 1 and -P 16, against both:
#        CANMENU 1 U sys:user:add        vs SISMEMBER menus:1:U sys:user:add
#        CANMENU 1 __rand_int__ m:10     vs SISMEMBER menus:1:__rand_int__ m:10   (-r K)
#        MENUS 1 U  /  MENUS 1 U CODES   vs SMEMBERS menus:1:U
#        MENUS 1 __rand_int__ CODES      vs SMEMBERS menus:1:__rand_int__        (-r K)
#      and one client without pipelining (-c 1) for the latency of a lone caller;
#   6. the same question as SQL: 2000 random CANMENU questions answered by MariaDB with
#      one statement each (a join over the tables, bench/refdata.py sql), timed per
#      query, and compared with rbacd's answers;
#   7. prints the table; everything started is stopped on exit (the MariaDB data stays
#      unless --clean).
#
# The random tests. redis-benchmark replaces each __rand_int__ with its own random
# number, so a command cannot carry a matching (tenant, user) pair drawn at random.
# The data set therefore has one big tenant: tenant 1 holds users 1..K (K = users/10
# unless --big-tenant), and the random tests ask `CANMENU 1 __rand_int__ ...` with
# -r K, i.e. about K different users of one tenant, each a real user of it (user 0
# does not exist and is denied, on both sides). The other tenants share users K+1..N
# evenly. U, the user of the fixed tests, is the first non-admin user of tenant 1
# allowed sys:user:add (so the answer comes from its roles).
#
# Sizes: default 1,000,000 users in 10,000 tenants; --small 100,000 users in 1,000.
# Environment: DB_PORT, RBACD_PORT, REDIS_PORT, BUILD_DIR (default build-bench).
#
# redis-server comes with `scripts/deps.sh --bench`.

# Variables named in lower case come from bench/refdata.py's key=value output.
# shellcheck disable=SC2154
set -euo pipefail

BENCH_NAME=canmenu.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
BUILD=${BUILD_DIR:-$ROOT/build-bench}
DATADIR=$BUILD/benchdb
DB_PORT=${DB_PORT:-3461}
RBACD_PORT=${RBACD_PORT:-6461}
REDIS_PORT=${REDIS_PORT:-6462}
PY=/usr/bin/python3

USERS=1000000
TENANTS=10000
BIG=
REQS=500000
CLIENTS=50
SQL_QUERIES=2000
SERIAL_REQS=20000
REGEN=0
CLEAN=0
PERF=0
BUILD_IT=1
FIXED_CODE=sys:user:add
RAND_CODE=m:10

usage() {
    sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    --small) USERS=100000 TENANTS=1000 ;;
    --users) USERS=$2 && shift ;;
    --tenants) TENANTS=$2 && shift ;;
    --big-tenant) BIG=$2 && shift ;;
    -n) REQS=$2 && shift ;;
    -c) CLIENTS=$2 && shift ;;
    --regen) REGEN=1 ;;
    --clean) CLEAN=1 ;;
    --perf) PERF=1 ;;
    --no-build) BUILD_IT=0 ;;
    -h | --help) usage ;;
    *) echo "canmenu.sh: unknown argument: $1" >&2 && usage ;;
    esac
    shift
done
[[ $USERS =~ ^[0-9]+$ && $TENANTS =~ ^[0-9]+$ ]] || die "bad --users/--tenants"
BIG=${BIG:-$((USERS / 10))}
DBNAME=bench_${USERS}u_${TENANTS}t
LOGDIR=$BUILD/bench-logs/$DBNAME # logs, raw CSV, perf data and the report of the last run
GEN_ARGS=(--tenants "$TENANTS" --users "$USERS" --menus 300 --roles-per-tenant 10
    --menus-per-role 40 --roles-per-user 2 --stores-per-user 3 --delegations 0.05
    --big-tenant-users "$BIG" --seed 1)

# --- tools ---------------------------------------------------------------------------
bench_need_tools mariadb mariadbd mariadb-install-db redis-cli redis-benchmark cmake
command -v redis-server >/dev/null 2>&1 ||
    die "redis-server is missing: scripts/deps.sh --bench installs it"
"$PY" -c 'import redis, pymysql' 2>/dev/null ||
    die "$PY needs python3-redis and python3-pymysql (scripts/deps.sh installs them)"

# --- clean-up ------------------------------------------------------------------------
RBACD_PID=
REDIS_PID=
PERF_PID=
DB_PERF_PID=
BENCH_STOP=(PERF_PID DB_PERF_PID RBACD_PID REDIS_PID)
BENCH_CLEAN=$CLEAN
BENCH_TMP=$(mktemp -d /tmp/canmenu.XXXXXX)
TMP=$BENCH_TMP
bench_traps

mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/perf-*.data "$LOGDIR"/perf-*.data.old

# --- 1. build ------------------------------------------------------------------------
if ((BUILD_IT)); then
    bench_build "$BUILD" "$LOGDIR/cmake.log"
fi
RBACD_BIN=$BUILD/rbacd
[[ -x $RBACD_BIN ]] || die "no $RBACD_BIN"

# --- 2. MariaDB and the data set -------------------------------------------------------
bench_db_start "$DATADIR" "$DB_PORT"
SOCK=$BENCH_SOCK
sql() { "$ROOT/scripts/db.sh" sql "$DATADIR" "$@"; }
# A bench server: room for the data set in memory, a large redo log, no fsync per
# commit (not persistent: applies until this server stops).
sql -e "SET GLOBAL innodb_buffer_pool_size = 4294967296;
        SET GLOBAL innodb_log_file_size = 1073741824;
        SET GLOBAL innodb_flush_log_at_trx_commit = 2;" 2>&1 | sed 's/^/  /' >&2 || true

# The data set is reused while the generator and its arguments stay the same.
MARKER=$DATADIR/dataset.$DBNAME
GEN_ID="$(md5sum <"$ROOT/bench/gen_data.py" | cut -c1-12) ${GEN_ARGS[*]}"
if ((REGEN)) || [[ ! -f $MARKER || $(cat "$MARKER") != "$GEN_ID" ]] ||
    ! sql "$DBNAME" -N -e "SELECT 1 FROM tenant_user LIMIT 1" >/dev/null 2>&1; then
    rm -f "$MARKER"
    note "generating data set $DBNAME: ${GEN_ARGS[*]}"
    "$ROOT/scripts/db.sh" load "$DATADIR" "$DBNAME" 2>&1 | sed 's/^/  /' >&2
    t0=$(date +%s%3N)
    "$PY" "$ROOT/bench/gen_data.py" --socket "$SOCK" --database "$DBNAME" "${GEN_ARGS[@]}" \
        --tmpdir "$TMP/tsv" 2>&1 | tee "$LOGDIR/gen_data.log" >&2
    GEN_S=$((($(date +%s%3N) - t0 + 500) / 1000))
    printf '%s' "$GEN_ID" >"$MARKER"
    rm -rf "$TMP/tsv"
else
    note "reusing data set $DBNAME (--regen to make it again)"
    GEN_S=
fi
ROWS=$(sql "$DBNAME" -N -e "SELECT
    (SELECT COUNT(*) FROM tenant), (SELECT COUNT(*) FROM tenant_user),
    (SELECT COUNT(*) FROM tenant_role), (SELECT COUNT(*) FROM tenant_user_role),
    (SELECT COUNT(*) FROM tenant_role_menu), (SELECT COUNT(*) FROM tenant_user_store),
    (SELECT COUNT(*) FROM tenant_user_delegate)")
read -r N_TEN N_USR N_ROL N_UR N_RM N_US N_UD <<<"$ROWS"
DB_BYTES=$(sql -N -e "SELECT SUM(data_length + index_length) FROM information_schema.TABLES
                      WHERE table_schema = '$DBNAME'")

# --- 3. rbacd --------------------------------------------------------------------------
for p in "$RBACD_PORT" "$REDIS_PORT"; do
    port_busy "$p" && die "port $p is taken (set RBACD_PORT / REDIS_PORT)"
done
now_ms() { date +%s%3N; }

cpu_ms() { # pid -> user+system CPU time in ms
    awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat" 2>/dev/null || echo 0
}
DB_PID=$(head -n1 "$DATADIR/mysqld.pid")
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

note "starting rbacd on 127.0.0.1:$RBACD_PORT"
DB_CPU0=$(cpu_ms "$DB_PID")
t_exec=$(now_ms)
"$RBACD_BIN" "$ROOT/conf/rbacd.conf" --bind 127.0.0.1 --port "$RBACD_PORT" \
    --db-socket "$SOCK" --db-name "$DBNAME" --db-user rbacd --db-password rbacd \
    --loglevel notice --http-port 0 --pidfile "" >"$LOGDIR/rbacd.log" 2>&1 &
RBACD_PID=$!
if ((PERF)) && command -v perf >/dev/null 2>&1; then
    perf record -F 999 -g -p "$RBACD_PID" -o "$LOGDIR/perf-load.data" \
        >"$LOGDIR/perf-load.log" 2>&1 &
    PERF_PID=$!
    perf record -F 999 -g -p "$DB_PID" -o "$LOGDIR/perf-db-load.data" \
        >"$LOGDIR/perf-db-load.log" 2>&1 &
    DB_PERF_PID=$!
fi
bench_wait_loaded "$RBACD_PORT" "$RBACD_PID" "$LOGDIR/rbacd.log" 600
t_loaded=$(now_ms)
RBACD_CPU=$(cpu_ms "$RBACD_PID")
DB_CPU=$(($(cpu_ms "$DB_PID") - DB_CPU0))
if [[ -n $PERF_PID ]]; then
    kill -INT "$PERF_PID" "$DB_PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" "$DB_PERF_PID" 2>/dev/null || true
    PERF_PID='' DB_PERF_PID=''
fi
LOAD_WALL_MS=$((t_loaded - t_exec))
LOAD_MS=$(info_field "$RBACD_PORT" persistence last_load_duration_ms)
LOAD_ERR=$(info_field "$RBACD_PORT" persistence last_load_error)
[[ -z $LOAD_ERR ]] || die "rbacd load failed: $LOAD_ERR"
sleep 1 # let the allocator settle before reading RSS
RSS=$(info_field "$RBACD_PORT" memory used_memory_rss)
USED=$(info_field "$RBACD_PORT" memory used_memory)
VMRSS=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$RBACD_PID/status")
VMHWM=$(awk '/^VmHWM/ {print $2 * 1024}' "/proc/$RBACD_PID/status")
MODEL=$(info_field "$RBACD_PORT" rbac model_bytes)
R_USERS=$(info_field "$RBACD_PORT" rbac users)
redis-cli -p "$RBACD_PORT" INFO rbac | tr -d '\r' >"$LOGDIR/info-rbac.txt"

# The user of the fixed tests: user 1 is the admin of tenant 1, the others are not.
FIXED_USER=$(for u in $(seq 2 2000); do echo "CANMENU 1 $u $FIXED_CODE"; done |
    redis-cli -p "$RBACD_PORT" | awk '$1 == 1 { print NR + 1; exit }')
FIXED_USER=${FIXED_USER:-1}
FIXED_KEY=$(printf 'menus:1:%012d' "$FIXED_USER")
FIXED_N=$(redis-cli -p "$RBACD_PORT" MENUS 1 "$FIXED_USER" | grep -c . || true)
note "fixed user $FIXED_USER (tenant 1, $FIXED_N menus); random users 0..$((BIG - 1)) of tenant 1"

# --- 4. redis-server with the same answers ---------------------------------------------
note "starting redis-server on 127.0.0.1:$REDIS_PORT and copying the answers of tenant 1"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize no --logfile "$LOGDIR/redis.log" >/dev/null 2>&1 &
REDIS_PID=$!
bench_wait_ping "$REDIS_PORT" "$REDIS_PID" redis-server "$LOGDIR/redis.log"
"$PY" "$ROOT/bench/refdata.py" fill --rbacd-port "$RBACD_PORT" --redis-port "$REDIS_PORT" \
    --tenant 1 --first 1 --last "$BIG" --codes "$FIXED_CODE,$RAND_CODE" >"$TMP/fill.env"
# shellcheck disable=SC1091
. "$TMP/fill.env"
((check_mismatches == 0)) || note "WARNING: rbacd and the reference disagree on $check_mismatches of $check_pairs answers"
REDIS_RSS=$(info_field "$REDIS_PORT" memory used_memory_rss)

# --- 5. redis-benchmark ------------------------------------------------------------------
# bench PORT PIPELINE RANDOM-RANGE(0 = none) CLIENTS REQUESTS cmd... -> "rps p50 p99 avg"
bench() {
    local port=$1 pipe=$2 range=$3 clients=$4 reqs=$5
    shift 5
    local args=(-h 127.0.0.1 -p "$port" -n "$reqs" -c "$clients" -P "$pipe" --csv)
    ((range > 0)) && args+=(-r "$range")
    local out
    out=$(redis-benchmark "${args[@]}" "$@" 2>&1) || { echo "$out" >&2; die "redis-benchmark failed: $*"; }
    echo "$out" >>"$LOGDIR/redis-benchmark.csv"
    # "test","rps","avg","min","p50","p95","p99","max"
    local line
    line=$(echo "$out" | grep -v '^"test"' | tail -n1)
    [[ -n $line ]] || { echo "$out" >&2; die "no result from redis-benchmark: $*"; }
    echo "$line" | awk -F'","' '{ print $2, $5, $7, $3 }'
}

: >"$LOGDIR/redis-benchmark.csv"
declare -A RES
run_pair() { # name pipe range rbacd-cmd... -- redis-cmd...
    local name=$1 pipe=$2 range=$3
    shift 3
    local a=() b=()
    while (($#)) && [[ $1 != -- ]]; do a+=("$1") && shift; done
    shift
    b=("$@")
    note "  $name -P $pipe: ${a[*]}  |  ${b[*]}"
    RES[$name/$pipe/rbacd]=$(bench "$RBACD_PORT" "$pipe" "$range" "$CLIENTS" "$REQS" "${a[@]}")
    if [[ -n ${RES[$name/$pipe/ref]:-} ]]; then
        return
    fi
    RES[$name/$pipe/ref]=$(bench "$REDIS_PORT" "$pipe" "$range" "$CLIENTS" "$REQS" "${b[@]}")
}

note "redis-benchmark -n $REQS -c $CLIENTS (-P 1 and -P 16)"
for P in 1 16; do
    run_pair canmenu_fixed "$P" 0 CANMENU 1 "$FIXED_USER" "$FIXED_CODE" -- SISMEMBER "$FIXED_KEY" "$FIXED_CODE"
    run_pair canmenu_rand "$P" "$BIG" CANMENU 1 __rand_int__ "$RAND_CODE" -- SISMEMBER 'menus:1:__rand_int__' "$RAND_CODE"
    run_pair menus_fixed "$P" 0 MENUS 1 "$FIXED_USER" -- SMEMBERS "$FIXED_KEY"
    RES[menus_codes_fixed/$P/ref]=${RES[menus_fixed/$P/ref]}
    run_pair menus_codes_fixed "$P" 0 MENUS 1 "$FIXED_USER" CODES -- SMEMBERS "$FIXED_KEY"
    run_pair menus_codes_rand "$P" "$BIG" MENUS 1 __rand_int__ CODES -- SMEMBERS 'menus:1:__rand_int__'
done
note "  one client, no pipelining (-c 1 -n $SERIAL_REQS)"
RES[serial/1/rbacd]=$(bench "$RBACD_PORT" 1 "$BIG" 1 "$SERIAL_REQS" CANMENU 1 __rand_int__ "$RAND_CODE")
RES[serial/1/ref]=$(bench "$REDIS_PORT" 1 "$BIG" 1 "$SERIAL_REQS" SISMEMBER 'menus:1:__rand_int__' "$RAND_CODE")

# Optional profile of the server under the random CANMENU load.
if ((PERF)) && command -v perf >/dev/null 2>&1; then
    note "  perf: CANMENU random -P 16 again, with perf record on rbacd"
    perf record -F 999 -g -p "$RBACD_PID" -o "$LOGDIR/perf-canmenu.data" >"$LOGDIR/perf-canmenu.log" 2>&1 &
    PERF_PID=$!
    sleep 0.5
    bench "$RBACD_PORT" 16 "$BIG" "$CLIENTS" "$REQS" CANMENU 1 __rand_int__ "$RAND_CODE" >/dev/null
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    note "  perf: MENUS random CODES -P 16 again, with perf record on rbacd"
    perf record -F 999 -g -p "$RBACD_PID" -o "$LOGDIR/perf-menus.data" >"$LOGDIR/perf-menus.log" 2>&1 &
    PERF_PID=$!
    sleep 0.5
    bench "$RBACD_PORT" 16 "$BIG" "$CLIENTS" "$REQS" MENUS 1 __rand_int__ CODES >/dev/null
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=
fi

# --- 6. the same question as SQL -----------------------------------------------------------
note "SQL: $SQL_QUERIES CANMENU questions as SQL statements"
"$PY" "$ROOT/bench/refdata.py" sql --rbacd-port "$RBACD_PORT" --tenant 1 --first 1 --last "$BIG" \
    --codes "$FIXED_CODE,$RAND_CODE" --socket "$SOCK" --database "$DBNAME" \
    --queries "$SQL_QUERIES" >"$TMP/sql.env"
# shellcheck disable=SC1091
. "$TMP/sql.env"

# --- 7. report ---------------------------------------------------------------------------
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { # label key pipe
    local r s
    read -ra r <<<"${RES[$2/$3/rbacd]}"
    read -ra s <<<"${RES[$2/$3/ref]}"
    printf '%-44s %2s %11.0f %11.0f %6s   %6.3f/%-7.3f %6.3f/%-7.3f\n' "$1" "$3" \
        "${r[0]}" "${s[0]}" "$(ratio "${r[0]}" "${s[0]}")" "${r[1]}" "${r[2]}" "${s[1]}" "${s[2]}"
}

{
    echo
    echo "== rbacd CANMENU benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average before the run: $LOADAVG"
    echo "data set $DBNAME: $N_TEN tenants, $N_USR users (tenant 1: users 1..$BIG), $N_ROL roles,"
    echo "  $N_UR user-role, $N_RM role-menu, $N_US user-store, $N_UD delegation rows; $(mib "$DB_BYTES") in InnoDB"
    [[ -n $GEN_S ]] && echo "  generated and loaded into MariaDB in $GEN_S s (bench/gen_data.py; per table: $LOGDIR/gen_data.log)"
    echo
    echo "rbacd first load:   ${LOAD_MS} ms reported (last_load_duration_ms), ${LOAD_WALL_MS} ms from exec to loading:0;"
    echo "                    CPU meanwhile: rbacd ${RBACD_CPU} ms, mariadbd ${DB_CPU} ms"
    echo "rbacd memory:       RSS $(mib "$RSS") after load (VmRSS $(mib "$VMRSS"), peak VmHWM $(mib "$VMHWM")),"
    echo "                    used_memory $(mib "$USED"), model_bytes $(mib "$MODEL") for $R_USERS users"
    echo "                    = $(awk -v a="$MODEL" -v b="$R_USERS" 'BEGIN{printf "%.0f", a/b}') model bytes/user, $(awk -v a="$RSS" -v b="$R_USERS" 'BEGIN{printf "%.0f", a/b}') RSS bytes/user"
    echo "redis reference:    $fill_sets sets ($fill_members members) for the $fill_users users of tenant 1 only:"
    echo "                    used_memory $(mib "$redis_used_memory"), RSS $(mib "$REDIS_RSS")" \
        "= $(awk -v a="$redis_used_memory" -v b="$fill_users" 'BEGIN{printf "%.0f", a/b}') bytes/user"
    echo "answers checked:    $check_pairs CANMENU vs SISMEMBER pairs, $check_mismatches mismatches;" \
        "$sql_queries SQL vs CANMENU, $sql_mismatches mismatches"
    echo
    echo "redis-benchmark -n $REQS -c $CLIENTS; fixed user $FIXED_USER ($FIXED_N menus); random: -r $BIG (users of tenant 1)"
    printf '%-44s %2s %11s %11s %6s   %-14s %-14s\n' "test (rbacd | redis-server)" "P" "rbacd rps" "redis rps" "ratio" \
        "rbacd p50/p99" "redis p50/p99"
    for P in 1 16; do
        row "CANMENU 1 U $FIXED_CODE | SISMEMBER" canmenu_fixed $P
        row "CANMENU 1 rand $RAND_CODE | SISMEMBER" canmenu_rand $P
        row "MENUS 1 U | SMEMBERS" menus_fixed $P
        row "MENUS 1 U CODES | SMEMBERS" menus_codes_fixed $P
        row "MENUS 1 rand CODES | SMEMBERS" menus_codes_rand $P
    done
    echo "(latencies in ms, from redis-benchmark --csv; raw CSV in $LOGDIR/redis-benchmark.csv)"
    echo
    echo "one caller at a time — per-query latency, ms"
    printf '%-52s %8s %8s %8s\n' "" "avg" "p50" "p99"
    read -ra r <<<"${RES[serial/1/rbacd]}"
    read -ra s <<<"${RES[serial/1/ref]}"
    printf '%-52s %8.3f %8.3f %8.3f   (%.0f rps)\n' "rbacd CANMENU rand, redis-benchmark -c 1 -P 1" "${r[3]}" "${r[1]}" "${r[2]}" "${r[0]}"
    printf '%-52s %8.3f %8.3f %8.3f   (%.0f rps)\n' "redis SISMEMBER rand, redis-benchmark -c 1 -P 1" "${s[3]}" "${s[1]}" "${s[2]}" "${s[0]}"
    printf '%-52s %8.3f %8.3f %8.3f\n' "rbacd CANMENU, redis-py, $sql_queries questions" "$rb_py_avg_ms" "$rb_py_p50_ms" "$rb_py_p99_ms"
    printf '%-52s %8.3f %8.3f %8.3f   (x%s of rbacd avg)\n' "MariaDB SQL, PyMySQL, same $sql_queries questions" \
        "$sql_py_avg_ms" "$sql_py_p50_ms" "$sql_py_p99_ms" "$(ratio "$sql_py_avg_ms" "$rb_py_avg_ms")"
    printf '%-52s %8.3f\n' "MariaDB SQL, mariadb client reading a file" "$sql_cli_avg_ms"
} | tee "$LOGDIR/canmenu-report.txt"

if ((PERF)) && command -v perf >/dev/null 2>&1; then
    for f in load db-load canmenu menus; do
        [[ -s $LOGDIR/perf-$f.data ]] || continue
        echo
        case $f in
        load) echo "perf, rbacd during its first load: top functions (self time)" ;;
        db-load) echo "perf, mariadbd during rbacd's first load: top functions (self time)" ;;
        canmenu) echo "perf, rbacd during CANMENU rand -P 16: top functions (self time)" ;;
        menus) echo "perf, rbacd during MENUS rand CODES -P 16: top functions (self time)" ;;
        esac
        perf report -i "$LOGDIR/perf-$f.data" --no-children --sort dso,sym --stdio -g none \
            >"$TMP/perf.txt" 2>/dev/null || true
        grep -v '^#' "$TMP/perf.txt" | grep -v '^$' | head -n 20 || true
    done | tee -a "$LOGDIR/canmenu-report.txt"
fi
note "report in $LOGDIR/canmenu-report.txt"
