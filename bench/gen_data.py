#!/usr/bin/python3
"""gen_data.py — a large, realistic bi-tenant data set for benchmarks.

Writes one TSV file per table and loads it with LOAD DATA LOCAL INFILE through the
`mariadb` client, into a database that already holds the schema (scripts/db.sh load).
Generation (Python, one core) overlaps with loading (mariadbd, the other core): each
table is loaded in the background while the next one is generated.

    bench/gen_data.py --socket DATADIR/mysqld.sock --database rbacd_bench \\
        --tenants 10000 --users 1000000 --menus 300 --roles-per-tenant 10 \\
        --menus-per-role 40 --roles-per-user 2 --stores-per-user 3 \\
        --delegations 0.05 --seed 1

The world
---------
* Packages 1 trial, 2 pro, 3 enterprise, nested (trial ⊂ pro ⊂ enterprise).
* Menus 1..M, one platform-wide tree: directory 1 "System" holds fixed pages and
  actions present in every package (sys:user:list, sys:user:add, sys:user:edit,
  sys:user:delete, sys:role:list, sys:role:add, sys:role:edit); then D = M/30
  directories, each a block of pages (every 4th item) and actions below them. Every
  other menu has perms code `m:<id>`. The tier of a directory (first third trial,
  second pro, last enterprise) decides which packages hold its block. In the last
  directory one page is disabled (its actions are unusable through the ancestor
  rule) and one action is soft-deleted.
* Tenants 1..T, code `t<id>`. One subscription each (about 30% trial, 50% pro, 20%
  enterprise; tenant 1: pro), running 2024-01-01 .. 2035-01-01; about 1% expired
  (ended 2025-01-01) and 0.5% disabled tenants (never tenant 1).
* Users 1..N, dense. Without --big-tenant-users: tenant of user u =
  ((u-1) // (N/T)) + 1 (the last tenant takes any remainder). With
  --big-tenant-users K: tenant 1 holds users 1..K and users K+1..N are spread the same
  way over tenants 2..T (so `CANMENU 1 __rand_int__ ...` with -r K hits real users of
  tenant 1). The first user of a tenant is its admin (is_admin = 1); about 0.5% of
  the others are disabled and 0.2% soft-deleted. Username `u<id>`, password "password"
  (one bcrypt hash shared by all).
* Roles: R per tenant, ids dense (role k of tenant t = (t-1)*R + k); each has
  --menus-per-role distinct menus drawn from all menus (some fall outside the tenant's
  package, as after a downgrade). About 1% of roles are disabled.
* Every user has --roles-per-user distinct roles of its tenant, --stores-per-user
  stores from a per-tenant pool, and with probability --delegations one delegation to
  another user of the same tenant.
* Orgs: per tenant one company and two departments; users are spread over the
  departments.

Server: innodb_stats_auto_recalc is turned off (globally) during the load and back on
afterwards; the big tables are analyzed once at the end.

Triggers: with the schema's change-log triggers in place every row would also write an
rbac_change row. They are dropped before loading and re-created afterwards from
schema/003_triggers.sql, then rbac_change is truncated.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRIGGERS_SQL = os.path.join(ROOT, "schema", "003_triggers.sql")

# bcrypt (cost 10) of "password".
PASSWORD_HASH = "$2b$10$D.Cp/Wz3J9oL6HKJyGqXputYgIEXHh0wmNgpzU/yVis0F94BsrQuG"
DELETED_AT = 1735689600000  # 2025-01-01T00:00:00Z in ms

FIXED_MENUS = [
    # (id, parent, type, name, perms)
    (1, 0, 1, "System", None),
    (2, 1, 2, "Users", "sys:user:list"),
    (3, 2, 3, "Add user", "sys:user:add"),
    (4, 2, 3, "Edit user", "sys:user:edit"),
    (5, 2, 3, "Delete user", "sys:user:delete"),
    (6, 1, 2, "Roles", "sys:role:list"),
    (7, 6, 3, "Add role", "sys:role:add"),
    (8, 6, 3, "Edit role", "sys:role:edit"),
]
PLATFORMS = ["taobao", "douyin", "jd", "pdd", "base", "org", "report", "finance", "crm", "wms"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def esc(s):
    """A TSV field for LOAD DATA (default escapes: backslash, tab, newline; NULL = \\N)."""
    if s is None:
        return "\\N"
    s = str(s)
    if "\\" in s or "\t" in s or "\n" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return s


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
            raise SystemExit("gen_data.py: mariadb failed: %s\n--- sql ---\n%s"
                             % (p.stderr.strip(), sql[:2000]))
        return p.stdout

    def start(self, sql):
        return subprocess.Popen(self.base + ["--execute=" + sql], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# Session settings for a bulk load. With unique and foreign key checks off, InnoDB
# loads an empty table in bulk (MariaDB 10.6+: indexes built by sorting, one undo
# record).
BULK_SESSION = ("SET SESSION unique_checks=0; SET SESSION foreign_key_checks=0; "
                "SET SESSION sql_log_bin=0; SET SESSION time_zone='+00:00';\n")


class Loader:
    """Loads the tables one after the other in the background while the next is
    generated."""

    def __init__(self, db):
        self.db = db
        self.pending = None
        self.stats = []

    def _wait(self):
        if not self.pending:
            return
        th, res, table, rows, gen_s = self.pending
        th.join()
        rc, err, dt = res
        if rc != 0:
            raise SystemExit("gen_data.py: loading %s failed: %s" % (table, err.strip()))
        self.stats.append((table, rows, gen_s, dt))
        log("  %-22s %9d rows  generated %5.1fs (%8.0f rows/s)  loaded %5.1fs (%8.0f rows/s)"
            % (table, rows, gen_s, rows / gen_s if gen_s > 0 else 0, dt,
               rows / dt if dt > 0 else 0))
        self.pending = None

    def load(self, table, path, columns, rows, gen_s):
        self._wait()
        sql = (BULK_SESSION + "START TRANSACTION;\n"
               "LOAD DATA LOCAL INFILE '%s' INTO TABLE `%s` CHARACTER SET utf8mb4 "
               "FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (%s);\n"
               "SHOW WARNINGS LIMIT 5;\nCOMMIT;\n"
               % (path.replace("'", "''"), table, ", ".join(columns)))
        res = []

        def run():
            t0 = time.monotonic()
            proc = self.db.start(sql)
            out, err = proc.communicate()
            if proc.returncode == 0 and out.strip():
                # LOAD DATA LOCAL turns errors into warnings: any warning is a bug here.
                res.extend((1, "warnings:\n" + out, time.monotonic() - t0))
            else:
                res.extend((proc.returncode, err, time.monotonic() - t0))

        th = threading.Thread(target=run, daemon=True)
        th.start()
        self.pending = (th, res, table, rows, gen_s)

    def finish(self):
        self._wait()


class Tsv:
    """A TSV file written in chunks of lines."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self.rows = 0
        self.buf = []

    def add(self, line):
        self.buf.append(line)
        if len(self.buf) >= 50000:
            self.flush()

    def flush(self):
        if self.buf:
            self.f.write("\n".join(self.buf))
            self.f.write("\n")
            self.rows += len(self.buf)
            self.buf = []

    def close(self):
        self.flush()
        self.f.close()
        return self.rows


