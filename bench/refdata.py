#!/usr/bin/python3
"""refdata.py — the reference side of bench/canmenu.sh.

  fill   copies the answers of rbacd into a redis-server: for every user u of a range,
         the set menus:<tenant>:<u as 12 digits> holds the perms codes of
         `MENUS tenant u CODES` (12 digits because redis-benchmark's __rand_int__ is
         a 12-digit zero-padded number). Then checks, for a sample, that
         `CANMENU tenant u code` on rbacd equals `SISMEMBER menus:... code` on redis.
  sql    the same question asked of MariaDB as one SQL statement (a join computing the
         answer from the tables), for a number of random (user, code) pairs: per-query
         latency with PyMySQL on one connection, the total time of the `mariadb`
         command-line client running all of them from a file, and the answers
         compared with rbacd's.

Both print `key=value` lines (for the shell) after a human-readable summary on stderr.
Needs Debian's python3-redis and python3-pymysql (scripts/deps.sh installs both).
"""

import argparse
import random
import subprocess
import sys
import tempfile
import time

import redis


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def key_of(tenant, user):
    return "menus:%d:%012d" % (tenant, user)


def cmd_fill(a):
    rb = redis.Redis(host="127.0.0.1", port=a.rbacd_port, socket_timeout=120)
    rs = redis.Redis(host="127.0.0.1", port=a.redis_port, socket_timeout=120)
    rs.flushall()
    t0 = time.monotonic()
    users = list(range(a.first, a.last + 1))
    members = nonempty = 0
    batch = 2000
    for i in range(0, len(users), batch):
        chunk = users[i:i + batch]
        p = rb.pipeline(transaction=False)
        for u in chunk:
            p.execute_command("MENUS", a.tenant, u, "CODES")
        answers = p.execute()
        q = rs.pipeline(transaction=False)
        for u, codes in zip(chunk, answers):
            if codes:
                q.sadd(key_of(a.tenant, u), *codes)
                members += len(codes)
                nonempty += 1
        q.execute()
    dt = time.monotonic() - t0
    mem = rs.info("memory")
    log("refdata: %d users of tenant %d -> %d non-empty sets, %d members, %.1fs; "
        "redis used_memory %d" % (len(users), a.tenant, nonempty, members, dt,
                                  mem["used_memory"]))

    # Same answers?
    rnd = random.Random(a.seed)
    codes = a.codes.split(",")
    pairs = [(rnd.randint(a.first, a.last), rnd.choice(codes)) for _ in range(a.sample)]
    p = rb.pipeline(transaction=False)
    q = rs.pipeline(transaction=False)
    for u, c in pairs:
        p.execute_command("CANMENU", a.tenant, "%012d" % u, c)
        q.sismember(key_of(a.tenant, u), c)
    x, y = p.execute(), q.execute()
    mism = sum(1 for i, j in zip(x, y) if int(i) != int(bool(j)))
    allowed = sum(int(i) for i in x)
    log("refdata: checked %d (user, code) pairs: %d mismatches, %d allowed"
        % (len(pairs), mism, allowed))
    print("fill_users=%d" % len(users))
    print("fill_sets=%d" % nonempty)
    print("fill_members=%d" % members)
    print("fill_seconds=%.1f" % dt)
    print("redis_used_memory=%d" % mem["used_memory"])
    print("redis_used_memory_rss=%d" % mem["used_memory_rss"])
    print("check_pairs=%d" % len(pairs))
    print("check_mismatches=%d" % mism)
    print("check_allowed=%d" % allowed)


# CANMENU tenant user menu as SQL. Mirrors SPEC.md §1: the tenant and the user live and
# enabled; the menu and every ancestor live and enabled; the menu in the package of the
# tenant's current subscription (enabled, in effect now, latest start_time, then highest
# id); the user an admin, or holding a usable role of the tenant that has the menu.
CANMENU_SQL = """SELECT (
  EXISTS (SELECT 1 FROM tenant t WHERE t.id = {t} AND t.status = 1 AND t.deleted_at = 0)
  AND EXISTS (SELECT 1 FROM tenant_user u WHERE u.id = {u} AND u.tenant_id = {t}
                 AND u.status = 1 AND u.deleted_at = 0)
  AND EXISTS (
    WITH RECURSIVE anc (id, parent_id, depth) AS (
      SELECT m.id, m.parent_id, 0 FROM tenant_menu m
       WHERE m.perms = '{m}' AND m.deleted_at = 0 AND m.status = 1
      UNION ALL
      SELECT p.id, p.parent_id, a.depth + 1 FROM tenant_menu p JOIN anc a ON p.id = a.parent_id
       WHERE p.deleted_at = 0 AND p.status = 1 AND a.depth < 32)
    SELECT 1 FROM anc WHERE anc.parent_id = 0)
  AND EXISTS (
    SELECT 1 FROM tenant_menu m
      JOIN tenant_package_menu pm ON pm.menu_id = m.id
       AND pm.package_id = (SELECT s.package_id FROM tenant_subscription s
                             WHERE s.tenant_id = {t} AND s.status = 1
                               AND s.start_time <= UTC_TIMESTAMP(3) AND s.end_time > UTC_TIMESTAMP(3)
                             ORDER BY s.start_time DESC, s.id DESC LIMIT 1)
     WHERE m.perms = '{m}' AND m.deleted_at = 0
       AND ((SELECT u.is_admin FROM tenant_user u WHERE u.id = {u}) = 1
            OR EXISTS (SELECT 1 FROM tenant_user_role ur
                         JOIN tenant_role r ON r.id = ur.role_id AND r.tenant_id = {t}
                                            AND r.status = 1 AND r.deleted_at = 0
                         JOIN tenant_role_menu rm ON rm.role_id = r.id AND rm.menu_id = m.id
                        WHERE ur.user_id = {u}))
  )) AS allowed"""


