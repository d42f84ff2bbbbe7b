"""Regression tests for hostile or unlucky clients: each test is named after the bug it
pins, and each checks that the server stays responsive and bounded."""

import socket
import time
import unittest

import harness
from harness import RespError


def drain(sock, want, marker, timeout=10):
    """Reads until `want` occurrences of marker arrived (or the peer closed)."""
    sock.settimeout(timeout)
    data = b""
    while data.count(marker) < want:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return data


class HardeningTest(harness.ServerTestCase):
    ARGS = ("--client-output-limit", "65536")

    def test_pipeline_past_output_limit_does_not_hang(self):
        # Replies over client-output-limit paused reading; a socket that took everything
        # at once left the buffered requests unrun forever.
        with socket.create_connection(("127.0.0.1", self.srv.port)) as s:
            s.sendall(b"INFO everything\r\n" * 400)
            data = drain(s, 400, b"# Server")
        self.assertEqual(data.count(b"# Server"), 400)

    def test_blocked_client_hangup_is_noticed(self):
        # A client that disconnected while blocked (WAITREV far in the future) was never
        # freed: its descriptor and maxclients slot leaked.
        before = self.r.info("clients")["connected_clients"]
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", self.srv.port)) as s:
                s.sendall(harness.encode_command("WAITREV", "99999999999", "0"))
                time.sleep(0.05)
        harness.wait_for(lambda: self.r.info("clients")["connected_clients"] <= before,
                         timeout=5, what="hung-up blocked clients freed")
        self.assertEqual(self.r.info("clients")["blocked_clients"], 0)

    def test_config_set_is_all_or_nothing(self):
        old = self.r.config_get("timeout")["timeout"]
        with self.assertRaises(Exception):
            self.r.execute_command("CONFIG", "SET", "timeout", "17", "loglevel", "bogus")
        self.assertEqual(self.r.config_get("timeout")["timeout"], old)

    def test_config_get_pattern_does_not_backtrack_exponentially(self):
        t0 = time.monotonic()
        self.assertEqual(self.r.config_get("*?*?*?*?*?*?*?*?*?*?*?*?*?*?*X"), {})
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_slowlog_hides_config_set_values(self):
        self.r.execute_command("CONFIG", "SET", "slowlog-log-slower-than", "0")
        try:
            self.r.execute_command("CONFIG", "SET", "slowlog-max-len", "128")
            self.r.execute_command("CONFIG", "SET", "requirepass", "")
            entries = self.r.execute_command("SLOWLOG", "GET", "50")
        finally:
            self.r.execute_command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        config_sets = [e[3] for e in entries if [a.lower() for a in e[3][:2]] == ["config", "set"]]
        self.assertTrue(config_sets)
        for args in config_sets:
            self.assertTrue(all(a == "(redacted)" for a in args[2:]), args)


    def test_list_commands_cap_their_arguments(self):
        # One CONFIG GET / COMMAND DOCS with hundreds of thousands of arguments built a
        # reply of hundreds of megabytes.
        with self.assertRaises(Exception) as cm:
            self.r.execute_command("CONFIG", "GET", *(["*"] * 65))
        self.assertIn("too many patterns", str(cm.exception))
        with self.assertRaises(Exception) as cm:
            self.r.execute_command("COMMAND", "DOCS", *(["client"] * 1025))
        self.assertIn("too many command names", str(cm.exception))
        self.assertEqual(len(self.r.execute_command("CONFIG", "GET", *(["port"] * 64))), 2)


    def test_query_buffer_limit_closes_an_endless_request(self):
        # A request still incomplete with more than 2 x proto-max-bulk-len + 64 KiB
        # buffered (every argument within proto-max-bulk-len) is refused: the server
        # does not buffer a request of any size.
        arg = b"$1048576\r\n" + b"a" * 1048576 + b"\r\n"
        data = b"*4\r\n$4\r\nECHO\r\n" + arg + arg + arg[:200 * 1024]
        got = self.srv.raw(data, timeout=10)
        self.assertEqual(bytes(got), b"-ERR Protocol error: query buffer limit reached\r\n")
        self.assertTrue(got.closed)
        self.assertTrue(self.r.ping())

    def test_client_that_never_reads_is_paused_not_buffered(self):
        # Replies pile up for a client that pipelines requests and never reads: past
        # client-output-limit (64 KiB here) the server stops reading its requests, so its
        # output stays near the limit and its input is not read; it is not closed, and
        # everyone else is served meanwhile.
        reply = 16 * 1024
        req = harness.encode_command("ECHO", b"r" * reply)
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        try:
            s.sendall(harness.encode_command("CLIENT", "SETNAME", "never-reads"))
            self.assertEqual(s.recv(100), b"+OK\r\n")
            s.settimeout(0.5)
            sent, deadline = 0, time.monotonic() + 20
            while sent < 256 * 1024 * 1024 and time.monotonic() < deadline:
                try:
                    s.sendall(req)
                    sent += len(req)
                except socket.timeout:
                    break  # the server stopped reading us
            self.assertLess(time.monotonic(), deadline, "the server read everything")

            def me():
                return [cl for cl in self.r.client_list() if cl["name"] == "never-reads"]
            mine = harness.wait_for(me, 5, what="the client in CLIENT LIST")[0]
            self.assertLessEqual(int(mine["omem"]), 65536 + reply + 64, mine)
            self.assertLess(int(mine["qbuf"]), 1024 * 1024, mine)
            self.assertTrue(self.r.ping())
            time.sleep(0.3)
            self.assertEqual(len(me()), 1)  # still connected
        finally:
            s.close()
        harness.wait_for(lambda: not [cl for cl in self.r.client_list()
                                      if cl["name"] == "never-reads"], 5, what="it freed")

    def test_binary_and_nul_bytes_in_arguments(self):
        # Arguments are binary-safe: ECHO gives every byte back; where an argument must
        # be an id it is an invalid id (its unprintable bytes shown as ?); a code or a
        # token holding a NUL names nothing; a configuration value or client name
        # holding one is refused. The connection stays usable throughout.
        every = bytes(range(256))
        with self.srv.raw_connection(timeout=10) as c:
            self.assertEqual(c.call("ECHO", every), every)
            v = c.call("CANMENU", b"1\x00", "1", "1")
            self.assertIsInstance(v, RespError)
            self.assertTrue(str(v).startswith("ERR invalid id '1?': expected a decimal"), v)
            self.assertEqual(c.call("CANMENU", "1", "1", b"sys:user:add\x00"), 0)
            self.assertEqual(c.call("CANMENU", "1", "1", b"\xff\xfe"), 0)
            self.assertIsNone(c.call("SESSION", "GET", b"tok\x00en"))
            self.assertTrue(str(c.call("SESSION", "CANMENU", b"tok\x00en", "1"))
                            .startswith("NOSESSION"))
            self.assertEqual(str(c.call("CONFIG", "SET", "loglevel", b"debug\x00")),
                             "ERR CONFIG SET failed - values cannot contain NUL bytes")
            self.assertTrue(str(c.call("CLIENT", "SETNAME", b"a\x00b"))
                            .startswith("ERR Client names cannot contain"))
            self.assertEqual(c.call("PING"), "PONG")
        self.assertEqual(self.r.config_get("loglevel"), {"loglevel": "notice"})

    def test_command_docs_gives_argument_hints(self):
        # COMMAND DOCS had no "arguments", so redis-cli 7 showed no hints.
        with self.srv.raw_connection(timeout=10) as c:
            docs = c.call("COMMAND", "DOCS", "canmenu", "ping")
        self.assertEqual(docs[0], b"canmenu")
        canmenu = dict(zip(docs[1][::2], docs[1][1::2]))
        names = [dict(zip(a[::2], a[1::2]))[b"name"] for a in canmenu[b"arguments"]]
        self.assertEqual(names, [b"tenant", b"user", b"menu"])
        ping = dict(zip(docs[3][::2], docs[3][1::2]))
        arg = dict(zip(ping[b"arguments"][0][::2], ping[b"arguments"][0][1::2]))
        self.assertEqual(arg[b"name"], b"message")
        self.assertIn("optional", arg[b"flags"])