def parse_args():
    p = argparse.ArgumentParser(description="Generate and load a large bi-tenant RBAC data set.")
    c = p.add_argument_group("connection")
    c.add_argument("--socket", help="unix socket of the server (else --host/--port)")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=3306)
    c.add_argument("--user", default="root")
    c.add_argument("--password", default="")
    c.add_argument("--database", required=True, help="database holding the schema (schema/*.sql)")
    s = p.add_argument_group("size")
    s.add_argument("--tenants", type=int, default=10000)
    s.add_argument("--users", type=int, default=1000000)
    s.add_argument("--menus", type=int, default=300)
    s.add_argument("--roles-per-tenant", type=int, default=10)
    s.add_argument("--menus-per-role", type=int, default=40)
    s.add_argument("--roles-per-user", type=int, default=2)
    s.add_argument("--stores-per-user", type=int, default=3)
    s.add_argument("--delegations", type=float, default=0.05,
                   help="fraction of users who inherit another user's stores")
    s.add_argument("--big-tenant-users", type=int, default=0,
                   help="tenant 1 holds users 1..K (0: tenants all the same size)")
    s.add_argument("--seed", type=int, default=1)
    p.add_argument("--tmpdir", help="where the TSV files go (default: a temporary directory)")
    p.add_argument("--keep-tsv", action="store_true", help="keep the TSV files")
    a = p.parse_args()
    if a.tenants < 1 or a.users < a.tenants:
        p.error("need at least one user per tenant")
    if a.menus < len(FIXED_MENUS) + 4:
        p.error("--menus must be at least %d" % (len(FIXED_MENUS) + 4))
    if a.big_tenant_users:
        if a.tenants < 2 or a.big_tenant_users >= a.users - (a.tenants - 1) + 1:
            p.error("--big-tenant-users leaves fewer users than tenants 2..T")
    a.menus_per_role = min(a.menus_per_role, a.menus)
    a.roles_per_user = min(a.roles_per_user, a.roles_per_tenant)
    return a


