#!/usr/bin/env python3
"""test_housekeeping.py — the database kept tidy on a timer, seen from outside.

* Log partitions ahead: with the months after the current one removed from a scratch
  database, rbacd splits them off the MAXVALUE partition at start (log-partitions-ahead),
  a row dated then lands in its own month, and further passes create nothing more.
* Retention: backdated login and operation log rows; with log-retention-months 3 every
  partition whose month is 4 or more months behind the current one is dropped (one per
  table per pass, passes back to back until done), the rows of the month 3 behind and
  of today stay, and INFO housekeeping and GET /metrics count exactly what went.
* A table partitioned another way (a bound in mid-month) is left alone, with an error in
  INFO and the log, and the other table is still kept.
* Without the ALTER and DROP privileges the passes fail, are counted and leave the
  tables as they are; reads go on. Out-of-range values of the new keys are refused
  (CONFIG SET and the command line) naming the key and the range.
* Expired tenant_session rows are deleted in batches of purge-batch rows; live ones
  stay.
* Old rbac_change rows: never at or above this instance's low water (a change id an
  open transaction holds), however old, even when read past; once the id is filled,
  they go in batches of purge-batch; rows younger than change-retention stay.
"""

import os
import re
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import redis  # noqa: E402
from harness import RbacdServer, scratch_db, wait_for  # noqa: E402

LOG_TABLES = {"tenant_login_log": "login_time", "tenant_operation_log": "operation_time"}
WAIT_S = 20  # a pass, or a chain of passes, that takes longer than this has failed


def month_index(y, m):
    return y * 12 + m - 1


