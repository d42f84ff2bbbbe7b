#!/usr/bin/env python3
"""test_readme.py — the README's redis-cli examples, run against the demo data
(schema/demo, what scripts/demo.sh loads), print what the README says they print.

The convention, for README.md authors: a fenced block opened with ```console is a
transcript. A line starting with "$ redis-cli " is a command; the lines after it, up to
the next "$ " line or the end of the block, are its output exactly as redis-cli prints
it on a terminal (the test runs it with --no-raw, which is what a terminal gets). A line
"..." alone stands for any number of lines (a value that changes from run to run, such
as INFO's master_replid). "-p 6380" (the demo's port) is replaced with the test
server's port; the command words are split as a POSIX shell splits them. Other fenced
blocks (```sh, ```python, ...) are not run. A block opened with ```console mpbackend
runs against a server of profile mpbackend on the mpbackend demo data; every other
```console block against profile bitenant on the bitenant demo.

The README must also show every command: each command the server lists (COMMAND LIST,
both profiles) appears as the first word after "redis-cli -p 6380" in some example,
either in a ```console block or in running text ("`redis-cli -p 6380 MONITOR`" for the
commands that hold the connection). And its "Configuration reference" table names every
key CONFIG GET * shows, as conf/rbacd.conf does.
"""

import os
import re
import shlex
import subprocess
import unittest

import harness
from harness import RbacdServer

README = os.path.join(harness.source_dir(), "README.md")
DEMO_PORT = "6380"
TOOL_TIMEOUT = 60
ANY = "..."


def transcripts(text, profile="bitenant"):
    """[(line number, command words, expected output lines)] of every ```console block of
    the profile."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        info = lines[i].strip().split()
        if not info or info[0] != "```console" or \
                (info[1] if len(info) > 1 else "bitenant") != profile:
            i += 1
            continue
        i += 1
        current = None
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            if line.startswith("$ "):
                current = (i + 1, shlex.split(line[2:]), [])
                out.append(current)
            elif current is not None:
                current[2].append(line)
            i += 1
        i += 1
    return out


def matches(expected, got):
    """Whether got (lines) is expected (lines, "..." matching any run of lines)."""
    pattern = "".join("(?:.*\n)*?" if e == ANY else re.escape(e) + "\n" for e in expected)
    return re.fullmatch(pattern, "".join(g + "\n" for g in got)) is not None


class ReadmeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(README) as f:
            cls.text = f.read()
        cls.examples = transcripts(cls.text)
        cls.mp_examples = transcripts(cls.text, "mpbackend")
        cls.dbs, cls.servers = [], {}
        try:
            for profile in ("bitenant", "mpbackend"):
                db = harness.scratch_db("readme", profile=profile)
                cls.dbs.append(db)
                cls.servers[profile] = RbacdServer(
                    db=db, conf_lines=["profile " + profile]).start()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.srv = cls.servers["bitenant"]

    @classmethod
    def tearDownClass(cls):
        try:
            for srv in cls.servers.values():
                srv.stop()
        finally:
            for db in cls.dbs:
                db.drop()

    def test_the_convention_is_parsed(self):
        self.assertEqual(transcripts("x\n```console\n$ redis-cli -p 6380 PING\nPONG\n"
                                     "$ redis-cli ECHO 'a b'\na b\n```\n```sh\n$ no\n```\n"),
                         [(3, ["redis-cli", "-p", "6380", "PING"], ["PONG"]),
                          (5, ["redis-cli", "ECHO", "a b"], ["a b"])])
        self.assertTrue(matches(["a", ANY, "d"], ["a", "b", "c", "d"]))
        self.assertTrue(matches(["a", ANY], ["a"]))
        self.assertFalse(matches(["a", "b"], ["a", "b", "c"]))
        self.assertFalse(matches(["a", ANY, "d"], ["a", "b"]))

    def run_examples(self, srv, examples):
        for lineno, words, expected in examples:
            with self.subTest(line=lineno, command=" ".join(words)):
                self.assertEqual(words[0], "redis-cli", "only redis-cli examples are run")
                args = [str(srv.port) if w == DEMO_PORT and words[i - 1] == "-p" else w
                        for i, w in enumerate(words)]
                p = subprocess.run(args[:1] + ["--no-raw"] + args[1:], capture_output=True,
                                   text=True, timeout=TOOL_TIMEOUT)
                got = (p.stdout + p.stderr).replace("\r", "").rstrip("\n").split("\n")
                self.assertTrue(matches(expected, got),
                                "README.md line %d: %s\nexpected:\n%s\ngot:\n%s" %
                                (lineno, " ".join(words), "\n".join(expected), "\n".join(got)))

    def test_every_console_example_prints_what_the_readme_says(self):
        self.assertGreaterEqual(len(self.examples), 5, "no ```console examples in README.md")
        self.run_examples(self.srv, self.examples)

    def test_every_mpbackend_example_prints_what_the_readme_says(self):
        self.assertGreaterEqual(len(self.mp_examples), 5, "no mpbackend examples in README.md")
        self.run_examples(self.servers["mpbackend"], self.mp_examples)

    def test_every_command_has_an_example(self):
        shown = {m.upper() for m in re.findall(r"redis-cli -p 6380 ([A-Za-z]+)", self.text)}
        listed = set()
        for srv in self.servers.values():
            with srv.raw_connection() as conn:
                listed |= {c.decode().upper() for c in conn.call("COMMAND", "LIST")}
        self.assertGreater(len(listed), 25, listed)
        self.assertEqual(sorted(listed - shown), [], "commands with no redis-cli example")

    def test_every_config_key_is_in_the_reference(self):
        start = self.text.index("## Configuration reference")
        section = self.text[start:self.text.index("\n## ", start + 1)]
        in_table = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M))
        with open(os.path.join(harness.source_dir(), "conf", "rbacd.conf")) as f:
            conf_text = f.read()
        r = self.srv.admin_client()
        reply = r.execute_command("CONFIG", "GET", "*")
        keys = {(k.decode() if isinstance(k, bytes) else k) for k in reply[0::2]}
        keys -= {"save", "appendonly", "databases"}  # answered for Redis tools; no settings
        self.assertGreater(len(keys), 30, keys)
        self.assertEqual(sorted(keys - in_table), [], "keys missing from the README's table")
        self.assertEqual(sorted(in_table - keys), [], "README table keys the server lacks")
        missing = [k for k in keys if not re.search(r"^#? ?%s\b" % re.escape(k), conf_text, re.M)]
        self.assertEqual(sorted(missing), [], "keys missing from conf/rbacd.conf")

if __name__ == "__main__":
    harness.main()
