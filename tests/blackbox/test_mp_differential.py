#!/usr/bin/env python3
"""test_mp_differential.py — rbacd's profile mpbackend against an independent model.

For each seed, a random mpbackend world (users, global roles with carelessly written
permission lists, the three kinds of role bindings with wrong-scope and disabled rows,
login methods, permission flags and their bindings, session tokens of the legacy
service and of rbacd) is written into a scratch database of the mpbackend schema with
plain INSERTs and fixed ids. The expected answers are computed here, in plain Python,
from the rows alone and the rules of SPEC §4 (written out in
schema/mpbackend/demo/README.md); two rbacd instances on that database must give them
exactly:

1. after the load: every CAN (domain, user, permission), every PERMS and DOMAINS,
   WHY's verdict, USERBYLOGIN for every (provider, key), APPFLAGS for every
   application, SESSION GET and SESSION CAN for every token, DBSIZE;
2. after external SQL changes (INSERT/UPDATE/DELETE of bindings, roles, users, login
   methods, flags, sessions; an owner move; an id change), once both instances have
   applied the change log (WAITREV on MAX(rbac_change.id));
3. after BIND/UNBIND on the first instance, once the second has applied them (REVISION
   on the first, WAITREV on the second): the replies (:1 changed, :0 already so,
   -ERR for a role of another scope or a domain that names no binding table), the
   rows written through (the model's predicted bindings must be what the database now
   holds), and every read again on both;
4. sessions written through: SESSION CREATE on one instance, read through on the
   other, the stored 'h1:' + hex(BLAKE2b-256) row, LIST, TOUCH, REVOKE and REVOKEALL
   seen by the other instance.

One scratch database and two servers serve all seeds: the first seed is read by the
initial load, every later one replaces all rows and is read through RELOAD.

The model is built from the rows read back from the database (Rows.from_db), so the
same code predicts the answers after the external changes; the generator's own rows
are checked to read back identically in the self-check.

Readings of SPEC §4 this model makes where the text leaves room:

* "disabled = 1 does not exist": a row whose disabled is 0 or NULL exists (the column
  is nullable and some generated rows hold NULL).
* A role with scope NULL matches no binding table. A role whose permissions are NULL
  or empty grants nothing, but a binding to it still makes its domain one where the
  user "holds a usable role" (DOMAINS lists it; PERMS there is empty).
* Trimming removes ASCII whitespace (space, tab, CR, LF, VT, FF) at both ends of an
  item; names are otherwise compared byte for byte (CAN, the flag and key lookups).
  PERMS and DOMAINS are sorted by bytes ("developer:12" before "developer:9").
* A binding to a user or role that does not exist counts for nothing. Developers and
  applications need no row of their own: the domain is the id the binding names.
* USERBYLOGIN: among the live methods with that provider and exact key whose user
  is live, the lowest id gives the user; none: nil.
* APPFLAGS: flags bound to the application (exact application_id), a binding to a
  flag that does not exist ignored, pairs ordered by (name, flag id). The generator
  never binds one flag twice to one application and never leaves arguments NULL:
  those two cases are not settled by SPEC §4.
* Sessions: a token is looked up as 'h1:' + hex(BLAKE2b-256(token)), then as itself
  among rows that are not 'h1:' rows (presenting the stored hash is not a token), and
  the comparison is exact: the column's collation is case-insensitive, a token that
  differs in case is not the token. A session counts while its row exists, expired_at
  is in the future and its user exists. SESSION GET gives [0, user, created_ms,
  expires_ms]; created_ms is create_time (the generator sets db_create_time equal).
  REVOKEALL counts every live session of the user, legacy rows included.
* DBSIZE is the number of users that exist.

Usage:
    test_mp_differential.py                the whole test (needs rbacd --profile mpbackend)
    test_mp_differential.py --self-check   only the parts that need no server: the
                                           generated data applies to a scratch database,
                                           the triggers log it, it reads back as
                                           written, the external changes apply, the
                                           model's BIND/UNBIND predictions match what
                                           equivalent SQL leaves in the tables, and the
                                           model gives every answer of the demo README

Environment: RBACD_MP_DIFF_SEEDS="1,2,3" picks other seeds (default 1..3).
"""

import base64
import hashlib
import json
import os
import random
import re
import sys
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pymysql  # noqa: E402
import redis  # noqa: E402

from harness import RbacdServer, close_client, scratch_db, source_dir  # noqa: E402
from test_differential import Encoder, Pipe, insert, norm_int, pack, show  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("RBACD_MP_DIFF_SEEDS", "1,2,3").split(",") if s]

BIG = 1 << 32
MAX_REPORT = 25           # mismatches printed per phase
PY_BATCH = 1000           # commands per redis-py pipeline
SYNC_TIMEOUT_MS = 10000   # WAITREV bound: SPEC says one second; generous for sanitizers
SERVER_ARGS = ["--profile", "mpbackend"]

WS = " \t\r\n\v\f"
PROVIDERS = ("binance-oauth", "okta", "email")
# Binding kinds: domain prefix -> (table, role scope it needs, extra column)
KINDS = {
    "admin": ("mpbackend_admin_user_role_binding", "Admin", None),
    "developer": ("mpbackend_developer_user_role_binding", "Developer", "developer_id"),
    "application": ("mpbackend_application_user_role_binding", "Application", "application_id"),
}
UNKNOWN_USER = 987654321
UNKNOWN_DOMAINS = ("developer:999999", "application:no.such.app")
UNKNOWN_PERMISSION = "no:such:permission"

FUTURE_MS = 2145830400000   # 2037-12-31T00:00:00Z: TIMESTAMP columns end in 2038
PAST_MS = 1577836800000     # 2020-01-01T00:00:00Z
CREATED_MS = 1735689600000  # 2025-01-01T00:00:00Z

RESOURCES = ["app", "version", "member", "flag", "stats", "ticket", "user", "audit",
             "file", "billing", "review", "release"]
ACTIONS = ["read", "write", "create", "delete", "publish", "upload", "manage", "export"]
ODD_PERMISSIONS = ["报表:导出", "x", "a.b-c_d:e", "APP:READ"]
FLAG_NAMES = ["camera", "location", "payment", "bluetooth", "contacts", "storage",
              "microphone", "clipboard", "nfc"]
FLAG_ARGS = ["front", "back", "coarse", "fine", "card", "wallet", "read", "write", "scan"]


def now_ms():
    return int(time.time() * 1000)


def token_hash(token):
    """What rbacd stores for a token: 'h1:' + lowercase hex of BLAKE2b-256."""
    return "h1:" + hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


def split_permissions(s):
    """A role's permission names: split on commas, items trimmed, empties dropped."""
    if s is None:
        return set()
    return {p.strip(WS) for p in s.split(",")} - {""}


def exists(row):
    """A row with disabled = 1 does not exist (0 and NULL do)."""
    return row.get("disabled") != 1


def domain_of(kind, row):
    if kind == "admin":
        return "admin"
    if kind == "developer":
        return "developer:%d" % row["developer_id"]
    return "application:%s" % row["application_id"]


def kind_of(domain):
    """The binding kind a domain names, or None."""
    if domain == "admin":
        return "admin"
    for k in ("developer", "application"):
        if domain.startswith(k + ":") and len(domain) > len(k) + 1:
            if k == "developer" and not domain[len(k) + 1:].isdigit():
                return None
            return k
    return None


# ---------------------------------------------------------------------------------------
# Rows: the cached tables as lists of dicts, written and read back the same way
# ---------------------------------------------------------------------------------------

