#!/usr/bin/env python3
"""test_login_abuse.py — SESSION LOGIN's abuse limits (README "Login abuse").

After login-max-failures failed logins of one (tenant, username) within
login-failure-window, and after login-max-failures-per-ip failed logins from one IP,
every further attempt naming the key is refused for login-lockout seconds: the same
WRONGPASS reply as any failure, no password check (INFO login_password_checks does not
move, and it answers far faster than a bcrypt check), a tenant_login_log row 'locked
out (user)' or 'locked out (ip)'. The state is tenant_login_log itself: a second
instance and a restarted one refuse too. The lockout lifts on its own (sooner when
login-lockout is lowered); failures age out of the window; a success clears the user
name's count; 0 turns a limit off; a burst of parallel attempts on one instance gets no
more password checks than the limit; CONFIG SET and the configuration file check the
values.

Tests use keys (tenant, user, IP) of their own on one shared database and set the
small values they need through CONFIG SET, restoring the class defaults afterwards.
"""

import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import RbacdServer, RespError, ServerTestCase, encode_command, wait_for  # noqa: E402
from test_http import scrape, value  # noqa: E402
from test_sessions import TOKEN_RE, bcrypt_hash  # noqa: E402

WRONGPASS = "WRONGPASS invalid credentials"
SLOW_PW = "slow-pass-456"  # user 'slow': bcrypt cost 12, about 300 ms a check
# Users of tenant demo (1) made here, one or two per test, each with password
# '<name>-pw' as a cost-4 bcrypt hash (a check takes about a millisecond).
USERS = ["lifty", "sqly", "clearly", "ipuser", "offy", "bursty", "multi", "twoinst",
         "windowy", "relocky", "afterburst"]

# The class's configuration: the default limits, a window and a lockout long enough
# that a loaded machine's slow password checks never let a count age out mid-test.
CONF = {"login-max-failures": "5", "login-max-failures-per-ip": "20",
        "login-failure-window": "120", "login-lockout": "120"}


class LoginAbuseBase(ServerTestCase):
    CONF_LINES = ["%s %s" % kv for kv in CONF.items()]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = [("slow", bcrypt_hash(SLOW_PW, 12))]
        users += [(u, bcrypt_hash(u + "-pw", 4)) for u in USERS]
        for name, pw_hash in users:
            cls.db.sql("INSERT INTO tenant_user (tenant_id, username, password, status) "
                       "VALUES (1, %s, %s, 1)", (name, pw_hash))
        cls.srv.admin_client().execute_command("RELOAD")

    def setUp(self):
        super().setUp()
        self.conn = self.srv.raw_connection(timeout=60)

    def tearDown(self):
        self.conn.close()
        for k, v in CONF.items():
            self.r.config_set(k, v)
        super().tearDown()

    def login(self, code, user, pw, *opts, conn=None):
        return (conn or self.conn).call("SESSION", "LOGIN", code, user, pw, *opts)

    def assertWrongpass(self, reply, what=""):
        self.assertIsInstance(reply, RespError, "%s: expected WRONGPASS, got %r" % (what, reply))
        self.assertEqual(str(reply), WRONGPASS, what)

    def assertToken(self, reply, what=""):
        self.assertIsInstance(reply, bytes, "%s: expected a token, got %r" % (what, reply))
        self.assertRegex(reply.decode(), TOKEN_RE)

    def fail_times(self, code, user, n, *opts, pw="not-the-password"):
        """n failed logins; returns how long each took."""
        took = []
        for i in range(n):
            t0 = time.monotonic()
            self.assertWrongpass(self.login(code, user, pw, *opts), "failure %d" % (i + 1))
            took.append(time.monotonic() - t0)
        return took

    def log_rows(self, user, since):
        return [tuple(r) for r in self.db.sql(
            "SELECT result, message FROM tenant_login_log WHERE username = %s AND log_id > %s "
            "ORDER BY log_id", (user, since))]

    def log_mark(self):
        return self.db.sql("SELECT COALESCE(MAX(log_id), 0) FROM tenant_login_log")[0][0]

    def info(self, srv=None):
        return (srv or self.srv).info("sessions")


