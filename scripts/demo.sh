#!/usr/bin/env bash
#
# demo.sh — the README's first command. Installs what is missing, builds rbacd, starts
# a private MariaDB in .data/mariadb (never the system one), loads schema/ and the demo
# data, and runs rbacd in the foreground on 127.0.0.1:6380. Ctrl-C stops rbacd; the
# database keeps running for the next start (scripts/db.sh stop .data/mariadb stops it).
#
# scripts/demo.sh --profile mpbackend does the same for profile mpbackend (SPEC §4): it
# loads the mpbackend service's tables and schema/mpbackend/demo/ into database
# mpbackend of the same private MariaDB (the bi-tenant demo in database rbacd is left
# alone) and runs rbacd --profile mpbackend on it. Any further arguments go to rbacd
# as overrides, with or without --profile mpbackend first.
#
# Environment: RBACD_DEMO_DB_PORT (default 3407) — the private MariaDB's TCP port.
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATADIR="$ROOT/.data/mariadb"
DB_PORT=${RBACD_DEMO_DB_PORT:-3407}

PROFILE=bitenant
if (($# >= 2)) && [[ $1 == --profile && $2 == mpbackend ]]; then
    PROFILE=mpbackend
    shift 2
fi

"$ROOT/scripts/deps.sh"
"$ROOT/scripts/build.sh" "$ROOT/build"
"$ROOT/scripts/db.sh" start "$DATADIR" "$DB_PORT"
if [[ $PROFILE == mpbackend ]]; then
    "$ROOT/scripts/db.sh" load "$DATADIR" mpbackend --demo --profile mpbackend
    SOCKET=$(head -n1 "$DATADIR/socket-path")
    echo "rbacd: serving the mpbackend demo data on 127.0.0.1:6380 — try: redis-cli -p 6380 CAN admin 1 user:write"
    exec "$ROOT/build/rbacd" "$ROOT/conf/rbacd.conf" --profile mpbackend \
        --db-socket "$SOCKET" --db-name mpbackend "$@"
fi
"$ROOT/scripts/db.sh" load "$DATADIR" rbacd --demo
SOCKET=$(head -n1 "$DATADIR/socket-path")

echo "rbacd: serving the demo data on 127.0.0.1:6380 — try: redis-cli -p 6380 CANMENU 1 1 sys:user:add"
exec "$ROOT/build/rbacd" "$ROOT/conf/rbacd.conf" --db-socket "$SOCKET" --db-name rbacd "$@"
