#!/usr/bin/env python3
"""test_secrets.py — where the database password comes from, and that no secret leaks.

Sources (conf/rbacd.conf, README "Running it"): db-password and db-password-file are one
setting, the one given last wins (file lines in order, then the command line);
RBACD_DB_PASSWORD only when neither is given; then the default. Each case runs a real
server against a database account whose password only the winning source holds, so a
server that loads proves the precedence. A file that cannot be read stops the start;
one readable by group or others is a warning in the log.
"""

import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import unittest

import harness
from harness import RbacdServer, wait_for


def run_rbacd(*args, env=None):
    p = subprocess.run([harness.rbacd_bin()] + list(args), capture_output=True, text=True,
                       timeout=60, env=harness.sanitizer_env(env), stdin=subprocess.DEVNULL)
    harness.check_sanitizer_output(p.stdout + p.stderr, "rbacd " + " ".join(args))
    return p


class DbAccount:
    """A MariaDB account of its own on the scratch database, with a random password."""

    def __init__(self, db, tag):
        self.db = db
        self.user = "sec_%s_%d" % (tag, os.getpid())
        self.password = "db-pw-" + secrets.token_hex(12)
        db.sql("CREATE USER IF NOT EXISTS %s@'localhost' IDENTIFIED BY %s",
               (self.user, self.password))
        db.sql("ALTER USER %s@'localhost' IDENTIFIED BY %s", (self.user, self.password))
        db.sql("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@'localhost'" % db.name, (self.user,))

    def drop(self):
        self.db.sql("DROP USER IF EXISTS %s@'localhost'", (self.user,))


class PasswordSourcesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.db = harness.scratch_db("secsrc")
        try:
            cls.acct = DbAccount(cls.db, "src")
        except BaseException:
            cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.acct.drop()
        finally:
            cls.db.drop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rbacd-sec-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def secret_file(self, content, mode=0o600, name=None):
        path = os.path.join(self.tmp, name or "pw-%s" % secrets.token_hex(4))
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def server(self, conf_lines=(), args=(), env_pw=None, **kw):
        env = None
        if env_pw is not None:
            env = dict(os.environ)
            env["RBACD_DB_PASSWORD"] = env_pw
        return RbacdServer(db=self.db, conf_lines=["db-user " + self.acct.user] + list(conf_lines),
                           args=args, env=env, **kw)

    def assert_loads(self, srv, source):
        """srv started and loaded (so it logged in with the right password), says where
        the password came from, and shows it nowhere."""
        r = srv.client()
        self.assertEqual(r.info("persistence")["loading"], 0)
        self.assertEqual(r.config_get("db-password"), {"db-password": "********"})
        log = srv.log_text()
        self.assertIn("database password from " + source, log)
        self.assertNotIn(self.acct.password, log + srv.stderr_text())
        everything = r.config_get("*")
        self.assertNotIn(self.acct.password, repr(everything))
        return r

    def test_password_from_file(self):
        path = self.secret_file(self.acct.password + "\n")
        with self.server(["db-password-file " + path]) as srv:
            r = self.assert_loads(srv, "db-password-file " + path)
            self.assertEqual(r.config_get("db-password-file"), {"db-password-file": path})
            self.assertNotIn("readable by group or others", srv.log_text())

    def test_password_from_environment(self):
        with self.server(env_pw=self.acct.password) as srv:
            self.assert_loads(srv, "environment variable RBACD_DB_PASSWORD")
            self.assertEqual(srv.client().config_get("db-password-file"),
                             {"db-password-file": ""})

    def test_either_key_beats_the_environment(self):
        path = self.secret_file(self.acct.password)  # no newline: also fine
        with self.server(["db-password-file " + path], env_pw="wrong-" + self.acct.password) as s:
            self.assert_loads(s, "db-password-file " + path)
        with self.server(["db-password " + self.acct.password], env_pw="wrong") as s:
            self.assert_loads(s, "db-password")

    def test_the_one_given_last_wins(self):
        right = self.secret_file(self.acct.password + "\n")
        wrong = self.secret_file("wrong-password\n")
        # In one file: line order.
        with self.server(["db-password wrong-password", "db-password-file " + right]) as s:
            self.assert_loads(s, "db-password-file " + right)
        # The command line comes after the file, either way round.
        with self.server(["db-password wrong-password"], ["--db-password-file", right]) as s:
            self.assert_loads(s, "db-password-file " + right)
        with self.server(["db-password-file " + wrong], ["--db-password", self.acct.password]) as s:
            self.assert_loads(s, "db-password")
            self.assertEqual(s.client().config_get("db-password-file"), {"db-password-file": ""})

    def test_the_losing_source_is_not_used(self):
        # The other way round from above: the wrong password wins, so the server cannot
        # load, and says so without showing either password.
        right = self.secret_file(self.acct.password + "\n")
        with self.server(["db-password-file " + right], ["--db-password", "wrong-password"],
                         wait_loaded=False) as srv:
            r = srv.client()
            wait_for(lambda: "Access denied" in r.info("persistence")["last_load_error"], 10,
                     what="the load refused")
            self.assertEqual(r.info("persistence")["loading"], 1)
            text = srv.log_text() + repr(r.info("everything"))
            self.assertNotIn(self.acct.password, text)
            self.assertNotIn("wrong-password", text)

    def test_group_readable_file_is_a_warning(self):
        path = self.secret_file(self.acct.password + "\n", mode=0o640)
        with self.server(["db-password-file " + path]) as srv:
            self.assert_loads(srv, "db-password-file " + path)
            self.assertIn("# db-password-file '%s' is readable by group or others (mode 640): "
                          "chmod 600 it" % path, srv.log_text())
        p = run_rbacd("--check-config", "--db-password-file", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("warning: db-password-file '%s' is readable by group or others" % path,
                      p.stderr)

    def test_unreadable_file_stops_the_start(self):
        conf = os.path.join(self.tmp, "rbacd.conf")
        missing = os.path.join(self.tmp, "no-such-secret")
        with open(conf, "w") as f:
            f.write("port 0\nunixsocket %s/s.sock\ndb-password-file %s\n" % (self.tmp, missing))
        for mode in (["--check-config"], []):
            p = run_rbacd(*mode, conf)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(p.stderr.strip(), "rbacd: %s:3: db-password-file: cannot open '%s': "
                             "No such file or directory" % (conf, missing))
        p = run_rbacd("--check-config", "--db-password-file", self.tmp)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot read '%s': Is a directory" % self.tmp, p.stderr)
        # Too long: refused without quoting it.
        path = self.secret_file("x" * 300)
        p = run_rbacd("--check-config", "--db-password-file", path)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("is longer than 255 bytes", p.stderr)
        self.assertNotIn("xxxx", p.stderr)
        env = dict(os.environ, RBACD_DB_PASSWORD="y" * 300)
        p = run_rbacd("--check-config", env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr.strip(),
                         "rbacd: environment: RBACD_DB_PASSWORD: value is longer than 255 bytes")

    def test_file_mode_is_not_changed(self):
        path = self.secret_file("pw\n", mode=0o400)
        p = run_rbacd("--check-config", "--db-password-file", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o400)
        self.assertEqual(p.stderr, "")


if __name__ == "__main__":
    harness.main()