def month_start(idx):
    """'YYYY-MM-01' of month index idx."""
    return "%04d-%02d-01" % (idx // 12, idx % 12 + 1)


def now_month(db):
    ym = db.sql("SELECT EXTRACT(YEAR_MONTH FROM UTC_TIMESTAMP())")[0][0]
    return month_index(ym // 100, ym % 100)


def partitions(db, table):
    """[(name, bound month index or None for MAXVALUE)] in ordinal order."""
    rows = db.sql("SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema."
                  "PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
                  "ORDER BY PARTITION_ORDINAL_POSITION", (table,))
    out = []
    for name, desc in rows:
        if desc == "MAXVALUE":
            out.append((name, None))
        else:
            y, m = int(desc[1:5]), int(desc[6:8])
            out.append((name, month_index(y, m)))
    return out


def insert_log(db, table, at=None, tenant=0):
    """One row in a log table, dated at (a 'YYYY-MM-DD hh:mm:ss' string) or now."""
    col = LOG_TABLES[table]
    extra = ", result" if table == "tenant_login_log" else ""
    extra_v = ", 1" if extra else ""
    if at is None:
        db.sql("INSERT INTO %s (tenant_id%s) VALUES (%%s%s)" % (table, extra, extra_v), (tenant,))
    else:
        db.sql("INSERT INTO %s (tenant_id, %s%s) VALUES (%%s, %%s%s)" % (table, col, extra,
                                                                       extra_v), (tenant, at))


def metric(port, name, **labels):
    """The value of one sample of GET /metrics (labels exactly as given), or None."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
        text = resp.read().decode()
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))) \
                .strip(",") == want:
            return float(m.group(3))
    return None


def partition_name(idx):
    """The name rbacd gives the partition holding month idx."""
    return "p%04d%02d" % (idx // 12, idx % 12 + 1)


class PartitionTest(unittest.TestCase):

    def test_partitions_ahead_are_created(self):
        ahead = 4
        with scratch_db("hkahead", demo=False) as db:
            now = now_month(db)
            # Leave the months up to the current one, then only MAXVALUE.
            expected_created = 0
            for table in LOG_TABLES:
                later = [n for n, b in partitions(db, table) if b is not None and b > now + 1]
                if later:
                    db.sql("ALTER TABLE %s DROP PARTITION %s" % (table, ", ".join(later)))
                highest = max(b for _, b in partitions(db, table) if b is not None)
                expected_created += now + ahead + 1 - highest
            with RbacdServer(db=db, args=["--log-partitions-ahead", ahead]) as srv:
                wait_for(lambda: srv.info("housekeeping")["partition_passes"] >= 1, WAIT_S,
                         what="the first partition pass")
                info = srv.info("housekeeping")
                self.assertEqual(info["partition_errors"], 0, info)
                self.assertEqual(info["partitions_created"], expected_created)
                self.assertEqual(info["log_tables_partitioned"], 2)
                for table in LOG_TABLES:
                    parts = partitions(db, table)
                    self.assertEqual(parts[-1], ("pmax", None), table)
                    bounds = [b for _, b in parts if b is not None]
                    self.assertEqual(bounds[-1], now + ahead + 1, table)
                    for k in range(1, ahead + 1):
                        self.assertIn((partition_name(now + k), now + k + 1), parts, table)
                    # A row of the last month ahead lands in its own partition, not pmax.
                    last = partition_name(now + ahead)
                    insert_log(db, table, month_start(now + ahead) + " 12:00:00")
                    self.assertEqual(db.sql("SELECT COUNT(*) FROM %s PARTITION (%s)" %
                                            (table, last))[0][0], 1)
                    self.assertEqual(db.sql("SELECT COUNT(*) FROM %s PARTITION (pmax)" %
                                            table)[0][0], 0)
                # More passes find nothing to do.
                r = srv.client()
                r.config_set("housekeeping-interval", 1)
                passes = info["partition_passes"]
                wait_for(lambda: srv.info("housekeeping")["partition_passes"] >= passes + 2,
                         WAIT_S, interval=0.1, what="two more passes")
                info = srv.info("housekeeping")
                self.assertEqual(info["partitions_created"], expected_created)
                self.assertEqual(info["partitions_dropped"], 0)
                self.assertEqual(info["partition_errors"], 0)
                r.close()

    def test_partitions_past_retention_are_dropped(self):
        retention = 3
        with scratch_db("hkdrop", demo=False) as db:
            now = now_month(db)
            cutoff = now - retention  # partitions bounded at or before this month go
            # Backdated rows: six months ago, the last instant before the cutoff, the
            # first instant of the oldest month kept, and now.
            old_rows = [month_start(now - 6) + " 10:00:00", month_start(cutoff) + " 00:00:00"]
            old_rows[1] = db.sql("SELECT %s - INTERVAL 1 MICROSECOND", (old_rows[1],))[0][0]
            kept_rows = [month_start(cutoff) + " 00:00:00"]
            expected_dropped = 0
            for table in LOG_TABLES:
                for t in old_rows + kept_rows:
                    insert_log(db, table, t, tenant=9)
                insert_log(db, table, tenant=9)
                expected_dropped += sum(1 for _, b in partitions(db, table)
                                        if b is not None and b <= cutoff)
            self.assertGreaterEqual(expected_dropped, 2 * 3)  # several passes needed
            port = harness.free_port()
            with RbacdServer(db=db, args=["--log-retention-months", retention,
                                          "--http-port", port]) as srv:
                wait_for(lambda: srv.info("housekeeping")["partitions_dropped"] >=
                         expected_dropped, WAIT_S, interval=0.1, what="the old partitions gone")
                info = srv.info("housekeeping")
                self.assertEqual(info["partitions_dropped"], expected_dropped)
                # /metrics reads the same counters.
                self.assertEqual(metric(port, "rbacd_housekeeping_partitions_dropped_total"),
                                 expected_dropped)
                self.assertEqual(metric(port, "rbacd_housekeeping_partition_errors_total"), 0)
                self.assertGreater(metric(
                    port, "rbacd_housekeeping_last_partition_pass_timestamp_seconds"), 0)
                self.assertEqual(info["partition_errors"], 0, info)
                self.assertGreater(info["partition_passes"], 1)  # one drop per table a pass
                for table, col in LOG_TABLES.items():
                    parts = partitions(db, table)
                    bounds = [b for _, b in parts if b is not None]
                    self.assertGreater(min(bounds), cutoff, table)
                    self.assertIn((partition_name(cutoff), cutoff + 1), parts, table)
                    rows = db.sql("SELECT COUNT(*), MIN(%s) FROM %s WHERE tenant_id = 9"
                                  % (col, table))
                    self.assertEqual(rows[0][0], 2, table)  # the first day kept, and now
                    self.assertEqual(str(rows[0][1])[:19], kept_rows[0], table)
                self.assertIn("dropped", srv.log_text())

    def test_table_partitioned_otherwise_is_left_alone(self):
        with scratch_db("hkodd", demo=False) as db:
            now = now_month(db)
            name = partition_name(now - 2)
            db.sql("ALTER TABLE tenant_operation_log REORGANIZE PARTITION %s INTO ("
                   "PARTITION %sa VALUES LESS THAN ('%s'), PARTITION %s VALUES LESS THAN ('%s'))"
                   % (name, name, month_start(now - 2)[:8] + "15", name, month_start(now - 1)))
            before = partitions(db, "tenant_operation_log")
            with RbacdServer(db=db, args=["--log-retention-months", 1]) as srv:
                wait_for(lambda: srv.info("housekeeping")["partition_errors"] >= 1, WAIT_S,
                         what="the pass refusing the table")
                info = srv.info("housekeeping")
                self.assertIn("tenant_operation_log", info["last_partition_error"])
                self.assertIn("left alone", info["last_partition_error"])
                self.assertGreaterEqual(info["housekeeping_errors"], 1)
                self.assertEqual(partitions(db, "tenant_operation_log"), before)
                # The login log is still kept: its old partitions go, pass after pass.
                wait_for(lambda: min(b for _, b in partitions(db, "tenant_login_log")
                                     if b is not None) > now - 1, WAIT_S, interval=0.1,
                         what="the login log's old partitions dropped")
                self.assertEqual(partitions(db, "tenant_operation_log"), before)
                self.assertIn("tenant_operation_log", srv.log_text())

    def test_without_alter_privilege_it_counts_errors_and_serves(self):
        with scratch_db("hkpriv", demo=True) as db:
            for host in ("localhost", "127.0.0.1"):
                db.sql("REVOKE ALTER, DROP ON `%s`.* FROM 'rbacd'@'%s'" % (db.name, host))
            before = {t: partitions(db, t) for t in LOG_TABLES}
            with RbacdServer(db=db, args=["--log-retention-months", 1]) as srv:
                wait_for(lambda: srv.info("housekeeping")["partition_errors"] >= 1, WAIT_S,
                         what="the pass refused by the database")
                info = srv.info("housekeeping")
                self.assertIn("denied", info["last_partition_error"])
                self.assertEqual(info["partitions_dropped"], 0)
                self.assertEqual({t: partitions(db, t) for t in LOG_TABLES}, before)
                r = srv.client()
                self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
                r.close()


class ConfigTest(unittest.TestCase):

    def test_bad_values_are_refused(self):
        cases = [("log-retention-months", "-1", "between 0 and 1200"),
                 ("log-partitions-ahead", "0", "between 1 and 1200"),
                 ("housekeeping-interval", "1d", "between 1 and 86400"),
                 ("purge-batch", "100001", "between 1 and 100000")]
        with RbacdServer(db=None) as srv:
            r = srv.client()
            for key, value, why in cases:
                with self.assertRaises(redis.exceptions.ResponseError) as e:
                    r.config_set(key, value)
                self.assertIn(key, str(e.exception))
                self.assertIn(why, str(e.exception))
            self.assertEqual(r.config_get("purge-batch"), {"purge-batch": "1000"})
            r.config_set("purge-batch", 50)
            self.assertEqual(srv.info("housekeeping")["purge_batch"], 50)
            r.close()
        for key, value, why in cases:
            p = subprocess.run([harness.rbacd_bin(), "--check-config",
                                harness.default_conf_file(), "--" + key, value],
                               capture_output=True, text=True, timeout=30,
                               env=harness.sanitizer_env())
            self.assertEqual(p.returncode, 1)
            self.assertIn("--%s: '%s' is not an integer %s" % (key, value, why), p.stderr)


class PurgeTest(unittest.TestCase):

    def insert_sessions(self, db, n, expired):
        db.sql("INSERT INTO tenant_session (token_hash, tenant_id, user_id, expires_at) "
               "SELECT UNHEX(SHA2(CONCAT(%s, seq, RAND()), 256)), 1, 3, " +
               ("NOW(3) - INTERVAL 1 HOUR" if expired else "NOW(3) + INTERVAL 1 HOUR") +
               " FROM seq_1_to_%d" % n, ("expired" if expired else "live",))

    def test_expired_sessions_are_purged_in_batches(self):
        batch, n = 10, 45
        with scratch_db("hksess") as db:
            self.insert_sessions(db, n, expired=True)
            self.insert_sessions(db, 3, expired=False)
            port = harness.free_port()
            with RbacdServer(db=db, args=["--purge-batch", batch, "--http-port", port]) as srv:
                wait_for(lambda: db.sql("SELECT COUNT(*) FROM tenant_session WHERE "
                                        "expires_at <= NOW(3)")[0][0] == 0, WAIT_S,
                         interval=0.1, what="the expired sessions purged")
                wait_for(lambda: srv.info("housekeeping")["sessions_purged"] >= n, WAIT_S,
                         what="the purge counted")
                info = srv.info("housekeeping")
                self.assertEqual(info["sessions_purged"], n)
                # 45 rows, 10 a statement: 5 statements at least, the last one short.
                self.assertGreaterEqual(info["session_purge_runs"], (n + batch - 1) // batch)
                self.assertEqual(info["session_purge_errors"], 0)
                self.assertEqual(info["purge_batch"], batch)
                self.assertEqual(db.sql("SELECT COUNT(*) FROM tenant_session")[0][0], 3)
                self.assertEqual(metric(port, "rbacd_housekeeping_purged_rows_total",
                                        table="tenant_session"), n)
                self.assertEqual(metric(port, "rbacd_housekeeping_purge_runs_total",
                                        table="tenant_session"),
                                 srv.info("housekeeping")["session_purge_runs"])
                self.assertEqual(metric(port, "rbacd_housekeeping_purge_errors_total",
                                        table="rbac_change"), 0)

    def test_change_purge_never_passes_the_low_water(self):
        old = "INSERT INTO rbac_change (tenant_id, entity, entity_id, op, changed_at) " \
              "VALUES (0, %s, %s, 'U', NOW(3) - INTERVAL 2 DAY)"
        count = "SELECT COUNT(*) FROM rbac_change WHERE entity = %s"
        with scratch_db("hkchg") as db, RbacdServer(
                db=db, args=["--change-retention", 60, "--purge-batch", 2]) as srv:
            r = srv.client()
            # A transaction left open holds one change id: this instance's low water
            # stays below it, however far it reads past it.
            blocker = harness._root_connect(db.name)
            blocker.begin()
            with blocker.cursor() as cur:
                cur.execute(old, ("hk_blocker", 0))
                cur.execute("SELECT LAST_INSERT_ID()")
                held = cur.fetchone()[0]
            try:
                for k in range(5):
                    db.sql(old, ("hk_marker", k))
                db.sql("INSERT INTO rbac_change (tenant_id, entity, entity_id, op) "
                       "VALUES (0, 'hk_young', 1, 'U')")
                top = db.sql("SELECT MAX(id) FROM rbac_change")[0][0]
                wait_for(lambda: r.info("sync")["revision"] >= top, WAIT_S,
                         what="the markers read")
                self.assertLess(r.info("sync")["low_water"], held)
                # Two purge runs later (one every 6 s at change-retention 60) the five
                # old markers are all there: above the low water.
                runs = r.info("housekeeping")["change_purge_runs"]
                wait_for(lambda: r.info("housekeeping")["change_purge_runs"] >= runs + 2,
                         WAIT_S, interval=0.2, what="two purge runs")
                self.assertLess(r.info("sync")["low_water"], held)
                self.assertEqual(db.sql(count, ("hk_marker",))[0][0], 5)
            finally:
                blocker.commit()
                blocker.close()
            # The id is filled: the low water passes the markers, and they go, two a run.
            purged = r.info("housekeeping")["changes_purged"]
            runs = r.info("housekeeping")["change_purge_runs"]
            wait_for(lambda: db.sql(count, ("hk_marker",))[0][0] == 0, 30, interval=0.2,
                     what="the markers purged")
            self.assertEqual(db.sql(count, ("hk_blocker",))[0][0], 0)
            wait_for(lambda: r.info("housekeeping")["changes_purged"] >= purged + 6, WAIT_S,
                     what="the purge counted")
            info = r.info("housekeeping")
            self.assertGreaterEqual(info["change_purge_runs"], runs + 3)  # 6 rows, 2 a run
            self.assertEqual(info["change_purge_errors"], 0)
            # Younger than change-retention: kept.
            self.assertEqual(db.sql(count, ("hk_young",))[0][0], 1)
            r.close()

if __name__ == "__main__":
    harness.main()
