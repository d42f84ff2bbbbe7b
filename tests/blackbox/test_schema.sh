#!/usr/bin/env bash
#
# test_schema.sh — checks schema/*.sql against SPEC §1 on a real MariaDB.
#
# The schema is applied to a scratch database (schema_test_<pid>) that this test
# creates and drops, so the mutations below touch nothing else. When RBACD_TEST_DBNAME
# is set, that database (loaded by the caller) is also checked, read-only, to hold
# every table.
#
# Environment:
#   RBACD_TEST_DBDIR   data directory of a running server started by scripts/db.sh
#                      (its socket path is read from RBACD_TEST_DBDIR/socket-path)
#   RBACD_TEST_DBNAME  optional: a loaded database to check for the tables
#   RBACD_SOURCE_DIR   optional: the checkout (default: found from this file)
#
# Prints "N passed, N failed"; exits 1 on any failure, 77 when no server is given.

set -uo pipefail

ROOT=${RBACD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DBDIR=${RBACD_TEST_DBDIR:-}
DBNAME=${RBACD_TEST_DBNAME:-}

if [[ -z $DBDIR || ! -s $DBDIR/socket-path ]]; then
    echo "test_schema: RBACD_TEST_DBDIR must name a data directory with a socket-path file" >&2
    exit 77
fi
SOCKET=$(head -n1 "$DBDIR/socket-path")
SCRATCH="schema_test_$$"

passed=0
failed=0

# Runs SQL (argument) on the scratch database; prints tab-separated rows, no headers.
q() {
    mariadb --no-defaults --user=root --socket="$SOCKET" --default-character-set=utf8mb4 \
        --batch --skip-column-names --database="$SCRATCH" -e "$1"
}

# Same on the server, without a default database.
q0() {
    mariadb --no-defaults --user=root --socket="$SOCKET" --default-character-set=utf8mb4 \
        --batch --skip-column-names -e "$1"
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

# expect_error NAME SQL — the statement must fail.
expect_error() {
    if q "$2" >/dev/null 2>&1; then
        not_ok "$1" "statement succeeded: $2"
    else
        ok "$1"
    fi
}

cleanup() {
    q0 "DROP DATABASE IF EXISTS \`$SCRATCH\`" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------
# Apply the schema to an empty database.
# ---------------------------------------------------------------------------------
q0 "SELECT 1" >/dev/null || {
    echo "test_schema: no server answers on $SOCKET" >&2
    exit 1
}
q0 "DROP DATABASE IF EXISTS \`$SCRATCH\`; CREATE DATABASE \`$SCRATCH\` CHARACTER SET utf8mb4"
apply_ok=1
for f in "$ROOT"/schema/*.sql; do
    if ! out=$(mariadb --no-defaults --user=root --socket="$SOCKET" --default-character-set=utf8mb4 \
        --batch --database="$SCRATCH" <"$f" 2>&1); then
        not_ok "apply $(basename "$f")" "$out"
        apply_ok=0
    fi
done
((apply_ok)) && ok "schema/*.sql applies to an empty database"

# ---------------------------------------------------------------------------------
# Tables and columns of SPEC §1.
# ---------------------------------------------------------------------------------
COMMON="id created_at updated_at"
declare -A COLUMNS=(
    [tenant]="$COMMON tenant_code tenant_name contact_name contact_phone contact_email status deleted_at"
    [tenant_package]="$COMMON package_code package_name description status sort deleted_at"
    [tenant_menu]="$COMMON parent_id menu_name menu_type perms path component icon platform sort visible status deleted_at"
    [tenant_package_menu]="$COMMON package_id menu_id"
    [tenant_subscription]="$COMMON tenant_id package_id start_time end_time status price duration_days"
    [tenant_org]="$COMMON tenant_id parent_id org_name org_type status sort deleted_at"
    [tenant_user]="$COMMON tenant_id org_id username password real_name phone email is_admin status last_login_at deleted_at"
    [tenant_role]="$COMMON tenant_id role_code role_name status sort remark deleted_at"
    [tenant_user_role]="$COMMON tenant_id user_id role_id"
    [tenant_role_menu]="$COMMON tenant_id role_id menu_id"
    [tenant_user_store]="$COMMON tenant_id user_id store_id"
    [tenant_user_delegate]="$COMMON tenant_id user_id delegate_user_id"
    [tenant_role_template]="$COMMON tenant_id role_id template_id"
    [tenant_user_favorite]="$COMMON tenant_id user_id menu_id sort"
    [tenant_login_log]="log_id tenant_id user_id username login_time ip user_agent result message"
    [tenant_operation_log]="log_id tenant_id user_id operator operation_time module action target detail"
    [tenant_session]="token_hash tenant_id user_id created_at expires_at last_seen_at ip user_agent revoked"
    [rbac_change]="id tenant_id entity entity_id op changed_at"
)
CACHED="tenant tenant_package tenant_menu tenant_package_menu tenant_subscription tenant_role
        tenant_role_menu tenant_user tenant_user_role tenant_user_store tenant_user_delegate
        tenant_session"

expected_tables=$(printf '%s\n' "${!COLUMNS[@]}" | sort | tr '\n' ' ')
actual_tables=$(q "SELECT table_name FROM information_schema.tables
                    WHERE table_schema = DATABASE() ORDER BY table_name" | tr '\n' ' ')
expect "exactly the tables of SPEC §1" "$expected_tables" "$actual_tables"
expect "no views, routines or events" "0 0 0" \
    "$(q "SELECT (SELECT COUNT(*) FROM information_schema.views WHERE table_schema = DATABASE()),
                 (SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE()),
                 (SELECT COUNT(*) FROM information_schema.events WHERE event_schema = DATABASE())" |
        tr '\t' ' ')"

for t in $(printf '%s\n' "${!COLUMNS[@]}" | sort); do
    cols=$(q "SELECT column_name FROM information_schema.columns
               WHERE table_schema = DATABASE() AND table_name = '$t'" | sort | tr '\n' ' ')
    missing=""
    for c in ${COLUMNS[$t]}; do
        [[ " $cols " == *" $c "* ]] || missing+=" $c"
    done
    expect "$t has the columns of SPEC §1" "" "$missing"
done

expect "every table is InnoDB, utf8mb4" "" \
    "$(q "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables
           WHERE table_schema = DATABASE()
             AND (engine <> 'InnoDB' OR table_collation NOT LIKE 'utf8mb4%')" | sed 's/^NULL$//')"

expect "every id column is BIGINT UNSIGNED" "" \
    "$(q "SELECT GROUP_CONCAT(CONCAT(table_name, '.', column_name)) FROM information_schema.columns
           WHERE table_schema = DATABASE()
             AND (column_name IN ('id', 'log_id') OR column_name LIKE '%\_id')
             AND column_type <> 'bigint(20) unsigned'" | sed 's/^NULL$//')"

expect "deleted_at is BIGINT UNSIGNED NOT NULL DEFAULT 0" "" \
    "$(q "SELECT GROUP_CONCAT(table_name) FROM information_schema.columns
           WHERE table_schema = DATABASE() AND column_name = 'deleted_at'
             AND NOT (column_type = 'bigint(20) unsigned' AND is_nullable = 'NO'
                      AND column_default = '0')" | sed 's/^NULL$//')"

expect "status is TINYINT NOT NULL DEFAULT 1" "" \
    "$(q "SELECT GROUP_CONCAT(table_name) FROM information_schema.columns
           WHERE table_schema = DATABASE() AND column_name = 'status'
             AND NOT (data_type = 'tinyint' AND is_nullable = 'NO' AND column_default = '1')" |
        sed 's/^NULL$//')"

expect "created_at/updated_at are DATETIME(3) with defaults" "" \
    "$(q "SELECT GROUP_CONCAT(CONCAT(table_name, '.', column_name)) FROM information_schema.columns
           WHERE table_schema = DATABASE() AND column_name IN ('created_at', 'updated_at')
             AND NOT (column_type = 'datetime(3)' AND column_default LIKE 'current_timestamp%'
                      AND (column_name = 'created_at' OR extra LIKE '%on update%'))" |
        sed 's/^NULL$//')"

expect "tenant_menu.perms is nullable" "YES" \
    "$(q "SELECT is_nullable FROM information_schema.columns WHERE table_schema = DATABASE()
           AND table_name = 'tenant_menu' AND column_name = 'perms'")"

expect "tenant_session.token_hash is BINARY(32) PRIMARY KEY" "binary(32) PRI" \
    "$(q "SELECT column_type, column_key FROM information_schema.columns
           WHERE table_schema = DATABASE() AND table_name = 'tenant_session'
             AND column_name = 'token_hash'" | tr '\t' ' ')"

# ---------------------------------------------------------------------------------
# Keys.
# ---------------------------------------------------------------------------------
# keys_of TABLE UNIQUE(0|1) — one line per index: its columns, comma-separated.
keys_of() {
    q "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index)
         FROM information_schema.statistics
        WHERE table_schema = DATABASE() AND table_name = '$1'
          AND non_unique = $((1 - $2)) AND index_name <> 'PRIMARY'
        GROUP BY index_name"
}

# expect_key TABLE UNIQUE COLUMNS
expect_key() {
    local what=key
    (($2)) && what="unique key"
    if keys_of "$1" "$2" | grep -qx "$3"; then
        ok "$1 has $what ($3)"
    else
        not_ok "$1 has $what ($3)" "keys: $(keys_of "$1" "$2" | tr '\n' ' ')"
    fi
}

expect_key tenant 1 tenant_code,deleted_at
expect_key tenant_menu 1 perms,deleted_at
expect_key tenant_user 1 tenant_id,username,deleted_at
expect_key tenant_package_menu 1 package_id,menu_id
expect_key tenant_user_role 1 user_id,role_id
expect_key tenant_role_menu 1 role_id,menu_id
expect_key tenant_user_store 1 user_id,store_id
expect_key tenant_user_delegate 1 user_id,delegate_user_id
expect_key tenant_user_role 0 role_id
expect_key tenant_role_menu 0 menu_id
expect_key tenant_user_delegate 0 delegate_user_id
expect_key tenant_subscription 0 tenant_id,status,start_time
expect_key tenant_session 0 tenant_id,user_id
expect_key tenant_session 0 expires_at
expect_key rbac_change 0 changed_at

expect "tenant-scoped tables have an index leading with tenant_id" "" \
    "$(q "SELECT GROUP_CONCAT(c.table_name) FROM information_schema.columns c
           WHERE c.table_schema = DATABASE() AND c.column_name = 'tenant_id'
             AND c.table_name <> 'rbac_change'
             AND NOT EXISTS (SELECT 1 FROM information_schema.statistics s
                              WHERE s.table_schema = c.table_schema AND s.table_name = c.table_name
                                AND s.column_name = 'tenant_id' AND s.seq_in_index = 1)" |
        sed 's/^NULL$//')"

for t in tenant_login_log:login_time tenant_operation_log:operation_time; do
    table=${t%%:*} col=${t##*:}
    expect "$table primary key is (log_id, $col)" "log_id,$col" \
        "$(q "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM information_schema.statistics
               WHERE table_schema = DATABASE() AND table_name = '$table' AND index_name = 'PRIMARY'")"
    parts=$(q "SELECT COUNT(*) FROM information_schema.partitions
                WHERE table_schema = DATABASE() AND table_name = '$table'
                  AND partition_name IS NOT NULL")
    if ((parts > 12)); then
        ok "$table has $parts partitions (> 12)"
    else
        not_ok "$table has more than 12 partitions" "partitions: $parts"
    fi
    expect "$table is partitioned by RANGE COLUMNS($col)" "RANGE COLUMNS \`$col\`" \
        "$(q "SELECT DISTINCT partition_method, partition_expression FROM information_schema.partitions
               WHERE table_schema = DATABASE() AND table_name = '$table'" | tr '\t' ' ')"
done

step "INSERT INTO tenant_login_log (tenant_id, user_id, username, login_time, result)
   VALUES (1, 1, 'u', '2026-03-15 10:00:00.000', 1)"
expect "a login in March 2026 lands in partition p202603" "1 0" \
    "$(q "SELECT (SELECT COUNT(*) FROM tenant_login_log PARTITION (p202603)),
                 (SELECT COUNT(*) FROM tenant_login_log PARTITION (p202602, p202604, pmax))" |
        tr '\t' ' ')"
expect "log_id is AUTO_INCREMENT" "1" "$(q "SELECT log_id FROM tenant_login_log")"

# ---------------------------------------------------------------------------------
# Uniqueness rules on live rows.
# ---------------------------------------------------------------------------------
step "INSERT INTO tenant_menu (id, parent_id, menu_name, menu_type, perms) VALUES
     (9001, 0, 'a', 3, 'x:y:z'), (9002, 0, 'b', 1, NULL), (9003, 0, 'c', 1, NULL)" &&
    ok "several menus without perms"
expect_error "two live menus cannot share perms" \
    "INSERT INTO tenant_menu (parent_id, menu_name, menu_type, perms) VALUES (0, 'd', 3, 'x:y:z')"
step "UPDATE tenant_menu SET deleted_at = 1700000000000 WHERE id = 9001"
step "INSERT INTO tenant_menu (id, parent_id, menu_name, menu_type, perms) VALUES (9004, 0, 'e', 3, 'x:y:z')" &&
    ok "a deleted menu's perms can be reused"
step "INSERT INTO tenant (id, tenant_code, tenant_name) VALUES (9001, 'dup', 'Dup')"
expect_error "two live tenants cannot share tenant_code" \
    "INSERT INTO tenant (tenant_code, tenant_name) VALUES ('dup', 'Dup 2')"
expect_error "two live users of a tenant cannot share username" \
    "INSERT INTO tenant_user (tenant_id, username) VALUES (9001, 'same'), (9001, 'same')"

# ---------------------------------------------------------------------------------
# Change-log triggers.
# ---------------------------------------------------------------------------------
expect "three triggers (insert, update, delete) on every cached table" "" \
    "$(for t in $CACHED; do
        n=$(q "SELECT GROUP_CONCAT(event_manipulation ORDER BY event_manipulation)
                 FROM information_schema.triggers
                WHERE trigger_schema = DATABASE() AND event_object_table = '$t'
                  AND action_timing = 'AFTER'")
        [[ $n == "DELETE,INSERT,UPDATE" ]] || printf '%s ' "$t:$n"
    done)"

# changes_since ID — the change rows after ID as "tenant_id entity entity_id op" lines.
changes_since() {
    q "SELECT CONCAT_WS(' ', tenant_id, entity, entity_id, op) FROM rbac_change
        WHERE id > $1 ORDER BY id"
}
last_change() {
    q "SELECT COALESCE(MAX(id), 0) FROM rbac_change"
}

mark=$(last_change)
step "INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) VALUES (7, 70, 700)"
expect "INSERT tenant_role_menu -> (tenant, role, I)" "7 tenant_role_menu 70 I" "$(changes_since "$mark")"

mark=$(last_change)
step "UPDATE tenant_role_menu SET menu_id = 701 WHERE role_id = 70 AND menu_id = 700"
expect "UPDATE tenant_role_menu -> (tenant, role, U)" "7 tenant_role_menu 70 U" "$(changes_since "$mark")"

mark=$(last_change)
step "UPDATE tenant_role_menu SET role_id = 71 WHERE role_id = 70"
expect "UPDATE moving a row to another role -> old role, then new role" \
    "7 tenant_role_menu 70 U|7 tenant_role_menu 71 U" "$(changes_since "$mark" | paste -sd'|')"

mark=$(last_change)
step "DELETE FROM tenant_role_menu WHERE role_id = 71"
expect "DELETE tenant_role_menu -> (tenant, role, D)" "7 tenant_role_menu 71 D" "$(changes_since "$mark")"

mark=$(last_change)
step "UPDATE tenant_menu SET deleted_at = 1700000000001 WHERE id = 9002"
expect "soft delete of tenant_menu -> (0, menu, U)" "0 tenant_menu 9002 U" "$(changes_since "$mark")"

mark=$(last_change)
step "INSERT INTO tenant_package_menu (package_id, menu_id) VALUES (3, 9003)"
step "DELETE FROM tenant_package_menu WHERE package_id = 3"
expect "tenant_package_menu -> (0, package, I/D)" \
    "0 tenant_package_menu 3 I|0 tenant_package_menu 3 D" "$(changes_since "$mark" | paste -sd'|')"

mark=$(last_change)
step "UPDATE tenant SET status = 0 WHERE id = 9001"
expect "UPDATE tenant -> (tenant id, tenant id, U)" "9001 tenant 9001 U" "$(changes_since "$mark")"

mark=$(last_change)
step "INSERT INTO tenant_subscription (id, tenant_id, package_id, start_time, end_time)
   VALUES (55, 9001, 3, '2025-01-01', '2030-01-01')"
expect "INSERT tenant_subscription -> (tenant, subscription id, I)" \
    "9001 tenant_subscription 55 I" "$(changes_since "$mark")"

mark=$(last_change)
step "INSERT INTO tenant_user_store (tenant_id, user_id, store_id) VALUES (9001, 42, 1)"
step "INSERT INTO tenant_user_delegate (tenant_id, user_id, delegate_user_id) VALUES (9001, 42, 43)"
step "INSERT INTO tenant_user_role (tenant_id, user_id, role_id) VALUES (9001, 42, 5)"
step "DELETE FROM tenant_user_delegate WHERE user_id = 42"
expect "user associations -> (tenant, user, op)" \
    "9001 tenant_user_store 42 I|9001 tenant_user_delegate 42 I|9001 tenant_user_role 42 I|9001 tenant_user_delegate 42 D" \
    "$(changes_since "$mark" | paste -sd'|')"

mark=$(last_change)
step "INSERT INTO tenant_session (token_hash, tenant_id, user_id, expires_at)
   VALUES (UNHEX(SHA2('t', 256)), 9001, 42, '2030-01-01')"
step "UPDATE tenant_session SET revoked = 1 WHERE user_id = 42"
expect "tenant_session -> (tenant, user, I/U)" \
    "9001 tenant_session 42 I|9001 tenant_session 42 U" "$(changes_since "$mark" | paste -sd'|')"

mark=$(last_change)
step "START TRANSACTION;
   INSERT INTO tenant_role (tenant_id, role_code, role_name) VALUES (9001, 'r', 'R');
   ROLLBACK"
expect "a rolled-back change leaves no change row" "" "$(changes_since "$mark")"

# ---------------------------------------------------------------------------------
# The caller's loaded database, if any.
# ---------------------------------------------------------------------------------
if [[ -n $DBNAME ]]; then
    expect "database $DBNAME holds every table" "$expected_tables" \
        "$(q0 "SELECT table_name FROM information_schema.tables
                WHERE table_schema = '$DBNAME' ORDER BY table_name" | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
((failed == 0))
