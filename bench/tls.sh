#!/usr/bin/env bash
#
# tls.sh — CANMENU over TLS beside plain TCP: one rbacd serving port and tls-port on
# the same data, measured in the same run with the same redis-benchmark options.
#
#   bench/tls.sh [--users N] [-n N] [-c N] [--repeat K] [--idle N] [--plain-ref BIN]
#                [--regen] [--no-build]
#
#   1. builds the release rbacd (build-bench/);
#   2. starts the private bench MariaDB (build-bench/benchdb, port $DB_PORT, default
#      3471 as for bench/run) and loads bt_<N>u once (bench/gen_data.py, N users, a big
#      tenant of N/10, as bench/mpbackend.sh makes it);
#   3. makes a CA, a server certificate for 127.0.0.1 and a client certificate with the
#      openssl command, and starts rbacd with port and tls-port (tls-auth-clients yes:
#      redis-benchmark presents the client certificate, as a gateway would);
#      --plain-ref BIN also starts BIN (another build, e.g. of main) on the same data,
#      plain only, to show the plain path of this build against it;
#   4. redis-benchmark -n N -c C, -P 1 and -P 16, K rounds interleaved (medians):
#        CANMENU 1 __rand_int__ m:10 -r N/10   plain, TLS (and the reference build)
#        PING                                   plain, TLS
#      with rbacd's CPU per request (utime + stime from /proc over the run);
#   5. memory of idle connections: two more rbacd of this build, with no database (they
#      serve PING while they wait for one; the model plays no part), one plain and one
#      TLS; on each, N connections (--idle, default 1000) that have said PING and then
#      stay open, and the rise of rbacd's RSS (VmRSS) from just before the first opens
#      to once all are open, per connection;
#   6. prints the table, TLS over plain as a ratio.
#
# The machine's cores are shared by rbacd, redis-benchmark and MariaDB: on TLS,
# redis-benchmark pays for its half of the encryption on the same cores, so requests
# per second understate what a server with cores of its own would do, for TLS more
# than for plain; CPU per request is rbacd's own.
#
# Environment: DB_PORT, BUILD_DIR (default build-bench). Needs redis-tools and openssl.
set -euo pipefail

BENCH_NAME=tls.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
BUILD=${BUILD_DIR:-$ROOT/build-bench}
DATADIR=$BUILD/benchdb
DB_PORT=${DB_PORT:-3471}
PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)

USERS=100000
REQS=300000
CLIENTS=50
REPEAT=3
IDLE=1000
REF_BIN=
REGEN=0
BUILD_IT=1
while (($#)); do
    case $1 in
    --users) USERS=$2 && shift ;;
    -n) REQS=$2 && shift ;;
    -c) CLIENTS=$2 && shift ;;
    --repeat) REPEAT=$2 && shift ;;
    --idle) IDLE=$2 && shift ;;
    --plain-ref) REF_BIN=$(realpath "$2") && shift ;;
    --regen) REGEN=1 ;;
    --no-build) BUILD_IT=0 ;;
    *) sed -n '7,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2 && exit 2 ;;
    esac
    shift
done
[[ $USERS =~ ^[0-9]+$ && $REPEAT =~ ^[1-9][0-9]*$ && $IDLE =~ ^[0-9]+$ ]] ||
    die "bad --users, --repeat or --idle"
[[ -z $REF_BIN || -x $REF_BIN ]] || die "--plain-ref: $REF_BIN is not executable"

bench_need_tools mariadb mariadbd redis-cli redis-benchmark cmake openssl
RB_PID=
REF_PID=
IDLE_PID=
BENCH_STOP=(RB_PID REF_PID IDLE_PID)
BENCH_TMP=$(mktemp -d /tmp/bench-tls.XXXXXX)
TMP=$BENCH_TMP
bench_traps
LOGDIR=$BUILD/bench-logs/tls
mkdir -p "$LOGDIR"

((BUILD_IT)) && bench_build "$BUILD" "$LOGDIR/cmake.log"
RBACD_BIN=$BUILD/rbacd
bench_db_start "$DATADIR" "$DB_PORT"
SOCK=$BENCH_SOCK

# The data set, once per generator and size (the marker is bench/mpbackend.sh's).
BT_DB=bt_${USERS}u
BIG=$((USERS / 10))
marker=$DATADIR/dataset.$BT_DB
gen_args=(--users "$USERS" --tenants $((USERS / 100)) --menus 300 --roles-per-tenant 10
    --menus-per-role 40 --roles-per-user 2 --stores-per-user 3 --delegations 0.05
    --big-tenant-users "$BIG" --seed 1)