# table -> [(key, SELECT expression, INSERT column)]; the session times travel as
# unix milliseconds (UNIX_TIMESTAMP / FROM_UNIXTIME, independent of the time zone).
COLUMNS = {
    "mpbackend_user": ["id", "email", "disabled"],
    "mpbackend_role": ["id", "name", "permissions", "scope", "disabled"],
    "mpbackend_admin_user_role_binding": ["id", "user_id", "role_id", "disabled"],
    "mpbackend_developer_user_role_binding": ["id", "user_id", "role_id", "developer_id",
                                              "disabled"],
    "mpbackend_application_user_role_binding": ["id", "user_id", "role_id", "application_id",
                                                "disabled"],
    "mpbackend_account_login_method": ["id", "user_id", "provider_key", "login_provider",
                                       "disabled"],
    "mpbackend_application_permission_flag": ["id", "name", "arguments"],
    "mpbackend_application_permission_flag_binding": ["id", "application_id",
                                                      "permission_flag_id"],
    "mpbackend_user_session_token": ["id", "session_token", "user_id", "expired_ms",
                                     "created_ms", "disabled"],
}
SESSION_SELECT = ("id, session_token, user_id, CAST(UNIX_TIMESTAMP(expired_at) * 1000 AS SIGNED),"
                  " CAST(UNIX_TIMESTAMP(create_time) * 1000 AS SIGNED), disabled")
# Tables of the service the world also fills (not read by rbacd), emptied with the rest.
OTHER_TABLES = ("mpbackend_application", "mpbackend_developer")


class Rows:
    """The rows of the cached tables: .t[table] is a list of dicts keyed by COLUMNS."""

    def __init__(self):
        self.t = {name: [] for name in COLUMNS}
        self.developers = []     # [(id, name, owner_id)]
        self.applications = []   # [(app_id, developer_id)]

    def __getitem__(self, table):
        return self.t[table]

    @classmethod
    def from_db(cls, db):
        rows = cls()
        db.sql("SET time_zone = '+00:00'")
        for table, cols in COLUMNS.items():
            select = SESSION_SELECT if table == "mpbackend_user_session_token" else ", ".join(cols)
            for r in db.sql("SELECT %s FROM %s ORDER BY id" % (select, table)):
                rows.t[table].append(dict(zip(cols, r)))
        return rows

    def write(self, db):
        """Replaces every row of the cached tables (and developers, applications)."""
        db.sql("SET time_zone = '+00:00'")
        for table in list(COLUMNS) + list(OTHER_TABLES):
            db.sql("DELETE FROM %s" % table)
        for table, cols in COLUMNS.items():
            data = self.t[table]
            if table == "mpbackend_user_session_token":
                cols = ["id", "session_token", "user_id", "expired_at", "create_time",
                        "db_create_time", "disabled"]
                data = [(s["id"], s["session_token"], s["user_id"], ms_to_sql(s["expired_ms"]),
                         ms_to_sql(s["created_ms"]), ms_to_sql(s["created_ms"]), s["disabled"])
                        for s in data]
            else:
                data = [tuple(r[c] for c in cols) for r in data]
            if data:
                insert(db, table, ", ".join(cols), data)
        if self.developers:
            insert(db, "mpbackend_developer", "id, name, owner_id", self.developers)
        if self.applications:
            insert(db, "mpbackend_application", "app_id, name, developer_id",
                   [(a, a[:30], d) for a, d in self.applications])

    def count(self):
        return sum(len(v) for v in self.t.values())


