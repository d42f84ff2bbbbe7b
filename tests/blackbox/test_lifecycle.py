"""The process (SPEC.md §3, §2 SHUTDOWN): command-line modes, configuration errors,
signals, pidfile, unix socket, log reopening, idle timeout, maxclients, and a run under
valgrind when the binary is not built with AddressSanitizer.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import redis

import harness
from harness import RbacdServer, wait_for

DB = None


def setUpModule():
    global DB
    DB = harness.scratch_db("lifecycle", demo=True)


def tearDownModule():
    if DB:
        DB.drop()


def run_rbacd(*args, input=None, timeout=30):
    """Runs the binary to completion; returns the CompletedProcess (text)."""
    p = subprocess.run([harness.rbacd_bin(), *args], input=input, capture_output=True,
                       text=True, timeout=timeout, env=harness.sanitizer_env(),
                       stdin=None if input is not None else subprocess.DEVNULL)
    harness.check_sanitizer_output(p.stdout + p.stderr, "rbacd " + " ".join(args))
    return p


def binary_has_asan(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


class CommandLineTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rbacd-lc-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_conf(self, text):
        path = os.path.join(self.tmp, "bad.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version(self):
        p = run_rbacd("--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^rbacd \d+\.\d+\.\d+")

    def test_help(self):
        p = run_rbacd("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Usage", p.stdout)
        self.assertIn("--hash-password", p.stdout)
        self.assertIn("--check-config", p.stdout)

    def test_check_config_shipped_file(self):
        p = run_rbacd("--check-config", harness.default_conf_file())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = run_rbacd("--check-config", harness.default_conf_file(), "--port", "7000",
                      "--bind", "127.0.0.1", "::1")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def assert_bad(self, p, *fragments):
        self.assertEqual(p.returncode, 1, "status %d, stderr: %s" % (p.returncode, p.stderr))
        for frag in fragments:
            self.assertIn(frag, p.stderr)
        # One clear line, not a crash dump.
        self.assertLessEqual(len(p.stderr.strip().splitlines()), 3, p.stderr)

    def test_bad_value(self):
        path = self.write_conf("# a comment\nbind 127.0.0.1\nport abc\n")
        for mode in (["--check-config"], []):
            p = run_rbacd(*mode, path)
            self.assert_bad(p, path, ":3:", "port")
            self.assertIn("abc", p.stderr)

    def test_unknown_key(self):
        path = self.write_conf("port 6390\nno-such-key 1\n")
        p = run_rbacd("--check-config", path)
        self.assert_bad(p, path, ":2:", "no-such-key")
        p = run_rbacd(path)
        self.assert_bad(p, path, ":2:", "no-such-key")

    def test_other_bad_lines(self):
        cases = [
            ("maxclients 0\n", ":1:", "maxclients"),
            ("\n\nloglevel chatty\n", ":3:", "loglevel"),
            ("timeout -5\n", ":1:", "timeout"),
            ("protected-mode maybe\n", ":1:", "protected-mode"),
            ('requirepass "unterminated\n', ":1:", "requirepass"),
            ("user bob superuser $argon2id$x\n", ":1:", "user"),
            ("proto-max-bulk-len 10\n", ":1:", "proto-max-bulk-len"),
        ]
        for text, line, key in cases:
            with self.subTest(text=text):
                p = run_rbacd("--check-config", self.write_conf(text))
                self.assert_bad(p, line, key)

    def test_missing_config_file(self):
        path = os.path.join(self.tmp, "nope.conf")
        p = run_rbacd("--check-config", path)
        self.assert_bad(p, path)

    def test_bad_cli_override(self):
        p = run_rbacd("--check-config", harness.default_conf_file(), "--port", "99999")
        self.assert_bad(p, "port")
        p = run_rbacd(harness.default_conf_file(), "--port", "99999")
        self.assert_bad(p, "port")
        p = run_rbacd("--check-config", "--no-such-key", "1")
        self.assert_bad(p, "no-such-key")
        p = run_rbacd("--check-config", "--port")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("port", p.stderr)

    def test_hash_password(self):
        p = run_rbacd("--hash-password", input="s3cret\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, p.stdout)
        self.assertTrue(lines[0].startswith("$argon2id$"), lines[0])
        self.assertNotIn("s3cret", p.stdout + p.stderr)
        q = run_rbacd("--hash-password", input="s3cret\n")
        self.assertNotEqual(q.stdout, p.stdout)  # salted
        p = run_rbacd("--hash-password", input="")
        self.assertEqual(p.returncode, 1)
        p = run_rbacd("--hash-password", input="\n")
        self.assertEqual(p.returncode, 1)

    def test_hash_usable_in_config(self):
        h = harness.hash_password("pw-for-conf")
        path = self.write_conf("user alice check %s\n" % h)
        p = run_rbacd("--check-config", path)
        self.assertEqual(p.returncode, 0, p.stderr)


class ProcessTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rbacd-lc-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sigterm_pidfile_unixsocket(self):
        pidfile = os.path.join(self.tmp, "rbacd.pid")
        sock = os.path.join(self.tmp, "x.sock")
        srv = RbacdServer(db=DB, args=["--pidfile", pidfile, "--unixsocket", sock])
        with srv:
            with open(pidfile) as f:
                self.assertEqual(f.read().strip(), str(srv.pid))
            self.assertTrue(stat.S_ISSOCK(os.stat(sock).st_mode))
            self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o700)
            r = srv.client(unix_socket_path=sock)
            self.assertTrue(r.ping())
            self.assertEqual(r.echo("over unix"), "over unix")
            info = r.client_info()
            self.assertEqual(info["laddr"], sock + ":0")
            r.close()
            self.assertEqual(srv.stop(signal.SIGTERM), 0)
            self.assertIn("SIGTERM", srv.log_text())
        self.assertFalse(os.path.exists(pidfile), "pidfile left behind")
        self.assertFalse(os.path.exists(sock), "unix socket left behind")

    def test_sigint(self):
        with RbacdServer(db=DB) as srv:
            self.assertEqual(srv.stop(signal.SIGINT), 0)

    def test_unixsocket_only(self):
        sock = os.path.join(self.tmp, "only.sock")
        with RbacdServer(db=DB, args=["--port", "0", "--unixsocket", sock,
                                      "--unixsocketperm", "770"]) as srv:
            self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o770)
            r = srv.client()
            self.assertTrue(r.ping())
            self.assertEqual(r.config_get("port"), {"port": "0"})

    def test_stop_with_clients_connected(self):
        with RbacdServer(db=DB) as srv:
            conns = [srv.raw_connection() for _ in range(20)]
            for c in conns:
                self.assertEqual(c.call("PING"), "PONG")
            conns[0].send(b"*2\r\n$4\r\nECHO\r\n$100\r\nabc")  # half a request
            self.assertEqual(srv.stop(), 0)
            for c in conns:
                c.close()

    def test_stop_with_auth_in_flight(self):
        # Password verifications still queued on the (single) worker when the server
        # is told to stop: it exits 0, promptly, and frees everything (LeakSanitizer).
        h = harness.hash_password("pw")
        for how in ("SHUTDOWN", "SIGTERM"):
            with self.subTest(how=how):
                srv = RbacdServer(db=DB, conf_lines=["requirepass s", "user boss admin " + h,
                                                     "worker-threads 1"], password="s")
                with srv:
                    conns = [srv.raw_connection(timeout=10) for _ in range(8)]
                    for i, c in enumerate(conns):
                        c.send(harness.encode_command("AUTH", "boss", "wrong-%d" % i) +
                               harness.encode_command("PING"))
                    t0 = time.monotonic()
                    if how == "SHUTDOWN":
                        with srv.raw_connection() as a:
                            self.assertEqual(a.call("AUTH", "s"), "OK")
                            a.send(b"SHUTDOWN\r\n")
                            a.read_until_closed(timeout=10)
                        self.assertEqual(srv.wait_exit(), 0)
                    else:
                        self.assertEqual(srv.stop(), 0)
                    self.assertLess(time.monotonic() - t0, harness.scaled(15))
                    for c in conns:
                        c.read_until_closed(timeout=5)
                        self.assertTrue(c.closed_by_peer)
                        c.close()

    def test_sighup_reopens_log(self):
        with RbacdServer(db=DB, args=["--loglevel", "verbose"]) as srv:
            moved = srv.log_path + ".1"
            os.rename(srv.log_path, moved)
            os.kill(srv.pid, signal.SIGHUP)
            wait_for(lambda: os.path.exists(srv.log_path), 10, what="a new log file")
            # A connection after the reopening is logged in the new file only.
            r = srv.client()
            r.client_setname("after-hup")
            self.assertTrue(r.ping())
            r.close()
            wait_for(lambda: "closed" in srv.log_text() or "accepted" in srv.log_text(), 10,
                     what="a connection line in the new log")
            new = srv.log_text()
            with open(moved) as f:
                old = f.read()
            self.assertIn("started", old)
            self.assertNotIn("started", new)
            self.assertEqual(srv.stop(), 0)
            self.assertIn("stopped", srv.log_text())

    def test_shutdown_command(self):
        pidfile = os.path.join(self.tmp, "rbacd.pid")
        with RbacdServer(db=DB, args=["--pidfile", pidfile]) as srv:
            r = srv.client()
            with self.assertRaises(redis.exceptions.ResponseError):
                r.execute_command("SHUTDOWN", "BOGUS")
            self.assertTrue(srv.running())
            try:
                r.execute_command("SHUTDOWN")
            except redis.exceptions.ConnectionError:
                pass  # Redis closes without a reply; either is fine
            self.assertEqual(srv.wait_exit(), 0)
            self.assertFalse(os.path.exists(pidfile))
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()

    def test_shutdown_nosave(self):
        with RbacdServer(db=DB) as srv:
            got = srv.raw(b"SHUTDOWN NOSAVE\r\n", timeout=10)
            self.assertTrue(got.closed)
            self.assertFalse(got.startswith(b"-"), got)
            self.assertEqual(srv.wait_exit(), 0)

    def test_idle_timeout(self):
        with RbacdServer(db=DB, conf_lines=["timeout 1"]) as srv:
            with srv.raw_connection(timeout=10) as idle, srv.raw_connection(timeout=10) as busy:
                self.assertEqual(idle.call("PING"), "PONG")
                t0 = time.monotonic()
                # The busy client keeps talking and is not closed.
                while time.monotonic() - t0 < 1.6:
                    self.assertEqual(busy.call("PING"), "PONG")
                    time.sleep(0.1)
                rest = idle.read_until_closed(timeout=5)
                elapsed = time.monotonic() - t0
                self.assertTrue(idle.closed_by_peer, "idle client not closed after %.1fs" %
                                elapsed)
                self.assertEqual(rest, b"")
                self.assertLess(elapsed, 4.0)
                self.assertEqual(busy.call("PING"), "PONG")
            r = srv.client()
            self.assertEqual(r.config_get("timeout"), {"timeout": "1"})
            self.assertTrue(r.config_set("timeout", "0"))

    def test_maxclients(self):
        with RbacdServer(db=DB, args=["--maxclients", "3"]) as srv:
            first = srv.raw_connection(timeout=5)
            try:
                # Wait until the harness's own connections are gone: only `first` left.
                def alone():
                    listing = first.call("CLIENT", "LIST")
                    return isinstance(listing, bytes) and listing.count(b"id=") == 1
                wait_for(alone, 10, what="the other connections to close")
                second = srv.raw_connection(timeout=5)
                third = srv.raw_connection(timeout=5)
                self.assertEqual(second.call("PING"), "PONG")
                self.assertEqual(third.call("PING"), "PONG")
                got = srv.raw(b"PING\r\n", timeout=5)
                self.assertEqual(bytes(got), b"-ERR max number of clients reached\r\n")
                self.assertTrue(got.closed)
                with self.assertRaises(redis.exceptions.ConnectionError):
                    srv.client().ping()
                self.assertGreaterEqual(
                    int(re.search(rb"rejected_connections:(\d+)",
                                  first.call("INFO", "stats")).group(1)), 2)
                # A slot frees up when a client leaves.
                third.close()
                wait_for(lambda: srv.raw(b"PING\r\n", timeout=2) == b"+PONG\r\n", 10,
                         what="a free slot after a client left")
                second.close()
            finally:
                first.close()

    def test_port_in_use(self):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            srv = RbacdServer(db=DB, port=port, start_timeout=10)
            with self.assertRaises(harness.ServerError):
                srv.start()
            try:
                self.assertEqual(srv.proc.returncode, 1)
                self.assertIn(str(port), srv.log_text() + srv.stderr_text())
                srv.check_sanitizers()
            finally:
                srv._kill()
                srv.cleanup()

    def test_bad_logfile(self):
        bad = os.path.join(self.tmp, "no", "such", "dir", "rbacd.log")
        p = run_rbacd(harness.default_conf_file(), "--port", str(harness.free_port()),
                      "--logfile", bad, "--db-socket", os.path.join(self.tmp, "none.sock"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(bad, p.stderr)

    def test_stop_while_database_unreachable(self):
        # No database at all: the server keeps trying to load, serves connection
        # commands meanwhile, and still stops cleanly and quickly.
        with RbacdServer(db=None, wait_loaded=False) as srv:
            r = srv.client()
            self.assertTrue(r.ping())
            self.assertIn("loading", r.info("persistence"))
            time.sleep(0.3)  # let it fail a connection attempt or two
            t0 = time.monotonic()
            self.assertEqual(srv.stop(), 0)
            self.assertLess(time.monotonic() - t0, 10)

    @unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
    def test_valgrind(self):
        if binary_has_asan(harness.rbacd_bin()):
            self.skipTest("RBACD_BIN is built with AddressSanitizer; valgrind cannot run it")
        vg = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
              "--error-exitcode=9", "--log-file=" + os.path.join(self.tmp, "valgrind.log")]
        srv = RbacdServer(db=DB, cmd_prefix=vg, start_timeout=60)
        with srv:
            r = srv.client(socket_timeout=30)
            self.assertTrue(r.ping())
            self.assertEqual(r.echo("under valgrind"), "under valgrind")
            self.assertIn("redis_version", r.info())
            r.client_setname("vg")
            r.config_set("loglevel", "verbose")
            with srv.raw_connection(timeout=30) as c:
                self.assertIsInstance(c.call("COMMAND", "DOCS"), list)
                self.assertIsInstance(c.call("HELLO", "3"), dict)
                self.assertIsInstance(c.call("INFO", "everything"), harness.Verbatim)
            srv.raw(b"*-5x\r\n", timeout=10)
            r.close()
            status = srv.stop(expect_status=None, timeout=60)
            with open(os.path.join(self.tmp, "valgrind.log")) as f:
                report = f.read()
            self.assertEqual(status, 0, "valgrind reported errors:\n" +
                             harness.tail(report, 60))


if __name__ == "__main__":
    unittest.main(verbosity=2)
