#!/usr/bin/env python3
"""test_introspection.py — what a Redis user inspects a server with, in Redis 7 shapes
(SPEC §2, README "Commands"): INFO replication and cpu (what standalone clients such
as Valkey GLIDE read to find the node they may use), bare ROLE, CLIENT LIST fields,
CONFIG SET of the run-time keys, INFO commandstats, errorstats and latencystats, SLOWLOG with
slowlog-log-slower-than, and MONITOR (admin only, secrets redacted, a watcher that
does not read is closed).
"""

import os
import re
import shutil
import socket
import tempfile
import unittest

import harness
from harness import RbacdServer, RespError, encode_command, wait_for

ADMIN_PW = "intro-admin-pw"
CHECK_PW = "intro-check-pw"

# The CLIENT LIST fields a Redis 7 user expects, in Redis's order.
CLIENT_FIELDS = ("id addr laddr fd name age idle flags db sub psub multi qbuf qbuf-free obl "
                 "oll omem tot-mem events cmd user resp lib-name lib-ver").split()

MONITOR_LINE = re.compile(r'^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\]( "[^"\\]*(\\.[^"\\]*)*")+$')


def txt(v):
    """A reply as text: bulk strings arrive as bytes, simple strings and errors as str."""
    return v.decode() if isinstance(v, bytes) else str(v)


def info_dict(text):
    """INFO text -> {key: value} (section headers and blank lines dropped)."""
    out = {}
    for line in txt(text).splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def fields(line):
    return dict(kv.split("=", 1) for kv in line.strip().split(" "))


class IntrospectionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.db = harness.scratch_db("intro")
        conf = ["requirepass " + ADMIN_PW, "user checker check " + harness.hash_password(CHECK_PW)]
        try:
            cls.srv = RbacdServer(db=cls.db, conf_lines=conf, password=ADMIN_PW).start()
        except BaseException:
            cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.db.drop()

    def admin(self):
        c = self.srv.raw_connection(timeout=20)
        self.addCleanup(c.close)
        self.assertEqual(c.call("AUTH", ADMIN_PW), "OK")
        return c

    def checker(self):
        c = self.srv.raw_connection(timeout=20)
        self.addCleanup(c.close)
        self.assertEqual(c.call("AUTH", "checker", CHECK_PW), "OK")
        return c

    # ---------------------------------------------------------------- INFO ----

    def test_info_replication_says_master_with_no_replicas(self):
        a = self.admin()
        text = txt(a.call("INFO", "replication"))
        self.assertTrue(text.startswith("# Replication\r\n"), text)
        self.assertNotIn("# Server", text)
        d = info_dict(text)
        self.assertEqual(d["role"], "master")
        self.assertEqual(d["connected_slaves"], "0")
        self.assertEqual(d["master_failover_state"], "no-failover")
        self.assertEqual(d["master_repl_offset"], "0")
        self.assertRegex(d["master_replid"], r"^[0-9a-f]{40}$")
        # The id is the run's: the same on every call.
        self.assertEqual(info_dict(a.call("INFO", "replication"))["master_replid"],
                         d["master_replid"])

    def test_info_cpu_counts_cpu_time(self):
        a = self.admin()
        keys = ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children",
                "used_cpu_user_children", "used_cpu_sys_main_thread",
                "used_cpu_user_main_thread")
        before = info_dict(a.call("INFO", "cpu"))
        self.assertEqual(sorted(before), sorted(keys))
        for k in keys:
            self.assertRegex(before[k], r"^\d+\.\d{6}$", k)
        for _ in range(300):
            a.call("MENUS", "1", "2", "TREE")
        after = info_dict(a.call("INFO", "cpu"))
        total = lambda d, sfx="": float(d["used_cpu_sys" + sfx]) + float(d["used_cpu_user" + sfx])
        self.assertGreater(total(after), total(before))
        self.assertGreater(total(after, "_main_thread"), total(before, "_main_thread"))
        # The loop thread is part of the process.
        self.assertLessEqual(total(after, "_main_thread"), total(after) + 0.01)

    def test_default_all_and_everything_hold_the_new_sections_in_redis_order(self):
        a = self.admin()
        for args in ((), ("default",), ("all",), ("everything",)):
            with self.subTest(args=args):
                text = txt(a.call("INFO", *args))
                heads = [line for line in text.splitlines() if line.startswith("# ")]
                for h in ("# Stats", "# Replication", "# CPU", "# Keyspace"):
                    self.assertIn(h, heads)
                self.assertLess(heads.index("# Stats"), heads.index("# Replication"))
                self.assertLess(heads.index("# Replication"), heads.index("# CPU"))
                self.assertLess(heads.index("# CPU"), heads.index("# Keyspace"))
                self.assertLess(heads.index("# CPU"), heads.index("# Errorstats"))
                self.assertLess(heads.index("# Errorstats"), heads.index("# Keyspace"))
                self.assertEqual("# Commandstats" in heads, bool(args) and args[0] != "default")
        self.assertNotIn("# CPU", txt(a.call("INFO", "server", "replication")))

    def test_commandstats_and_latencystats_have_redis_shapes(self):
        a = self.admin()
        a.call("CONFIG", "RESETSTAT")
        for _ in range(20):
            a.call("CANMENU", "1", "2", "511")
        a.call("CANMENU", "1", "x", "511")  # an error reply: failed_calls
        text = txt(a.call("INFO", "commandstats", "latencystats"))
        m = re.search(r"^cmdstat_canmenu:calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                      r"rejected_calls=(\d+),failed_calls=(\d+)\r?$", text, re.M)
        self.assertIsNotNone(m, text)
        self.assertEqual(m.group(1), "21")
        self.assertEqual(m.group(5), "1")
        self.assertRegex(text, r"(?m)^latency_percentiles_usec_canmenu:p50=\d+\.\d{3},"
                         r"p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r?$")
        self.assertNotIn("cmdstat_", txt(a.call("INFO")))

    def test_errorstats_counts_error_replies_by_prefix(self):
        a = self.admin()
        self.assertEqual(a.call("CONFIG", "RESETSTAT"), "OK")
        text = txt(a.call("INFO"))
        self.assertIn("# Errorstats\r\n", text)  # a default section, as in Redis
        self.assertNotRegex(text, r"(?m)^errorstat_")
        a.call("NOSUCHCOMMAND")                       # ERR, before any handler
        a.call("CANMENU", "1", "x", "1")              # ERR, from the handler
        a.call("SESSION", "CANMENU", "no-such-token", "1")  # NOSESSION
        self.checker().call("MONITOR")                # NOPERM (its AUTH is fine)
        d = info_dict(a.call("INFO", "errorstats"))
        self.assertEqual(d, {"errorstat_ERR": "count=2", "errorstat_NOSESSION": "count=1",
                             "errorstat_NOPERM": "count=1"})
        self.assertEqual(info_dict(a.call("INFO", "stats"))["total_error_replies"], "4")
        self.assertEqual(a.call("CONFIG", "RESETSTAT"), "OK")
        self.assertEqual(info_dict(a.call("INFO", "errorstats")), {})

    # ---------------------------------------------------------------- ROLE ----

    def test_bare_role_is_the_redis_reply_in_resp2_and_resp3(self):
        a = self.admin()
        a.send(encode_command("ROLE"))
        self.assertEqual(a.read_reply(), [b"master", 0, []])
        self.assertEqual(self.srv.raw(b"AUTH " + ADMIN_PW.encode() + b"\r\nROLE\r\n",
                                      until=b"*0\r\n"),
                         b"+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n")
        a.call("HELLO", "3")
        self.assertEqual(a.call("ROLE"), [b"master", 0, []])

    def test_role_subcommands_keep_their_arity_and_acl(self):
        a = self.admin()
        self.assertEqual(txt(a.call("ROLE", "GRANT", "1")),
                         "ERR wrong number of arguments for 'role|grant' command")
        self.assertEqual(txt(a.call("ROLE", "frob")),
                         "ERR unknown subcommand 'frob'. Try ROLE HELP.")
        c = self.checker()
        reply = c.call("ROLE")
        self.assertIsInstance(reply, RespError)
        self.assertTrue(txt(reply).startswith("NOPERM"), reply)

    # --------------------------------------------------------- CLIENT LIST ----

    def test_client_list_has_the_fields_redis_users_expect(self):
        a = self.admin()
        a.call("CLIENT", "SETNAME", "lister")
        a.call("CLIENT", "SETINFO", "LIB-NAME", "mylib")
        a.call("CLIENT", "SETINFO", "LIB-VER", "1.2.3")
        line = [x for x in a.call("CLIENT", "LIST").decode().splitlines() if "name=lister " in x]
        self.assertEqual(len(line), 1)
        keys = [kv.split("=", 1)[0] for kv in line[0].split(" ")]
        self.assertEqual([k for k in keys if k in CLIENT_FIELDS], CLIENT_FIELDS)
        f = fields(line[0])
        self.assertEqual(f["flags"], "N")
        self.assertEqual(f["db"], "0")
        self.assertEqual(f["user"], "default")
        self.assertEqual(f["resp"], "2")
        self.assertEqual(f["cmd"], "client|list")
        self.assertEqual((f["lib-name"], f["lib-ver"]), ("mylib", "1.2.3"))
        self.assertEqual(f["addr"].rsplit(":", 1)[0], "127.0.0.1")
        self.assertEqual(f["laddr"], "127.0.0.1:%d" % self.srv.port)
        self.assertEqual(f["id"], txt(a.call("CLIENT", "ID")))

    # ---------------------------------------------------------- CONFIG SET ----

    def test_config_set_changes_each_run_time_key(self):
        a = self.admin()
        cases = {"loglevel": "verbose", "timeout": "3600", "maxclients": "500",
                 "slowlog-log-slower-than": "2500", "slowlog-max-len": "64",
                 "sync-interval-ms": "250", "session-ttl": "900", "session-max-per-user": "7",
                 "client-output-limit": "1048576", "protected-mode": "no",
                 "change-retention": "7200", "readyz-db-grace-ms": "2000",
                 "db-retries": "5", "sync-cluster-grace-ms": "5000"}
        for key, value in cases.items():
            with self.subTest(key=key):
                old = a.call("CONFIG", "GET", key)[1].decode()
                self.assertEqual(a.call("CONFIG", "SET", key, value), "OK")
                self.assertEqual(a.call("CONFIG", "GET", key), [key.encode(), value.encode()])
                self.assertEqual(a.call("CONFIG", "SET", key, old), "OK")
        self.assertEqual(info_dict(a.call("INFO", "clients"))["maxclients"], "10000")

    def test_config_set_refuses_unknown_and_start_only_keys_and_hides_secrets(self):
        a = self.admin()
        self.assertEqual(txt(a.call("CONFIG", "SET", "nosuch", "1")),
                         "ERR CONFIG SET failed (possibly related to argument 'nosuch') - "
                         "Unknown option or number of args for CONFIG SET - 'nosuch'")
        for key in ("port", "db-password", "bind", "worker-threads", "profile"):
            with self.subTest(key=key):
                self.assertEqual(txt(a.call("CONFIG", "SET", key, "1")),
                                 "ERR CONFIG SET failed (possibly related to argument '%s') - "
                                 "'%s' can not be changed at run time" % (key, key))
        self.assertEqual(a.call("CONFIG", "SET", "requirepass", ADMIN_PW), "OK")
        self.assertEqual(a.call("CONFIG", "GET", "requirepass"), [b"requirepass", b"********"])
        self.assertEqual(a.call("CONFIG", "GET", "db-password"), [b"db-password", b"********"])
        reply = self.checker().call("CONFIG", "SET", "loglevel", "debug")
        self.assertTrue(txt(reply).startswith("NOPERM"), reply)

    def test_config_set_maxclients_takes_effect_at_once(self):
        a = self.admin()
        n = int(info_dict(a.call("INFO", "clients"))["connected_clients"])
        self.assertEqual(a.call("CONFIG", "SET", "maxclients", txt(n)), "OK")
        try:
            out = self.srv.raw(b"PING\r\n", until=lambda b: b.endswith(b"\r\n"))
            self.assertEqual(out, b"-ERR max number of clients reached\r\n")
        finally:
            self.assertEqual(a.call("CONFIG", "SET", "maxclients", "10000"), "OK")
        self.assertEqual(self.srv.raw(b"PING\r\n", until=b"\r\n"), b"-NOAUTH Authentication "
                         b"required.\r\n")

    # ------------------------------------------------------------- SLOWLOG ----

    def test_slowlog_follows_slowlog_log_slower_than(self):
        a = self.admin()
        try:
            self.assertEqual(a.call("CONFIG", "SET", "slowlog-log-slower-than", "0"), "OK")
            self.assertEqual(a.call("SLOWLOG", "RESET"), "OK")
            a.call("CLIENT", "SETNAME", "slowpoke")
            a.call("CANMENU", "1", "2", "511")
            entry = [e for e in a.call("SLOWLOG", "GET", "-1") if e[3][0] == b"CANMENU"]
            self.assertEqual(len(entry), 1)
            e = entry[0]
            self.assertEqual(len(e), 6)
            self.assertIsInstance(e[0], int)
            self.assertLess(abs(e[1] - int(a.call("TIME")[0])), 60)
            self.assertGreaterEqual(e[2], 0)
            self.assertEqual(e[3], [b"CANMENU", b"1", b"2", b"511"])
            self.assertRegex(e[4].decode(), r"^127\.0\.0\.1:\d+$")
            self.assertEqual(e[5], b"slowpoke")
            self.assertEqual(a.call("CONFIG", "SET", "slowlog-log-slower-than", "-1"), "OK")
            self.assertEqual(a.call("SLOWLOG", "RESET"), "OK")
            a.call("CANMENU", "1", "2", "511")
            self.assertEqual(a.call("SLOWLOG", "LEN"), 0)
        finally:
            a.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")

    # ------------------------------------------------------------- MONITOR ----

    def test_monitor_is_for_admins_only(self):
        reply = self.checker().call("MONITOR")
        self.assertIsInstance(reply, RespError)
        self.assertEqual(txt(reply), "NOPERM User checker has no permissions to run the "
                         "'monitor' command")

    def test_monitor_streams_commands_with_secrets_redacted(self):
        w = self.admin()
        self.assertEqual(w.call("MONITOR"), "OK")
        other = self.srv.raw_connection(timeout=20)
        self.addCleanup(other.close)
        other.call("AUTH", "checker", "wrong-" + CHECK_PW)
        other.call("AUTH", "checker", CHECK_PW)
        other.call("CANMENU", "1", "2", 'sys:"q"\n')
        other.call("SESSION", "GET", "some-token")
        other.call("HELLO", "3", "AUTH", "checker", CHECK_PW)
        other.call("NOSUCHCOMMAND")  # refused before it runs: not shown
        other.call("PING")
        lines = []
        while not lines or '"PING"' not in lines[-1]:
            lines.append(txt(w.read_reply()))
        for line in lines:
            self.assertRegex(line, MONITOR_LINE)
        words = [line.split("] ", 1)[1] for line in lines]
        self.assertEqual(words, [
            '"AUTH" "(redacted)" "(redacted)"',
            '"AUTH" "(redacted)" "(redacted)"',
            '"CANMENU" "1" "2" "sys:\\"q\\"\\n"',
            '"SESSION" "GET" "(redacted)"',
            '"HELLO" "(redacted)" "(redacted)" "(redacted)" "(redacted)"',
            '"PING"'])
        self.assertNotIn(CHECK_PW, "\n".join(lines))
        self.assertNotIn("some-token", "\n".join(lines))
        # The watcher is flagged O in CLIENT LIST.
        listing = self.admin().call("CLIENT", "LIST").decode()
        self.assertIn("flags=O ", listing)
        self.assertIn("cmd=monitor ", listing)

    def test_a_unix_socket_client_is_named_as_redis_names_it(self):
        tmp = tempfile.mkdtemp(prefix="rbacd-intro-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sock = os.path.join(tmp, "rbacd.sock")
        with RbacdServer(db=None, args=["--unixsocket", sock]) as srv:
            with srv.raw_connection() as w, harness.RawConnection(unix_path=sock) as u:
                self.assertEqual(w.call("MONITOR"), "OK")
                self.assertEqual(u.call("ECHO", "over-unix"), b"over-unix")
                line = txt(w.read_reply())
                self.assertRegex(line, r'^\d+\.\d{6} \[0 unix:%s\] "ECHO" "over-unix"$'
                                 % re.escape(sock))

    def test_a_watcher_may_only_quit_or_reset(self):
        w = self.admin()
        self.assertEqual(w.call("MONITOR"), "OK")
        self.assertEqual(txt(w.call("PING")),
                         "ERR only QUIT and RESET are allowed while in MONITOR mode")
        self.assertEqual(w.call("RESET"), "RESET")
        # No longer watching: the next reply is PONG, not a line about someone else.
        self.srv.raw(b"PING\r\n", until=b"\r\n")
        self.assertEqual(w.call("AUTH", ADMIN_PW), "OK")
        self.assertEqual(w.call("PING"), "PONG")
        self.assertNotIn("flags=O ", self.admin().call("CLIENT", "LIST").decode())
        # QUIT: +OK is the last thing a watcher is sent, however busy the server is.
        busy = self.admin()
        q = self.admin()
        self.assertEqual(q.call("MONITOR"), "OK")
        q.send(encode_command("QUIT"))
        for _ in range(50):
            busy.call("PING")
        self.assertEqual(q.read_until_closed(timeout=10), b"+OK\r\n")
        self.assertTrue(q.closed_by_peer)

    def test_a_watcher_that_does_not_read_is_closed(self):
        a = self.admin()
        a.call("CONFIG", "SET", "client-output-limit", "65536")
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.addCleanup(s.close)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", self.srv.port))
            s.sendall(encode_command("AUTH", ADMIN_PW) + encode_command("MONITOR"))
            wait_for(lambda: "flags=O " in a.call("CLIENT", "LIST").decode(), 10,
                     what="the watcher to be listed")
            big = "x" * 100000
            sender = self.admin()

            def flood_closed_it():
                sender.send(encode_command("ECHO", big) * 20)
                for _ in range(20):
                    sender.read_reply()
                return "flags=O " not in a.call("CLIENT", "LIST").decode()

            wait_for(flood_closed_it, 30, what="the watcher to be closed")
            self.assertIn("MONITOR client closed: unread output over client-output-limit",
                          self.srv.log_text())
            self.assertEqual(sender.call("PING"), "PONG")
        finally:
            a.call("CONFIG", "SET", "client-output-limit", "64mb")


if __name__ == "__main__":
    harness.main()
