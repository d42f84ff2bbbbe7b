#!/usr/bin/env python3
"""test_sync.py — several instances on one database, changes made by others, outages.

* Three instances on one scratch database: external SQL (UPDATE, INSERT, hard DELETE,
  soft deletes and revivals, a disabled menu directory, a subscription ended by SQL, a
  new menu, a new user, a tenant disabled) reaches every instance within one second;
  the delay is measured per instance and printed (median and worst).
* A write on one instance is visible on another after REVISION / WAITREV.
* After a concurrent mix of write commands on all three and external SQL, the three
  answer identically, and identically to a fourth instance loaded afterwards.
* Change ids committed out of order (an open transaction, a rollback) are neither lost
  nor waited for longer than needed; rows purged before an instance read them make it
  reload; old change rows are purged after change-retention.
* Outage, on a private MariaDB this test starts itself: the rbacd account locked while
  others keep changing data, then MariaDB stopped and restarted. Reads keep answering,
  writes fail fast with -DBERR, INFO sync and the log say the database is down, and
  everything changed meanwhile arrives once it is back.
"""

import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pymysql  # noqa: E402
import redis  # noqa: E402

import harness  # noqa: E402
from harness import RbacdServer, close_client, scratch_db  # noqa: E402

PROPAGATION_LIMIT_S = 1.0  # SPEC §2: an external UPDATE is visible within one second
DAY_MS = 86400000
DELAYS = []  # every propagation delay measured by this file, in seconds


def now_ms():
    return int(time.time() * 1000)


def start_servers(db, n, conf=()):
    servers = []
    try:
        for _ in range(n):
            servers.append(RbacdServer(db=db, conf_lines=["sync-interval-ms 100"] + list(conf))
                           .start())
    except BaseException:
        for s in servers:
            s._kill()
            s.cleanup()
        raise
    return servers


def stop_servers(servers):
    for s in servers:
        try:
            if s.running():
                s.stop()
        finally:
            s._kill()
            s.cleanup()


def wait_until(clients, pred, timeout):
    """Polls pred(client) on every client until each is true once; returns the seconds
    each took (AssertionError naming the slow ones after timeout)."""
    t0 = time.monotonic()
    took = [None] * len(clients)
    while True:
        for i, c in enumerate(clients):
            if took[i] is None and pred(c):
                took[i] = time.monotonic() - t0
        if all(t is not None for t in took):
            return took
        if time.monotonic() - t0 > timeout:
            raise AssertionError("instances %s did not converge within %.1fs" %
                                 ([i for i, t in enumerate(took) if t is None], timeout))
        time.sleep(0.005)


def snapshot(r, db):
    """Every read of every user of every tenant, as one comparable structure."""
    users = db.sql("SELECT tenant_id, id FROM tenant_user ORDER BY id")
    out = {}
    codes = ["sys:user:add", "sys:user:list", "taobao:order:list", "douyin:live:list",
             "sys:menu:list", "base:dashboard:view", "lab:forecast:list"]
    for tenant in range(0, 7):
        for (_, user) in users:
            key = (tenant, user)
            p = r.pipeline(transaction=False)
            p.execute_command("MENUS", tenant, user)
            p.execute_command("MENUS", tenant, user, "CODES")
            p.execute_command("MENUS", tenant, user, "TREE")
            p.execute_command("ROLES", tenant, user)
            p.execute_command("STORES", tenant, user)
            for code in codes:
                p.execute_command("CANMENU", tenant, user, code)
            out[key] = p.execute()
    return out


# ---------------------------------------------------------------------------------------
# External SQL and writes across three instances
# ---------------------------------------------------------------------------------------