class AuthFloodTest(harness.ServerTestCase):
    USE_DB = False

    @classmethod
    def setUpClass(cls):
        cls.CONF_LINES = ("user boss admin " + harness.hash_password("boss-pass"),)
        cls.SERVER_KW = {"username": "boss", "password": "boss-pass"}
        super().setUpClass()

    def test_auth_flood_is_bounded(self):
        # Every AUTH against a user line queued a 64 MiB argon2 check without limit, so a
        # flood of bad attempts delayed everyone's AUTH by seconds. Now at most a fixed
        # number wait; the rest are refused at once, and a password that verified
        # before is accepted without queueing.
        with self.srv.raw_connection(timeout=30) as admin:
            self.assertEqual(admin.call("AUTH", "boss", "boss-pass"), "OK")
            conns = []
            try:
                for i in range(80):
                    s = socket.create_connection(("127.0.0.1", self.srv.port))
                    s.sendall(harness.encode_command("AUTH", "nobody%d" % i, "x"))
                    conns.append(s)
                info = admin.call("INFO", "stats").decode()
                pending = int(info.split("pending_jobs:")[1].split()[0])
                self.assertLessEqual(pending, 40)
                with self.srv.raw_connection(timeout=10) as late:
                    t0 = time.monotonic()
                    self.assertEqual(late.call("AUTH", "boss", "boss-pass"), "OK")
                    if not harness.VALGRIND:  # there, hashes and the loop share one CPU
                        self.assertLess(time.monotonic() - t0, 1.0)
                for s in conns:
                    s.settimeout(harness.scaled(30))
                    self.assertTrue(s.recv(200).startswith(b"-WRONGPASS"))
            finally:
                for s in conns:
                    s.close()

    def test_client_list_needs_admin(self):
        checker = harness.hash_password("check-pass")
        self.assertTrue(checker.startswith("$argon2id$"))
        with self.srv.raw_connection(timeout=10) as c:
            self.assertEqual(c.call("AUTH", "boss", "boss-pass"), "OK")
            self.assertIn(b"id=", c.call("CLIENT", "LIST"))