class LoginAbuseTest(LoginAbuseBase):
    """One instance: the user name limit, the IP limit, their lifting and switches."""

    def test_sixth_attempt_is_refused_without_a_password_check(self):
        mark = self.log_mark()
        before = self.info()
        wrong = self.fail_times("demo", "slow", 5)
        t0 = time.monotonic()
        self.assertWrongpass(self.login("demo", "slow", SLOW_PW), "the right password, locked")
        refused = time.monotonic() - t0
        after = self.info()
        self.assertEqual(after["logins_locked_out"] - before["logins_locked_out"], 1)
        self.assertEqual(after["login_lockouts"] - before["login_lockouts"], 1)
        self.assertEqual(after["logins_failed"] - before["logins_failed"], 6)
        # Five password checks for the five failures, none for the refusal.
        self.assertEqual(after["login_password_checks"] - before["login_password_checks"], 5)
        # A cost-12 check takes ~300 ms; the refusal is two trips through the session
        # lane and no hash at all.
        report = "wrong passwords %s s, refused %.3f s" % (
            ", ".join("%.3f" % t for t in wrong), refused)
        self.assertLess(refused, min(wrong) / 4, report)
        print("\n    " + report)
        self.assertEqual(self.log_rows("slow", mark),
                         [(0, "wrong password")] * 5 + [(0, "locked out (user)")])
        # The log is the lockout's only record: no table beyond SPEC §1's.
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM information_schema.tables WHERE "
                                     "table_schema = DATABASE() AND table_name LIKE "
                                     "'%%lock%%'")[0][0], 0)

    def test_unknown_user_locks_the_same_way(self):
        # No oracle: a name nobody has is counted and locked out like a real one.
        mark = self.log_mark()
        self.fail_times("demo", "ghost", 5)
        self.assertWrongpass(self.login("demo", "ghost", "anything"))
        self.assertEqual(self.log_rows("ghost", mark),
                         [(0, "unknown user")] * 5 + [(0, "locked out (user)")])
        # Same for an unknown tenant code.
        mark = self.log_mark()
        self.fail_times("nosuchco", "phantom", 5)
        self.assertWrongpass(self.login("nosuchco", "phantom", "anything"))
        self.assertEqual(self.log_rows("phantom", mark),
                         [(0, "unknown tenant")] * 5 + [(0, "locked out (user)")])

    def test_lockout_lifts_after_login_lockout(self):
        self.r.config_set("login-lockout", "2")
        self.fail_times("demo", "lifty", 5)
        locked_at = time.monotonic()
        self.assertWrongpass(self.login("demo", "lifty", "lifty-pw"), "locked")

        def attempt():
            r = self.login("demo", "lifty", "lifty-pw")
            return r if isinstance(r, bytes) else None
        # Retrying meanwhile (refused each time) does not prolong it.
        tok = wait_for(attempt, 20, interval=0.2, what="the lockout lifted")
        waited = time.monotonic() - locked_at
        self.assertToken(tok)
        self.assertGreater(waited, 1.5)
        self.assertLess(waited, 15)
        # Counting starts again after it: four failures lock nothing.
        self.fail_times("demo", "lifty", 4)
        self.assertToken(self.login("demo", "lifty", "lifty-pw"))

    def test_failures_age_out_of_the_window(self):
        self.r.config_set("login-failure-window", "2")
        self.r.config_set("login-lockout", "3")
        mark = self.log_mark()
        self.fail_times("demo", "windowy", 4)

        def in_window():
            return self.db.sql(
                "SELECT COUNT(*) FROM tenant_login_log WHERE username = 'windowy' AND "
                "log_id > %s AND login_time > UTC_TIMESTAMP(3) - INTERVAL 2 SECOND",
                (mark,))[0][0]
        wait_for(lambda: in_window() == 0, 20, interval=0.1, what="failures out of the window")
        # Those four no longer count: four more and the right password get in (counted
        # with them, the first of the four would have started a lockout).
        self.fail_times("demo", "windowy", 4)
        self.assertToken(self.login("demo", "windowy", "windowy-pw"), "old failures aged out")
        # Five in the window lock it for three seconds, then it lifts.
        self.fail_times("demo", "windowy", 5)
        locked_at = time.monotonic()
        self.assertWrongpass(self.login("demo", "windowy", "windowy-pw"), "locked")

        def attempt():
            r = self.login("demo", "windowy", "windowy-pw")
            return r if isinstance(r, bytes) else None
        self.assertToken(wait_for(attempt, 20, interval=0.2, what="the lockout lifted"))
        self.assertGreater(time.monotonic() - locked_at, 2.5)
        messages = [m for _, m in self.log_rows("windowy", mark)]
        self.assertEqual(messages[:14], ["wrong password"] * 8 + ["ok"] + ["wrong password"] * 5)
        self.assertEqual(messages[-1], "ok")
        self.assertGreaterEqual(len(messages), 16, messages)
        self.assertEqual(set(messages[14:-1]), {"locked out (user)"}, messages)

    def test_burst_after_a_short_lockout_gets_one_check(self):
        # Window 120 s, lockout 2 s. Once the lockout has ended, its five failures still
        # count: of ten attempts at once one gets a password check, fails and locks the
        # name again; the other nine wait for it and are refused.
        self.r.config_set("login-lockout", "2")
        mark = self.log_mark()
        self.fail_times("demo", "afterburst", 5)
        wait_for(lambda: self.db.sql(
            "SELECT MAX(login_time) + INTERVAL 2 SECOND < UTC_TIMESTAMP(3) FROM "
            "tenant_login_log WHERE username = 'afterburst' AND log_id > %s", (mark,))[0][0] == 1,
            20, interval=0.1, what="the lockout over")
        before = self.info()
        conns = [self.srv.raw_connection(timeout=60) for _ in range(10)]
        try:
            for c in conns:
                c.send(encode_command("SESSION", "LOGIN", "demo", "afterburst", "guess"))
            for c in conns:
                self.assertWrongpass(c.read_reply())
        finally:
            for c in conns:
                c.close()
        after = self.info()
        self.assertEqual(after["login_password_checks"] - before["login_password_checks"], 1)
        self.assertEqual(sorted(self.log_rows("afterburst", mark)[5:]),
                         [(0, "locked out (user)")] * 9 + [(0, "wrong password")])

    def test_config_set_shortens_a_lockout_in_force(self):
        # The keys apply to the log as it stands: a shorter login-lockout ends a lockout
        # that began under the longer one.
        self.fail_times("demo", "sqly", 5)
        self.assertWrongpass(self.login("demo", "sqly", "sqly-pw"), "locked for 120 s")
        self.r.config_set("login-lockout", "1")

        def attempt():
            r = self.login("demo", "sqly", "sqly-pw")
            return r if isinstance(r, bytes) else None
        self.assertToken(wait_for(attempt, 10, interval=0.1, what="the lockout shortened"))

    def test_lockout_shorter_than_the_window_relocks_on_the_next_failure(self):
        # Window 120 s, lockout 2 s: once the lockout ends its five failures are still
        # within the window, so one more failure locks the name again at once.
        self.r.config_set("login-lockout", "2")
        mark = self.log_mark()
        self.fail_times("demo", "relocky", 5)

        def checked_failure():
            self.assertWrongpass(self.login("demo", "relocky", "wrong"))
            return self.log_rows("relocky", mark)[-1][1] == "wrong password"
        wait_for(checked_failure, 20, interval=0.2, what="a failure checked after the lockout")
        self.assertWrongpass(self.login("demo", "relocky", "relocky-pw"), "locked again")
        self.assertEqual(self.log_rows("relocky", mark)[-1], (0, "locked out (user)"))

    def test_success_clears_the_user_count(self):
        for _ in range(2):
            self.fail_times("demo", "clearly", 4)
            self.assertToken(self.login("demo", "clearly", "clearly-pw"))
        self.fail_times("demo", "clearly", 5)
        self.assertWrongpass(self.login("demo", "clearly", "clearly-pw"), "five in a row")

    def test_per_ip_limit_across_user_names(self):
        self.r.config_set("login-max-failures-per-ip", "4")
        ip = "192.0.2.7"
        mark = self.log_mark()
        for user in ("nobody1", "nobody2", "ipuser", "alice"):
            self.assertWrongpass(self.login("demo", user, "wrong", "IP", ip), user)
        self.assertWrongpass(self.login("demo", "ipuser", "ipuser-pw", "IP", ip),
                             "the right password from a locked-out IP")
        rows = self.db.sql("SELECT username, result, message FROM tenant_login_log "
                           "WHERE ip = %s AND log_id > %s ORDER BY log_id", (ip, mark))
        self.assertEqual([r[2] for r in rows], ["unknown user", "unknown user", "wrong password",
                                                "wrong password", "locked out (ip)"])
        # The user name is not locked out: from another IP, or with no IP, it logs in.
        self.assertToken(self.login("demo", "ipuser", "ipuser-pw", "IP", "192.0.2.8"))
        self.assertToken(self.login("demo", "ipuser", "ipuser-pw"))
        self.assertWrongpass(self.login("demo", "alice", "alice123", "IP", ip), "still locked")

    def test_limits_off_with_zero(self):
        ip = "198.51.100.9"
        self.r.config_set("login-max-failures", "0")
        self.r.config_set("login-max-failures-per-ip", "0")
        before = self.info()
        self.fail_times("demo", "offy", 7, "IP", ip)
        self.assertToken(self.login("demo", "offy", "offy-pw", "IP", ip))
        self.fail_times("demo", "offy", 6, "IP", ip)
        self.assertEqual(self.info()["logins_locked_out"], before["logins_locked_out"])
        # The failures are in the log all the same: turned on, the limit counts them.
        self.r.config_set("login-max-failures", "5")
        self.assertWrongpass(self.login("demo", "offy", "offy-pw"), "on again")
        self.r.config_set("login-max-failures", "0")
        self.assertToken(self.login("demo", "offy", "offy-pw"), "off again")

    def test_config_set_checks_values(self):
        for key, bad in [("login-max-failures", "-1"), ("login-max-failures", "x"),
                         ("login-max-failures-per-ip", "-5"), ("login-failure-window", "0"),
                         ("login-failure-window", "86401"), ("login-lockout", "-1"),
                         ("login-lockout", "0")]:
            reply = self.conn.call("CONFIG", "SET", key, bad)
            self.assertIsInstance(reply, RespError, (key, bad))
            self.assertIn(key, str(reply))
        self.assertEqual(self.r.config_get("login-*"), CONF)
        self.assertTrue(self.r.config_set("login-lockout", "900"))
        self.assertEqual(self.r.config_get("login-lockout"), {"login-lockout": "900"})

    def test_parallel_burst_gets_no_more_checks_than_the_limit(self):
        # Thirty attempts at once on one name (enough for both session lanes to run
        # batches side by side): five password checks, 25 refusals, one lockout.
        mark = self.log_mark()
        before = self.info()
        conns = [self.srv.raw_connection(timeout=60) for _ in range(30)]
        try:
            for c in conns:
                c.send(encode_command("SESSION", "LOGIN", "demo", "bursty", "guess"))
            replies = [c.read_reply() for c in conns]
        finally:
            for c in conns:
                c.close()
        for r in replies:
            self.assertWrongpass(r)
        self.assertEqual(sorted(self.log_rows("bursty", mark)),
                         [(0, "locked out (user)")] * 25 + [(0, "wrong password")] * 5)
        self.assertWrongpass(self.login("demo", "bursty", "bursty-pw"), "locked out")
        wait_for(lambda: self.info()["logins_in_progress"] == 0, 10, what="logins done")
        after = self.info()
        self.assertEqual(after["logins_waiting"], 0)
        self.assertEqual(after["login_password_checks"] - before["login_password_checks"], 5)
        self.assertEqual(after["login_lockouts"] - before["login_lockouts"], 1)