class ThreeInstancesTest(unittest.TestCase):
    """Instances A, B, C on one demo database."""

    @classmethod
    def setUpClass(cls):
        cls.db = scratch_db("sync3")
        try:
            cls.servers = start_servers(cls.db, 3)
        except BaseException:
            cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            stop_servers(cls.servers)
        finally:
            cls.db.drop()

    def setUp(self):
        self.r = [s.client() for s in self.servers]

    def tearDown(self):
        for r in self.r:
            close_client(r)
        for s in self.servers:
            self.assertTrue(s.running(), "an instance died:\n" + s.diagnostics())

    def propagate(self, what, sql, pred, args=None):
        """Runs sql (a statement or a list run in one transaction), then measures how long
        each instance takes until pred(client) holds."""
        stmts = sql if isinstance(sql, list) else [sql]
        if len(stmts) > 1:
            stmts = ["START TRANSACTION"] + stmts + ["COMMIT"]
        for s in stmts:
            self.db.sql(s, args)
        took = wait_until(self.r, pred, 5.0)
        DELAYS.extend(took)
        self.assertLess(max(took), PROPAGATION_LIMIT_S,
                        "%s: visible after %s s" % (what, ["%.3f" % t for t in took]))

    def can(self, t, u, m):
        return lambda r: r.execute_command("CANMENU", t, u, m)

    def cannot(self, t, u, m):
        return lambda r: r.execute_command("CANMENU", t, u, m) == 0

    def test_external_sql_reaches_every_instance(self):
        p = self.propagate
        # An UPDATE of a user's status, and back.
        p("user disabled", "UPDATE tenant_user SET status = 0 WHERE id = 3",
          self.cannot(1, 3, "sys:user:list"))
        p("user enabled", "UPDATE tenant_user SET status = 1 WHERE id = 3",
          self.can(1, 3, "sys:user:list"))
        # An INSERT and a hard DELETE of an association.
        p("user_role inserted",
          "INSERT INTO tenant_user_role (tenant_id, user_id, role_id) VALUES (1, 3, 1)",
          self.can(1, 3, "sys:user:add"))
        p("user_role deleted", "DELETE FROM tenant_user_role WHERE user_id = 3 AND role_id = 1",
          self.cannot(1, 3, "sys:user:add"))
        # A soft-deleted role, and revived (its menus come back with it).
        p("role soft-deleted",
          "UPDATE tenant_role SET deleted_at = UNIX_TIMESTAMP() * 1000 WHERE id = 1",
          self.cannot(1, 2, "sys:user:add"))
        p("role revived", "UPDATE tenant_role SET deleted_at = 0 WHERE id = 1",
          self.can(1, 2, "sys:user:add"))
        # A disabled menu directory takes its subtree; enabled again.
        p("directory disabled", "UPDATE tenant_menu SET status = 0 WHERE id = 500",
          self.cannot(1, 1, "sys:user:add"))
        p("directory enabled", "UPDATE tenant_menu SET status = 1 WHERE id = 500",
          self.can(1, 1, "sys:user:add"))
        # A subscription ended by SQL: trialco has no package; restored.
        p("subscription ended", "UPDATE tenant_subscription SET end_time = NOW(3) WHERE id = 5",
          self.cannot(3, 21, "taobao:order:list"))
        p("subscription restored",
          "UPDATE tenant_subscription SET end_time = '2030-01-01 00:00:00' WHERE id = 5",
          self.can(3, 21, "taobao:order:list"))
        # The package loses a menu; gets it back.
        p("package menu deleted",
          "DELETE FROM tenant_package_menu WHERE package_id = 3 AND menu_id = 511",
          self.cannot(1, 1, "sys:user:add"))
        p("package menu inserted",
          "INSERT INTO tenant_package_menu (package_id, menu_id) VALUES (3, 511)",
          self.can(1, 1, "sys:user:add"))
        # A tenant disabled by SQL.
        p("tenant disabled", "UPDATE tenant SET status = 0 WHERE id = 2",
          self.cannot(2, 12, "taobao:order:list"))
        p("tenant enabled", "UPDATE tenant SET status = 1 WHERE id = 2",
          self.can(2, 12, "taobao:order:list"))
        # A delegate's own store reaches whoever delegates to it (bob -> alice).
        p("delegate's store inserted",
          "INSERT INTO tenant_user_store (tenant_id, user_id, store_id) VALUES (1, 2, 7777)",
          lambda r: r.execute_command("CANSTORE", 1, 3, 7777) == 1)
        p("delegate's store deleted",
          "DELETE FROM tenant_user_store WHERE user_id = 2 AND store_id = 7777",
          lambda r: r.execute_command("CANSTORE", 1, 3, 7777) == 0)

    def test_new_menu_and_new_user(self):
        p = self.propagate
        # A new menu, in the package and granted, in one transaction.
        p("new menu",
          ["INSERT INTO tenant_menu (id, parent_id, menu_name, menu_type, perms, platform) "
           "VALUES (900, 510, 'Audit users', 3, 'sys:user:audit', 'system')",
           "INSERT INTO tenant_package_menu (package_id, menu_id) VALUES (3, 900)",
           "INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) VALUES (1, 1, 900)"],
          self.can(1, 2, "sys:user:audit"))
        p("new menu soft-deleted",
          "UPDATE tenant_menu SET deleted_at = UNIX_TIMESTAMP() * 1000 WHERE id = 900",
          self.cannot(1, 2, "sys:user:audit"))
        # A new user with a role; then deleted outright.
        p("new user",
          ["INSERT INTO tenant_user (id, tenant_id, username, status) VALUES (8, 1, 'gus', 1)",
           "INSERT INTO tenant_user_role (tenant_id, user_id, role_id) VALUES (1, 8, 2)"],
          self.can(1, 8, "sys:user:list"))
        p("user deleted", "DELETE FROM tenant_user WHERE id = 8",
          self.cannot(1, 8, "sys:user:list"))
        for r in self.r:
            self.assertEqual(r.execute_command("ROLES", 1, 8), [])

    def test_write_on_one_visible_on_others_after_waitrev(self):
        a, b, c = self.r
        writes = [
            (a, ("ROLE", "GRANT", 1, 2, "sys:user:edit"), self.can(1, 3, "sys:user:edit")),
            (b, ("USER", "ADDSTORE", 1, 6, 6006), lambda r: r.execute_command(
                "CANSTORE", 1, 6, 6006) == 1),
            (c, ("USER", "DISABLE", 1, 7), self.cannot(1, 7, "taobao:order:list")),
            (a, ("USER", "ENABLE", 1, 7), self.can(1, 7, "taobao:order:list")),
            (b, ("TENANT", "DISABLE", 3), self.cannot(3, 22, "taobao:order:list")),
            (c, ("TENANT", "ENABLE", 3), self.can(3, 22, "taobao:order:list")),
            (a, ("ROLE", "REVOKE", 1, 2, "sys:user:edit"), self.cannot(1, 3, "sys:user:edit")),
        ]
        waits = []
        for writer, cmd, pred in writes:
            self.assertEqual(writer.execute_command(*cmd), 1, cmd)
            self.assertTrue(pred(writer), "read-your-writes on the writer: %s" % (cmd,))
            rev = writer.execute_command("REVISION")
            for other in self.r:
                t0 = time.monotonic()
                self.assertEqual(other.execute_command("WAITREV", rev, 5000), 1)
                waits.append(time.monotonic() - t0)
                self.assertTrue(pred(other), "after WAITREV %d: %s" % (rev, cmd))
        sys.stderr.write("\nWAITREV after a write elsewhere: median %.1f ms, worst %.1f ms\n" %
                         (statistics.median(waits) * 1000, max(waits) * 1000))

    def test_bulk_change_reads_the_tenant_whole(self):
        """Seventy new users with a role, in one transaction, in a tenant of twelve: the
        poll reads the tenant whole instead of seventy users one by one."""
        before = [r.info("sync")["tenant_reloads"] for r in self.r]
        self.propagate(
            "bulk insert",
            ["INSERT INTO tenant_user (id, tenant_id, username, status) "
             "SELECT seq, 3, CONCAT('bulk', seq), 1 FROM seq_100_to_169",
             "INSERT INTO tenant_user_role (tenant_id, user_id, role_id) "
             "SELECT 3, seq, 21 FROM seq_100_to_169"],
            lambda r: all(r.execute_command("CANMENU", 3, u, "taobao:order:list")
                          for u in (100, 135, 169)))
        for r, b in zip(self.r, before):
            self.assertGreater(r.info("sync")["tenant_reloads"], b)
            self.assertEqual(r.execute_command("ROLES", 3, 150), [21])
        self.propagate("bulk delete", "DELETE FROM tenant_user WHERE id BETWEEN 100 AND 169",
                       lambda r: not any(r.execute_command("CANMENU", 3, u, "taobao:order:list")
                                         for u in (100, 135, 169)))

    def test_open_transaction_and_rollback(self):
        """An id held by an open transaction is waited for, not skipped; a rolled-back id
        is given up; neither holds back what committed after it."""
        conn = pymysql.connect(unix_socket=harness.db_socket(), user="root", password="",
                               database=self.db.name, autocommit=False)
        try:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO tenant_user_store (tenant_id, user_id, store_id) "
                            "VALUES (1, 6, 6101)")  # holds a change id, uncommitted
            self.propagate("committed after an open one",
                           "INSERT INTO tenant_user_store (tenant_id, user_id, store_id) "
                           "VALUES (1, 6, 6102)",
                           lambda r: r.execute_command("CANSTORE", 1, 6, 6102) == 1)
            for r in self.r:
                info = r.info("sync")
                self.assertLess(info["low_water"], info["revision"], info)
                # The open transaction is not something a WAITREV caller can have seen.
                t0 = time.monotonic()
                self.assertEqual(r.execute_command("WAITREV", info["revision"], 3000), 1)
                self.assertLess(time.monotonic() - t0, 1.0)
            conn.commit()
            took = wait_until(self.r, lambda r: r.execute_command("CANSTORE", 1, 6, 6101) == 1,
                              5.0)
            DELAYS.extend(took)
            self.assertLess(max(took), PROPAGATION_LIMIT_S)
            # A rolled-back id: the hole is dropped, the low water catches up.
            with conn.cursor() as cur:
                cur.execute("INSERT INTO tenant_user_store (tenant_id, user_id, store_id) "
                            "VALUES (1, 6, 6103)")
            self.db.sql("INSERT INTO tenant_user_store (tenant_id, user_id, store_id) "
                        "VALUES (1, 6, 6104)")
            wait_until(self.r, lambda r: r.execute_command("CANSTORE", 1, 6, 6104) == 1, 5.0)
            conn.rollback()
            wait_until(self.r, lambda r: (lambda i: i["low_water"] == i["revision"])(
                r.info("sync")), 5.0)
            for r in self.r:
                self.assertEqual(r.execute_command("CANSTORE", 1, 6, 6103), 0)
        finally:
            conn.close()