def ms_to_sql(ms):
    """A UTC 'YYYY-MM-DD HH:MM:SS' for a whole-second unix-ms time (session time zone +00:00)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000))


# ---------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------


class IdPool:
    """Unique ids for one table: mostly small, some above 2^32."""

    def __init__(self, rng, avoid=()):
        self.rng = rng
        self.used = set(avoid)

    def take(self, big_share=0.12):
        while True:
            if self.rng.random() < big_share:
                v = BIG + self.rng.randrange(1, 1 << 24)
            else:
                v = self.rng.randrange(1, 50000)
            if v not in self.used:
                self.used.add(v)
                return v


def messy_permissions(rng, names):
    """A permissions column value listing names the way people type them: spaces and
    tabs around items, empty and blank items, duplicates, a trailing comma."""
    items = list(names)
    if items and rng.random() < 0.4:
        items.append(rng.choice(items))                  # a duplicate
    if rng.random() < 0.3:
        items.insert(rng.randrange(len(items) + 1), "")  # an empty item
    if rng.random() < 0.2:
        items.insert(rng.randrange(len(items) + 1), rng.choice([" ", "\t", "  \t "]))
    out = []
    for it in items:
        pad = lambda: rng.choice(["", "", "", " ", "  ", "\t"])  # noqa: E731
        out.append(pad() + it + pad())
    s = ",".join(out)
    if rng.random() < 0.15:
        s += ","
    while len(s.encode()) > 255 and "," in s:           # varchar(255)
        s = s.rsplit(",", 1)[0]
    return s


class World:
    """One generated data set: .rows (Rows), plus what the checks need to know:
    .tokens (the session tokens clients hold: legacy ones as stored, rbacd's ones whose
    rows hold their hash; Mutator adds the legacy tokens it inserts), .permissions (the
    permission universe), .developer_ids, .app_ids."""

    def __init__(self, seed):
        self.seed = seed
        rng = self.rng = random.Random(seed)
        self.rows = Rows()
        self.permissions = sorted({"%s:%s" % (r, a) for r in RESOURCES for a in ACTIONS
                                   if rng.random() < 0.4} | set(ODD_PERMISSIONS))
        self._users(rng)
        self._roles(rng)
        self._domains(rng)
        self._bindings(rng)
        self._logins(rng)
        self._flags(rng)
        self._sessions(rng)

    def _users(self, rng):
        ids = IdPool(rng, avoid=[UNKNOWN_USER])
        users = self.rows["mpbackend_user"]
        for k in range(110):
            uid = ids.take()
            disabled = 1 if rng.random() < 0.1 else 0
            if k < 3:
                disabled = None   # NULL: exists
            users.append(dict(id=uid, email="u%d@example.com" % uid, disabled=disabled))
        self.user_ids = [u["id"] for u in users]
        self.ghost_users = [ids.take(0) for _ in range(3)]   # bound, never inserted

    def _roles(self, rng):
        ids = IdPool(rng)
        roles = self.rows["mpbackend_role"]
        scopes = ["Admin"] * 5 + ["Developer"] * 9 + ["Application"] * 12
        for k, scope in enumerate(scopes):
            names = rng.sample(self.permissions, rng.randint(1, 8))
            roles.append(dict(id=ids.take(), name="r%d" % k, scope=scope,
                              permissions=messy_permissions(rng, names),
                              disabled=1 if rng.random() < 0.12 else 0))
        # The corners: no scope, NULL and empty permission lists, NULL disabled.
        roles.append(dict(id=ids.take(), name="noscope", scope=None,
                          permissions="app:read", disabled=0))
        roles.append(dict(id=ids.take(), name="nullperms", scope="Developer",
                          permissions=None, disabled=0))
        roles.append(dict(id=ids.take(), name="emptyperms", scope="Application",
                          permissions=" , ,", disabled=0))
        roles.append(dict(id=ids.take(), name="nulldisabled", scope="Admin",
                          permissions="user:read,user:write", disabled=None))
        self.role_ids = [r["id"] for r in roles]
        self.ghost_roles = [ids.take(0) for _ in range(2)]

    def _domains(self, rng):
        self.developer_ids = sorted({rng.randrange(1, 60) for _ in range(6)} | {BIG + 77})
        names = ["com.example.app%d", "io.vendor-%d.tool", "net.x_%d.mini", "cn.shop%d"]
        apps = set()
        while len(apps) < 9:
            apps.add(rng.choice(names) % rng.randrange(1, 500))
        self.app_ids = sorted(apps)
        owners = rng.sample(self.user_ids, len(self.developer_ids))
        self.rows.developers = [(d, "Developer %d" % d, o)
                                for d, o in zip(self.developer_ids, owners)]
        self.rows.applications = [(a, rng.choice(self.developer_ids)) for a in self.app_ids[:-1]]
        # the last app id has bindings but no mpbackend_application row

    def _role_for(self, rng, kind, wrong_share):
        """A role id for a binding of kind: usually of the matching scope."""
        roles = self.rows["mpbackend_role"]
        scope = KINDS[kind][1]
        x = rng.random()
        if x < wrong_share:
            pool = [r["id"] for r in roles if r["scope"] != scope]
        elif x < wrong_share + 0.02:
            return rng.choice(self.ghost_roles)
        else:
            pool = [r["id"] for r in roles if r["scope"] == scope]
        return rng.choice(pool)

    def _user_for(self, rng):
        return rng.choice(self.ghost_users) if rng.random() < 0.03 else rng.choice(self.user_ids)

    def _bindings(self, rng):
        ids = IdPool(rng)
        admin = self.rows["mpbackend_admin_user_role_binding"]
        for _ in range(18):
            admin.append(dict(id=ids.take(), user_id=self._user_for(rng),
                              role_id=self._role_for(rng, "admin", 0.15),
                              disabled=1 if rng.random() < 0.1 else 0))
        # No unique key on this table: the same (user, role) twice.
        twin = dict(admin[0])
        twin["id"], twin["disabled"] = ids.take(), 0
        admin.append(twin)
        admin[0]["disabled"] = 0
        ids = IdPool(rng)
        dev = self.rows["mpbackend_developer_user_role_binding"]
        seen = set()
        for _ in range(140):
            key = (self._user_for(rng), self._role_for(rng, "developer", 0.1),
                   rng.choice(self.developer_ids))
            if key in seen:   # unique (user_id, role_id, developer_id)
                continue
            seen.add(key)
            dev.append(dict(id=ids.take(), user_id=key[0], role_id=key[1], developer_id=key[2],
                            disabled=1 if rng.random() < 0.08 else (None if rng.random() < 0.02
                                                                     else 0)))
        ids = IdPool(rng)
        app = self.rows["mpbackend_application_user_role_binding"]
        seen = set()
        for _ in range(170):
            key = (rng.choice(self.app_ids), self._user_for(rng),
                   self._role_for(rng, "application", 0.1))
            if key in seen:   # unique (application_id, user_id, role_id)
                continue
            seen.add(key)
            app.append(dict(id=ids.take(), application_id=key[0], user_id=key[1], role_id=key[2],
                            disabled=1 if rng.random() < 0.08 else 0))
        for t in (admin, dev, app):
            rng.shuffle(t)

    def _logins(self, rng):
        ids = IdPool(rng)
        logins = self.rows["mpbackend_account_login_method"]
        shared = ["shared-%d-%d" % (self.seed, k) for k in range(4)]
        for uid in self.user_ids + self.ghost_users[:1]:
            for _ in range(rng.choice([0, 1, 1, 1, 2])):
                provider = rng.choice(PROVIDERS)
                if rng.random() < 0.1:
                    key = rng.choice(shared)   # several methods, several users
                elif provider == "email":
                    key = "u%d@example.com" % uid
                elif provider == "okta":
                    key = "00u%08x" % (uid * 2654435761 % (1 << 32))
                else:
                    key = "bnc-%d" % (uid * 7 + 3)
                logins.append(dict(id=ids.take(0.05), user_id=uid, provider_key=key,
                                   login_provider=provider,
                                   disabled=1 if rng.random() < 0.08 else 0))
        logins.append(dict(id=ids.take(0), user_id=self.user_ids[0], provider_key=None,
                           login_provider="okta", disabled=0))
        rng.shuffle(logins)

    def _flags(self, rng):
        ids = IdPool(rng)
        flags = self.rows["mpbackend_application_permission_flag"]
        for k in range(12):
            name = FLAG_NAMES[k] if k < len(FLAG_NAMES) else rng.choice(FLAG_NAMES)  # repeats
            args = rng.sample(FLAG_ARGS, rng.randint(0, 3))
            flags.append(dict(id=ids.take(0.2), name=name,
                              arguments=json.dumps(args, separators=(",", ":"))))
        flag_ids = [f["id"] for f in flags]
        ghost_flag = ids.take(0)
        bind_ids = IdPool(rng)
        fb = self.rows["mpbackend_application_permission_flag_binding"]
        for app in self.app_ids + ["com.orphan.app"]:
            for fid in rng.sample(flag_ids, rng.randint(0, 5)):
                fb.append(dict(id=bind_ids.take(0.05), application_id=app, permission_flag_id=fid))
        fb.append(dict(id=bind_ids.take(0), application_id=self.app_ids[0],
                       permission_flag_id=ghost_flag))
        rng.shuffle(fb)

    def _sessions(self, rng):
        ids = IdPool(rng)
        sessions = self.rows["mpbackend_user_session_token"]
        self.tokens = []
        for k, uid in enumerate(rng.sample(self.user_ids, 30) + self.ghost_users[:1]):
            legacy = k % 3 != 0
            if legacy:
                # lowercase only: the unique key is case-insensitive
                token = "legacy-%d-%s" % (self.seed, "".join(
                    rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24)))
                stored = token
            else:
                token = base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()
                stored = token_hash(token)
            x = rng.random()
            expired_ms = PAST_MS + rng.randrange(0, 86400000 * 1000, 1000) if x < 0.15 \
                else FUTURE_MS - rng.randrange(0, 86400000 * 300, 1000)
            disabled = 1 if 0.15 <= x < 0.25 else (None if k == 1 else 0)
            sessions.append(dict(id=ids.take(0.05), session_token=stored, user_id=uid,
                                 expired_ms=expired_ms, created_ms=CREATED_MS + k * 1000,
                                 disabled=disabled))
            self.tokens.append(token)

    def write(self, db):
        self.rows.write(db)


# ---------------------------------------------------------------------------------------
# The reference model: SPEC §4 over the rows
# ---------------------------------------------------------------------------------------


class Model:
    """Answers every read from the rows. .bound is the set of (domain, user, role) of
    the bindings that exist (disabled <> 1), whether or not they count; bind() and
    unbind() change it as BIND/UNBIND must, and return the reply they must give."""

    def __init__(self, rows, now=None):
        self.now = now_ms() if now is None else now
        self.users = {u["id"] for u in rows["mpbackend_user"] if exists(u)}
        self.roles = {r["id"]: r for r in rows["mpbackend_role"] if exists(r)}
        self.role_perms = {rid: split_permissions(r["permissions"])
                           for rid, r in self.roles.items()}
        self.bound = set()
        for kind, (table, _, _) in KINDS.items():
            for b in rows[table]:
                if exists(b):
                    self.bound.add((domain_of(kind, b), b["user_id"], b["role_id"]))
        self.logins = sorted((m for m in rows["mpbackend_account_login_method"] if exists(m)),
                             key=lambda m: m["id"])
        self.flags = {f["id"]: f for f in rows["mpbackend_application_permission_flag"]}
        self.flag_bindings = rows["mpbackend_application_permission_flag_binding"]
        self.sessions = {s["session_token"]: s for s in rows["mpbackend_user_session_token"]}
        self._index = None

    # ---- role bindings ----
    def counts(self, domain, user, role):
        r = self.roles.get(role)
        kind = kind_of(domain)
        return (user in self.users and r is not None and kind is not None
                and r["scope"] == KINDS[kind][1])

    def index(self):
        """(domain, user) -> set of roles that count."""
        if self._index is None:
            idx = {}
            for (d, u, r) in self.bound:
                if self.counts(d, u, r):
                    idx.setdefault((d, u), set()).add(r)
            self._index = idx
        return self._index

    def perms(self, domain, user):
        out = set()
        for r in self.index().get((domain, user), ()):
            out |= self.role_perms[r]
        return sorted(out)

    def can(self, domain, user, permission):
        return 1 if permission in self.perms(domain, user) else 0

    def domains(self, user):
        return sorted({d for (d, u) in self.index() if u == user})

    def domain_list(self):
        """Every domain some binding names, sorted."""
        return sorted({d for (d, _, _) in self.bound})

    def bind(self, domain, user, role):
        """The reply BIND must give (1, 0, or 'error'); updates .bound."""
        kind = kind_of(domain)
        r = self.roles.get(role)
        if kind is None or r is None or r["scope"] != KINDS[kind][1]:
            return "error"
        key = (domain, user, role)
        if key in self.bound:
            return 0
        self.bound.add(key)
        self._index = None
        return 1

    def unbind(self, domain, user, role):
        kind = kind_of(domain)
        r = self.roles.get(role)
        if kind is None or r is None or r["scope"] != KINDS[kind][1]:
            return "error"
        key = (domain, user, role)
        if key not in self.bound:
            return 0
        self.bound.discard(key)
        self._index = None
        return 1

    # ---- login methods, flags ----
    def userbylogin(self, provider, key):
        for m in self.logins:
            if (m["login_provider"] == provider and m["provider_key"] == key
                    and m["user_id"] in self.users):
                return m["user_id"]
        return None

    def appflags(self, app):
        fids = {b["permission_flag_id"] for b in self.flag_bindings
                if b["application_id"] == app and b["permission_flag_id"] in self.flags}
        flags = sorted((self.flags[f] for f in fids), key=lambda f: (f["name"].encode(), f["id"]))
        return [[f["name"], f["arguments"]] for f in flags]

    def app_list(self):
        return sorted({b["application_id"] for b in self.flag_bindings})

    # ---- sessions ----
    def session_row(self, token):
        """The row a presented token names (live or not), or None."""
        row = self.sessions.get(token_hash(token))
        if row is None:
            row = self.sessions.get(token)
            if row is not None and row["session_token"].startswith("h1:"):
                row = None
        return row

    def session(self, token):
        """[0, user, created_ms, expires_ms] for a live session, else None."""
        s = self.session_row(token)
        if (s is None or not exists(s) or s["expired_ms"] <= self.now
                or s["user_id"] not in self.users):
            return None
        return [0, s["user_id"], s["created_ms"], s["expired_ms"]]

    def live_sessions_of(self, user):
        return [s for s in self.sessions.values() if exists(s) and s["user_id"] == user
                and s["expired_ms"] > self.now and user in self.users]

    # ---- a command, as the demo README writes it ----
    def answer(self, cmd):
        """The reply to one command (list of strings): an int, a list, None, or
        ('error', PREFIX)."""
        name = cmd[0].upper()
        if name == "CAN":
            return self.can(cmd[1], int(cmd[2]), cmd[3])
        if name == "PERMS":
            return self.perms(cmd[1], int(cmd[2]))
        if name == "DOMAINS":
            return self.domains(int(cmd[1]))
        if name == "USERBYLOGIN":
            return self.userbylogin(cmd[1], cmd[2])
        if name == "APPFLAGS":
            return self.appflags(cmd[1])
        if name == "SESSION" and cmd[1].upper() == "GET":
            return self.session(cmd[2])
        if name == "SESSION" and cmd[1].upper() == "CAN":
            s = self.session(cmd[2])
            if s is None:
                return ("error", "NOSESSION")
            return self.can(cmd[3], s[1], cmd[4])
        raise ValueError("the model does not answer %r" % (cmd,))


# ---------------------------------------------------------------------------------------
# External changes: SQL other programs might run
# ---------------------------------------------------------------------------------------


class Mutator:
    """Random INSERT/UPDATE/DELETE statements on the cached tables, from the current
    rows. run() executes them; a statement refused by a unique key is skipped (and
    counted), anything else is an error."""

    def __init__(self, seed, rows, world):
        self.rng = random.Random(seed * 7919 + 1)
        self.rows = rows
        self.w = world
        self.stmts = []
        self.skipped = 0

    def add(self, sql, *args):
        self.stmts.append((sql, args))

    def fresh_id(self, table, big=False):
        used = {r["id"] for r in self.rows[table]}
        while True:
            v = (BIG + self.rng.randrange(1 << 24)) if big else self.rng.randrange(50000, 90000)
            if v not in used:
                return v

    def build(self):
        rng, rows, w = self.rng, self.rows, self.w
        live_users = [u["id"] for u in rows["mpbackend_user"] if exists(u)]
        roles = rows["mpbackend_role"]
        for kind, (table, scope, extra) in KINDS.items():
            bs = rows[table]
            if not bs:
                continue
            # new bindings, one with the wrong scope, one disabled
            for k in range(4):
                want = scope if k != 1 else rng.choice([s for s in ("Admin", "Developer",
                                                                    "Application") if s != scope])
                rid = rng.choice([r["id"] for r in roles if r["scope"] == want])
                cols, vals = ["id", "user_id", "role_id", "disabled"], [
                    self.fresh_id(table, big=(k == 0)), rng.choice(live_users), rid,
                    1 if k == 2 else 0]
                if extra == "developer_id":
                    cols.append(extra)
                    vals.append(rng.choice(w.developer_ids))
                elif extra == "application_id":
                    cols.append(extra)
                    vals.append(rng.choice(w.app_ids + ["com.new.app%d" % k]))
                self.add("INSERT INTO %s (%s) VALUES (%s)"
                         % (table, ", ".join(cols), ", ".join(["%s"] * len(vals))), *vals)
            picks = rng.sample(bs, min(len(bs), 8))
            self.add("UPDATE %s SET disabled = 1, disabled_at = NOW() WHERE id = %%s" % table,
                     picks[0]["id"])
            self.add("UPDATE %s SET disabled = 0, disabled_at = NULL WHERE id = %%s" % table,
                     next((b["id"] for b in bs if b["disabled"] == 1), picks[1]["id"]))
            # an owner move: the binding goes to another user
            self.add("UPDATE %s SET user_id = %%s WHERE id = %%s" % table,
                     rng.choice(live_users), picks[2]["id"])
            self.add("UPDATE %s SET role_id = %%s WHERE id = %%s" % table,
                     rng.choice([r["id"] for r in roles if r["scope"] == scope]), picks[3]["id"])
            if extra == "developer_id":
                self.add("UPDATE %s SET developer_id = %%s WHERE id = %%s" % table,
                         rng.choice(w.developer_ids), picks[4]["id"])
            elif extra == "application_id":
                self.add("UPDATE %s SET application_id = %%s WHERE id = %%s" % table,
                         rng.choice(w.app_ids), picks[4]["id"])
            self.add("DELETE FROM %s WHERE id = %%s" % table, picks[5]["id"])
            self.add("UPDATE %s SET id = %%s WHERE id = %%s" % table,
                     self.fresh_id(table), picks[6]["id"])
        # roles: new permission lists, scope changes, disable, enable, delete, id change, new
        rp = rng.sample(roles, 8)
        for r in rp[:3]:
            names = rng.sample(w.permissions, rng.randint(0, 6))
            self.add("UPDATE mpbackend_role SET permissions = %s WHERE id = %s",
                     messy_permissions(rng, names), r["id"])
        self.add("UPDATE mpbackend_role SET scope = %s WHERE id = %s",
                 rng.choice(["Admin", "Developer", "Application"]), rp[3]["id"])
        self.add("UPDATE mpbackend_role SET disabled = 1 WHERE id = %s", rp[4]["id"])
        self.add("UPDATE mpbackend_role SET disabled = 0 WHERE id = %s",
                 next((r["id"] for r in roles if r["disabled"] == 1), rp[5]["id"]))
        self.add("DELETE FROM mpbackend_role WHERE id = %s", rp[6]["id"])
        self.add("UPDATE mpbackend_role SET id = %s WHERE id = %s",
                 self.fresh_id("mpbackend_role", big=True), rp[7]["id"])
        new_role = self.fresh_id("mpbackend_role", big=True)
        self.add("INSERT INTO mpbackend_role (id, name, permissions, scope)"
                 " VALUES (%s, %s, %s, %s)",
                 new_role, "fresh", messy_permissions(rng, rng.sample(w.permissions, 4)),
                 "Application")
        new_user = self.fresh_id("mpbackend_user", big=True)
        self.add("INSERT INTO mpbackend_user (id, email) VALUES (%s, %s)",
                 new_user, "new@example.com")
        self.add("INSERT INTO mpbackend_application_user_role_binding"
                 " (user_id, role_id, application_id) VALUES (%s, %s, %s)",
                 new_user, new_role, w.app_ids[0])
        # users: disable, enable, delete, an id change
        up = rng.sample(rows["mpbackend_user"], 5)
        self.add("UPDATE mpbackend_user SET disabled = 1 WHERE id = %s", up[0]["id"])
        self.add("UPDATE mpbackend_user SET disabled = 0 WHERE id = %s",
                 next((u["id"] for u in rows["mpbackend_user"] if u["disabled"] == 1),
                      up[1]["id"]))
        self.add("DELETE FROM mpbackend_user WHERE id = %s", up[2]["id"])
        self.add("UPDATE mpbackend_user SET id = %s WHERE id = %s",
                 self.fresh_id("mpbackend_user"), up[3]["id"])
        # login methods
        lm = rng.sample(rows["mpbackend_account_login_method"], 4)
        self.add("UPDATE mpbackend_account_login_method SET disabled = 1 WHERE id = %s",
                 lm[0]["id"])
        self.add("UPDATE mpbackend_account_login_method SET provider_key = %s WHERE id = %s",
                 "changed-%d" % lm[1]["id"], lm[1]["id"])
        self.add("UPDATE mpbackend_account_login_method SET user_id = %s WHERE id = %s",
                 rng.choice(live_users), lm[2]["id"])
        self.add("DELETE FROM mpbackend_account_login_method WHERE id = %s", lm[3]["id"])
        # the lowest id for a shared key, held by a new user
        self.add("INSERT INTO mpbackend_account_login_method"
                 " (id, user_id, provider_key, login_provider) VALUES (%s, %s, %s, 'okta')",
                 1, new_user, "shared-%d-0" % w.seed)
        # flags and their bindings
        fl = rng.sample(rows["mpbackend_application_permission_flag"], 3)
        self.add("UPDATE mpbackend_application_permission_flag SET name = %s WHERE id = %s",
                 "renamed", fl[0]["id"])
        self.add("UPDATE mpbackend_application_permission_flag SET arguments = %s WHERE id = %s",
                 '["changed"]', fl[1]["id"])
        self.add("DELETE FROM mpbackend_application_permission_flag WHERE id = %s", fl[2]["id"])
        nf = self.fresh_id("mpbackend_application_permission_flag")
        self.add("INSERT INTO mpbackend_application_permission_flag (id, name, arguments)"
                 " VALUES (%s, 'aaa-first', '[\"x\"]')", nf)
        fbs = rows["mpbackend_application_permission_flag_binding"]
        self.add("INSERT INTO mpbackend_application_permission_flag_binding"
                 " (application_id, permission_flag_id) VALUES (%s, %s)", w.app_ids[1], nf)
        if fbs:
            fb = rng.sample(fbs, min(2, len(fbs)))
            self.add("DELETE FROM mpbackend_application_permission_flag_binding WHERE id = %s",
                     fb[0]["id"])
            if len(fb) > 1:
                self.add("UPDATE mpbackend_application_permission_flag_binding"
                         " SET application_id = %s WHERE id = %s", "com.moved.app", fb[1]["id"])
        # sessions: a new legacy row, one disabled, one expired, one moved to another user
        live_sessions = [s for s in rows["mpbackend_user_session_token"]
                         if exists(s) and s["expired_ms"] > now_ms()]
        tok = "legacy-new-%d-%d" % (w.seed, rng.randrange(1 << 30))
        w.tokens.append(tok)
        self.add("INSERT INTO mpbackend_user_session_token (session_token, user_id, expired_at,"
                 " create_time, db_create_time) VALUES (%s, %s, %s, %s, %s)", tok,
                 rng.choice(live_users), ms_to_sql(FUTURE_MS), ms_to_sql(CREATED_MS),
                 ms_to_sql(CREATED_MS))
        if len(live_sessions) >= 3:
            ls = rng.sample(live_sessions, 3)
            self.add("UPDATE mpbackend_user_session_token SET disabled = 1 WHERE id = %s",
                     ls[0]["id"])
            self.add("UPDATE mpbackend_user_session_token SET expired_at = %s WHERE id = %s",
                     ms_to_sql(PAST_MS), ls[1]["id"])
            self.add("UPDATE mpbackend_user_session_token SET user_id = %s WHERE id = %s",
                     rng.choice(live_users), ls[2]["id"])
        return self

    def run(self, db):
        db.sql("SET time_zone = '+00:00'")
        for sql, args in self.stmts:
            try:
                db.sql(sql, args)
            except pymysql.err.IntegrityError:
                self.skipped += 1
        return len(self.stmts) - self.skipped


# ---------------------------------------------------------------------------------------
# BIND / UNBIND: the operations and what they must do
# ---------------------------------------------------------------------------------------


def bind_ops(seed, model, rows, world):
    """A list of (command, domain, user, role): new bindings, existing ones, removals,
    a disabled row brought back, the admin duplicate removed, and errors."""
    rng = random.Random(seed * 104729 + 3)
    users = sorted(model.users)
    by_scope = {}
    for rid, r in model.roles.items():
        by_scope.setdefault(r["scope"], []).append(rid)
    for v in by_scope.values():
        v.sort()

    def domain(kind):
        if kind == "admin":
            return "admin"
        if kind == "developer":
            return "developer:%d" % rng.choice(world.developer_ids + [4242])
        return "application:%s" % rng.choice(world.app_ids + ["com.bound.new"])

    ops = []
    for _ in range(12):
        kind = rng.choice(list(KINDS))
        pool = by_scope.get(KINDS[kind][1])
        if pool:
            ops.append(("BIND", domain(kind), rng.choice(users), rng.choice(pool)))
    counting = sorted((d, u, r) for (d, u, r) in model.bound if model.counts(d, u, r))
    for t in rng.sample(counting, min(5, len(counting))):
        ops.append(("BIND", *t))       # already so
    for t in rng.sample(counting, min(8, len(counting))):
        ops.append(("UNBIND", *t))
    for _ in range(3):
        kind = rng.choice(list(KINDS))
        pool = by_scope.get(KINDS[kind][1])
        if pool:
            ops.append(("UNBIND", domain(kind), rng.choice(users), rng.choice(pool)))
    # a disabled binding row of a live user and live matching role: BIND brings it back
    for kind, (table, scope, _) in KINDS.items():
        for b in rows[table]:
            r = model.roles.get(b["role_id"])
            if (b["disabled"] == 1 and b["user_id"] in model.users and r
                    and r["scope"] == scope):
                ops.append(("BIND", domain_of(kind, b), b["user_id"], b["role_id"]))
                break
    # the admin binding that exists twice: one UNBIND removes the user's role
    seen = {}
    for b in rows["mpbackend_admin_user_role_binding"]:
        if exists(b):
            k = (b["user_id"], b["role_id"])
            seen[k] = seen.get(k, 0) + 1
    for (u, r), n in sorted(seen.items()):
        if n > 1 and model.counts("admin", u, r):
            ops.append(("UNBIND", "admin", u, r))
            break
    # errors: a role of another scope, a domain that names no binding table
    for kind in KINDS:
        other = [rid for s, v in by_scope.items() if s != KINDS[kind][1] for rid in v]
        if other:
            ops.append((rng.choice(["BIND", "UNBIND"]), domain(kind), rng.choice(users),
                        rng.choice(other)))
    any_role = by_scope.get("Admin", [0])[0]
    ops.append(("BIND", "tenant:1", users[0], any_role))
    ops.append(("BIND", "developer:abc", users[0], any_role))
    rng.shuffle(ops)
    # a binding made and unmade, and unmade and made
    if by_scope.get("Developer"):
        t = ("developer:%d" % world.developer_ids[0], users[-1], by_scope["Developer"][0])
        ops += [("BIND",) + t, ("UNBIND",) + t, ("UNBIND",) + t, ("BIND",) + t]
    return ops


def apply_ops_sql(db, ops, model):
    """What BIND/UNBIND must leave in the tables, done with plain SQL: the self-check
    applies it and compares the model's prediction with the rows read back."""
    for op, domain, user, role in ops:
        kind = kind_of(domain)
        r = model.roles.get(role)
        if kind is None or r is None or r["scope"] != KINDS[kind][1]:
            continue
        table, _, extra = KINDS[kind]
        where, args = "user_id = %s AND role_id = %s", [user, role]
        if extra:
            where += " AND %s = %%s" % extra
            args.append(int(domain.split(":", 1)[1]) if extra == "developer_id"
                        else domain.split(":", 1)[1])
        if op == "UNBIND":
            db.sql("DELETE FROM %s WHERE %s AND (disabled IS NULL OR disabled <> 1)"
                   % (table, where), args)
            continue
        if db.sql("SELECT 1 FROM %s WHERE %s AND (disabled IS NULL OR disabled <> 1)"
                  % (table, where), args):
            continue
        if db.sql("SELECT 1 FROM %s WHERE %s" % (table, where), args):
            db.sql("UPDATE %s SET disabled = 0, disabled_at = NULL WHERE %s" % (table, where),
                   args)
            continue
        cols = ["user_id", "role_id"] + ([extra] if extra else [])
        db.sql("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols),
                                                    ", ".join(["%s"] * len(cols))), args)


