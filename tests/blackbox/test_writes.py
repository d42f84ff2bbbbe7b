#!/usr/bin/env python3
"""test_writes.py — the write-through commands of SPEC §2 on the demo data set.

For every write command: its effect in the database (the changed rows, its rbac_change
rows, one tenant_operation_log row naming the authenticated client user) and in reads
on the same connection right after the reply (read-your-writes), the :1/:0 answers,
unknown tenant/role/user/menu/package as -ERR with nothing changed, the tenant-admin
rule, USER DISABLE revoking sessions, ACL (a `check` user cannot write), pipelined
writes and reads keeping their order, REVISION / WAITREV on one instance, -DBERR with
memory and database unchanged when the database refuses, and what a write costs end to
end (printed).
"""

import os
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import RespError, ServerTestCase, encode_command  # noqa: E402

WRITER_PW = "writer-secret-1"
READER_PW = "reader-secret-1"
DAY_MS = 86400000


def now_ms():
    return int(time.time() * 1000)


class WritesTest(ServerTestCase):
    """One server, authenticated as `writer` (role admin); `reader` has role check."""

    @classmethod
    def setUpClass(cls):
        cls.CONF_LINES = [
            "user writer admin " + harness.hash_password(WRITER_PW),
            "user reader check " + harness.hash_password(READER_PW),
        ]
        cls.SERVER_KW = {"username": "writer", "password": WRITER_PW}
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.raw = self.srv.raw_connection()
        self.assertEqual(self.raw.call("AUTH", "writer", WRITER_PW), "OK")

    def tearDown(self):
        self.raw.close()
        super().tearDown()

    # ---- helpers ----

    def q(self, *cmd):
        return self.r.execute_command(*cmd)

    def call(self, *cmd):
        """The reply as the server sent it (errors are returned, with their prefix)."""
        return self.raw.call(*cmd)

    def assertErr(self, reply, prefix, contains=None):
        self.assertIsInstance(reply, RespError, "expected an error, got %r" % (reply,))
        self.assertTrue(str(reply).startswith(prefix + " "), str(reply))
        if contains:
            self.assertIn(contains, str(reply))

    def max_change(self):
        return self.db.sql("SELECT COALESCE(MAX(id), 0) FROM rbac_change")[0][0]

    def changes_since(self, rev):
        return [tuple(r) for r in self.db.sql(
            "SELECT entity, entity_id FROM rbac_change WHERE id > %s ORDER BY id", (rev,))]

    def last_oplog(self):
        rows = self.db.sql("SELECT tenant_id, user_id, operator, module, action, target, detail "
                           "FROM tenant_operation_log ORDER BY log_id DESC LIMIT 1")
        return rows[0] if rows else None

    def oplog_count(self):
        return self.db.sql("SELECT COUNT(*) FROM tenant_operation_log")[0][0]

    # ---- ROLE GRANT / REVOKE ----

    def test_role_grant_and_revoke(self):
        # bob (user 3) holds only viewer (role 2): list pages.
        self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:add"), 0)
        rev = self.max_change()
        # 511 named twice (by code and by id) counts once.
        self.assertEqual(self.call("ROLE", "GRANT", "1", "2", "sys:user:add", "511", "512"), 2)
        # Read-your-writes: the same connection sees it at once.
        self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:add"), 1)
        self.assertEqual(self.call("CANMENU", "1", "3", "512"), 1)
        rows = self.db.sql("SELECT menu_id FROM tenant_role_menu WHERE role_id = 2 AND menu_id IN "
                           "(511, 512) ORDER BY menu_id")
        self.assertEqual([r[0] for r in rows], [511, 512])
        self.assertEqual(self.changes_since(rev), [("tenant_role_menu", 2)] * 2)
        self.assertEqual(self.last_oplog()[:6], (1, 0, "writer", "role", "grant", "role:2"))
        self.assertGreaterEqual(self.call("REVISION"), self.max_change())
        # Already there: 0 added, no change rows, still one operation log row.
        before, logs = self.max_change(), self.oplog_count()
        self.assertEqual(self.call("ROLE", "GRANT", "1", "2", "511"), 0)
        self.assertEqual(self.max_change(), before)
        self.assertEqual(self.oplog_count(), logs + 1)
        # Revoke both (and one it never had): 2 removed.
        self.assertEqual(self.call("ROLE", "REVOKE", "1", "2", "511", "sys:user:edit", "513"), 2)
        self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:add"), 0)
        self.assertEqual(self.call("CANMENU", "1", "3", "512"), 0)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM tenant_role_menu WHERE role_id = 2 AND "
                                     "menu_id IN (511, 512)")[0][0], 0)
        self.assertEqual(self.call("ROLE", "REVOKE", "1", "2", "511"), 0)
        self.assertEqual(self.last_oplog()[3:6], ("role", "revoke", "role:2"))

    def test_grant_outside_package_is_kept(self):
        # acme (tenant 2) is on pro, which lacks sys:menu:list (530): a grant is stored
        # and the read still says no (SPEC: kept, not usable until an upgrade).
        self.assertEqual(self.call("ROLE", "GRANT", "2", "12", "530"), 1)
        self.assertEqual(self.call("CANMENU", "2", "13", "530"), 0)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM tenant_role_menu WHERE role_id = 12 "
                                     "AND menu_id = 530")[0][0], 1)
        self.assertEqual(self.call("ROLE", "REVOKE", "2", "12", "530"), 1)

    # ---- unknown things ----

    def test_unknown_entities_change_nothing(self):
        rev, logs = self.max_change(), self.oplog_count()
        cases = [
            (("ROLE", "GRANT", "9", "2", "511"), "unknown tenant 9"),
            (("ROLE", "GRANT", "1", "99", "511"), "unknown role 99"),
            (("ROLE", "GRANT", "1", "11", "511"), "unknown role 11 in tenant 1"),  # acme's
            (("ROLE", "GRANT", "1", "4", "511"), "unknown role 4"),  # soft-deleted
            (("ROLE", "GRANT", "1", "2", "511", "no:such:menu"), "unknown menu 'no:such:menu'"),
            (("ROLE", "REVOKE", "1", "2", "516"), "unknown menu '516'"),  # soft-deleted
            (("ROLE", "GRANT", "1", "2", "999999"), "unknown menu"),
            (("USER", "ADDROLE", "1", "99", "2"), "unknown user 99 in tenant 1"),
            (("USER", "ADDROLE", "1", "5", "2"), "unknown user 5"),  # soft-deleted dave
            (("USER", "ADDROLE", "1", "12", "2"), "unknown user 12"),  # mia is acme's
            (("USER", "ADDROLE", "1", "3", "99"), "unknown role 99"),
            (("USER", "DELROLE", "1", "3", "11"), "unknown role 11"),
            (("USER", "ENABLE", "7", "3"), "unknown tenant 7"),
            (("USER", "ADDSTORE", "1", "99", "1"), "unknown user 99"),
            (("USER", "DELEGATE", "1", "3", "99"), "unknown user 99"),
            (("USER", "DELEGATE", "1", "3", "12"), "unknown user 12"),
            (("USER", "DELEGATE", "1", "3", "3"), "cannot delegate to itself"),
            (("TENANT", "SUBSCRIBE", "1", "99", "0", "1000"), "unknown package 99"),
            (("TENANT", "SUBSCRIBE", "99", "1", "0", "1000"), "unknown tenant 99"),
            (("TENANT", "DISABLE", "99"), "unknown tenant 99"),
        ]
        for cmd, text in cases:
            with self.subTest(cmd=" ".join(cmd)):
                self.assertErr(self.call(*cmd), "ERR", text)
        self.assertEqual(self.max_change(), rev)
        self.assertEqual(self.oplog_count(), logs)
        self.assertEqual(self.call("PING"), "PONG")

    def test_bad_arguments(self):
        cases = [
            ("ROLE", "GRANT", "1", "2"),                        # no menu
            ("ROLE", "GRANT", "1", "x", "511"),                 # bad id
            ("ROLE", "GRANT", "1", "2", "18446744073709551616"),  # id out of range
            ("USER", "ADDROLE", "1", "3"),
            ("USER", "ADDROLE", "1", "3", "-1"),
            ("USER", "FLY", "1", "3"),
            ("TENANT", "SUBSCRIBE", "1", "3", "5", "4"),        # start after end
            ("TENANT", "SUBSCRIBE", "1", "3", "-5", "4"),
            ("TENANT", "SUBSCRIBE", "1", "3", "0", "999999999999999999"),
            ("USER",),                                          # bare container
            ("WAITREV", "1", "-1"),
            ("WAITREV", "x", "10"),
        ]
        for cmd in cases:
            with self.subTest(cmd=" ".join(cmd)):
                self.assertErr(self.call(*cmd), "ERR")
        # Bare ROLE is Redis's replication role, not a write (SPEC §2).
        self.assertEqual(self.call("ROLE"), [b"master", 0, []])

    # ---- USER ----

    def test_user_addrole_delrole(self):
        self.assertEqual(self.call("ROLES", "1", "3"), [2])
        self.assertEqual(self.call("USER", "ADDROLE", "1", "3", "1"), 1)
        self.assertEqual(self.call("ROLES", "1", "3"), [1, 2])
        self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:add"), 1)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM tenant_user_role WHERE user_id = 3 AND "
                                     "role_id = 1")[0][0], 1)
        self.assertEqual(self.last_oplog()[:6], (1, 3, "writer", "user", "addrole", "user:3"))
        self.assertEqual(self.call("USER", "ADDROLE", "1", "3", "1"), 0)
        rev = self.max_change()
        self.assertEqual(self.call("USER", "DELROLE", "1", "3", "1"), 1)
        self.assertEqual(self.changes_since(rev), [("tenant_user_role", 3)])
        self.assertEqual(self.call("ROLES", "1", "3"), [2])
        self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:add"), 0)
        self.assertEqual(self.call("USER", "DELROLE", "1", "3", "1"), 0)

    def test_user_disable_enable_revokes_sessions(self):
        token_hash = os.urandom(32)
        self.db.sql("INSERT INTO tenant_session (token_hash, tenant_id, user_id, expires_at) "
                    "VALUES (%s, 1, 2, NOW(3) + INTERVAL 1 HOUR)", (token_hash,))
        self.assertEqual(self.call("CANMENU", "1", "2", "511"), 1)
        self.assertEqual(self.call("USER", "DISABLE", "1", "2"), 1)
        self.assertEqual(self.call("CANMENU", "1", "2", "511"), 0)
        self.assertEqual(self.call("MENUS", "1", "2"), [])
        self.assertEqual(self.db.sql("SELECT status FROM tenant_user WHERE id = 2")[0][0], 0)
        self.assertEqual(self.db.sql("SELECT revoked FROM tenant_session WHERE token_hash = %s",
                                     (token_hash,))[0][0], 1)
        self.assertEqual(self.last_oplog()[:5], (1, 2, "writer", "user", "disable"))
        self.assertEqual(self.call("USER", "DISABLE", "1", "2"), 0)
        self.assertEqual(self.call("USER", "ENABLE", "1", "2"), 1)
        self.assertEqual(self.call("CANMENU", "1", "2", "511"), 1)
        self.assertEqual(self.call("USER", "ENABLE", "1", "2"), 0)
        self.db.sql("DELETE FROM tenant_session WHERE token_hash = %s", (token_hash,))

    def test_tenant_admin_cannot_be_disabled(self):
        rev = self.max_change()
        self.assertErr(self.call("USER", "DISABLE", "1", "1"), "ERR", "tenant admin")
        self.assertEqual(self.call("CANMENU", "1", "1", "sys:user:add"), 1)
        self.assertEqual(self.db.sql("SELECT status FROM tenant_user WHERE id = 1")[0][0], 1)
        self.assertEqual(self.max_change(), rev)
        # Enabling an admin is fine (and a no-op here).
        self.assertEqual(self.call("USER", "ENABLE", "1", "1"), 0)

    def test_user_stores_and_delegates(self):
        # bob (3) inherits alice's (2) stores; alice inherits frank's (7).
        self.assertEqual(self.call("USER", "ADDSTORE", "1", "3", "4242"), 1)
        self.assertEqual(self.call("CANSTORE", "1", "3", "4242"), 1)
        self.assertEqual(self.call("USER", "ADDSTORE", "1", "3", "4242"), 0)
        # A store given to a delegate reaches whoever delegates to it, at once.
        self.assertEqual(self.call("USER", "ADDSTORE", "1", "2", "4343"), 1)
        self.assertEqual(self.call("CANSTORE", "1", "3", "4343"), 1)
        self.assertEqual(self.call("USER", "DELSTORE", "1", "2", "4343"), 1)
        self.assertEqual(self.call("CANSTORE", "1", "3", "4343"), 0)
        self.assertEqual(self.call("USER", "DELSTORE", "1", "3", "4242"), 1)
        self.assertEqual(self.call("USER", "DELSTORE", "1", "3", "4242"), 0)
        self.assertEqual(self.call("STORES", "1", "3"), [1001, 1002, 1003])
        # bob delegates to frank too: frank's own stores join.
        self.assertEqual(self.call("USER", "DELEGATE", "1", "3", "7"), 1)
        self.assertEqual(self.call("STORES", "1", "3"), [1001, 1002, 1003, 1004, 1005])
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM tenant_user_delegate WHERE user_id = 3 "
                                     "AND delegate_user_id = 7")[0][0], 1)
        self.assertEqual(self.call("USER", "DELEGATE", "1", "3", "7"), 0)
        self.assertEqual(self.call("USER", "UNDELEGATE", "1", "3", "7"), 1)
        self.assertEqual(self.call("STORES", "1", "3"), [1001, 1002, 1003])
        self.assertEqual(self.call("USER", "UNDELEGATE", "1", "3", "7"), 0)
        self.assertEqual(self.last_oplog()[3:6], ("user", "undelegate", "user:3"))

    # ---- TENANT ----

    def test_tenant_subscribe(self):
        # trialco (3) is on trial: tom's role holds douyin:live:list, trial lacks it.
        self.assertEqual(self.call("CANMENU", "3", "22", "douyin:live:list"), 0)
        start, end = now_ms() - DAY_MS, now_ms() + 30 * DAY_MS
        sub = self.call("TENANT", "SUBSCRIBE", "3", "3", str(start), str(end))
        self.assertIsInstance(sub, int)
        self.assertEqual(self.call("CANMENU", "3", "22", "douyin:live:list"), 1)
        rows = self.db.sql("SELECT id, package_id, status, UNIX_TIMESTAMP(start_time) * 1000, "
                           "UNIX_TIMESTAMP(end_time) * 1000, duration_days "
                           "FROM tenant_subscription WHERE tenant_id = 3 ORDER BY id")
        self.assertEqual(rows[-1][0], sub)
        self.assertEqual(rows[-1][1:3], (3, 1))
        self.assertEqual((int(rows[-1][3]), int(rows[-1][4])), (start, end))
        self.assertEqual(rows[-1][5], 31)
        # Earlier active subscriptions became inactive.
        self.assertTrue(all(r[2] == 0 for r in rows[:-1]), rows)
        self.assertEqual(self.last_oplog()[:6], (3, 0, "writer", "tenant", "subscribe", "tenant:3"))
        # Back to trial: a new subscription again replaces the current one.
        sub2 = self.call("TENANT", "SUBSCRIBE", "3", "1", str(start), str(end))
        self.assertGreater(sub2, sub)
        self.assertEqual(self.call("CANMENU", "3", "22", "douyin:live:list"), 0)
        self.assertEqual(self.call("CANMENU", "3", "22", "taobao:order:list"), 1)

    def test_tenant_enable_disable(self):
        self.assertEqual(self.call("CANMENU", "2", "12", "taobao:order:list"), 1)
        self.assertEqual(self.call("TENANT", "DISABLE", "2"), 1)
        self.assertEqual(self.call("CANMENU", "2", "12", "taobao:order:list"), 0)
        self.assertEqual(self.db.sql("SELECT status FROM tenant WHERE id = 2")[0][0], 0)
        self.assertEqual(self.call("TENANT", "DISABLE", "2"), 0)
        self.assertEqual(self.call("TENANT", "ENABLE", "2"), 1)
        self.assertEqual(self.call("CANMENU", "2", "12", "taobao:order:list"), 1)
        self.assertEqual(self.last_oplog()[3:6], ("tenant", "enable", "tenant:2"))

    # ---- access, pipelining, revisions ----

    def test_check_role_cannot_write(self):
        with self.srv.raw_connection() as c:
            self.assertEqual(c.call("AUTH", "reader", READER_PW), "OK")
            for cmd in (("ROLE", "GRANT", "1", "2", "511"), ("USER", "DISABLE", "1", "3"),
                        ("TENANT", "DISABLE", "2")):
                self.assertErr(c.call(*cmd), "NOPERM")
            self.assertIsInstance(c.call("REVISION"), int)
            self.assertEqual(c.call("WAITREV", "0", "10"), 1)
        self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:add"), 0)

    def test_pipelined_write_then_read(self):
        """A pipeline keeps its order: the read after a write sees it."""
        batch = b"".join([
            encode_command("CANMENU", "1", "3", "sys:user:delete"),
            encode_command("ROLE", "GRANT", "1", "2", "sys:user:delete"),
            encode_command("CANMENU", "1", "3", "sys:user:delete"),
            encode_command("ROLE", "REVOKE", "1", "2", "sys:user:delete"),
            encode_command("CANMENU", "1", "3", "sys:user:delete"),
        ])
        self.raw.send(batch)
        got = [self.raw.read_reply() for _ in range(5)]
        self.assertEqual(got, [0, 1, 1, 1, 0])

    def test_revision_and_waitrev(self):
        before = self.call("REVISION")
        self.assertEqual(self.call("USER", "ADDSTORE", "1", "4", "5151"), 1)
        after = self.call("REVISION")
        self.assertGreater(after, before)
        ids = self.db.sql("SELECT MAX(id) FROM rbac_change WHERE entity = 'tenant_user_store' "
                          "AND entity_id = 4")[0][0]
        self.assertGreaterEqual(after, ids)
        self.assertEqual(self.call("WAITREV", str(after), "1000"), 1)
        t0 = time.monotonic()
        self.assertEqual(self.call("WAITREV", str(after + 1000000), "200"), 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.18)
        self.assertEqual(self.call("USER", "DELSTORE", "1", "4", "5151"), 1)
        info = self.r.info("sync")
        self.assertGreaterEqual(info["writes"], 2)
        self.assertEqual(info["db_up"], 1)

    def test_waitrev_client_gone(self):
        """A WAITREV caller that disconnects is forgotten; the server goes on."""
        c = self.srv.raw_connection()
        c.call("AUTH", "writer", WRITER_PW)
        c.send(encode_command("WAITREV", "999999999", "300"))
        c.close()
        time.sleep(0.4)
        self.assertEqual(self.call("PING"), "PONG")
        self.assertEqual(self.r.info("sync")["waitrev_blocked"], 0)

    # ---- the database refuses ----

    def test_dberr_leaves_memory_and_database_unchanged(self):
        """The operation log insert fails (table renamed away): the whole transaction
        rolls back, the client gets -DBERR, and memory still answers as before."""
        self.db.sql("RENAME TABLE tenant_operation_log TO tenant_operation_log_away")
        try:
            rev = self.max_change()
            t0 = time.monotonic()
            got = self.call("ROLE", "GRANT", "1", "2", "sys:user:delete")
            self.assertErr(got, "DBERR")
            self.assertLess(time.monotonic() - t0, 3.0)
            self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:delete"), 0)
            self.assertEqual(self.max_change(), rev)
            self.assertEqual(self.db.sql("SELECT COUNT(*) FROM tenant_role_menu WHERE role_id = 2 "
                                         "AND menu_id = 513")[0][0], 0)
            self.assertErr(self.call("USER", "DISABLE", "1", "3"), "DBERR")
            self.assertEqual(self.call("CANMENU", "1", "3", "sys:user:list"), 1)
            self.assertGreaterEqual(self.r.info("sync")["write_dberrs"], 2)
        finally:
            self.db.sql("RENAME TABLE tenant_operation_log_away TO tenant_operation_log")
        self.assertEqual(self.call("ROLE", "GRANT", "1", "2", "sys:user:delete"), 1)
        self.assertEqual(self.call("ROLE", "REVOKE", "1", "2", "sys:user:delete"), 1)

    # ---- cost ----

    def test_lock_wait_timeout_fails_fast_and_does_not_freeze_the_lane(self):
        # A row held by a transaction elsewhere: the write touching it is -DBERR after
        # one bounded lock wait (no retries), and the lane keeps following the change
        # log meanwhile: an external change to another row shows up within a second.
        self.assertEqual(self.call("CANMENU", "1", "2", "511"), 1)
        self.assertNotEqual(self.call("MENUS", "1", "3"), [])
        holder = harness._root_connect(self.db.name)
        try:
            holder.autocommit(False)
            with holder.cursor() as cur:
                cur.execute("START TRANSACTION")
                cur.execute("SELECT * FROM tenant_user WHERE id = 2 FOR UPDATE")
            t0 = time.monotonic()
            self.raw.send(encode_command("USER", "ENABLE", "1", "2"))
            reply = self.raw.read_reply()
            elapsed = time.monotonic() - t0
            self.assertErr(reply, "DBERR")
            self.assertLess(elapsed, 3.5, "a lock wait timeout was retried")
            # Still held: an external change to another row is applied promptly.
            self.db.sql("UPDATE tenant_user SET status = 0 WHERE id = 3")
            try:
                t1 = time.monotonic()
                harness.wait_for(lambda: self.call("MENUS", "1", "3") == [], 1.5,
                                 what="external change applied while a row is held")
                self.assertLess(time.monotonic() - t1, 1.5)
            finally:
                self.db.sql("UPDATE tenant_user SET status = 1 WHERE id = 3")
                harness.wait_for(lambda: self.call("MENUS", "1", "3") != [], 5,
                                 what="user 3 enabled again")
        finally:
            holder.rollback()
            holder.close()
        self.assertEqual(self.call("USER", "ENABLE", "1", "2"), 0)
        self.assertEqual(self.call("CANMENU", "1", "2", "511"), 1)

    def test_user_disable_caps_revoked_session_expiry(self):
        # Revoked rows get an expiry at most a minute away, so the purge removes them.
        token_hash = os.urandom(32)
        self.db.sql("INSERT INTO tenant_session (token_hash, tenant_id, user_id, expires_at) "
                    "VALUES (%s, 1, 2, UTC_TIMESTAMP(3) + INTERVAL 1 DAY)", (token_hash,))
        try:
            self.assertEqual(self.call("USER", "DISABLE", "1", "2"), 1)
            row = self.db.sql("SELECT revoked, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(3), "
                              "expires_at) FROM tenant_session WHERE token_hash = %s",
                              (token_hash,))[0]
            self.assertEqual(row[0], 1)
            self.assertLessEqual(row[1], 61)
        finally:
            self.assertEqual(self.call("USER", "ENABLE", "1", "2"), 1)
            self.db.sql("DELETE FROM tenant_session WHERE token_hash = %s", (token_hash,))

    def test_write_cost(self):
        """What a write costs end to end (client -> transaction -> memory -> reply)."""
        lat = []
        for i in range(60):
            cmd = ("ROLE", "GRANT" if i % 2 == 0 else "REVOKE", "1", "2", "sys:user:resetpwd")
            t0 = time.perf_counter()
            self.assertEqual(self.call(*cmd), 1)
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        med, p95, worst = statistics.median(lat), lat[int(len(lat) * 0.95) - 1], lat[-1]
        sys.stderr.write("\nwrite latency over %d ROLE GRANT/REVOKE: median %.2f ms, p95 %.2f ms, "
                         "worst %.2f ms\n" % (len(lat), med, p95, worst))
        self.assertLess(med, 100.0)


class WritesNeedBitenantTest(unittest.TestCase):
    """Under profile mpbackend the write commands name the profile they need."""

    def test_writes_under_mpbackend_need_profile_bitenant(self):
        with harness.scratch_db("writes_mp", profile="mpbackend") as db:
            with harness.RbacdServer(db=db, conf_lines=["profile mpbackend"]) as srv:
                with srv.raw_connection() as raw:
                    for cmd in (("USER", "ENABLE", "1", "2"), ("USER", "ADDROLE", "1", "3", "2"),
                                ("ROLE", "GRANT", "1", "2", "511"), ("TENANT", "DISABLE", "1"),
                                ("TENANT", "SUBSCRIBE", "1", "1", "0", "1000")):
                        reply = raw.call(*cmd)
                        self.assertIsInstance(reply, RespError, cmd)
                        self.assertTrue(str(reply).startswith("ERR "), str(reply))
                        self.assertIn("needs profile bitenant", str(reply))
                # Nothing was written: the change log holds the demo data's rows only.
                before = db.sql("SELECT MAX(id) FROM rbac_change")[0][0]
                self.assertEqual(srv.client().execute_command("REVISION"), before)


if __name__ == "__main__":
    harness.main()
