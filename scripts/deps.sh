#!/usr/bin/env bash
#
# deps.sh — installs what building, running and testing rbacd needs, and nothing that is
# already there. Debian 12 packages only, plus the Node.js clients used by the tests
# (installed into tests/node/node_modules from its lock file). mariadb-server, galera-4 and
# rsync are for the cluster test (scripts/galera.sh): the wsrep_sst_rsync script and the
# mysql user the nodes run as come with mariadb-server.
#
#   scripts/deps.sh            build + run + test dependencies
#   scripts/deps.sh --bench    also redis-server (the reference in bench/) and gnuplot-nox
#                              (bench/run draws its pictures with it)
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PACKAGES=(
    build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
    libevent-dev libmariadb-dev libxxhash-dev libroaring-dev libsodium-dev libcrypt-dev libssl-dev
    mariadb-server-core mariadb-client
    mariadb-server galera-4 rsync
    redis-tools python3 python3-redis python3-pymysql tmux
    prometheus openssl
    valgrind
)
[[ ${1:-} == --bench ]] && PACKAGES+=(redis-server gnuplot-nox)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

SUDO=
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "deps.sh: not root and no sudo; install: ${PACKAGES[*]}" >&2
        exit 1
    }
    SUDO=sudo
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps.sh: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# The Node.js clients of the black-box and compatibility tests (ioredis, node-redis,
# iovalkey, Valkey GLIDE), at the exact versions of tests/node/package.json, from its
# lock file: installed when one is missing or at another version.
node_clients_current() {
    (cd "$ROOT/tests/node" && node -e '
        const want = require("./package.json").dependencies || {};
        const have = (n) => { try { return require(`./node_modules/${n}/package.json`).version; }
                              catch { return null; } };
        process.exit(Object.keys(want).every((n) => have(n) === want[n]) ? 0 : 1);')
}
if [[ -f $ROOT/tests/node/package-lock.json ]] && ! node_clients_current; then
    echo "deps.sh: installing Node.js test clients"
    (cd "$ROOT/tests/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# The reference gateway cache's client (node-redis, RESP3) for its test and benchmark.
GW=$ROOT/examples/gateway-cache
if [[ -f $GW/package-lock.json && ! -d $GW/node_modules/redis ]]; then
    echo "deps.sh: installing the gateway cache example's client"
    (cd "$GW" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
