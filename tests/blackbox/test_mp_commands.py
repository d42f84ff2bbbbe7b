#!/usr/bin/env python3
"""test_mp_commands.py — every command of the mpbackend profile (SPEC §4) against its
demo world (schema/mpbackend/demo/README.md), with exact replies: through redis-py in
RESP2, and through a raw RESP3 connection whose reply bytes show the type (`:` integer,
`_` null, `*` array, `$` bulk string, `-` error).

  MpReadsTest        CAN, PERMS, DOMAINS, USERBYLOGIN, APPFLAGS, WHY, SESSION GET / CAN
                     on the demo rows; bad input of every kind, each a clear error or a
                     denial, after which the server answers and the data (replies, rows,
                     the change log) is as it was; what SESSION HELP and COMMAND show
  MpWritesTest       BIND / UNBIND: 1 then 0, at once in the reads, rbac_change rows,
                     soft-delete and revival of the same row, the table and column each
                     domain names, refusals, the check role's NOPERM
  MpSessionsTest     sessions on mpbackend_user_session_token: 'h1:' + hash rows, the
                     legacy service's raw rows, TOUCH, LIST, REVOKE, REVOKEALL, tenant 0
                     only, the commands of the other profile
  MpSqlChangesTest   changes made by SQL (roles, bindings, users, login methods, flags),
                     visible within the SPEC's second, or at once after WAITREV

Each class has its own scratch database (scratch_db("mpcmd", profile="mpbackend")) and
server. Tests that change data use users of their own, inserted before the server
starts, or put the demo rows back, so that the order of the tests does not matter.

Where SPEC §4 and the demo README are silent, these tests pin what the server does
because a Redis user or gateway author would expect it (each is marked "SPEC is silent"
where it is asserted):
  * WHY with a malformed domain explains it (deny + the reason) instead of -ERR.
  * A permission argument with spaces or a NUL is compared byte for byte: a denial.
  * SESSION LIST / REVOKEALL with a tenant other than 0: [] / 0 (no session is there).
  * SESSION REVOKE of an unexpired, unrevoked session whose user is disabled ends it
    (:1): it would otherwise come back when the user is enabled again, as a session of a
    user disabled by SQL does.
  * A BIND / UNBIND that finds nothing to change (:0) writes no rbac_change row.
  * A domain the service's columns cannot hold (developer id above the signed BIGINT,
    an application id longer than 255 characters or outside utf8mb3) is an error reply
    that changes nothing; its prefix (ERR or DBERR) is not pinned.
"""

import contextlib
import hashlib
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redis  # noqa: E402

import harness  # noqa: E402
from harness import RespError, RespIncomplete, encode_command, resp_read  # noqa: E402

# ---- the demo world (schema/mpbackend/demo/README.md) ----
ROOT, ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4, 5
ERIN = 4294967297               # 64-bit user id
SUPPORT = 4294967301            # 64-bit role id: app-support (Application)
LEGACY = "legacy-token-alice-0001"                  # a legacy row: the token itself
LEGACY_EXPIRED = "legacy-token-alice-0002"
LEGACY_DISABLED_ROW = "legacy-token-dave-0003"
LEGACY_CAROL = "legacy-token-carol-0004"            # carol is disabled
BOB_TOKEN = "demo-bob-session-0123456789ABCDEFGHIJKLMNOQ"
BOB_H1 = "h1:4871e0eda0eba937e821f183696f319f51c3a55d7c4f869c484e9dc5a81cc043"
CREATED_MS = 1735689600000      # 2025-01-01T00:00:00Z
FUTURE_MS = 2145830400000       # 2037-12-31T00:00:00Z
DEMO_USERS = (ROOT, ALICE, BOB, CAROL, DAVE, ERIN)
BINDING_TABLES = ("mpbackend_admin_user_role_binding", "mpbackend_developer_user_role_binding",
                  "mpbackend_application_user_role_binding")
ADMIN_T, DEV_T, APP_T = BINDING_TABLES

ADMIN_PW = "mp-admin-pw"
CHECK_PW = "mp-check-pw"
VISIBLE_S = 1.5    # SPEC: an external change shows within 1 s; + 0.5 s for this client
POLL_LIMIT_S = 5.0  # how long a poll goes on before it gives up (for the message)
WAITREV_MS = 10000
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")

_check_hash = []


def check_hash():
    if not _check_hash:
        _check_hash.append(harness.hash_password(CHECK_PW))
    return _check_hash[0]


def h1(token):
    """What rbacd stores for a token: 'h1:' + hex(BLAKE2b-256(token))."""
    return "h1:" + hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


def list_id(token):
    """SESSION LIST's id of a token: hex of the first 8 bytes of its hash."""
    return hashlib.blake2b(token.encode(), digest_size=32).hexdigest()[:16]


