#!/usr/bin/env bash
#
# valgrind.sh — the black-box tests with every rbacd they start under valgrind memcheck
# (tests/blackbox/harness.py, RBACD_VALGRIND=1): an invalid read or write, a use of
# uninitialised memory, a bad free or a definite leak fails the test that started the
# server (valgrind exits 99; its report is printed with the test's output).
#
#   scripts/valgrind.sh [CTEST_REGEX]    default: every black-box test
#
# Builds the release build ($ROOT/build, no sanitizers: valgrind cannot run an ASan
# binary) and runs CTest's black-box label there, one test at a time. valgrind makes
# rbacd 20-50 times slower: the harness multiplies its own timeouts by RBACD_TIME_SCALE
# (20 by default under valgrind), and tests that assert how long something takes skip
# those assertions. The whole suite takes about 15 minutes on 2 cores; a regex picks a
# part (scripts/test.sh runs the short subset in VALGRIND_CI_TESTS).
#
# Environment: RBACD_TEST_DB_PORT (default 3417) — the test MariaDB's TCP port
#              (test_db_tls.py's own MariaDB takes the port after it);
#              RBACD_VALGRIND_EXCLUDE — a CTest regex of tests to leave out.
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DB_PORT=${RBACD_TEST_DB_PORT:-3417}
REGEX=${1:-}

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 1; }
"$ROOT/scripts/build.sh" "$ROOT/build" -DRBACD_SANITIZE=OFF -DRBACD_WERROR=ON \
    -DRBACD_TEST_DB_PORT="$DB_PORT"
args=(--output-on-failure --timeout 3600 -L blackbox)
[[ -n $REGEX ]] && args+=(-R "$REGEX")
[[ -n ${RBACD_VALGRIND_EXCLUDE:-} ]] && args+=(-E "$RBACD_VALGRIND_EXCLUDE")
cd "$ROOT/build"
RBACD_VALGRIND=1 ctest "${args[@]}"