id="$(md5sum <"$ROOT/bench/gen_data.py" | cut -c1-12) ${gen_args[*]}"
if ((REGEN)) || [[ ! -f $marker || $(cat "$marker") != "$id" ]]; then
    note "generating $BT_DB"
    "$ROOT/scripts/db.sh" load "$DATADIR" "$BT_DB" >/dev/null
    "$PY" "$ROOT/bench/gen_data.py" --socket "$SOCK" --database "$BT_DB" "${gen_args[@]}" \
        --tmpdir "$TMP/tsv" >"$LOGDIR/gen.log" 2>&1 || { tail "$LOGDIR/gen.log" >&2; die "gen_data.py failed"; }
    printf '%s' "$id" >"$marker"
fi

# Certificates: a CA, a server certificate for 127.0.0.1, a client certificate.
CERTS=$TMP/certs
mkdir -p "$CERTS"
(
    cd "$CERTS"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 1 -subj "/CN=bench CA"
    openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
        -extfile server.ext -out server.crt
    openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=bench"
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
        -out client.crt
) >"$LOGDIR/openssl.log" 2>&1 || { cat "$LOGDIR/openssl.log" >&2; die "openssl failed"; }

# start BIN PORT NAME [ARGS...] -> PID_STARTED
start() {
    local bin=$1 port=$2 name=$3
    shift 3
    port_busy "$port" && die "port $port is taken"
    # No configuration file: the defaults (what conf/rbacd.conf shows), which a build of
    # another branch given as --plain-ref understands too.
    "$bin" --port "$port" --db-socket "$SOCK" --db-name "$BT_DB" \
        --db-user rbacd --db-password rbacd "$@" >"$LOGDIR/rbacd-$name.log" 2>&1 &
    PID_STARTED=$!
    bench_wait_loaded "$port" "$PID_STARTED" "$LOGDIR/rbacd-$name.log" 600
}

PORT=$(free_port)
TLS_PORT=$(free_port)
start "$RBACD_BIN" "$PORT" this --tls-port "$TLS_PORT" --tls-cert-file "$CERTS/server.crt" \
    --tls-key-file "$CERTS/server.key" --tls-ca-cert-file "$CERTS/ca.crt"
RB_PID=$PID_STARTED
if [[ -n $REF_BIN ]]; then
    REF_PORT=$(free_port)
    start "$REF_BIN" "$REF_PORT" ref
    REF_PID=$PID_STARTED
fi
TLS_OPTS=(--tls --cacert "$CERTS/ca.crt" --cert "$CERTS/client.crt" --key "$CERTS/client.key")
[[ $(redis-cli "${TLS_OPTS[@]}" -p "$TLS_PORT" PING) == PONG ]] || die "no PONG over TLS"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# rb PID PORT PIPE [redis-benchmark options and command...] -> "rps cpu_us_per_request"
rb() {
    local pid=$1 port=$2 pipe=$3 out c0 c1
    shift 3
    c0=$(cpu_ticks "$pid")
    out=$(redis-benchmark -h 127.0.0.1 -p "$port" -n "$REQS" -c "$CLIENTS" -P "$pipe" --csv "$@") ||
        die "redis-benchmark failed: $*"
    c1=$(cpu_ticks "$pid")
    echo "$out" | tail -n1 | awk -F'"' -v c="$((c1 - c0))" -v hz="$HZ" -v n="$REQS" \
        '{ printf "%d %.2f\n", $4, c / hz / n * 1e6 }'
}

median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

declare -A RPS CPU
record() {
    local key=$1 res
    res=$(rb "${@:2}")
    RPS[$key]+="${res% *} "
    CPU[$key]+="${res#* } "
}
CANMENU=(-r "$BIG" CANMENU 1 __rand_int__ m:10)
for ((k = 1; k <= REPEAT; k++)); do
    for pipe in 1 16; do
        note "round $k of $REPEAT: redis-benchmark -n $REQS -c $CLIENTS -P $pipe"
        record "canmenu_plain_$pipe" "$RB_PID" "$PORT" "$pipe" "${CANMENU[@]}"
        record "canmenu_tls_$pipe" "$RB_PID" "$TLS_PORT" "$pipe" "${TLS_OPTS[@]}" "${CANMENU[@]}"
        [[ -z $REF_BIN ]] || record "canmenu_ref_$pipe" "$REF_PID" "$REF_PORT" "$pipe" "${CANMENU[@]}"
        record "ping_plain_$pipe" "$RB_PID" "$PORT" "$pipe" PING
        record "ping_tls_$pipe" "$RB_PID" "$TLS_PORT" "$pipe" "${TLS_OPTS[@]}" PING
    done
done