# ---------------------------------------------------------------------------------------
# The demo README's answers
# ---------------------------------------------------------------------------------------

README = os.path.join("schema", "mpbackend", "demo", "README.md")
README_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]*)`\s*\|")


def readme_cases():
    """[(command words, expected answer)] from the demo README's "Try it" table: the
    answer is a JSON value, nil (None) or ('error', PREFIX)."""
    path = os.path.join(source_dir(), README)
    cases = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = README_ROW.match(line)
            if not m or not m.group(1).split()[0].isupper():
                continue
            cmd, ans = m.group(1).split(), m.group(2)
            if ans == "nil":
                want = None
            elif ans.startswith("(error) "):
                want = ("error", ans.split()[1])
            else:
                want = json.loads(ans)
            cases.append((cmd, want))
    return cases


def normalize(got, want):
    """A server reply (redis-py, decoded) in the shape of the expected answer: digit
    strings become ints where an int is expected; an error becomes ('error', PREFIX)."""
    if isinstance(got, Exception):
        return ("error", str(got).split()[0] if str(got) else "")
    if isinstance(want, int) and not isinstance(want, bool):
        return norm_int(got)
    if isinstance(want, list) and isinstance(got, list):
        if len(want) == len(got):
            return [normalize(g, w) for g, w in zip(got, want)]
        return [norm_int(g) if isinstance(g, str) and g.isdigit() else g for g in got]
    return got


def ask(r, cmd):
    try:
        return r.execute_command(*cmd)
    except redis.ResponseError as e:
        return e


# ---------------------------------------------------------------------------------------
# Comparing a server with the model
# ---------------------------------------------------------------------------------------


class Checker:
    """Sends one phase's reads to one server and collects every disagreement."""

    def __init__(self, label, model, world, srv):
        self.label = label
        self.m = model
        self.w = world
        self.srv = srv
        self.mismatches = []
        self.counts = {}
        self.zrng = random.Random(zlib.crc32(label.encode()))

    def bad(self, cmd, expected, got):
        line = "%s: %s: expected %s, got %s" % (self.label, " ".join(map(str, cmd)), expected, got)
        self.mismatches.append(line if len(line) < 3000 else line[:3000] + " ...")

    def count(self, kind, n):
        self.counts[kind] = self.counts.get(kind, 0) + n

    def users(self):
        ids = {u for (_, u, _) in self.m.bound} | self.m.users
        return sorted(ids) + [UNKNOWN_USER]

    def domains(self):
        return self.m.domain_list() + list(UNKNOWN_DOMAINS)

    def run(self):
        with self.srv.raw_connection(timeout=60) as conn:
            pipe = Pipe(conn)
            self.check_can(pipe)
            self.check_why(pipe)
        self.check_arrays()
        self.check_sessions()
        return self.mismatches

    def check_can(self, pipe):
        perms = self.w.permissions + [UNKNOWN_PERMISSION]
        enc = Encoder()
        head = b"*4\r\n" + enc.arg("CAN")
        packed, expect = [], []
        for d in self.domains():
            de = enc.arg(d)
            for u in self.users():
                have = set(self.m.perms(d, u))
                us = ("00" + str(u)) if self.zrng.random() < 0.05 else str(u)
                prefix = head + de + enc.arg(us)
                packed += [prefix + enc.arg(p) for p in perms]
                expect += [b":1" if p in have else b":0" for p in perms]
        got = pipe.run_lines(packed)
        self.count("CAN", len(packed))
        if got != expect:
            for k, (e, g) in enumerate(zip(expect, got)):
                if g != e:
                    args = [x.decode() for x in packed[k].split(b"\r\n")[2::2]]
                    self.bad(args, e.decode(), g.decode(errors="replace"))

    def check_why(self, pipe):
        """WHY's verdict must be CAN's: every permission where the user holds a role,
        one random permission elsewhere."""
        cmds, packed, expect = [], [], []
        for d in self.domains():
            for u in self.users():
                have = self.m.perms(d, u)
                chosen = (self.w.permissions if have
                          else [self.zrng.choice(self.w.permissions)])
                for p in chosen:
                    cmd = ("WHY", d, str(u), p)
                    cmds.append(cmd)
                    packed.append(pack(cmd))
                    expect.append("allow" if p in have else "deny")
        got = pipe.run(packed)
        self.count("WHY", len(cmds))
        for cmd, e, g in zip(cmds, expect, got):
            ok = (isinstance(g, list) and g and all(isinstance(x, bytes) for x in g))
            first = g[0].decode(errors="replace") if ok else None
            if first != e:
                self.bad(cmd, "[%r, ...] (bulk strings)" % e, show(g))

    def login_queries(self):
        keys = {(m["login_provider"], m["provider_key"]) for m in self.m.logins
                if m["provider_key"] is not None}
        extra = set()
        for (p, k) in keys:
            extra.add((PROVIDERS[(PROVIDERS.index(p) + 1) % 3], k))   # another provider
        extra.add(("email", "nobody@example.com"))
        return sorted(keys | extra)

    def check_arrays(self):
        r = self.srv.client(socket_timeout=60)
        cmds, expect = [], []
        for d in self.domains():
            for u in self.users():
                cmds.append(("PERMS", d, str(u)))
                expect.append(self.m.perms(d, u))
        for u in self.users():
            cmds.append(("DOMAINS", str(u)))
            expect.append(self.m.domains(u))
        for p, k in self.login_queries():
            cmds.append(("USERBYLOGIN", p, k))
            expect.append(self.m.userbylogin(p, k))
        for a in self.m.app_list() + ["com.no.flags"]:
            cmds.append(("APPFLAGS", a))
            expect.append(self.m.appflags(a))
        got = []
        try:
            for i in range(0, len(cmds), PY_BATCH):
                p = r.pipeline(transaction=False)
                for cmd in cmds[i:i + PY_BATCH]:
                    p.execute_command(*cmd)
                got += p.execute(raise_on_error=False)
            dbsize = ask(r, ("DBSIZE",))
        finally:
            close_client(r)
        for cmd, e, g in zip(cmds, expect, got):
            self.count(cmd[0], 1)
            if isinstance(g, Exception):
                self.bad(cmd, e, "(error) %s" % g)
            elif cmd[0] in ("PERMS", "DOMAINS"):
                if not isinstance(g, list) or g != e:
                    self.bad(cmd, e, g)
            elif normalize(g, e if e is not None else 0) != e:
                self.bad(cmd, e, g)
        if norm_int(dbsize) != len(self.m.users):
            self.bad(("DBSIZE",), len(self.m.users), dbsize)

    def session_queries(self):
        """(token, expected GET reply) for every token of the world, the stored values
        of rbacd's rows (not tokens), legacy tokens in another case, an unknown token."""
        out = [(t, self.m.session(t)) for t in self.w.tokens]
        for s in self.m.sessions.values():
            if s["session_token"].startswith("h1:"):
                out.append((s["session_token"], None))
        for t in self.w.tokens:
            if t.startswith("legacy-") and self.m.session(t):
                out.append((t.upper(), None))
                break
        out.append(("no-such-token", None))
        return out

    def check_sessions(self):
        r = self.srv.client(socket_timeout=60)
        try:
            for token, want in self.session_queries():
                got = ask(r, ("SESSION", "GET", token))
                self.count("SESSION GET", 1)
                if normalize(got, want) != want:
                    self.bad(("SESSION", "GET", token), want, got)
                # SESSION CAN: up to three of the user's domains, two permissions held
                # there and four at random; a dead token: -NOSESSION whatever is asked.
                s = self.m.session(token)
                user = s[1] if s else 0
                for d in (self.m.domains(user) or ["admin"])[:3]:
                    perms = self.zrng.sample(self.w.permissions, 4) + self.m.perms(d, user)[:2]
                    for p in perms:
                        cmd = ("SESSION", "CAN", token, d, p)
                        want_can = self.m.answer(list(cmd))
                        got = ask(r, cmd)
                        self.count("SESSION CAN", 1)
                        if normalize(got, want_can) != want_can:
                            self.bad(cmd, want_can, got)
        finally:
            close_client(r)


def report(label, mismatches, failures):
    for line in mismatches[:MAX_REPORT]:
        print("  MISMATCH " + line, flush=True)
    if len(mismatches) > MAX_REPORT:
        print("  ... and %d more" % (len(mismatches) - MAX_REPORT), flush=True)
    if mismatches:
        failures.append("%s: %d mismatches, first: %s" % (label, len(mismatches), mismatches[0]))


# ---------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------


def max_change(db):
    return int(db.sql("SELECT COALESCE(MAX(id), 0) FROM rbac_change")[0][0])


def wait_applied(servers, rev, what):
    """WAITREV rev on every server; AssertionError naming the laggard."""
    for s in servers:
        r = s.admin_client()
        try:
            got = r.execute_command("WAITREV", rev, SYNC_TIMEOUT_MS)
        finally:
            close_client(r)
        if got != 1:
            raise AssertionError("%s: server on port %d did not apply revision %d within %d ms"
                                 " (WAITREV -> %r)" % (what, s.port, rev, SYNC_TIMEOUT_MS, got))


def compare(label, model, world, servers, failures):
    for name, srv in zip(("A", "B"), servers):
        t0 = time.monotonic()
        checker = Checker("%s, server %s" % (label, name), model, world, srv)
        bad = checker.run()
        print("%s, server %s: %d comparisons [%s] in %.1fs; %d mismatches" %
              (label, name, sum(checker.counts.values()),
               ", ".join("%s %d" % kv for kv in sorted(checker.counts.items())),
               time.monotonic() - t0, len(bad)), flush=True)
        report("%s, server %s" % (label, name), bad, failures)


def diff_bound(label, predicted, actual, failures):
    """The bindings the model predicts vs those the database holds."""
    missing = sorted(predicted - actual)
    extra = sorted(actual - predicted)
    if missing or extra:
        line = ("%s: bindings in the database differ from the prediction: missing %s, "
                "unexpected %s" % (label, missing[:10], extra[:10]))
        print("  MISMATCH " + line, flush=True)
        failures.append(line)


class DifferentialTest(unittest.TestCase):
    """The server against the model (needs rbacd --profile mpbackend)."""

    def test_seeds_against_model(self):
        failures = []
        with scratch_db("mpdiff", demo=False, profile="mpbackend") as db:
            servers = []
            try:
                for seed in SEEDS:
                    self.run_seed(seed, db, servers, failures)
                for s in servers:
                    s.stop()
            finally:
                for s in servers:
                    s._kill()
                    s.cleanup()
        if failures:
            self.fail("server disagrees with the model:\n" + "\n".join(failures[:50]))

    def run_seed(self, seed, db, servers, failures):
        world = World(seed)
        world.write(db)
        if not servers:
            for _ in range(2):
                servers.append(RbacdServer(db=db, args=SERVER_ARGS).start())
            how = "initial load"
        else:
            for s in servers:
                r = s.admin_client()
                try:
                    self.assertEqual(r.execute_command("RELOAD"), "OK")
                finally:
                    close_client(r)
            how = "RELOAD"
        wait_applied(servers, max_change(db), "seed %d, %s" % (seed, how))
        compare("seed %d (%s)" % (seed, how), Model(Rows.from_db(db)), world, servers, failures)

        # External SQL changes, applied by both through the change log.
        mut = Mutator(seed, Rows.from_db(db), world).build()
        n = mut.run(db)
        wait_applied(servers, max_change(db), "seed %d, after SQL changes" % seed)
        compare("seed %d (after %d SQL changes, %d skipped)" % (seed, n, mut.skipped),
                Model(Rows.from_db(db)), world, servers, failures)

        # BIND/UNBIND on A, seen by B.
        rows = Rows.from_db(db)
        predicted = Model(rows)
        ops = bind_ops(seed, predicted, rows, world)
        a, b = servers
        ra = a.admin_client()
        try:
            for op, domain, user, role in ops:
                want = getattr(predicted, op.lower())(domain, user, role)
                got = ask(ra, (op, domain, str(user), str(role)))
                ok = (isinstance(got, Exception) if want == "error"
                      else not isinstance(got, Exception) and norm_int(got) == want)
                if not ok:
                    failures.append("seed %d: %s %s %d %d: expected %s, got %r" %
                                    (seed, op, domain, user, role,
                                     "an error" if want == "error" else ":%d" % want, got))
                    print("  MISMATCH " + failures[-1], flush=True)
            rev = ra.execute_command("REVISION")
        finally:
            close_client(ra)
        wait_applied([b], rev, "seed %d, after BIND/UNBIND on A" % seed)
        diff_bound("seed %d, BIND/UNBIND written through" % seed, predicted.bound,
                   Model(Rows.from_db(db)).bound, failures)
        compare("seed %d (after %d BIND/UNBIND on A)" % (seed, len(ops)), predicted, world,
                servers, failures)

        self.sessions_written_through(seed, db, world, servers, failures)
        for s in servers:
            self.assertTrue(s.running(), "rbacd died during seed %d\n%s" % (seed, s.diagnostics()))

    def sessions_written_through(self, seed, db, world, servers, failures):
        def fail(msg):
            failures.append("seed %d, sessions: %s" % (seed, msg))
            print("  MISMATCH " + failures[-1], flush=True)

        a, b = servers
        ra, rb = a.admin_client(), b.admin_client()
        try:
            model = Model(Rows.from_db(db))
            users = sorted(u for u in model.users if model.domains(u))[:3]
            for u in users:
                t0 = now_ms()
                token = ask(ra, ("SESSION", "CREATE", "0", str(u)))
                if not isinstance(token, str) or len(token) < 43:
                    fail("SESSION CREATE 0 %d: expected a token, got %r" % (u, token))
                    continue
                stored = db.sql("SELECT user_id FROM mpbackend_user_session_token"
                                " WHERE session_token = %s", (token_hash(token),))
                if stored != [(u,)]:
                    fail("SESSION CREATE 0 %d: no row with session_token = 'h1:' + BLAKE2b-256"
                         " hex of the token (rows: %r)" % (u, stored))
                if db.sql("SELECT 1 FROM mpbackend_user_session_token WHERE session_token = %s",
                          (token,)):
                    fail("SESSION CREATE 0 %d: the token itself is stored" % u)
                got = ask(rb, ("SESSION", "GET", token))    # read through on B
                g = normalize(got, [0, 0, 0, 0])
                if not (isinstance(g, list) and len(g) == 4 and g[:2] == [0, u]
                        and isinstance(g[2], int) and isinstance(g[3], int)
                        and t0 - 2000 <= g[2] <= now_ms() + 2000 and g[3] > now_ms()):
                    fail("SESSION GET (B) of a token A created for %d: got %r" % (u, got))
                d = model.domains(u)[0]
                for p in model.perms(d, u)[:2] + [UNKNOWN_PERMISSION]:
                    want = model.can(d, u, p)
                    got = ask(rb, ("SESSION", "CAN", token, d, p))
                    if norm_int(got) != want:
                        fail("SESSION CAN (B) %s %s for user %d: expected %d, got %r" %
                             (d, p, u, want, got))
                sid = hashlib.blake2b(token.encode(), digest_size=32).hexdigest()[:16]
                listed = ask(ra, ("SESSION", "LIST", "0", str(u)))
                if not (isinstance(listed, list) and any(
                        isinstance(e, list) and e and e[0] == sid for e in listed)):
                    fail("SESSION LIST 0 %d: no entry with id %s: %r" % (u, sid, listed))
                touched = norm_int(ask(ra, ("SESSION", "TOUCH", token, "TTL", "600")))
                if not (isinstance(touched, int) and abs(touched - (now_ms() + 600000)) < 5000):
                    fail("SESSION TOUCH ... TTL 600: expected about now + 600 s, got %r" % touched)
                if norm_int(ask(ra, ("SESSION", "REVOKE", token))) != 1:
                    fail("SESSION REVOKE of a live session did not answer 1")
                wait_applied([b], ra.execute_command("REVISION"), "after SESSION REVOKE on A")
                got = ask(rb, ("SESSION", "GET", token))
                if got is not None:
                    fail("SESSION GET (B) after REVOKE on A: expected nil, got %r" % got)
                if norm_int(ask(ra, ("SESSION", "REVOKE", token))) != 0:
                    fail("a second SESSION REVOKE did not answer 0")
            # A legacy token revoked on B is gone on A.
            model = Model(Rows.from_db(db))
            legacy = [t for t in world.tokens if t.startswith("legacy-") and model.session(t)]
            if legacy:
                t = legacy[0]
                if norm_int(ask(ra, ("SESSION", "GET", t))) is None:
                    fail("SESSION GET (A) of live legacy token %s: nil" % t)
                if norm_int(ask(rb, ("SESSION", "REVOKE", t))) != 1:
                    fail("SESSION REVOKE (B) of live legacy token %s did not answer 1" % t)
                wait_applied([a], rb.execute_command("REVISION"), "after SESSION REVOKE on B")
                if ask(ra, ("SESSION", "GET", t)) is not None:
                    fail("SESSION GET (A) of legacy token %s revoked on B: not nil" % t)
                if Model(Rows.from_db(db)).session(t) is not None:
                    fail("legacy token %s revoked, but its row is still live" % t)
            # REVOKEALL counts every live session of the user, legacy rows included.
            model = Model(Rows.from_db(db))
            for u in sorted(model.users):
                live = model.live_sessions_of(u)
                if live:
                    extra = ask(ra, ("SESSION", "CREATE", "0", str(u)))
                    want = len(live) + (1 if isinstance(extra, str) else 0)
                    got = norm_int(ask(rb, ("SESSION", "REVOKEALL", "0", str(u))))
                    if got != want:
                        fail("SESSION REVOKEALL 0 %d: expected %d, got %r" % (u, want, got))
                    wait_applied([a], rb.execute_command("REVISION"), "after REVOKEALL on B")
                    if isinstance(extra, str) and ask(ra, ("SESSION", "GET", extra)) is not None:
                        fail("SESSION GET (A) after REVOKEALL on B: not nil")
                    if Model(Rows.from_db(db)).live_sessions_of(u):
                        fail("SESSION REVOKEALL 0 %d left live rows" % u)
                    break
        finally:
            close_client(ra)
            close_client(rb)


class DemoReadmeTest(unittest.TestCase):
    """The answers of schema/mpbackend/demo/README.md: the model's, the server's."""

    def test_model_answers_readme(self):
        cases = readme_cases()
        self.assertGreater(len(cases), 40, "the README's table was not found")
        with scratch_db("mpdemo", demo=True, profile="mpbackend") as db:
            model = Model(Rows.from_db(db))
        bad = ["%s: README says %r, the model %r" % (" ".join(c), want, model.answer(c))
               for c, want in cases if model.answer(c) != want]
        self.assertEqual(bad, [], "\n".join(bad))

    def test_server_answers_readme(self):
        cases = readme_cases()
        with scratch_db("mpdemo", demo=True, profile="mpbackend") as db:
            with RbacdServer(db=db, args=SERVER_ARGS) as srv:
                r = srv.client()
                bad = []
                for cmd, want in cases:
                    got = ask(r, cmd)
                    if normalize(got, want) != want:
                        bad.append("%s: README says %r, rbacd %r" % (" ".join(cmd), want, got))
        self.assertEqual(bad, [], "\n".join(bad))


class SelfCheck(unittest.TestCase):
    """The generator, the external changes and the model, without a server."""

    def test_generated_data_applies_and_reads_back(self):
        for seed in SEEDS:
            with self.subTest(seed=seed), scratch_db("mpself", demo=False,
                                                     profile="mpbackend") as db:
                world = World(seed)
                world.write(db)
                back = Rows.from_db(db)
                for table in COLUMNS:
                    want = sorted(world.rows[table], key=lambda r: r["id"])
                    self.assertEqual(back[table], want, "%s reads back differently" % table)
                # every row left one insert row in the change log
                logged = db.sql("SELECT entity, COUNT(*) FROM rbac_change WHERE op = 'I'"
                                " GROUP BY entity")
                self.assertEqual(dict(logged), {t: len(world.rows[t]) for t in COLUMNS
                                                if world.rows[t]})
                m = Model(back)
                stats = self.world_stats(world, m)
                print("seed %d: %d rows; %s" % (seed, back.count(), stats), flush=True)

    def world_stats(self, world, m):
        """What the world exercises; each must be there."""
        counted = [(d, u, r) for (d, u, r) in m.bound if m.counts(d, u, r)]
        wrong_scope = [(d, u, r) for (d, u, r) in m.bound
                       if r in m.roles and u in m.users and not m.counts(d, u, r)]
        stats = dict(
            domains=len(m.domain_list()), counting=len(counted), wrong_scope=len(wrong_scope),
            disabled_bindings=sum(1 for k in KINDS.values() for b in world.rows[k[0]]
                                  if b["disabled"] == 1),
            big_users=sum(1 for u in m.users if u >= BIG),
            big_roles=sum(1 for r in m.roles if r >= BIG),
            messy=sum(1 for r in m.roles.values() if r["permissions"] and (
                ",," in r["permissions"] or " " in r["permissions"] or "\t" in r["permissions"])),
            shared_logins=self.shared_login_keys(m),
            live_sessions=sum(1 for t in world.tokens if m.session(t)),
            hashed_sessions=sum(1 for t in world.tokens if m.session(t)
                                and not t.startswith("legacy-")),
            flags=sum(len(m.appflags(a)) for a in m.app_list()))
        for k, v in stats.items():
            self.assertGreater(v, 0, "the world has no %s" % k)
        return ", ".join("%s %d" % kv for kv in stats.items())

    @staticmethod
    def shared_login_keys(m):
        """(provider, key) pairs held by more than one live login method."""
        n = {}
        for x in m.logins:
            k = (x["login_provider"], x["provider_key"])
            n[k] = n.get(k, 0) + 1
        return sum(1 for v in n.values() if v > 1)

    def test_external_changes_apply(self):
        for seed in SEEDS:
            with self.subTest(seed=seed), scratch_db("mpself", demo=False,
                                                     profile="mpbackend") as db:
                world = World(seed)
                world.write(db)
                before = Model(Rows.from_db(db))
                mark = max_change(db)
                mut = Mutator(seed, Rows.from_db(db), world).build()
                n = mut.run(db)
                self.assertGreater(n, 40)
                self.assertLess(mut.skipped, 5, "too many statements refused by unique keys")
                after = Model(Rows.from_db(db))
                self.assertNotEqual(before.bound, after.bound)
                logged = db.sql("SELECT COUNT(*) FROM rbac_change WHERE id > %s", (mark,))[0][0]
                self.assertGreaterEqual(logged, n)
                print("seed %d: %d statements applied, %d skipped, %d change rows" %
                      (seed, n, mut.skipped, logged), flush=True)

    def test_bind_predictions_match_sql(self):
        """The model's BIND/UNBIND prediction against what equivalent SQL leaves in the
        tables (the server test then holds the server to the same prediction)."""
        for seed in SEEDS:
            with self.subTest(seed=seed), scratch_db("mpself", demo=False,
                                                     profile="mpbackend") as db:
                world = World(seed)
                world.write(db)
                rows = Rows.from_db(db)
                predicted = Model(rows)
                ops = bind_ops(seed, predicted, rows, world)
                replies = [getattr(predicted, op.lower())(d, u, r) for op, d, u, r in ops]
                self.assertIn("error", replies)
                self.assertIn(0, replies)
                self.assertIn(1, replies)
                apply_ops_sql(db, ops, Model(rows))
                actual = Model(Rows.from_db(db)).bound
                self.assertEqual(predicted.bound - actual, set())
                self.assertEqual(actual - predicted.bound, set())

    def test_model_answers_readme(self):
        DemoReadmeTest("test_model_answers_readme").test_model_answers_readme()


if __name__ == "__main__":
    if "--self-check" in sys.argv:
        sys.argv.remove("--self-check")
        suite = unittest.TestLoader().loadTestsFromTestCase(SelfCheck)
        ok = unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful()
        sys.exit(0 if ok else 1)
    unittest.main(verbosity=2)