class LoginAbuseConfigFileTest(unittest.TestCase):
    """Bad values of the login-* keys stop the start, naming the file, line and key."""

    def test_bad_values_stop_the_start(self):
        cases = [("login-max-failures", "-1", "0 and 10000"),
                 ("login-max-failures", "five", "0 and 10000"),
                 ("login-max-failures-per-ip", "-20", "0 and 10000"),
                 ("login-max-failures-per-ip", "1e3", "0 and 10000"),
                 ("login-failure-window", "0", "1 and 86400"),
                 ("login-failure-window", "5m", "1 and 86400"),
                 ("login-lockout", "-900", "1 and 31536000"),
                 ("login-lockout", "forever", "1 and 31536000")]
        with tempfile.TemporaryDirectory(prefix="rbacd-login-") as tmp:
            path = os.path.join(tmp, "bad.conf")
            for key, value, bounds in cases:
                with self.subTest(key=key, value=value):
                    with open(path, "w") as f:
                        f.write("# login limits\nport 0\n%s %s\n" % (key, value))
                    p = subprocess.run([harness.rbacd_bin(), path], capture_output=True,
                                       text=True, timeout=30, env=harness.sanitizer_env(),
                                       stdin=subprocess.DEVNULL)
                    harness.check_sanitizer_output(p.stdout + p.stderr, key)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertIn("%s:3: %s: '%s' is not an integer between %s"
                                  % (path, key, value, bounds), p.stderr)


