#!/usr/bin/env bash
#
# propagation.sh — how fast a change reaches every rbacd instance on one database, and
# what a write costs, next to a raw MariaDB client doing the same UPDATE.
#
#   bench/propagation.sh [--instances N] [--rounds N] [--interval MS] [--no-build] [--clean]
#
# One run:
#   1. builds the release rbacd (build-bench/, CMAKE_BUILD_TYPE=Release) unless
#      --no-build (then $RBACD_BIN or build-bench/rbacd);
#   2. starts a private MariaDB in build-bench/propdb (port $DB_PORT, default 3463; never
#      the system one) and loads the schema and the demo data into database `prop`;
#   3. starts N rbacd instances (default 3) on free loopback ports, all on that database,
#      sync-interval-ms MS (default 100);
#   4. measures, for --rounds rounds each (default 50), each change made at a random point
#      of the poll cycle:
#        external UPDATE   an UPDATE of a user's status by a plain client (PyMySQL), then
#                          the time until each instance answers CANMENU accordingly
#                          (polled every 1 ms) — per instance and for all of them;
#        raw client        the same UPDATE's own latency, in-process (PyMySQL) and as a
#                          `mariadb -e` process, for reference;
#        write command     ROLE GRANT / REVOKE on the first instance: the reply time (the
#                          transaction, memory update and reply), then the time until
#                          every other instance answers accordingly; and REVISION on the
#                          writer + WAITREV on the others;
#   5. prints median, p95 and worst of each; everything started is stopped on exit
#      (the MariaDB data directory stays unless --clean).
#
# Environment: DB_PORT, BUILD_DIR (default build-bench), RBACD_BIN (with --no-build).

set -euo pipefail

BENCH_NAME=propagation.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
BUILD=${BUILD_DIR:-$ROOT/build-bench}
DATADIR=$BUILD/propdb
DB_PORT=${DB_PORT:-3463}
DBNAME=prop
PY=/usr/bin/python3
INSTANCES=3
ROUNDS=50
INTERVAL=100
BUILD_IT=1
CLEAN=0

usage() {
    sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    --instances) INSTANCES=$2 && shift ;;
    --rounds) ROUNDS=$2 && shift ;;
    --interval) INTERVAL=$2 && shift ;;
    --no-build) BUILD_IT=0 ;;
    --clean) CLEAN=1 ;;
    -h | --help) usage ;;
    *) echo "propagation.sh: unknown argument: $1" >&2 && usage ;;
    esac
    shift
done
[[ $INSTANCES =~ ^[0-9]+$ ]] && ((INSTANCES >= 2 && INSTANCES <= 8)) ||
    die "--instances must be 2..8"
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 1)) || die "bad --rounds"
[[ $INTERVAL =~ ^[0-9]+$ ]] && ((INTERVAL >= 10)) || die "bad --interval (at least 10)"

bench_need_tools mariadb mariadbd mariadb-install-db redis-cli cmake
"$PY" -c 'import redis, pymysql' 2>/dev/null ||
    die "$PY needs python3-redis and python3-pymysql (scripts/deps.sh installs them)"

# --- clean-up ------------------------------------------------------------------------
PIDS=() # the instances, also handed to bench_track
BENCH_CLEAN=$CLEAN
BENCH_TMP=$(mktemp -d /tmp/propagation.XXXXXX)
TMP=$BENCH_TMP
bench_traps

# --- 1. build ------------------------------------------------------------------------
if ((BUILD_IT)); then
    bench_build "$BUILD" "$TMP/cmake.log"
    RBACD=$BUILD/rbacd
else
    RBACD=${RBACD_BIN:-$BUILD/rbacd}
fi
[[ -x $RBACD ]] || die "no rbacd binary at $RBACD"

# --- 2. MariaDB and the demo data ------------------------------------------------------
bench_db_start "$DATADIR" "$DB_PORT"
"$ROOT/scripts/db.sh" load "$DATADIR" "$DBNAME" --demo 2>&1 | sed 's/^/  /' >&2
SOCK=$BENCH_SOCK

# --- 3. the instances --------------------------------------------------------------------
PORTS=()
for ((i = 0; i < INSTANCES; i++)); do
    port=$(free_port)
    cat >"$TMP/rbacd$i.conf" <<EOF
port $port
db-socket $SOCK
db-name $DBNAME
db-user rbacd
db-password rbacd
sync-interval-ms $INTERVAL
logfile $TMP/rbacd$i.log
EOF
    "$RBACD" "$TMP/rbacd$i.conf" </dev/null >"$TMP/rbacd$i.out" 2>&1 &
    PIDS+=($!)
    bench_track "$!" "rbacd $i"
    PORTS+=("$port")
done
for ((i = 0; i < INSTANCES; i++)); do
    bench_wait_loaded "${PORTS[$i]}" "${PIDS[$i]}" "$TMP/rbacd$i.log" 15
done
note "instances on ports ${PORTS[*]}, sync-interval-ms $INTERVAL"

# --- 4. the measurements -----------------------------------------------------------------
"$PY" - "$SOCK" "$DBNAME" "$ROUNDS" "$INTERVAL" "${PORTS[@]}" <<'PYEOF'
import random
import statistics
import subprocess
import sys
import time

