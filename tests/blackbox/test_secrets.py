#!/usr/bin/env python3
"""test_secrets.py — where the database password comes from, and that no secret leaks.

Leaks (README "Running it"): a session of AUTH, HELLO AUTH, SESSION LOGIN / CREATE /
GET / TOUCH / CANMENU / MENUS / LIST / REVOKE / REVOKEALL and CONFIG SET requirepass,
right and wrong passwords alike, at loglevel debug (which traces every command) and
slowlog-log-slower-than 0; then the log file, CLIENT LIST (also while a LOGIN is in
flight), SLOWLOG GET, INFO everything and CONFIG GET * are searched for every password,
token and hash used: the passwords, the tokens, their BLAKE2b-256 hashes (hex, base64),
the argon2id hashes of the user lines and the demo users' password hashes, whole and
their digest and salt parts, and what a MONITOR client watching from the start was sent.

Sources (conf/rbacd.conf, README "Running it"): db-password and db-password-file are one
setting, the one given last wins (file lines in order, then the command line);
RBACD_DB_PASSWORD only when neither is given; then the default. Each case runs a real
server against a database account whose password only the winning source holds, so a
server that loads proves the precedence. A file that cannot be read stops the start;
one readable by group or others is a warning in the log.
"""

import base64
import hashlib
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
import unittest

import harness
from harness import RbacdServer, RespError, encode_command, wait_for


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


def token_hash(token):
    return hashlib.blake2b(token.encode(), digest_size=32).digest()


def hash_forms(h):
    """A password hash as it might leak: whole, and its salt and digest parts."""
    forms = {h}
    forms.update(p for p in h.split("$") if len(p) >= 16)          # argon2id salt, digest
    m = re.match(r"^\$2[aby]\$\d\d\$(.{22})(.{31})$", h)            # bcrypt salt, digest
    if m:
        forms.update(m.groups())
    return forms


def digest_forms(d):
    """A binary digest as it might leak: hex (both cases), base64 and base64url."""
    return {d.hex(), d.hex().upper(), base64.b64encode(d).decode().rstrip("="),
            base64.urlsafe_b64encode(d).decode().rstrip("=")}