class LoginAbuseInstancesTest(LoginAbuseBase):
    """The counts and lockouts are in the database: other instances and restarts see them."""

    def test_lockout_holds_on_another_instance_and_after_restart(self):
        self.fail_times("demo", "multi", 5)
        self.assertWrongpass(self.login("demo", "multi", "multi-pw"), "on A")
        for attempt in ("on B", "on B restarted"):
            with RbacdServer(db=self.db, conf_lines=self.CONF_LINES) as b:
                with b.raw_connection(timeout=60) as c:
                    before = self.info(b)
                    self.assertWrongpass(self.login("demo", "multi", "multi-pw", conn=c), attempt)
                    after = self.info(b)
                    self.assertEqual(after["logins_locked_out"], before["logins_locked_out"] + 1,
                                     attempt)
                    self.assertEqual(after["login_password_checks"],
                                     before["login_password_checks"], attempt)

    def test_metrics_follow_info(self):
        # Five failures on this instance (a name nobody has), then a refusal on a fresh
        # one with /metrics, which computes no hash: its families say what INFO says.
        port = harness.free_port()
        with RbacdServer(db=self.db, conf_lines=self.CONF_LINES + ["http-port %d" % port]) as b:
            with b.raw_connection(timeout=60) as c:
                self.fail_times("demo", "metricky", 5)
                self.assertWrongpass(self.login("demo", "metricky", "x", conn=c), "refused")
            fams, info = scrape(port), self.info(b)
        for family, field, want in [
                ("rbacd_session_logins_locked_out_total", "logins_locked_out", 1),
                ("rbacd_session_login_lockouts_total", "login_lockouts", 0),
                ("rbacd_session_login_password_checks_total", "login_password_checks", 0),
                ("rbacd_session_logins_waiting", "logins_waiting", 0)]:
            self.assertEqual(value(fams, family), want, family)
            self.assertEqual(info[field], want, field)

    def test_failures_on_two_instances_add_up(self):
        with RbacdServer(db=self.db, conf_lines=self.CONF_LINES) as b:
            with b.raw_connection(timeout=60) as c:
                for i in range(5):
                    conn = self.conn if i % 2 == 0 else c
                    self.assertWrongpass(self.login("demo", "twoinst", "nope", conn=conn))
                self.assertWrongpass(self.login("demo", "twoinst", "twoinst-pw", conn=c), "on B")
                self.assertWrongpass(self.login("demo", "twoinst", "twoinst-pw"), "on A")


if __name__ == "__main__":
    harness.main()
