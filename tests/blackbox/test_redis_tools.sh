#!/usr/bin/env bash
#
# test_redis_tools.sh — the stock Redis tools against rbacd, unmodified: redis-cli
# (one-shot, RESP3, interactive on stdin, --stat) and redis-benchmark.
#
# The server (and its scratch database) comes from harness.py's serve mode, which
# prints "PORT PID" and keeps both until its standard input closes; it then checks that
# the server stopped cleanly (exit 0, no sanitizer report).
#
# Environment: as every black-box test (RBACD_BIN, RBACD_SOURCE_DIR, RBACD_TEST_DBDIR).
# Prints one "ok"/"not ok" line per check, then "N passed, N failed"; exits 1 on failure.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
CMD_TIMEOUT=60 # seconds any one tool may run

passed=0
failed=0

ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}

not_ok() {
    echo "not ok - $1"
    if [[ -n ${2-} ]]; then
        printf '%s\n' "$2" | head -n 20 | sed 's/^/    | /'
    fi
    failed=$((failed + 1))
}

# check NAME EXPECTED ACTUAL: exact equality.
check_eq() {
    if [[ $3 == "$2" ]]; then ok "$1"; else not_ok "$1" "expected: $2"$'\n'"got: $3"; fi
}

# check_re NAME REGEX TEXT: some line of TEXT matches the extended regex.
check_re() {
    if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1" "no line matches /$2/ in:"$'\n'"$3"; fi
}

# check_no NAME REGEX TEXT: no line of TEXT matches.
check_no() {
    if grep -Eq -- "$2" <<<"$3"; then not_ok "$1" "unexpected /$2/ in:"$'\n'"$3"; else ok "$1"; fi
}

for tool in redis-cli redis-benchmark; do
    if ! command -v "$tool" >/dev/null; then
        echo "$tool is missing (apt-get install redis-tools)" >&2
        exit 1
    fi
done

# ---- start a server ----

work=$(mktemp -d /tmp/rbacd-tools.XXXXXX)
mkfifo "$work/stdin"
"$PY" "$HERE/harness.py" serve <"$work/stdin" >"$work/stdout" 2>"$work/stderr" &
serve_pid=$!
exec 3>"$work/stdin" # the harness runs until this is closed

stop_server() {
    if [[ -n ${serve_pid-} ]]; then
        exec 3>&-
        wait "$serve_pid"
        serve_status=$?
        serve_pid=
    fi
}

cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

PORT=
for _ in $(seq 1 3000); do # up to 60 s
    # read succeeds only on a whole line: "PORT PID\n"
    if read -r PORT RBACD_PID <"$work/stdout" 2>/dev/null && [[ $PORT =~ ^[0-9]+$ ]]; then
        break
    fi
    PORT=
    if ! kill -0 "$serve_pid" 2>/dev/null; then
        break
    fi
    sleep 0.02
done
if [[ -z $PORT ]]; then
    echo "the server did not start:" >&2
    cat "$work/stderr" >&2
    exit 1
fi
echo "# rbacd pid $RBACD_PID on port $PORT"

cli() {
    timeout "$CMD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$PORT" "$@" 2>&1
}

# ---- redis-cli, one command at a time ----

check_eq "redis-cli PING" "PONG" "$(cli PING)"
check_eq "redis-cli --no-raw ECHO hi" '"hi"' "$(cli --no-raw ECHO hi)"
check_eq "redis-cli ECHO with spaces" "a b  c" "$(cli ECHO 'a b  c')"

out=$(cli --no-raw COMMAND COUNT)
check_re "redis-cli --no-raw COMMAND COUNT" '^\(integer\) [1-9][0-9]*$' "$out"

out=$(cli INFO server)
check_re "redis-cli INFO server has redis_version" '^redis_version:[0-9]+\.[0-9]+' "$out"
check_re "redis-cli INFO server has tcp_port" "^tcp_port:$PORT" "$(tr -d '\r' <<<"$out")"

out=$(cli CONFIG GET save)
check_eq "redis-cli CONFIG GET save" $'save\n' "$out"$'\n'
check_eq "redis-cli --no-raw CONFIG GET appendonly" $'1) "appendonly"\n2) "no"' \
    "$(cli --no-raw CONFIG GET appendonly)"