class CheckRoleTest(harness.ServerTestCase):
    USE_DB = False

    @classmethod
    def setUpClass(cls):
        cls.CONF_LINES = ("user boss admin " + harness.hash_password("boss-pass"),
                          "user checker check " + harness.hash_password("check-pass"))
        cls.SERVER_KW = {"username": "boss", "password": "boss-pass"}
        super().setUpClass()

    def test_client_list_is_admin_only(self):
        with self.srv.raw_connection(timeout=10) as c:
            self.assertEqual(c.call("AUTH", "checker", "check-pass"), "OK")
            reply = c.call("CLIENT", "LIST")
            self.assertIsInstance(reply, RespError)
            self.assertTrue(str(reply).startswith("NOPERM"), str(reply))
            self.assertIn(b"id=", c.call("CLIENT", "INFO"))


class PreAuthOutputTest(harness.ServerTestCase):
    USE_DB = False
    CONF_LINES = ("requirepass hunter2-hardening",)
    SERVER_KW = {"password": "hunter2-hardening"}

    def test_query_buffer_limit_before_auth(self):
        # Before AUTH a request may hold 16 KiB at most, however its arguments are cut.
        arg = b"$4000\r\n" + b"a" * 4000 + b"\r\n"
        got = self.srv.raw(b"*10\r\n$4\r\nAUTH\r\n" + arg * 5, timeout=5)
        self.assertEqual(bytes(got), b"-ERR Protocol error: query buffer limit reached\r\n")
        self.assertTrue(got.closed)
        self.assertEqual(self.r.ping(), True)

    def test_unauthenticated_client_cannot_pile_up_replies(self):
        # Before AUTH, a client that never reads its NOAUTH replies could make the server
        # hold up to client-output-limit (64 MB) for it; now it is closed past 64 KiB.
        with socket.create_connection(("127.0.0.1", self.srv.port)) as s:
            s.settimeout(10)
            payload = b"PING\r\n" * 4096
            closed = False
            try:
                for _ in range(200):
                    s.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            if not closed:
                data = b""
                try:
                    while True:
                        chunk = s.recv(1 << 20)
                        if not chunk:
                            closed = True
                            break
                        data += chunk
                except socket.timeout:
                    pass
        self.assertTrue(closed, "the server kept the flooding unauthenticated client")
        self.assertEqual(self.r.ping(), True)


