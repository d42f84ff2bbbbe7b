#!/usr/bin/env bash
#
# galera.sh — a 3-node MariaDB Galera cluster on loopback, for the cluster tests and for
# trying rbacd on a cluster (README "Running on a cluster").
#
# Each node has its own data directory DIR/nodeN, owned by the mysql user and run as it,
# as a packaged server does (the rsync state transfer fails for nodes run as root: the
# rsync daemon drops to nobody). No option files are read (--no-defaults). Every port
# comes from one base B:
#
#   node N (1..3)   SQL port B+N-1   gcomm B+10+N-1   IST B+20+N-1   SST (rsync) B+30+N-1
#                   socket DIR/nodeN/mysqld.sock (moved under /tmp when too long)
#
# Each node's socket path is written to DIR/nodeN/socket-path, so scripts/db.sh works on
# a node as on a single server: "db.sh load DIR/node1 rbacd --demo" (schema changes and
# users replicate), "db.sh sql DIR/node2 rbacd".
#
#   scripts/galera.sh start DIR BASE      create what is missing, bootstrap node 1, join
#                                         2 and 3; returns once all three are Synced
#                                         (about 15 s). Idempotent.
#   scripts/galera.sh stop DIR            shut the nodes down (3, 2, then 1)
#   scripts/galera.sh status DIR          cluster size as node 1..3 see it; exit 0 if 3
#   scripts/galera.sh kill DIR N          kill -9 node N (a crash, for the tests)
#   scripts/galera.sh node-start DIR N    start node N again; it rejoins the running
#                                         cluster (incremental state transfer)
#   scripts/galera.sh check               exit 0 if this machine can run the cluster
#                                         (galera-4, rsync, the SST script, a mysql user);
#                                         otherwise say what is missing, exit 1
#
# The cluster is for tests and trials: start bootstraps node 1 even when another node
# would have had newer data (it marks node 1 safe to bootstrap).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROVIDER=/usr/lib/galera/libgalera_smm.so
RUN_USER=mysql
NODES=3
CLUSTER_NAME=rbacd-test
START_TIMEOUT_S=90   # how long one node may take to be Synced
STOP_TIMEOUT_S=60    # how long one node may take to exit
POLL_INTERVAL_S=0.2
SOCKET_MAX_LEN=100   # sun_path holds 108 bytes; stay well below
GCACHE_SIZE=64M      # write-set cache per node (IST after a short outage comes from it)
BUFFER_POOL=64M      # three nodes share a small test machine

