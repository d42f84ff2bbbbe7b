"""TLS to MariaDB (db-tls, db-tls-ca, db-tls-verify) against a private MariaDB of this
test that has a certificate (scripts/db.sh start ... --ssl-cert --ssl-key --ssl-ca)
and requires TLS of rbacd's account (REQUIRE SSL), with certificates the openssl
command makes at test time (harness.make_certs). The server certificate MariaDB
presents is a copy that a test may swap for another and reload (FLUSH SSL).

Its data directory sits beside the test MariaDB's (build tree), on the port in
RBACD_TEST_DB_TLS_PORT (CTest sets the test MariaDB's port + 1; a free port when it is
not set); the server is stopped at the end (the directory is kept, so the next run skips
mariadb-install-db)."""

import os
import shutil
import subprocess
import tempfile
import unittest

import redis

import harness

DB_NAME = "rbacd_tls"


def db_sh(*args, stdin=None):
    p = subprocess.run([os.path.join(harness.source_dir(), "scripts", "db.sh")] + list(args),
                       input=stdin, capture_output=True, text=True, timeout=180)
    if p.returncode != 0:
        raise RuntimeError("db.sh %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


class DbTlsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="rbacd-db-certs-")
        cls.datadir = os.path.join(os.path.dirname(harness.test_dbdir()), "testdb-tls")
        try:
            cls.certs = harness.make_certs(cls.cert_dir)
            # A certificate the CA signs for another name, to swap in.
            cls.wrong_name = harness.issue_cert(cls.cert_dir, "wrong-name", "/CN=db.example",
                                                "ca", "subjectAltName=DNS:db.example\n")
            cls.db_cert = os.path.join(cls.cert_dir, "db.crt")
            cls.db_key = os.path.join(cls.cert_dir, "db.key")
            cls.present(cls.certs["server_cert"], cls.certs["server_key"], flush=False)
            # A server left running by an interrupted run holds other certificates.
            db_sh("stop", cls.datadir)
            cls.port = int(os.environ.get("RBACD_TEST_DB_TLS_PORT") or harness.free_port())
            db_sh("start", cls.datadir, str(cls.port), "--ssl-cert=" + cls.db_cert,
                  "--ssl-key=" + cls.db_key, "--ssl-ca=" + cls.certs["ca"])
            db_sh("load", cls.datadir, DB_NAME, "--demo")
            cls.sql("ALTER USER rbacd@'localhost' REQUIRE SSL; "
                    "ALTER USER rbacd@'127.0.0.1' REQUIRE SSL;")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            db_sh("stop", cls.datadir)
        finally:
            shutil.rmtree(cls.cert_dir, ignore_errors=True)

    @classmethod
    def sql(cls, text, database=None):
        args = ["sql", cls.datadir] + ([database] if database else []) + ["--batch", "-N"]
        return db_sh(*args, stdin=text)

    @classmethod
    def present(cls, cert, key, flush=True):
        """Makes MariaDB present cert (and key) to new connections."""
        shutil.copyfile(cert, cls.db_cert)
        shutil.copyfile(key, cls.db_key)
        if flush:
            cls.sql("FLUSH SSL;")

    def server(self, *args, wait_loaded=True):
        return harness.RbacdServer(db=DB_NAME, conf_lines=["loglevel verbose"],
                                   args=["--db-socket", "", "--db-host", "127.0.0.1",
                                         "--db-port", str(self.port)] + list(args),
                                   wait_loaded=wait_loaded)

    def wait_log(self, srv, text, timeout=15):
        harness.wait_for(lambda: text in srv.log_text(), timeout=timeout,
                         what="%r in the log" % text)

    def assert_error(self, srv, prefix, *command):
        with srv.raw_connection() as c:
            reply = c.call(*command)
        self.assertIsInstance(reply, harness.RespError, reply)
        self.assertTrue(str(reply).startswith(prefix + " "), str(reply))

    def assert_loading(self, srv):
        self.assert_error(srv, "LOADING", "CANMENU", 1, 1, "sys:user:add")
        self.assert_error(srv, "LOADING", "SESSION", "CREATE", 1, 1)
        self.assertEqual(srv.client().info("persistence")["loading"], 1)
        self.assertTrue(srv.client().ping())

    def test_verified_tls(self):
        with self.server("--db-tls", "yes", "--db-tls-ca", self.certs["ca"]) as srv:
            r = srv.client()
            self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
            # Written through on the session lane: its connection is TLS too.
            token = r.execute_command("SESSION", "CREATE", 1, 1)
            self.assertEqual(r.execute_command("SESSION", "GET", token)[:2], [1, 1])
            ids = [s[0] for s in r.execute_command("SESSION", "LIST", 1, 1)]
            in_db = self.sql("SELECT LOWER(HEX(LEFT(token_hash, 8))) FROM tenant_session "
                             "WHERE revoked = 0", DB_NAME).split()
            self.assertEqual(sorted(ids), sorted(in_db))
            self.assertEqual(r.execute_command("SESSION", "REVOKE", token), 1)
            self.wait_log(srv, "connected to MariaDB at 127.0.0.1 with TLS_")

    def test_without_tls_the_account_is_refused(self):
        # The fixture's REQUIRE SSL works, so the other tests do show TLS in use.
        with self.server(wait_loaded=False) as srv:
            self.wait_log(srv, "Access denied for user 'rbacd'")
            self.assert_loading(srv)

    def test_wrong_ca_fails_clearly(self):
        with self.server("--db-tls", "yes", "--db-tls-ca", self.certs["other_ca"],
                         wait_loaded=False) as srv:
            self.wait_log(srv, "database is down: cannot connect to MariaDB at 127.0.0.1: "
                          "TLS/SSL error: self-signed certificate in certificate chain")
            self.wait_log(srv, "model load failed: ")
            self.assert_loading(srv)
            # It keeps trying (with backoff), failing the same way each time.
            self.wait_log(srv, "retrying the model load in ")
            harness.wait_for(lambda: srv.log_text().count("TLS/SSL error: self-signed "
                                                          "certificate in certificate chain") >= 2,
                             timeout=15, what="a second attempt refused the same way")
            self.assert_loading(srv)

    def test_verify_no_only_encrypts(self):
        with self.server("--db-tls", "yes", "--db-tls-ca", self.certs["other_ca"],
                         "--db-tls-verify", "no") as srv:
            self.assertEqual(srv.client().execute_command("CANMENU", 1, 1, "sys:user:add"), 1)

    def test_wrong_host_name_fails(self):
        try:
            self.present(*self.wrong_name)
            with self.server("--db-tls", "yes", "--db-tls-ca", self.certs["ca"],
                             wait_loaded=False) as srv:
                self.wait_log(srv, "TLS/SSL error: Validation of SSL server certificate failed")
                self.assert_loading(srv)
        finally:
            self.present(self.certs["server_cert"], self.certs["server_key"])

    def test_certificate_refused_after_the_load_is_dberr(self):
        # Loaded over TLS; then MariaDB presents a certificate for another name and
        # rbacd's connections are killed: reads go on from memory, writes answer -DBERR
        # until the right certificate is back.
        with self.server("--db-tls", "yes", "--db-tls-ca", self.certs["ca"]) as srv:
            r = srv.client()
            self.assertTrue(r.execute_command("SESSION", "CREATE", 1, 1))
            try:
                self.present(*self.wrong_name)
                for cid in self.sql("SELECT id FROM information_schema.PROCESSLIST "
                                    "WHERE user = 'rbacd'").split():
                    try:
                        self.sql("KILL %s;" % cid)
                    except RuntimeError:
                        pass  # gone meanwhile
                self.assert_error(srv, "DBERR", "SESSION", "CREATE", 1, 1)
                self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
                self.wait_log(srv, "Validation of SSL server certificate failed")
            finally:
                self.present(self.certs["server_cert"], self.certs["server_key"])

            def created():
                try:
                    return r.execute_command("SESSION", "CREATE", 1, 1)
                except redis.exceptions.ResponseError:
                    return None
            harness.wait_for(created, timeout=20, interval=0.2, what="writes working again")

    def test_unloadable_ca_stops_the_start(self):
        missing = os.path.join(self.cert_dir, "missing-ca.crt")
        for extra in ([], ["--check-config"]):
            p = subprocess.run([harness.rbacd_bin()] + extra +
                               ["--port", str(harness.free_port()), "--db-tls", "yes",
                                "--db-tls-ca", missing], capture_output=True, text=True,
                               timeout=30, env=harness.sanitizer_env())
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertEqual(p.stderr.strip(),
                             "rbacd: db-tls-ca '%s': cannot open: No such file or directory"
                             % missing)
        p = subprocess.run([harness.rbacd_bin(), "--check-config", "--db-tls", "yes",
                            "--db-tls-ca", self.certs["server_key"]], capture_output=True,
                           text=True, timeout=30, env=harness.sanitizer_env())
        self.assertEqual(p.returncode, 1)
        self.assertIn("db-tls-ca '%s': cannot load the CA certificates" % self.certs["server_key"],
                      p.stderr)


if __name__ == "__main__":
    harness.main()
