"""The mpbackend profile's commands against its demo world (schema/mpbackend/demo/README.md):
bad input (each a clear error or a denial, the server and the data intact after it),
BIND / UNBIND written through, sessions on mpbackend_user_session_token (rbacd's hashed
rows and the service's raw ones), changes made by SQL, and what HELP and COMMAND show.
The answers of every read against an independent model are test_mp_differential.py's."""

import hashlib
import time

import harness
from harness import RespError

ROOT = 1                 # root: admin role 1 (user:read, user:write, app:audit)
ALICE, BOB, CAROL, DAVE = 2, 3, 4, 5
ERIN = 4294967297        # 64-bit user id
LEGACY = "legacy-token-alice-0001"                         # a row holding the token itself
BOB_TOKEN = "demo-bob-session-0123456789ABCDEFGHIJKLMNOQ"  # a row holding 'h1:' + hash
CHECK_PW = "mp-check-pw"
ADMIN_PW = "mp-admin-pw"
SYNC_S = 2.0             # changes by SQL show within a second: this leaves room


def h1(token):
    return "h1:" + hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


def until(fn, seconds=SYNC_S):
    """Polls fn every 20 ms until it returns a true value (returned) or seconds pass
    (None)."""
    deadline = time.monotonic() + seconds
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)


class MpCommandsTest(harness.ServerTestCase):
    PROFILE = "mpbackend"
    SERVER_KW = {"password": ADMIN_PW}

    @classmethod
    def setUpClass(cls):
        cls.CONF_LINES = ["profile mpbackend", "requirepass " + ADMIN_PW,
                          "user checker check " + harness.hash_password(CHECK_PW)]
        super().setUpClass()

    def call(self, *args):
        """One request on a raw RESP2 connection; errors come back as RespError."""
        with self.srv.raw_connection() as c:
            c.call("AUTH", ADMIN_PW)
            return c.call(*args)

    def call3(self, *args):
        """The same in RESP3 (HELLO 3 first)."""
        with self.srv.raw_connection() as c:
            c.call("HELLO", "3", "AUTH", "default", ADMIN_PW)
            return c.call(*args)

    def assert_err(self, reply, prefix):
        self.assertIsInstance(reply, RespError, reply)
        self.assertTrue(str(reply).startswith(prefix), str(reply))

    def snapshot(self):
        """A few answers that bad input must leave as they were."""
        return (self.call("PERMS", "admin", ROOT), self.call("DOMAINS", ALICE),
                self.call("USERBYLOGIN", "okta", "00u1alice"), self.call("DBSIZE"),
                self.db.sql("SELECT COUNT(*) FROM rbac_change")[0][0])

    # ------------------------------------------------------------------ reads ----

    def test_reads_and_reply_types(self):
        self.assertEqual(self.call("CAN", "admin", ROOT, "user:write"), 1)
        self.assertEqual(self.call3("CAN", "admin", ROOT, "user:write"), 1)
        # A developer id with leading zeros is the same domain.
        self.assertEqual(self.call("CAN", "developer:010", BOB, "app:upload"), 1)
        self.assertEqual(self.call("PERMS", "developer:0010", BOB), [b"app:read", b"app:upload"])
        self.assertEqual(self.call("DOMAINS", ERIN),
                         [b"application:com.example.pay", b"application:io.bolt.maps"])
        self.assertEqual(self.call("USERBYLOGIN", "okta", "00urecycled"), ERIN)
        self.assertIsNone(self.call3("USERBYLOGIN", "email", "nobody@example.com"))
        self.assertEqual(self.call("APPFLAGS", "com.example.chat"),
                         [[b"bluetooth", b"[]"], [b"camera", b'["front","back"]'],
                          [b"camera", b'["front"]']])
        self.assertEqual(self.call("APPFLAGS", "no.such.app"), [])
        why = self.call("WHY", "admin", ALICE, "app:audit")
        self.assertEqual(why[0], b"deny")
        self.assertIn(b"has scope Application but is bound through the Admin binding table",
                      b"\n".join(why))
        self.assertEqual(self.call("WHY", "admin", ROOT, "user:read")[0], b"allow")

    # -------------------------------------------------------------- bad input ----

    def test_bad_input_is_an_error_or_a_denial_and_changes_nothing(self):
        before = self.snapshot()
        for d in ("bogus", "Admin", "admin:", "developer:", "developer:x", "developer:-1",
                  "application:", "application:a b", "tenant:1"):
            with self.subTest(domain=d):
                self.assert_err(self.call("CAN", d, ROOT, "user:read"), "ERR invalid domain")
                self.assert_err(self.call("PERMS", d, ROOT), "ERR invalid domain")
                self.assert_err(self.call("BIND", d, ALICE, 1), "ERR invalid domain")
        # WHY explains a malformed domain instead of refusing it.
        self.assertEqual(self.call("WHY", "bogus", ROOT, "user:read")[:2],
                         [b"deny", b"invalid domain 'bogus': expected admin, developer:<id> or "
                                   b"application:<app_id>"])
        # A permission holding a comma names nothing: names are split on commas.
        self.assertEqual(self.call("CAN", "admin", ROOT, "user:read,user:write"), 0)
        self.assertEqual(self.call("CAN", "admin", ROOT, "user:read, "), 0)
        # Ids.
        for args in (("CAN", "admin", "x", "p"), ("PERMS", "admin", "-1"), ("DOMAINS", "1.5"),
                     ("BIND", "admin", "2", "99999999999999999999")):
            with self.subTest(args=args):
                self.assert_err(self.call(*args), "ERR invalid id")
        # Arity.
        for args in (("CAN", "admin", "1"), ("DOMAINS",), ("USERBYLOGIN", "email"),
                     ("APPFLAGS",), ("BIND", "admin", "1")):
            with self.subTest(args=args):
                self.assert_err(self.call(*args), "ERR wrong number of arguments")
        # Unknown provider, key, application: denials.
        self.assertIsNone(self.call("USERBYLOGIN", "github", "root@example.com"))
        self.assertIsNone(self.call("USERBYLOGIN", "email", "x" * 400))
        self.assertEqual(self.call("PERMS", "admin", 99), [])
        self.assertEqual(self.call("CAN", "application:no.such.app", ROOT, "user:read"), 0)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.call("PING"), "PONG")

    def test_wrong_scope_and_unknown_names_are_refused(self):
        before = self.snapshot()
        # Role 3 is a Developer role: it cannot go into admin or an application.
        reply = self.call("BIND", "admin", ALICE, 3)
        self.assert_err(reply, "ERR role 3 has scope Developer")
        self.assertIn("takes roles of scope Admin", str(reply))
        self.assert_err(self.call("BIND", "application:com.example.pay", ALICE, 3),
                        "ERR role 3 has scope Developer")
        self.assert_err(self.call("UNBIND", "admin", ALICE, 5), "ERR role 5 has scope Application")
        self.assert_err(self.call("BIND", "admin", 99, 1), "ERR unknown user 99")
        self.assert_err(self.call("BIND", "admin", CAROL, 1), "ERR unknown user 4")  # disabled
        self.assert_err(self.call("BIND", "admin", ALICE, 7), "ERR unknown role 7")  # disabled
        self.assert_err(self.call("BIND", "admin", ALICE, 999), "ERR unknown role 999")
        self.assertEqual(self.snapshot(), before)

    # ----------------------------------------------------------------- writes ----

    def binding_rows(self, table, user, role, extra=""):
        return self.db.sql("SELECT id, disabled FROM %s WHERE user_id = %d AND role_id = %d%s "
                           "ORDER BY id" % (table, user, role, extra))

    def test_bind_unbind_written_through(self):
        rev0 = self.call("REVISION")
        self.assertEqual(self.call("CAN", "admin", ALICE, "user:write"), 0)
        self.assertEqual(self.call("BIND", "admin", ALICE, 1), 1)
        self.assertEqual(self.call("BIND", "admin", ALICE, 1), 0)
        self.assertEqual(self.call("CAN", "admin", ALICE, "user:write"), 1)
        self.assertIn(b"admin", self.call("DOMAINS", ALICE))
        self.assertGreater(self.call("REVISION"), rev0)
        self.assertEqual(len(self.binding_rows("mpbackend_admin_user_role_binding", ALICE, 1)), 1)
        # UNBIND soft-deletes: the row stays, disabled.
        self.assertEqual(self.call("UNBIND", "admin", ALICE, 1), 1)
        self.assertEqual(self.call("UNBIND", "admin", ALICE, 1), 0)
        self.assertEqual(self.call("CAN", "admin", ALICE, "user:write"), 0)
        rows = self.binding_rows("mpbackend_admin_user_role_binding", ALICE, 1)
        self.assertEqual([r[1] for r in rows], [1])
        # BIND again revives that row: no second one beside it.
        self.assertEqual(self.call("BIND", "admin", ALICE, 1), 1)
        self.assertEqual(self.binding_rows("mpbackend_admin_user_role_binding", ALICE, 1),
                         [(rows[0][0], 0)])
        self.assertEqual(self.call("UNBIND", "admin", ALICE, 1), 1)
        # Developer and application domains go to their tables.
        self.assertEqual(self.call("BIND", "developer:012", DAVE, 4), 1)
        self.assertEqual(len(self.binding_rows("mpbackend_developer_user_role_binding", DAVE, 4,
                                               " AND developer_id = 12 AND disabled = 0")), 1)
        self.assertEqual(self.call("PERMS", "developer:12", DAVE), [b"app:read", b"app:upload"])
        self.assertEqual(self.call("BIND", "application:org.new.app", ERIN, 5), 1)
        self.assertEqual(len(self.binding_rows(
            "mpbackend_application_user_role_binding", ERIN, 5,
            " AND application_id = 'org.new.app' AND disabled = 0")), 1)
        self.assertEqual(self.call("CAN", "application:org.new.app", ERIN, "version:audit"), 1)
        self.assertEqual(self.call("UNBIND", "developer:12", DAVE, 4), 1)
        self.assertEqual(self.call("UNBIND", "application:org.new.app", ERIN, 5), 1)
        self.assertEqual(self.call("CAN", "application:org.new.app", ERIN, "version:audit"), 0)

    def test_check_role_cannot_bind(self):
        with self.srv.raw_connection() as c:
            self.assertEqual(c.call("AUTH", "checker", CHECK_PW), "OK")
            self.assertEqual(c.call("CAN", "admin", ROOT, "user:read"), 1)
            self.assert_err(c.call("BIND", "admin", ALICE, 1), "NOPERM ")
            self.assert_err(c.call("UNBIND", "admin", ROOT, 1), "NOPERM ")
        self.assertEqual(self.call("CAN", "admin", ROOT, "user:read"), 1)

    # --------------------------------------------------------------- sessions ----

    def session_row(self, value):
        return self.db.sql("SELECT user_id, disabled FROM mpbackend_user_session_token "
                           "WHERE session_token = %s", (value,))

    def test_sessions_hashed_rows(self):
        token = self.call("SESSION", "CREATE", 0, BOB, "TTL", 600)
        self.assertIsInstance(token, bytes)
        token = token.decode()
        self.assertEqual(len(token), 43)
        self.assertEqual(self.session_row(h1(token)), [(BOB, 0)])
        self.assertEqual(self.session_row(token), [])  # the token itself is never stored
        got = self.call("SESSION", "GET", token)
        self.assertEqual(got[:2], [0, BOB])
        self.assertEqual(got[2] % 1000, 0)  # the table's times are whole seconds
        self.assertEqual(got[3] - got[2], 600000)
        self.assertEqual(self.call("SESSION", "CAN", token, "developer:11", "app:create"), 1)
        self.assertEqual(self.call("SESSION", "CAN", token, "admin", "user:read"), 0)
        expires = self.call("SESSION", "TOUCH", token, "TTL", 1200)
        self.assertGreaterEqual(expires - got[2], 1200000)
        ids = [e[0] for e in self.call("SESSION", "LIST", 0, BOB)]
        self.assertIn(h1(token)[3:19].encode(), ids)
        self.assertEqual(self.call("SESSION", "REVOKE", token), 1)
        self.assertEqual(self.call("SESSION", "REVOKE", token), 0)
        self.assertIsNone(self.call("SESSION", "GET", token))
        self.assert_err(self.call("SESSION", "CAN", token, "admin", "user:read"), "NOSESSION")
        self.assertEqual(self.session_row(h1(token)), [(BOB, 1)])
        # The stored value is not a token.
        self.assertIsNone(self.call("SESSION", "GET", h1(BOB_TOKEN)))
        self.assertEqual(self.call("SESSION", "GET", BOB_TOKEN)[:2], [0, BOB])

    def test_sessions_legacy_rows(self):
        self.assertEqual(self.call("SESSION", "GET", LEGACY)[:2], [0, ALICE])
        self.assertEqual(self.call("SESSION", "CAN", LEGACY, "developer:10", "app:publish"), 1)
        self.assertIsNone(self.call("SESSION", "GET", LEGACY.upper()))  # exact, not by collation
        self.assertIsNotNone(self.call("SESSION", "TOUCH", LEGACY, "TTL", 60))
        # Expired, disabled and disabled-user rows name no session.
        for t in ("legacy-token-alice-0002", "legacy-token-dave-0003", "legacy-token-carol-0004"):
            self.assertIsNone(self.call("SESSION", "GET", t))
        self.assertEqual(self.call("SESSION", "REVOKE", LEGACY), 1)
        self.assertIsNone(self.call("SESSION", "GET", LEGACY))
        self.assertEqual(self.session_row(LEGACY)[0][1], 1)

    def test_session_bad_input(self):
        for t in ("a b", "x" * 300, "", "tok\x01en"):
            with self.subTest(token=t):
                self.assertIsNone(self.call("SESSION", "GET", t))
                self.assertIsNone(self.call3("SESSION", "TOUCH", t))
                self.assertEqual(self.call("SESSION", "REVOKE", t), 0)
                self.assert_err(self.call("SESSION", "CAN", t, "admin", "user:read"), "NOSESSION")
        self.assert_err(self.call("SESSION", "CAN", BOB_TOKEN, "bogus", "x"), "ERR invalid domain")
        self.assert_err(self.call("SESSION", "CREATE", 1, BOB), "ERR no live, enabled user 3")
        self.assert_err(self.call("SESSION", "CREATE", 0, CAROL), "ERR no live, enabled user 4")
        self.assert_err(self.call("SESSION", "CREATE", 0, BOB, "TTL", 0), "ERR invalid TTL")
        self.assert_err(self.call("SESSION", "LOGIN", "t", "alice", "pw"),
                        "ERR SESSION LOGIN needs profile bitenant: ")
        self.assert_err(self.call("SESSION", "CANMENU", BOB_TOKEN, "1"),
                        "ERR SESSION CANMENU needs profile bitenant")
        self.assert_err(self.call("SESSION", "MENUS", BOB_TOKEN),
                        "ERR SESSION MENUS needs profile bitenant")
        self.assert_err(self.call("CANMENU", 1, 1, 1), "ERR CANMENU needs profile bitenant")
        self.assertEqual(self.call("SESSION", "LIST", 1, BOB), [])

    def test_revokeall_counts_legacy_rows_too(self):
        t = self.call("SESSION", "CREATE", 0, ERIN).decode()
        self.db.sql("INSERT INTO mpbackend_user_session_token (session_token, user_id, "
                    "expired_at) VALUES ('legacy-erin-0001', %d, '2037-12-31 00:00:00')" % ERIN)
        self.assertEqual(until(lambda: self.call("SESSION", "GET", "legacy-erin-0001")),
                         self.call("SESSION", "GET", "legacy-erin-0001"))
        self.assertEqual(self.call("SESSION", "REVOKEALL", 0, ERIN), 2)
        self.assertIsNone(self.call("SESSION", "GET", t))
        self.assertIsNone(self.call("SESSION", "GET", "legacy-erin-0001"))

    # ------------------------------------------------------------ changes by SQL ----

    def test_sql_changes_show_within_a_second(self):
        self.db.sql("UPDATE mpbackend_role SET permissions = 'flag:read, stats:read, maps:edit' "
                    "WHERE id = 6")
        self.assertTrue(until(lambda: self.call("CAN", "application:io.bolt.maps", ERIN,
                                                "maps:edit") == 1))
        self.db.sql("INSERT INTO mpbackend_admin_user_role_binding (user_id, role_id) "
                    "VALUES (%d, 2)" % BOB)
        self.assertTrue(until(lambda: self.call("CAN", "admin", BOB, "app:audit") == 1))
        self.db.sql("UPDATE mpbackend_role SET disabled = 1 WHERE id = 2")
        self.assertTrue(until(lambda: self.call("CAN", "admin", BOB, "app:audit") == 0))
        self.db.sql("UPDATE mpbackend_role SET disabled = 0 WHERE id = 2")
        self.assertTrue(until(lambda: self.call("CAN", "admin", BOB, "app:audit") == 1))
        # A user disabled by SQL: answers and sessions end.
        self.assertEqual(self.call("SESSION", "GET", BOB_TOKEN)[:2], [0, BOB])
        self.db.sql("UPDATE mpbackend_user SET disabled = 1 WHERE id = %d" % BOB)
        self.assertTrue(until(lambda: self.call("SESSION", "GET", BOB_TOKEN) is None))
        self.assertEqual(self.call("DOMAINS", BOB), [])
        self.db.sql("UPDATE mpbackend_user SET disabled = 0 WHERE id = %d" % BOB)
        self.assertTrue(until(lambda: self.call("SESSION", "GET", BOB_TOKEN) is not None))
        # Login methods and flags.
        self.db.sql("INSERT INTO mpbackend_account_login_method (user_id, provider_key, "
                    "login_provider) VALUES (%d, 'bob@new.example', 'email')" % BOB)
        self.assertTrue(until(lambda: self.call("USERBYLOGIN", "email", "bob@new.example") == BOB))
        self.db.sql("INSERT INTO mpbackend_application_permission_flag_binding "
                    "(application_id, permission_flag_id) VALUES ('io.bolt.maps', 3)")
        self.assertTrue(until(lambda: [b"payment", b'["alipay","card","wallet"]'] in
                              self.call("APPFLAGS", "io.bolt.maps")))

    # ------------------------------------------------------------ what is shown ----

    def test_help_and_command_list_show_this_profile(self):
        help_lines = self.call("SESSION", "HELP")
        self.assertIn("CAN <token> <domain> <permission>", help_lines)
        self.assertFalse(any("CANMENU" in line for line in help_lines))
        names = self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "can*")
        self.assertIn(b"can", names)
        self.assertNotIn(b"canmenu", names)
        self.assertIn(b"session|can", self.call("COMMAND", "LIST", "FILTERBY", "PATTERN",
                                                "session|c*"))


if __name__ == "__main__":
    harness.main()
