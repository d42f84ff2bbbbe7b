#!/usr/bin/env python3
"""test_engine_reads.py — the permission reads of SPEC §2 on the demo data set.

Every answer schema/demo/README.md promises is asserted as written there; then input
handling (leading zeros, bad ids, wrong arity, unknown subcommands, unknown
entities), DBSIZE and INFO, redis-benchmark against CANMENU, RELOAD after changes made
in SQL, and the LOADING gate of a server that cannot reach its database.
"""

import datetime
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redis  # noqa: E402

from harness import RbacdServer, RespError, ServerTestCase, scratch_db  # noqa: E402

U64_MAX = str((1 << 64) - 1)
U64_OVER = str(1 << 64)

# Accessible menus of alice (user 2, tenant 1): admin-ops (500, 540, sys:*) ∪ viewer
# (list pages, dashboard), within enterprise, without deleted 516 and the Labs subtree.
ALICE_MENUS = [110, 120, 130, 140, 210, 220, 230, 240, 310, 320, 330, 340, 350, 410, 420,
               430, 500, 510, 511, 512, 513, 514, 515, 520, 521, 522, 523, 524, 530, 531, 532,
               533, 540, 541, 542, 543, 544, 550, 551, 560, 561]
TAOBAO_SUBTREE = [100, 110, 111, 112, 113, 120, 121, 122, 123, 130, 131, 132, 140, 141]


def utc_ms(ms):
    """A unix time in ms as a DATETIME(3) literal in UTC."""
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (ms % 1000)


