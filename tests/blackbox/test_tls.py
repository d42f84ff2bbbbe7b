"""TLS for clients: tls-port beside the plain port, with certificates made at test time by
the openssl command (harness.make_certs): redis-cli --tls, redis-py with ssl=True,
client certificates as tls-auth-clients says (yes, optional, no), clients the server
must refuse, plain text on the TLS port, and the configurations it refuses to start
with."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import redis

import harness


class CertsMixin:
    """One set of certificates per test class, in a temporary directory."""

    @classmethod
    def make_certs(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="rbacd-certs-")
        cls.certs = harness.make_certs(cls.cert_dir)
        cls.SERVER_KW = dict(getattr(cls, "SERVER_KW", {}), tls=cls.certs)

    @classmethod
    def remove_certs(cls):
        shutil.rmtree(cls.cert_dir, ignore_errors=True)


def redis_cli(*args, timeout=30):
    p = subprocess.run(["redis-cli"] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


class TlsClientsTest(CertsMixin, harness.ServerTestCase):
    """tls-auth-clients left at its default (yes): a client certificate signed by
    tls-ca-cert-file is required."""

    CONF_LINES = ("loglevel verbose",)

    @classmethod
    def setUpClass(cls):
        cls.make_certs()
        try:
            super().setUpClass()
        except BaseException:
            cls.remove_certs()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.remove_certs()

    def cli_tls(self, *args, cert=True):
        opts = ["--tls", "--cacert", self.certs["ca"], "-h", "127.0.0.1", "-p", self.srv.tls_port]
        if cert:
            opts += ["--cert", self.certs["client_cert"], "--key", self.certs["client_key"]]
        return redis_cli(*(opts + list(args)))

    def wait_log(self, text):
        harness.wait_for(lambda: text in self.srv.log_text(), timeout=5,
                         what="%r in the log" % text)

    def test_redis_cli_tls(self):
        self.assertEqual(self.cli_tls("PING"), (0, "PONG", ""))
        self.assertEqual(self.cli_tls("CANMENU", 1, 1, "sys:user:add")[1], "1")
        self.assertEqual(self.cli_tls("CANMENU", 1, 3, "sys:user:add")[1], "0")
        self.wait_log("TLS handshake done: TLSv1.3")

    def test_redis_cli_tls_resp3(self):
        code, out, err = self.cli_tls("-3", "HELLO", "3")
        self.assertEqual(code, 0, err)
        self.assertIn("proto 3", out.splitlines())
        self.assertEqual(self.cli_tls("-3", "CANMENU", 1, 1, "sys:user:add")[1], "1")

    def test_redis_cli_without_client_certificate_is_refused(self):
        code, out, err = self.cli_tls("PING", cert=False)
        self.assertNotEqual(code, 0)
        self.assertNotIn("PONG", out)
        self.assertIn("closed the connection", out + err)
        self.assertEqual(self.cli_tls("PING"), (0, "PONG", ""))

    def test_plain_port_beside_tls(self):
        self.assertTrue(self.r.ping())
        self.assertEqual(self.r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
        self.assertEqual(redis_cli("-p", self.srv.port, "PING")[1], "PONG")
        self.assertEqual(self.r.config_get("tls-port"), {"tls-port": str(self.srv.tls_port)})
        self.assertEqual(self.r.config_get("port"), {"port": str(self.srv.port)})

    def test_redis_py_with_client_certificate(self):
        r = self.srv.tls_client()
        self.assertTrue(r.ping())
        self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
        self.assertEqual(r.execute_command("MENUS", 2, 13, "CODES"),
                         self.r.execute_command("MENUS", 2, 13, "CODES"))
        # Larger than a TLS record both ways, and a pipeline of many small ones.
        big = "x" * 300000
        self.assertEqual(r.echo(big), big)
        p = r.pipeline(transaction=False)
        for i in range(3000):
            p.echo("v%d" % i)
        self.assertEqual(p.execute(), ["v%d" % i for i in range(3000)])
        info = r.execute_command("CLIENT", "INFO")
        self.assertIn("laddr=127.0.0.1:%d" % self.srv.tls_port, info)

    def test_both_ports_at_once(self):
        # A plain and a TLS client with pipelines in flight at the same time, each
        # seeing its own replies; CLIENT LIST shows one on each port.
        tls = self.srv.tls_client()
        plain = self.srv.client()
        with self.srv.raw_connection(tls=True) as ct, self.srv.raw_connection() as cp:
            n = 500
            ct.send(b"".join(harness.encode_command("ECHO", "t%d" % i) for i in range(n)))
            cp.send(b"".join(harness.encode_command("ECHO", "p%d" % i) for i in range(n)))
            got_t, got_p = [], []
            while len(got_t) < n or len(got_p) < n:
                if len(got_p) < n:
                    got_p.append(cp.read_reply())
                if len(got_t) < n:
                    got_t.append(ct.read_reply())
            self.assertEqual(got_t, [b"t%d" % i for i in range(n)])
            self.assertEqual(got_p, [b"p%d" % i for i in range(n)])
            laddrs = [f for line in plain.execute_command("CLIENT", "LIST").splitlines()
                      for f in line.split() if f.startswith("laddr=")]
            self.assertIn("laddr=127.0.0.1:%d" % self.srv.port, laddrs)
            self.assertIn("laddr=127.0.0.1:%d" % self.srv.tls_port, laddrs)
        self.assertEqual(tls.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
        self.assertEqual(plain.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)

    def test_redis_py_resp3_over_tls(self):
        # redis-py 4.3 (Debian 12) makes the TLS connection and sends HELLO 3, but has no
        # RESP3 parser: the replies are read with the harness's from the same socket.
        r = self.srv.tls_client()
        conn = r.connection_pool.get_connection("HELLO")
        try:
            conn.send_command("HELLO", "3")
            reader = harness.RawConnection.__new__(harness.RawConnection)
            reader.sock, reader.buf, reader.closed_by_peer = conn._sock, b"", False
            hello = reader.read_reply()
            self.assertEqual(hello["proto"], 3)
            conn.send_command("CANMENU", 1, 1, "sys:user:add")
            self.assertEqual(reader.read_reply(), 1)
            conn.send_command("CANMENU", 1, 3, "sys:user:add")
            self.assertEqual(reader.read_reply(), 0)
            conn.send_command("CONFIG", "GET", "tls-auth-clients")
            self.assertEqual(reader.read_reply(), {"tls-auth-clients": b"yes"})
        finally:
            conn.disconnect()
            r.connection_pool.release(conn)

    def test_no_client_certificate_is_refused(self):
        r = self.srv.tls_client(cert=None)
        with self.assertRaises(redis.exceptions.ConnectionError):
            r.ping()
        self.wait_log("TLS handshake failed: peer did not return a certificate")
        self.assertTrue(self.srv.tls_client().ping())
        code, out, _ = self.cli_tls("PING", cert=False)
        self.assertNotEqual(out, "PONG")

    def test_client_certificate_of_another_ca_is_refused(self):
        r = self.srv.tls_client(cert="other_client")
        with self.assertRaises(redis.exceptions.ConnectionError):
            r.ping()
        self.wait_log("certificate verify failed")
        self.assertTrue(self.srv.tls_client().ping())

    def test_plain_text_on_the_tls_port_is_dropped(self):
        got = b""
        with socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=5) as s:
            s.sendall(harness.encode_command("PING"))
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
        self.assertNotIn(b"PONG", got)
        self.wait_log("TLS handshake failed: ")
        self.assertTrue(self.srv.running())
        self.assertTrue(self.r.ping())
        self.assertTrue(self.srv.tls_client().ping())

    def test_tls_client_on_the_plain_port_is_closed(self):
        # A ClientHello on the plain port: closed at once, no reply, nothing run.
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)) as cm:
                self.srv.tls_context().wrap_socket(s, server_hostname="127.0.0.1")
        self.assertNotIsInstance(cm.exception, socket.timeout)
        self.assertLess(time.monotonic() - t0, 4)
        code, out, err = redis_cli("--tls", "--cacert", self.certs["ca"], "--cert",
                                   self.certs["client_cert"], "--key", self.certs["client_key"],
                                   "-p", self.srv.port, "PING", timeout=10)
        self.assertNotEqual(code, 0)
        self.assertIn("SSL_connect failed", out + err)
        self.wait_log("closed: a TLS handshake on the plain port (tls-port is %d)"
                      % self.srv.tls_port)
        self.assertTrue(self.srv.running())
        self.assertTrue(self.r.ping())
        self.assertTrue(self.srv.tls_client().ping())
        self.assertEqual(redis_cli("-p", self.srv.port, "PING")[1], "PONG")

    def test_stalled_handshakes_do_not_block_others(self):
        # Connections that stop in the middle of a handshake (nothing sent, or half a
        # ClientHello) hold only their own sockets: everyone else is served meanwhile.
        stalled = []
        try:
            for i in range(20):
                s = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=5)
                if i % 2:
                    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
                stalled.append(s)
            t0 = time.monotonic()
            r = self.srv.tls_client()
            for _ in range(20):
                self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
            self.assertTrue(self.r.ping())
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            for s in stalled:
                s.close()

    def test_raw_pipeline_over_tls(self):
        # 2000 requests in one write, replies read only once all are sent: the server
        # reads records ahead, fills its output and waits for the socket.
        n = 2000
        arg = "y" * 1500
        with self.srv.raw_connection(tls=True, timeout=30) as c:
            c.send(b"".join(harness.encode_command("ECHO", arg) for _ in range(n)))
            replies = []
            while len(replies) < n:
                replies.append(c.read_reply())
        self.assertEqual(replies, [arg.encode()] * n)

    def test_quit_over_tls(self):
        with self.srv.raw_connection(tls=True) as c:
            self.assertEqual(c.call("QUIT"), "OK")
            self.assertEqual(c.read_until_closed(timeout=5), b"")
            self.assertTrue(c.closed_by_peer)

    def test_config_get_tls_keys(self):
        conf = self.r.config_get("tls-*")
        self.assertEqual(conf["tls-cert-file"], self.certs["server_cert"])
        self.assertEqual(conf["tls-key-file"], self.certs["server_key"])
        self.assertEqual(conf["tls-ca-cert-file"], self.certs["ca"])
        self.assertEqual(conf["tls-auth-clients"], "yes")
        self.assertEqual(conf["tls-protocols"], "TLSv1.2 TLSv1.3")
        self.assertEqual(conf["tls-ciphers"], "")
        with self.assertRaises(redis.exceptions.ResponseError):
            self.r.config_set("tls-port", "0")

    def test_tls_v12_only_client(self):
        ctx = self.srv.tls_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with harness.RawConnection(self.srv.tls_port, tls=ctx) as c:
            self.assertEqual(c.sock.version(), "TLSv1.2")
            self.assertEqual(c.call("PING"), "PONG")


class TlsAuthOptionalTest(CertsMixin, unittest.TestCase):
    """tls-auth-clients optional and no, each on a server of its own (no database)."""

    @classmethod
    def setUpClass(cls):
        cls.make_certs()

    @classmethod
    def tearDownClass(cls):
        cls.remove_certs()

    def server(self, *conf):
        return harness.RbacdServer(conf_lines=conf, tls=self.certs)

    def test_optional(self):
        with self.server("tls-auth-clients optional") as srv:
            self.assertTrue(srv.tls_client(cert=None).ping())
            self.assertTrue(srv.tls_client().ping())
            with self.assertRaises(redis.exceptions.ConnectionError):
                srv.tls_client(cert="other_client").ping()
            self.assertTrue(srv.client().ping())

    def test_no_client_certificates(self):
        # No CA needed at all then; redis-cli with only --cacert.
        with self.server("tls-auth-clients no", 'tls-ca-cert-file ""') as srv:
            code, out, err = redis_cli("--tls", "--cacert", self.certs["ca"], "-p", srv.tls_port,
                                       "PING")
            self.assertEqual((code, out), (0, "PONG"), err)
            self.assertTrue(srv.tls_client(cert=None).ping())

    def test_tls_only(self):
        # port 0: the TLS port alone.
        with self.server("port 0") as srv:
            self.assertTrue(srv.tls_client().ping())
            self.assertEqual(srv.tls_client().config_get("port"), {"port": "0"})


class TlsStartRefusedTest(CertsMixin, unittest.TestCase):
    """Configurations the server refuses to start with: --check-config says the same."""

    @classmethod
    def setUpClass(cls):
        cls.make_certs()

    @classmethod
    def tearDownClass(cls):
        cls.remove_certs()

    def refused(self, *args):
        """Runs rbacd --check-config and rbacd itself with args; both must exit 1 with the
        same message on stderr, which is returned."""
        base = ["--port", str(harness.free_port()), "--tls-port", str(harness.free_port()),
                "--db-socket", os.path.join(self.cert_dir, "no.sock")]
        check = subprocess.run([harness.rbacd_bin(), "--check-config"] + base + list(args),
                               capture_output=True, text=True, timeout=30,
                               env=harness.sanitizer_env())
        self.assertEqual(check.returncode, 1, check.stdout + check.stderr)
        run = subprocess.run([harness.rbacd_bin()] + base + list(args), capture_output=True,
                             text=True, timeout=30, env=harness.sanitizer_env())
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertEqual(run.stderr, check.stderr)
        harness.check_sanitizer_output(run.stderr, "rbacd")
        return check.stderr.strip()

    def test_missing_certificate_file(self):
        missing = os.path.join(self.cert_dir, "missing.crt")
        err = self.refused("--tls-cert-file", missing, "--tls-key-file", self.certs["server_key"],
                           "--tls-ca-cert-file", self.certs["ca"])
        self.assertEqual(err, "rbacd: tls-cert-file '%s': cannot open: No such file or directory"
                         % missing)

    def test_missing_key_file(self):
        err = self.refused("--tls-cert-file", self.certs["server_cert"], "--tls-key-file",
                           "/nonexistent/server.key", "--tls-ca-cert-file", self.certs["ca"])
        self.assertIn("tls-key-file '/nonexistent/server.key': cannot open", err)

    def test_key_of_another_certificate(self):
        err = self.refused("--tls-cert-file", self.certs["server_cert"], "--tls-key-file",
                           self.certs["client_key"], "--tls-ca-cert-file", self.certs["ca"])
        self.assertIn("is not the key of the certificate", err)

    def test_not_a_certificate(self):
        err = self.refused("--tls-cert-file", self.certs["server_key"], "--tls-key-file",
                           self.certs["server_key"], "--tls-ca-cert-file", self.certs["ca"])
        self.assertIn("tls-cert-file '%s': cannot load the certificate" % self.certs["server_key"],
                      err)

    def test_not_a_key(self):
        err = self.refused("--tls-cert-file", self.certs["server_cert"], "--tls-key-file",
                           self.certs["ca"], "--tls-ca-cert-file", self.certs["ca"])
        self.assertIn("tls-key-file '%s': cannot load the private key" % self.certs["ca"], err)

    def test_tls_port_is_port(self):
        err = self.refused("--port", "6390", "--tls-port", "6390", "--tls-cert-file",
                           self.certs["server_cert"], "--tls-key-file", self.certs["server_key"],
                           "--tls-ca-cert-file", self.certs["ca"])
        self.assertEqual(err, "rbacd: tls-port 6390 is also port: TLS needs a port of its own")

    def test_client_certificates_need_a_ca(self):
        err = self.refused("--tls-cert-file", self.certs["server_cert"], "--tls-key-file",
                           self.certs["server_key"])
        self.assertIn("tls-ca-cert-file is empty, but tls-auth-clients", err)

    def test_bad_protocols(self):
        err = self.refused("--tls-protocols", "TLSv1.2 SSLv3")
        self.assertIn("tls-protocols: 'TLSv1.2 SSLv3' is not a list of", err)

    def test_check_config_accepts_a_good_one(self):
        p = subprocess.run([harness.rbacd_bin(), "--check-config", "--tls-port", "6390",
                            "--tls-cert-file", self.certs["server_cert"], "--tls-key-file",
                            self.certs["server_key"], "--tls-ca-cert-file", self.certs["ca"]],
                           capture_output=True, text=True, timeout=30, env=harness.sanitizer_env())
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "rbacd: configuration OK"),
                         p.stderr)


if __name__ == "__main__":
    harness.main()