class CrossProtocolTest(harness.ServerTestCase):
    """A web page can make a browser send an HTTP request to rbacd's port (a form POST
    whose body holds commands: cross-protocol scripting). A request that is a line of
    HTTP (POST or Host: first, as Redis checks, or any "METHOD target HTTP/x" request
    line) closes the connection at once, with no reply and nothing after it run, and a
    warning naming the peer is logged (at most once a second). No password here: the
    usual target of the attack."""

    USE_DB = False

    def send_and_wait_close(self, data):
        """Sends data on a fresh connection; returns (bytes read, local port) once the
        server closed it."""
        with self.srv.raw_connection(timeout=5) as c:
            port = c.sock.getsockname()[1]
            c.send(data)
            got = c.read_until_closed(timeout=5)
            self.assertTrue(c.closed_by_peer, "connection left open after %r" % data[:40])
        return got, port

    def refused(self):
        return self.r.info("stats")["http_requests_refused"]

    def test_post_with_commands_in_its_body_runs_nothing(self):
        body = b"CONFIG SET timeout 123\r\nCLIENT SETNAME pwned\r\n"
        req = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: text/plain\r\n"
               b"Content-Length: %d\r\n\r\n" % (self.srv.port, len(body)) + body)
        before = self.refused()
        got, _ = self.send_and_wait_close(req)
        self.assertEqual(got, b"")
        self.assertEqual(self.refused(), before + 1)
        self.assertEqual(self.r.config_get("timeout"), {"timeout": "0"})
        self.assertNotIn("pwned", self.r.execute_command("CLIENT", "LIST"))

    def test_get_request_line_alone_is_closed(self):
        for line in (b"GET / HTTP/1.1\r\n", b"GET /favicon.ico HTTP/1.0\r\n",
                     b"PUT /x HTTP/1.1\r\n", b"OPTIONS * HTTP/1.1\r\n", b"post /\r\n"):
            with self.subTest(line=line):
                got, _ = self.send_and_wait_close(line + b"CONFIG SET timeout 77\r\n")
                self.assertEqual(got, b"")
        self.assertEqual(self.r.config_get("timeout"), {"timeout": "0"})

    def test_host_header_closes_even_after_commands(self):
        # What comes before it has run (as in Redis); nothing after it does.
        got, _ = self.send_and_wait_close(b"CLIENT SETNAME before\r\nHost: example.com\r\n"
                                          b"CONFIG SET timeout 55\r\n")
        self.assertIn(got, (b"", b"+OK\r\n"))
        self.assertEqual(self.r.config_get("timeout"), {"timeout": "0"})

    def test_after_auth_too(self):
        # An authenticated connection (a pooled one a proxy reuses) gets no pass.
        with harness.RbacdServer(conf_lines=["requirepass guard-pw"], password="guard-pw") as srv:
            with srv.raw_connection(timeout=5) as c:
                c.send(b"AUTH guard-pw\r\nPOST / HTTP/1.1\r\nCONFIG SET timeout 9\r\n")
                got = c.read_until_closed(timeout=5)
                self.assertTrue(c.closed_by_peer)
            self.assertIn(got, (b"", b"+OK\r\n"))
            self.assertEqual(srv.admin_client().config_get("timeout"), {"timeout": "0"})

    def test_commands_and_unknown_ones_still_work(self):
        with self.srv.raw_connection(timeout=5) as c:
            c.send(b"PING\r\n")
            self.assertEqual(c.read_reply(), "PONG")
            c.send(b"ECHO HTTP/1.1\r\n")
            self.assertEqual(c.read_reply(), b"HTTP/1.1")
            for line, name in ((b"GET key\r\n", "GET"), (b"GET / HTTP\r\n", "GET"),
                               (b"HOST x\r\n", "HOST"), (b"Hostname: x\r\n", "Hostname:")):
                c.send(line)
                v = c.read_reply()
                self.assertIsInstance(v, RespError)
                self.assertTrue(str(v).startswith("ERR unknown command '%s'" % name), v)
            self.assertEqual(c.call("CONFIG", "GET", "timeout"), [b"timeout", b"0"])
            self.assertEqual(c.call("PING"), "PONG")

    def test_warning_names_the_peer_once_a_second(self):
        time.sleep(1.1)  # past any warning an earlier test caused
        _, port1 = self.send_and_wait_close(b"POST /login HTTP/1.1\r\nHost: x\r\n\r\n")
        _, port2 = self.send_and_wait_close(b"GET / HTTP/1.1\r\n")  # within the second
        time.sleep(1.1)
        _, port3 = self.send_and_wait_close(b"Host: x\r\n")
        log = harness.wait_for(lambda: ("addr=127.0.0.1:%d:" % port3 in self.srv.log_text()
                                        and self.srv.log_text()), 5, what="third warning")
        lines = [ln for ln in log.splitlines() if "SECURITY ATTACK" in ln]
        first = [ln for ln in lines if "addr=127.0.0.1:%d:" % port1 in ln]
        self.assertEqual(len(first), 1, lines)
        self.assertIn(" # client id=", first[0])  # warning level
        self.assertIn("an HTTP request ('POST ...')", first[0])
        self.assertIn("connection closed, nothing run", first[0])
        self.assertFalse([ln for ln in lines if "addr=127.0.0.1:%d:" % port2 in ln], lines)
        third = [ln for ln in lines if "addr=127.0.0.1:%d:" % port3 in ln][0]
        self.assertIn("('Host: ...')", third)
        self.assertIn("(and 1 more since the last such line)", third)


if __name__ == "__main__":
    unittest.main(verbosity=2)
