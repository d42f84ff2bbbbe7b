#!/usr/bin/env bash
#
# mpbackend.sh — the mpbackend profile measured beside the bi-tenant one, in one run.
#
#   bench/mpbackend.sh [--users N] [-n N] [-c N] [--regen] [--no-build]
#
#   1. builds the release rbacd (build-bench/);
#   2. starts the private bench MariaDB (build-bench/benchdb, port $DB_PORT, default
#      3471 as for bench/run) and loads, unless already there from the same generator
#      and size:
#        mp_<N>u      the mpbackend schema + bench/gen_mp_data.py (N users, 3 bindings each)
#        bt_<N>u      the bi-tenant schema + bench/gen_data.py (N users, one big tenant)
#   3. for each: starts rbacd (--profile mpbackend / bitenant) and measures the first
#      load (wall time to loading:0, last_load_duration_ms), RSS after the load and the
#      model's own accounting; and the raw read of the same rows with `mariadb --quick`;
#   4. redis-benchmark -n N -c C, -P 1 and -P 16:
#        CAN admin U p                   vs CANMENU 1 U sys:user:add      (fixed allowed user)
#        CAN developer:1 __rand_int__ p  vs CANMENU 1 __rand_int__ m:10   (-r: random users)
#   5. prints the table, CAN over CANMENU as a ratio.
#
# Environment: DB_PORT, BUILD_DIR (default build-bench). Needs redis-tools (redis-benchmark).
set -euo pipefail

BENCH_NAME=mpbackend.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
BUILD=${BUILD_DIR:-$ROOT/build-bench}
DATADIR=$BUILD/benchdb
DB_PORT=${DB_PORT:-3471}
PY=/usr/bin/python3

USERS=100000
REQS=300000
CLIENTS=50
REGEN=0
BUILD_IT=1
while (($#)); do
    case $1 in
    --users) USERS=$2 && shift ;;
    -n) REQS=$2 && shift ;;
    -c) CLIENTS=$2 && shift ;;
    --regen) REGEN=1 ;;
    --no-build) BUILD_IT=0 ;;
    *) sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2 && exit 2 ;;
    esac
    shift
done
[[ $USERS =~ ^[0-9]+$ ]] || die "bad --users"

bench_need_tools mariadb mariadbd redis-cli redis-benchmark cmake
MP_PID=
BT_PID=
BENCH_STOP=(MP_PID BT_PID)
BENCH_TMP=$(mktemp -d /tmp/mpbackend.XXXXXX)
TMP=$BENCH_TMP
bench_traps
LOGDIR=$BUILD/bench-logs/mpbackend
mkdir -p "$LOGDIR"

((BUILD_IT)) && bench_build "$BUILD" "$LOGDIR/cmake.log"
RBACD_BIN=$BUILD/rbacd
bench_db_start "$DATADIR" "$DB_PORT"
SOCK=$BENCH_SOCK
sql() { "$ROOT/scripts/db.sh" sql "$DATADIR" "$@"; }
sql -e "SET GLOBAL innodb_buffer_pool_size = 4294967296;
        SET GLOBAL innodb_flush_log_at_trx_commit = 2;" >/dev/null 2>&1 || true

# ensure_data NAME PROFILE GENERATOR ARGS...: loads the data set once per generator and size.
ensure_data() {
    local name=$1 profile=$2 gen=$3
    shift 3
    local marker=$DATADIR/dataset.$name id
    id="$(md5sum <"$ROOT/bench/$gen" | cut -c1-12) $*"
    if ((REGEN)) || [[ ! -f $marker || $(cat "$marker") != "$id" ]]; then
        note "generating $name ($gen $*)"
        "$ROOT/scripts/db.sh" load "$DATADIR" "$name" --profile "$profile" >/dev/null
        "$PY" "$ROOT/bench/$gen" --socket "$SOCK" --database "$name" "$@" \
            --tmpdir "$TMP/tsv-$name" >"$LOGDIR/gen-$name.log" 2>&1 ||
            { tail "$LOGDIR/gen-$name.log" >&2; die "$gen failed"; }
        printf '%s' "$id" >"$marker"
    fi
}
MP_DB=mp_${USERS}u
BT_DB=bt_${USERS}u
BIG=$((USERS / 10))
ensure_data "$MP_DB" mpbackend gen_mp_data.py --users "$USERS" --bindings-per-user 3 --seed 1
ensure_data "$BT_DB" bitenant gen_data.py --users "$USERS" --tenants $((USERS / 100)) \
    --menus 300 --roles-per-tenant 10 --menus-per-role 40 --roles-per-user 2 \
    --stores-per-user 3 --delegations 0.05 --big-tenant-users "$BIG" --seed 1