out=$(cli -3 HELLO)
check_re "redis-cli -3 HELLO: proto 3" '^proto 3$' "$out"
out=$(cli -3 --no-raw HELLO)
check_re "redis-cli -3 --no-raw HELLO: a map with proto 3" '^[0-9]+# "proto" => \(integer\) 3$' "$out"
check_eq "redis-cli -3 --no-raw CLIENT GETNAME (RESP3 null)" "(nil)" "$(cli -3 --no-raw CLIENT GETNAME)"
check_eq "redis-cli --no-raw CLIENT GETNAME (RESP2 null)" "(nil)" "$(cli --no-raw CLIENT GETNAME)"

out=$(cli -r 3 PING)
check_eq "redis-cli -r 3 PING" $'PONG\nPONG\nPONG' "$out"

out=$(cli NOSUCHCOMMAND foo)
check_re "redis-cli unknown command error" "ERR unknown command 'NOSUCHCOMMAND'" "$out"

out=$(cli --no-raw DBSIZE)
check_re "redis-cli DBSIZE" '^\(integer\) [0-9]+$' "$out"

# ---- redis-cli interactive (commands on stdin) ----

out=$(printf 'PING\nECHO hello\nQUIT\n' | timeout "$CMD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$PORT" 2>&1)
check_re "interactive: PONG" '^PONG$' "$out"
check_re "interactive: hello" '^hello$' "$out"
check_no "interactive: no error" 'ERR|Error|error' "$out"

out=$(printf 'HELLO 3\nCLIENT INFO\nPING\n' | timeout "$CMD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$PORT" 2>&1)
check_re "interactive: HELLO 3 then CLIENT INFO shows resp=3" 'resp=3' "$out"
check_no "interactive RESP3: no error" 'ERR|Error|error' "$out"

# ---- redis-cli --stat (INFO every interval) ----

out=$(timeout 1.5 stdbuf -oL redis-cli -h 127.0.0.1 -p "$PORT" --stat -i 0.2 2>&1)
check_re "redis-cli --stat header" 'keys +mem +clients' "$out"
check_re "redis-cli --stat rows" '^[0-9]+ +[0-9.]+[BKMGT] +[0-9]+ +[0-9]+ +[0-9]+ ' "$out"
check_no "redis-cli --stat: no error" 'ERR|Error|error' "$out"

# ---- redis-benchmark ----

bench_check() {
    local name=$1 out=$2 test rps line
    out=$(tr '\r' '\n' <<<"$out")
    check_no "$name: no error" 'ERR|Error|error' "$out"
    for test in PING_INLINE PING_MBULK; do
        line=$(grep -E "^$test: [0-9.]+ requests per second" <<<"$out" | tail -n 1)
        rps=$(sed -E 's/^[A-Z_]+: ([0-9.]+) requests per second.*/\1/' <<<"$line")
        if [[ -n $line ]] && awk -v r="$rps" 'BEGIN { exit !(r > 0) }'; then
            ok "$name: $test $rps requests per second"
        else
            not_ok "$name: $test line with a rate > 0" "$out"
        fi
    done
}

out=$(timeout "$CMD_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$PORT" -t ping -n 20000 -q 2>&1)
bench_check "redis-benchmark -t ping -n 20000" "$out"
out=$(timeout "$CMD_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$PORT" -t ping -n 20000 -P 16 -q 2>&1)
bench_check "redis-benchmark -t ping -n 20000 -P 16" "$out"
out=$(timeout "$CMD_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$PORT" -n 2000 -q ECHO __rand_int__ 2>&1)
out=$(tr '\r' '\n' <<<"$out")
check_re "redis-benchmark custom command (ECHO __rand_int__)" 'requests per second' "$out"
check_no "redis-benchmark custom command: no error" 'ERR|Error|error' "$out"

check_eq "server still answers after the tools" "PONG" "$(cli PING)"

# ---- the server stops cleanly ----

stop_server
if [[ $serve_status -eq 0 ]]; then
    ok "server stopped cleanly (exit 0, no sanitizer report)"
else
    not_ok "server stopped cleanly" "$(cat "$work/stderr")"
fi

echo "$passed passed, $failed failed"
((failed == 0))