class SecretsStayHiddenTest(unittest.TestCase):
    """One server, one session of everything that handles a secret, then a search."""

    @classmethod
    def setUpClass(cls):
        cls.db = harness.scratch_db("sechide")
        cls.tmp = tempfile.mkdtemp(prefix="rbacd-sec-")
        try:
            cls.acct = DbAccount(cls.db, "hide")
        except BaseException:
            cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.acct.drop()
        finally:
            cls.db.drop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_no_secret_in_log_client_list_slowlog_info_config(self):
        tag = secrets.token_hex(4)
        requirepass, requirepass2 = "req-pass-" + tag, "req-pass2-" + tag
        boss_pw, checker_pw = "boss-pass-" + tag, "checker-pass-" + tag
        wrong = ["wrong-auth-" + tag, "wrong-user-pw-" + tag, "wrong-hello-" + tag,
                 "wrong-login-" + tag, "unknown-user-pw-" + tag]
        boss_hash, checker_hash = (harness.hash_password(boss_pw),
                                   harness.hash_password(checker_pw))
        pwfile = os.path.join(self.tmp, "db-pw")
        with open(pwfile, "w") as f:
            f.write(self.acct.password + "\n")
        os.chmod(pwfile, 0o600)
        conf = ["requirepass " + requirepass,
                "user boss admin " + boss_hash,
                "user checker check " + checker_hash,
                "loglevel debug", "slowlog-log-slower-than 0", "slowlog-max-len 100000",
                "db-user " + self.acct.user, "db-password-file " + pwfile]
        tokens, seen = [], []
        with RbacdServer(db=self.db, conf_lines=conf, password=requirepass) as srv:
            admin = srv.raw_connection(timeout=30)
            checker = srv.raw_connection(timeout=30)
            watcher = srv.raw_connection(timeout=30)
            try:
                # MONITOR sees every command below.
                self.assertEqual(watcher.call("AUTH", requirepass), "OK")
                self.assertEqual(watcher.call("MONITOR"), "OK")
                # AUTH and HELLO, right and wrong.
                self.assertIsInstance(admin.call("AUTH", wrong[0]), RespError)
                self.assertEqual(admin.call("AUTH", requirepass), "OK")
                self.assertIsInstance(checker.call("AUTH", "checker", wrong[1]), RespError)
                self.assertIsInstance(checker.call("HELLO", "3", "AUTH", "boss", wrong[2]),
                                      RespError)
                self.assertEqual(checker.call("HELLO", "2", "AUTH", "checker", checker_pw)[0],
                                 b"server")
                self.assertEqual(admin.call("AUTH", "boss", boss_pw), "OK")
                # SESSION LOGIN, right and wrong; one still in flight while CLIENT LIST
                # looks (its cmd is session|login, never its arguments).
                self.assertTrue(str(checker.call("SESSION", "LOGIN", "demo", "admin", wrong[3]))
                                .startswith("WRONGPASS"))
                self.assertTrue(str(checker.call("SESSION", "LOGIN", "demo", "nosuchuser",
                                                 wrong[4])).startswith("WRONGPASS"))
                for user, pw in (("admin", "admin123"), ("alice", "alice123")):
                    tok = checker.call("SESSION", "LOGIN", "demo", user, pw, "IP", "10.0.0.9",
                                       "UA", "test-agent")
                    self.assertIsInstance(tok, bytes, tok)
                    tokens.append(tok.decode())
                with srv.raw_connection(timeout=30) as flying:
                    self.assertEqual(flying.call("AUTH", "checker", checker_pw), "OK")
                    flying.send(encode_command("SESSION", "LOGIN", "demo", "bob", "bob123"))
                    seen.append(admin.call("CLIENT", "LIST").decode())
                    tok = flying.read_reply()
                    self.assertIsInstance(tok, bytes, tok)
                    tokens.append(tok.decode())
                    seen.append(admin.call("CLIENT", "LIST").decode())
                # CREATE, GET, TOUCH, CANMENU, MENUS, LIST, REVOKE, REVOKEALL.
                tok = admin.call("SESSION", "CREATE", "1", "2", "TTL", "600")
                self.assertIsInstance(tok, bytes, tok)
                tokens.append(tok.decode())
                unknown = secrets.token_urlsafe(32)
                tokens.append(unknown)
                for t in tokens:
                    checker.call("SESSION", "GET", t)
                    checker.call("SESSION", "TOUCH", t, "TTL", "900")
                    checker.call("SESSION", "CANMENU", t, "511")
                    checker.call("SESSION", "MENUS", t, "CODES")
                self.assertIsInstance(checker.call("SESSION", "LIST", "1", "2"), list)
                self.assertEqual(checker.call("SESSION", "REVOKE", tokens[0]), 1)
                self.assertEqual(checker.call("SESSION", "REVOKE", unknown), 0)
                self.assertIsNone(checker.call("SESSION", "GET", tokens[0]))
                self.assertGreaterEqual(admin.call("SESSION", "REVOKEALL", "1", "2"), 1)
                # requirepass changed at run time, then used.
                self.assertEqual(admin.call("CONFIG", "SET", "requirepass", requirepass2), "OK")
                with srv.raw_connection(timeout=30) as c:
                    self.assertIsInstance(c.call("AUTH", requirepass), RespError)
                    self.assertEqual(c.call("AUTH", requirepass2), "OK")
                # Everything MONITOR was sent, up to a marker.
                marker = "monitor-end-" + tag
                self.assertEqual(admin.call("ECHO", marker), marker.encode())
                watched = []
                while not watched or marker not in watched[-1]:
                    watched.append(str(watcher.read_reply()))
                monitor_text = "\n".join(watched)
                seen.append(monitor_text)
                # What an operator can see.
                seen.append(admin.call("CLIENT", "LIST").decode())
                seen.append(checker.call("CLIENT", "INFO").decode())
                slowlog = admin.call("SLOWLOG", "GET", "-1")
                seen.append(repr(slowlog))
                seen.append(admin.call("INFO", "everything").decode())
                seen.append(repr(admin.call("CONFIG", "GET", "*")))
                seen.append(repr(checker.call("CONFIG", "GET", "*")))
            finally:
                admin.close()
                checker.close()
                watcher.close()
            srv.stop()
            log = srv.log_text() + srv.stderr_text()
        seen.append(log)
        everything = "\n".join(seen)

        # The search is worth something: the session above is in what was searched.
        self.assertIn("cmd=session|login", everything)
        self.assertIn("user=checker: 'SESSION' 'LOGIN' (redacted) (redacted) (redacted)", log)
        self.assertIn("'AUTH' (redacted)", log)
        self.assertIn("'HELLO' (redacted)", log)
        self.assertIn("'CONFIG' 'SET' (redacted) (redacted)", log)
        self.assertIn("'CLIENT' 'LIST'", log)
        self.assertIn("b'(redacted)'", repr(slowlog))
        self.assertIn('"AUTH" "(redacted)" "(redacted)"', monitor_text)
        self.assertIn('"SESSION" "LOGIN" "(redacted)"', monitor_text)
        self.assertIn('"CONFIG" "SET" "(redacted)" "(redacted)"', monitor_text)
        self.assertIn("database password from db-password-file " + pwfile, log)

        hashes = {boss_hash, checker_hash}
        for (h,) in self.db.sql("SELECT password FROM tenant_user WHERE username IN "
                                "('admin', 'alice', 'bob')"):
            hashes.add(h)
        forbidden = {requirepass, requirepass2, boss_pw, checker_pw, self.acct.password,
                     "admin123", "alice123", "bob123"} | set(wrong)
        for h in hashes:
            forbidden |= hash_forms(h)
        for t in tokens:
            forbidden.add(t)
            forbidden |= digest_forms(token_hash(t))
        self.assertEqual(len(tokens), 5)
        for secret in sorted(forbidden):
            self.assertNotIn(secret, everything)


if __name__ == "__main__":
    harness.main()
