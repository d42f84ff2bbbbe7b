#!/usr/bin/env bash
#
# build.sh — configures and builds rbacd with CMake.
#
#   scripts/build.sh [BUILD_DIR] [cmake options...]     default BUILD_DIR: build
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
shift || true
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
