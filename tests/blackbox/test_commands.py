#!/usr/bin/env python3
"""test_commands.py — the command contract as data: what command.c checks before any
handler runs (word bounds, profile, then LOADING), and the regressions found while the
command rows were made uniform. Each test is named after what it pins.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import RbacdServer, RespError  # noqa: E402


class CommandsTest(harness.ServerTestCase):

    def call(self, *args):
        """One request on a raw RESP2 connection: the reply, an error as RespError."""
        with self.srv.raw_connection(timeout=10) as c:
            return c.call(*args)

    def assert_error(self, reply, text):
        self.assertIsInstance(reply, RespError, reply)
        self.assertEqual(str(reply), text)

    # ---- word bounds are the row's, checked before the handler ----

    def test_reload_with_two_arguments_is_a_wrong_arity_error(self):
        # It was "ERR syntax error", from a count check inside the handler.
        self.assert_error(self.call("RELOAD", "1", "2"),
                          "ERR wrong number of arguments for 'reload' command")

    def test_upper_bounds_of_rows_with_optional_arguments(self):
        for cmd, name in ((("MENUS", "1", "1", "CODES", "x"), "menus"),
                          (("PING", "a", "b"), "ping"),
                          (("SLOWLOG", "GET", "1", "2"), "slowlog|get"),
                          (("SESSION", "MENUS", "t", "CODES", "x"), "session|menus"),
                          (("SESSION", "TOUCH", "t", "TTL", "5", "x"), "session|touch")):
            with self.subTest(cmd=" ".join(cmd)):
                self.assert_error(self.call(*cmd),
                                  "ERR wrong number of arguments for '%s' command" % name)


    # ---- WHY names the argument it was given ----

    def test_why_quotes_a_menu_code_holding_a_nul_whole(self):
        # The reason line cut the code at the NUL byte, naming "sys:user:add", a menu
        # that exists, as unknown.
        reply = self.call("WHY", "1", "1", b"sys:user:add\0x")
        self.assertEqual(reply[0], b"deny")
        self.assertIn(b"unknown menu 'sys:user:add\\x00x' (deleted or never existed)", reply)
        long_code = b"no:such:" + b"x" * 300 + b"\n\xff'"
        reply = self.call("WHY", "1", "1", long_code)
        self.assertIn(b"unknown menu 'no:such:" + b"x" * 300 + b"\\n\\xff\\'' (deleted or "
                      b"never existed)", reply)

    # ---- containers: subcommands are rows, HELP is generated from them ----

    def test_every_container_answers_help(self):
        for name in ("CLIENT", "CONFIG", "SLOWLOG", "COMMAND", "SESSION", "ROLE", "USER",
                     "TENANT"):
            with self.subTest(container=name):
                lines = self.call(name, "HELP")
                self.assertIsInstance(lines, list, lines)
                self.assertTrue(all(isinstance(x, str) for x in lines), lines)
                self.assertEqual(lines[0], "%s <subcommand> [<arg> [value] [opt] ...]. "
                                 "Subcommands are:" % name)
                self.assertEqual(lines[-2:], ["HELP", "    Print this help."])
                # A line per subcommand, then its summary indented.
                self.assertEqual(len(lines) % 2, 1, lines)
                for i in range(2, len(lines), 2):
                    self.assertTrue(lines[i].startswith("    "), lines[i])
                    self.assertFalse(lines[i - 1].startswith(" "), lines[i - 1])
                self.assertEqual(self.call(name.lower(), "help"), lines)

    def test_help_lists_every_subcommand_with_its_arguments(self):
        lines = self.call("SESSION", "HELP")
        self.assertIn("LOGIN <tenant_code> <username> <password> [TTL <s>] [IP <addr>] "
                      "[UA <agent>]", lines)
        self.assertIn("MENUS <token> [CODES|TREE]", lines)
        self.assertIn("GRANT <tenant> <role> <menu> [<menu> ...]", self.call("ROLE", "HELP"))
        self.assertIn("GET [<count>]", self.call("SLOWLOG", "HELP"))
        docs = self.call("COMMAND", "DOCS", "client")
        subs = dict(zip(docs[1][::2], docs[1][1::2]))[b"subcommands"]
        names = {k.decode().split("|")[1].upper() for k in subs[::2]} - {"HELP"}
        listed = {ln.split(" ")[0] for ln in self.call("CLIENT", "HELP")[1:-2:2]}
        self.assertEqual(listed, names)

    def test_command_help_exists(self):
        # It was "unknown subcommand 'HELP'. Try COMMAND HELP.".
        lines = self.call("COMMAND", "HELP")
        self.assertIsInstance(lines, list, lines)
        self.assertEqual(lines[1:3], ["(no subcommand)",
                                      "    Returns detailed information about all commands."])
        for sub in ("COUNT", "DOCS [<command-name> ...]", "INFO [<command-name> ...]"):
            self.assertIn(sub, lines)

    def test_command_count_with_an_argument_is_a_wrong_arity_error(self):
        # It was "unknown subcommand": COMMAND parsed its own subcommands.
        self.assert_error(self.call("COMMAND", "COUNT", "extra"),
                          "ERR wrong number of arguments for 'command|count' command")
        self.assert_error(self.call("COMMAND", "HELP", "extra"),
                          "ERR wrong number of arguments for 'command|help' command")

    def test_bare_command_unchanged_by_its_subcommand_rows(self):
        table = self.call("COMMAND")
        self.assertEqual(len(table), self.call("COMMAND", "COUNT"))
        by_name = {e[0].decode(): e for e in table}
        subs = {s[0].decode(): s[1] for s in by_name["command"][9]}
        self.assertEqual(subs["command|count"], 2)
        self.assertEqual(subs["command|info"], -2)
        self.assertEqual(by_name["command"][1], -1)

    def test_command_list_filterby_pattern_filters_by_the_glob(self):
        # It was ignored: COMMAND LIST FILTERBY ... listed every command.
        names = self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "can*")
        self.assertEqual(sorted(names), [b"canmenu", b"canstore"])
        self.assertEqual(sorted(self.call("COMMAND", "LIST", "FILTERBY", "pattern", "CAN*")),
                         [b"canmenu", b"canstore"])
        # As Redis: subcommands are listed by their full name.
        helps = self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "*|help")
        self.assertEqual(sorted(helps), sorted(b"%s|help" % n for n in (
            b"client", b"config", b"slowlog", b"command", b"session", b"role", b"user",
            b"tenant")))
        self.assertEqual(self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuch*"), [])
        everything = set(self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "*"))
        self.assertTrue(set(self.call("COMMAND", "LIST")) <= everything)
        self.assertIn(b"session|login", everything)

    def test_command_list_filterby_aclcat_and_module(self):
        admin = set(self.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"))
        for n in (b"shutdown", b"reload", b"role", b"user|enable", b"client|kill",
                  b"config|set", b"session|create"):
            self.assertIn(n, admin)
        self.assertNotIn(b"ping", admin)
        self.assertNotIn(b"session|get", admin)
        check = set(self.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "CHECK"))
        self.assertTrue({b"canmenu", b"menus", b"why", b"dbsize", b"waitrev"} <= check, check)
        session = set(self.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "session"))
        self.assertIn(b"session|login", session)
        self.assertNotIn(b"session|create", session)
        connection = set(self.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"))
        self.assertTrue({b"ping", b"hello", b"client|id", b"command|list"} <= connection)
        self.assertEqual(self.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcat"), [])
        self.assertEqual(self.call("COMMAND", "LIST", "FILTERBY", "MODULE", "anything"), [])

    def test_command_list_anything_but_filterby_is_a_syntax_error(self):
        for args in (("x",), ("FILTERBY",), ("FILTERBY", "PATTERN"), ("FILTERBY", "NAME", "x"),
                     ("FILTER", "PATTERN", "x")):
            with self.subTest(args=args):
                self.assert_error(self.call("COMMAND", "LIST", *args), "ERR syntax error")
        self.assert_error(self.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "a", "b"),
                          "ERR wrong number of arguments for 'command|list' command")

    def test_unknown_subcommand_always_points_at_help(self):
        for name in ("CLIENT", "CONFIG", "SLOWLOG", "COMMAND", "SESSION", "ROLE", "USER",
                     "TENANT"):
            with self.subTest(container=name):
                self.assert_error(self.call(name, "frob"),
                                  "ERR unknown subcommand 'frob'. Try %s HELP." % name)


class ProfileGateTest(unittest.TestCase):
    """Under profile mpbackend, without a database (the load fails and is retried, so
    data commands would answer LOADING): a bitenant-only command names the profile it
    needs, and that check comes before LOADING."""

    def test_bitenant_commands_under_mpbackend_name_their_profile_before_loading(self):
        with RbacdServer(db=None, wait_loaded=False, conf_lines=["profile mpbackend"]) as srv:
            with srv.raw_connection(timeout=10) as c:
                self.assertIn(b"loading:1", c.call("INFO", "persistence"))
                for cmd, name in ((("CANMENU", "1", "1", "1"), "CANMENU"),
                                  (("MENUS", "1", "1"), "MENUS"),
                                  (("ROLES", "1", "1"), "ROLES"),
                                  (("CANSTORE", "1", "1", "1"), "CANSTORE"),
                                  (("STORES", "1", "1"), "STORES"),
                                  (("SESSION", "CANMENU", "x", "1"), "SESSION CANMENU"),
                                  (("SESSION", "MENUS", "x"), "SESSION MENUS"),
                                  (("ROLE", "GRANT", "1", "2", "511"), "ROLE GRANT"),
                                  (("USER", "ENABLE", "1", "2"), "USER"),
                                  (("TENANT", "DISABLE", "1"), "TENANT")):
                    with self.subTest(cmd=" ".join(cmd)):
                        reply = c.call(*cmd)
                        self.assertIsInstance(reply, RespError, reply)
                        self.assertEqual(str(reply), "ERR %s needs profile bitenant" % name)
                # Without passwords in its schema, LOGIN says so, loaded or not.
                reply = c.call("SESSION", "LOGIN", "demo", "alice", "pw")
                self.assertTrue(str(reply).startswith("ERR SESSION LOGIN needs profile bitenant:"),
                                str(reply))
                # Commands of both profiles, and the profile's own (WHY is its own row
                # here: domain user permission), get as far as LOADING.
                for cmd in (("DBSIZE",), ("REVISION",), ("WAITREV", "1", "1"), ("RELOAD",),
                            ("WHY", "admin", "1", "p"), ("SESSION", "GET", "x"),
                            ("CAN", "admin", "1", "p"), ("BIND", "admin", "1", "2")):
                    with self.subTest(cmd=" ".join(cmd)):
                        reply = c.call(*cmd)
                        self.assertIsInstance(reply, RespError, reply)
                        self.assertTrue(str(reply).startswith("LOADING "), str(reply))
                # Arity still comes first.
                reply = c.call("CANMENU", "1")
                self.assertEqual(str(reply),
                                 "ERR wrong number of arguments for 'canmenu' command")
                self.assertEqual(c.call("PING"), "PONG")


class MpbackendGateTest(unittest.TestCase):
    """Under profile bitenant, the mpbackend commands name the profile they need, before
    LOADING, and the WHY row is the bi-tenant one."""

    def test_mpbackend_commands_under_bitenant_name_their_profile(self):
        with RbacdServer(db=None, wait_loaded=False) as srv:
            with srv.raw_connection(timeout=10) as c:
                for cmd, name in ((("CAN", "admin", "1", "p"), "CAN"),
                                  (("PERMS", "admin", "1"), "PERMS"),
                                  (("DOMAINS", "1"), "DOMAINS"),
                                  (("USERBYLOGIN", "email", "a@b"), "USERBYLOGIN"),
                                  (("APPFLAGS", "com.example"), "APPFLAGS"),
                                  (("BIND", "admin", "1", "2"), "BIND"),
                                  (("UNBIND", "admin", "1", "2"), "UNBIND"),
                                  (("SESSION", "CAN", "t", "admin", "p"), "SESSION CAN")):
                    with self.subTest(cmd=" ".join(cmd)):
                        reply = c.call(*cmd)
                        self.assertIsInstance(reply, RespError, reply)
                        self.assertEqual(str(reply), "ERR %s needs profile mpbackend" % name)
                reply = c.call("WHY", "1", "1", "1")
                self.assertTrue(str(reply).startswith("LOADING "), str(reply))
                names = c.call("COMMAND", "LIST")
                self.assertIn(b"canmenu", names)
                self.assertNotIn(b"can", names)


if __name__ == "__main__":
    harness.main()