class DemoReadsTest(ServerTestCase):
    """Read-only checks sharing one server over one demo database."""

    DEMO = True

    def setUp(self):
        super().setUp()
        self.raw = self.srv.raw_connection()

    def tearDown(self):
        self.raw.close()
        super().tearDown()

    def assertErr(self, *cmd, prefix="ERR"):
        """cmd gets an error reply starting with prefix (seen raw: redis-py drops the
        prefix), and the connection keeps working."""
        got = self.raw.call(*cmd)
        self.assertIsInstance(got, RespError,
                              "%s: expected an error, got %r" % (" ".join(cmd), got))
        self.assertTrue(str(got).startswith(prefix + " "),
                        "%s: error %r does not start with %s" % (" ".join(cmd), str(got), prefix))
        self.assertEqual(self.raw.call("PING"), "PONG")

    def q(self, *cmd):
        return self.r.execute_command(*cmd)

    # ---- the README's "Try it" table ----

    def test_readme_canmenu_answers(self):
        table = [
            ("1", "1", "sys:user:add", 1),        # admin, and enterprise includes 511
            ("1", "3", "sys:user:add", 0),        # bob's viewer role has list pages only
            ("1", "2", "511", 1),                 # alice, through admin-ops (menu by id)
            ("1", "1", "lab:forecast:list", 0),   # ancestor 600 Labs is disabled
            ("1", "1", "sys:user:import", 0),     # menu 516 is deleted
            ("1", "4", "sys:user:list", 0),       # carol is disabled
            ("2", "12", "sys:menu:list", 0),      # mia's role has it, pro does not
            ("3", "22", "douyin:live:list", 0),   # tom's role has it, trial does not
            ("4", "31", "sys:user:list", 0),      # oldco's subscription expired
            ("5", "41", "sys:user:list", 0),      # tenant frozen is disabled
        ]
        for t, u, menu, want in table:
            with self.subTest(cmd="CANMENU %s %s %s" % (t, u, menu)):
                self.assertEqual(self.q("CANMENU", t, u, menu), want)

    def test_readme_menus_of_noah(self):
        self.assertEqual(self.q("MENUS", "2", "13"), [110, 230, 310])
        self.assertEqual(self.q("MENUS", "2", "13", "CODES"),
                         ["taobao:order:list", "douyin:order:list", "base:dashboard:view"])

    def test_readme_roles(self):
        self.assertEqual(self.q("ROLES", "1", "7"), [5])    # acme's role 11 does not count
        self.assertEqual(self.q("ROLES", "1", "6"), [])     # role 3 disabled, role 4 deleted
        self.assertEqual(self.q("ROLES", "1", "2"), [1, 2])
        self.assertEqual(self.q("ROLES", "2", "12"), [11])

    def test_readme_stores(self):
        self.assertEqual(self.q("STORES", "1", "3"), [1001, 1002, 1003])  # not frank's
        self.assertEqual(self.q("STORES", "1", "2"), [1001, 1002, 1004, 1005])
        self.assertEqual(self.q("STORES", "1", "7"), [1004, 1005])
        self.assertEqual(self.q("STORES", "1", "6"), [1008])               # carol disabled
        self.assertEqual(self.q("STORES", "2", "13"), [2001, 2002, 2003])
        self.assertEqual(self.q("CANSTORE", "1", "6", "1007"), 0)
        self.assertEqual(self.q("CANSTORE", "1", "3", "1001"), 1)
        self.assertEqual(self.q("CANSTORE", "1", "3", "1004"), 0)          # one level only
        self.assertEqual(self.q("CANSTORE", "1", "3", "1003"), 1)

    def test_readme_tree_of_tom(self):
        self.assertEqual(self.q("MENUS", "3", "22", "TREE"), [
            [100, 0, 1, "Taobao", "", "/taobao", 1],
            [110, 100, 2, "Orders", "taobao:order:list", "/taobao/orders", 1],
            [111, 110, 3, "Order detail", "taobao:order:query", "", 1],
            [300, 0, 1, "Base", "", "/base", 3],
            [310, 300, 2, "Dashboard", "base:dashboard:view", "/base/dashboard", 1],
        ])
        self.assertEqual(self.q("MENUS", "3", "22"), [110, 111, 310])

    def test_readme_admin_menu_counts(self):
        self.assertEqual(len(self.q("MENUS", "1", "1")), 73)   # every usable enterprise menu
        self.assertEqual(len(self.q("MENUS", "2", "11")), 61)  # every usable pro menu
        self.assertEqual(len(self.q("MENUS", "3", "21")), 15)  # every trial menu
        menus = self.q("MENUS", "1", "1")
        self.assertEqual(menus, sorted(menus))
        self.assertIn(560, menus)                 # hidden (visible 0) but usable
        for labs in (600, 610, 611, 620, 621):    # disabled directory and its subtree
            self.assertNotIn(labs, menus)
        self.assertNotIn(516, menus)              # deleted

    def test_readme_package_sizes(self):
        rows = self.db.sql("SELECT package_id, COUNT(*) FROM tenant_package_menu "
                           "GROUP BY package_id ORDER BY package_id")
        self.assertEqual([tuple(r) for r in rows], [(1, 15), (2, 62), (3, 79)])

    def test_readme_users(self):
        self.assertEqual(self.q("MENUS", "1", "2"), ALICE_MENUS)      # union of two roles
        self.assertEqual(self.q("MENUS", "1", "7"), TAOBAO_SUBTREE)   # own role only
        self.assertEqual(self.q("MENUS", "1", "6"), [])               # roles grant nothing
        self.assertEqual(self.q("MENUS", "1", "4"), [])               # disabled user
        self.assertEqual(self.q("MENUS", "1", "5"), [])               # deleted user
        self.assertEqual(self.q("MENUS", "4", "32"), [])              # expired subscription
        self.assertEqual(self.q("MENUS", "4", "31"), [])
        self.assertEqual(self.q("MENUS", "5", "42"), [])              # disabled tenant
        self.assertEqual(self.q("MENUS", "5", "41"), [])
        self.assertEqual(self.q("CANMENU", "1", "3", "lab:forecast:list"), 0)
        self.assertEqual(self.q("CANMENU", "1", "1", "sys:config:list"), 1)
        self.assertEqual(self.q("CANMENU", "2", "12", "base:sync:run"), 0)   # not in pro
        self.assertEqual(self.q("CANMENU", "2", "12", "taobao:order:list"), 1)
        self.assertEqual(self.q("CANMENU", "2", "11", "sys:user:add"), 1)
        self.assertEqual(self.q("CANMENU", "2", "11", "sys:menu:list"), 0)
        self.assertEqual(self.q("CANMENU", "3", "21", "sys:user:add"), 1)
        self.assertEqual(self.q("CANMENU", "3", "21", "sys:user:delete"), 0)
        self.assertEqual(self.q("CANMENU", "3", "22", "taobao:order:query"), 1)
        self.assertEqual(self.q("CANMENU", "1", "7", "taobao:order:refund"), 1)
        self.assertEqual(self.q("CANMENU", "1", "2", "sys:user:delete"), 1)
        self.assertEqual(self.q("CANMENU", "1", "6", "sys:loginlog:list"), 0)  # disabled role
        self.assertEqual(self.q("CANMENU", "1", "6", "sys:user:delete"), 0)    # deleted role

    def test_codes_follow_menu_ids(self):
        codes = self.q("MENUS", "1", "7", "CODES")
        self.assertEqual(codes, [
            "taobao:order:list", "taobao:order:query", "taobao:order:export",
            "taobao:order:refund", "taobao:item:list", "taobao:item:add", "taobao:item:edit",
            "taobao:item:delete", "taobao:shop:list", "taobao:shop:bind", "taobao:shop:unbind",
            "taobao:promo:list", "taobao:promo:add"])

    def test_why(self):
        allow = self.q("WHY", "1", "2", "sys:user:add")
        self.assertEqual(allow[0], "allow")
        self.assertGreaterEqual(len(allow), 2, allow)   # says which role grants it
        for t, u, menu in [("1", "3", "sys:user:add"), ("3", "22", "douyin:live:list"),
                           ("4", "31", "sys:user:list"), ("5", "41", "sys:user:list"),
                           ("1", "1", "lab:forecast:list"), ("1", "4", "sys:user:list"),
                           ("1", "1", "no:such:code"), ("999", "1", "1")]:
            with self.subTest(cmd="WHY %s %s %s" % (t, u, menu)):
                why = self.q("WHY", t, u, menu)
                self.assertIsInstance(why, list)
                self.assertEqual(why[0], "deny")
                self.assertGreaterEqual(len(why), 2, why)
                self.assertTrue(all(isinstance(x, str) and x for x in why), why)
        self.assertEqual(self.q("WHY", "1", "1", "sys:user:add")[0], "allow")

    # ---- input handling ----

    def test_leading_zeros(self):
        self.assertEqual(self.q("CANMENU", "0001", "000001", "sys:user:add"), 1)
        self.assertEqual(self.q("CANMENU", "000000000001", "000000000001", "sys:user:add"), 1)
        self.assertEqual(self.q("CANMENU", "01", "02", "000511"), 1)
        self.assertEqual(self.q("CANMENU", "01", "03", "000511"), 0)
        self.assertEqual(self.q("MENUS", "0002", "00013"), [110, 230, 310])
        self.assertEqual(self.q("ROLES", "001", "007"), [5])
        self.assertEqual(self.q("STORES", "001", "003"), [1001, 1002, 1003])
        self.assertEqual(self.q("CANSTORE", "001", "003", "0001001"), 1)
        self.assertEqual(self.q("WHY", "001", "001", "0511")[0], "allow")

    def test_bad_ids_are_errors(self):
        for bad in ["x", "-1", U64_OVER, "99999999999999999999999", "", "+1", " 1", "1 ",
                    "1.0", "0x1", "1e3"]:
            with self.subTest(bad=bad):
                self.assertErr("CANMENU", bad, "1", "1")
                self.assertErr("CANMENU", "1", bad, "1")
                self.assertErr("MENUS", bad, "1")
                self.assertErr("ROLES", "1", bad)
                self.assertErr("STORES", bad, "1")
                self.assertErr("CANSTORE", "1", "1", bad)
                self.assertErr("WHY", "1", bad, "1")
        # An all-digit menu argument is an id, so it must fit too.
        self.assertErr("CANMENU", "1", "1", U64_OVER)
        self.assertErr("WHY", "1", "1", U64_OVER)

    def test_u64_max_is_valid(self):
        self.assertEqual(self.q("CANMENU", "1", U64_MAX, "1"), 0)
        self.assertEqual(self.q("CANMENU", U64_MAX, "1", "sys:user:add"), 0)
        self.assertEqual(self.q("CANMENU", "1", "1", U64_MAX), 0)
        self.assertEqual(self.q("CANSTORE", "1", "2", U64_MAX), 0)
        self.assertEqual(self.q("MENUS", U64_MAX, U64_MAX), [])
        self.assertEqual(self.q("ROLES", "1", U64_MAX), [])
        self.assertEqual(self.q("STORES", "1", U64_MAX), [])
        self.assertEqual(self.q("CANMENU", "0", "0", "0"), 0)

    def test_menu_argument_not_all_digits_is_a_code(self):
        # Not an id, so no error: a code that names nothing.
        self.assertEqual(self.q("CANMENU", "1", "1", "-1"), 0)
        self.assertEqual(self.q("CANMENU", "1", "1", "511x"), 0)
        self.assertEqual(self.q("CANMENU", "1", "1", "SYS:USER:ADD"), 0)  # exact match only
        self.assertEqual(self.q("CANMENU", "1", "1", "sys:user:add "), 0)

    def test_wrong_arity(self):
        for cmd in [("CANMENU",), ("CANMENU", "1"), ("CANMENU", "1", "1"),
                    ("CANMENU", "1", "1", "1", "1"), ("MENUS",), ("MENUS", "1"),
                    ("MENUS", "1", "1", "CODES", "x"), ("ROLES", "1"), ("ROLES", "1", "1", "1"),
                    ("STORES", "1"), ("STORES", "1", "1", "1"), ("CANSTORE", "1", "1"),
                    ("CANSTORE", "1", "1", "1", "1"), ("WHY", "1", "1"),
                    ("WHY", "1", "1", "1", "1")]:
            with self.subTest(cmd=" ".join(cmd)):
                self.assertErr(*cmd)

    def test_unknown_subcommand(self):
        self.assertErr("MENUS", "1", "1", "BOGUS")
        self.assertErr("MENUS", "1", "1", "")
        # Subcommands are case-insensitive, as in Redis.
        self.assertEqual(self.q("MENUS", "2", "13", "codes"), self.q("MENUS", "2", "13", "CODES"))
        self.assertEqual(self.q("MENUS", "3", "22", "tree"), self.q("MENUS", "3", "22", "TREE"))

    def test_unknown_entities_deny(self):
        self.assertEqual(self.q("CANMENU", "999", "1", "1"), 0)
        self.assertEqual(self.q("CANMENU", "999", "1", "sys:user:add"), 0)
        self.assertEqual(self.q("CANMENU", "1", "999", "sys:user:add"), 0)
        self.assertEqual(self.q("CANMENU", "1", "1", "999999"), 0)
        self.assertEqual(self.q("CANMENU", "1", "1", "no:such:code"), 0)
        self.assertEqual(self.q("CANMENU", "2", "1", "sys:user:add"), 0)   # user of tenant 1
        self.assertEqual(self.q("CANMENU", "1", "11", "sys:user:add"), 0)  # user of tenant 2
        for sub in ([], ["CODES"], ["TREE"]):
            self.assertEqual(self.q("MENUS", "999", "1", *sub), [])
            self.assertEqual(self.q("MENUS", "1", "999", *sub), [])
            self.assertEqual(self.q("MENUS", "2", "1", *sub), [])
        self.assertEqual(self.q("ROLES", "999", "999"), [])
        self.assertEqual(self.q("ROLES", "2", "2"), [])
        self.assertEqual(self.q("STORES", "1", "999"), [])
        self.assertEqual(self.q("STORES", "2", "2"), [])
        self.assertEqual(self.q("CANSTORE", "1", "2", "424242"), 0)
        self.assertEqual(self.q("CANSTORE", "999", "2", "1001"), 0)
        self.assertEqual(self.q("WHY", "999", "1", "1")[0], "deny")

    def test_gated_users_have_no_roles_or_stores(self):
        self.assertEqual(self.q("ROLES", "1", "4"), [])    # disabled user
        self.assertEqual(self.q("ROLES", "1", "5"), [])    # deleted user
        self.assertEqual(self.q("ROLES", "5", "42"), [])   # disabled tenant
        self.assertEqual(self.q("STORES", "1", "4"), [])
        self.assertEqual(self.q("STORES", "1", "5"), [])
        self.assertEqual(self.q("STORES", "5", "42"), [])
        self.assertEqual(self.q("CANSTORE", "1", "4", "1007"), 0)

    def test_pipelined_mix_keeps_order(self):
        p = self.r.pipeline(transaction=False)
        p.execute_command("CANMENU", "1", "1", "sys:user:add")
        p.execute_command("CANMENU", "x", "1", "1")
        p.execute_command("MENUS", "2", "13")
        p.execute_command("MENUS", "1", "1", "BOGUS")
        p.execute_command("CANSTORE", "1", "3", "1001")
        got = p.execute(raise_on_error=False)
        self.assertEqual(got[0], 1)
        self.assertIsInstance(got[1], redis.exceptions.ResponseError)
        self.assertEqual(got[2], [110, 230, 310])
        self.assertIsInstance(got[3], redis.exceptions.ResponseError)
        self.assertEqual(got[4], 1)

    # ---- DBSIZE, INFO ----

    def test_dbsize_is_live_users(self):
        live = self.db.sql("SELECT COUNT(*) FROM tenant_user WHERE deleted_at = 0")[0][0]
        self.assertEqual(live, 15)
        self.assertEqual(self.r.dbsize(), live)

    def test_info_rbac(self):
        info = self.r.info("rbac")
        self.assertTrue(info, "INFO rbac is empty")
        numbers = {k: v for k, v in info.items() if isinstance(v, int)}
        self.assertTrue(numbers, "INFO rbac has no counts: %r" % info)
        with self.srv.raw_connection() as c:
            text = c.call("INFO", "rbac")
        self.assertIsInstance(text, bytes)
        headers = [line for line in text.decode().splitlines() if line.startswith("#")]
        self.assertTrue(any("rbac" in h.lower() for h in headers), text)
        # The user count describes the demo world (15 live users).
        users = [v for k, v in numbers.items() if "user" in k]
        self.assertIn(15, users, "no user count of 15 in INFO rbac: %r" % info)
        self.assertEqual(self.r.info("persistence").get("loading"), 0)

    # ---- redis-benchmark ----

    def test_redis_benchmark_canmenu(self):
        exe = shutil.which("redis-benchmark")
        if not exe:
            self.skipTest("redis-benchmark is not installed")
        p = subprocess.run([exe, "-h", "127.0.0.1", "-p", str(self.srv.port), "-r", "100000",
                            "-n", "20000", "CANMENU", "1", "__rand_int__", "sys:user:add"],
                           capture_output=True, text=True, timeout=300)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out[-2000:])
        self.assertNotIn("Error", out, out[-2000:])
        self.assertNotIn("ERR", out, out[-2000:])
        self.assertEqual(p.stderr.strip(), "", p.stderr[-2000:])
        self.assertTrue(self.r.ping())


