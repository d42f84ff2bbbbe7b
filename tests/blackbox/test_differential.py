#!/usr/bin/env python3
"""test_differential.py — rbacd's permission reads against an independent model.

For each seed, a random world (packages, a menu tree, tenants with subscriptions,
roles, users, stores, delegations) is written into a scratch database with plain
INSERTs and fixed ids. The expected answers are computed here, in plain Python, from
the generated rows and SPEC §1 "Semantics" alone; the server's answers to every
permission read over every (tenant, user, menu) and (tenant, user, store)
combination must match them exactly.

One scratch database and one server serve all seeds: the first seed is read by the
initial load, every later one replaces all rows and is read through RELOAD (so RELOAD
is covered too).

Readings of SPEC §1 this model makes where the text leaves room:

* Usable menu: a parent_id naming a menu that does not exist (never inserted, or
  soft-deleted) breaks the chain: the child and its subtree are not usable. A parent
  chain that loops (a menu that is its own ancestor) never reaches a root: not usable.
* Current package: chosen among subscriptions by their own status and time window
  only. A current subscription whose package is disabled, soft-deleted or unknown
  still is the current one (it shadows older subscriptions), and grants nothing.
* The gate (user live and enabled, in the queried tenant, tenant live and enabled)
  applies to every read: ROLES, STORES and CANSTORE of a gated user are empty / 0 too.
* A delegate counts when it is live, enabled and has the same tenant as the user; a
  delegate's delegates do not count (one level). A user delegating to themself gains
  nothing new.
* MENUS CODES lists the perms of accessible menus in menu-id order; menus without
  perms are left out.
* A menu argument that is all ASCII digits is an id, anything else a perms code;
  leading zeros are allowed in every id argument (some pairs and arguments are sent
  with them).

The high-volume reads travel pipelined over a raw RESP connection, 1000 commands a
round trip: CANMENU and CANSTORE replies are compared line by line as bytes (":1",
":0"; an error reply shows as "-ERR ..."), WHY replies are parsed. The array reads
(MENUS, MENUS CODES, MENUS TREE, ROLES, STORES) go through redis-py pipelines.

Environment: RBACD_DIFF_SEEDS="1,2,3" picks other seeds (default 1..5).
"""

import datetime
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import RbacdServer, RespError, RespIncomplete, resp_read, scratch_db  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("RBACD_DIFF_SEEDS", "1,2,3,4,5").split(",") if s]

BIG = 1 << 32
U63 = 1 << 63
MAX_REPORT = 25          # mismatches printed per seed
RAW_BATCH = 1000         # commands per raw pipeline round trip
PY_BATCH = 1000          # commands per redis-py pipeline

UNKNOWN_TENANT = 999
GHOST_TENANT = 31337     # users and roles name it; no tenant row has it
UNKNOWN_USER = 424242
UNKNOWN_MENU = 8888888
UNKNOWN_CODE = "no:such:code"
UNKNOWN_STORE = 77777777777

WORDS = ["order", "item", "shop", "report", "user", "role", "dept", "log", "sync",
         "promo", "video", "live", "stock", "price", "refund", "notice", "team", "audit"]
NAMES = ["Orders", "Products", "Shops", "Reports", "Users", "Roles", "Settings",
         "Dashboard", "订单管理", "报表", "Übersicht", "Export", "Import", "Audit log"]


# ---------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------


