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
blocks (```sh, ```python, ...) are not run. Examples not yet in this form are converted
over time; every ```console block is checked.
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


def transcripts(text):
    """[(line number, command words, expected output lines)] of every ```console block."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
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
            cls.examples = transcripts(f.read())
        cls.db = harness.scratch_db("readme")
        try:
            cls.srv = RbacdServer(db=cls.db).start()
        except BaseException:
            cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.db.drop()

    def test_the_convention_is_parsed(self):
        self.assertEqual(transcripts("x\n```console\n$ redis-cli -p 6380 PING\nPONG\n"
                                     "$ redis-cli ECHO 'a b'\na b\n```\n```sh\n$ no\n```\n"),
                         [(3, ["redis-cli", "-p", "6380", "PING"], ["PONG"]),
                          (5, ["redis-cli", "ECHO", "a b"], ["a b"])])
        self.assertTrue(matches(["a", ANY, "d"], ["a", "b", "c", "d"]))
        self.assertTrue(matches(["a", ANY], ["a"]))
        self.assertFalse(matches(["a", "b"], ["a", "b", "c"]))
        self.assertFalse(matches(["a", ANY, "d"], ["a", "b"]))

    def test_every_console_example_prints_what_the_readme_says(self):
        self.assertGreaterEqual(len(self.examples), 5, "no ```console examples in README.md")
        for lineno, words, expected in self.examples:
            with self.subTest(line=lineno, command=" ".join(words)):
                self.assertEqual(words[0], "redis-cli", "only redis-cli examples are run")
                args = [str(self.srv.port) if w == DEMO_PORT and words[i - 1] == "-p" else w
                        for i, w in enumerate(words)]
                p = subprocess.run(args[:1] + ["--no-raw"] + args[1:], capture_output=True,
                                   text=True, timeout=TOOL_TIMEOUT)
                got = (p.stdout + p.stderr).replace("\r", "").rstrip("\n").split("\n")
                self.assertTrue(matches(expected, got),
                                "README.md line %d: %s\nexpected:\n%s\ngot:\n%s" %
                                (lineno, " ".join(words), "\n".join(expected), "\n".join(got)))


if __name__ == "__main__":
    harness.main()
