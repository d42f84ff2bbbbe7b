#!/usr/bin/env bash
#
# test_mp_schema.sh — checks the schema of profile mpbackend (SPEC §4) on a real
# MariaDB: the service's own tables (schema/mpbackend/seed/*.sql) followed by what
# rbacd adds (schema/mpbackend/*.sql) apply to an empty database, and every trigger
# writes the rbac_change rows documented at the top of schema/mpbackend/002_triggers.sql.
# Then scripts/db.sh load --profile mpbackend --demo loads the demo data set, and each
# demo row left its change row.
#
# Scratch databases (mp_schema_test_<pid>, mp_demo_test_<pid>) are created and dropped
# here, so the mutations below touch nothing else.
#
# Environment:
#   RBACD_TEST_DBDIR   data directory of a running server started by scripts/db.sh
#                      (its socket path is read from RBACD_TEST_DBDIR/socket-path)
#   RBACD_SOURCE_DIR   optional: the checkout (default: found from this file)
#
# Prints "N passed, N failed"; exits 1 on any failure, 77 when no server is given.

set -uo pipefail

ROOT=${RBACD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DBDIR=${RBACD_TEST_DBDIR:-}

if [[ -z $DBDIR || ! -s $DBDIR/socket-path ]]; then
    echo "test_mp_schema: RBACD_TEST_DBDIR must name a data directory with a socket-path file" >&2
    exit 77
fi
SOCKET=$(head -n1 "$DBDIR/socket-path")
SCRATCH="mp_schema_test_$$"
DEMO_DB="mp_demo_test_$$"
MP="$ROOT/schema/mpbackend"

passed=0
failed=0

# q SQL — runs SQL on the scratch database; prints tab-separated rows, no headers.
q() {
    mariadb --no-defaults --user=root --socket="$SOCKET" --default-character-set=utf8mb4 \
        --batch --skip-column-names --database="$SCRATCH" -e "$1"
}

# qd DB SQL — the same on another database ("" for none).
qd() {
    local args=()
    [[ -n $1 ]] && args=("--database=$1")
    mariadb --no-defaults --user=root --socket="$SOCKET" --default-character-set=utf8mb4 \
        --batch --skip-column-names "${args[@]}" -e "$2"
}

ok() {
    passed=$((passed + 1))
    echo "ok   $1"
}

not_ok() {
    failed=$((failed + 1))
    echo "FAIL $1" >&2
    shift
    local line
    for line in "$@"; do
        echo "     $line" >&2
    done
}

# expect NAME EXPECTED ACTUAL
expect() {
    if [[ $2 == "$3" ]]; then
        ok "$1"
    else
        not_ok "$1" "expected: $2" "actual:   $3"
    fi
}

# step SQL — a statement the checks build on; its failure is a failure of the test.
step() {
    local out
    if ! out=$(q "$1" 2>&1); then
        not_ok "statement failed: $1" "$out"
        return 1
    fi
}

cleanup() {
    qd "" "DROP DATABASE IF EXISTS \`$SCRATCH\`; DROP DATABASE IF EXISTS \`$DEMO_DB\`" \
        >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------
# Apply the seed's tables, then rbacd's additions, to an empty database.
# ---------------------------------------------------------------------------------
qd "" "SELECT 1" >/dev/null || {
    echo "test_mp_schema: no server answers on $SOCKET" >&2
    exit 1
}
qd "" "DROP DATABASE IF EXISTS \`$SCRATCH\`; CREATE DATABASE \`$SCRATCH\` CHARACTER SET utf8mb4"
apply_ok=1
for f in "$MP"/seed/*.sql "$MP"/*.sql; do
    # --show-warnings: a statement MariaDB accepts with a warning is reported too.
    if ! out=$(mariadb --no-defaults --user=root --socket="$SOCKET" --default-character-set=utf8mb4 \
        --batch --show-warnings --database="$SCRATCH" <"$f" 2>&1) || [[ -n $out ]]; then
        not_ok "apply ${f#"$ROOT"/}" "$out"
        apply_ok=0
    fi
done
((apply_ok)) && ok "schema/mpbackend/seed/*.sql then schema/mpbackend/*.sql apply to an empty database, no warnings"

# ---------------------------------------------------------------------------------
# Tables: the seed's fifteen, unchanged, plus rbac_change.
# ---------------------------------------------------------------------------------
SEED_TABLES=(mpbackend_account_login_method mpbackend_admin_user_role_binding
    mpbackend_application mpbackend_application_permission_flag
    mpbackend_application_permission_flag_binding mpbackend_application_user_role_binding
    mpbackend_application_version mpbackend_application_version_audit mpbackend_developer
    mpbackend_developer_user mpbackend_developer_user_role_binding mpbackend_file
    mpbackend_role mpbackend_user mpbackend_user_session_token)
CACHED=(mpbackend_user mpbackend_role mpbackend_admin_user_role_binding
    mpbackend_developer_user_role_binding mpbackend_application_user_role_binding
    mpbackend_account_login_method mpbackend_application_permission_flag
    mpbackend_application_permission_flag_binding mpbackend_user_session_token)

expect "exactly the seed's tables and rbac_change" \
    "$(printf '%s\n' "${SEED_TABLES[@]}" rbac_change | sort | tr '\n' ' ')" \
    "$(q "SELECT table_name FROM information_schema.tables
           WHERE table_schema = DATABASE() ORDER BY table_name" | tr '\n' ' ')"
expect "no views, routines or events" "0 0 0" \
    "$(q "SELECT (SELECT COUNT(*) FROM information_schema.views WHERE table_schema = DATABASE()),
                 (SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE()),
                 (SELECT COUNT(*) FROM information_schema.events WHERE event_schema = DATABASE())" |
        tr '\t' ' ')"

# The seed's DDL is kept as written: its charset (utf8, that is utf8mb3), its signed
# ids and its AUTO_INCREMENT starting points.
expect "the seed's tables keep charset utf8 (utf8mb3)" "" \
    "$(q "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables
           WHERE table_schema = DATABASE() AND table_name LIKE 'mpbackend\_%'
             AND (engine <> 'InnoDB' OR table_collation NOT LIKE 'utf8mb3%')" | sed 's/^NULL$//')"
expect "the seed's ids are signed BIGINT" "" \
    "$(q "SELECT GROUP_CONCAT(CONCAT(table_name, '.', column_name)) FROM information_schema.columns
           WHERE table_schema = DATABASE() AND table_name LIKE 'mpbackend\_%'
             AND column_name = 'id' AND column_type <> 'bigint(20)'" | sed 's/^NULL$//')"
expect "the seed's AUTO_INCREMENT values" \
    "mpbackend_account_login_method=40 mpbackend_role=15 mpbackend_user=59 mpbackend_user_session_token=482" \
    "$(q "SELECT CONCAT(table_name, '=', auto_increment) FROM information_schema.tables
           WHERE table_schema = DATABASE()
             AND table_name IN ('mpbackend_account_login_method', 'mpbackend_role',
                                'mpbackend_user', 'mpbackend_user_session_token')
           ORDER BY table_name" | tr '\n' ' ' | sed 's/ $//')"

expect "rbac_change columns" \
    "id bigint(20) unsigned NO|tenant_id bigint(20) unsigned NO|entity varchar(64) NO|entity_id bigint(20) unsigned NO|op char(1) NO|changed_at datetime(3) NO" \
    "$(q "SELECT CONCAT_WS(' ', column_name, column_type, is_nullable) FROM information_schema.columns
           WHERE table_schema = DATABASE() AND table_name = 'rbac_change'
           ORDER BY ordinal_position" | paste -sd'|')"
expect "rbac_change is InnoDB, utf8mb4" "InnoDB utf8mb4" \
    "$(q "SELECT engine, SUBSTRING_INDEX(table_collation, '_', 1) FROM information_schema.tables
           WHERE table_schema = DATABASE() AND table_name = 'rbac_change'" | tr '\t' ' ')"
expect "rbac_change has a key on changed_at" "changed_at" \
    "$(q "SELECT GROUP_CONCAT(column_name) FROM information_schema.statistics
           WHERE table_schema = DATABASE() AND table_name = 'rbac_change'
             AND index_name <> 'PRIMARY'")"

# ---------------------------------------------------------------------------------
# Triggers: AFTER INSERT, UPDATE and DELETE on each cached table, nowhere else.
# ---------------------------------------------------------------------------------
expect "three AFTER triggers (insert, update, delete) on every cached table" "" \
    "$(for t in "${CACHED[@]}"; do
        n=$(q "SELECT GROUP_CONCAT(event_manipulation ORDER BY event_manipulation)
                 FROM information_schema.triggers
                WHERE trigger_schema = DATABASE() AND event_object_table = '$t'
                  AND action_timing = 'AFTER'")
        [[ $n == "DELETE,INSERT,UPDATE" ]] || printf '%s ' "$t:$n"
    done)"
expect "27 triggers in all" "27" \
    "$(q "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()")"

# changes_since ID — the change rows after ID as "tenant_id entity entity_id op", '|'-joined.
changes_since() {
    q "SELECT CONCAT_WS(' ', tenant_id, entity, entity_id, op) FROM rbac_change
        WHERE id > $1 ORDER BY id" | paste -sd'|'
}
last_change() {
    q "SELECT COALESCE(MAX(id), 0) FROM rbac_change"
}

# check NAME SQL EXPECTED — runs SQL; the change rows it wrote must be EXPECTED.
check() {
    local mark
    mark=$(last_change)
    step "$2" || return
    expect "$1" "$3" "$(changes_since "$mark")"
}

BIG=4294967301 # 2^32 + 5: 64-bit ids travel intact

# Tables whose entity_id is the row's own id.
# by_id TABLE "COLUMNS" "VALUES WITH ID \$ID" "SET clause of a plain update"
by_id() {
    local t=$1 cols=$2 vals=$3 set=$4 id=$BIG new=$((BIG + 1))
    check "$t: INSERT -> (0, $t, id, I)" \
        "INSERT INTO $t (id, $cols) VALUES ($id, $vals)" "0 $t $id I"
    check "$t: UPDATE -> (0, $t, id, U)" \
        "UPDATE $t SET $set WHERE id = $id" "0 $t $id U"
    check "$t: UPDATE of the id -> old id, then new id" \
        "UPDATE $t SET id = $new WHERE id = $id" "0 $t $id U|0 $t $new U"
    check "$t: DELETE -> (0, $t, id, D)" \
        "DELETE FROM $t WHERE id = $new" "0 $t $new D"
}

by_id mpbackend_user "email" "'u@example.com'" "disabled = 1, disabled_at = NOW()"
by_id mpbackend_role "name, permissions, scope" "'r', 'a:b, c:d', 'Admin'" \
    "permissions = 'a:b'"
by_id mpbackend_account_login_method "user_id, provider_key, login_provider" \
    "7, 'k@example.com', 'email'" "user_id = 8"
by_id mpbackend_application_permission_flag "name, arguments" "'camera', '[\"front\"]'" \
    "arguments = '[]'"
by_id mpbackend_application_permission_flag_binding "application_id, permission_flag_id" \
    "'com.example.a', 3" "application_id = 'com.example.b'"

# Tables whose entity_id is the row's user_id.
# by_user TABLE "COLUMNS" "VALUES" "SET clause of a plain update"
by_user() {
    local t=$1 cols=$2 vals=$3 set=$4 user=$BIG other=42 row=77
    check "$t: INSERT -> (0, $t, user_id, I)" \
        "INSERT INTO $t (id, user_id, $cols) VALUES ($row, $user, $vals)" "0 $t $user I"
    check "$t: UPDATE -> (0, $t, user_id, U)" \
        "UPDATE $t SET $set WHERE id = $row" "0 $t $user U"
    check "$t: UPDATE of the row id (same user) -> one row for the user" \
        "UPDATE $t SET id = $((row + 1)) WHERE id = $row" "0 $t $user U"
    check "$t: UPDATE moving the row to another user -> old user, then new user" \
        "UPDATE $t SET user_id = $other WHERE id = $((row + 1))" "0 $t $user U|0 $t $other U"
    check "$t: DELETE -> (0, $t, user_id, D)" \
        "DELETE FROM $t WHERE id = $((row + 1))" "0 $t $other D"
}

by_user mpbackend_admin_user_role_binding "role_id" "3" "disabled = 1"
by_user mpbackend_developer_user_role_binding "role_id, developer_id" "3, 10" "developer_id = 11"
by_user mpbackend_application_user_role_binding "role_id, application_id" "5, 'com.example.pay'" \
    "application_id = 'com.example.chat'"
by_user mpbackend_user_session_token "session_token, expired_at" \
    "'legacy-token', '2037-01-01 00:00:00'" "expired_at = '2036-01-01 00:00:00'"

check "a multi-row UPDATE writes one row per matched row" \
    "INSERT INTO mpbackend_user (id, email) VALUES (501, 'a'), (502, 'b');
     UPDATE mpbackend_user SET disabled = 1 WHERE id IN (501, 502) ORDER BY id" \
    "0 mpbackend_user 501 I|0 mpbackend_user 502 I|0 mpbackend_user 501 U|0 mpbackend_user 502 U"

check "a rolled-back change leaves no change row" \
    "START TRANSACTION;
     INSERT INTO mpbackend_role (name, permissions, scope) VALUES ('x', 'y', 'Developer');
     ROLLBACK" ""

check "tables rbacd does not cache write no change rows" \
    "INSERT INTO mpbackend_developer (id, name, owner_id) VALUES (10, 'Acme', 2);
     INSERT INTO mpbackend_application (app_id, developer_id) VALUES ('com.example.pay', 10);
     UPDATE mpbackend_developer SET name = 'Acme Apps' WHERE id = 10;
     DELETE FROM mpbackend_developer WHERE id = 10" ""

# ---------------------------------------------------------------------------------
# scripts/db.sh load --profile mpbackend --demo: the demo data set.
# ---------------------------------------------------------------------------------
if out=$("$ROOT/scripts/db.sh" load "$DBDIR" "$DEMO_DB" --demo --profile mpbackend 2>&1); then
    ok "scripts/db.sh load --demo --profile mpbackend"
    counts=""
    total=0
    for t in "${CACHED[@]}"; do
        n=$(qd "$DEMO_DB" "SELECT COUNT(*) FROM $t")
        counts+="$t=$n "
        total=$((total + n))
    done
    if ((total > 0)); then
        ok "the demo fills the cached tables (${counts% })"
    else
        not_ok "the demo fills the cached tables" "$counts"
    fi
    expect "each demo row left one insert row in rbac_change" "$total I" \
        "$(qd "$DEMO_DB" "SELECT COUNT(*), GROUP_CONCAT(DISTINCT op) FROM rbac_change" | tr '\t' ' ')"
else
    not_ok "scripts/db.sh load --demo --profile mpbackend" "$out"
fi

echo "$passed passed, $failed failed"
((failed == 0))