class Layout:
    """Which users belong to which tenant: contiguous ranges."""

    def __init__(self, a):
        self.N, self.T, self.K = a.users, a.tenants, a.big_tenant_users
        if self.K:
            self.first_even_tenant, self.first_even_user = 2, self.K + 1
        else:
            self.first_even_tenant, self.first_even_user = 1, 1
        ntenants = self.T - self.first_even_tenant + 1
        nusers = self.N - self.first_even_user + 1
        self.upt = nusers // ntenants

    def tenant_of(self, u):
        if u < self.first_even_user:
            return 1
        t = self.first_even_tenant + (u - self.first_even_user) // self.upt
        return min(t, self.T)

    def users_of(self, t):
        """(first, last) user id of tenant t."""
        if self.K and t == 1:
            return 1, self.K
        first = self.first_even_user + (t - self.first_even_tenant) * self.upt
        last = self.N if t == self.T else first + self.upt - 1
        return first, last


def build_menus(a):
    """[(id, parent, type, name, perms, path, component, icon, platform, sort, visible,
    status, deleted_at, tier)]"""
    menus = []
    for (mid, parent, mtype, name, perms) in FIXED_MENUS:
        path = "/system" if mtype == 1 else ("/system/%s" % name.lower().split()[-1] if mtype == 2 else "")
        comp = ("system/%s/index" % name.lower().split()[-1]) if mtype == 2 else ""
        menus.append([mid, parent, mtype, name, perms, path, comp, "setting" if mtype == 1 else "",
                      "system", mid, 1, 1, 0, 1])
    rest = a.menus - len(FIXED_MENUS)
    ndirs = max(1, a.menus // 30)
    per_dir = rest // ndirs
    mid = len(FIXED_MENUS)
    for d in range(ndirs):
        tier = 1 + (3 * d) // ndirs
        platform = PLATFORMS[d % len(PLATFORMS)]
        count = per_dir if d < ndirs - 1 else rest - per_dir * (ndirs - 1)
        mid += 1
        dir_id = mid
        menus.append([dir_id, 0, 1, "%s %d" % (platform.capitalize(), d + 1), "m:%d" % dir_id,
                      "/%s%d" % (platform, d + 1), "", platform, platform, d + 2, 1, 1, 0, tier])
        page = None
        psort = asort = 0
        for i in range(count - 1):
            mid += 1
            if i % 4 == 0:
                page = mid
                psort += 1
                asort = 0
                menus.append([mid, dir_id, 2, "Page %d" % mid, "m:%d" % mid,
                              "/%s%d/p%d" % (platform, d + 1, mid), "%s/p%d/index" % (platform, mid),
                              "list", platform, psort, 1, 1, 0, tier])
            else:
                asort += 1
                menus.append([mid, page, 3, "Action %d" % mid, "m:%d" % mid, "", "", "",
                              platform, asort, 1, 1, 0, tier])
    # The last directory: its second page disabled, one of its last actions deleted.
    last_dir = [m for m in menus if m[2] == 1][-1][0]
    pages = [m for m in menus if m[1] == last_dir and m[2] == 2]
    if len(pages) >= 2:
        pages[1][11] = 0
    actions = [m for m in menus if m[2] == 3 and m[0] > last_dir]
    if actions:
        actions[-1][12] = DELETED_AT
    return menus


def main():
    a = parse_args()
    rnd = random.Random(a.seed)
    db = Db(a)
    lay = Layout(a)
    T, N, R = a.tenants, a.users, a.roles_per_tenant

    tmp_owned = not a.tmpdir
    tmpdir = tempfile.mkdtemp(prefix="rbacd-gen-") if tmp_owned else a.tmpdir
    os.makedirs(tmpdir, exist_ok=True)

    t_start = time.monotonic()
    log("gen_data.py: %d tenants, %d users (%s), %d menus, %d roles/tenant, %d menus/role, "
        "%d roles/user, %d stores/user, delegations %.3f, seed %d"
        % (T, N, ("tenant 1: users 1..%d, then %d per tenant" % (a.big_tenant_users, lay.upt))
           if a.big_tenant_users else "%d per tenant" % lay.upt,
           a.menus, R, a.menus_per_role, a.roles_per_user, a.stores_per_user,
           a.delegations, a.seed))

    # Empty tables, no triggers.
    triggers = db.run("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                      "WHERE TRIGGER_SCHEMA = DATABASE();").split()
    tables = ["tenant", "tenant_package", "tenant_menu", "tenant_package_menu",
              "tenant_subscription", "tenant_org", "tenant_user", "tenant_role",
              "tenant_user_role", "tenant_role_menu", "tenant_user_store",
              "tenant_user_delegate", "tenant_session", "rbac_change"]
    db.run("".join("DROP TRIGGER IF EXISTS `%s`;\n" % t for t in triggers) +
           "".join("TRUNCATE TABLE `%s`;\n" % t for t in tables))
    log("  dropped %d triggers, emptied %d tables" % (len(triggers), len(tables)))

    # Persistent statistics would be recomputed over and over while the tables grow
    # (each time 10% of a table changed): that costs about as much as the load itself.
    # Off during the load, on again afterwards, and one ANALYZE TABLE at the end.
    recalc = db.run("SELECT @@GLOBAL.innodb_stats_auto_recalc;").strip()
    try:
        db.run("SET GLOBAL innodb_stats_auto_recalc = OFF;")
        recalc_changed = recalc not in ("0", "OFF")
    except SystemExit as e:
        log("  (cannot turn innodb_stats_auto_recalc off: %s)" % e)
        recalc_changed = False

    loader = Loader(db)

    def emit(table, columns, gen):
        t0 = time.monotonic()
        path = os.path.join(tmpdir, table + ".tsv")
        f = Tsv(path)
        gen(f)
        rows = f.close()
        loader.load(table, path, columns, rows, time.monotonic() - t0)

    # --- packages and menus ---------------------------------------------------------
    def g_package(f):
        for pid, code, name in ((1, "trial", "Trial"), (2, "pro", "Pro"), (3, "enterprise", "Enterprise")):
            f.add("%d\t%s\t%s\t%s\t1\t%d\t0" % (pid, code, name, name + " package", pid))
    emit("tenant_package", ["id", "package_code", "package_name", "description", "status",
                            "sort", "deleted_at"], g_package)

    menus = build_menus(a)
    menu_ids = [m[0] for m in menus]

    def g_menu(f):
        for m in menus:
            f.add("\t".join(esc(x) for x in m[:13]))
    emit("tenant_menu", ["id", "parent_id", "menu_type", "menu_name", "perms", "path", "component",
                         "icon", "platform", "sort", "visible", "status", "deleted_at"], g_menu)

    def g_package_menu(f):
        n = 0
        for pkg in (1, 2, 3):
            for m in menus:
                if m[13] <= pkg:
                    n += 1
                    f.add("%d\t%d\t%d" % (n, pkg, m[0]))
    emit("tenant_package_menu", ["id", "package_id", "menu_id"], g_package_menu)

    # --- tenants and subscriptions --------------------------------------------------
    tenant_status = [1] * (T + 1)
    for t in range(2, T + 1):
        if rnd.random() < 0.005:
            tenant_status[t] = 0

    def g_tenant(f):
        for t in range(1, T + 1):
            f.add("%d\tt%d\tTenant %d Co., Ltd.\tContact %d\t+86 138%08d\tadmin@t%d.example.com\t%d\t0"
                  % (t, t, t, t, t, t, tenant_status[t]))
    emit("tenant", ["id", "tenant_code", "tenant_name", "contact_name", "contact_phone",
                    "contact_email", "status", "deleted_at"], g_tenant)

    def g_subscription(f):
        prices = {1: "0.00", 2: "2999.00", 3: "9999.00"}
        for t in range(1, T + 1):
            if t == 1:
                pkg, expired = 2, False
            else:
                x = rnd.random()
                pkg = 1 if x < 0.3 else (2 if x < 0.8 else 3)
                expired = rnd.random() < 0.01
            end = "2025-01-01 00:00:00.000" if expired else "2035-01-01 00:00:00.000"
            f.add("%d\t%d\t%d\t2024-01-01 00:00:00.000\t%s\t1\t%s\t%d"
                  % (t, t, pkg, end, prices[pkg], 366 if expired else 4018))
    emit("tenant_subscription", ["id", "tenant_id", "package_id", "start_time", "end_time",
                                 "status", "price", "duration_days"], g_subscription)

    def g_org(f):
        for t in range(1, T + 1):
            base = (t - 1) * 3
            f.add("%d\t%d\t0\tTenant %d\t1\t1\t1\t0" % (base + 1, t, t))
            f.add("%d\t%d\t%d\tSales\t2\t1\t1\t0" % (base + 2, t, base + 1))
            f.add("%d\t%d\t%d\tOperations\t2\t1\t2\t0" % (base + 3, t, base + 1))
    emit("tenant_org", ["id", "tenant_id", "parent_id", "org_name", "org_type", "status", "sort",
                        "deleted_at"], g_org)

    # --- roles ------------------------------------------------------------------------
    def g_role(f):
        for t in range(1, T + 1):
            for k in range(1, R + 1):
                rid = (t - 1) * R + k
                status = 0 if (k > 1 and rnd.random() < 0.01) else 1
                f.add("%d\t%d\tr%d\tRole %d\t%d\t%d\t\t0" % (rid, t, k, k, status, k))
    emit("tenant_role", ["id", "tenant_id", "role_code", "role_name", "status", "sort", "remark",
                         "deleted_at"], g_role)

    def g_role_menu(f):
        n = 0
        mpr = a.menus_per_role
        sample = rnd.sample
        add = f.add
        for t in range(1, T + 1):
            for k in range(1, R + 1):
                rid = (t - 1) * R + k
                prefix = "\t%d\t%d\t" % (t, rid)
                for m in sorted(sample(menu_ids, mpr)):
                    n += 1
                    add("%d%s%d" % (n, prefix, m))
    emit("tenant_role_menu", ["id", "tenant_id", "role_id", "menu_id"], g_role_menu)

    # --- users ------------------------------------------------------------------------
    tenant_of = [0] * (N + 1)
    for t in range(1, T + 1):
        lo, hi = lay.users_of(t)
        tenant_of[lo:hi + 1] = [t] * (hi - lo + 1)
    first_of = {}
    for t in range(1, T + 1):
        first_of[t] = lay.users_of(t)[0]

    def g_user(f):
        add = f.add
        r = rnd.random
        for u in range(1, N + 1):
            t = tenant_of[u]
            admin = 1 if first_of[t] == u else 0
            status, deleted = 1, 0
            if not admin:
                x = r()
                if x < 0.005:
                    status = 0
                elif x < 0.007:
                    deleted = DELETED_AT
            org = (t - 1) * 3 + 2 + (u & 1)
            add("%d\t%d\t%d\tu%d\t%s\tUser %d\t+86 139%08d\tu%d@t%d.example.com\t%d\t%d\t%d"
                % (u, t, org, u, PASSWORD_HASH, u, u % 100000000, u, t, admin, status, deleted))
    emit("tenant_user", ["id", "tenant_id", "org_id", "username", "password", "real_name", "phone",
                         "email", "is_admin", "status", "deleted_at"], g_user)

    def g_user_role(f):
        n = 0
        add = f.add
        sample = rnd.sample
        rpu = a.roles_per_user
        ks = list(range(1, R + 1))
        for u in range(1, N + 1):
            t = tenant_of[u]
            base = (t - 1) * R
            for k in sorted(sample(ks, rpu)):
                n += 1
                add("%d\t%d\t%d\t%d" % (n, t, u, base + k))
    emit("tenant_user_role", ["id", "tenant_id", "user_id", "role_id"], g_user_role)

    def g_user_store(f):
        n = 0
        add = f.add
        sample = rnd.sample
        spu = a.stores_per_user
        if spu == 0:
            return
        pools = {}
        for u in range(1, N + 1):
            t = tenant_of[u]
            pool = pools.get(t)
            if pool is None:
                lo, hi = lay.users_of(t)
                size = max(2 * spu, (hi - lo + 1) * spu // 4)
                # Store ids: 1000 * tenant + i for small pools, else a disjoint range.
                pool = pools[t] = range(t * 1000000 + 1, t * 1000000 + 1 + size)
            for s in sorted(sample(pool, spu)):
                n += 1
                add("%d\t%d\t%d\t%d" % (n, t, u, s))
    emit("tenant_user_store", ["id", "tenant_id", "user_id", "store_id"], g_user_store)

    def g_delegate(f):
        n = 0
        r = rnd.random
        for u in range(1, N + 1):
            if r() < a.delegations:
                t = tenant_of[u]
                lo, hi = lay.users_of(t)
                if hi == lo:
                    continue
                d = rnd.randint(lo, hi - 1)
                if d >= u:
                    d += 1
                n += 1
                f.add("%d\t%d\t%d\t%d" % (n, t, u, d))
    emit("tenant_user_delegate", ["id", "tenant_id", "user_id", "delegate_user_id"], g_delegate)

    loader.finish()
    t_load = time.monotonic() - t_start

    if recalc_changed:
        db.run("SET GLOBAL innodb_stats_auto_recalc = ON;")

    # Triggers back, change log empty.
    t0 = time.monotonic()
    with open(TRIGGERS_SQL, encoding="utf-8") as fh:
        db.run(fh.read())
    db.run("TRUNCATE TABLE rbac_change; ANALYZE TABLE tenant_user, tenant_user_role, "
           "tenant_role_menu, tenant_user_store;")
    ntrig = db.run("SELECT COUNT(*) FROM information_schema.TRIGGERS "
                   "WHERE TRIGGER_SCHEMA = DATABASE();").strip()
    log("  re-created %s triggers, truncated rbac_change, analyzed (%.1fs)"
        % (ntrig, time.monotonic() - t0))

    total = sum(s[1] for s in loader.stats)
    dt = time.monotonic() - t_start
    log("gen_data.py: %d rows in %.1fs (%.0f rows/s overall; generate+load %.1fs)"
        % (total, dt, total / dt, t_load))
    if tmp_owned and not a.keep_tsv:
        shutil.rmtree(tmpdir, ignore_errors=True)
    elif a.keep_tsv:
        log("  TSV files kept in %s" % tmpdir)


if __name__ == "__main__":
    main()
