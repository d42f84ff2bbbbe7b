"""Authentication and authorisation (SPEC.md §2 AUTH/HELLO, §3 requirepass, user,
protected-mode): NOAUTH before AUTH, WRONGPASS, the check and admin roles (NOPERM),
secrets masked, argon2 verification off the event loop, protected mode.

One server with `requirepass secret`, a `check` user and an `admin` user serves most
tests; protected mode gets servers of its own.

Protected mode can only be seen from a non-loopback address. When this machine has a
non-loopback IPv4 address (`hostname -I`), the servers also listen on it and the tests
connect to it; otherwise those tests are skipped (loopback behaviour is still tested).
"""

import subprocess
import threading
import time
import unittest

import redis

import harness
from harness import RespError, encode_command

CHECKER_PW = "checker-pw-1"
BOSS_PW = "boss-pw-2"
REQUIREPASS = "secret"
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


def non_loopback_ipv4():
    """A non-loopback IPv4 address of this machine, or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for a in out.split():
        if "." in a and not a.startswith("127."):
            return a
    return None


EXTERNAL_IP = non_loopback_ipv4()
HASHES = {}


def setUpModule():
    HASHES["checker"] = harness.hash_password(CHECKER_PW)
    HASHES["boss"] = harness.hash_password(BOSS_PW)


class AuthTest(harness.ServerTestCase):
    """requirepass + users checker (check) and boss (admin)."""

    SERVER_KW = {"password": REQUIREPASS}

    @classmethod
    def setUpClass(cls):
        cls.CONF_LINES = [
            "requirepass " + REQUIREPASS,
            "user checker check " + HASHES["checker"],
            "user boss admin " + HASHES["boss"],
        ]
        if EXTERNAL_IP:
            cls.CONF_LINES.append("bind 127.0.0.1 " + EXTERNAL_IP)
        super().setUpClass()

    def conn(self, **kw):
        return self.srv.raw_connection(**kw)

    def assert_err(self, v, prefix):
        self.assertIsInstance(v, RespError, v)
        self.assertTrue(str(v).startswith(prefix), "expected %s..., got %s" % (prefix, v))

    # ---- NOAUTH, AUTH ----

    def test_noauth_before_auth(self):
        with self.conn() as c:
            for cmd in (("PING",), ("ECHO", "x"), ("CONFIG", "GET", "port"), ("INFO",),
                        ("CLIENT", "ID"), ("COMMAND", "COUNT"), ("SELECT", "0"),
                        ("SHUTDOWN",), ("SLOWLOG", "LEN")):
                v = c.call(*cmd)
                self.assertEqual(str(v), "NOAUTH Authentication required.", cmd)
            # HELLO without AUTH is refused too, and says how to authenticate.
            v = c.call("HELLO", "3")
            self.assert_err(v, "NOAUTH")
            self.assertIn("AUTH", str(v))
            # The connection is still RESP2 and still usable.
            self.assertEqual(c.call("AUTH", REQUIREPASS), "OK")
            self.assertEqual(c.call("PING"), "PONG")
        with self.assertRaises(redis.exceptions.AuthenticationError):
            self.srv.client().ping()

    def test_auth_requirepass(self):
        with self.conn() as c:
            v = c.call("AUTH", "wrong")
            self.assertEqual(str(v), WRONGPASS)
            self.assert_err(c.call("PING"), "NOAUTH")
            self.assertEqual(c.call("AUTH", REQUIREPASS), "OK")
            self.assertEqual(c.call("PING"), "PONG")
            info = c.call("CLIENT", "INFO").decode()
            self.assertIn(" user=default ", info)
        with self.conn() as c:
            self.assertEqual(c.call("AUTH", "default", REQUIREPASS), "OK")
            self.assertEqual(c.call("PING"), "PONG")
        with self.conn() as c:
            self.assert_err(c.call("AUTH", "default", "nope"), "WRONGPASS")
            self.assert_err(c.call("AUTH", "a", "b", "c"), "ERR")
            self.assert_err(c.call("AUTH"), "ERR wrong number of arguments")
        self.assertTrue(self.srv.client(password=REQUIREPASS).ping())
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "^WRONGPASS"):
            self.srv.client(password="wrong").ping()

    def test_auth_failures_counted(self):
        before = self.r.info("stats")["auth_failures"]
        with self.conn() as c:
            c.call("AUTH", "nope")
            c.call("AUTH", "nosuchuser", "nope")
        self.assertGreaterEqual(self.r.info("stats")["auth_failures"], before + 2)

    def test_hello_auth(self):
        with self.conn() as c:
            c.send(encode_command("HELLO", "3", "AUTH", "default", REQUIREPASS))
            c.sock.settimeout(10)
            while b"modules" not in c.buf:
                c._fill()
            self.assertTrue(c.buf.startswith(b"%7\r\n"), c.buf[:20])
            h = c.read_reply()
            self.assertEqual(h["proto"], 3)
            self.assertEqual(c.call("PING"), "PONG")
        with self.conn() as c:
            v = c.call("HELLO", "3", "AUTH", "default", "wrong")
            self.assert_err(v, "WRONGPASS")
            # Neither authenticated nor switched to RESP3.
            self.assert_err(c.call("PING"), "NOAUTH")
            c.send(encode_command("CLIENT", "GETNAME"))
            self.assertTrue(c.sock.recv(100).startswith(b"-NOAUTH"))
        with self.conn() as c:
            h = c.call("HELLO", "3", "AUTH", "checker", CHECKER_PW, "SETNAME", "chk")
            self.assertEqual(h["proto"], 3)
            info = c.call("CLIENT", "INFO")
            self.assertIn(" user=checker ", info)
            self.assertIn(" name=chk ", info)
            self.assertIn(" resp=3", info)
        with self.conn() as c:
            h = c.call("HELLO", "2", "AUTH", "boss", BOSS_PW)
            self.assertIsInstance(h, list)  # RESP2: a flat array
            self.assertEqual(c.call("CONFIG", "SET", "loglevel", "notice"), "OK")

    def test_redis_py_username_password(self):
        r = self.srv.client(username="checker", password=CHECKER_PW)
        self.assertTrue(r.ping())
        self.assertEqual(r.client_info()["user"], "checker")
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "^WRONGPASS"):
            self.srv.client(username="checker", password=BOSS_PW).ping()
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "^WRONGPASS"):
            self.srv.client(username="nobody", password=CHECKER_PW).ping()

    # ---- roles ----

    def test_check_role(self):
        with self.conn() as c:
            self.assertEqual(c.call("AUTH", "checker", CHECKER_PW), "OK")
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(c.call("ECHO", "x"), b"x")
            self.assertIsInstance(c.call("CONFIG", "GET", "loglevel"), list)
            self.assertIsInstance(c.call("INFO"), bytes)
            self.assertIsInstance(c.call("CLIENT", "ID"), int)
            self.assertIsInstance(c.call("SLOWLOG", "LEN"), int)
            v = c.call("CONFIG", "SET", "loglevel", "debug")
            self.assert_err(v, "NOPERM")
            self.assertEqual(str(v), "NOPERM User checker has no permissions to run the "
                             "'config|set' command")
            self.assert_err(c.call("SHUTDOWN"), "NOPERM")
            self.assert_err(c.call("CLIENT", "KILL", "ID", "1"), "NOPERM")
            self.assert_err(c.call("SLOWLOG", "RESET"), "NOPERM")
            self.assert_err(c.call("CONFIG", "RESETSTAT"), "NOPERM")
            self.assertEqual(c.call("PING"), "PONG")
        # Nothing of the above took effect.
        self.assertTrue(self.srv.running())
        self.assertEqual(self.r.config_get("loglevel"), {"loglevel": "notice"})
        r = self.srv.client(username="checker", password=CHECKER_PW)
        with self.assertRaises(redis.exceptions.NoPermissionError):
            r.config_set("loglevel", "debug")
        with self.assertRaises(redis.exceptions.NoPermissionError):
            r.execute_command("SHUTDOWN")
        self.assertTrue(r.ping())

    def test_admin_role(self):
        r = self.srv.client(username="boss", password=BOSS_PW)
        try:
            self.assertTrue(r.config_set("loglevel", "debug"))
            self.assertEqual(r.config_get("loglevel"), {"loglevel": "debug"})
        finally:
            r.config_set("loglevel", "notice")
        with self.conn() as victim:
            self.assertEqual(victim.call("AUTH", "checker", CHECKER_PW), "OK")
            vid = victim.call("CLIENT", "ID")
            self.assertEqual(r.execute_command("CLIENT", "KILL", "ID", vid), 1)
            victim.read_until_closed(timeout=5)
            self.assertTrue(victim.closed_by_peer)

    def test_client_kill_by_user(self):
        with self.conn(timeout=5) as a, self.conn(timeout=5) as b:
            self.assertEqual(a.call("AUTH", "checker", CHECKER_PW), "OK")
            self.assertEqual(b.call("AUTH", "checker", CHECKER_PW), "OK")
            # (checker connections of earlier tests may still be open: at least ours)
            self.assertGreaterEqual(
                self.r.execute_command("CLIENT", "KILL", "USER", "checker"), 2)
            for c in (a, b):
                c.read_until_closed(timeout=5)
                self.assertTrue(c.closed_by_peer)
        self.assertTrue(self.r.ping())

    def test_wrong_password_for_user(self):
        with self.conn() as c:
            self.assertEqual(str(c.call("AUTH", "checker", BOSS_PW)), WRONGPASS)
            self.assertEqual(str(c.call("AUTH", "boss", CHECKER_PW)), WRONGPASS)
            self.assertEqual(str(c.call("AUTH", "nosuchuser", CHECKER_PW)), WRONGPASS)
            self.assertEqual(str(c.call("AUTH", "checker", "")), WRONGPASS)
            self.assert_err(c.call("PING"), "NOAUTH")
            # A user's password is not the default user's and the other way round.
            self.assertEqual(str(c.call("AUTH", CHECKER_PW)), WRONGPASS)
            self.assertEqual(str(c.call("AUTH", "checker", REQUIREPASS)), WRONGPASS)
            self.assertEqual(c.call("AUTH", "checker", CHECKER_PW), "OK")
            # Verified passwords may be remembered; that must not let a wrong one in.
            self.assertEqual(c.call("AUTH", "checker", CHECKER_PW), "OK")
            self.assertEqual(str(c.call("AUTH", "checker", CHECKER_PW + "x")), WRONGPASS)

    def test_password_with_nul_byte_is_wrong(self):
        # Passwords are compared byte for byte: one cut at a NUL is not the password.
        with self.conn() as c:
            self.assertEqual(str(c.call("AUTH", REQUIREPASS + "\x00")), WRONGPASS)
            self.assertEqual(str(c.call("AUTH", "checker", CHECKER_PW + "\x00x")), WRONGPASS)
            self.assertEqual(str(c.call("AUTH", "check\x00er", CHECKER_PW)), WRONGPASS)
            self.assert_err(c.call("PING"), "NOAUTH")
            self.assertEqual(c.call("AUTH", "checker", CHECKER_PW), "OK")

    def test_reset_deauthenticates(self):
        with self.conn() as c:
            self.assertEqual(c.call("AUTH", "boss", BOSS_PW), "OK")
            self.assertEqual(c.call("RESET"), "RESET")
            self.assert_err(c.call("PING"), "NOAUTH")
            self.assertEqual(c.call("AUTH", REQUIREPASS), "OK")
            self.assertIn(b" user=default ", c.call("CLIENT", "INFO"))

    def test_quit_before_auth(self):
        got = self.srv.raw(b"QUIT\r\n", timeout=5)
        self.assertEqual(bytes(got), b"+OK\r\n")
        self.assertTrue(got.closed)

    def test_pipelined_after_auth(self):
        # Commands pipelined behind a slow AUTH run after it, with its result.
        with self.conn() as c:
            c.send(encode_command("AUTH", "checker", CHECKER_PW + "-wrong") +
                   encode_command("PING") +
                   encode_command("AUTH", "checker", CHECKER_PW) +
                   encode_command("PING") + encode_command("ECHO", "after"))
            self.assertEqual(str(c.read_reply()), WRONGPASS)
            self.assert_err(c.read_reply(), "NOAUTH")
            self.assertEqual(c.read_reply(), "OK")
            self.assertEqual(c.read_reply(), "PONG")
            self.assertEqual(c.read_reply(), b"after")

    def test_quit_and_reset_behind_auth(self):
        got = self.srv.raw(encode_command("AUTH", "boss", BOSS_PW) + b"QUIT\r\nPING\r\n",
                           timeout=5)
        self.assertEqual(bytes(got), b"+OK\r\n+OK\r\n")
        self.assertTrue(got.closed)
        got = self.srv.raw(encode_command("AUTH", "boss", BOSS_PW) + b"RESET\r\nPING\r\n",
                           until=b"NOAUTH Authentication required.\r\n")
        self.assertEqual(bytes(got), b"+OK\r\n+RESET\r\n-NOAUTH Authentication required.\r\n")

    def test_disconnect_during_auth(self):
        for i in range(5):
            with self.conn() as c:
                c.send(encode_command("AUTH", "boss", "gone-%d" % i))
        # Killing a client whose AUTH is still being verified.
        killed = False
        for attempt in range(5):
            with self.conn(timeout=5) as victim:
                victim.send(encode_command("AUTH", "boss", "slow-%d" % attempt))
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline and not killed:
                    for cl in self.r.client_list():
                        if cl.get("flags") == "b" and cl.get("cmd") == "auth":
                            vid = int(cl["id"])
                            killed = self.r.execute_command("CLIENT", "KILL", "ID", vid) == 1
                            break
                    else:
                        time.sleep(0.002)
                        continue
                    break
                if killed:
                    victim.read_until_closed(timeout=5)
                    self.assertTrue(victim.closed_by_peer)
                    break
        time.sleep(0.5)  # let the abandoned verifications finish
        self.assertTrue(self.r.ping())
        self.assertTrue(self.srv.running())
        if not killed:
            self.skipTest("never caught an AUTH in progress (verification too fast?)")

    # ---- secrets ----

    def test_config_secrets_masked(self):
        self.assertEqual(self.r.config_get("requirepass"), {"requirepass": "********"})
        self.assertEqual(self.r.config_get("db-password"), {"db-password": "********"})
        users = self.r.config_get("user")["user"]
        self.assertEqual(users, "checker check boss admin")
        everything = self.r.config_get("*")
        text = " ".join("%s %s" % kv for kv in everything.items())
        self.assertNotIn("$argon2id$", text)
        self.assertNotIn(REQUIREPASS + " ", text + " ")
        r = self.srv.client(username="checker", password=CHECKER_PW)
        self.assertEqual(r.config_get("requirepass"), {"requirepass": "********"})

    def test_config_set_requirepass(self):
        try:
            self.assertTrue(self.r.config_set("requirepass", "another"))
            with self.conn() as c:
                self.assertEqual(str(c.call("AUTH", REQUIREPASS)), WRONGPASS)
                self.assertEqual(c.call("AUTH", "another"), "OK")
            self.assertEqual(self.r.config_get("requirepass"), {"requirepass": "********"})
        finally:
            self.r.config_set("requirepass", REQUIREPASS)
        with self.conn() as c:
            self.assertEqual(c.call("AUTH", REQUIREPASS), "OK")

    def test_slowlog_hides_passwords(self):
        try:
            self.r.config_set("slowlog-log-slower-than", "0")
            self.r.execute_command("SLOWLOG", "RESET")
            with self.conn() as c:
                c.call("AUTH", "checker", CHECKER_PW)
                c.call("HELLO", "3", "AUTH", "boss", BOSS_PW)
                c.call("AUTH", "wrong-" + REQUIREPASS)
            entries = self.r.execute_command("SLOWLOG", "GET", "-1")
        finally:
            self.r.config_set("slowlog-log-slower-than", "10000")
        args = [a for e in entries for a in e[3]]
        self.assertTrue(any(a.lower() == "auth" for a in args), entries)
        for secret in (CHECKER_PW, BOSS_PW, "wrong-" + REQUIREPASS):
            self.assertNotIn(secret, args)
        self.assertIn("(redacted)", args)

    def test_unauthenticated_input_limited(self):
        # Before AUTH a client may not make the server buffer large requests.
        got = self.srv.raw(b"*1\r\n$100000\r\n", timeout=5)
        self.assertTrue(got.startswith(b"-ERR Protocol error"), got)
        self.assertTrue(got.closed)
        got = self.srv.raw(b"*100000\r\n", timeout=5)
        self.assertTrue(got.startswith(b"-ERR Protocol error"), got)
        self.assertTrue(got.closed)
        # A long (wrong) password is still just a wrong password.
        with self.conn() as c:
            self.assertEqual(str(c.call("AUTH", "boss", "p" * 1000)), WRONGPASS)

    # ---- argon2 off the event loop ----

    def auth_round(self, pinger, tag):
        """Five connections AUTH as boss with distinct wrong passwords (each a full
        argon2id verification) while `pinger` sends PINGs; returns (PING latencies
        sorted, slowest AUTH duration)."""
        results = [None] * 5
        durations = [0.0] * 5
        go = threading.Event()

        def auth(i):
            with self.conn(timeout=60) as c:
                go.wait()
                t0 = time.monotonic()
                results[i] = c.call("AUTH", "boss", "wrong-password-%s-%d" % (tag, i))
                durations[i] = time.monotonic() - t0

        threads = [threading.Thread(target=auth, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        latencies = []
        try:
            go.set()
            while any(t.is_alive() for t in threads):
                t0 = time.monotonic()
                self.assertEqual(pinger.call("PING"), "PONG")
                latencies.append(time.monotonic() - t0)
                time.sleep(0.002)
        finally:
            for t in threads:
                t.join(60)
        for v in results:
            self.assertEqual(str(v), WRONGPASS)
        return sorted(latencies), max(durations)

    def test_slow_auth_does_not_stall_others(self):
        # Verifying an argon2id hash takes ~100 ms of CPU and 64 MiB; done on the event
        # loop it would hold every PING for that long. Each round must keep the PING
        # median far below that, and at least one of five rounds must keep every PING
        # under 50 ms (more rounds only absorb scheduling noise of a busy machine, where
        # four hashing threads share few cores with the event loop: a loop that hashes
        # itself fails every round).
        pinger = self.srv.raw_connection(timeout=30)
        self.assertEqual(pinger.call("AUTH", REQUIREPASS), "OK")
        report = []
        try:
            for rnd in range(5):
                lat, slowest = self.auth_round(pinger, rnd)
                p50, p90, worst = lat[len(lat) // 2], lat[int(len(lat) * 0.9)], lat[-1]
                report.append("round %d: slowest AUTH %.0f ms; %d PINGs meanwhile, p50 %.1f "
                              "ms, p90 %.1f ms, max %.1f ms" %
                              (rnd, slowest * 1000, len(lat), p50 * 1000, p90 * 1000,
                               worst * 1000))
                self.assertGreaterEqual(len(lat), 3, report[-1])
                self.assertLess(p50, 0.020, report[-1])
                if worst < 0.050:
                    break
        finally:
            pinger.close()
        print("\n    " + "\n    ".join(report))
        self.assertLess(worst, 0.050, "; ".join(report))


@unittest.skipUnless(EXTERNAL_IP, "no non-loopback IPv4 address on this machine: protected "
                     "mode can only be checked from loopback")
class ProtectedModeTest(unittest.TestCase):
    """No user, no requirepass: only loopback clients (and the unix socket) are served."""

    def test_protected_mode(self):
        with harness.RbacdServer(conf_lines=["bind 127.0.0.1 " + EXTERNAL_IP,
                                             "protected-mode yes"]) as srv:
            self.assertTrue(srv.client().ping())
            with harness.RawConnection(srv.port, host=EXTERNAL_IP, timeout=5) as c:
                got = c.read_until_closed(timeout=5)
            self.assertTrue(got.startswith(b"-DENIED"), got)
            self.assertTrue(c.closed_by_peer)
            self.assertEqual(got.count(b"\r\n"), 1)
            r = srv.client()
            self.assertGreaterEqual(r.info("stats")["rejected_connections"], 1)
            # protected-mode can be turned off at run time.
            self.assertTrue(r.config_set("protected-mode", "no"))
            with harness.RawConnection(srv.port, host=EXTERNAL_IP, timeout=5) as c:
                self.assertEqual(c.call("PING"), "PONG")
            self.assertTrue(r.config_set("protected-mode", "yes"))
            with harness.RawConnection(srv.port, host=EXTERNAL_IP, timeout=5) as c:
                self.assertTrue(c.read_until_closed(timeout=5).startswith(b"-DENIED"))

    def test_not_protected_with_password(self):
        with harness.RbacdServer(conf_lines=["bind 127.0.0.1 " + EXTERNAL_IP,
                                             "requirepass " + REQUIREPASS],
                                 password=REQUIREPASS) as srv:
            with harness.RawConnection(srv.port, host=EXTERNAL_IP, timeout=5) as c:
                v = c.call("PING")
                self.assertIsInstance(v, RespError)
                self.assertTrue(str(v).startswith("NOAUTH"), v)
                self.assertEqual(c.call("AUTH", REQUIREPASS), "OK")
                self.assertEqual(c.call("PING"), "PONG")


class RuntimePasswordChangeTest(unittest.TestCase):
    """requirepass changed with CONFIG SET while clients are connected."""

    def test_requirepass_removed_at_run_time(self):
        # Once the password is removed, the server needs no AUTH: a connection that
        # was opened before, and never authenticated, is served too (as in Redis)
        # instead of being locked out (AUTH <pw> then fails: "no password configured").
        with harness.RbacdServer(conf_lines=["requirepass " + REQUIREPASS],
                                 password=REQUIREPASS) as srv:
            with srv.raw_connection() as early:
                self.assertTrue(str(early.call("PING")).startswith("NOAUTH"))
                admin = srv.admin_client()
                self.assertTrue(admin.config_set("requirepass", ""))
                with srv.raw_connection() as late:
                    self.assertEqual(late.call("PING"), "PONG")
                self.assertEqual(early.call("PING"), "PONG")

    def test_requirepass_set_at_run_time(self):
        with harness.RbacdServer() as srv:
            with srv.raw_connection() as early:
                self.assertEqual(early.call("PING"), "PONG")
                self.assertTrue(srv.client().config_set("requirepass", REQUIREPASS))
                with srv.raw_connection() as late:
                    self.assertTrue(str(late.call("PING")).startswith("NOAUTH"))
                    self.assertEqual(late.call("AUTH", REQUIREPASS), "OK")
                    self.assertEqual(late.call("PING"), "PONG")
                # Clients authenticated before keep their session.
                self.assertEqual(early.call("PING"), "PONG")


class ProtectedModeLoopbackTest(unittest.TestCase):
    """Without auth and with protected mode on, loopback clients are served."""

    def test_loopback_served(self):
        with harness.RbacdServer(conf_lines=["bind 127.0.0.1", "protected-mode yes"]) as srv:
            r = srv.client()
            self.assertTrue(r.ping())
            self.assertEqual(r.config_get("protected-mode"), {"protected-mode": "yes"})
            self.assertEqual(r.info("stats")["rejected_connections"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