def pct(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    i = min(len(sorted_ms) - 1, max(0, int(round(p / 100.0 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[i]


def cmd_sql(a):
    import pymysql

    rnd = random.Random(a.seed)
    codes = a.codes.split(",")
    pairs = [(rnd.randint(a.first, a.last), rnd.choice(codes)) for _ in range(a.queries)]
    queries = [CANMENU_SQL.format(t=a.tenant, u=u, m=c) for u, c in pairs]

    # 1. PyMySQL, one connection, one query at a time.
    conn = pymysql.connect(unix_socket=a.socket, user=a.user, password=a.password,
                           database=a.database, autocommit=True)
    cur = conn.cursor()
    cur.execute("SET time_zone = '+00:00'")
    for q in queries[:20]:  # warm-up
        cur.execute(q)
        cur.fetchall()
    lat = []
    sql_ans = []
    t_all = time.perf_counter()
    for q in queries:
        t0 = time.perf_counter()
        cur.execute(q)
        row = cur.fetchone()
        lat.append((time.perf_counter() - t0) * 1000.0)
        sql_ans.append(int(row[0]))
    py_total = time.perf_counter() - t_all
    conn.close()
    lat.sort()

    # 2. The mariadb client, all queries from one file, one connection.
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(";\n".join(queries) + ";\n")
        path = f.name
    cli = ["mariadb", "--no-defaults", "--user=" + a.user, "--socket=" + a.socket,
           "--database=" + a.database, "--batch", "--skip-column-names"]
    if a.password:
        cli.append("--password=" + a.password)
    t0 = time.perf_counter()
    with open(path) as fin:
        out = subprocess.run(cli, stdin=fin, capture_output=True, text=True, check=True).stdout
    cli_total = time.perf_counter() - t0
    cli_ans = [int(x) for x in out.split()]

    # 3. rbacd: the same pairs, serially on one connection (redis-py), then compared.
    rb = redis.Redis(host="127.0.0.1", port=a.rbacd_port)
    rb_lat = []
    rb_ans = []
    for u, c in pairs[:20]:
        rb.execute_command("CANMENU", a.tenant, u, c)
    t_all = time.perf_counter()
    for u, c in pairs:
        t0 = time.perf_counter()
        rb_ans.append(int(rb.execute_command("CANMENU", a.tenant, u, c)))
        rb_lat.append((time.perf_counter() - t0) * 1000.0)
    rb_total = time.perf_counter() - t_all
    rb_lat.sort()

    mism_sql = sum(1 for x, y in zip(sql_ans, rb_ans) if x != y)
    mism_cli = sum(1 for x, y in zip(cli_ans, rb_ans) if x != y) + abs(len(cli_ans) - len(rb_ans))
    log("refdata: %d CANMENU questions, tenant %d, users %d..%d, codes %s"
        % (len(pairs), a.tenant, a.first, a.last, a.codes))
    log("  MariaDB SQL (PyMySQL, 1 conn): avg %.3f ms  p50 %.3f  p99 %.3f  -> %.0f q/s"
        % (py_total * 1000 / len(pairs), pct(lat, 50), pct(lat, 99), len(pairs) / py_total))
    log("  MariaDB SQL (mariadb client, file): %.3f ms per query (%.2fs total)"
        % (cli_total * 1000 / len(pairs), cli_total))
    log("  rbacd CANMENU (redis-py, 1 conn):   avg %.3f ms  p50 %.3f  p99 %.3f  -> %.0f q/s"
        % (rb_total * 1000 / len(pairs), pct(rb_lat, 50), pct(rb_lat, 99), len(pairs) / rb_total))
    log("  answers: %d allowed; SQL vs rbacd mismatches: %d (PyMySQL), %d (client)"
        % (sum(rb_ans), mism_sql, mism_cli))
    print("sql_queries=%d" % len(pairs))
    print("sql_py_avg_ms=%.3f" % (py_total * 1000 / len(pairs)))
    print("sql_py_p50_ms=%.3f" % pct(lat, 50))
    print("sql_py_p99_ms=%.3f" % pct(lat, 99))
    print("sql_cli_avg_ms=%.3f" % (cli_total * 1000 / len(pairs)))
    print("rb_py_avg_ms=%.3f" % (rb_total * 1000 / len(pairs)))
    print("rb_py_p50_ms=%.3f" % pct(rb_lat, 50))
    print("rb_py_p99_ms=%.3f" % pct(rb_lat, 99))
    print("sql_allowed=%d" % sum(sql_ans))
    print("sql_mismatches=%d" % max(mism_sql, mism_cli))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("fill", "sql"):
        s = sub.add_parser(name)
        s.add_argument("--rbacd-port", type=int, required=True)
        s.add_argument("--tenant", type=int, default=1)
        s.add_argument("--first", type=int, default=1, help="first user id")
        s.add_argument("--last", type=int, required=True, help="last user id")
        s.add_argument("--codes", default="sys:user:add,m:10")
        s.add_argument("--seed", type=int, default=7)
    f = sub.choices["fill"]
    f.add_argument("--redis-port", type=int, required=True)
    f.add_argument("--sample", type=int, default=5000)
    q = sub.choices["sql"]
    q.add_argument("--socket", required=True)
    q.add_argument("--database", required=True)
    q.add_argument("--user", default="root")
    q.add_argument("--password", default="")
    q.add_argument("--queries", type=int, default=2000)
    a = p.parse_args()
    {"fill": cmd_fill, "sql": cmd_sql}[a.cmd](a)


if __name__ == "__main__":
    main()
