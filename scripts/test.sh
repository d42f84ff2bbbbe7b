#!/usr/bin/env bash
#
# test.sh — the README's second command, and what CI runs: installs what is missing,
# checks that every C file is formatted (clang-format; an unformatted file fails the run
# before anything is built), builds rbacd twice (optimised, and with AddressSanitizer +
# UndefinedBehaviorSanitizer) and runs every test of both builds under CTest, then
# builds the three libFuzzer targets with clang and runs each briefly, then a few
# black-box tests with rbacd under valgrind memcheck, and last runs the
# benchmark's smoke test (bench/run small on the release build: it fails only when a row
# of its table has no figure; its RESULTS.md goes to build/bench-smoke, not bench/).
# Unit tests need nothing; black-box tests start their own private MariaDB (CTest
# fixture) and their own rbacd instances; the benchmark starts its own MariaDB (port
# 3471, build-bench/benchdb), rbacd and redis-server.
#
# Environment: RBACD_TEST_DB_PORT (default 3417) — the test MariaDB's TCP port;
#              test_db_tls.py's MariaDB (TLS) takes the port after it.
#              RBACD_TEST_ONLY=asan|release|fuzz|valgrind|bench — run one of the five
#              only (the format check always runs).
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DB_PORT=${RBACD_TEST_DB_PORT:-3417}
ONLY=${RBACD_TEST_ONLY:-}

# libFuzzer targets (tests/fuzz/<name>.c, seeds in tests/fuzz/<name>_seeds), each with
# the longest input it is given, and how long each runs in CI.
FUZZ_TARGETS=(resp_fuzz:2048 conf_fuzz:8192 command_fuzz:4096)
FUZZ_SECONDS=25
# Black-box tests run under valgrind in CI: 80-100 s on 2 cores (scripts/valgrind.sh with
# no argument runs them all, about 15 minutes).
VALGRIND_CI_TESTS='blackbox\.test_(protocol|writes)$'

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

# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) and runs
# each for FUZZ_SECONDS from its seeds (and its dictionary, tests/fuzz/<name>.dict); new inputs go to the build tree (corpus-<name>/,
# kept between runs), a crash's input to <name>-crash-*, the log to <name>.log.
run_fuzz() {
    local dir=$1 t name max_len dict status=0
    CC=clang cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRBACD_FUZZ=ON \
        -DRBACD_BLACKBOX=OFF -DRBACD_WERROR=ON >/dev/null
    cmake --build "$dir" --target fuzz -j "$(nproc)"
    for t in "${FUZZ_TARGETS[@]}"; do
        name=${t%%:*}
        max_len=${t#*:}
        mkdir -p "$dir/corpus-$name"
        dict=()
        [[ -f $ROOT/tests/fuzz/$name.dict ]] && dict=(-dict="$ROOT/tests/fuzz/$name.dict")
        if "$dir/$name" -max_total_time="$FUZZ_SECONDS" -max_len="$max_len" -seed=1 \
            -print_final_stats=1 -artifact_prefix="$dir/$name-" "${dict[@]}" \
            "$dir/corpus-$name" "$ROOT/tests/fuzz/${name}_seeds" >"$dir/$name.log" 2>&1; then
            echo "$name: $(grep -E '^stat::number_of_executed_units' "$dir/$name.log" |
                awk '{print $2}') inputs in ${FUZZ_SECONDS} s, nothing found"
        else
            echo "$name: FAILED (input in $dir/$name-crash-*)"
            tail -n 40 "$dir/$name.log"
            status=1
        fi
    done
    return $status
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
    echo "== fuzz (libFuzzer: ${FUZZ_TARGETS[*]%%:*}) =="
    run_fuzz "$ROOT/build-fuzz" || status=1
fi
if [[ -z $ONLY || $ONLY == valgrind ]]; then
    echo "== valgrind memcheck (black-box: $VALGRIND_CI_TESTS) =="
    RBACD_TEST_DB_PORT=$DB_PORT "$ROOT/scripts/valgrind.sh" "$VALGRIND_CI_TESTS" || status=1
fi
if [[ -z $ONLY || $ONLY == bench ]]; then
    echo "== benchmark smoke (bench/run small) =="
    run_bench_smoke || status=1
fi
exit $status