now_ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# start PROFILE DB PORT -> sets LOAD_WALL, LOAD_MS, RSS, MODEL, PID_STARTED
start() {
    local profile=$1 db=$2 port=$3 t0
    port_busy "$port" && die "port $port is taken"
    t0=$(now_ms)
    "$RBACD_BIN" "$ROOT/conf/rbacd.conf" --profile "$profile" --port "$port" \
        --db-socket "$SOCK" --db-name "$db" --db-user rbacd --db-password rbacd \
        >"$LOGDIR/rbacd-$profile.log" 2>&1 &
    PID_STARTED=$!
    bench_wait_loaded "$port" "$PID_STARTED" "$LOGDIR/rbacd-$profile.log" 600
    LOAD_WALL=$(($(now_ms) - t0))
    LOAD_MS=$(info_field "$port" persistence last_load_duration_ms)
    RSS=$(rss_kb "$PID_STARTED")
    MODEL=$(info_field "$port" rbac model_bytes)
}

# raw_read DB QUERY...: ms to read the queries' rows with mariadb --quick.
raw_read() {
    local db=$1 t0
    shift
    t0=$(now_ms)
    for q in "$@"; do
        sql "$db" --quick -N -e "$q" >/dev/null
    done
    echo $(($(now_ms) - t0))
}

MP_PORT=$(free_port)
start mpbackend "$MP_DB" "$MP_PORT"
MP_PID=$PID_STARTED
MP=("$LOAD_WALL" "$LOAD_MS" "$RSS" "$MODEL")
MP_RAW=$(raw_read "$MP_DB" "SELECT id FROM mpbackend_user" \
    "SELECT id, name, permissions, scope FROM mpbackend_role" \
    "SELECT user_id, role_id FROM mpbackend_admin_user_role_binding" \
    "SELECT user_id, role_id, developer_id FROM mpbackend_developer_user_role_binding" \
    "SELECT user_id, role_id, application_id FROM mpbackend_application_user_role_binding" \
    "SELECT id, user_id, login_provider, provider_key FROM mpbackend_account_login_method")
BT_PORT=$(free_port)
start bitenant "$BT_DB" "$BT_PORT"
BT_PID=$PID_STARTED
BT=("$LOAD_WALL" "$LOAD_MS" "$RSS" "$MODEL")