import pymysql
import redis

sock, dbname, rounds, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ports = sys.argv[5:]
rng = random.Random(1)
clients = [redis.Redis(port=int(p), decode_responses=True) for p in ports]
db = pymysql.connect(unix_socket=sock, user="root", password="", database=dbname,
                     autocommit=True)
cur = db.cursor()


def wait_all(pred, start, timeout=5.0):
    """Seconds from start until pred(client) held, per client."""
    took = [None] * len(clients)
    while any(t is None for t in took):
        now = time.perf_counter()
        if now - start > timeout:
            raise SystemExit("an instance did not converge within %.0f s" % timeout)
        for i, c in enumerate(clients):
            if took[i] is None and pred(c):
                took[i] = time.perf_counter() - start
        time.sleep(0.001)
    return took


def stats(xs):
    xs = sorted(xs)
    return (statistics.median(xs) * 1000, xs[max(0, int(len(xs) * 0.95) - 1)] * 1000,
            xs[-1] * 1000)


rows = []

# External UPDATE: a user's status flips; every instance must answer accordingly.
per, alls, raw_upd = [], [], []
for k in range(rounds):
    # Changes arrive at any point of the poll cycle, not right after the last poll.
    time.sleep(rng.random() * interval / 1000)
    status = k % 2  # 0 first: disabled
    t0 = time.perf_counter()
    cur.execute("UPDATE tenant_user SET status = %s WHERE id = 3", (status,))
    t1 = time.perf_counter()
    raw_upd.append(t1 - t0)
    took = wait_all(lambda c: c.execute_command("CANMENU", 1, 3, "sys:user:list") == status, t1)
    per.extend(took)
    alls.append(max(took))
cur.execute("UPDATE tenant_user SET status = 1 WHERE id = 3")
rows.append(("external UPDATE -> one instance", per))
rows.append(("external UPDATE -> all instances", alls))
rows.append(("raw client UPDATE (PyMySQL)", raw_upd))

# The same UPDATE through the mariadb command-line client, process start included.
cli = []
for k in range(min(rounds, 20)):
    t0 = time.perf_counter()
    subprocess.run(["mariadb", "--no-defaults", "-uroot", "--socket=" + sock, dbname, "-e",
                    "UPDATE tenant_user SET real_name = 'Bob %d' WHERE id = 3" % k], check=True)
    cli.append(time.perf_counter() - t0)
rows.append(("raw client UPDATE (mariadb -e)", cli))

# Write commands on the first instance.
writer, others = clients[0], clients[1:]
lat, prop, waitrev = [], [], []
for k in range(rounds):
    grant = k % 2 == 0
    t0 = time.perf_counter()
    n = writer.execute_command("ROLE", "GRANT" if grant else "REVOKE", 1, 2, "sys:user:add")
    t1 = time.perf_counter()
    assert n == 1, n
    lat.append(t1 - t0)
    want = 1 if grant else 0
    assert writer.execute_command("CANMENU", 1, 3, "sys:user:add") == want
    rev = writer.execute_command("REVISION")
    for c in others:
        t2 = time.perf_counter()
        assert c.execute_command("WAITREV", rev, 5000) == 1
        waitrev.append(time.perf_counter() - t2)
    # Without WAITREV: how long until the others answer a second write by themselves.
    time.sleep(rng.random() * interval / 1000)
    t3 = time.perf_counter()
    n = writer.execute_command("ROLE", "REVOKE" if grant else "GRANT", 1, 2, "sys:user:edit")
    lat.append(time.perf_counter() - t3)
    t4 = time.perf_counter()
    want_edit = 0 if grant else 1
    took = [None] * len(others)
    while any(t is None for t in took):
        if time.perf_counter() - t4 > 5:
            raise SystemExit("no convergence")
        for i, c in enumerate(others):
            if took[i] is None and \
                    c.execute_command("CANMENU", 1, 3, "sys:user:edit") == want_edit:
                took[i] = time.perf_counter() - t4
        time.sleep(0.001)
    prop.extend(took)
writer.execute_command("ROLE", "REVOKE", 1, 2, "sys:user:add", "sys:user:edit")
rows.append(("write command reply (ROLE GRANT/REVOKE)", lat))
rows.append(("write -> other instance, polled", prop))
rows.append(("write -> other instance, WAITREV", waitrev))

print()
print("%d instances, sync-interval-ms %d, %d rounds" % (len(clients), interval, rounds))
print("%-42s %10s %10s %10s %6s" % ("measurement", "median ms", "p95 ms", "worst ms", "n"))
for name, xs in rows:
    med, p95, worst = stats(xs)
    print("%-42s %10.2f %10.2f %10.2f %6d" % (name, med, p95, worst, len(xs)))
for c in clients:
    info = c.info("sync")
    print("port %s: revision %s, polls %s, records applied %s, writes %s, last poll %s us" % (
        c.connection_pool.connection_kwargs["port"], info["revision"], info["polls"],
        info["records_applied"], info["writes"], info["last_poll_us"]))
PYEOF
