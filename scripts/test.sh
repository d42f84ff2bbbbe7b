#!/usr/bin/env bash
#
# test.sh — the README's second command, and what CI runs: installs what is missing,
# checks that every C file is formatted (clang-format; an unformatted file fails the run
# before anything is built), builds rbacd twice (optimised, and with AddressSanitizer +
# UndefinedBehaviorSanitizer) and runs every test of both builds under CTest, then
# builds the libFuzzer target with clang and runs it briefly, and last runs the
# benchmark's smoke test (bench/run small on the release build: it fails only when a row
# of its table has no figure; its RESULTS.md goes to build/bench-smoke, not bench/).
# Unit tests need nothing; black-box tests start their own private MariaDB (CTest
# fixture) and their own rbacd instances; the benchmark starts its own MariaDB (port
# 3471, build-bench/benchdb), rbacd and redis-server.
#
# Environment: RBACD_TEST_DB_PORT (default 3417) — the test MariaDB's TCP port;
#              test_db_tls.py's MariaDB (TLS) takes the port after it.
#              RBACD_TEST_ONLY=asan|release|fuzz|bench — run one of the four only (the
#              format check always runs).
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DB_PORT=${RBACD_TEST_DB_PORT:-3417}
ONLY=${RBACD_TEST_ONLY:-}

FUZZ_RUNS=200000  # resp_fuzz inputs per CI run (a few seconds) ...
FUZZ_MAX_SECONDS=20 # ... or this long, whichever ends first

"$ROOT/scripts/deps.sh"

# Every C file under these directories must be as clang-format (.clang-format) leaves it.
check_format() {
    local files
    mapfile -t files < <(cd "$ROOT" && find src include tests/unit tests/fuzz -type f \
        \( -name '*.c' -o -name '*.h' \) | sort)
    if ! (cd "$ROOT" && clang-format --dry-run -Werror "${files[@]}"); then
        echo "test.sh: the files above are not formatted; run clang-format -i on them" >&2
        return 1
    fi
    echo "${#files[@]} C files formatted"
}

# Builds tests/fuzz/resp_fuzz with clang (-fsanitize=fuzzer,address,undefined) and runs
# it from the seeds in tests/fuzz/seeds; new inputs it finds go to the build tree.
run_fuzz() {
    local dir=$1
    CC=clang cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRBACD_FUZZ=ON \
        -DRBACD_BLACKBOX=OFF -DRBACD_WERROR=ON >/dev/null
    cmake --build "$dir" --target resp_fuzz -j "$(nproc)"
    mkdir -p "$dir/fuzz-corpus"
    "$dir/resp_fuzz" -runs="$FUZZ_RUNS" -max_total_time="$FUZZ_MAX_SECONDS" -max_len=2048 \
        -seed=1 -print_final_stats=1 "$dir/fuzz-corpus" "$ROOT/tests/fuzz/seeds" \
        >"$dir/resp_fuzz.log" 2>&1 || {
        tail -n 40 "$dir/resp_fuzz.log"
        return 1
    }
    grep -E '^(Done|stat::number_of_executed_units)' "$dir/resp_fuzz.log"
}

# bench/run small against the release build (built here when only this step runs).
run_bench_smoke() {
    "$ROOT/scripts/deps.sh" --bench
    [[ -x $ROOT/build/rbacd ]] || "$ROOT/scripts/build.sh" "$ROOT/build" -DRBACD_SANITIZE=OFF
    "$ROOT/bench/run" small --rbacd "$ROOT/build/rbacd" --out "$ROOT/build/bench-smoke"
}

run_suite() {
    local dir=$1
    shift
    "$ROOT/scripts/build.sh" "$dir" -DRBACD_WERROR=ON -DRBACD_TEST_DB_PORT="$DB_PORT" "$@"
    (cd "$dir" && ctest --output-on-failure --timeout 600)
}

echo "== format (clang-format --dry-run -Werror) =="
check_format || exit 1

status=0
if [[ -z $ONLY || $ONLY == release ]]; then
    echo "== release build =="
    run_suite "$ROOT/build" -DRBACD_SANITIZE=OFF || status=1
fi
if [[ -z $ONLY || $ONLY == asan ]]; then
    echo "== sanitizer build (address, undefined) =="
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_suite "$ROOT/build-asan" -DRBACD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug || status=1
fi
if [[ -z $ONLY || $ONLY == fuzz ]]; then
    echo "== fuzz (libFuzzer: resp_fuzz) =="
    run_fuzz "$ROOT/build-fuzz" || status=1
fi
if [[ -z $ONLY || $ONLY == bench ]]; then
    echo "== benchmark smoke (bench/run small) =="
    run_bench_smoke || status=1
fi
exit $status
