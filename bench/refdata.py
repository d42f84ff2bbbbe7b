#!/usr/bin/python3
"""refdata.py — the reference side of bench/run: the same answers in a redis-server, and
the same question as SQL.

  fill   copies rbacd's answers into a redis-server, the way an application that caches
         permissions in Redis would keep them:
           perms:<tenant>:<user>   set of the perms codes of `MENUS tenant user CODES`,
                                   for every live user (or the first --max-users ids);
           menus:<tenant>:<user>   set of the menu ids of `MENUS tenant user`, for the
                                   users --ids-first..--ids-last of --ids-tenant;
           sess:<i>                "<tenant>:<user>" with a TTL, for i in 0..--sessions-1,
                                   session i belonging to user i of --ids-tenant (user
                                   --ids-last for i = 0, as there is no user 0);
         every <user> and <i> written as 12 zero-padded digits, because that is how
         redis-benchmark writes __rand_int__. The sets go in through `redis-cli --pipe`,
         the answers come out of rbacd over a raw pipelined socket: a 1M-user copy takes
         a minute, not ten. Then checks, for a sample, that `CANMENU t u code` on rbacd
         equals `SISMEMBER perms:t:u code` on redis. Reports the memory redis used after
         each kind of key.
  sql    the same question asked of MariaDB as one SQL statement (a join computing the
         answer from the tables), for a number of random (user, code) pairs: per-query
         latency with PyMySQL on one connection, the total time of the `mariadb`
         command-line client running all of them from a file, and the answers compared
         with rbacd's.

Both print `key=value` lines after a human-readable summary on stderr; bench/measure.py
imports the module and calls fill() and sql() directly. Needs Debian's python3-redis and
python3-pymysql (scripts/deps.sh installs both).
"""

import argparse
import random
import socket
import subprocess
import sys
import tempfile
import time

import redis

SESSION_TTL_S = 7200


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def perms_key(tenant, user):
    return "perms:%d:%012d" % (tenant, user)


def menus_key(tenant, user):
    return "menus:%d:%012d" % (tenant, user)


def sess_key(i):
    return "sess:%012d" % i


def resp(*args):
    """One command in RESP, arguments as bytes or str."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawPipe:
    """A pipelined RESP connection that returns each array reply as its raw lines: the
    answers of MENUS are copied into SADD commands without decoding every member."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=300)
        self.buf = b""

    def arrays(self, commands, per_member):
        """Sends the commands, returns one (count, lines) per reply: lines are the
        count * per_member lines after the array header (2 per bulk string, 1 per
        integer), without their CRLF."""
        self.s.sendall(b"".join(commands))
        want = len(commands)
        while True:
            got = self._parse(want, per_member)
            if got is not None:
                return got
            chunk = self.s.recv(1 << 22)
            if not chunk:
                raise SystemExit("refdata.py: rbacd closed the connection")
            self.buf += chunk

    def _parse(self, want, per_member):
        toks = self.buf.split(b"\r\n")
        last = len(toks) - 1  # toks[last] is an incomplete line (or b"")
        out = []
        i = 0
        while len(out) < want:
            if i >= last:
                return None
            head = toks[i]
            if head[:1] == b"-":
                raise SystemExit("refdata.py: rbacd answered %s" % head.decode(errors="replace"))
            if head[:1] != b"*":
                raise SystemExit("refdata.py: expected an array, got %r" % head[:40])
            n = int(head[1:])
            end = i + 1 + n * per_member
            if end > last:
                return None
            out.append((n, toks[i + 1:end]))
            i = end
        # Keep what follows the last reply (nothing, in a request-reply exchange).
        self.buf = b"\r\n".join(toks[i:])
        return out


class RedisPipe:
    """redis-cli --pipe: writes commands as fast as redis-server takes them."""

    def __init__(self, port):
        self.p = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.commands = 0

    def write(self, data, commands):
        self.p.stdin.write(data)
        self.commands += commands

    def close(self):
        out, _ = self.p.communicate()
        text = out.decode(errors="replace")
        errors = replies = -1
        for line in text.splitlines():
            if "errors:" in line and "replies:" in line:
                parts = line.replace(",", " ").split()
                errors = int(parts[parts.index("errors:") + 1])
                replies = int(parts[parts.index("replies:") + 1])
        if self.p.returncode != 0 or errors != 0 or replies != self.commands:
            raise SystemExit("refdata.py: redis-cli --pipe: %s" % text.strip())
        return replies


