#!/usr/bin/env python3
"""test_compat_redis_cli.py — the stock Redis 7 tools the way a person uses them
(README "Clients"), authenticated as ACL users:

* redis-cli interactive (RESP2, and RESP3 with -3), on a real terminal: a detached tmux
  session of its own (private tmux socket) runs `redis-cli`; keys are typed with
  send-keys and the screen is read with capture-pane. The permission and session commands answer as they should, the
  argument hint redis-cli draws from COMMAND DOCS appears while a command is typed, and
  nothing on the screen is an error the tool met (only the one the test provokes).
* redis-cli --stat: a few rows with real numbers (keys = DBSIZE, clients, the request
  count rising while a client works), then the test ends it.
* redis-benchmark with rbacd's own command (CANMENU, no -t), RESP2 and RESP3: every
  request completed, a throughput summary, no error.

test_redis_tools.sh covers the one-shot and piped forms and the PING benchmarks.
"""

import os
import re
import shutil
import subprocess
import threading
import unittest

import harness
from harness import RbacdServer, wait_for

ADMIN = ("ops", "ops-pw-cli")
CHECKER = ("app", "app-pw-cli")
REQUIREPASS = "default-pw-cli"
TOOL_TIMEOUT = 60  # seconds any one tool may run
SCREEN_TIMEOUT = 15  # seconds to wait for the terminal to show something


class ToolsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for tool in ("redis-cli", "redis-benchmark", "tmux", "stdbuf"):
            if not shutil.which(tool):
                raise RuntimeError("%s is missing: run scripts/deps.sh" % tool)
        cls.db = harness.scratch_db("compatcli")
        conf = ["requirepass " + REQUIREPASS,
                "user %s admin %s" % (ADMIN[0], harness.hash_password(ADMIN[1])),
                "user %s check %s" % (CHECKER[0], harness.hash_password(CHECKER[1]))]
        try:
            cls.srv = RbacdServer(db=cls.db, conf_lines=conf, password=REQUIREPASS).start()
        except BaseException:
            cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.db.drop()

    def tool_env(self, user):
        # REDISCLI_AUTH instead of -a: no warning about passwords on the command line.
        env = dict(os.environ, REDISCLI_AUTH=user[1])
        env.pop("TMUX", None)
        return env

    def base_args(self, user):
        return ["-h", "127.0.0.1", "-p", str(self.srv.port), "--user", user[0]]

    # ------------------------------------------------------- interactive ----

    def test_redis_cli_interactive_on_a_terminal_resp2(self):
        self.interactive([])

    def test_redis_cli_interactive_on_a_terminal_resp3(self):
        self.interactive(["-3"])

    def interactive(self, proto):
        sock = "rbacd-compat-%d-%s" % (os.getpid(), len(proto))
        tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
        cmd = " ".join(["redis-cli"] + proto + self.base_args(ADMIN))
        subprocess.run(tmux + ["new-session", "-d", "-s", "cli", "-x", "160", "-y", "50", cmd],
                       check=True, env=self.tool_env(ADMIN), timeout=TOOL_TIMEOUT)
        self.addCleanup(subprocess.run, tmux + ["kill-server"], capture_output=True,
                        timeout=TOOL_TIMEOUT)
        prompt = "127.0.0.1:%d>" % self.srv.port

        def screen():
            return subprocess.run(tmux + ["capture-pane", "-p", "-t", "cli"], check=True,
                                  capture_output=True, text=True, timeout=TOOL_TIMEOUT).stdout

        def keys(*k):
            subprocess.run(tmux + ["send-keys", "-t", "cli"] + list(k), check=True,
                           timeout=TOOL_TIMEOUT)

        def shows(pattern):
            found = []

            def seen():
                found[:] = [screen()]
                return re.search(pattern, found[0], re.M) is not None

            try:
                wait_for(seen, SCREEN_TIMEOUT, what="/%s/ on the screen" % pattern)
            except AssertionError:
                self.fail("the terminal never showed /%s/:\n%s" % (pattern, found[0]))
            return found[0]

        shows("^" + re.escape(prompt))
        keys("-l", "CLIENT INFO")
        keys("Enter")
        shows(r"resp=%d " % (3 if proto else 2))
        keys("-l", "CANMENU 1 2 110")
        keys("Enter")
        shows(r"^\(integer\) 1$")
        # Typing a command shows its arguments as a hint (from COMMAND DOCS).
        keys("-l", "CANMENU ")
        shows(re.escape(prompt) + r" CANMENU tenant user menu\s*$")
        keys("-l", "1 2 999999")
        keys("Enter")
        shows(r"^\(integer\) 0$")
        keys("-l", "MENUS 1 2")
        keys("Enter")
        shows(r"^ 1\) \(integer\) 110$")
        keys("-l", "SESSION CREATE 1 2")
        keys("Enter")
        token = re.findall(r'^"([A-Za-z0-9_-]{43})"$', shows(r'^"[A-Za-z0-9_-]{43}"$'), re.M)[-1]
        keys("-l", "SESSION CANMENU %s 110" % token)
        keys("Enter")
        shows(r"SESSION CANMENU %s 110\n\(integer\) 1$" % re.escape(token))
        keys("-l", "SESSION REVOKE %s" % token)
        keys("Enter")
        shows(r"SESSION REVOKE %s\n\(integer\) 1$" % re.escape(token))
        keys("-l", "CANMENU 1 x 110")
        keys("Enter")
        final = shows(r"^\(error\) ERR invalid id 'x'")
        errors = [line for line in final.splitlines() if re.search(r"(?i)error|unknown", line)]
        self.assertEqual(len(errors), 1, final)  # the one provoked, nothing else
        keys("-l", "QUIT")
        keys("Enter")
        wait_for(lambda: subprocess.run(tmux + ["has-session", "-t", "cli"],
                                        capture_output=True).returncode != 0,
                 SCREEN_TIMEOUT, what="redis-cli to exit after QUIT")

    # --------------------------------------------------------------- --stat ----

    def test_redis_cli_stat_shows_real_numbers(self):
        r = self.srv.admin_client()
        users = r.dbsize()
        stop = threading.Event()

        def work():
            c = self.srv.client(username=CHECKER[0], password=CHECKER[1])
            while not stop.is_set():
                c.execute_command("CANMENU", 1, 2, 110)

        worker = threading.Thread(target=work)
        proc = subprocess.Popen(["stdbuf", "-oL", "redis-cli"] + self.base_args(CHECKER) +
                                ["--stat", "-i", "0.2"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=self.tool_env(CHECKER))
        worker.start()
        rows = []
        try:
            row = re.compile(r"^(\d+)\s+([\d.]+[BKMGT])\s+(\d+)\s+(\d+)\s+(\d+) \(\+(\d+)\)\s+(\d+)")
            timer = threading.Timer(TOOL_TIMEOUT, proc.kill)
            timer.start()
            out = []
            for line in proc.stdout:
                out.append(line)
                m = row.match(line)
                if m:
                    rows.append(m)
                if len(rows) >= 4:
                    break
            timer.cancel()
        finally:
            stop.set()
            worker.join()
            proc.kill()
            proc.wait()
            proc.stdout.close()
        self.assertGreaterEqual(len(rows), 4, "".join(out))
        self.assertIn("keys", "".join(out[:3]))
        for m in rows:
            self.assertEqual(int(m.group(1)), users)  # keys = DBSIZE (users)
            self.assertGreaterEqual(int(m.group(3)), 2)  # redis-cli and the worker
        self.assertGreater(int(rows[-1].group(5)), int(rows[0].group(5)))
        self.assertTrue(any(int(m.group(6)) > 0 for m in rows[1:]), "".join(out))
        self.assertNotRegex("".join(out), r"(?i)error")

    # ------------------------------------------------------ redis-benchmark ----

    def test_redis_benchmark_with_canmenu(self):
        for proto in ([], ["-3"]):
            with self.subTest(proto=proto or "RESP2"):
                p = subprocess.run(["redis-benchmark"] + self.base_args(CHECKER) +
                                   ["-a", CHECKER[1]] + proto +
                                   ["-n", "1000", "-c", "10", "CANMENU", "1", "2", "110"],
                                   capture_output=True, text=True, timeout=TOOL_TIMEOUT)
                out = (p.stdout + p.stderr).replace("\r", "\n")
                self.assertEqual(p.returncode, 0, out)
                self.assertRegex(out, r"(?m)^====== CANMENU 1 2 110 ======$")
                self.assertRegex(out, r"(?m)^\s+1000 requests completed in [\d.]+ seconds$")
                m = re.search(r"(?m)^\s+throughput summary: ([\d.]+) requests per second$", out)
                self.assertIsNotNone(m, out)
                self.assertGreater(float(m.group(1)), 0)
                self.assertNotRegex(out, r"(?i)error")
        calls = self.srv.admin_client().info("commandstats")["cmdstat_canmenu"]
        self.assertGreaterEqual(calls["calls"], 2000)
        self.assertEqual(calls["failed_calls"], 0)


if __name__ == "__main__":
    harness.main()