def fmt_dt(d):
    return d.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (d.microsecond // 1000)


class IdPool:
    """Unique ids for one table: mostly small, some above 2^32."""

    def __init__(self, rng, avoid=()):
        self.rng = rng
        self.used = set(avoid)

    def take(self, big_share=0.15):
        while True:
            if self.rng.random() < big_share:
                v = BIG + self.rng.randrange(1, 1 << 20) * self.rng.choice([1, 1, 4099])
            else:
                v = self.rng.randrange(1, 20000)
            if v not in self.used:
                self.used.add(v)
                return v

    def claim(self, v):
        assert v not in self.used, v
        self.used.add(v)
        return v


class World:
    """The rows of one generated data set (dicts / tuples, as inserted)."""

    def __init__(self, seed):
        self.seed = seed
        rng = self.rng = random.Random(seed)
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        self.now = now
        self.deleted_mark = iter(range(1735689600000, 1735689600000 + 10 ** 9, 7919))
        self._menus(rng)
        self._packages(rng)
        self._tenants(rng, now)
        self._roles(rng)
        self._users(rng)

    def _del(self, p):
        return next(self.deleted_mark) if self.rng.random() < p else 0

    # ---- menus: a tree 4 levels deep, plus broken chains ----
    def _menus(self, rng):
        ids = IdPool(rng, avoid=[UNKNOWN_MENU])
        self.menus = []
        levels = [[], [], [], []]
        counts = [4, 10, 22, 20]
        for level, count in enumerate(counts):
            for _ in range(count):
                mid = ids.take()
                parent = 0 if level == 0 else rng.choice(levels[level - 1])["id"]
                mtype = [1, rng.choice([1, 2]), rng.choice([2, 3]), 3][level]
                m = dict(id=mid, parent_id=parent, type=mtype, level=level,
                         name="%s %d" % (rng.choice(NAMES), mid), perms=None,
                         path="/%s/%d" % (rng.choice(WORDS), mid) if rng.random() < 0.6 else "",
                         sort=rng.randint(-3, 5),
                         status=0 if rng.random() < (0.03, 0.04, 0.08, 0.08)[level] else 1,
                         deleted_at=self._del((0.0, 0.04, 0.08, 0.08)[level]))
                if rng.random() < 0.85:
                    m["perms"] = "%s:%s:%d" % (rng.choice(WORDS), rng.choice(WORDS), mid)
                levels[level].append(m)
                self.menus.append(m)
        # A subtree under a disabled directory and one under a deleted one.
        with_children = [m for m in levels[1] if any(c["parent_id"] == m["id"] for c in levels[2])]
        if len(with_children) >= 2:
            a, b = rng.sample(with_children, 2)
            a["status"], a["deleted_at"] = 0, 0
            b["status"], b["deleted_at"] = 1, next(self.deleted_mark)
        # A child whose parent never existed, and its own child.
        orphan = self._extra_menu(ids, parent=ids.take(0) + 100000, level=2)
        self._extra_menu(ids, parent=orphan["id"], level=3)
        # A two-menu loop and a menu that is its own parent.
        a = self._extra_menu(ids, parent=0, level=1)
        b = self._extra_menu(ids, parent=a["id"], level=2)
        a["parent_id"] = b["id"]
        c = self._extra_menu(ids, parent=0, level=1)
        c["parent_id"] = c["id"]
        # A unicode code, and an alphanumeric code that starts with digits.
        live_coded = [m for m in self.menus if m["deleted_at"] == 0]
        rng.choice(live_coded)["perms"] = "报表:导出:%d" % self.seed
        rng.choice(live_coded)["perms"] = "%da:b" % (100 + self.seed)
        # A deleted menu reusing a live menu's code (the live one is meant), twice with
        # different deletion marks; and a deleted menu with a code of its own.
        live_with_code = [m for m in self.menus if m["deleted_at"] == 0 and m["perms"]]
        twin = rng.choice(live_with_code)
        for _ in range(2):
            d = self._extra_menu(ids, parent=twin["parent_id"], level=twin["level"])
            d["perms"], d["deleted_at"] = twin["perms"], next(self.deleted_mark)
        d = self._extra_menu(ids, parent=0, level=0)
        d["perms"], d["deleted_at"] = "dead:code:%d" % self.seed, next(self.deleted_mark)
        # Menu ids above 2^32 for sure.
        for m in rng.sample(levels[2] + levels[3], 3):
            self._extra_menu(ids, parent=m["id"], level=3, mid=ids.claim(BIG * 7 + m["id"]))
        rng.shuffle(self.menus)  # insertion order is not id order

    def _extra_menu(self, ids, parent, level, mid=None):
        rng = self.rng
        mid = mid if mid is not None else ids.take()
        m = dict(id=mid, parent_id=parent, type=min(3, level + 1), level=level,
                 name="Extra %d" % mid, perms="x:%s:%d" % (rng.choice(WORDS), mid),
                 path="", sort=rng.randint(-3, 5), status=1, deleted_at=0)
        self.menus.append(m)
        return m

    # ---- packages ----
    def _packages(self, rng):
        ids = IdPool(rng)
        self.packages = []
        for k, (status, deleted) in enumerate([(1, 0), (1, 0), (0, 0), (1, 1)]):
            pid = ids.take(0.25)
            self.packages.append(dict(id=pid, code="pkg%d_%d" % (k, pid), status=status,
                                      deleted_at=next(self.deleted_mark) if deleted else 0))
        self.enabled_packages = [p["id"] for p in self.packages[:2]]
        self.disabled_package = self.packages[2]["id"]
        self.deleted_package = self.packages[3]["id"]
        self.unknown_package = ids.take(0)
        self.package_menu = []
        all_ids = [m["id"] for m in self.menus]
        for p, share in zip(self.packages, (0.55, 0.85, 0.7, 0.6)):
            chosen = [mid for mid in all_ids if rng.random() < share]
            chosen.append(UNKNOWN_MENU + 1)  # a menu that does not exist
            self.package_menu += [(p["id"], mid) for mid in chosen]
        rng.shuffle(self.package_menu)

    # ---- tenants and subscriptions ----
    def _tenants(self, rng, now):
        ids = IdPool(rng, avoid=[UNKNOWN_TENANT, GHOST_TENANT])
        sub_ids = IdPool(rng)
        day = datetime.timedelta(days=1)
        self.tenants, self.subs = [], []
        p1, p2 = self.enabled_packages

        def tenant(kind, status=1, deleted=False, big=False):
            tid = ids.claim(BIG * 3 + rng.randrange(1000)) if big else ids.take(0)
            t = dict(id=tid, code="t%d" % tid, kind=kind, status=status,
                     deleted_at=next(self.deleted_mark) if deleted else 0)
            self.tenants.append(t)
            return tid

        def sub(tid, pkg, start_days, end_days, status=1, sid=None, start=None):
            s = dict(id=sid if sid is not None else sub_ids.take(0), tenant_id=tid,
                     package_id=pkg, start=start if start is not None else now + start_days * day,
                     end=now + end_days * day, status=status)
            self.subs.append(s)
            return s

        t = tenant("single", big=True)
        sub(t, rng.choice([p1, p2]), -rng.randint(1, 30), rng.randint(1, 30))
        # Overlapping: the later start wins although its id is lower.
        t = tenant("overlap")
        lo, hi = sorted(sub_ids.take(0) for _ in range(2))
        sub(t, p1, -20, 20, sid=hi)
        sub(t, p2, -5, 10, sid=lo)
        sub(t, p1, -40, -21)
        # Equal start times: the highest id wins; a later inactive one is ignored.
        t = tenant("tie")
        lo, hi = sorted(sub_ids.take(0) for _ in range(2))
        start = now - 3 * day
        first = rng.choice([p1, p2])
        sub(t, [p1, p2][first == p1], 0, 15, sid=hi, start=start)
        sub(t, first, 0, 20, sid=lo, start=start)
        sub(t, first, -1, 30, status=0)
        # Nothing current: expired, future, inactive.
        t = tenant("none")
        sub(t, p1, -30, -1)
        sub(t, p2, 1, 30)
        sub(t, p2, -10, 10, status=0)
        tenant("nosubs")
        t = tenant("disabled", status=0)
        sub(t, p2, -10, 10)
        t = tenant("deleted", deleted=True)
        sub(t, p2, -10, 10)
        # The current subscription's package is disabled: it shadows an older one.
        t = tenant("disabledpkg")
        sub(t, p2, -20, 20)
        sub(t, self.disabled_package, -2, 20)
        # Current package soft-deleted, or never existed.
        t = tenant("deletedpkg")
        sub(t, self.deleted_package, -2, 20)
        t = tenant("unknownpkg")
        sub(t, self.unknown_package, -2, 20)
        rng.shuffle(self.subs)

    # ---- roles ----
    def _roles(self, rng):
        ids = IdPool(rng)
        self.roles = []
        owners = [t["id"] for t in self.tenants] + [GHOST_TENANT]
        for tid in owners:
            for k in range(5 if tid != GHOST_TENANT else 2):
                self.roles.append(dict(id=ids.take(), tenant_id=tid, code="r%d" % k,
                                       status=0 if rng.random() < 0.15 else 1,
                                       deleted_at=self._del(0.1)))
        self.unknown_role = ids.take(0)
        self.role_menu = []
        all_ids = [m["id"] for m in self.menus]
        for r in self.roles:
            chosen = rng.sample(all_ids, rng.randint(3, 22))
            if rng.random() < 0.2:
                chosen.append(UNKNOWN_MENU + 2)
            self.role_menu += [(r["tenant_id"], r["id"], mid) for mid in chosen]
        rng.shuffle(self.role_menu)

    # ---- users, their roles, stores and delegates ----
    def _users(self, rng):
        ids = IdPool(rng, avoid=[UNKNOWN_USER])
        self.users = []
        tenant_ids = [t["id"] for t in self.tenants]
        healthy = [t["id"] for t in self.tenants if t["kind"] in ("single", "overlap", "tie")]
        for _ in range(280):
            x = rng.random()
            tid = rng.choice(healthy) if x < 0.6 else rng.choice(tenant_ids) if x < 0.97 \
                else GHOST_TENANT
            self.users.append(dict(id=ids.take(), tenant_id=tid,
                                   is_admin=1 if rng.random() < 0.08 else 0,
                                   status=0 if rng.random() < 0.1 else 1,
                                   deleted_at=self._del(0.08)))
        # Ids at the top of the range, in healthy tenants.
        for uid in (U63 + 7, (1 << 64) - 2, BIG + 1, BIG - 1):
            self.users.append(dict(id=ids.claim(uid), tenant_id=rng.choice(healthy),
                                   is_admin=0, status=1, deleted_at=0))
        # One admin in every tenant, so that each package shows through someone.
        for tid in tenant_ids:
            self.users.append(dict(id=ids.take(), tenant_id=tid, is_admin=1, status=1,
                                   deleted_at=0))
        by_tenant = {}
        for r in self.roles:
            by_tenant.setdefault(r["tenant_id"], []).append(r["id"])
        all_roles = [r["id"] for r in self.roles]
        self.user_role = []
        for u in self.users:
            own = by_tenant.get(u["tenant_id"], [])
            chosen = set(rng.sample(own, min(len(own), rng.choice([0, 1, 1, 2, 2, 3, 4]))))
            if rng.random() < 0.15:
                chosen.add(rng.choice(all_roles))  # maybe another tenant's
            if rng.random() < 0.04:
                chosen.add(self.unknown_role)
            self.user_role += [(u["tenant_id"], u["id"], rid) for rid in sorted(chosen)]
        store_pool = set()
        while len(store_pool) < 45:
            store_pool.add(rng.randrange(1, 5000) if rng.random() < 0.7
                           else BIG + rng.randrange(1 << 40))
        store_pool = sorted(store_pool)
        self.user_store = []
        for u in self.users:
            for s in rng.sample(store_pool, rng.choice([0, 0, 1, 1, 2, 3, 4])):
                self.user_store.append((u["tenant_id"], u["id"], s))
        users_by_tenant = {}
        for u in self.users:
            users_by_tenant.setdefault(u["tenant_id"], []).append(u["id"])
        all_users = [u["id"] for u in self.users]
        pairs = set()
        for u in self.users:
            if rng.random() < 0.35:
                for _ in range(rng.choice([1, 1, 2])):
                    if rng.random() < 0.75:
                        pairs.add((u["id"], rng.choice(users_by_tenant[u["tenant_id"]])))
                    else:
                        pairs.add((u["id"], rng.choice(all_users)))
            if rng.random() < 0.02:
                pairs.add((u["id"], UNKNOWN_USER))
        # A chain a -> b -> c among live, enabled users of one tenant, c with stores.
        stores_of = {}
        for _, uid, s in self.user_store:
            stores_of.setdefault(uid, set()).add(s)
        good = [u for u in self.users if u["status"] == 1 and u["deleted_at"] == 0]
        for tid in healthy:
            cands = [u["id"] for u in good if u["tenant_id"] == tid]
            with_stores = [x for x in cands if stores_of.get(x)]
            if len(cands) >= 3 and with_stores:
                c = rng.choice(with_stores)
                a, b = rng.sample([x for x in cands if x != c], 2)
                pairs |= {(a, b), (b, c)}
                break
        tenant_of = {u["id"]: u["tenant_id"] for u in self.users}
        self.delegates = [(tenant_of[a], a, b) for a, b in sorted(pairs)]
        rng.shuffle(self.delegates)
        self.store_pool = store_pool

    # ---- writing it ----
    TABLES = ("tenant_user_delegate", "tenant_user_store", "tenant_user_role",
              "tenant_role_menu", "tenant_role", "tenant_user", "tenant_subscription",
              "tenant_package_menu", "tenant_package", "tenant_menu", "tenant")

    def write(self, db):
        for t in self.TABLES:
            db.sql("DELETE FROM %s" % t)
        insert(db, "tenant_menu",
               "id, parent_id, menu_name, menu_type, perms, path, sort, status, deleted_at",
               [(m["id"], m["parent_id"], m["name"], m["type"], m["perms"], m["path"],
                 m["sort"], m["status"], m["deleted_at"]) for m in self.menus])
        insert(db, "tenant_package", "id, package_code, package_name, status, deleted_at",
               [(p["id"], p["code"], p["code"], p["status"], p["deleted_at"])
                for p in self.packages])
        insert(db, "tenant_package_menu", "package_id, menu_id", self.package_menu)
        insert(db, "tenant", "id, tenant_code, tenant_name, status, deleted_at",
               [(t["id"], t["code"], t["kind"], t["status"], t["deleted_at"])
                for t in self.tenants])
        insert(db, "tenant_subscription",
               "id, tenant_id, package_id, start_time, end_time, status",
               [(s["id"], s["tenant_id"], s["package_id"], fmt_dt(s["start"]), fmt_dt(s["end"]),
                 s["status"]) for s in self.subs])
        insert(db, "tenant_role", "id, tenant_id, role_code, role_name, status, deleted_at",
               [(r["id"], r["tenant_id"], r["code"], r["code"], r["status"], r["deleted_at"])
                for r in self.roles])
        insert(db, "tenant_role_menu", "tenant_id, role_id, menu_id", self.role_menu)
        insert(db, "tenant_user", "id, tenant_id, username, is_admin, status, deleted_at",
               [(u["id"], u["tenant_id"], "u%d" % u["id"], u["is_admin"], u["status"],
                 u["deleted_at"]) for u in self.users])
        insert(db, "tenant_user_role", "tenant_id, user_id, role_id", self.user_role)
        insert(db, "tenant_user_store", "tenant_id, user_id, store_id", self.user_store)
        insert(db, "tenant_user_delegate", "tenant_id, user_id, delegate_user_id", self.delegates)


def insert(db, table, cols, rows, chunk=500):
    ncol = len(cols.split(","))
    row_ph = "(" + ", ".join(["%s"] * ncol) + ")"
    for i in range(0, len(rows), chunk):
        part = rows[i:i + chunk]
        db.sql("INSERT INTO %s (%s) VALUES %s" % (table, cols, ", ".join([row_ph] * len(part))),
               [v for row in part for v in row])


# ---------------------------------------------------------------------------------------
# The reference model: SPEC §1 Semantics over the generated rows
# ---------------------------------------------------------------------------------------


class Model:
    def __init__(self, w, now):
        live = lambda r: r["deleted_at"] == 0  # noqa: E731
        self.menus = {m["id"]: m for m in w.menus if live(m)}
        self.usable = {mid for mid in self.menus if self._usable(mid)}
        self.code_to_menu = {m["perms"]: mid for mid, m in self.menus.items() if m["perms"]}
        packages = {p["id"]: p for p in w.packages if live(p)}
        pkg_menus = {}
        for pid, mid in w.package_menu:
            pkg_menus.setdefault(pid, set()).add(mid)
        self.tenants = {t["id"]: t for t in w.tenants if live(t)}
        self.pkg_usable = {}   # tenant id -> usable menus of its current package
        self.current_sub = {}
        for tid in self.tenants:
            cands = [s for s in w.subs if s["tenant_id"] == tid and s["status"] == 1
                     and s["start"] <= now < s["end"]]
            cur = max(cands, key=lambda s: (s["start"], s["id"]), default=None)
            self.current_sub[tid] = cur
            p = packages.get(cur["package_id"]) if cur else None
            self.pkg_usable[tid] = (pkg_menus.get(p["id"], set()) & self.usable
                                    if p and p["status"] == 1 else set())
        self.roles = {r["id"]: r for r in w.roles if live(r)}
        role_menus = {}
        for _, rid, mid in w.role_menu:
            role_menus.setdefault(rid, set()).add(mid)
        self.role_menus = role_menus
        self.users = {u["id"]: u for u in w.users if live(u)}
        self.user_roles, self.own_stores, self.delegates = {}, {}, {}
        for _, uid, rid in w.user_role:
            self.user_roles.setdefault(uid, set()).add(rid)
        for _, uid, s in w.user_store:
            self.own_stores.setdefault(uid, set()).add(s)
        for _, uid, d in w.delegates:
            self.delegates.setdefault(uid, set()).add(d)

    def _usable(self, mid):
        seen = set()
        while mid != 0:
            if mid in seen:
                return False  # a loop never reaches a root
            seen.add(mid)
            m = self.menus.get(mid)
            if m is None or m["status"] != 1:
                return False
            mid = m["parent_id"]
        return True

    def gate(self, t, u):
        """The user if it may read anything in tenant t, else None."""
        user = self.users.get(u)
        tenant = self.tenants.get(t)
        if not user or not tenant or user["tenant_id"] != t:
            return None
        if user["status"] != 1 or tenant["status"] != 1:
            return None
        return user

    def usable_roles(self, user):
        out = set()
        for rid in self.user_roles.get(user["id"], ()):
            r = self.roles.get(rid)
            if r and r["status"] == 1 and r["tenant_id"] == user["tenant_id"]:
                out.add(rid)
        return out

    def accessible(self, t, u):
        user = self.gate(t, u)
        if not user:
            return set()
        pkg = self.pkg_usable[t]
        if user["is_admin"] == 1:
            return set(pkg)
        granted = set()
        for rid in self.usable_roles(user):
            granted |= self.role_menus.get(rid, set())
        return pkg & granted

    def roles_of(self, t, u):
        user = self.gate(t, u)
        return sorted(self.usable_roles(user)) if user else []

    def stores(self, t, u):
        user = self.gate(t, u)
        if not user:
            return set()
        out = set(self.own_stores.get(u, ()))
        for d in self.delegates.get(u, ()):
            du = self.users.get(d)
            if du and du["status"] == 1 and du["tenant_id"] == user["tenant_id"]:
                out |= self.own_stores.get(d, set())
        return out

    def resolve(self, arg):
        """The menu id a CANMENU argument names, or None."""
        if arg.isascii() and arg.isdigit():
            return int(arg)
        return self.code_to_menu.get(arg)

    def tree(self, acc):
        nodes = set()
        for mid in acc:
            while mid != 0 and mid not in nodes:
                nodes.add(mid)
                mid = self.menus[mid]["parent_id"]
        children = {}
        for mid in nodes:
            children.setdefault(self.menus[mid]["parent_id"], []).append(mid)
        out = []

        def walk(parent):
            for mid in sorted(children.get(parent, ()),
                              key=lambda i: (self.menus[i]["sort"], i)):
                m = self.menus[mid]
                out.append([mid, m["parent_id"], m["type"], m["name"], m["perms"] or "",
                            m["path"] or "", m["sort"]])
                walk(mid)

        walk(0)
        return out


# ---------------------------------------------------------------------------------------
# Talking to the server
# ---------------------------------------------------------------------------------------


class Encoder:
    """RESP request encoding with each distinct argument encoded once."""

    def __init__(self):
        self.cache = {}

    def arg(self, a):
        b = self.cache.get(a)
        if b is None:
            e = a.encode()
            b = self.cache[a] = b"$%d\r\n%s\r\n" % (len(e), e)
        return b


def pack(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


class Pipe:
    """Pipelined raw RESP: send a batch, read as many replies."""

    def __init__(self, conn):
        self.conn = conn
        self.sock = conn.sock
        self.sock.settimeout(60)
        self.commands = 0

    def run(self, packed):
        """packed: list of encoded commands. Returns the parsed replies."""
        out = []
        for i in range(0, len(packed), RAW_BATCH):
            batch = packed[i:i + RAW_BATCH]
            self.sock.sendall(b"".join(batch))
            out += self._read(len(batch))
            self.commands += len(batch)
        return out

    def run_lines(self, packed):
        """For commands whose replies are one line each (integers, errors): returns the
        reply lines without their CRLF (b":1", b"-ERR ..."), compared as bytes. A
        multi-line reply shows up as its first line (and the rest is garbage; it is a
        mismatch anyway)."""
        out = []
        for i in range(0, len(packed), RAW_BATCH):
            batch = packed[i:i + RAW_BATCH]
            n = len(batch)
            self.sock.sendall(b"".join(batch))
            chunks, lines = [], 0
            while lines < n:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("server closed the connection after %d of %d replies"
                                          % (lines, n))
                if chunks and chunks[-1].endswith(b"\r") and chunk.startswith(b"\n"):
                    lines += 1  # a CRLF split between two reads
                chunks.append(chunk)
                lines += chunk.count(b"\r\n")
            buf = b"".join(chunks)
            out += buf.split(b"\r\n")[:n]
            self.commands += n
        return out

    def _read(self, n):
        buf = b""
        pos = 0
        out = []
        while len(out) < n:
            try:
                v, pos = resp_read(buf, pos)
                out.append(v)
                continue
            except RespIncomplete:
                pass
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection after %d of %d replies"
                                      % (len(out), n))
            buf = buf[pos:] + chunk
            pos = 0
        return out


def show(v):
    if isinstance(v, RespError):
        return "(error) %s" % v
    if isinstance(v, bytes):
        return repr(v.decode(errors="replace"))
    return repr(v)


def norm_int(v):
    """An integer reply, or a bulk string of digits (for array members), as int."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, (bytes, str)):
        s = v.decode() if isinstance(v, bytes) else v
        if s.lstrip("-").isdigit():
            return int(s)
    return v


def norm_tree(entries):
    if not isinstance(entries, list):
        return entries
    out = []
    for e in entries:
        if not isinstance(e, list) or len(e) != 7:
            out.append(e)
            continue
        out.append([norm_int(e[0]), norm_int(e[1]), norm_int(e[2]), e[3], e[4], e[5],
                    norm_int(e[6])])
    return out


class Checker:
    """Sends one seed's reads and collects every disagreement with the model."""

    def __init__(self, seed, world, model, srv):
        self.seed = seed
        self.w = world
        self.m = model
        self.srv = srv
        self.mismatches = []
        self.counts = {}
        self.zrng = random.Random(seed * 1000003 + 17)

    def bad(self, cmd, expected, got):
        line = "seed %d: %s: expected %s, got %s" % (self.seed, " ".join(cmd), expected, got)
        self.mismatches.append(line if len(line) < 3000 else line[:3000] + " ...")

    def count(self, kind, n):
        self.counts[kind] = self.counts.get(kind, 0) + n

    def zpad(self, v):
        """The decimal id, sometimes with leading zeros."""
        s = str(v)
        return ("000" + s) if self.zrng.random() < 0.08 else s

    def pairs(self):
        tenants = [t["id"] for t in self.w.tenants] + [UNKNOWN_TENANT, GHOST_TENANT]
        users = [u["id"] for u in self.w.users] + [UNKNOWN_USER]
        return [(t, u) for t in tenants for u in users]

    def menu_args(self):
        args = [str(m["id"]) for m in self.w.menus] + [str(UNKNOWN_MENU), UNKNOWN_CODE]
        codes = sorted({m["perms"] for m in self.w.menus if m["perms"]})
        return args + codes

    def run(self):
        pairs = self.pairs()
        acc = {p: self.m.accessible(*p) for p in pairs}
        with self.srv.raw_connection(timeout=60) as conn:
            pipe = Pipe(conn)
            self.check_canmenu(pipe, pairs, acc)
            self.check_why(pipe, pairs, acc)
            self.check_canstore(pipe, pairs)
        self.check_arrays(pairs, acc)
        return self.mismatches

    def check_canmenu(self, pipe, pairs, acc):
        margs = self.menu_args()
        resolved = [self.m.resolve(a) for a in margs]
        enc = Encoder()
        # Each menu argument as sent: all-digit ones sometimes with leading zeros.
        sent = [self.zpad(a) if a.isdigit() else a for a in margs]
        encoded = [enc.arg(a) for a in sent]
        head = b"*4\r\n" + enc.arg("CANMENU")
        packed, expect = [], []
        for (t, u) in pairs:
            a = acc[(t, u)]
            prefix = head + enc.arg(self.zpad(t)) + enc.arg(self.zpad(u))
            packed += [prefix + e for e in encoded]
            expect += [b":1" if mid is not None and mid in a else b":0" for mid in resolved]
        got = pipe.run_lines(packed)
        self.count("CANMENU", len(packed))
        self.report_lines(packed, expect, got)

    def report_lines(self, packed, expect, got):
        if got == expect:
            return
        for k, (e, g) in enumerate(zip(expect, got)):
            if g != e:
                args = [x.decode() for x in packed[k].split(b"\r\n")[2::2]]
                self.bad(args, e.decode(), g.decode(errors="replace"))

    def check_why(self, pipe, pairs, acc):
        """WHY's verdict must be CANMENU's: every triple in the user's own tenant (where
        verdicts vary) and, for other tenants, one menu per pair."""
        margs = self.menu_args()
        resolved = dict(zip(margs, (self.m.resolve(a) for a in margs)))
        home = {u["id"]: u["tenant_id"] for u in self.w.users}
        cmds, packed, expect = [], [], []
        for (t, u) in pairs:
            chosen = margs if home.get(u) == t else [self.zrng.choice(margs)]
            a = acc[(t, u)]
            for arg in chosen:
                cmd = ("WHY", str(t), str(u), arg)
                mid = resolved[arg]
                cmds.append(cmd)
                packed.append(pack(cmd))
                expect.append("allow" if mid is not None and mid in a else "deny")
        got = pipe.run(packed)
        self.count("WHY", len(cmds))
        for cmd, e, g in zip(cmds, expect, got):
            ok = (isinstance(g, list) and g and isinstance(g[0], bytes) and
                  all(isinstance(x, bytes) for x in g))
            first = g[0].decode(errors="replace") if ok else None
            if first != e:
                self.bad(cmd, "[%r, ...] (bulk strings)" % e, show(g))

    def check_canstore(self, pipe, pairs):
        stores = self.w.store_pool + [UNKNOWN_STORE]
        enc = Encoder()
        encoded = [enc.arg(self.zpad(s)) for s in stores]
        head = b"*4\r\n" + enc.arg("CANSTORE")
        packed, expect = [], []
        for (t, u) in pairs:
            have = self.m.stores(t, u)
            prefix = head + enc.arg(self.zpad(t)) + enc.arg(self.zpad(u))
            packed += [prefix + e for e in encoded]
            expect += [b":1" if s in have else b":0" for s in stores]
        got = pipe.run_lines(packed)
        self.count("CANSTORE", len(packed))
        self.report_lines(packed, expect, got)

    def check_arrays(self, pairs, acc):
        r = self.srv.client(socket_timeout=60)
        cmds, expect = [], []
        for (t, u) in pairs:
            a = acc[(t, u)]
            ts, us = str(t), str(u)
            menus = sorted(a)
            cmds.append(("MENUS", ts, us))
            expect.append(menus)
            cmds.append(("MENUS", ts, us, "CODES"))
            expect.append([self.m.menus[i]["perms"] for i in menus if self.m.menus[i]["perms"]])
            cmds.append(("MENUS", ts, us, "TREE"))
            expect.append(self.m.tree(a))
            cmds.append(("ROLES", ts, us))
            expect.append(self.m.roles_of(t, u))
            cmds.append(("STORES", ts, us))
            expect.append(sorted(self.m.stores(t, u)))
        got = []
        for i in range(0, len(cmds), PY_BATCH):
            p = r.pipeline(transaction=False)
            for cmd in cmds[i:i + PY_BATCH]:
                p.execute_command(*cmd)
            got += p.execute(raise_on_error=False)
        r.close()
        for cmd, e, g in zip(cmds, expect, got):
            self.count(" ".join(c for c in cmd if not c.isdigit()), 1)
            if isinstance(g, Exception):
                self.bad(cmd, e, "(error) %s" % g)
                continue
            if cmd[-1] == "TREE":
                if norm_tree(g) != e:
                    self.bad(cmd, e, g)
            elif cmd[-1] == "CODES":
                if g != e:
                    self.bad(cmd, e, g)
            elif not isinstance(g, list) or any(type(x) is not int for x in g) or g != e:
                # MENUS, ROLES, STORES: integer replies, ascending
                self.bad(cmd, e, g)


# ---------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------


class DifferentialTest(unittest.TestCase):

    def test_seeds_against_model(self):
        failures = []
        with scratch_db("diff", demo=False) as db:
            srv = None
            try:
                for n, seed in enumerate(SEEDS):
                    t0 = time.monotonic()
                    world = World(seed)
                    world.write(db)
                    live_users = db.sql("SELECT COUNT(*) FROM tenant_user"
                                        " WHERE deleted_at = 0")[0][0]
                    t1 = time.monotonic()
                    if srv is None:
                        srv = RbacdServer(db=db).start()
                        how = "initial load"
                    else:
                        self.assertEqual(srv.client().execute_command("RELOAD"), "OK")
                        how = "RELOAD"
                    t2 = time.monotonic()
                    self.assertEqual(srv.client().dbsize(), live_users,
                                     "seed %d: DBSIZE after %s" % (seed, how))
                    model = Model(world, datetime.datetime.now(datetime.timezone.utc)
                                  .replace(tzinfo=None))
                    checker = Checker(seed, world, model, srv)
                    bad = checker.run()
                    t3 = time.monotonic()
                    total = sum(checker.counts.values())
                    print("seed %d (%s): %d comparisons [%s]; write %.1fs, load %.1fs, "
                          "compare %.1fs; %d mismatches" %
                          (seed, how, total,
                           ", ".join("%s %d" % kv for kv in sorted(checker.counts.items())),
                           t1 - t0, t2 - t1, t3 - t2, len(bad)), flush=True)
                    for line in bad[:MAX_REPORT]:
                        print("  MISMATCH " + line, flush=True)
                    if len(bad) > MAX_REPORT:
                        print("  ... and %d more" % (len(bad) - MAX_REPORT), flush=True)
                    if bad:
                        failures.append("seed %d: %d mismatches, first: %s" %
                                        (seed, len(bad), bad[0]))
                    self.assertTrue(srv.running(), "rbacd died during seed %d\n%s" %
                                    (seed, srv.diagnostics()))
                if srv is not None:
                    srv.stop()
            finally:
                if srv is not None:
                    srv._kill()
                    srv.cleanup()
        if failures:
            self.fail("server disagrees with the model:\n" + "\n".join(failures))


if __name__ == "__main__":
    unittest.main(verbosity=2)
