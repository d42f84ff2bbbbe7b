#!/usr/bin/env bash
#
# db.sh — a private MariaDB server for development, the demo and the tests.
#
# Every server lives in its own data directory and never touches the system one:
# no option files are read (--no-defaults), it listens on 127.0.0.1 and on a unix
# socket, and it runs as the calling user. The socket path is always written to
# DATADIR/socket-path so that other scripts find it without recomputing it (a socket
# path longer than the kernel's limit is moved under /tmp).
#
#   scripts/db.sh start DATADIR PORT [OPTION...]
#                                             create DATADIR if needed, start, wait until ready;
#                                             OPTIONs go to mariadbd as they are (e.g.
#                                             --ssl-cert=F --ssl-key=F --ssl-ca=F for TLS)
#   scripts/db.sh stop  DATADIR               shut down, wait for the process to exit
#   scripts/db.sh status DATADIR              exit 0 if the server answers
#   scripts/db.sh load  DATADIR DBNAME [--demo] [--profile bitenant|mpbackend]
#                                             (re)create DBNAME, user rbacd/rbacd, apply
#                                             schema/*.sql, then schema/demo/*.sql with --demo;
#                                             profile mpbackend: schema/mpbackend/seed/*.sql,
#                                             schema/mpbackend/*.sql, then with --demo
#                                             schema/mpbackend/demo/*.sql
#   scripts/db.sh sql   DATADIR [DBNAME] [mariadb options...]
#                                             mariadb client as root on the socket;
#                                             stdin and options pass through
#
# start and load are idempotent: running "start" then "load --demo" twice in a row works.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCHEMA_DIR="$ROOT/schema"

# The database user rbacd connects as (created by "load").
APP_USER=rbacd
APP_PASSWORD=rbacd

START_TIMEOUT_S=60    # how long "start" waits for the server to answer
STOP_TIMEOUT_S=60     # how long "stop" waits for the process to exit
POLL_INTERVAL_S=0.2
SOCKET_MAX_LEN=100    # sun_path holds 108 bytes; stay well below

die() {
    echo "db.sh: $*" >&2
    exit 1
}