def dec(v):
    """A raw reply in the shape redis-py gives with decode_responses=True."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode()
    if isinstance(v, list):
        return [dec(x) for x in v]
    return v


class Err:
    """An expected error reply: its text starts with prefix (or equals it, exact=True)."""

    def __init__(self, prefix, exact=False):
        self.prefix = prefix
        self.exact = exact

    def __repr__(self):
        return "Err(%r)" % self.prefix


class Conn:
    """An authenticated raw connection that gives each reply with its bytes."""

    def __init__(self, srv, proto, user="default", password=ADMIN_PW):
        self.c = srv.raw_connection()
        if proto == 3:
            hello = self.c.call("HELLO", "3", "AUTH", user, password)
            if not isinstance(hello, dict) or hello.get("proto") != 3:
                raise AssertionError("HELLO 3 answered %r" % (hello,))
        else:
            ok = self.c.call("AUTH", user, password)
            if ok != "OK":
                raise AssertionError("AUTH answered %r" % (ok,))

    def call_raw(self, *args):
        self.c.send(encode_command(*args))
        while True:
            try:
                v, pos = resp_read(self.c.buf)
            except RespIncomplete:
                self.c._fill()
                continue
            raw, self.c.buf = self.c.buf[:pos], self.c.buf[pos:]
            return v, raw

    def call(self, *args):
        return self.call_raw(*args)[0]

    def close(self):
        self.c.close()


class MpCase(harness.ServerTestCase):
    """One scratch mpbackend database with the demo data and one server per class."""

    PROFILE = "mpbackend"
    SERVER_KW = {"password": ADMIN_PW}
    EXTRA_CONF = ()
    EXTRA_USERS = ()   # ids of users without bindings, inserted before the server starts

    @classmethod
    def setUpClass(cls):
        cls.CONF_LINES = ["profile mpbackend", "requirepass " + ADMIN_PW,
                          "user checker check " + check_hash()] + list(cls.EXTRA_CONF)
        cls.db = harness.scratch_db("mpcmd", profile="mpbackend")
        try:
            for u in cls.EXTRA_USERS:
                cls.db.sql("INSERT INTO mpbackend_user (id, email) VALUES (%s, %s)",
                           (u, "user%d@test.example" % u))
            cls.srv = cls._new_server()
        except BaseException:
            cls.db.drop()
            raise

    def setUp(self):
        super().setUp()
        self.c2 = Conn(self.srv, 2)
        self.c3 = Conn(self.srv, 3)

    def tearDown(self):
        for c in (self.c2, self.c3):
            with contextlib.suppress(Exception):
                c.close()
        super().tearDown()

    # ---- calls ----

    def call(self, *args):
        """RESP2, raw: errors come back as RespError values."""
        return self.c2.call(*args)

    def call3(self, *args):
        return self.c3.call(*args)

    def check(self, expected, *args):
        """The reply to args is expected in RESP2 (redis-py, then raw for an error's text)
        and in RESP3 (raw, with the type its first byte names). expected: int, None, str,
        a list of those, or Err(prefix). For commands that change nothing: sent 2-3 times."""
        if isinstance(expected, Err):
            with self.assertRaises(redis.ResponseError, msg=repr(args)):
                self.r.execute_command(*args)
            self.assert_reply(expected, args, 2, *self.c2.call_raw(*args))
        else:
            self.assertEqual(self.r.execute_command(*args), expected, "RESP2 %r" % (args,))
        self.assert_reply(expected, args, 3, *self.c3.call_raw(*args))

    def once(self, expected, *args):
        """check() for a command that changes something: sent once, alternately through
        redis-py (RESP2) and the raw RESP3 connection."""
        self._once = getattr(self, "_once", 0) + 1
        if self._once % 2 == 0:
            self.assert_reply(expected, args, 3, *self.c3.call_raw(*args))
        elif isinstance(expected, Err):
            self.assert_reply(expected, args, 2, *self.c2.call_raw(*args))
        else:
            self.assertEqual(self.r.execute_command(*args), expected, "RESP2 %r" % (args,))

    def assert_reply(self, expected, args, proto, v, raw):
        what = "RESP%d %r" % (proto, args)
        if isinstance(expected, Err):
            self.assert_err(v, expected.prefix, exact=expected.exact, msg=what)
            return
        self.assertEqual(dec(v), expected, what)
        if proto == 3:
            want = {int: b":", type(None): b"_", list: b"*", str: b"$"}[type(expected)]
            self.assertEqual(raw[:1], want, "%s: %r" % (what, raw[:40]))

    def assert_err(self, v, prefix, exact=False, msg=None):
        self.assertIsInstance(v, RespError, msg or repr(v))
        if exact:
            self.assertEqual(str(v), prefix, msg)
        else:
            self.assertTrue(str(v).startswith(prefix), "%s: %s" % (msg, v))

    # ---- the database ----

    def sql(self, q, args=None):
        return self.db.sql(q, args)

    def max_change(self):
        return int(self.sql("SELECT COALESCE(MAX(id), 0) FROM rbac_change")[0][0])

    def changes_after(self, cid):
        return self.sql("SELECT tenant_id, entity, entity_id, op FROM rbac_change WHERE id > %s "
                        "ORDER BY id", (cid,))

    def waitrev(self):
        """Waits (WAITREV) until the server has applied every change logged so far."""
        self.assertEqual(self.call("WAITREV", self.max_change(), WAITREV_MS), 1)

    def binding_rows(self, table, user, role=None):
        col = {ADMIN_T: "''", DEV_T: "developer_id", APP_T: "application_id"}[table]
        q = ("SELECT id, user_id, role_id, %s, disabled, disabled_at IS NOT NULL FROM %s "
             "WHERE user_id = %%s" % (col, table))
        args = [user]
        if role is not None:
            q += " AND role_id = %s"
            args.append(role)
        return self.sql(q + " ORDER BY id", args)

    def state(self):
        """What bad input must leave as it was: answers, rows and the change log."""
        reads = [self.call("DBSIZE"), self.call("REVISION"),
                 self.call("PERMS", "admin", ROOT), self.call("PERMS", "developer:10", BOB),
                 self.call("PERMS", "application:com.example.pay", ERIN),
                 self.call("USERBYLOGIN", "okta", "00ushared"),
                 self.call("APPFLAGS", "com.example.chat"),
                 self.call("SESSION", "GET", LEGACY), self.call("SESSION", "GET", BOB_TOKEN)]
        reads += [self.call("DOMAINS", u) for u in DEMO_USERS]
        rows = [self.sql("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM rbac_change")]
        rows += [self.sql("SELECT * FROM %s ORDER BY id" % t) for t in BINDING_TABLES]
        rows.append(self.sql("SELECT id, session_token, user_id, expired_at, disabled "
                             "FROM mpbackend_user_session_token ORDER BY id"))
        rows.append(self.sql("SELECT id, disabled, permissions, scope FROM mpbackend_role "
                             "ORDER BY id"))
        return reads, rows

    @contextlib.contextmanager
    def intact(self):
        """The body may send anything: afterwards the server answers and the state is
        what it was."""
        before = self.state()
        yield
        self.assertEqual(self.call("PING"), "PONG")
        self.assertEqual(self.call3("PING"), "PONG")
        self.assertEqual(self.state(), before)

    def visible(self, fn, what):
        """Polls fn (every 20 ms, at most POLL_LIMIT_S) until it is true; fails if it
        never is or took longer than VISIBLE_S. Returns the seconds it took."""
        t0 = time.monotonic()
        while True:
            if fn():
                took = time.monotonic() - t0
                self.assertLessEqual(took, VISIBLE_S, "%s: visible after %.2f s" % (what, took))
                return took
            if time.monotonic() - t0 > POLL_LIMIT_S:
                self.fail("%s: not visible after %.1f s" % (what, POLL_LIMIT_S))
            time.sleep(0.02)


# ==========================================================================================
# Reads and bad input: nothing in this class changes data.
# ==========================================================================================


class MpReadsTest(MpCase):

    # ---------------------------------------------------------------- CAN ----

    def test_can_demo_answers(self):
        cases = [
            ("admin", ROOT, "user:write", 1),                  # platform-admin
            ("admin", ROOT, "user:delete", 0),                 # role 7 is disabled
            ("admin", ROOT, "app:read", 0),                    # no role of root's grants it
            ("admin", ALICE, "app:audit", 0),                  # Application role, admin table
            ("admin", CAROL, "user:read", 0),                  # carol is disabled
            ("admin", DAVE, "app:audit", 0),                   # binding disabled
            ("developer:10", ALICE, "app:publish", 1),
            ("developer:11", ALICE, "app:publish", 0),         # guest: a role with nothing
            ("developer:10", BOB, "app:upload", 1),            # role 4's list, trimmed
            ("developer:11", BOB, "app:upload", 0),
            ("developer:11", DAVE, "user:read", 0),            # Admin role, developer table
            ("developer:10", DAVE, "app:read", 0),             # binding disabled
            ("application:com.example.pay", DAVE, "version:publish", 1),
            ("application:com.example.chat", DAVE, "flag:read", 0),    # binding disabled
            ("application:com.example.chat", ALICE, "app:read", 0),    # Developer role
            ("application:com.example.pay", ERIN, "ticket:reply", 1),  # 64-bit user, role
            ("application:io.bolt.maps", CAROL, "flag:read", 0),       # carol is disabled
            ("application:io.bolt.maps", ERIN, "stats:read", 1),
            ("application:io.bolt.maps", ERIN, "ticket:reply", 0),     # other application
            ("developer:10", ALICE, "user:read", 0),           # admin's permission elsewhere
            ("admin", 99, "user:read", 0),                     # no such user
            ("developer:999999", ALICE, "app:read", 0),        # no such developer
            ("application:no.such.app", ROOT, "user:read", 0),
            ("admin", ROOT, "no:such:permission", 0),
        ]
        for domain, user, perm, want in cases:
            with self.subTest(domain=domain, user=user, perm=perm):
                self.check(want, "CAN", domain, user, perm)

    def test_developer_ids_with_leading_zeros_are_the_same_domain(self):
        for d in ("developer:10", "developer:010", "developer:0010", "developer:000000000010"):
            with self.subTest(domain=d):
                self.check(1, "CAN", d, BOB, "app:upload")
                self.check(["app:read", "app:upload"], "PERMS", d, BOB)
                self.check(["allow", "role 4 'dev-member' grants it"], "WHY", d, BOB,
                           "app:upload")
        # And user ids with leading zeros, as redis-benchmark sends them.
        self.check(1, "CAN", "admin", "000000000001", "user:write")
        self.check(["application:com.example.pay", "application:io.bolt.maps"],
                   "DOMAINS", "0004294967297")
        self.check(1, "CAN", "application:com.example.pay", "04294967297", "ticket:reply")
        # developer:0 and the largest id are well formed, and hold nobody.
        self.check(0, "CAN", "developer:0", ALICE, "app:read")
        self.check([], "PERMS", "developer:18446744073709551615", ALICE)

    # ----------------------------------------------------- PERMS, DOMAINS ----

    def test_perms_demo_answers(self):
        owner = ["app:create", "app:publish", "app:read", "member:manage"]
        cases = [
            ("admin", ROOT, ["app:audit", "user:read", "user:write"]),   # sorted, 7 left out
            ("admin", ALICE, []),                                        # wrong scope
            ("developer:10", ALICE, owner),
            ("developer:11", ALICE, []),                                 # dev-guest
            ("developer:10", BOB, ["app:read", "app:upload"]),           # trimmed, deduped
            ("developer:11", BOB, owner),
            ("application:com.example.pay", DAVE,
             ["flag:read", "version:audit", "version:publish"]),
            ("application:com.example.chat", DAVE, []),                  # binding disabled
            ("application:com.example.pay", ERIN, ["ticket:read", "ticket:reply"]),
            ("application:io.bolt.maps", ERIN, ["flag:read", "stats:read"]),
            ("admin", CAROL, []),                                        # disabled user
            ("admin", 99, []),                                           # no such user
            ("application:no.such.app", ERIN, []),
        ]
        for domain, user, want in cases:
            with self.subTest(domain=domain, user=user):
                self.check(want, "PERMS", domain, user)

    def test_domains_demo_answers(self):
        cases = [
            (ROOT, ["admin"]),
            (ALICE, ["developer:10", "developer:11"]),   # wrong-scope bindings do not count
            (BOB, ["developer:10", "developer:11"]),
            (CAROL, []),                                 # disabled
            (DAVE, ["application:com.example.pay"]),     # three bindings do not count
            (ERIN, ["application:com.example.pay", "application:io.bolt.maps"]),
            (99, []),
            (0, []),
            (18446744073709551615, []),
        ]
        for user, want in cases:
            with self.subTest(user=user):
                self.check(want, "DOMAINS", user)

    # ---------------------------------------------- USERBYLOGIN, APPFLAGS ----

    def test_userbylogin_demo_answers(self):
        cases = [
            ("email", "root@example.com", ROOT),
            ("okta", "00u1alice", ALICE),
            ("binance-oauth", "bnc-3003", BOB),
            ("email", "00u1alice", None),              # that key belongs to okta
            ("email", "carol@acme.example", None),     # carol is disabled
            ("email", "dave@acme.example", None),      # the method is disabled
            ("okta", "00ushared", BOB),                # methods 7 (bob), 8 (dave): lowest id
            ("okta", "00urecycled", ERIN),             # method 9's user disabled: 10, erin
            ("email", "erin@bolt.example", ERIN),      # a 64-bit id as an integer
            ("binance-oauth", "bnc-5005", DAVE),
            ("email", "nobody@example.com", None),
            ("github", "root@example.com", None),      # no such provider
            ("", "", None),
            ("email", "x" * 400, None),                # longer than the column
        ]
        for provider, key, want in cases:
            with self.subTest(provider=provider, key=key):
                self.check(want, "USERBYLOGIN", provider, key)

    def test_appflags_demo_answers(self):
        self.check([["camera", '["front","back"]'], ["location", '["coarse"]'],
                    ["payment", '["alipay","card","wallet"]']],
                   "APPFLAGS", "com.example.pay")               # by name (bound 3, 1, 2)
        self.check([["bluetooth", "[]"], ["camera", '["front","back"]'],
                    ["camera", '["front"]']],
                   "APPFLAGS", "com.example.chat")              # same name: by flag id
        self.check([["location", '["coarse"]']], "APPFLAGS", "io.bolt.maps")  # 99: no flag
        self.check([], "APPFLAGS", "com.example.none")
        self.check([], "APPFLAGS", "")

    # ----------------------------------------------------------------- WHY ----

    def test_why(self):
        self.check(["allow", "role 1 'platform-admin' grants it"], "WHY", "admin", ROOT,
                   "user:write")
        self.check(["deny", "role 5 'app-operator' has scope Application but is bound through "
                    "the Admin binding table: the binding does not count"],
                   "WHY", "admin", ALICE, "app:audit")
        self.check(["deny", "role 1 'platform-admin' has scope Admin but is bound through the "
                    "Developer binding table: the binding does not count"],
                   "WHY", "developer:11", DAVE, "user:read")
        self.check(["deny", "unknown user 4 (disabled, deleted or never existed)"],
                   "WHY", "admin", CAROL, "user:read")
        self.check(["allow", "role 4294967301 'app-support' grants it"],
                   "WHY", "application:com.example.pay", ERIN, "ticket:reply")
        why = self.r.execute_command("WHY", "admin", ROOT, "user:delete")
        self.assertEqual(why[0], "deny")       # role 7, the only one with it, is disabled
        self.assertEqual(self.r.execute_command("WHY", "developer:11", ALICE, "app:read")[0],
                         "deny")

    # ------------------------------------------------ sessions of the demo ----

    def test_demo_sessions_read(self):
        self.check([0, ALICE, CREATED_MS, FUTURE_MS], "SESSION", "GET", LEGACY)
        self.check([0, BOB, CREATED_MS, FUTURE_MS], "SESSION", "GET", BOB_TOKEN)
        self.assertEqual(h1(BOB_TOKEN), BOB_H1)
        for tok in (BOB_H1,                  # the stored hash is not a token
                    BOB_H1.upper(),          # nor in capitals (the collation ignores case)
                    BOB_TOKEN.lower(),       # another token
                    LEGACY.upper(),          # a legacy token in another letter case
                    "Legacy-token-alice-0001",
                    LEGACY_EXPIRED, LEGACY_DISABLED_ROW, LEGACY_CAROL, "no-such-token"):
            with self.subTest(token=tok):
                self.check(None, "SESSION", "GET", tok)
                self.check(Err("NOSESSION "), "SESSION", "CAN", tok, "developer:10", "app:read")
        self.check(1, "SESSION", "CAN", LEGACY, "developer:10", "app:publish")
        self.check(1, "SESSION", "CAN", LEGACY, "developer:010", "app:publish")
        self.check(0, "SESSION", "CAN", LEGACY, "admin", "user:read")
        self.check(1, "SESSION", "CAN", BOB_TOKEN, "developer:10", "app:upload")
        self.check(0, "SESSION", "CAN", BOB_TOKEN, "developer:10", "app:publish")
        self.check([[list_id(LEGACY), CREATED_MS, FUTURE_MS]], "SESSION", "LIST", 0, ALICE)
        self.check([[BOB_H1[3:19], CREATED_MS, FUTURE_MS]], "SESSION", "LIST", 0, BOB)
        self.check([], "SESSION", "LIST", 0, CAROL)      # her session does not count
        self.check([], "SESSION", "LIST", 0, DAVE)       # his row is disabled
        self.check(5, "DBSIZE")                          # users that exist: carol does not

    # ------------------------------------------------------------ bad input ----

    def test_malformed_domains_are_errors(self):
        bad = ["bogus", "Admin", "ADMIN", "admin ", " admin", "admin:", "admin:1", "",
               "developer", "developer:", "developer:x", "developer:-1", "developer:+1",
               "developer: 1", "developer:1 ", "developer:1.0", "developer:0x10",
               "developer:18446744073709551616", "Developer:10",
               "application", "application:", "application:a b", "application:a\tb",
               "application:com.example.pay ", "tenant:1", "1", "a" * 400]
        with self.intact():
            for d in bad:
                with self.subTest(domain=d):
                    # The first 64 bytes, each unprintable byte or quote shown as '?'
                    # (as an invalid id is), so the reply stays one clean line.
                    shown = "".join(ch if ch.isprintable() and ch != "'" else "?"
                                    for ch in d[:64])
                    err = Err("ERR invalid domain '%s': expected admin, developer:<id> or "
                              "application:<app_id>" % shown, exact=True)
                    self.check(err, "CAN", d, ROOT, "user:read")
                    self.check(err, "PERMS", d, ROOT)
                    self.check(err, "BIND", d, ALICE, 1)
                    self.check(err, "UNBIND", d, ROOT, 1)
                    self.check(err, "SESSION", "CAN", LEGACY, d, "app:read")
                    # ... even with an unknown token: the domain is checked first.
                    self.check(err, "SESSION", "CAN", "no-such-token", d, "app:read")

    def test_invalid_domain_error_quotes_the_argument_whole(self):
        # A NUL inside the domain must not cut the quote short: "invalid domain 'bad'"
        # would name another argument than the one sent (invalid ids show it as '?').
        with self.intact():
            for d, head, tail in (("bad\x00tail", "bad", "tail"),
                                  ("application:\x00", "application:", ""),
                                  ("developer:1\x00", "developer:1", "")):
                with self.subTest(domain=d):
                    for args in (("CAN", d, ROOT, "user:read"), ("PERMS", d, ROOT),
                                 ("BIND", d, ALICE, 1)):
                        v = self.call(*args)
                        self.assertIsInstance(v, RespError, v)
                        m = re.match(r"ERR invalid domain '(.*)': expected admin, "
                                     r"developer:<id> or application:<app_id>$", str(v))
                        self.assertIsNotNone(m, str(v))
                        quoted = m.group(1)
                        self.assertTrue(quoted.startswith(head) and quoted.endswith(tail) and
                                        len(quoted) > len(head) + len(tail),
                                        "%r quoted as %r" % (d, quoted))
                        # A control character in the argument never breaks the reply line.
                        self.assertEqual(self.call("PING"), "PONG")
            v = self.call("CAN", "bad\r\n+OK", ROOT, "user:read")
            self.assert_err(v, "ERR invalid domain 'bad")
            self.assertEqual(self.call("PING"), "PONG")

    def test_why_explains_a_malformed_domain(self):
        # SPEC is silent: WHY, the command one runs to find out why, says it in its reply.
        with self.intact():
            self.check(["deny", "invalid domain 'bogus': expected admin, developer:<id> or "
                        "application:<app_id>"], "WHY", "bogus", ROOT, "user:read")
            self.assertEqual(self.r.execute_command("WHY", "developer:", ROOT, "x")[0], "deny")

    def test_permission_arguments_that_name_nothing_are_denials(self):
        with self.intact():
            for perm in ("user:read,user:write",   # names are split on commas: none has one
                         "user:read,", ",user:read", "user:read, ", ",",
                         "", " user:read", "user:read ", "USER:READ",   # SPEC is silent:
                         "user:read\x00", "user:read\x00x", "x" * 1000):   # byte for byte
                with self.subTest(perm=perm):
                    self.check(0, "CAN", "admin", ROOT, perm)
                    self.check(0, "SESSION", "CAN", BOB_TOKEN, "developer:11", perm)
            self.check(1, "CAN", "admin", ROOT, "user:read")

    def test_invalid_ids_are_errors(self):
        bad = ["x", "", "-1", "+1", " 1", "1 ", "1.5", "0x10", "1e3", "18446744073709551616",
               "99999999999999999999"]
        with self.intact():
            for v in bad:
                with self.subTest(id=v):
                    err = Err("ERR invalid id '%s': expected a decimal integer between 0 and "
                              "18446744073709551615" % v, exact=True)
                    self.check(err, "CAN", "admin", v, "user:read")
                    self.check(err, "PERMS", "admin", v)
                    self.check(err, "DOMAINS", v)
                    self.check(err, "WHY", "admin", v, "user:read")
                    self.check(err, "BIND", "admin", v, 1)
                    self.check(err, "BIND", "admin", ALICE, v)
                    self.check(err, "UNBIND", "admin", ROOT, v)
                    self.check(err, "SESSION", "CREATE", 0, v)
                    self.check(err, "SESSION", "LIST", 0, v)
                    self.check(err, "SESSION", "REVOKEALL", 0, v)
            self.check(Err("ERR invalid id 'x'"), "SESSION", "CREATE", "x", BOB)

    def test_wrong_arity_is_an_error(self):
        cases = [
            (("CAN", "admin", "1"), "can"), (("CAN", "admin", "1", "p", "q"), "can"),
            (("PERMS", "admin"), "perms"), (("PERMS", "admin", "1", "2"), "perms"),
            (("DOMAINS",), "domains"), (("DOMAINS", "1", "2"), "domains"),
            (("USERBYLOGIN", "email"), "userbylogin"),
            (("USERBYLOGIN", "email", "a", "b"), "userbylogin"),
            (("APPFLAGS",), "appflags"), (("APPFLAGS", "a", "b"), "appflags"),
            (("WHY", "admin", "1"), "why"),
            (("BIND", "admin", "1"), "bind"), (("BIND", "admin", "1", "1", "1"), "bind"),
            (("UNBIND", "admin", "1"), "unbind"),
            (("SESSION", "GET"), "session|get"), (("SESSION", "GET", "a", "b"), "session|get"),
            (("SESSION", "CAN", "t", "admin"), "session|can"),
            (("SESSION", "CAN", "t", "admin", "p", "q"), "session|can"),
            (("SESSION", "CREATE", "0"), "session|create"),
            (("SESSION", "LIST", "0"), "session|list"),
            (("SESSION", "REVOKEALL", "0"), "session|revokeall"),
            (("SESSION", "REVOKE"), "session|revoke"),
            (("SESSION", "TOUCH"), "session|touch"),
            (("SESSION", "HELP", "x"), "session|help"),
        ]
        with self.intact():
            for args, name in cases:
                with self.subTest(args=args):
                    self.check(Err("ERR wrong number of arguments for '%s' command" % name,
                                   exact=True), *args)
            self.check(Err("ERR unknown subcommand 'BOGUS'. Try SESSION HELP.", exact=True),
                       "SESSION", "BOGUS")
            self.check(Err("ERR syntax error", exact=True), "SESSION", "CREATE", 0, BOB, "TTL")
            self.check(Err("ERR syntax error", exact=True), "SESSION", "CREATE", 0, BOB, "X", 1)

    def test_bad_tokens_name_no_session(self):
        tokens = ["a b", "x" * 300, "", "tok\x01en", "tok\x7fen", "tok\x00en", "tök",
                  "x" * 257, LEGACY + " ", " " + LEGACY]
        with self.intact():
            for t in tokens:
                with self.subTest(token=t[:20], length=len(t)):
                    self.check(None, "SESSION", "GET", t)
                    self.check(None, "SESSION", "TOUCH", t)
                    self.check(None, "SESSION", "TOUCH", t, "TTL", 60)
                    self.check(0, "SESSION", "REVOKE", t)
                    self.check(Err("NOSESSION session unknown, expired or revoked", exact=True),
                               "SESSION", "CAN", t, "admin", "user:read")

    def test_bind_refusals_change_nothing(self):
        with self.intact():
            # A role of another scope: the error names both scopes.
            self.check(Err("ERR role 3 has scope Developer; domain admin takes roles of "
                           "scope Admin", exact=True), "BIND", "admin", BOB, 3)
            self.check(Err("ERR role 3 has scope Developer; domain application:com.example.pay "
                           "takes roles of scope Application", exact=True),
                       "BIND", "application:com.example.pay", ALICE, 3)
            self.check(Err("ERR role 1 has scope Admin; domain developer:10 takes roles of "
                           "scope Developer", exact=True), "BIND", "developer:010", ALICE, 1)
            self.check(Err("ERR role 4294967301 has scope Application; domain admin takes "
                           "roles of scope Admin", exact=True), "BIND", "admin", ALICE, SUPPORT)
            # The demo's wrong-scope rows cannot be unbound as if they counted.
            self.check(Err("ERR role 5 has scope Application; domain admin takes roles of "
                           "scope Admin", exact=True), "UNBIND", "admin", ALICE, 5)
            # Unknown, disabled: users and roles.
            for args, msg in ((("BIND", "admin", 99, 1), "unknown user 99"),
                              (("BIND", "admin", 0, 1), "unknown user 0"),
                              (("BIND", "admin", CAROL, 1), "unknown user 4"),     # disabled
                              (("BIND", "admin", 18446744073709551615, 1),
                               "unknown user 18446744073709551615"),
                              (("BIND", "admin", ALICE, 7), "unknown role 7"),     # disabled
                              (("BIND", "admin", ALICE, 999), "unknown role 999"),
                              (("BIND", "admin", ALICE, 0), "unknown role 0"),
                              (("UNBIND", "admin", 99, 1), "unknown user 99"),
                              (("UNBIND", "admin", ROOT, 999), "unknown role 999"),
                              (("BIND", "developer:10", 99, 3), "unknown user 99"),
                              (("BIND", "application:x", ALICE, 12345), "unknown role 12345")):
                with self.subTest(args=args):
                    self.check(Err("ERR " + msg, exact=True), *args)
            self.check(1, "CAN", "admin", ROOT, "user:read")

    def test_other_profile_commands_are_errors(self):
        with self.intact():
            self.check(Err("ERR SESSION LOGIN needs profile bitenant: "), "SESSION", "LOGIN",
                       "acme", "alice", "pw")
            self.check(Err("ERR SESSION LOGIN needs profile bitenant: "), "SESSION", "LOGIN",
                       "acme", "alice", "pw", "TTL", "60")
            self.check(Err("ERR SESSION CANMENU needs profile bitenant", exact=True),
                       "SESSION", "CANMENU", BOB_TOKEN, "1")
            self.check(Err("ERR SESSION MENUS needs profile bitenant", exact=True),
                       "SESSION", "MENUS", BOB_TOKEN)
            for args, name in ((("CANMENU", 1, 1, 1), "CANMENU"), (("MENUS", 1, 1), "MENUS"),
                               (("ROLES", 1, 1), "ROLES"), (("CANSTORE", 1, 1, 1), "CANSTORE"),
                               (("STORES", 1, 1), "STORES"),
                               (("USER", "ADDROLE", 1, 1, 1), "USER"),
                               (("ROLE", "GRANT", 1, 1, 1), "ROLE GRANT"),
                               (("TENANT", "ENABLE", 1), "TENANT")):
                with self.subTest(cmd=name):
                    self.check(Err("ERR %s needs profile bitenant" % name, exact=True), *args)

    # ------------------------------------------------------------ what is shown ----

    def test_session_help_lists_can_not_canmenu(self):
        lines = self.r.execute_command("SESSION", "HELP")
        self.assertEqual(self.call3("SESSION", "HELP"), lines)
        self.assertIn("CAN <token> <domain> <permission>", lines)
        for name in ("CREATE", "GET", "TOUCH", "REVOKE", "REVOKEALL", "LIST"):
            self.assertTrue(any(line.startswith(name + " ") for line in lines), name)
        self.assertFalse(any("CANMENU" in line for line in lines), lines)
        self.assertFalse(any(line.startswith("MENUS") for line in lines), lines)

    def test_command_list_shows_this_profile(self):
        # Raw connections only: redis-py 4.3 parses any COMMAND reply as COMMAND INFO's.
        for conn in (self.c2, self.c3):
            self.assertEqual(conn.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "can*"),
                             [b"can"])
            self.assertEqual(conn.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "*menu*"), [])
        names = dec(self.call3("COMMAND", "LIST"))
        # Bare ROLE (the replication role) exists in every profile; ROLE GRANT|REVOKE do not.
        for n in ("can", "perms", "domains", "userbylogin", "appflags", "why", "bind", "unbind",
                  "session", "revision", "waitrev", "role"):
            self.assertIn(n, names)
        for n in ("canmenu", "menus", "roles", "canstore", "stores", "user", "tenant"):
            self.assertNotIn(n, names)
        roles = dec(self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "role*"))
        self.assertEqual(roles, ["role", "role|help"])
        subs = dec(self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "session|*"))
        self.assertIn("session|can", subs)
        self.assertNotIn("session|canmenu", subs)
        self.assertNotIn("session|menus", subs)


# ==========================================================================================
# BIND / UNBIND
# ==========================================================================================

# Users of this class's own, with no bindings: one per test that needs a clean slate.
(U_ADMIN, U_DEV, U_APP, U_BIG, U_NOOP, U_CASE, U_CASE2, U_ACCENT, U_RANGE,
 U_CHECK) = WRITE_USERS = tuple(range(101, 111))


class MpWritesTest(MpCase):
    EXTRA_USERS = WRITE_USERS

    def test_bind_unbind_admin_written_through(self):
        u = U_ADMIN
        self.check(0, "CAN", "admin", u, "user:write")
        self.check([], "DOMAINS", u)
        rev0, cid0 = self.call("REVISION"), self.max_change()
        # BIND: 1, and at once in every read (this connection and another).
        self.assertEqual(self.r.execute_command("BIND", "admin", u, 1), 1)
        self.check(1, "CAN", "admin", u, "user:write")
        self.check(["app:audit", "user:read", "user:write"], "PERMS", "admin", u)
        self.check(["admin"], "DOMAINS", u)
        rows = self.binding_rows(ADMIN_T, u)
        self.assertEqual([r[1:] for r in rows], [(u, 1, "", 0, 0)])
        row_id = rows[0][0]
        self.assertEqual(self.changes_after(cid0), [(0, ADMIN_T, u, "I")])
        rev1, cid1 = self.call("REVISION"), self.max_change()
        self.assertGreater(rev1, rev0)
        self.assertGreaterEqual(rev1, cid1)
        # Again: 0, and nothing written.
        self.check(0, "BIND", "admin", u, 1)
        self.assertEqual(self.binding_rows(ADMIN_T, u), rows)
        self.assertEqual(self.max_change(), cid1)
        self.assertEqual(self.call("REVISION"), rev1)
        # UNBIND: 1, at once; the row stays, soft-deleted.
        self.assertEqual(self.c3.call_raw("UNBIND", "admin", u, 1)[1], b":1\r\n")
        self.check(0, "CAN", "admin", u, "user:write")
        self.check([], "PERMS", "admin", u)
        self.check([], "DOMAINS", u)
        self.assertEqual(self.binding_rows(ADMIN_T, u), [(row_id, u, 1, "", 1, 1)])
        self.assertEqual(self.changes_after(cid1), [(0, ADMIN_T, u, "U")])
        cid2 = self.max_change()
        self.assertGreaterEqual(self.call("REVISION"), cid2)
        self.check(0, "UNBIND", "admin", u, 1)
        self.assertEqual(self.max_change(), cid2)
        # BIND again revives that very row: no second row beside it.
        self.once(1, "BIND", "admin", u, 1)
        self.assertEqual(self.binding_rows(ADMIN_T, u), [(row_id, u, 1, "", 0, 0)])
        self.assertEqual(self.sql("SELECT COUNT(*) FROM %s WHERE user_id = %%s" % ADMIN_T,
                                  (u,))[0][0], 1)
        self.check(1, "CAN", "admin", u, "user:write")
        self.once(1, "UNBIND", "admin", u, 1)
        self.assertEqual(self.binding_rows(ADMIN_T, u), [(row_id, u, 1, "", 1, 1)])
        # Nothing went to the other tables.
        self.assertEqual(self.binding_rows(DEV_T, u), [])
        self.assertEqual(self.binding_rows(APP_T, u), [])

    def test_bind_developer_goes_to_its_table(self):
        u = U_DEV
        self.once(1, "BIND", "developer:0012", u, 4)       # leading zeros: developer 12
        self.assertEqual([r[1:] for r in self.binding_rows(DEV_T, u)], [(u, 4, 12, 0, 0)])
        self.assertEqual(self.binding_rows(ADMIN_T, u) + self.binding_rows(APP_T, u), [])
        self.check(["app:read", "app:upload"], "PERMS", "developer:12", u)
        self.check(0, "BIND", "developer:12", u, 4)          # the same domain
        # A role that grants nothing still makes its domain one of the user's; domains
        # sort by bytes ("developer:12" before "developer:9").
        self.once(1, "BIND", "developer:9", u, 8)
        self.check(["developer:12", "developer:9"], "DOMAINS", u)
        self.check([], "PERMS", "developer:9", u)
        self.once(1, "UNBIND", "developer:000012", u, 4)
        self.once(1, "UNBIND", "developer:9", u, 8)
        self.check([], "DOMAINS", u)
        self.assertEqual([r[3:5] for r in self.binding_rows(DEV_T, u)], [(12, 1), (9, 1)])

    def test_bind_application_goes_to_its_table(self):
        u = U_APP
        self.once(1, "BIND", "application:org.new.app", u, 5)
        self.assertEqual([r[1:] for r in self.binding_rows(APP_T, u)],
                         [(u, 5, "org.new.app", 0, 0)])
        self.assertEqual(self.binding_rows(ADMIN_T, u) + self.binding_rows(DEV_T, u), [])
        self.check(1, "CAN", "application:org.new.app", u, "version:audit")
        self.check(0, "CAN", "application:com.example.pay", u, "version:audit")
        self.check(["application:org.new.app"], "DOMAINS", u)
        self.check([], "APPFLAGS", "org.new.app")            # flags are not bindings
        self.once(1, "UNBIND", "application:org.new.app", u, 5)
        self.check(0, "CAN", "application:org.new.app", u, "version:audit")
        self.assertEqual([r[4] for r in self.binding_rows(APP_T, u)], [1])

    def test_bind_64bit_ids(self):
        u = U_BIG
        self.once(1, "BIND", "application:io.bolt.maps", u, SUPPORT)
        self.assertEqual([r[1:3] for r in self.binding_rows(APP_T, u)], [(u, SUPPORT)])
        self.check(["ticket:read", "ticket:reply"], "PERMS", "application:io.bolt.maps", u)
        # erin (user 4294967297) gets a developer role and gives it back.
        self.once(1, "BIND", "developer:11", ERIN, 3)
        self.assertEqual([r[1:5] for r in self.binding_rows(DEV_T, ERIN)], [(ERIN, 3, 11, 0)])
        self.check(["application:com.example.pay", "application:io.bolt.maps", "developer:11"],
                   "DOMAINS", ERIN)
        self.once(1, "UNBIND", "developer:11", ERIN, 3)
        self.once(1, "UNBIND", "application:io.bolt.maps", u, SUPPORT)
        self.check(["application:com.example.pay", "application:io.bolt.maps"], "DOMAINS", ERIN)

    def test_bind_revives_the_demo_soft_deleted_rows(self):
        # dave's disabled bindings: admin #5 (role 2), developer #6 (role 4, developer:10),
        # application #2 (role 6, com.example.chat). Each comes back as itself.
        for table, domain, role, row_id, perm in (
                (ADMIN_T, "admin", 2, 5, "app:audit"),
                (DEV_T, "developer:010", 4, 6, "app:upload"),
                (APP_T, "application:com.example.chat", 6, 2, "stats:read")):
            with self.subTest(domain=domain):
                self.check(0, "CAN", domain, DAVE, perm)
                self.check(0, "UNBIND", domain, DAVE, role)   # already so: disabled
                cid = self.max_change()
                self.once(1, "BIND", domain, DAVE, role)
                self.check(1, "CAN", domain, DAVE, perm)
                rows = self.binding_rows(table, DAVE, role)
                self.assertEqual([(r[0], r[4]) for r in rows], [(row_id, 0)])
                self.assertEqual(self.changes_after(cid), [(0, table, DAVE, "U")])
                self.once(1, "UNBIND", domain, DAVE, role)
                self.check(0, "CAN", domain, DAVE, perm)
                rows = self.binding_rows(table, DAVE, role)
                self.assertEqual([(r[0], r[4], r[5]) for r in rows], [(row_id, 1, 1)])
        self.check(["application:com.example.pay"], "DOMAINS", DAVE)

    def test_writes_that_change_nothing_reply_0_and_log_nothing(self):
        # SPEC is silent on the log: a BIND or UNBIND that is "already so" writes nothing.
        with self.intact():
            self.check(0, "BIND", "admin", ROOT, 1)
            self.check(0, "BIND", "developer:10", ALICE, 3)
            self.check(0, "BIND", "application:com.example.pay", ERIN, SUPPORT)
            self.check(0, "UNBIND", "admin", U_NOOP, 1)                  # never bound
            self.check(0, "UNBIND", "developer:11", U_NOOP, 3)
            self.check(0, "UNBIND", "application:com.example.pay", U_NOOP, 5)
            self.check(0, "UNBIND", "admin", DAVE, 2)                    # soft-deleted
            self.check(0, "UNBIND", "developer:99", BOB, 3)              # other developer

    def test_domains_the_columns_cannot_hold_are_refused(self):
        # SPEC is silent: developer_id is a signed BIGINT, application_id a VARCHAR(255)
        # in utf8mb3. The reply is an error and nothing changes; ERR or DBERR both do.
        u = U_RANGE
        with self.intact():
            for domain, role in (("developer:9223372036854775808", 3),
                                 ("developer:18446744073709551615", 3),
                                 ("application:" + "a" * 256, 5),
                                 ("application:\U0001F600", 5),      # 4 bytes in UTF-8
                                 (b"application:\xff", 5)):         # not UTF-8
                with self.subTest(domain=domain[:40]):
                    v = self.call("BIND", domain, u, role)
                    self.assertIsInstance(v, RespError, v)
                    self.assertTrue(str(v).startswith(("ERR ", "DBERR ")), str(v))
                    self.assertEqual(self.call("PING"), "PONG")
            self.assertEqual(self.binding_rows(DEV_T, u) + self.binding_rows(APP_T, u), [])

    def test_check_role_gets_noperm(self):
        c = Conn(self.srv, 2, "checker", CHECK_PW)
        c3 = Conn(self.srv, 3, "checker", CHECK_PW)
        try:
            with self.intact():
                for conn in (c, c3):
                    self.assertEqual(conn.call("CAN", "admin", ROOT, "user:read"), 1)
                    self.assertEqual(conn.call("SESSION", "GET", LEGACY)[:2], [0, ALICE])
                    self.assertIsInstance(conn.call("REVISION"), int)
                    for args, name in ((("BIND", "admin", U_CHECK, 1), "bind"),
                                       (("UNBIND", "admin", ROOT, 1), "unbind"),
                                       (("SESSION", "CREATE", 0, U_CHECK), "session|create")):
                        self.assert_err(conn.call(*args), "NOPERM User checker has no "
                                        "permissions to run the '%s' command" % name, exact=True)
            self.check(0, "CAN", "admin", U_CHECK, "user:read")
            self.check(1, "CAN", "admin", ROOT, "user:read")
        finally:
            c.close()
            c3.close()

    # An application id names a domain byte for byte in every read (CAN, PERMS, DOMAINS,
    # APPFLAGS). BIND and UNBIND must name the same domain: their reply says whether that
    # domain's binding changed, and they touch no other domain's binding.

    def assert_bind_names_its_domain(self, cmd, domain, user, role, perm, other):
        """cmd (BIND/UNBIND) on domain: replies 1 exactly when it changes what CAN says
        there, leaves CAN as the command says, and leaves the other domain as it was,
        unless the reads say the two are one domain."""
        same = self.call("DOMAINS", user)
        before = self.call("CAN", domain, user, perm)
        before_other = self.call("CAN", other, user, perm)
        v = self.call(cmd, domain, user, role)
        after = self.call("CAN", domain, user, perm)
        after_other = self.call("CAN", other, user, perm)
        want = 1 if cmd == "BIND" else 0
        if isinstance(v, RespError):
            self.assertEqual((after, after_other), (before, before_other),
                             "%s %s %s %s refused (%s) but changed answers" %
                             (cmd, domain, user, role, v))
            return v
        self.assertEqual(after, want, "%s %s %d %d replied %r; CAN %s %d %s is %r (was %r; "
                         "DOMAINS %r)" % (cmd, domain, user, role, v, domain, user, perm, after,
                                          before, same))
        self.assertEqual(v, int(before != want), "%s %s %d %d replied %r, but CAN %s was %r "
                         "before" % (cmd, domain, user, role, v, domain, before))
        if before != before_other:   # the reads take them for two domains
            self.assertEqual(after_other, before_other,
                             "%s %s %d %d changed CAN %s %d %s from %r to %r" %
                             (cmd, domain, user, role, other, user, perm, before_other,
                              after_other))
        return v

    def test_unbind_names_its_application_byte_for_byte(self):
        u, lower, upper = U_CASE, "application:com.example.pay", "application:COM.EXAMPLE.PAY"
        self.once(1, "BIND", lower, u, 5)
        try:
            self.check(0, "CAN", upper, u, "version:publish")
            self.check([lower], "DOMAINS", u)
            # Nothing is bound in the domain it names: 0, and lower keeps its binding.
            self.assert_bind_names_its_domain("UNBIND", upper, u, 5, "version:publish", lower)
            self.check(1, "CAN", lower, u, "version:publish")
            self.assertEqual([r[3:5] for r in self.binding_rows(APP_T, u)],
                             [("com.example.pay", 0)])
        finally:
            self.sql("UPDATE %s SET disabled = 0, disabled_at = NULL WHERE user_id = %%s "
                     "AND application_id = 'com.example.pay'" % APP_T, (u,))
            self.waitrev()
            self.call("UNBIND", lower, u, 5)

    def test_bind_names_its_application_byte_for_byte(self):
        u, lower, upper = U_CASE2, "application:com.example.pay", "application:COM.EXAMPLE.PAY"
        self.once(1, "BIND", lower, u, 5)
        try:
            # "Already so" would have to mean CAN upper is 1 now: it is not.
            self.assert_bind_names_its_domain("BIND", upper, u, 5, "version:publish", lower)
            self.check(1, "CAN", lower, u, "version:publish")
        finally:
            self.call("UNBIND", lower, u, 5)

    def test_bind_names_its_application_accents_included(self):
        u = U_ACCENT
        self.once(1, "BIND", "application:cafe", u, 5)
        try:
            self.check(0, "CAN", "application:café", u, "version:publish")
            self.assert_bind_names_its_domain("BIND", "application:café", u, 5,
                                              "version:publish", "application:cafe")
            self.check(1, "CAN", "application:cafe", u, "version:publish")
        finally:
            self.call("UNBIND", "application:cafe", u, 5)


# ==========================================================================================
# Sessions
# ==========================================================================================

S_ROWS, S_TOUCH, S_REVOKEALL, S_SQL, S_TTL = range(201, 206)


class MpSessionsTest(MpCase):
    EXTRA_USERS = (S_ROWS, S_TOUCH, S_REVOKEALL, S_SQL, S_TTL)

    def create(self, user, *ttl):
        v, raw = self.c3.call_raw("SESSION", "CREATE", 0, user, *ttl)
        self.assertIsInstance(v, bytes, v)
        self.assertEqual(raw[:1], b"$")
        token = v.decode()
        self.assertRegex(token, TOKEN_RE)
        return token

    def row(self, value):
        """The session row whose session_token is value: (user, created_ms, expires_ms,
        disabled, disabled_at set), or None."""
        rows = self.sql("SELECT user_id, UNIX_TIMESTAMP(create_time) * 1000, "
                        "UNIX_TIMESTAMP(expired_at) * 1000, disabled, disabled_at IS NOT NULL "
                        "FROM mpbackend_user_session_token WHERE BINARY session_token = %s",
                        (value,))
        self.assertLessEqual(len(rows), 1)
        return tuple(int(x) for x in rows[0]) if rows else None

    def test_create_stores_only_the_hash(self):
        u = S_ROWS
        t0 = int(time.time()) * 1000
        token = self.create(u, "TTL", 600)
        self.assertEqual(len(token), 43)
        got = self.r.execute_command("SESSION", "GET", token)
        self.check(got, "SESSION", "GET", token)
        self.assertEqual(got[:2], [0, u])
        created, expires = got[2], got[3]
        self.assertEqual(created % 1000, 0)        # the table keeps whole seconds
        self.assertEqual(expires % 1000, 0)
        self.assertEqual(expires - created, 600000)
        self.assertLessEqual(abs(created - t0), 5000)
        self.assertEqual(self.row(h1(token)), (u, created, expires, 0, 0))
        self.assertIsNone(self.row(token))         # never the token itself
        stored = [r[0] for r in self.sql("SELECT session_token FROM "
                                         "mpbackend_user_session_token")]
        self.assertFalse([v for v in stored if token in v], stored)
        # The default TTL is session-ttl (7200 s).
        t2 = self.create(u)
        g2 = self.call("SESSION", "GET", t2)
        self.assertEqual(g2[3] - g2[2], 7200000)
        listed = self.r.execute_command("SESSION", "LIST", 0, u)
        self.assertEqual(sorted(listed),
                         sorted([[list_id(token), created, expires], [list_id(t2), g2[2], g2[3]]]))
        self.assertEqual(sorted(dec(self.call3("SESSION", "LIST", 0, u))), sorted(listed))
        self.check(0, "SESSION", "CAN", token, "admin", "user:read")  # no bindings
        self.once(2, "SESSION", "REVOKEALL", 0, u)

    def test_touch_list_revoke(self):
        u = S_TOUCH
        self.once(1, "BIND", "developer:11", u, 3)
        token = self.create(u, "TTL", 60)
        created = self.call("SESSION", "GET", token)[2]
        self.check(1, "SESSION", "CAN", token, "developer:11", "app:create")
        self.check(1, "SESSION", "CAN", token, "developer:011", "app:create")
        self.check(0, "SESSION", "CAN", token, "developer:10", "app:create")
        v, raw = self.c3.call_raw("SESSION", "TOUCH", token, "TTL", 1200)
        self.assertEqual(raw[:1], b":")
        self.assertEqual(v % 1000, 0)
        self.assertGreaterEqual(v, created + 1200000)
        self.assertLessEqual(v, int(time.time() * 1000) + 1200000 + 1000)
        self.check([0, u, created, v], "SESSION", "GET", token)
        self.assertEqual(self.row(h1(token))[2], v)            # written through
        v2 = self.r.execute_command("SESSION", "TOUCH", token)  # the session's own TTL
        self.assertIsInstance(v2, int)
        self.check([[list_id(token), created, v2]], "SESSION", "LIST", 0, u)
        # REVOKE: 1, then 0; the row stays, disabled.
        self.once(1, "SESSION", "REVOKE", token)
        self.check(0, "SESSION", "REVOKE", token)
        self.check(None, "SESSION", "GET", token)
        self.check(None, "SESSION", "TOUCH", token)
        self.check(Err("NOSESSION "), "SESSION", "CAN", token, "developer:11", "app:create")
        self.check([], "SESSION", "LIST", 0, u)
        r = self.row(h1(token))
        self.assertEqual((r[0], r[3], r[4]), (u, 1, 1))
        self.once(1, "UNBIND", "developer:11", u, 3)

    def test_revokeall_counts_rbacd_and_legacy_rows(self):
        u = S_REVOKEALL
        tokens = [self.create(u) for _ in range(2)]
        self.sql("INSERT INTO mpbackend_user_session_token (session_token, user_id, expired_at) "
                 "VALUES ('legacy-s203-0001', %s, '2037-06-01 00:00:00')", (u,))
        self.waitrev()
        got = self.r.execute_command("SESSION", "GET", "legacy-s203-0001")
        self.assertEqual(got[:2], [0, u])
        self.assertEqual(len(self.call("SESSION", "LIST", 0, u)), 3)
        self.once(3, "SESSION", "REVOKEALL", 0, u)
        self.check(0, "SESSION", "REVOKEALL", 0, u)
        for t in tokens + ["legacy-s203-0001"]:
            self.check(None, "SESSION", "GET", t)
        self.check([], "SESSION", "LIST", 0, u)
        self.assertEqual(self.row("legacy-s203-0001")[3], 1)
        self.assertEqual([self.row(h1(t))[3] for t in tokens], [1, 1])

    def test_legacy_demo_token(self):
        self.check([0, ALICE, CREATED_MS, FUTURE_MS], "SESSION", "GET", LEGACY)
        self.check(1, "SESSION", "CAN", LEGACY, "developer:10", "app:publish")
        # Another letter case names no session, and touches and revokes nothing.
        for t in (LEGACY.upper(), "Legacy-token-alice-0001", "legacy-token-alice-000l"):
            with self.subTest(token=t):
                self.check(None, "SESSION", "GET", t)
                self.check(None, "SESSION", "TOUCH", t, "TTL", 30)
                self.check(0, "SESSION", "REVOKE", t)
        self.assertEqual(self.row(LEGACY), (ALICE, CREATED_MS, FUTURE_MS, 0, 0))
        v = self.r.execute_command("SESSION", "TOUCH", LEGACY, "TTL", 300)
        self.assertEqual(v % 1000, 0)
        self.assertLessEqual(abs(v - (int(time.time() * 1000) + 300000)), 5000)
        self.check([0, ALICE, CREATED_MS, v], "SESSION", "GET", LEGACY)
        self.assertEqual(self.row(LEGACY)[2], v)          # the row itself, written through
        self.assertIsNone(self.row(h1(LEGACY)))           # no hashed copy beside it
        self.check([[list_id(LEGACY), CREATED_MS, v]], "SESSION", "LIST", 0, ALICE)
        self.once(1, "SESSION", "REVOKE", LEGACY)
        self.check(0, "SESSION", "REVOKE", LEGACY)
        self.check(None, "SESSION", "GET", LEGACY)
        self.check(Err("NOSESSION "), "SESSION", "CAN", LEGACY, "developer:10", "app:publish")
        r = self.row(LEGACY)
        self.assertEqual((r[0], r[3], r[4]), (ALICE, 1, 1))

    def test_demo_bob_token(self):
        self.check([0, BOB, CREATED_MS, FUTURE_MS], "SESSION", "GET", BOB_TOKEN)
        # The stored value presented as a token names no session, and revokes nothing.
        for t in (BOB_H1, BOB_H1.upper(), BOB_H1[3:]):
            with self.subTest(token=t):
                self.check(None, "SESSION", "GET", t)
                self.check(None, "SESSION", "TOUCH", t)
                self.check(0, "SESSION", "REVOKE", t)
                self.check(Err("NOSESSION "), "SESSION", "CAN", t, "developer:10", "app:read")
        self.check([0, BOB, CREATED_MS, FUTURE_MS], "SESSION", "GET", BOB_TOKEN)
        self.assertEqual(self.row(BOB_H1), (BOB, CREATED_MS, FUTURE_MS, 0, 0))

    def test_demo_sessions_that_do_not_count(self):
        for t in (LEGACY_EXPIRED, LEGACY_DISABLED_ROW, LEGACY_CAROL):
            with self.subTest(token=t):
                self.check(None, "SESSION", "GET", t)
                self.check(None, "SESSION", "TOUCH", t)
                self.check(Err("NOSESSION "), "SESSION", "CAN", t, "admin", "user:read")
        self.check(0, "SESSION", "REVOKE", LEGACY_EXPIRED)
        self.check(0, "SESSION", "REVOKE", LEGACY_DISABLED_ROW)
        self.assertEqual(self.row(LEGACY_EXPIRED)[3], 0)
        # SPEC is silent: carol's session is suspended with her, not over; REVOKE ends it.
        self.check([], "SESSION", "LIST", 0, CAROL)
        self.once(1, "SESSION", "REVOKE", LEGACY_CAROL)
        self.check(0, "SESSION", "REVOKE", LEGACY_CAROL)
        self.assertEqual(self.row(LEGACY_CAROL)[3], 1)
        self.check(Err("ERR no live, enabled user 4"), "SESSION", "CREATE", 0, CAROL)

    def test_tenant_is_0_and_ttl_is_checked(self):
        with self.intact():
            self.check(Err("ERR no live, enabled user 3 in live, enabled tenant 1", exact=True),
                       "SESSION", "CREATE", 1, BOB)
            self.check(Err("ERR no live, enabled user 99 in live, enabled tenant 0",
                           exact=True), "SESSION", "CREATE", 0, 99)
            self.check([], "SESSION", "LIST", 1, BOB)          # SPEC is silent: none there
            self.check(0, "SESSION", "REVOKEALL", 1, BOB)
            self.check([], "SESSION", "LIST", 0, 99)
            self.check(0, "SESSION", "REVOKEALL", 0, 99)
            for ttl in ("0", "-1", "x", "1.5", "31536001", "99999999999"):
                with self.subTest(ttl=ttl):
                    err = Err("ERR invalid TTL: expected whole seconds between 1 and 31536000",
                              exact=True)
                    self.check(err, "SESSION", "CREATE", 0, S_TTL, "TTL", ttl)
                    self.check(err, "SESSION", "TOUCH", BOB_TOKEN, "TTL", ttl)
        self.check(0, "SESSION", "REVOKEALL", 0, S_TTL)
        token = self.create(S_TTL, "TTL", 31536000)   # the largest TTL: a year
        g = self.call("SESSION", "GET", token)
        self.assertEqual(g[3] - g[2], 31536000000)
        t2 = self.r.execute_command("SESSION", "CREATE", "00", S_TTL)   # 0 with zeros
        self.assertRegex(t2, TOKEN_RE)
        self.once(2, "SESSION", "REVOKEALL", "000", S_TTL)

    def test_user_disabled_by_sql_ends_its_sessions(self):
        u = S_SQL
        token = self.create(u)
        self.once(1, "BIND", "admin", u, 2)
        self.check(1, "SESSION", "CAN", token, "admin", "app:audit")
        self.sql("UPDATE mpbackend_user SET disabled = 1 WHERE id = %s", (u,))
        self.visible(lambda: self.call("SESSION", "GET", token) is None,
                     "a session of a user disabled by SQL ends")
        self.check(None, "SESSION", "TOUCH", token)
        self.check(Err("NOSESSION "), "SESSION", "CAN", token, "admin", "app:audit")
        self.check([], "SESSION", "LIST", 0, u)
        self.check(0, "CAN", "admin", u, "app:audit")
        self.check([], "DOMAINS", u)
        self.check(Err("ERR no live, enabled user %d" % u), "SESSION", "CREATE", 0, u)
        # Enabled again: the session, never revoked, is back.
        self.sql("UPDATE mpbackend_user SET disabled = 0 WHERE id = %s", (u,))
        self.visible(lambda: self.call("SESSION", "GET", token) is not None,
                     "the session of a user enabled again")
        self.check(1, "SESSION", "CAN", token, "admin", "app:audit")
        self.once(1, "SESSION", "REVOKE", token)
        self.once(1, "UNBIND", "admin", u, 2)


# ==========================================================================================
# Changes made by SQL
# ==========================================================================================


class MpSqlChangesTest(MpCase):

    def test_role_permissions_updated_by_sql(self):
        maps = "application:io.bolt.maps"
        self.check(["flag:read", "stats:read"], "PERMS", maps, ERIN)
        self.sql("UPDATE mpbackend_role SET permissions = ' stats:read ,maps:edit,, flag:read' "
                 "WHERE id = 6")
        try:
            self.visible(lambda: self.call("CAN", maps, ERIN, "maps:edit") == 1,
                         "a permission added by SQL")
            self.check(["flag:read", "maps:edit", "stats:read"], "PERMS", maps, ERIN)
            self.sql("UPDATE mpbackend_role SET permissions = NULL WHERE id = 6")
            self.visible(lambda: self.call("PERMS", maps, ERIN) == [],
                         "a role's permissions cleared by SQL")
            self.check(["application:com.example.pay", "application:io.bolt.maps"],
                       "DOMAINS", ERIN)      # a role with no permissions still binds
        finally:
            self.sql("UPDATE mpbackend_role SET permissions = 'flag:read,stats:read' "
                     "WHERE id = 6")
            self.waitrev()
        self.check(["flag:read", "stats:read"], "PERMS", maps, ERIN)

    def test_binding_inserted_and_deleted_by_sql(self):
        self.check(0, "CAN", "admin", BOB, "app:audit")
        self.sql("INSERT INTO %s (user_id, role_id) VALUES (%%s, 2)" % ADMIN_T, (BOB,))
        try:
            self.visible(lambda: self.call("CAN", "admin", BOB, "app:audit") == 1,
                         "a binding inserted by SQL")
            self.check(["admin", "developer:10", "developer:11"], "DOMAINS", BOB)
            self.check(0, "BIND", "admin", BOB, 2)      # rbacd sees the row too
        finally:
            self.sql("DELETE FROM %s WHERE user_id = %%s AND role_id = 2" % ADMIN_T, (BOB,))
        self.visible(lambda: self.call("CAN", "admin", BOB, "app:audit") == 0,
                     "a binding deleted by SQL")
        self.check(["developer:10", "developer:11"], "DOMAINS", BOB)
        # A wrong-scope binding inserted by SQL counts for nothing.
        self.sql("INSERT INTO %s (user_id, role_id, developer_id) VALUES (%%s, 5, 77)" % DEV_T,
                 (BOB,))
        self.waitrev()
        self.check(["developer:10", "developer:11"], "DOMAINS", BOB)
        self.check([], "PERMS", "developer:77", BOB)

    def test_binding_soft_deleted_by_sql(self):
        self.check(1, "CAN", "developer:11", BOB, "app:create")
        self.sql("UPDATE %s SET disabled = 1 WHERE id = 2" % DEV_T)
        try:
            self.visible(lambda: self.call("CAN", "developer:11", BOB, "app:create") == 0,
                         "a binding disabled by SQL")
            self.check(["developer:10"], "DOMAINS", BOB)
        finally:
            self.sql("UPDATE %s SET disabled = 0 WHERE id = 2" % DEV_T)
        self.visible(lambda: self.call("CAN", "developer:11", BOB, "app:create") == 1,
                     "a binding enabled again by SQL")

    def test_role_disabled_by_sql(self):
        self.check(["admin"], "DOMAINS", ROOT)
        self.sql("UPDATE mpbackend_role SET disabled = 1 WHERE id = 1")
        try:
            self.visible(lambda: self.call("CAN", "admin", ROOT, "user:write") == 0,
                         "a role disabled by SQL")
            self.check([], "PERMS", "admin", ROOT)
            self.check([], "DOMAINS", ROOT)     # role 7 is disabled too: no usable role
            self.check(Err("ERR unknown role 1", exact=True), "BIND", "admin", ALICE, 1)
        finally:
            self.sql("UPDATE mpbackend_role SET disabled = 0 WHERE id = 1")
        self.visible(lambda: self.call("CAN", "admin", ROOT, "user:write") == 1,
                     "a role enabled again by SQL")
        self.check(["admin"], "DOMAINS", ROOT)

    def test_role_scope_changed_by_sql(self):
        chat = "application:com.example.chat"
        self.check(0, "CAN", chat, ALICE, "app:publish")
        self.sql("UPDATE mpbackend_role SET scope = 'Application' WHERE id = 3")
        try:
            # alice's application binding of role 3 now counts, her developer one not.
            self.visible(lambda: self.call("CAN", chat, ALICE, "app:publish") == 1,
                         "a role's scope changed by SQL")
            self.check([chat, "developer:11"], "DOMAINS", ALICE)
            self.check(0, "CAN", "developer:10", ALICE, "app:publish")
        finally:
            self.sql("UPDATE mpbackend_role SET scope = 'Developer' WHERE id = 3")
            self.waitrev()
        self.check(["developer:10", "developer:11"], "DOMAINS", ALICE)

    def test_user_disabled_by_sql(self):
        self.check(BOB, "USERBYLOGIN", "okta", "00ushared")
        self.check([0, BOB, CREATED_MS, FUTURE_MS], "SESSION", "GET", BOB_TOKEN)
        dbsize = self.call("DBSIZE")
        self.sql("UPDATE mpbackend_user SET disabled = 1 WHERE id = %s", (BOB,))
        try:
            self.visible(lambda: self.call("SESSION", "GET", BOB_TOKEN) is None,
                         "a session of a user disabled by SQL ends")
            self.check(DAVE, "USERBYLOGIN", "okta", "00ushared")   # the next live user
            self.check([], "DOMAINS", BOB)
            self.check(0, "CAN", "developer:10", BOB, "app:upload")
            self.check(Err("NOSESSION "), "SESSION", "CAN", BOB_TOKEN, "developer:10", "app:read")
            self.check(dbsize - 1, "DBSIZE")
        finally:
            self.sql("UPDATE mpbackend_user SET disabled = 0 WHERE id = %s", (BOB,))
        self.visible(lambda: self.call("SESSION", "GET", BOB_TOKEN) is not None,
                     "a user enabled again by SQL")
        self.check(BOB, "USERBYLOGIN", "okta", "00ushared")
        self.check(["developer:10", "developer:11"], "DOMAINS", BOB)

    def test_login_methods_and_flags_changed_by_sql(self):
        self.check(None, "USERBYLOGIN", "email", "bob@new.example")
        self.sql("INSERT INTO mpbackend_account_login_method (user_id, provider_key, "
                 "login_provider) VALUES (%s, 'bob@new.example', 'email')", (BOB,))
        self.visible(lambda: self.call("USERBYLOGIN", "email", "bob@new.example") == BOB,
                     "a login method inserted by SQL")
        self.sql("UPDATE mpbackend_account_login_method SET disabled = 1 WHERE id = 3")
        self.visible(lambda: self.call("USERBYLOGIN", "okta", "00u1alice") is None,
                     "a login method disabled by SQL")
        self.sql("INSERT INTO mpbackend_application_permission_flag_binding "
                 "(application_id, permission_flag_id) VALUES ('io.bolt.maps', 4)")
        self.visible(lambda: len(self.call("APPFLAGS", "io.bolt.maps")) == 2,
                     "a flag binding inserted by SQL")
        self.check([["bluetooth", "[]"], ["location", '["coarse"]']], "APPFLAGS", "io.bolt.maps")
        self.sql("UPDATE mpbackend_application_permission_flag SET name = 'zoom' WHERE id = 4")
        self.waitrev()
        self.check([["location", '["coarse"]'], ["zoom", "[]"]], "APPFLAGS", "io.bolt.maps")

    def test_waitrev_makes_a_change_visible_at_once(self):
        rev = self.call("REVISION")
        self.sql("UPDATE mpbackend_role SET permissions = 'ticket:read,ticket:reply,ticket:close' "
                 "WHERE id = %s", (SUPPORT,))
        try:
            target = self.max_change()
            self.assertGreater(target, rev)
            v, raw = self.c3.call_raw("WAITREV", target, WAITREV_MS)
            self.assertEqual(raw, b":1\r\n")
            self.assertGreaterEqual(self.call("REVISION"), target)
            self.check(["ticket:close", "ticket:read", "ticket:reply"], "PERMS",
                       "application:com.example.pay", ERIN)
            self.check(0, "WAITREV", target + 1000, 50)     # not yet: 0 after the timeout
        finally:
            self.sql("UPDATE mpbackend_role SET permissions = 'ticket:read, ticket:reply' "
                     "WHERE id = %s", (SUPPORT,))
            self.waitrev()


if __name__ == "__main__":
    unittest.main(verbosity=2)