def live_users(socket_path, database, max_users, user="root", password=""):
    """(tenant, user) of every live user, by id; the first max_users when > 0."""
    import pymysql
    import pymysql.cursors

    conn = pymysql.connect(unix_socket=socket_path, user=user, password=password,
                           database=database, cursorclass=pymysql.cursors.SSCursor)
    try:
        cur = conn.cursor()
        sql = "SELECT tenant_id, id FROM tenant_user WHERE deleted_at = 0 ORDER BY id"
        if max_users > 0:
            sql += " LIMIT %d" % max_users
        cur.execute(sql)
        while True:
            rows = cur.fetchmany(10000)
            if not rows:
                break
            for t, u in rows:
                yield int(t), int(u)
    finally:
        conn.close()


def redis_memory(rs):
    m = rs.info("memory")
    return int(m["used_memory"]), int(m["used_memory_rss"])


def fill(rbacd_port, redis_port, users, ids_tenant, ids_first, ids_last, sessions,
         check_codes, sample=5000, seed=7, batch=1000):
    """Fills redis-server from rbacd's answers (see the module's doc); returns a dict of
    counts, memory figures and the result of the check."""
    rs = redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=300)
    rs.flushall()
    time.sleep(0.2)
    mem0 = redis_memory(rs)
    rb = RawPipe(rbacd_port)
    res = {}

    # 1. perms:<t>:<u> for every user: SADD key + the reply's members as they came.
    t0 = time.monotonic()
    pipe = RedisPipe(redis_port)
    nusers = nsets = members = 0
    chunk = []

    def flush_perms(chunk):
        nonlocal nsets, members
        cmds = [resp("MENUS", t, u, "CODES") for t, u in chunk]
        out = []
        for (t, u), (n, lines) in zip(chunk, rb.arrays(cmds, 2)):
            if n == 0:
                continue  # Redis keeps no empty set: SISMEMBER answers 0 all the same
            key = perms_key(t, u).encode()
            out.append(b"*%d\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n" % (n + 2, len(key), key))
            out.append(b"\r\n".join(lines))
            out.append(b"\r\n")
            nsets += 1
            members += n
        pipe.write(b"".join(out), len(out) // 3)

    for tu in users:
        chunk.append(tu)
        nusers += 1
        if len(chunk) == batch:
            flush_perms(chunk)
            chunk = []
    if chunk:
        flush_perms(chunk)
    pipe.close()
    res["fill_users"] = nusers
    res["fill_sets"] = nsets
    res["fill_members"] = members
    res["fill_perms_s"] = time.monotonic() - t0
    time.sleep(0.5)
    mem1 = redis_memory(rs)
    log("refdata: perms sets of %d users: %d sets, %d members, %.1fs; redis used_memory %d, "
        "RSS %d" % (nusers, nsets, members, res["fill_perms_s"], mem1[0], mem1[1]))

    # 2. menus:<t>:<u> (ids) for the users of one tenant: integers become bulk strings.
    t0 = time.monotonic()
    pipe = RedisPipe(redis_port)
    bulk = {}
    ids_sets = ids_members = 0
    for lo in range(ids_first, ids_last + 1, batch):
        us = list(range(lo, min(ids_last, lo + batch - 1) + 1))
        cmds = [resp("MENUS", ids_tenant, u) for u in us]
        out = []
        for u, (n, lines) in zip(us, rb.arrays(cmds, 1)):
            if n == 0:
                continue
            for tok in lines:
                if tok not in bulk:
                    bulk[tok] = b"$%d\r\n%s\r\n" % (len(tok) - 1, tok[1:])
            key = menus_key(ids_tenant, u).encode()
            out.append(b"*%d\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n" % (n + 2, len(key), key))
            out.append(b"".join(map(bulk.__getitem__, lines)))
            ids_sets += 1
            ids_members += n
        pipe.write(b"".join(out), len(out) // 2)
    pipe.close()
    time.sleep(0.5)
    mem2 = redis_memory(rs)
    res["ids_users"] = ids_last - ids_first + 1
    res["ids_sets"] = ids_sets
    res["ids_members"] = ids_members
    res["fill_ids_s"] = time.monotonic() - t0

    # 3. sess:<i> -> "<tenant>:<user>", with the sessions' TTL.
    pipe = RedisPipe(redis_port)
    for lo in range(0, sessions, batch):
        out = []
        for i in range(lo, min(sessions, lo + batch)):
            u = i if i >= ids_first else ids_last
            out.append(resp("SET", sess_key(i), "%d:%012d" % (ids_tenant, u), "EX",
                            SESSION_TTL_S))
        pipe.write(b"".join(out), len(out))
    pipe.close()
    res["sessions"] = sessions
    mem3 = redis_memory(rs)

    res["redis_used_memory_empty"], res["redis_rss_empty"] = mem0
    res["redis_used_memory_perms"], res["redis_rss_perms"] = mem1
    res["redis_used_memory_ids"], res["redis_rss_ids"] = mem2
    res["redis_used_memory_all"], res["redis_rss_all"] = mem3

    # Same answers? Random users of the ids tenant, and the answers must be both kinds.
    rbc = redis.Redis(host="127.0.0.1", port=rbacd_port, socket_timeout=60)
    rnd = random.Random(seed)
    codes = check_codes.split(",")
    pairs = [(rnd.randint(ids_first, ids_last), rnd.choice(codes)) for _ in range(sample)]
    p = rbc.pipeline(transaction=False)
    q = rs.pipeline(transaction=False)
    for u, c in pairs:
        p.execute_command("CANMENU", ids_tenant, "%012d" % u, c)
        q.sismember(perms_key(ids_tenant, u), c)
    x, y = p.execute(), q.execute()
    res["check_pairs"] = len(pairs)
    res["check_mismatches"] = sum(1 for i, j in zip(x, y) if int(i) != int(bool(j)))
    res["check_allowed"] = sum(int(i) for i in x)
    log("refdata: checked %d (user, code) pairs: %d mismatches, %d allowed"
        % (len(pairs), res["check_mismatches"], res["check_allowed"]))
    return res


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


def sql(rbacd_port, socket_path, database, tenant, first, last, codes, queries, seed=7,
        user="root", password=""):
    """CANMENU as SQL next to CANMENU on rbacd, one caller each; returns a dict."""
    import pymysql

    rnd = random.Random(seed)
    codes = codes.split(",")
    pairs = [(rnd.randint(first, last), rnd.choice(codes)) for _ in range(queries)]
    stmts = [CANMENU_SQL.format(t=tenant, u=u, m=c) for u, c in pairs]

    # 1. PyMySQL, one connection, one query at a time.
    conn = pymysql.connect(unix_socket=socket_path, user=user, password=password,
                           database=database, autocommit=True)
    cur = conn.cursor()
    cur.execute("SET time_zone = '+00:00'")
    for q in stmts[:20]:  # warm-up
        cur.execute(q)
        cur.fetchall()
    lat = []
    sql_ans = []
    t_all = time.perf_counter()
    for q in stmts:
        t0 = time.perf_counter()
        cur.execute(q)
        row = cur.fetchone()
        lat.append((time.perf_counter() - t0) * 1000.0)
        sql_ans.append(int(row[0]))
    py_total = time.perf_counter() - t_all
    conn.close()
    lat.sort()

    # 2. The mariadb client, all queries from one file, one connection.
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
        f.write(";\n".join(stmts) + ";\n")
        f.flush()
        cli = ["mariadb", "--no-defaults", "--user=" + user, "--socket=" + socket_path,
               "--database=" + database, "--batch", "--skip-column-names"]
        if password:
            cli.append("--password=" + password)
        t0 = time.perf_counter()
        with open(f.name) as fin:
            out = subprocess.run(cli, stdin=fin, capture_output=True, text=True,
                                 check=True).stdout
        cli_total = time.perf_counter() - t0
    cli_ans = [int(x) for x in out.split()]

    # 3. rbacd: the same pairs, serially on one connection (redis-py).
    rb = redis.Redis(host="127.0.0.1", port=rbacd_port)
    rb_lat = []
    rb_ans = []
    for u, c in pairs[:20]:
        rb.execute_command("CANMENU", tenant, u, c)
    t_all = time.perf_counter()
    for u, c in pairs:
        t0 = time.perf_counter()
        rb_ans.append(int(rb.execute_command("CANMENU", tenant, u, c)))
        rb_lat.append((time.perf_counter() - t0) * 1000.0)
    rb_total = time.perf_counter() - t_all
    rb_lat.sort()

    mism_sql = sum(1 for x, y in zip(sql_ans, rb_ans) if x != y)
    mism_cli = sum(1 for x, y in zip(cli_ans, rb_ans) if x != y) + abs(len(cli_ans) - len(rb_ans))
    res = {
        "sql_queries": len(pairs),
        "sql_py_avg_ms": py_total * 1000 / len(pairs),
        "sql_py_p50_ms": pct(lat, 50),
        "sql_py_p99_ms": pct(lat, 99),
        "sql_cli_avg_ms": cli_total * 1000 / len(pairs),
        "rb_py_avg_ms": rb_total * 1000 / len(pairs),
        "rb_py_p50_ms": pct(rb_lat, 50),
        "rb_py_p99_ms": pct(rb_lat, 99),
        "sql_allowed": sum(sql_ans),
        "sql_mismatches": max(mism_sql, mism_cli),
    }
    log("refdata: %d CANMENU questions, tenant %d, users %d..%d, codes %s"
        % (len(pairs), tenant, first, last, ",".join(codes)))
    log("  MariaDB SQL (PyMySQL, 1 conn): avg %.3f ms  p50 %.3f  p99 %.3f"
        % (res["sql_py_avg_ms"], res["sql_py_p50_ms"], res["sql_py_p99_ms"]))
    log("  MariaDB SQL (mariadb client, file): %.3f ms per query" % res["sql_cli_avg_ms"])
    log("  rbacd CANMENU (redis-py, 1 conn):   avg %.3f ms  p50 %.3f  p99 %.3f"
        % (res["rb_py_avg_ms"], res["rb_py_p50_ms"], res["rb_py_p99_ms"]))
    log("  answers: %d allowed; SQL vs rbacd mismatches: %d" % (sum(rb_ans), res["sql_mismatches"]))
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("fill", "sql"):
        s = sub.add_parser(name)
        s.add_argument("--rbacd-port", type=int, required=True)
        s.add_argument("--socket", required=True, help="MariaDB unix socket")
        s.add_argument("--database", required=True)
        s.add_argument("--codes", default="sys:user:add,m:10")
        s.add_argument("--seed", type=int, default=7)
    f = sub.choices["fill"]
    f.add_argument("--redis-port", type=int, required=True)
    f.add_argument("--max-users", type=int, default=0, help="0: every live user")
    f.add_argument("--ids-tenant", type=int, default=1)
    f.add_argument("--ids-first", type=int, default=1)
    f.add_argument("--ids-last", type=int, required=True)
    f.add_argument("--sessions", type=int, default=0)
    f.add_argument("--sample", type=int, default=5000)
    q = sub.choices["sql"]
    q.add_argument("--tenant", type=int, default=1)
    q.add_argument("--first", type=int, default=1, help="first user id")
    q.add_argument("--last", type=int, required=True, help="last user id")
    q.add_argument("--queries", type=int, default=2000)
    a = p.parse_args()
    if a.cmd == "fill":
        res = fill(a.rbacd_port, a.redis_port, live_users(a.socket, a.database, a.max_users),
                   a.ids_tenant, a.ids_first, a.ids_last, a.sessions, a.codes, a.sample, a.seed)
    else:
        res = sql(a.rbacd_port, a.socket, a.database, a.tenant, a.first, a.last, a.codes,
                  a.queries, a.seed)
    for k, v in res.items():
        print("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else v))


if __name__ == "__main__":
    main()