# The fixed questions: a platform admin's permission; the first non-admin user of the big
# tenant allowed sys:user:add.
read -r ADMIN_USER ADMIN_PERM < <(sql "$MP_DB" -N -e "SELECT b.user_id, TRIM(SUBSTRING_INDEX(r.permissions, ',', 1))
        FROM mpbackend_admin_user_role_binding b JOIN mpbackend_role r ON r.id = b.role_id
        JOIN mpbackend_user u ON u.id = b.user_id
        WHERE r.scope = 'Admin' AND NOT (r.disabled <=> 1) AND NOT (b.disabled <=> 1)
          AND NOT (u.disabled <=> 1) ORDER BY b.user_id LIMIT 1")
[[ $(redis-cli -p "$MP_PORT" CAN admin "$ADMIN_USER" "$ADMIN_PERM") == 1 ]] ||
    die "CAN admin $ADMIN_USER $ADMIN_PERM is not 1"
FIXED_USER=
for u in $(sql "$BT_DB" -N -e "SELECT id FROM tenant_user WHERE tenant_id = 1 AND is_admin = 0
                                ORDER BY id LIMIT 200"); do
    if [[ $(redis-cli -p "$BT_PORT" CANMENU 1 "$u" sys:user:add) == 1 ]]; then
        FIXED_USER=$u
        break
    fi
done
[[ -n $FIXED_USER ]] || die "no user of tenant 1 is allowed sys:user:add"
RAND_PERM=app:read

# rb PORT PIPE [-r K] CMD...: requests per second.
rb() {
    local port=$1 pipe=$2 out
    shift 2
    out=$(redis-benchmark -h 127.0.0.1 -p "$port" -n "$REQS" -c "$CLIENTS" -P "$pipe" --csv "$@") ||
        die "redis-benchmark failed: $*"
    echo "$out" | tail -n1 | awk -F'"' '{ print int($4) }'
}

declare -A R
for pipe in 1 16; do
    note "redis-benchmark -n $REQS -c $CLIENTS -P $pipe"
    R[can_fixed_$pipe]=$(rb "$MP_PORT" "$pipe" CAN admin "$ADMIN_USER" "$ADMIN_PERM")
    R[canmenu_fixed_$pipe]=$(rb "$BT_PORT" "$pipe" CANMENU 1 "$FIXED_USER" sys:user:add)
    R[can_rand_$pipe]=$(rb "$MP_PORT" "$pipe" -r 25 CAN developer:1 __rand_int__ "$RAND_PERM")
    R[canmenu_rand_$pipe]=$(rb "$BT_PORT" "$pipe" -r "$BIG" CANMENU 1 __rand_int__ m:10)
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }'; }
{
    echo "rbacd, profile mpbackend beside bitenant: $USERS users each; $(nproc) cores; $(date -u +%F)"
    echo "data: $MP_DB (3 bindings a user), $BT_DB (2 roles a user, big tenant of $BIG users)"
    printf '%-34s %14s %14s\n' "load" "mpbackend" "bitenant"
    printf '%-34s %14s %14s\n' "first load, wall (ms)" "${MP[0]}" "${BT[0]}"
    printf '%-34s %14s %14s\n' "last_load_duration_ms" "${MP[1]}" "${BT[1]}"
    printf '%-34s %14s %14s\n' "raw mariadb --quick read (ms)" "$MP_RAW" "-"
    printf '%-34s %14s %14s\n' "RSS after load (KiB)" "${MP[2]}" "${BT[2]}"
    printf '%-34s %14s %14s\n' "model_bytes" "${MP[3]}" "${BT[3]}"
    printf '%-34s %14s\n' "model bytes per user (mpbackend)" "$((MP[3] / USERS))"
    echo
    printf '%-44s %10s %10s %7s\n' "redis-benchmark -c $CLIENTS" "CAN rps" "CANMENU" "ratio"
    for pipe in 1 16; do
        printf '%-44s %10s %10s %7s\n' "fixed allowed user, -P $pipe" "${R[can_fixed_$pipe]}" \
            "${R[canmenu_fixed_$pipe]}" "$(ratio "${R[can_fixed_$pipe]}" "${R[canmenu_fixed_$pipe]}")"
        printf '%-44s %10s %10s %7s\n' "random users, -P $pipe" "${R[can_rand_$pipe]}" \
            "${R[canmenu_rand_$pipe]}" "$(ratio "${R[can_rand_$pipe]}" "${R[canmenu_rand_$pipe]}")"
    done
    echo "(CAN admin $ADMIN_USER $ADMIN_PERM; CAN developer:1 __rand_int__ $RAND_PERM -r 25;"
    echo " CANMENU 1 $FIXED_USER sys:user:add; CANMENU 1 __rand_int__ m:10 -r $BIG)"
} | tee "$LOGDIR/report.txt"