class MixTest(unittest.TestCase):
    """Writes on three instances at once and external SQL, then identical answers."""

    def test_three_instances_identical_after_a_mix(self):
        with scratch_db("syncmix") as db:
            servers = start_servers(db, 3)
            try:
                self.run_mix(db, servers)
            finally:
                stop_servers(servers)

    def writer(self, srv, seed, errors, n):
        rng = random.Random(seed)
        r = srv.client(socket_timeout=20)
        menus = [110, 111, 120, 210, 230, 310, 341, 510, 511, 512, 513, 530, 541, "sys:user:add",
                 "taobao:order:list"]
        cmds = [
            lambda: ("ROLE", rng.choice(["GRANT", "REVOKE"]), 1, rng.choice([1, 2, 5]),
                     *rng.sample(menus, rng.randint(1, 3))),
            lambda: ("ROLE", rng.choice(["GRANT", "REVOKE"]), 2, rng.choice([11, 12]),
                     rng.choice(menus)),
            lambda: ("USER", rng.choice(["ADDROLE", "DELROLE"]), 1, rng.choice([2, 3, 6, 7]),
                     rng.choice([1, 2, 5])),
            lambda: ("USER", rng.choice(["ADDSTORE", "DELSTORE"]), 1, rng.choice([2, 3, 7]),
                     rng.choice([1001, 1004, 9001, 9002])),
            lambda: ("USER", rng.choice(["DELEGATE", "UNDELEGATE"]), 1, rng.choice([2, 3, 6]),
                     rng.choice([4, 7])),
            lambda: ("USER", rng.choice(["ENABLE", "DISABLE"]), 1, rng.choice([2, 3, 6])),
            lambda: ("TENANT", "SUBSCRIBE", 3, rng.choice([1, 2, 3]), now_ms() - DAY_MS,
                     now_ms() + DAY_MS),
            lambda: ("TENANT", rng.choice(["ENABLE", "DISABLE"]), rng.choice([2, 3])),
        ]
        try:
            for _ in range(n):
                cmd = rng.choice(cmds)()
                try:
                    r.execute_command(*cmd)
                except redis.exceptions.ResponseError as e:
                    if "DBERR" in str(e):
                        errors.append("%s: %s" % (cmd, e))
        finally:
            close_client(r)

    def external(self, db, seed, n):
        rng = random.Random(seed)
        stmts = [
            lambda: "UPDATE tenant_menu SET status = %d WHERE id = %d" % (
                rng.choice([0, 1]), rng.choice([100, 110, 510, 540])),
            lambda: "UPDATE tenant_user SET status = %d WHERE id = %d" % (
                rng.choice([0, 1]), rng.choice([2, 3, 6, 12])),
            lambda: "UPDATE tenant_role SET deleted_at = %d WHERE id = %d" % (
                rng.choice([0, 0, now_ms()]), rng.choice([1, 2, 12])),
            lambda: "INSERT IGNORE INTO tenant_role_menu (tenant_id, role_id, menu_id) "
                    "VALUES (1, 2, %d)" % rng.choice([511, 512, 120]),
            lambda: "DELETE FROM tenant_role_menu WHERE role_id = 2 AND menu_id = %d" % (
                rng.choice([511, 512, 120])),
            lambda: "UPDATE tenant_subscription SET status = %d WHERE id = %d" % (
                rng.choice([0, 1]), rng.choice([1, 3])),
            lambda: "INSERT IGNORE INTO tenant_user_store (tenant_id, user_id, store_id) "
                    "VALUES (1, 7, %d)" % rng.choice([9001, 9003]),
            lambda: "DELETE FROM tenant_user_store WHERE user_id = 7 AND store_id = %d" % (
                rng.choice([9001, 9003])),
        ]
        for _ in range(n):
            db.sql(rng.choice(stmts)())
            time.sleep(rng.random() * 0.01)

    def run_mix(self, db, servers):
        seed = int(os.environ.get("RBACD_MIX_SEED") or time.time())
        sys.stderr.write("\nmix seed %d (RBACD_MIX_SEED repeats it)\n" % seed)
        errors = []
        threads = [threading.Thread(target=self.writer, args=(s, seed + i, errors, 60))
                   for i, s in enumerate(servers)]
        threads.append(threading.Thread(target=self.external, args=(db, seed - 1, 60)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        target = db.sql("SELECT MAX(id) FROM rbac_change")[0][0]
        clients = [s.client() for s in servers]
        for r in clients:
            self.assertEqual(r.execute_command("WAITREV", target, 5000), 1)
        snaps = [snapshot(r, db) for r in clients]
        fresh = RbacdServer(db=db).start()
        try:
            truth = snapshot(fresh.client(), db)
        finally:
            fresh.stop()
            fresh.cleanup()
        for i, s in enumerate(snaps):
            diff = [k for k in truth if truth[k] != s.get(k)]
            self.assertEqual(diff, [], "instance %d differs from a fresh load for %s: %s vs %s" %
                             (i, diff[:3], [s.get(k) for k in diff[:1]],
                              [truth[k] for k in diff[:1]]))
        for r in clients:
            self.assertGreaterEqual(r.execute_command("REVISION"), target)
        for r in clients:
            close_client(r)


# ---------------------------------------------------------------------------------------
# Gaps and purge
# ---------------------------------------------------------------------------------------

class LogMaintenanceTest(unittest.TestCase):

    def test_purged_before_read_means_full_reload(self):
        with scratch_db("syncgap") as db, RbacdServer(db=db) as srv:
            r = srv.client()
            r.config_set("sync-interval-ms", 60000)  # this instance stops reading
            time.sleep(0.3)
            db.sql("UPDATE tenant_user SET status = 0 WHERE id = 3")
            time.sleep(0.3)
            self.assertEqual(r.execute_command("CANMENU", 1, 3, "sys:user:list"), 1)
            top = db.sql("SELECT MAX(id) FROM rbac_change")[0][0]
            db.sql("UPDATE tenant_user SET real_name = 'Bob' WHERE id = 3")
            db.sql("DELETE FROM rbac_change WHERE id <= %s", (top,))  # purged elsewhere
            r.config_set("sync-interval-ms", 100)
            wait_until([r], lambda c: c.execute_command("CANMENU", 1, 3, "sys:user:list") == 0,
                       5.0)
            info = r.info("sync")
            self.assertGreaterEqual(info["gaps"], 1)
            self.assertGreaterEqual(info["full_reloads"], 1)
            self.assertIn("never read were purged", srv.log_text())

    def test_old_change_rows_are_purged(self):
        with scratch_db("syncpurge") as db, RbacdServer(
                db=db, conf_lines=["change-retention 60"]) as srv:
            r = srv.client()
            for k in range(3):
                db.sql("INSERT INTO rbac_change (tenant_id, entity, entity_id, op, changed_at) "
                       "VALUES (0, 'purge_marker', %s, 'U', NOW(3) - INTERVAL 2 DAY)", (k,))
            db.sql("INSERT INTO rbac_change (tenant_id, entity, entity_id, op) "
                   "VALUES (0, 'keep_marker', 1, 'U')")
            wait_until([r], lambda c: db.sql("SELECT COUNT(*) FROM rbac_change WHERE entity = "
                                              "'purge_marker'")[0][0] == 0, 15.0)
            self.assertEqual(db.sql("SELECT COUNT(*) FROM rbac_change WHERE entity = "
                                    "'keep_marker'")[0][0], 1)
            # The purge's counter is bumped when its result reaches the loop thread, a
            # moment after the rows are gone from the database.
            wait_until([r], lambda c: c.info("sync")["purged"] >= 3, 5.0)
            wait_until([r], lambda c: c.info("sync")["changes_ignored"] >= 4, 5.0)


# ---------------------------------------------------------------------------------------
# Outage, on a private MariaDB
# ---------------------------------------------------------------------------------------

def db_script(*args):
    subprocess.run([os.path.join(harness.source_dir(), "scripts", "db.sh")] + list(args),
                   check=True, capture_output=True, timeout=120)


class OutageTest(unittest.TestCase):
    """Its own MariaDB (data directory under a temporary directory, its own port), so
    that stopping it disturbs no other test."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rbacd-outage-")
        cls.datadir = os.path.join(cls.tmp, "db")
        cls.old_env = os.environ.get("RBACD_TEST_DBDIR")
        db_script("start", cls.datadir, str(harness.free_port()))
        os.environ["RBACD_TEST_DBDIR"] = cls.datadir  # scratch_db and db_socket() use it
        cls.db = None
        cls.servers = []
        try:
            cls.db = scratch_db("outage")
            cls.servers = start_servers(cls.db, 2, ["db-connect-timeout 2"])
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        with contextlib.suppress(Exception):
            db_script("start", cls.datadir, str(harness.free_port()))
        stop_servers(cls.servers)
        if cls.db:
            with contextlib.suppress(Exception):
                cls.db.drop()
        with contextlib.suppress(Exception):
            db_script("stop", cls.datadir)
        if cls.old_env is None:
            os.environ.pop("RBACD_TEST_DBDIR", None)
        else:
            os.environ["RBACD_TEST_DBDIR"] = cls.old_env
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    def reads_answer(self, r):
        """Reads keep being served from memory."""
        t0 = time.monotonic()
        self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
        self.assertEqual(r.execute_command("ROLES", 1, 2), [1, 2])
        self.assertEqual(r.execute_command("STORES", 1, 2), [1001, 1002, 1004, 1005])
        self.assertLess(time.monotonic() - t0, 0.5)

    def write_fails_fast(self, r):
        t0 = time.monotonic()
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            r.execute_command("USER", "ADDSTORE", 1, 6, 4444)
        took = time.monotonic() - t0
        self.assertTrue(str(cm.exception).startswith("DBERR"), str(cm.exception))
        self.assertLess(took, 5.0)
        return took

    def kill_rbacd_connections(self):
        for (cid,) in self.db.sql("SELECT id FROM information_schema.PROCESSLIST "
                                  "WHERE user = 'rbacd'"):
            with contextlib.suppress(Exception):
                self.db.sql("KILL CONNECTION %d" % cid)

    def test_outage_and_recovery(self):
        a, b = [s.client(socket_timeout=15) for s in self.servers]
        both = [a, b]
        # ---- 1. rbacd cannot reach the database; others keep changing it ----
        for host in ("localhost", "127.0.0.1"):
            self.db.sql("ALTER USER 'rbacd'@'%s' ACCOUNT LOCK" % host)
        self.kill_rbacd_connections()
        wait_until(both, lambda r: r.info("sync")["db_up"] == 0, 10.0)
        self.db.sql("UPDATE tenant_user SET status = 0 WHERE id = 3")
        self.db.sql("INSERT INTO tenant_user_role (tenant_id, user_id, role_id) VALUES (1, 6, 1)")
        self.db.sql("UPDATE tenant_menu SET status = 0 WHERE id = 600")  # already unusable
        time.sleep(0.5)
        fails = []
        for r in both:
            self.assertEqual(r.info("sync")["db_up"], 0)
            self.assertEqual(r.execute_command("CANMENU", 1, 3, "sys:user:list"), 1)  # stale
            self.reads_answer(r)
            fails.append(self.write_fails_fast(r))
        for host in ("localhost", "127.0.0.1"):
            self.db.sql("ALTER USER 'rbacd'@'%s' ACCOUNT UNLOCK" % host)
        took = wait_until(both, lambda r: r.execute_command("CANMENU", 1, 3, "sys:user:list") == 0
                          and r.execute_command("CANMENU", 1, 6, "sys:user:add") == 1, 15.0)
        sys.stderr.write("\naccount locked: writes failed in %s ms; caught up %s s after unlock\n"
                         % (["%.0f" % (f * 1000) for f in fails], ["%.2f" % t for t in took]))

        # ---- 2. MariaDB stopped ----
        db_script("stop", self.datadir)
        stopped_at = time.monotonic()
        fails = []
        # Down for a few seconds: long enough for the reconnect backoff to grow.
        while time.monotonic() - stopped_at < 3.0:
            for r in both:
                self.reads_answer(r)
                fails.append(self.write_fails_fast(r))
            time.sleep(0.25)
        for r in both:
            self.assertEqual(r.execute_command("WAITREV", 10 ** 12, 300), 0)  # never hangs
        wait_until(both, lambda r: r.info("sync")["db_up"] == 0, 5.0)
        for r in both:
            self.assertTrue(r.info("sync")["db_last_error"])
        for s in self.servers:
            log = s.log_text()
            self.assertTrue("database is down" in log or "database unreachable" in log, log[-2000:])
        down_for = time.monotonic() - stopped_at
        # ---- 3. MariaDB back: changes made at once are all applied, writes work ----
        db_script("start", self.datadir, str(harness.free_port()))
        self.db.sql("UPDATE tenant_user SET status = 1 WHERE id = 3")
        self.db.sql("DELETE FROM tenant_user_role WHERE user_id = 6 AND role_id = 1")
        self.db.sql("INSERT INTO tenant_user_store (tenant_id, user_id, store_id) "
                    "VALUES (1, 3, 3131)")
        took = wait_until(both, lambda r: r.execute_command("CANMENU", 1, 3, "sys:user:list") == 1
                          and r.execute_command("CANMENU", 1, 6, "sys:user:add") == 0
                          and r.execute_command("CANSTORE", 1, 3, 3131) == 1, 20.0)
        wait_until([a], lambda r: self.write_probe(r), 10.0)
        rev = a.execute_command("REVISION")
        self.assertEqual(b.execute_command("WAITREV", rev, 5000), 1)
        self.assertEqual(b.execute_command("CANSTORE", 1, 6, 4444), 1)
        target = self.db.sql("SELECT MAX(id) FROM rbac_change")[0][0]
        for r in both:
            self.assertEqual(r.execute_command("WAITREV", target, 5000), 1)
            self.assertGreaterEqual(r.execute_command("REVISION"), target)
            self.assertEqual(r.info("sync")["db_up"], 1)
        sys.stderr.write("MariaDB stopped %.1f s: writes failed in median %.0f ms, worst %.0f ms; "
                         "caught up %s s after restart\n" %
                         (down_for, statistics.median(fails) * 1000, max(fails) * 1000,
                          ["%.2f" % t for t in took]))

    def write_probe(self, r):
        """One write that is idempotent (a store that may already be there): True once it
        went through."""
        try:
            r.execute_command("USER", "ADDSTORE", 1, 6, 4444)
            return True
        except redis.exceptions.ResponseError:
            return False


def tearDownModule():
    if DELAYS:
        d = sorted(DELAYS)
        sys.stderr.write("\npropagation delay of external SQL over %d observations: median "
                         "%.1f ms, p95 %.1f ms, worst %.1f ms\n" %
                         (len(d), statistics.median(d) * 1000, d[int(len(d) * 0.95) - 1] * 1000,
                          d[-1] * 1000))


if __name__ == "__main__":
    harness.main()
