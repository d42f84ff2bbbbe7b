"""Connection and server commands, and the wire protocol (SPEC.md §2 "Connection and
server"): what redis-py (RESP2) and hand-written RESP2/RESP3 bytes see.

One scratch database and one server serve every test here; tests that change the
configuration put it back. Malformed-input tests open their own connections and check
that the server then still answers others.
"""

import socket
import threading
import time
import unittest

import redis

import harness
from harness import RespError, Verbatim, encode_command

PONG = b"+PONG\r\n"


def pairs_to_dict(flat):
    """A RESP2 flattened map ([k1, v1, k2, v2, ...]) as a dict."""
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


class ProtocolTest(harness.ServerTestCase):

    # ---- helpers ----

    def assert_serving(self):
        """Another, fresh client still gets PONG."""
        with self.srv.raw_connection(timeout=5) as c:
            self.assertEqual(c.call("PING"), "PONG")

    def assert_protocol_error(self, data, fragment="Protocol error"):
        """data gets one "-ERR Protocol error..." reply, then the connection is closed,
        and the server keeps serving others."""
        got = self.srv.raw(data, timeout=5)
        self.assertTrue(got.startswith(b"-ERR " + fragment.encode()),
                        "reply to %r: %r" % (data[:60], got[:200]))
        self.assertTrue(got.endswith(b"\r\n") and got.count(b"\r\n") == 1,
                        "exactly one error line expected for %r, got %r" % (data[:60], got[:200]))
        self.assertTrue(got.closed, "connection not closed after %r" % data[:60])
        self.assert_serving()
        return got

    def cmd_error(self, *args):
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            self.r.execute_command(*args)
        return str(cm.exception)

    # ---- PING ECHO SELECT TIME QUIT RESET ----

    def test_ping(self):
        self.assertIs(self.r.ping(), True)
        with self.srv.raw_connection() as c:
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(c.call("ping", "hello world"), b"hello world")
            self.assertEqual(c.call("PING", ""), b"")
        self.assertIn("wrong number of arguments for 'ping' command",
                      self.cmd_error("PING", "a", "b"))

    def test_echo(self):
        self.assertEqual(self.r.echo("hi"), "hi")
        self.assertEqual(self.r.echo(""), "")
        rb = self.srv.client(decode_responses=False)
        payload = b"a\r\nb\x00c\xff" * 100
        self.assertEqual(rb.echo(payload), payload)
        self.assertIn("wrong number of arguments for 'echo' command", self.cmd_error("ECHO"))
        self.assertIn("wrong number of arguments", self.cmd_error("ECHO", "a", "b"))

    def test_select(self):
        self.assertEqual(self.r.execute_command("SELECT", 0), True)  # +OK -> True
        self.assertIn("DB index is out of range", self.cmd_error("SELECT", 1))
        self.assertIn("DB index is out of range", self.cmd_error("SELECT", -1))
        self.assertIn("not an integer", self.cmd_error("SELECT", "abc"))
        with self.srv.raw_connection() as c:
            self.assertEqual(c.call("SELECT", "0"), "OK")

    def test_time(self):
        before = time.time()
        secs, usecs = self.r.time()
        after = time.time()
        self.assertTrue(0 <= usecs < 1_000_000)
        t = secs + usecs / 1e6
        self.assertTrue(before - 2 <= t <= after + 2, (before, t, after))
        with self.srv.raw_connection() as c:
            v = c.call("TIME")
        self.assertEqual(len(v), 2)
        self.assertTrue(all(isinstance(x, bytes) and x.isdigit() for x in v), v)

    def test_quit(self):
        got = self.srv.raw(b"PING\r\nQUIT\r\nPING\r\n", timeout=5)
        self.assertEqual(bytes(got), b"+PONG\r\n+OK\r\n")
        self.assertTrue(got.closed)
        self.assert_serving()

    def test_reset(self):
        with self.srv.raw_connection() as c:
            self.assertIsInstance(c.call("HELLO", "3"), dict)
            self.assertEqual(c.call("CLIENT", "SETNAME", "before-reset"), "OK")
            self.assertEqual(c.call("RESET"), "RESET")
            # Back to RESP2 and no name.
            self.assertIsNone(c.call("CLIENT", "GETNAME"))
            c.send(encode_command("CLIENT", "GETNAME"))
            c.sock.settimeout(5)
            raw = c.sock.recv(100)
            self.assertEqual(raw, b"$-1\r\n")
            info = c.call("CLIENT", "INFO")
            self.assertIsInstance(info, bytes)  # RESP2 bulk, not a verbatim string
            self.assertIn(b" resp=2", info)
            self.assertIn(b" name= ", info)
        self.assertEqual(self.r.execute_command("RESET"), "RESET")
        self.assertIn("wrong number of arguments", self.cmd_error("RESET", "x"))

    # ---- HELLO ----

    def test_hello_default_resp2(self):
        flat = self.r.execute_command("HELLO")
        self.assertIsInstance(flat, list)
        self.assertEqual(len(flat), 14)
        h = pairs_to_dict(flat)
        self.assertEqual(h["proto"], 2)
        self.assertEqual(h["server"], "rbacd")
        self.assertIsInstance(h["id"], int)
        self.assertEqual(h["id"], self.r.client_id())
        self.assertEqual(h["mode"], "standalone")
        self.assertEqual(h["role"], "master")
        self.assertEqual(h["modules"], [])
        self.assertTrue(h["version"])
        self.assertEqual(pairs_to_dict(self.r.execute_command("HELLO", 2))["proto"], 2)

    def test_hello_3_raw(self):
        with self.srv.raw_connection() as c:
            c.send(encode_command("HELLO", "3"))
            c.sock.settimeout(5)
            while b"modules" not in c.buf:
                c._fill()
            self.assertTrue(c.buf.startswith(b"%7\r\n"), c.buf[:40])
            h = c.read_reply()
            self.assertIsInstance(h, dict)
            self.assertEqual(h["proto"], 3)
            self.assertEqual(h["server"], b"rbacd")
            self.assertEqual(h["modules"], [])
            # RESP3 replies on that connection: nulls, maps, verbatim strings.
            self.assertEqual(c.call("PING"), "PONG")
            c.send(encode_command("CLIENT", "GETNAME"))
            self.assertEqual(c.sock.recv(100), b"_\r\n")
            self.assertEqual(c.call("CONFIG", "GET", "appendonly"), {"appendonly": b"no"})
            info = c.call("CLIENT", "INFO")
            self.assertIsInstance(info, Verbatim)
            self.assertEqual(info.format, "txt")
            self.assertIn(" resp=3", info)
            self.assertIsInstance(c.call("INFO", "server"), Verbatim)
            # HELLO 2 switches back.
            h2 = c.call("HELLO", "2")
            self.assertIsInstance(h2, list)
            self.assertEqual(pairs_to_dict(h2)[b"proto"], 2)

    def test_hello_setname(self):
        with self.srv.raw_connection() as c:
            h = c.call("HELLO", "3", "SETNAME", "hello-name")
            self.assertEqual(h["proto"], 3)
            self.assertEqual(c.call("CLIENT", "GETNAME"), b"hello-name")
            err = c.call("HELLO", "3", "SETNAME", "bad name")
            self.assertIsInstance(err, RespError)

    def test_hello_bad_version(self):
        e = self.cmd_error("HELLO", 4)
        self.assertTrue(e.startswith("NOPROTO"), e)
        with self.srv.raw_connection() as c:
            v = c.call("HELLO", "4")
            self.assertIsInstance(v, RespError)
            self.assertTrue(str(v).startswith("NOPROTO"), v)
            v = c.call("HELLO", "1")
            self.assertTrue(str(v).startswith("NOPROTO"), v)
            v = c.call("HELLO", "abc")
            self.assertIsInstance(v, RespError)
            v = c.call("HELLO", "3", "BOGUS")
            self.assertIsInstance(v, RespError)
            self.assertIn("Syntax error", str(v))
            # Still RESP2 and usable after the errors.
            self.assertEqual(c.call("PING"), "PONG")
            self.assertIsInstance(c.call("HELLO"), list)

    def test_hello_auth_without_password_configured(self):
        # With no requirepass and no users, the default user has no password: as in
        # Redis 7, "AUTH default <anything>" and "HELLO 3 AUTH default <anything>"
        # succeed (clients configured with a password still connect), while the
        # one-argument AUTH says that no password is configured.
        with self.srv.raw_connection() as c:
            v = c.call("AUTH", "whatever")
            self.assertIsInstance(v, RespError)
            self.assertIn("without any password configured", str(v))
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(c.call("AUTH", "default", "whatever"), "OK")
            h = c.call("HELLO", "3", "AUTH", "default", "whatever")
            self.assertIsInstance(h, dict, h)
            self.assertEqual(h["proto"], 3)

    # ---- CLIENT ----

    def test_client_id_name(self):
        cid = self.r.client_id()
        self.assertIsInstance(cid, int)
        self.assertGreater(cid, 0)
        other = self.srv.client()
        self.assertNotEqual(other.client_id(), cid)
        self.assertIsNone(self.r.client_getname())
        self.assertTrue(self.r.client_setname("proto-test"))
        self.assertEqual(self.r.client_getname(), "proto-test")
        self.assertIn("cannot contain spaces", self.cmd_error("CLIENT", "SETNAME", "a b"))
        self.assertIn("cannot contain spaces", self.cmd_error("CLIENT", "SETNAME", "a\nb"))
        self.assertEqual(self.r.client_getname(), "proto-test")
        self.r.client_setname("")  # clears the name
        self.assertIsNone(self.r.client_getname())
        self.assertIn("wrong number of arguments for 'client|setname' command",
                      self.cmd_error("CLIENT", "SETNAME"))

    def test_client_setinfo_and_info(self):
        self.assertEqual(self.r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "bbtest"), "OK")
        self.assertEqual(self.r.execute_command("CLIENT", "SETINFO", "lib-ver", "1.2.3"), "OK")
        self.assertIn("Unrecognized option",
                      self.cmd_error("CLIENT", "SETINFO", "LIB-COLOR", "red"))
        self.assertIn("cannot contain spaces",
                      self.cmd_error("CLIENT", "SETINFO", "LIB-NAME", "two words"))
        info = self.r.client_info()
        self.assertEqual(info["lib-name"], "bbtest")
        self.assertEqual(info["lib-ver"].strip(), "1.2.3")
        self.assertEqual(int(info["id"]), self.r.client_id())
        self.assertEqual(str(info["db"]), "0")
        self.assertEqual(str(info["resp"]), "2")
        self.assertEqual(info["cmd"], "client|info")
        self.assertTrue(info["addr"].startswith("127.0.0.1:"))

    def test_client_list(self):
        self.r.client_setname("lister")
        other = self.srv.client()
        other.client_setname("listed")
        oid = other.client_id()
        clients = self.r.client_list()
        by_id = {int(c["id"]): c for c in clients}
        self.assertIn(self.r.client_id(), by_id)
        self.assertIn(oid, by_id)
        self.assertEqual(by_id[oid]["name"], "listed")
        for c in clients:
            for key in ("addr", "laddr", "fd", "age", "idle", "flags", "cmd", "user", "resp"):
                self.assertIn(key, c)
        only = self.r.execute_command("CLIENT", "LIST", "ID", oid)
        lines = [ln for ln in only.splitlines() if ln]
        self.assertEqual(len(lines), 1, only)
        self.assertIn("id=%d " % oid, lines[0])
        self.assertIn("Invalid client ID", self.cmd_error("CLIENT", "LIST", "ID", "abc"))
        self.assertIn("syntax error", self.cmd_error("CLIENT", "LIST", "TYPE"))

    def test_client_kill(self):
        with self.srv.raw_connection(timeout=5) as victim:
            vid = victim.call("CLIENT", "ID")
            self.assertEqual(self.r.client_kill_filter(_id=vid), 1)
            rest = victim.read_until_closed(timeout=5)
            self.assertEqual(rest, b"")
            self.assertTrue(victim.closed_by_peer)
        self.assertEqual(self.r.execute_command("CLIENT", "KILL", "ID", 999999999), 0)
        self.assertIn("No such client",
                      self.cmd_error("CLIENT", "KILL", "203.0.113.1:1"))
        # Old form, by address.
        with self.srv.raw_connection(timeout=5) as victim:
            info = victim.call("CLIENT", "INFO").decode()
            addr = [f.split("=", 1)[1] for f in info.split() if f.startswith("addr=")][0]
            self.assertTrue(self.r.execute_command("CLIENT", "KILL", addr))
            victim.read_until_closed(timeout=5)
            self.assertTrue(victim.closed_by_peer)
        # SKIPME: killing oneself only when asked.
        me = self.r.client_id()
        self.assertEqual(self.r.execute_command("CLIENT", "KILL", "ID", me), 0)
        self.assertTrue(self.r.ping())
        with self.srv.raw_connection(timeout=5) as c:
            cid = c.call("CLIENT", "ID")
            self.assertEqual(c.call("CLIENT", "KILL", "ID", str(cid), "SKIPME", "no"), 1)
            c.read_until_closed(timeout=5)
            self.assertTrue(c.closed_by_peer)
        self.assert_serving()

    def test_client_no_evict_no_touch(self):
        for sub in ("NO-EVICT", "NO-TOUCH"):
            for v in ("on", "OFF"):
                self.assertEqual(self.r.execute_command("CLIENT", sub, v), "OK")
            self.assertIn("syntax error", self.cmd_error("CLIENT", sub, "maybe"))
        self.assertIn("wrong number of arguments for 'client' command",
                      self.cmd_error("CLIENT"))
        self.assertIsInstance(self.r.execute_command("CLIENT", "HELP"), list)

    # ---- COMMAND ----

    def test_command(self):
        with self.srv.raw_connection() as c:
            table = c.call("COMMAND")
            count = c.call("COMMAND", "COUNT")
            names = c.call("COMMAND", "LIST")
        self.assertIsInstance(count, int)
        self.assertEqual(len(table), count)
        self.assertEqual(len(names), count)
        names = {n.decode() for n in names}
        for n in ("ping", "echo", "hello", "auth", "client", "command", "info", "config",
                  "select", "time", "slowlog", "quit", "reset", "shutdown"):
            self.assertIn(n, names)
        by_name = {e[0].decode(): e for e in table}
        self.assertEqual(set(by_name), names)
        for e in table:
            self.assertEqual(len(e), 10, e)
            self.assertIsInstance(e[1], int)
        self.assertEqual(by_name["ping"][1], -1)
        self.assertEqual(by_name["echo"][1], 2)
        subs = {s[0].decode() for s in by_name["client"][9]}
        self.assertIn("client|setname", subs)
        # redis-py's own parser accepts the table.
        parsed = self.r.command()
        self.assertIn("ping", parsed)
        self.assertEqual(self.r.command_count(), count)

    def test_command_info_docs(self):
        with self.srv.raw_connection() as c:
            info = c.call("COMMAND", "INFO", "ping")
            self.assertEqual(len(info), 1)
            self.assertEqual(info[0][0], b"ping")
            self.assertEqual(info[0][1], -1)
            self.assertIn("fast", info[0][2])
            info = c.call("COMMAND", "INFO", "ping", "nosuchcommand", "ECHO")
            self.assertEqual(len(info), 3)
            self.assertIsNone(info[1])
            self.assertEqual(info[2][0], b"echo")
            docs = c.call("COMMAND", "DOCS", "ping")
            self.assertEqual(docs[0], b"ping")
            d = pairs_to_dict(docs[1])
            self.assertIn(b"summary", d)
            self.assertTrue(d[b"summary"])
            docs = c.call("COMMAND", "DOCS", "nosuchcommand")
            self.assertEqual(docs, [])
            docs = c.call("COMMAND", "DOCS", "config")
            self.assertIn(b"subcommands", pairs_to_dict(docs[1]))
            all_docs = c.call("COMMAND", "DOCS")
            self.assertEqual(len(all_docs), 2 * c.call("COMMAND", "COUNT"))
            # RESP3: DOCS is a map.
            c.call("HELLO", "3")
            docs = c.call("COMMAND", "DOCS", "ping")
            self.assertIsInstance(docs, dict)
            self.assertIn("ping", docs)
            self.assertIsInstance(docs["ping"], dict)
            err = c.call("COMMAND", "FROB")
            self.assertIsInstance(err, RespError)

    # ---- INFO ----

    def test_info_default(self):
        with self.srv.raw_connection() as c:
            text = c.call("INFO").decode()
        for section in ("# Server", "# Clients", "# Memory", "# Persistence", "# Stats",
                        "# Keyspace"):
            self.assertIn(section + "\r\n", text)
        self.assertNotIn("# Commandstats", text)
        self.assertFalse(text.endswith("\r\n\r\n"))
        info = self.r.info()
        self.assertIn("redis_version", info)
        self.assertEqual(info["tcp_port"], self.srv.port)
        self.assertEqual(info["process_id"], self.srv.pid)
        self.assertGreaterEqual(info["connected_clients"], 1)
        self.assertEqual(info["loading"], 0)
        self.assertIn("used_memory", info)
        self.assertIn("total_commands_processed", info)

    def test_info_sections(self):
        self.assertEqual(self.r.info("persistence")["loading"], 0)
        with self.srv.raw_connection() as c:
            text = c.call("INFO", "persistence").decode()
            self.assertIn("loading:0\r\n", text)
            self.assertNotIn("# Server", text)
            text = c.call("INFO", "server", "clients").decode()
            self.assertIn("# Server", text)
            self.assertIn("# Clients", text)
            self.assertNotIn("# Stats", text)
            self.assertIn(b"# Commandstats", c.call("INFO", "all"))
            self.assertIn(b"# Commandstats", c.call("INFO", "everything"))
            self.assertNotIn(b"# Commandstats", c.call("INFO", "default"))
            self.assertEqual(c.call("INFO", "nosuchsection"), b"")

    def test_info_commandstats(self):
        before = self.r.info("commandstats").get("cmdstat_ping", {}).get("calls", 0)
        for _ in range(5):
            self.r.ping()
        after = self.r.info("commandstats")["cmdstat_ping"]
        self.assertGreaterEqual(after["calls"], before + 5)
        self.assertIn("usec", after)
        # Subcommands are counted under their full name.
        self.r.client_id()
        stats = self.r.info("commandstats")
        self.assertIn("cmdstat_client|id", stats)
        # A refused call counts as rejected.
        try:
            self.r.execute_command("ECHO")
        except redis.exceptions.ResponseError:
            pass
        self.assertGreaterEqual(self.r.info("commandstats")["cmdstat_echo"]["rejected_calls"], 1)

    # ---- CONFIG ----

    def test_config_get(self):
        self.assertEqual(self.r.config_get("save"), {"save": ""})
        self.assertEqual(self.r.config_get("appendonly"), {"appendonly": "no"})
        self.assertEqual(self.r.config_get("port"), {"port": str(self.srv.port)})
        self.assertEqual(self.r.config_get("db-password"), {"db-password": "********"})
        self.assertEqual(self.r.config_get("nosuchkey"), {})
        dbkeys = self.r.config_get("db-*")
        for k in ("db-host", "db-port", "db-socket", "db-user", "db-password", "db-name"):
            self.assertIn(k, dbkeys)
        self.assertEqual(dbkeys["db-name"], self.db.name)
        everything = self.r.config_get("*")
        self.assertGreater(len(everything), 20)
        self.assertNotIn("rbacd", [v for k, v in everything.items() if "password" in k])
        # Several patterns in one call (Redis 7).
        two = pairs_to_dict(self.r.execute_command("CONFIG", "GET", "port", "maxclients"))
        self.assertEqual(two, {"port": str(self.srv.port), "maxclients": "10000"})
        self.assertIn("wrong number of arguments", self.cmd_error("CONFIG", "GET"))

    def test_config_set(self):
        try:
            self.assertTrue(self.r.config_set("loglevel", "debug"))
            self.assertEqual(self.r.config_get("loglevel"), {"loglevel": "debug"})
            e = self.cmd_error("CONFIG", "SET", "loglevel", "chatty")
            self.assertIn("loglevel", e)
            self.assertEqual(self.r.config_get("loglevel"), {"loglevel": "debug"})
        finally:
            self.r.config_set("loglevel", "notice")
        self.assertEqual(self.r.config_get("loglevel"), {"loglevel": "notice"})
        e = self.cmd_error("CONFIG", "SET", "port", "7000")
        self.assertIn("port", e)
        self.assertEqual(self.r.config_get("port"), {"port": str(self.srv.port)})
        self.assertIn("nosuchkey", self.cmd_error("CONFIG", "SET", "nosuchkey", "1"))
        self.assertIn("wrong number of arguments", self.cmd_error("CONFIG", "SET", "timeout"))
        self.assertIn("wrong number of arguments",
                      self.cmd_error("CONFIG", "SET", "timeout", "0", "loglevel"))
        # Several pairs at once.
        try:
            self.assertEqual(self.r.execute_command("CONFIG", "SET", "timeout", "300",
                                                    "slowlog-max-len", "64"), "OK")
            self.assertEqual(self.r.config_get("timeout"), {"timeout": "300"})
            self.assertEqual(self.r.config_get("slowlog-max-len"), {"slowlog-max-len": "64"})
        finally:
            self.r.execute_command("CONFIG", "SET", "timeout", "0", "slowlog-max-len", "128")

    # ---- SLOWLOG ----

    def test_slowlog(self):
        try:
            self.r.config_set("slowlog-log-slower-than", "0")
            self.assertEqual(self.r.execute_command("SLOWLOG", "RESET"), "OK")
            self.assertLessEqual(self.r.execute_command("SLOWLOG", "LEN"), 2)
            self.r.echo("slowlog-marker")
            self.assertGreaterEqual(self.r.execute_command("SLOWLOG", "LEN"), 1)
            entries = self.r.execute_command("SLOWLOG", "GET", "-1")
            found = [e for e in entries if e[3] == ["ECHO", "slowlog-marker"]]
            self.assertEqual(len(found), 1, entries)
            e = found[0]
            self.assertEqual(len(e), 6)
            self.assertIsInstance(e[0], int)
            self.assertLessEqual(abs(e[1] - time.time()), 5)
            self.assertGreaterEqual(e[2], 0)
            self.assertTrue(e[4].startswith("127.0.0.1:"))
            # Newest first; GET n limits.
            self.r.echo("second-marker")
            top = self.r.execute_command("SLOWLOG", "GET", "2")
            self.assertEqual(len(top), 2)
            self.assertGreater(top[0][0], top[1][0])
            self.assertTrue(any(t[3] == ["ECHO", "second-marker"] for t in top), top)
            parsed = self.r.slowlog_get()  # redis-py's parser
            self.assertTrue(parsed)
            # Long arguments are cut.
            self.r.echo("x" * 1000)
            long_entry = [t for t in self.r.execute_command("SLOWLOG", "GET", "5")
                          if t[3] and t[3][0] == "ECHO" and t[3][1].startswith("xxx")][0]
            self.assertLess(len(long_entry[3][1]), 400)
            self.assertIn("more bytes", long_entry[3][1])
            # Max length.
            self.r.config_set("slowlog-max-len", "3")
            for i in range(6):
                self.r.echo("m%d" % i)
            self.assertEqual(self.r.execute_command("SLOWLOG", "LEN"), 3)
            self.assertEqual(self.r.execute_command("SLOWLOG", "RESET"), "OK")
            entries = self.r.execute_command("SLOWLOG", "GET", "-1")
            self.assertFalse([t for t in entries if t[3] and t[3][0] == "ECHO"], entries)
            self.assertIn("count", self.cmd_error("SLOWLOG", "GET", "abc"))
        finally:
            self.r.config_set("slowlog-log-slower-than", "10000")
            self.r.config_set("slowlog-max-len", "128")
        self.r.execute_command("SLOWLOG", "RESET")
        self.r.echo("not-slow")
        entries = self.r.execute_command("SLOWLOG", "GET", "-1")
        self.assertFalse([t for t in entries if t[3] == ["ECHO", "not-slow"]])

    # ---- errors ----

    def test_unknown_command(self):
        e = self.cmd_error("NOSUCHCMD", "a", "b")
        self.assertEqual(e, "unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' ")
        e = self.cmd_error("FOO")
        self.assertTrue(e.startswith("unknown command 'FOO'"), e)
        with self.srv.raw_connection() as c:
            v = c.call("X" * 5000, "y")
            self.assertIsInstance(v, RespError)
            self.assertTrue(str(v).startswith("ERR unknown command"))
            self.assertLess(len(str(v)), 600)
            self.assertEqual(c.call("PING"), "PONG")

    def test_unknown_subcommand(self):
        self.assertEqual(self.cmd_error("CLIENT", "FROB"),
                         "unknown subcommand 'FROB'. Try CLIENT HELP.")
        self.assertIn("unknown subcommand 'frob'", self.cmd_error("CONFIG", "frob", "x"))
        # Every container has a HELP subcommand, so the error points at it.
        self.assertEqual(self.cmd_error("CONFIG", "frob", "x"),
                         "unknown subcommand 'frob'. Try CONFIG HELP.")
        self.assertIn("unknown subcommand", self.cmd_error("SLOWLOG", "FROB"))
        self.assertTrue(self.r.ping())

    def test_wrong_arity(self):
        self.assertEqual(self.cmd_error("ECHO"), "wrong number of arguments for 'echo' command")
        self.assertIn("'select' command", self.cmd_error("SELECT"))
        self.assertIn("'time' command", self.cmd_error("TIME", "now"))
        self.assertIn("'client|id' command", self.cmd_error("CLIENT", "ID", "x"))
        self.assertIn("'config|get' command", self.cmd_error("CONFIG", "GET"))

    def test_dbsize(self):
        n = self.r.dbsize()
        self.assertIsInstance(n, int)
        self.assertGreaterEqual(n, 0)
        total = self.db.sql("SELECT COUNT(*) FROM tenant_user")[0][0]
        self.assertLessEqual(n, total)

    # ---- pipelining and inline commands ----

    def test_pipeline_10000_pings_one_write(self):
        n = 10_000
        got = self.srv.raw(encode_command("PING") * n, timeout=10, until=len(PONG) * n)
        self.assertEqual(len(got), len(PONG) * n)
        self.assertEqual(bytes(got), PONG * n)

    def test_pipeline_in_order(self):
        with self.srv.raw_connection() as c:
            c.send(b"".join(encode_command("ECHO", str(i)) for i in range(2000)))
            for i in range(2000):
                self.assertEqual(c.read_reply(), str(i).encode())
        p = self.r.pipeline(transaction=False)
        for i in range(1000):
            p.echo("v%d" % i)
        self.assertEqual(p.execute(), ["v%d" % i for i in range(1000)])

    def test_output_backpressure(self):
        # A client that pipelines far more replies than client-output-limit and reads
        # slowly still gets every reply, in order; the server stops reading from it
        # meanwhile instead of buffering without bound.
        n, size = 4000, 1000
        try:
            self.assertTrue(self.r.config_set("client-output-limit", "64kb"))
            self.assertEqual(self.r.config_get("client-output-limit"),
                             {"client-output-limit": str(64 * 1024)})
            with self.srv.raw_connection(timeout=30) as c:
                reqs = b"".join(encode_command("ECHO", b"%08d" % i + b"x" * (size - 8))
                                for i in range(n))
                sender = threading.Thread(target=c.send, args=(reqs,))
                sender.start()
                time.sleep(0.5)  # let the output reach the limit
                listing = self.r.client_list()
                for i in range(n):
                    v = c.read_reply()
                    self.assertEqual(v[:8], b"%08d" % i)
                    self.assertEqual(len(v), size)
                sender.join(30)
                self.assertFalse(sender.is_alive())
            paused = [cl for cl in listing if int(cl["omem"]) > 0]
            for cl in paused:
                self.assertLess(int(cl["omem"]), 4 * 1024 * 1024, cl)
        finally:
            self.r.config_set("client-output-limit", "64mb")
        self.assertTrue(self.r.ping())

    def test_request_split_across_writes(self):
        req = encode_command("ECHO", "hello world") + b"PING\r\n"
        with self.srv.raw_connection() as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(req)):
                c.send(req[i:i + 1])
                time.sleep(0.001)
            self.assertEqual(c.read_reply(), b"hello world")
            self.assertEqual(c.read_reply(), "PONG")

    def test_inline(self):
        self.assertEqual(bytes(self.srv.raw(b"PING\r\n", until=PONG)), PONG)
        self.assertEqual(bytes(self.srv.raw(b"PING\n", until=PONG)), PONG)
        self.assertEqual(bytes(self.srv.raw(b"\r\n\r\n  \r\nPING\r\n", until=PONG)), PONG)
        got = self.srv.raw(b'ECHO "a b\\x41\\n"\r\n', until=b"\r\n\r\n")
        self.assertEqual(bytes(got), b"$5\r\na bA\n\r\n")
        got = self.srv.raw(b"echo 'it''s'\r\n", timeout=2)
        self.assertTrue(got.startswith(b"-ERR"), got)  # 'it''s' is not one word
        got = self.srv.raw(b"ECHO 'x y'\r\nPING hi\r\n", until=b"hi\r\n")
        self.assertEqual(bytes(got), b"$3\r\nx y\r\n$2\r\nhi\r\n")
        # Empty multibulk requests are skipped.
        self.assertEqual(bytes(self.srv.raw(b"*0\r\n*-1\r\nPING\r\n", until=PONG)), PONG)

    # ---- malformed input ----

    def test_malformed_multibulk_count(self):
        self.assert_protocol_error(b"*-5x\r\n", "Protocol error: invalid multibulk length")
        self.assert_protocol_error(b"*abc\r\n", "Protocol error: invalid multibulk length")
        self.assert_protocol_error(b"*-2\r\n", "Protocol error: invalid multibulk length")
        self.assert_protocol_error(b"*" + b"9" * 40 + b"\r\n", "Protocol error")
        self.assert_protocol_error(b"*3000000\r\n", "Protocol error: invalid multibulk length")

    def test_malformed_bulk_length(self):
        self.assert_protocol_error(b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length")
        self.assert_protocol_error(b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length")
        self.assert_protocol_error(b"*1\r\n$" + b"1" * 40 + b"\r\n", "Protocol error")

    def test_dollar_at_top_level_is_an_inline_word(self):
        # "$abc" where a request starts is an inline request (as in Redis): an unknown
        # command, not a dropped connection.
        with self.srv.raw_connection(timeout=5) as c:
            c.send(b"$abc\r\n")
            v = c.read_reply()
            self.assertIsInstance(v, RespError)
            self.assertIn("unknown command '$abc'", str(v))
            self.assertEqual(c.call("PING"), "PONG")

    def test_malformed_non_bulk_argument(self):
        got = self.assert_protocol_error(b"*2\r\n$3\r\nGET\r\n:5\r\n",
                                         "Protocol error: expected '$', got ':'")
        self.assertEqual(bytes(got), b"-ERR Protocol error: expected '$', got ':'\r\n")

    def test_malformed_bulk_without_crlf(self):
        self.assert_protocol_error(b"*1\r\n$3\r\nabcXY", "Protocol error")

    def test_oversized_bulk_declared(self):
        # Rejected from the header alone: the server must not wait for 1 GB of data.
        t0 = time.monotonic()
        self.assert_protocol_error(b"*1\r\n$999999999\r\n", "Protocol error: invalid bulk length")
        self.assertLess(time.monotonic() - t0, 3)

    def test_unbalanced_quotes_inline(self):
        self.assert_protocol_error(b'ECHO "abc\r\n', "Protocol error: unbalanced quotes")
        self.assert_protocol_error(b"ECHO 'abc\r\n", "Protocol error: unbalanced quotes")
        self.assert_protocol_error(b'ECHO "abc"def\r\n', "Protocol error: unbalanced quotes")

    def test_too_big_inline(self):
        self.assert_protocol_error(b"PING " + b"x" * (200 * 1024), "Protocol error")

    def test_replies_before_error_are_kept(self):
        got = self.srv.raw(b"PING\r\nECHO ok\r\n*-5x\r\nPING\r\n", timeout=5)
        self.assertEqual(bytes(got), PONG + b"$2\r\nok\r\n"
                         b"-ERR Protocol error: invalid multibulk length\r\n")
        self.assertTrue(got.closed)

    def test_big_argument(self):
        limit = 1024 * 1024  # proto-max-bulk-len 1mb
        self.assertEqual(self.r.config_get("proto-max-bulk-len"),
                         {"proto-max-bulk-len": str(limit)})
        # Exactly the limit is fine.
        rb = self.srv.client(decode_responses=False)
        self.assertEqual(len(rb.echo(b"y" * limit)), limit)
        # One byte more is a protocol error, whole request sent or not.
        self.assert_protocol_error(encode_command("ECHO", b"z" * (limit + 1)),
                                   "Protocol error: invalid bulk length")
        with self.assertRaises((redis.exceptions.ResponseError,
                                redis.exceptions.ConnectionError)) as cm:
            self.srv.client().echo("z" * (limit + 1))
        if isinstance(cm.exception, redis.exceptions.ResponseError):
            self.assertIn("Protocol error", str(cm.exception))
        self.assert_serving()
        self.assertTrue(self.r.ping())

    def test_abrupt_disconnects(self):
        # Half-sent requests and resets must not disturb the server.
        for data in (b"*3\r\n$4\r\nECHO\r\n", b"*1\r\n$100\r\nabc", b"PIN"):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            s.sendall(data)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # RST
        # A client that sends a lot and never reads.
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        s.setblocking(False)
        try:
            chunk = encode_command("ECHO", "x" * 1000) * 100
            for _ in range(200):
                try:
                    s.send(chunk)
                except BlockingIOError:
                    break
        finally:
            s.close()
        self.assert_serving()

    def test_many_concurrent_clients(self):
        errors = []

        def worker(i):
            try:
                r = self.srv.client()
                for j in range(50):
                    if r.echo("%d-%d" % (i, j)) != "%d-%d" % (i, j):
                        errors.append("bad echo")
                r.close()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertTrue(self.r.ping())


if __name__ == "__main__":
    unittest.main(verbosity=2)
