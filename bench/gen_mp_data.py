#!/usr/bin/python3
"""gen_mp_data.py — a large, realistic mpbackend data set for benchmarks (profile
mpbackend: load time and memory of rbacd --profile mpbackend).

Two ways out, both fast to load:

* straight into a database that holds the mpbackend schema (scripts/db.sh load DIR DB
  --profile mpbackend): one TSV file per table, loaded with LOAD DATA LOCAL INFILE
  through the `mariadb` client, each table in the background while the next one is
  generated;

      bench/gen_mp_data.py --socket DATADIR/mysqld.sock --database mp_bench --users 100000

* into a self-contained SQL file of multi-row INSERTs (1000 rows a statement) that any
  mariadb client loads into such a database:

      bench/gen_mp_data.py --sql mp_bench.sql --users 100000
      mariadb mp_bench < mp_bench.sql

Either way the change-log triggers are dropped before the rows go in (each row would
otherwise write an rbac_change row) and re-created afterwards from
schema/mpbackend/002_triggers.sql; rbac_change is left empty. The cached tables are
emptied first.

The world (ids dense from 1, or from --id-base, e.g. 4294967296 for 64-bit user ids)
--------------------------------------------------------------------------------------
* Users 1..N, email u<id>@example.com; about 0.5% disabled.
* Roles (--roles, default 50): 10% Admin, 30% Developer, 60% Application, each with 3
  to 12 permission names from a vocabulary of resources and actions (app:read,
  version:publish, ...), written "a:b, c:d" or "a:b,c:d"; about 4% disabled.
* Developers: one per 25 users (id d), applications: five per developer, app_id
  com.dev<d>.app<k>; user u's home developer is (u-1) // 25 + 1.
* Role bindings: --bindings-per-user (3) per user. About 0.2% of users are platform
  admins (one Admin binding); the rest are developer bindings (35%, mostly in the home
  developer) and application bindings (65%, mostly the home developer's apps).
  About 1% of bindings use a role of the wrong scope and 1% are disabled.
* Login methods: every user has an email method; 40% also okta, 20% binance-oauth.
* Permission flags: 40 flags (a name, a JSON array of arguments); each application has
  0 to 4 of them.
* Sessions: --sessions-per-user (1) per user, expiring 2037-12-31; half legacy rows
  (the token itself), half rbacd's ('h1:' + hex BLAKE2b-256 of a random token).
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRIGGERS_SQL = os.path.join(ROOT, "schema", "mpbackend", "002_triggers.sql")
PROG = "gen_mp_data.py"

USERS_PER_DEVELOPER = 25
APPS_PER_DEVELOPER = 5
EXPIRES = "2037-12-31 00:00:00"   # TIMESTAMP columns end in 2038
CREATED = "2025-01-01 00:00:00"
SQL_ROWS_PER_INSERT = 1000

RESOURCES = ["app", "version", "member", "flag", "stats", "ticket", "user", "audit", "file",
             "billing", "review", "release", "setting", "webhook", "domain", "qrcode"]
ACTIONS = ["read", "write", "create", "delete", "publish", "upload", "manage", "export",
           "approve"]
FLAG_NAMES = ["camera", "location", "payment", "bluetooth", "contacts", "storage",
              "microphone", "clipboard", "nfc", "biometric"]
FLAG_ARGS = ["front", "back", "coarse", "fine", "card", "wallet", "read", "write", "scan"]

# The cached tables and their columns as generated (the order of each row's fields).
TABLES = [
    ("mpbackend_user", ["id", "email", "disabled"]),
    ("mpbackend_role", ["id", "name", "permissions", "scope", "disabled"]),
    ("mpbackend_developer", ["id", "name", "owner_id"]),
    ("mpbackend_application", ["id", "app_id", "name", "developer_id", "app_type"]),
    ("mpbackend_admin_user_role_binding", ["id", "user_id", "role_id", "disabled"]),
    ("mpbackend_developer_user_role_binding", ["id", "user_id", "role_id", "developer_id",
                                               "disabled"]),
    ("mpbackend_application_user_role_binding", ["id", "user_id", "role_id", "application_id",
                                                 "disabled"]),
    ("mpbackend_account_login_method", ["id", "user_id", "provider_key", "login_provider",
                                        "disabled"]),
    ("mpbackend_application_permission_flag", ["id", "name", "arguments"]),
    ("mpbackend_application_permission_flag_binding", ["id", "application_id",
                                                       "permission_flag_id"]),
    ("mpbackend_user_session_token", ["id", "session_token", "user_id", "expired_at",
                                      "create_time", "db_create_time"]),
]
EMPTIED = [t for t, _ in TABLES] + ["rbac_change"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tsv_field(v):
    """A field for LOAD DATA (default escapes: backslash, tab, newline; NULL = \\N)."""
    if v is None:
        return "\\N"
    s = str(v)
    if "\\" in s or "\t" in s or "\n" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return s


def sql_value(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("\\", "\\\\").replace("'", "''") + "'"


class Db:
    """The mariadb command-line client, as root (or --user) on a socket or TCP."""

    def __init__(self, a):
        self.base = ["mariadb", "--no-defaults", "--user=" + a.user,
                     "--default-character-set=utf8mb4", "--local-infile=1", "--batch",
                     "--skip-column-names"]
        if a.password:
            self.base.append("--password=" + a.password)
        if a.socket:
            self.base.append("--socket=" + a.socket)
        else:
            self.base += ["--protocol=TCP", "--host=" + a.host, "--port=%d" % a.port]
        self.base.append("--database=" + a.database)

    def run(self, sql):
        p = subprocess.run(self.base, input=sql, text=True, capture_output=True)
        if p.returncode != 0:
            raise SystemExit("%s: mariadb failed: %s\n--- sql ---\n%s"
                             % (PROG, p.stderr.strip(), sql[:2000]))
        return p.stdout


# Session settings for a bulk load: with unique and foreign key checks off, InnoDB
# loads an empty table in bulk (MariaDB 10.6+: indexes built by sorting).
BULK_SESSION = ("SET SESSION unique_checks=0; SET SESSION foreign_key_checks=0; "
                "SET SESSION sql_log_bin=0; SET SESSION time_zone='+00:00';\n")


class DbSink:
    """Rows to TSV files, each table loaded in the background while the next one is
    generated."""

    def __init__(self, a):
        self.db = Db(a)
        self.tmp_owned = not a.tmpdir
        self.tmpdir = tempfile.mkdtemp(prefix="rbacd-genmp-") if self.tmp_owned else a.tmpdir
        os.makedirs(self.tmpdir, exist_ok=True)
        self.keep = a.keep_tsv
        self.pending = None
        self.stats = []

    def begin(self):
        triggers = self.db.run("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                               "WHERE TRIGGER_SCHEMA = DATABASE();").split()
        self.db.run("".join("DROP TRIGGER IF EXISTS `%s`;\n" % t for t in triggers) +
                    "".join("TRUNCATE TABLE `%s`;\n" % t for t in EMPTIED))
        log("  dropped %d triggers, emptied %d tables" % (len(triggers), len(EMPTIED)))

    def table(self, name, columns, rows):
        """rows: an iterable of tuples. Returns when the file is written (the load of
        the previous table may still run)."""
        t0 = time.monotonic()
        path = os.path.join(self.tmpdir, name + ".tsv")
        n = 0
        with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            buf = []
            for r in rows:
                buf.append("\t".join(map(tsv_field, r)))
                if len(buf) >= 50000:
                    f.write("\n".join(buf) + "\n")
                    n += len(buf)
                    buf = []
            if buf:
                f.write("\n".join(buf) + "\n")
                n += len(buf)
        self._wait()
        sql = (BULK_SESSION + "START TRANSACTION;\n"
               "LOAD DATA LOCAL INFILE '%s' INTO TABLE `%s` CHARACTER SET utf8mb4 "
               "FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (%s);\n"
               "SHOW WARNINGS LIMIT 5;\nCOMMIT;\n"
               % (path.replace("'", "''"), name, ", ".join(columns)))
        res = []

        def run():
            t1 = time.monotonic()
            p = subprocess.run(self.db.base, input=sql, text=True, capture_output=True)
            if p.returncode == 0 and p.stdout.strip():
                # LOAD DATA LOCAL turns errors into warnings: any warning is a bug here.
                res.extend((1, "warnings:\n" + p.stdout, time.monotonic() - t1))
            else:
                res.extend((p.returncode, p.stderr, time.monotonic() - t1))

        th = threading.Thread(target=run, daemon=True)
        th.start()
        self.pending = (th, res, name, n, time.monotonic() - t0)

    def _wait(self):
        if not self.pending:
            return
        th, res, name, n, gen_s = self.pending
        th.join()
        rc, err, dt = res
        if rc != 0:
            raise SystemExit("%s: loading %s failed: %s" % (PROG, name, err.strip()))
        self.stats.append((name, n))
        log("  %-46s %9d rows  generated %5.1fs  loaded %5.1fs (%8.0f rows/s)"
            % (name, n, gen_s, dt, n / dt if dt > 0 else 0))
        self.pending = None

    def end(self):
        self._wait()
        with open(TRIGGERS_SQL, encoding="utf-8") as fh:
            self.db.run(fh.read())
        self.db.run("TRUNCATE TABLE rbac_change; ANALYZE TABLE mpbackend_user, "
                    "mpbackend_developer_user_role_binding, "
                    "mpbackend_application_user_role_binding;")
        n = self.db.run("SELECT COUNT(*) FROM information_schema.TRIGGERS "
                        "WHERE TRIGGER_SCHEMA = DATABASE();").strip()
        log("  re-created %s triggers, truncated rbac_change, analyzed" % n)
        if self.tmp_owned and not self.keep:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        elif self.keep:
            log("  TSV files kept in %s" % self.tmpdir)


class SqlSink:
    """Rows to one SQL file of multi-row INSERTs, framed by dropping and re-creating
    the triggers."""

    def __init__(self, a):
        self.path = a.sql
        self.f = open(a.sql, "w", encoding="utf-8", buffering=1 << 20)
        self.stats = []

    def begin(self):
        with open(TRIGGERS_SQL, encoding="utf-8") as fh:
            names = [line.split()[2] for line in fh if line.startswith("CREATE TRIGGER ")]
        self.f.write("-- mpbackend benchmark data written by bench/gen_mp_data.py (%s).\n"
                     "-- Load into a database holding the mpbackend schema:\n"
                     "--   mariadb DB < %s\n" % (" ".join(sys.argv[1:]),
                                                  os.path.basename(self.path)))
        self.f.write(BULK_SESSION)
        self.f.write("".join("DROP TRIGGER IF EXISTS `%s`;\n" % t for t in names))
        self.f.write("".join("TRUNCATE TABLE `%s`;\n" % t for t in EMPTIED))

    def table(self, name, columns, rows):
        t0 = time.monotonic()
        head = "INSERT INTO `%s` (%s) VALUES\n" % (name, ", ".join(columns))
        n = 0
        buf = []
        self.f.write("START TRANSACTION;\n")
        for r in rows:
            buf.append("(" + ",".join(map(sql_value, r)) + ")")
            if len(buf) >= SQL_ROWS_PER_INSERT:
                self.f.write(head + ",\n".join(buf) + ";\n")
                n += len(buf)
                buf = []
        if buf:
            self.f.write(head + ",\n".join(buf) + ";\n")
            n += len(buf)
        self.f.write("COMMIT;\n")
        self.stats.append((name, n))
        log("  %-46s %9d rows  written %5.1fs" % (name, n, time.monotonic() - t0))

    def end(self):
        with open(TRIGGERS_SQL, encoding="utf-8") as fh:
            self.f.write(fh.read())
        self.f.write("\nTRUNCATE TABLE rbac_change;\n")
        self.f.close()
        log("  wrote %s (%.1f MB)" % (self.path, os.path.getsize(self.path) / 1e6))


def parse_args():
    p = argparse.ArgumentParser(description="Generate a large mpbackend data set.")
    c = p.add_argument_group("where to (--sql, or a database)")
    c.add_argument("--sql", metavar="FILE", help="write a SQL file instead of loading")
    c.add_argument("--socket", help="unix socket of the server (else --host/--port)")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=3306)
    c.add_argument("--user", default="root")
    c.add_argument("--password", default="")
    c.add_argument("--database", help="database holding the mpbackend schema")
    c.add_argument("--tmpdir", help="where the TSV files go (default: a temporary directory)")
    c.add_argument("--keep-tsv", action="store_true", help="keep the TSV files")
    s = p.add_argument_group("size")
    s.add_argument("--users", type=int, default=100000)
    s.add_argument("--roles", type=int, default=50)
    s.add_argument("--bindings-per-user", type=int, default=3)
    s.add_argument("--sessions-per-user", type=int, default=1)
    s.add_argument("--flags", type=int, default=40)
    s.add_argument("--id-base", type=int, default=0,
                   help="user ids are id-base+1 .. id-base+N (e.g. 4294967296)")
    s.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if not a.sql and not a.database:
        p.error("give --sql FILE or --database DB")
    if a.users < USERS_PER_DEVELOPER or a.roles < 10:
        p.error("need at least %d users and 10 roles" % USERS_PER_DEVELOPER)
    if a.id_base < 0 or a.id_base + a.users >= 1 << 63:
        p.error("user ids must fit a signed BIGINT")
    return a


class World:
    """The generated rows, table by table (generators: nothing is held in memory but
    the small tables)."""

    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.N = a.users
        self.ndev = max(1, a.users // USERS_PER_DEVELOPER)
        self.roles = self._roles()
        self.by_scope = {}
        for rid, _, _, scope, disabled in self.roles:
            if not disabled:
                self.by_scope.setdefault(scope, []).append(rid)

    def uid(self, k):
        """User number k (1..N) -> its id."""
        return self.a.id_base + k

    def app_id(self, dev, k):
        return "com.dev%d.app%d" % (dev, k)

    def _roles(self):
        rnd = self.rnd
        vocab = ["%s:%s" % (r, x) for r in RESOURCES for x in ACTIONS]
        out = []
        n = self.a.roles
        for rid in range(1, n + 1):
            scope = ("Admin" if rid <= max(1, n // 10) else
                     "Developer" if rid <= max(2, n * 4 // 10) else "Application")
            names = rnd.sample(vocab, rnd.randint(3, 12))
            sep = rnd.choice([", ", ","])
            perms = sep.join(names)
            while len(perms) > 255:
                names.pop()
                perms = sep.join(names)
            disabled = 1 if rid > 3 and rnd.random() < 0.04 else 0
            out.append((rid, "%s-%d" % (scope.lower()[:8], rid), perms, scope, disabled))
        return out

    def users(self):
        r = self.rnd.random
        for k in range(1, self.N + 1):
            u = self.uid(k)
            yield (u, "u%d@example.com" % u, 1 if r() < 0.005 else 0)

    def developers(self):
        for d in range(1, self.ndev + 1):
            yield (d, "Developer %d" % d, self.uid((d - 1) * USERS_PER_DEVELOPER + 1))

    def applications(self):
        n = 0
        for d in range(1, self.ndev + 1):
            for k in range(1, APPS_PER_DEVELOPER + 1):
                n += 1
                yield (n, self.app_id(d, k), "App %d.%d" % (d, k), d,
                       "mini-program" if k % 3 else "web-app")

    def _role(self, scope):
        """A role for a binding of scope: 1% of the time one of another scope."""
        rnd = self.rnd
        if rnd.random() < 0.01:
            scope = rnd.choice([s for s in ("Admin", "Developer", "Application") if s != scope])
        return rnd.choice(self.by_scope[scope])

    def bindings(self):
        """Yields ('admin'|'developer'|'application', row) in user order."""
        rnd = self.rnd
        ids = {"admin": 0, "developer": 0, "application": 0}
        for k in range(1, self.N + 1):
            u = self.uid(k)
            home = (k - 1) // USERS_PER_DEVELOPER + 1
            home = min(home, self.ndev)
            seen = set()
            want = self.a.bindings_per_user
            if rnd.random() < 0.002:
                ids["admin"] += 1
                yield "admin", (ids["admin"], u, self._role("Admin"),
                                1 if rnd.random() < 0.01 else 0)
                want -= 1
            tries = 0
            while want > 0 and tries < 20:
                tries += 1
                dis = 1 if rnd.random() < 0.01 else 0
                if rnd.random() < 0.35:
                    dev = home if rnd.random() < 0.8 else rnd.randint(1, self.ndev)
                    key = ("d", self._role("Developer"), dev)
                    if key in seen:
                        continue
                    seen.add(key)
                    ids["developer"] += 1
                    yield "developer", (ids["developer"], u, key[1], dev, dis)
                else:
                    dev = home if rnd.random() < 0.8 else rnd.randint(1, self.ndev)
                    app = self.app_id(dev, rnd.randint(1, APPS_PER_DEVELOPER))
                    key = ("a", self._role("Application"), app)
                    if key in seen:
                        continue
                    seen.add(key)
                    ids["application"] += 1
                    yield "application", (ids["application"], u, key[1], app, dis)
                want -= 1

    def logins(self):
        rnd = self.rnd
        n = 0
        for k in range(1, self.N + 1):
            u = self.uid(k)
            n += 1
            yield (n, u, "u%d@example.com" % u, "email", 0)
            if rnd.random() < 0.4:
                n += 1
                yield (n, u, "00u%010x" % (u * 2654435761 % (1 << 40)), "okta", 0)
            if rnd.random() < 0.2:
                n += 1
                yield (n, u, "bnc-%d" % u, "binance-oauth", 0)

    def flags(self):
        rnd = self.rnd
        for f in range(1, self.a.flags + 1):
            args = rnd.sample(FLAG_ARGS, rnd.randint(0, 3))
            yield (f, FLAG_NAMES[(f - 1) % len(FLAG_NAMES)],
                   json.dumps(args, separators=(",", ":")))

    def flag_bindings(self):
        rnd = self.rnd
        n = 0
        flags = list(range(1, self.a.flags + 1))
        for d in range(1, self.ndev + 1):
            for k in range(1, APPS_PER_DEVELOPER + 1):
                for f in sorted(rnd.sample(flags, rnd.randint(0, min(4, len(flags))))):
                    n += 1
                    yield (n, self.app_id(d, k), f)

    def sessions(self):
        rnd = self.rnd
        n = 0
        for k in range(1, self.N + 1):
            u = self.uid(k)
            for _ in range(self.a.sessions_per_user):
                n += 1
                token = "%032x%032x" % (rnd.getrandbits(128), rnd.getrandbits(128))
                if n % 2:
                    stored = "legacy-" + token
                else:
                    stored = "h1:" + hashlib.blake2b(token.encode(), digest_size=32).hexdigest()
                yield (n, stored, u, EXPIRES, CREATED, CREATED)


def main():
    a = parse_args()
    w = World(a)
    sink = SqlSink(a) if a.sql else DbSink(a)
    t0 = time.monotonic()
    log("%s: %d users (ids %d..%d), %d roles, %d bindings/user, %d developers, %d apps, "
        "%d flags, %d sessions/user, seed %d"
        % (PROG, a.users, w.uid(1), w.uid(a.users), a.roles, a.bindings_per_user, w.ndev,
           w.ndev * APPS_PER_DEVELOPER, a.flags, a.sessions_per_user, a.seed))
    sink.begin()
    cols = dict(TABLES)
    sink.table("mpbackend_role", cols["mpbackend_role"], w.roles)
    sink.table("mpbackend_user", cols["mpbackend_user"], w.users())
    sink.table("mpbackend_developer", cols["mpbackend_developer"], w.developers())
    sink.table("mpbackend_application", cols["mpbackend_application"], w.applications())
    # One pass over the users makes the three binding tables, held in memory until
    # written (a few hundred bytes a binding).
    kinds = {"admin": [], "developer": [], "application": []}
    for kind, row in w.bindings():
        kinds[kind].append(row)
    for kind in ("admin", "developer", "application"):
        t = "mpbackend_%s_user_role_binding" % kind
        sink.table(t, cols[t], kinds[kind])
        kinds[kind] = None
    sink.table("mpbackend_account_login_method", cols["mpbackend_account_login_method"],
               w.logins())
    sink.table("mpbackend_application_permission_flag",
               cols["mpbackend_application_permission_flag"], w.flags())
    sink.table("mpbackend_application_permission_flag_binding",
               cols["mpbackend_application_permission_flag_binding"], w.flag_bindings())
    sink.table("mpbackend_user_session_token", cols["mpbackend_user_session_token"],
               w.sessions())
    sink.end()
    total = sum(n for _, n in sink.stats)
    dt = time.monotonic() - t0
    log("%s: %d rows in %.1fs (%.0f rows/s)" % (PROG, total, dt, total / dt if dt else 0))


if __name__ == "__main__":
    main()