class ReloadTest(unittest.TestCase):
    """RELOAD picks up changes made in SQL. The change log is polled only once a minute
    here, so what the reads show after RELOAD comes from RELOAD."""

    def test_reload_after_sql_changes(self):
        with scratch_db("reload", demo=True) as db, \
                RbacdServer(db=db, conf_lines=["sync-interval-ms 60000"]) as srv:
            r = srv.client()
            self.assertEqual(r.execute_command("CANMENU", "1", "7", "taobao:order:refund"), 1)
            self.assertEqual(r.execute_command("ROLES", "1", "7"), [5])

            # Disable frank's only role: he loses its menus.
            db.sql("UPDATE tenant_role SET status = 0 WHERE id = 5")
            self.assertEqual(r.execute_command("RELOAD"), "OK")
            self.assertEqual(r.execute_command("CANMENU", "1", "7", "taobao:order:refund"), 0)
            self.assertEqual(r.execute_command("MENUS", "1", "7"), [])
            self.assertEqual(r.execute_command("ROLES", "1", "7"), [])
            self.assertEqual(r.execute_command("WHY", "1", "7", "taobao:order:refund")[0], "deny")
            # Others are unaffected.
            self.assertEqual(r.execute_command("CANMENU", "1", "1", "sys:user:add"), 1)

            # Enable it again, reloading only tenant 1.
            db.sql("UPDATE tenant_role SET status = 1 WHERE id = 5")
            self.assertEqual(r.execute_command("RELOAD", "1"), "OK")
            self.assertEqual(r.execute_command("CANMENU", "1", "7", "taobao:order:refund"), 1)
            self.assertEqual(r.execute_command("ROLES", "1", "7"), [5])

            # A platform-wide change: soft-delete menu 110 (Taobao orders).
            db.sql("UPDATE tenant_menu SET deleted_at = 1735689600001 WHERE id = 110")
            self.assertEqual(r.execute_command("RELOAD"), "OK")
            self.assertEqual(r.execute_command("MENUS", "2", "13"), [230, 310])
            self.assertEqual(r.execute_command("CANMENU", "2", "13", "taobao:order:list"), 0)
            # 111 hangs below the deleted 110: gone for tom too.
            self.assertEqual(r.execute_command("MENUS", "3", "22"), [310])

            # Delete a user: DBSIZE follows.
            db.sql("UPDATE tenant_user SET deleted_at = 1735689600001 WHERE id = 13")
            self.assertEqual(r.execute_command("RELOAD"), "OK")
            self.assertEqual(r.dbsize(), 14)
            self.assertEqual(r.execute_command("STORES", "2", "13"), [])

            # Upgrade acme: a new subscription to enterprise starting now wins; mia's
            # role menus outside pro come back.
            self.assertEqual(r.execute_command("CANMENU", "2", "12", "sys:menu:list"), 0)
            db.sql("INSERT INTO tenant_subscription (tenant_id, package_id, start_time, end_time,"
                   " status) VALUES (2, 3, UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE,"
                   " '2029-12-31 00:00:00', 1)")
            self.assertEqual(r.execute_command("RELOAD"), "OK")
            self.assertEqual(r.execute_command("CANMENU", "2", "12", "sys:menu:list"), 1)
            self.assertEqual(r.execute_command("CANMENU", "2", "12", "base:sync:run"), 1)

    def test_subscription_starts_and_ends_on_time(self):
        """Time moves on its own: a subscription takes effect when it starts and stops
        when it ends, with no database change in between."""
        with scratch_db("subtime", demo=True) as db, \
                RbacdServer(db=db, conf_lines=["sync-interval-ms 60000"]) as srv:
            r = srv.client()
            cmd = ("CANMENU", "4", "32", "taobao:order:list")   # olga, oldco: expired
            self.assertEqual(r.execute_command(*cmd), 0)
            start_ms = int(time.time() * 1000) + 2500
            end_ms = start_ms + 2500
            db.sql("INSERT INTO tenant_subscription (tenant_id, package_id, start_time, end_time,"
                   " status) VALUES (4, 2, %s, %s, 1)", (utc_ms(start_ms), utc_ms(end_ms)))
            self.assertEqual(r.execute_command("RELOAD"), "OK")
            now_ms = lambda: time.time() * 1000  # noqa: E731
            if now_ms() < start_ms - 300:
                self.assertEqual(r.execute_command(*cmd), 0, "before the start")
            while now_ms() < start_ms + 300:
                time.sleep(0.05)
            self.assertEqual(r.execute_command(*cmd), 1, "after the start")
            self.assertEqual(r.execute_command("MENUS", "4", "32"), [110, 310])
            while now_ms() < end_ms + 300:
                time.sleep(0.05)
            self.assertEqual(r.execute_command(*cmd), 0, "after the end")
            self.assertEqual(r.execute_command("MENUS", "4", "32"), [])

    def test_reload_wrong_arguments(self):
        with scratch_db("reloadargs", demo=True) as db, RbacdServer(db=db) as srv:
            with srv.raw_connection() as c:
                for cmd in [("RELOAD", "x"), ("RELOAD", "1", "2"), ("RELOAD", U64_OVER)]:
                    with self.subTest(cmd=" ".join(cmd)):
                        got = c.call(*cmd)
                        self.assertIsInstance(got, RespError, repr(got))
                        self.assertTrue(str(got).startswith("ERR "), str(got))
                self.assertEqual(c.call("CANMENU", "1", "1", "sys:user:add"), 1)


class LoadingGateTest(unittest.TestCase):
    """A server whose database socket does not exist never finishes its first load:
    INFO says loading:1, permission reads answer -LOADING, connection commands work."""

    def test_loading_gate(self):
        with RbacdServer(db=None, wait_loaded=False) as srv:
            r = srv.client()
            self.assertTrue(r.ping())
            self.assertEqual(r.info("persistence").get("loading"), 1)
            with srv.raw_connection() as c:
                for cmd in [("CANMENU", "1", "1", "1"), ("CANMENU", "1", "1", "sys:user:add"),
                            ("MENUS", "1", "1"), ("MENUS", "1", "1", "TREE"),
                            ("ROLES", "1", "1"), ("STORES", "1", "1"),
                            ("CANSTORE", "1", "1", "1"), ("WHY", "1", "1", "1")]:
                    with self.subTest(cmd=" ".join(cmd)):
                        got = c.call(*cmd)
                        self.assertIsInstance(got, RespError, repr(got))
                        self.assertTrue(str(got).startswith("LOADING "), str(got))
                        self.assertEqual(c.call("PING"), "PONG")
            self.assertTrue(r.ping())
            self.assertEqual(r.echo("still here"), "still here")
            self.assertEqual(r.info("persistence").get("loading"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