die() {
    echo "galera.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '/^#   scripts\/galera.sh start/,/^#                                         otherwise/p' \
        "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

abs_dir() {
    local d=$1
    [[ -n $d ]] || die "empty directory"
    [[ $d == /* ]] || d="$PWD/$d"
    realpath -m -- "$d"
}

check_base() {
    [[ $1 =~ ^[0-9]{1,5}$ ]] && (($1 >= 1024 && $1 + 40 <= 65535)) || die "bad base port: $1"
}

# What is missing for a cluster on this machine, one item a line (nothing = ready).
missing() {
    [[ -f $PROVIDER ]] || echo "the Galera provider $PROVIDER (apt-get install galera-4)"
    command -v rsync >/dev/null 2>&1 || echo "rsync (apt-get install rsync)"
    command -v wsrep_sst_rsync >/dev/null 2>&1 ||
        echo "wsrep_sst_rsync (apt-get install mariadb-server)"
    command -v mariadbd >/dev/null 2>&1 || echo "mariadbd (apt-get install mariadb-server-core)"
    id -u "$RUN_USER" >/dev/null 2>&1 || echo "a '$RUN_USER' user to run the nodes as"
    [[ $(id -u) -eq 0 ]] || echo "root, to start the nodes as '$RUN_USER'"
}

cmd_check() {
    local m
    m=$(missing)
    if [[ -n $m ]]; then
        echo "galera.sh: cannot run a cluster here; missing:" >&2
        printf '  %s\n' "$m" >&2
        return 1
    fi
}

node_dir() { printf '%s/node%s\n' "$1" "$2"; }

socket_for() {
    local sock="$1/mysqld.sock"
    if ((${#sock} > SOCKET_MAX_LEN)); then
        sock="/tmp/rbacd-galera-$(printf '%s' "$1" | md5sum | cut -c1-16).sock"
    fi
    printf '%s\n' "$sock"
}

node_pid() {
    local pidfile="$1/mysqld.pid" pid
    [[ -s $pidfile ]] || return 1
    pid=$(head -n1 "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == mariadbd ]] || return 1
    printf '%s\n' "$pid"
}

node_sql() {
    mariadb --no-defaults --user=root --socket="$(socket_for "$1")" --connect-timeout=2 \
        --batch --skip-column-names -e "$2" 2>/dev/null
}

# "Synced" once the node has joined and caught up.
node_state() {
    node_sql "$1" "SHOW STATUS LIKE 'wsrep_local_state_comment'" | cut -f2
}

# Records the base port so that node-start needs no argument.
base_of() {
    [[ -s $1/base-port ]] || die "$1 has no cluster (run: galera.sh start $1 BASE)"
    head -n1 "$1/base-port"
}

init_node() {
    local nd=$1
    [[ -d $nd/mysql ]] && return 0
    mkdir -p "$nd"
    chown "$RUN_USER:" "$nd"
    if ! mariadb-install-db --no-defaults --datadir="$nd" --user="$RUN_USER" \
        --auth-root-authentication-method=normal --skip-test-db >"$nd/install.log" 2>&1; then
        cat "$nd/install.log" >&2
        die "mariadb-install-db failed for $nd"
    fi
}

# Starts node n of the cluster in dir; bootstrap=1 starts a new cluster with it.
launch_node() {
    local dir=$1 n=$2 bootstrap=$3 base nd sock g i s p
    base=$(base_of "$dir")
    nd=$(node_dir "$dir" "$n")
    sock=$(socket_for "$nd")
    p=$((base + n - 1))
    g=$((base + 10 + n - 1))
    i=$((base + 20 + n - 1))
    s=$((base + 30 + n - 1))
    local peers extra=()
    peers="gcomm://127.0.0.1:$((base + 10)),127.0.0.1:$((base + 11)),127.0.0.1:$((base + 12))"
    if ((bootstrap)); then
        extra+=(--wsrep-new-cluster)
        [[ -f $nd/grastate.dat ]] &&
            sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$nd/grastate.dat"
    fi
    printf '%s\n' "$sock" >"$nd/socket-path"
    rm -f "$nd/mysqld.pid"
    [[ -S $sock ]] && rm -f "$sock"
    setsid nohup mariadbd --no-defaults --datadir="$nd" --socket="$sock" --port="$p" \
        --bind-address=127.0.0.1 --user="$RUN_USER" --pid-file="$nd/mysqld.pid" \
        --log-error="$nd/error.log" --default-time-zone=+00:00 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --innodb-buffer-pool-size="$BUFFER_POOL" --innodb-autoinc-lock-mode=2 \
        --binlog-format=ROW --wsrep-on=ON --wsrep-provider="$PROVIDER" \
        --wsrep-cluster-name="$CLUSTER_NAME" --wsrep-cluster-address="$peers" \
        --wsrep-node-name="node$n" --wsrep-node-address="127.0.0.1:$g" \
        --wsrep-node-incoming-address="127.0.0.1:$p" \
        --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$g;ist.recv_addr=127.0.0.1:$i;gcache.size=$GCACHE_SIZE" \
        --wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$s" \
        "${extra[@]}" </dev/null >/dev/null 2>&1 &
    echo $! >"$nd/launch.pid" # mysqld.pid only appears after the state transfer
}

wait_synced() {
    local nd=$1 deadline=$((SECONDS + START_TIMEOUT_S))
    until [[ $(node_state "$nd") == Synced ]]; do
        if ! kill -0 "$(cat "$nd/launch.pid")" 2>/dev/null; then
            tail -n 30 "$nd/error.log" >&2
            die "$(basename "$nd") exited during start-up"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$nd/error.log" >&2
            die "$(basename "$nd") not Synced within ${START_TIMEOUT_S}s"
        fi
        sleep "$POLL_INTERVAL_S"
    done
}

# Whether any node other than n is running.
others_running() {
    local dir=$1 n=$2 k
    for ((k = 1; k <= NODES; k++)); do
        ((k == n)) && continue
        node_pid "$(node_dir "$dir" "$k")" >/dev/null && return 0
    done
    return 1
}

start_node() {
    local dir=$1 n=$2 nd bootstrap=0
    nd=$(node_dir "$dir" "$n")
    if node_pid "$nd" >/dev/null; then
        wait_synced "$nd"
        return 0
    fi
    others_running "$dir" "$n" || bootstrap=1
    launch_node "$dir" "$n" "$bootstrap"
    wait_synced "$nd"
    echo "galera.sh: node$n Synced on port $(($(base_of "$dir") + n - 1))" >&2
}

cmd_start() {
    (($# == 2)) || usage
    local dir base n
    dir=$(abs_dir "$1")
    base=$2
    check_base "$base"
    cmd_check || exit 1
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [[ -s $dir/base-port && $(head -n1 "$dir/base-port") != "$base" ]]; then
        die "$dir was made with base port $(head -n1 "$dir/base-port"), not $base"
    fi
    runuser -u "$RUN_USER" -- test -x "$dir" ||
        die "the $RUN_USER user cannot reach $dir (a parent directory is closed to others); use a directory under /tmp"
    printf '%s\n' "$base" >"$dir/base-port"
    for ((n = 1; n <= NODES; n++)); do
        init_node "$(node_dir "$dir" "$n")"
    done
    for ((n = 1; n <= NODES; n++)); do
        start_node "$dir" "$n"
    done
}

stop_node() {
    local nd=$1 pid deadline
    pid=$(node_pid "$nd") || return 0
    mariadb-admin --no-defaults --user=root --socket="$(socket_for "$nd")" shutdown \
        >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            die "$(basename "$nd") (pid $pid) still running after ${STOP_TIMEOUT_S}s; killed"
        fi
        sleep "$POLL_INTERVAL_S"
    done
}

cmd_stop() {
    (($# == 1)) || usage
    local dir n
    dir=$(abs_dir "$1")
    for ((n = NODES; n >= 1; n--)); do
        stop_node "$(node_dir "$dir" "$n")"
    done
    echo "galera.sh: stopped" >&2
}

cmd_status() {
    (($# == 1)) || usage
    local dir n size all=0
    dir=$(abs_dir "$1")
    for ((n = 1; n <= NODES; n++)); do
        size=$(node_sql "$(node_dir "$dir" "$n")" "SHOW STATUS LIKE 'wsrep_cluster_size'" |
            cut -f2) || size=
        echo "node$n: ${size:-down}"
        [[ $size == "$NODES" ]] && all=$((all + 1))
    done
    ((all == NODES))
}

node_arg() {
    [[ $1 =~ ^[1-3]$ ]] || die "bad node number: $1 (1..$NODES)"
}

cmd_kill() {
    (($# == 2)) || usage
    local dir pid
    dir=$(abs_dir "$1")
    node_arg "$2"
    pid=$(node_pid "$(node_dir "$dir" "$2")") || die "node$2 is not running"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep "$POLL_INTERVAL_S"; done
}

cmd_node_start() {
    (($# == 2)) || usage
    local dir
    dir=$(abs_dir "$1")
    node_arg "$2"
    start_node "$dir" "$2"
}

main() {
    (($# >= 1)) || usage
    local cmd=$1
    shift
    case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    kill) cmd_kill "$@" ;;
    node-start) cmd_node_start "$@" ;;
    check) cmd_check ;;
    -h | --help | help) usage ;;
    *) echo "galera.sh: unknown command: $cmd" >&2 && usage ;;
    esac
}

main "$@"
