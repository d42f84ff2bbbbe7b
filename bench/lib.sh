# shellcheck shell=bash disable=SC2034 # its globals are read by the scripts that source it
#
# lib.sh — what the benchmark scripts share: messages, ports, building the release
# rbacd, the private MariaDB, waiting for a server, and stopping everything on exit.
# Sourced, never run; the script sets BENCH_NAME (its name in messages) and, when it
# uses them, BENCH_TMP, BENCH_CLEAN and BENCH_STOP before bench_traps.
#
# On exit (normal, error, ^C, TERM) bench_cleanup runs once:
#
#   bench_on_exit (if the script defines it)
#     -> every pid named in BENCH_STOP (variable names, in order), then every pid given
#        to bench_track, each TERM then KILL after 10 s
#     -> the MariaDB that bench_db_start started (kept running when it found one)
#     -> its data directory, when BENCH_CLEAN=1
#     -> BENCH_TMP
#
# Nothing here touches a process it did not start or a directory it was not given.

BENCH_NAME=${BENCH_NAME:-$(basename "$0")}
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_STOP=()      # names of variables holding a pid to stop on exit (empty = none)
BENCH_PIDS=()      # "pid name" of processes to stop on exit (bench_track)
BENCH_TMP=${BENCH_TMP:-}        # a scratch directory removed on exit
BENCH_CLEAN=${BENCH_CLEAN:-0}   # 1: remove the MariaDB data directory on exit
BENCH_DB_DIR=      # the MariaDB data directory in use (bench_db_start)
BENCH_DB_STARTED=0 # bench_db_start started it, so bench_cleanup stops it
BENCH_SOCK=        # its unix socket (bench_db_start)

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}
note() { echo "$BENCH_NAME: $*" >&2; }

# bench_need_tools TOOL...: dies naming the first one missing.
bench_need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "$t is missing (scripts/deps.sh --bench installs it)"
    done
}

# port_busy PORT: whether something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a loopback port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop_pid PID NAME: TERM, then KILL if it is still there after 10 s.
stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    note "$2 (pid $pid) ignores SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

# bench_track PID NAME: stop PID on exit.
bench_track() { BENCH_PIDS+=("$1 $2"); }

bench_cleanup() {
    local rc=$? var entry
    trap - EXIT INT TERM
    if declare -F bench_on_exit >/dev/null; then
        bench_on_exit || true
    fi
    for var in "${BENCH_STOP[@]}"; do
        stop_pid "${!var:-}" "$var"
    done
    for entry in "${BENCH_PIDS[@]}"; do
        stop_pid "${entry%% *}" "${entry#* }"
    done
    wait 2>/dev/null || true
    if [[ -n $BENCH_DB_DIR ]] && ((BENCH_DB_STARTED || BENCH_CLEAN)); then
        "$BENCH_ROOT/scripts/db.sh" stop "$BENCH_DB_DIR" >/dev/null 2>&1 || true
    fi
    if [[ -n $BENCH_DB_DIR ]] && ((BENCH_CLEAN)); then
        rm -rf "$BENCH_DB_DIR"
        note "removed $BENCH_DB_DIR"
    fi
    [[ -z $BENCH_TMP ]] || rm -rf "$BENCH_TMP"
    exit "$rc"
}

# bench_traps: installs bench_cleanup on exit and on INT / TERM.
bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bench_build BUILD_DIR LOG: the release rbacd in BUILD_DIR (CMAKE_BUILD_TYPE=Release),
# compiler output to LOG (its tail shown on failure).
bench_build() {
    local build=$1 log=$2
    mkdir -p "$build"
    note "building release rbacd in $build"
    cmake -S "$BENCH_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRBACD_BLACKBOX=OFF \
        >"$log" 2>&1 || { tail -20 "$log" >&2; die "cmake failed"; }
    cmake --build "$build" -j2 --target rbacd >>"$log" 2>&1 ||
        { tail -30 "$log" >&2; die "build failed"; }
}

# bench_db_start DATADIR PORT: the private MariaDB of DATADIR, started on PORT unless it
# already runs; sets BENCH_DB_DIR, BENCH_DB_STARTED and BENCH_SOCK.
bench_db_start() {
    local datadir=$1 port=$2
    BENCH_DB_DIR=$datadir
    if "$BENCH_ROOT/scripts/db.sh" status "$datadir" 2>/dev/null; then
        note "MariaDB already running in $datadir"
    else
        port_busy "$port" && die "port $port is taken (set DB_PORT)"
        "$BENCH_ROOT/scripts/db.sh" start "$datadir" "$port" 2>&1 | sed 's/^/  /' >&2
        BENCH_DB_STARTED=1
    fi
    BENCH_SOCK=$(head -n1 "$datadir/socket-path")
}

# info_field PORT SECTION FIELD: one field of INFO SECTION (empty when unreachable).
info_field() {
    redis-cli -p "$1" INFO "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p" | head -n1
}

# bench_wait_loaded PORT PID LOG SECONDS: polls every 50 ms until rbacd on PORT reports
# loading:0; dies (showing the tail of LOG) if PID exits or SECONDS pass first.
bench_wait_loaded() {
    local port=$1 pid=$2 log=$3 deadline=$((SECONDS + $4))
    while :; do
        kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "rbacd exited"; }
        [[ $(info_field "$port" persistence loading) == 0 ]] && return 0
        ((SECONDS < deadline)) || die "rbacd on port $port did not finish loading in $4 s"
        sleep 0.05
    done
}

# bench_wait_ping PORT PID NAME LOG: polls PING until it answers (20 s at most); dies
# (showing the tail of LOG) if PID exits first.
bench_wait_ping() {
    local port=$1 pid=$2 name=$3 log=$4 i
    for ((i = 0; i < 400; i++)); do
        [[ $(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            note "$name exited during start-up:"
            tail -n 20 "$log" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
    die "$name did not answer PING within 20 s"
}