usage() {
    # The usage text is the block of the header comment that starts at "start".
    sed -n '/^#   scripts\/db.sh start/,/^# start and load/p' "${BASH_SOURCE[0]}" |
        sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Absolute path of a data directory, whether or not it exists yet.
abs_datadir() {
    local d=$1
    [[ -n $d ]] || die "empty data directory"
    if [[ $d != /* ]]; then
        d="$PWD/$d"
    fi
    realpath -m -- "$d"
}

# The socket path for DATADIR: DATADIR/mysqld.sock, or a stable name under /tmp when
# that would be too long for a unix socket address.
socket_for() {
    local dir=$1 sock="$1/mysqld.sock"
    if ((${#sock} > SOCKET_MAX_LEN)); then
        sock="/tmp/rbacd-mariadb-$(printf '%s' "$dir" | md5sum | cut -c1-16).sock"
    fi
    printf '%s\n' "$sock"
}

# Socket recorded by "start", falling back to the computed one.
read_socket() {
    local dir=$1
    if [[ -s $dir/socket-path ]]; then
        head -n1 "$dir/socket-path"
    else
        socket_for "$dir"
    fi
}

server_pid() {
    local pidfile="$1/mysqld.pid" pid
    [[ -s $pidfile ]] || return 1
    pid=$(head -n1 "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A stale pid file may name a pid the system has reused for something else.
    if [[ -r /proc/$pid/comm ]]; then
        [[ $(cat "/proc/$pid/comm") == mariadbd || $(cat "/proc/$pid/comm") == mysqld ]] ||
            return 1
    fi
    printf '%s\n' "$pid"
}

ping_server() {
    mariadb-admin --no-defaults --user=root --socket="$1" --connect-timeout=2 \
        ping >/dev/null 2>&1
}

client() {
    local sock=$1
    shift
    mariadb --no-defaults --user=root --socket="$sock" --default-character-set=utf8mb4 "$@"
}

log_tail() {
    local log="$1/error.log"
    if [[ -f $log ]]; then
        echo "--- last lines of $log ---" >&2
        tail -n 30 "$log" >&2
    fi
}

cmd_start() {
    (($# >= 2)) || usage
    local dir port sock pid deadline
    dir=$(abs_datadir "$1")
    port=$2
    shift 2
    if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65535)); then
        die "bad port: $port"
    fi
    sock=$(socket_for "$dir")

    if [[ ! -d $dir/mysql ]]; then
        mkdir -p "$dir"
        echo "db.sh: initialising $dir" >&2
        if ! mariadb-install-db --no-defaults --datadir="$dir" --user="$(id -un)" \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$dir/install.log" 2>&1; then
            cat "$dir/install.log" >&2
            die "mariadb-install-db failed"
        fi
    fi
    printf '%s\n' "$sock" >"$dir/socket-path"

    if pid=$(server_pid "$dir"); then
        # A server from this data directory is running (or still starting): wait for it.
        echo "db.sh: server already running (pid $pid)" >&2
    else
        rm -f "$dir/mysqld.pid"
        # A socket file left by a killed server would make the new one refuse to start
        # only if something still listens on it; a stale file is safe to remove.
        if [[ -S $sock ]] && ! ping_server "$sock"; then
            rm -f "$sock"
        fi
        setsid nohup mariadbd --no-defaults --datadir="$dir" --socket="$sock" \
            --port="$port" --bind-address=127.0.0.1 --user="$(id -un)" \
            --skip-log-bin --default-time-zone=+00:00 \
            --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
            --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" "$@" \
            </dev/null >/dev/null 2>&1 &
        pid=$!
    fi

    deadline=$((SECONDS + START_TIMEOUT_S))
    until ping_server "$sock"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log_tail "$dir"
            die "mariadbd exited during start-up"
        fi
        if ((SECONDS >= deadline)); then
            log_tail "$dir"
            die "server did not answer within ${START_TIMEOUT_S}s"
        fi
        sleep "$POLL_INTERVAL_S"
    done
    echo "db.sh: ready on $sock" >&2
}

cmd_stop() {
    (($# == 1)) || usage
    local dir sock pid deadline
    dir=$(abs_datadir "$1")
    sock=$(read_socket "$dir")
    if ! pid=$(server_pid "$dir"); then
        echo "db.sh: no server running in $dir" >&2
        return 0
    fi
    mariadb-admin --no-defaults --user=root --socket="$sock" shutdown >/dev/null 2>&1 ||
        kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log_tail "$dir"
            die "server (pid $pid) still running after ${STOP_TIMEOUT_S}s"
        fi
        sleep "$POLL_INTERVAL_S"
    done
    echo "db.sh: stopped" >&2
}

cmd_status() {
    (($# == 1)) || usage
    local dir
    dir=$(abs_datadir "$1")
    ping_server "$(read_socket "$dir")"
}

# Applies every *.sql file of a directory, in name order, to a database.
apply_dir() {
    local sock=$1 db=$2 sqldir=$3 f
    local files=()
    shopt -s nullglob
    files=("$sqldir"/*.sql)
    shopt -u nullglob
    ((${#files[@]} > 0)) || die "no .sql files in $sqldir"
    for f in "${files[@]}"; do
        client "$sock" --database="$db" --batch <"$f" ||
            die "failed applying $f"
    done
}

cmd_load() {
    (($# >= 2)) || usage
    local dir db demo=0 profile=bitenant sock
    dir=$(abs_datadir "$1")
    db=$2
    shift 2
    while (($# > 0)); do
        case $1 in
        --demo) demo=1 ;;
        --profile)
            (($# >= 2)) || usage
            profile=$2
            shift
            ;;
        *) usage ;;
        esac
        shift
    done
    [[ $profile == bitenant || $profile == mpbackend ]] || die "unknown profile: $profile"
    [[ $db =~ ^[A-Za-z0-9_]{1,64}$ ]] || die "bad database name: $db"
    sock=$(read_socket "$dir")
    ping_server "$sock" || die "no server answers on $sock (run: db.sh start $1 PORT)"

    client "$sock" --batch <<SQL
DROP DATABASE IF EXISTS \`$db\`;
CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$APP_USER'@'localhost' IDENTIFIED BY '$APP_PASSWORD';
CREATE USER IF NOT EXISTS '$APP_USER'@'127.0.0.1' IDENTIFIED BY '$APP_PASSWORD';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$APP_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$APP_USER'@'127.0.0.1';
SQL
    if [[ $profile == mpbackend ]]; then
        # The service's own tables as its design document has them, then what rbacd
        # adds (change log, triggers).
        apply_dir "$sock" "$db" "$SCHEMA_DIR/mpbackend/seed"
        apply_dir "$sock" "$db" "$SCHEMA_DIR/mpbackend"
        if ((demo)); then
            apply_dir "$sock" "$db" "$SCHEMA_DIR/mpbackend/demo"
        fi
    else
        apply_dir "$sock" "$db" "$SCHEMA_DIR"
        if ((demo)); then
            apply_dir "$sock" "$db" "$SCHEMA_DIR/demo"
        fi
    fi
    echo "db.sh: loaded $db$( [[ $profile == mpbackend ]] && echo ' (profile mpbackend)')$( ((demo)) && echo ' with demo data')" >&2
}

cmd_sql() {
    (($# >= 1)) || usage
    local dir sock
    local args=()
    dir=$(abs_datadir "$1")
    shift
    sock=$(read_socket "$dir")
    if (($# > 0)) && [[ $1 != -* ]]; then
        args+=("--database=$1")
        shift
    fi
    [[ ${1:-} == -- ]] && shift
    exec mariadb --no-defaults --user=root --socket="$sock" --default-character-set=utf8mb4 \
        "${args[@]}" "$@"
}

main() {
    (($# >= 1)) || usage
    local cmd=$1
    shift
    case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    load) cmd_load "$@" ;;
    sql) cmd_sql "$@" ;;
    -h | --help | help) usage ;;
    *) echo "db.sh: unknown command: $cmd" >&2 && usage ;;
    esac
}

main "$@"
