#!/usr/bin/env bash
#
# demo.sh — the README's first command. Installs what is missing, builds rbacd, starts
# a private MariaDB in .data/mariadb (never the system one), loads schema/ and the demo
# data, and runs rbacd in the foreground on 127.0.0.1:6380. Ctrl-C stops rbacd; the
# database keeps running for the next start (scripts/db.sh stop .data/mariadb stops it).
#
# Environment: RBACD_DEMO_DB_PORT (default 3407) — the private MariaDB's TCP port.
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATADIR="$ROOT/.data/mariadb"
DB_PORT=${RBACD_DEMO_DB_PORT:-3407}

"$ROOT/scripts/deps.sh"
"$ROOT/scripts/build.sh" "$ROOT/build"
"$ROOT/scripts/db.sh" start "$DATADIR" "$DB_PORT"
"$ROOT/scripts/db.sh" load "$DATADIR" rbacd --demo
SOCKET=$(head -n1 "$DATADIR/socket-path")

echo "rbacd: serving the demo data on 127.0.0.1:6380 — try: redis-cli -p 6380 CANMENU 1 1 sys:user:add"
exec "$ROOT/build/rbacd" "$ROOT/conf/rbacd.conf" --db-socket "$SOCKET" --db-name rbacd "$@"