# idle_rss TLS(0|1) -> IDLE_KIB: KiB of RSS per idle connection on a fresh rbacd without
# a database, N connections that have run PING and stay open. Runs in this shell (not in
# a $(...)), so that the exit trap knows IDLE_PID.
idle_rss() {
    local tls=$1 port log args=()
    port=$(free_port)
    log=$LOGDIR/rbacd-idle-$tls.log
    if ((tls)); then
        args=(--port 0 --tls-port "$port" --tls-cert-file "$CERTS/server.crt"
            --tls-key-file "$CERTS/server.key" --tls-ca-cert-file "$CERTS/ca.crt")
    else
        args=(--port "$port")
    fi
    "$RBACD_BIN" "${args[@]}" --db-socket "$TMP/no-database.sock" --maxclients $((IDLE + 100)) \
        >"$log" 2>&1 &
    IDLE_PID=$!
    IDLE_KIB=$("$PY" - "$IDLE_PID" "$port" "$IDLE" "$tls" "$CERTS" <<'PYEOF'
import os, resource, socket, ssl, sys, time
pid, port, n, tls, certs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
ctx = None
if tls:
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
    ctx.load_cert_chain(os.path.join(certs, "client.crt"), os.path.join(certs, "client.key"))
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if ctx:
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    got = b""
    while not got.endswith(b"\r\n"):
        chunk = s.recv(64)
        if not chunk:
            raise SystemExit("connection closed before PONG")
        got += chunk
    if got != b"+PONG\r\n":
        raise SystemExit("unexpected reply %r" % got)
    return s
def rss_kib():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
deadline = time.monotonic() + 20
while True:
    try:
        connect().close()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
time.sleep(0.2)
before = rss_kib()
conns = [connect() for _ in range(n)]
time.sleep(0.2)
after = rss_kib()
print("%.1f" % ((after - before) / n if n else 0))
for s in conns:
    s.close()
PYEOF
) || die "idle connections failed (see $log)"
    stop_pid "$IDLE_PID" idle
    IDLE_PID=
}
if ((IDLE > 0)); then
    note "memory of $IDLE idle connections, plain then TLS"
    idle_rss 0
    IDLE_PLAIN=$IDLE_KIB
    idle_rss 1
    IDLE_TLS=$IDLE_KIB
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }'; }
row() {
    local label=$1 key=$2 base=$3 r c
    r=$(echo "${RPS[$key]}" | median)
    c=$(echo "${CPU[$key]}" | median)
    printf '%-40s %10.0f %9.2f %9s\n' "$label" "$r" "$c" \
        "$( [[ -n $base ]] && ratio "$r" "$(echo "${RPS[$base]}" | median)" || echo -)"
}
{
    echo "rbacd, CANMENU over TLS beside plain: $BT_DB (big tenant of $BIG users);" \
        "$(nproc) cores shared with redis-benchmark and MariaDB; $(date -u +%F)"
    echo "redis-benchmark -n $REQS -c $CLIENTS, median of $REPEAT interleaved rounds;" \
        "TLS: $(redis-cli "${TLS_OPTS[@]}" -p "$TLS_PORT" INFO server >/dev/null && openssl version)," \
        "TLSv1.3, client certificate"
    printf '%-40s %10s %9s %9s\n' "" "rps" "cpu us/r" "vs plain"
    for pipe in 1 16; do
        row "CANMENU random user, plain, -P $pipe" "canmenu_plain_$pipe" ""
        row "CANMENU random user, TLS, -P $pipe" "canmenu_tls_$pipe" "canmenu_plain_$pipe"
        [[ -z $REF_BIN ]] ||
            row "CANMENU random user, plain, ref, -P $pipe" "canmenu_ref_$pipe" "canmenu_plain_$pipe"
        row "PING, plain, -P $pipe" "ping_plain_$pipe" ""
        row "PING, TLS, -P $pipe" "ping_tls_$pipe" "ping_plain_$pipe"
    done
    echo "(CANMENU 1 __rand_int__ m:10 -r $BIG; TLS adds ${TLS_OPTS[*]//$CERTS\//})"
    if ((IDLE > 0)); then
        printf 'RSS per idle connection (%d open, after a PING): plain %s KiB, TLS %s KiB, TLS costs %s KiB more\n' \
            "$IDLE" "$IDLE_PLAIN" "$IDLE_TLS" "$(awk -v a="$IDLE_TLS" -v b="$IDLE_PLAIN" 'BEGIN { printf "%.1f", a - b }')"
    fi
    [[ -z $REF_BIN ]] || echo "(ref: $REF_BIN, plain port only)"
} | tee "$LOGDIR/report.txt"
