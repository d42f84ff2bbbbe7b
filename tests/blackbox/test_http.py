"""The HTTP endpoint (http-port): GET /metrics in the Prometheus text format, /healthz,
/readyz, and what bad requests get.

* HttpEndpointTest: one server. Every line of /metrics is checked against the
  exposition format by a parser here, and by `promtool check metrics`; counters move
  with the commands run; each command's latency histogram is cumulative, ends with
  +Inf = _count, and its _count is INFO commandstats' calls; the model's gauges are
  what INFO says. 404, 405, 501, an oversized header and an oversized body are pinned.
* ReadyzTest: its own database account, so that locking it (the database refuses
  rbacd, as a stopped server would) disturbs no other test. /readyz is 503 before the
  first load and 200 after; 503 once the database has been unreachable past
  readyz-db-grace-ms, 200 before that, and 200 again when it is back.
* PrometheusScrapeTest: a real Prometheus (Debian's prometheus package) scrapes rbacd
  every second on loopback; its query API is polled until a value equals INFO's.
"""

import contextlib
import http.client
import json
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import harness
from harness import RbacdServer, scratch_db

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# ---------------------------------------------------------------------------------------
# HTTP and the exposition format
# ---------------------------------------------------------------------------------------


def http_request(port, path, method="GET", headers=None, body=None, timeout=10):
    """(status, headers dict with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def http_raw(port, data, timeout=10):
    """Sends raw bytes and reads until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk


NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
VALUE = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|NaN|[+-]Inf)"
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (%s)$" % (NAME, LABEL, LABEL, VALUE))
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_value(v):
    return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(v) or float(v)


def family_of(sample_name, families):
    """The family a sample belongs to: its own name, or a histogram's base name."""
    if sample_name in families:
        return sample_name
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name[:-len(suffix)]
        if sample_name.endswith(suffix) and families.get(base, {}).get("type") == "histogram":
            return base
    return None


def parse_exposition(text):
    """Checks every line of a metrics page; returns {family: {type, help, samples}} with
    samples a list of (sample name, labels dict, value). AssertionError on a bad line."""
    assert text.endswith("\n"), "the page does not end with a newline"
    families = {}
    finished = set()  # families whose samples ended: their name may not come back
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (n, line)
        m = HELP_RE.match(line)
        if m:
            name = m.group(1)
            assert name not in families, "second HELP for %s (%s)" % (name, where)
            if current:
                finished.add(current)
            families[name] = {"help": m.group(2), "type": None, "samples": []}
            current = name
            continue
        m = TYPE_RE.match(line)
        if m:
            assert m.group(1) == current and families[current]["type"] is None, \
                "TYPE not right after its HELP (%s)" % where
            families[current]["type"] = m.group(2)
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a valid exposition line (%s)" % where
        fam = family_of(m.group(1), families)
        assert fam is not None and fam == current and fam not in finished, \
            "sample outside its family's block (%s)" % where
        assert families[fam]["type"], "sample before its TYPE (%s)" % where
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        families[fam]["samples"].append((m.group(1), labels, parse_value(m.group(3))))
    return families


def scrape(port):
    status, headers, body = http_request(port, "/metrics")
    assert status == 200, status
    assert headers.get("content-type") == CONTENT_TYPE, headers
    return parse_exposition(body.decode())


def value(families, name, **labels):
    """The value of the sample called name whose labels include labels, or None."""
    fam = family_of(name, families)
    for sname, slabels, v in families[fam]["samples"] if fam else []:
        if sname == name and all(slabels.get(k) == val for k, val in labels.items()):
            return v
    return None


def histograms(families, name):
    """{cmd: (list of (le, cumulative count), sum, count)} of a histogram family."""
    out = {}
    for sname, labels, v in families[name]["samples"]:
        cmd = labels["cmd"]
        buckets, s, c = out.get(cmd, ([], None, None))
        if sname == name + "_bucket":
            buckets.append((parse_value(labels["le"]), v))
        elif sname == name + "_sum":
            s = v
        elif sname == name + "_count":
            c = v
        out[cmd] = (buckets, s, c)
    return out


# ---------------------------------------------------------------------------------------
# One server
# ---------------------------------------------------------------------------------------


class HttpEndpointTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.http_port = harness.free_port()
        cls.CONF_LINES = ("http-port %d" % cls.http_port,)
        super().setUpClass()

    def get(self, path, method="GET", **kw):
        return http_request(self.http_port, path, method, **kw)

    def test_every_line_is_valid_exposition_format(self):
        self.r.execute_command("CANMENU", 1, 1, "sys:user:add")
        fams = scrape(self.http_port)
        self.assertGreater(len(fams), 40)
        for name, fam in fams.items():
            self.assertTrue(name.startswith("rbacd_"), name)
            self.assertTrue(fam["help"], name)
            if fam["type"] == "counter":
                self.assertTrue(name.endswith("_total"), name)
            if name.endswith("_total"):
                self.assertEqual(fam["type"], "counter", name)
        for name in ("rbacd_commands_total", "rbacd_command_duration_seconds",
                     "rbacd_connected_clients", "rbacd_memory_rss_bytes", "rbacd_tenants",
                     "rbacd_users", "rbacd_roles", "rbacd_menus", "rbacd_sessions",
                     "rbacd_sync_lag_seconds", "rbacd_sync_revision", "rbacd_database_up",
                     "rbacd_worker_database_up", "rbacd_session_logins_total",
                     "rbacd_auth_failures_total", "rbacd_ready"):
            self.assertIn(name, fams)
        pools = {l["pool"] for _, l, _ in fams["rbacd_worker_database_up"]["samples"]}
        self.assertEqual(pools, {"general", "session", "session_hashers", "sync"})
        self.assertEqual(value(fams, "rbacd_database_up"), 1)
        self.assertEqual(value(fams, "rbacd_ready"), 1)
        self.assertEqual(value(fams, "rbacd_loading"), 0)

    def test_promtool_accepts_the_page(self):
        self.r.execute_command("MENUS", 1, 1)
        status, _, body = self.get("/metrics")
        self.assertEqual(status, 200)
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, b"")

    def test_counters_move_after_commands(self):
        before = scrape(self.http_port)
        for _ in range(3):
            self.r.execute_command("CANMENU", 1, 1, "sys:user:add")
        with self.assertRaises(Exception):
            self.r.execute_command("SESSION", "LOGIN", "no-such-tenant", "u", "p")
        with self.assertRaises(Exception):
            self.r.execute_command("CANMENU", 1, 1)  # arity: rejected
        after = scrape(self.http_port)

        def delta(name, **labels):
            return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

        self.assertEqual(delta("rbacd_commands_total", cmd="canmenu"), 3)
        self.assertEqual(delta("rbacd_command_rejected_calls_total", cmd="canmenu"), 1)
        self.assertEqual(delta("rbacd_command_duration_seconds_count", cmd="canmenu"), 3)
        self.assertEqual(delta("rbacd_session_logins_total", result="failed"), 1)
        self.assertEqual(delta("rbacd_session_logins_total", result="ok"), 0)
        self.assertGreaterEqual(delta("rbacd_commands_processed_total"), 4)
        self.assertGreater(delta("rbacd_net_input_bytes_total"), 0)

    def test_histograms_are_cumulative_and_match_commandstats(self):
        for _ in range(20):
            self.r.execute_command("CANMENU", 1, 1, "sys:user:add")
            self.r.execute_command("MENUS", 1, 1)
        token = self.r.execute_command("SESSION", "CREATE", 1, 1)
        self.r.execute_command("SESSION", "GET", token)
        self.r.execute_command("SESSION", "CANMENU", token, "sys:user:add")
        fams = scrape(self.http_port)
        stats = self.r.info("commandstats")
        hists = histograms(fams, "rbacd_command_duration_seconds")
        for cmd in ("canmenu", "menus", "session|create", "session|get", "session|canmenu"):
            self.assertIn(cmd, hists)
        for cmd, (buckets, total, count) in hists.items():
            les = [le for le, _ in buckets]
            counts = [c for _, c in buckets]
            self.assertEqual(les, sorted(les), cmd)
            self.assertEqual(les[-1], math.inf, cmd)
            self.assertEqual(counts, sorted(counts), "%s: buckets not cumulative" % cmd)
            self.assertEqual(counts[-1], count, cmd)
            self.assertEqual(len(les), 23, cmd)
            if cmd in ("canmenu", "menus", "session|create", "session|get", "session|canmenu"):
                st = stats["cmdstat_" + cmd]
                self.assertEqual(count, st["calls"], cmd)
                self.assertAlmostEqual(total, st["usec"] / 1e6, places=6, msg=cmd)
        self.assertGreaterEqual(hists["canmenu"][2], 20)

    def test_model_gauges_are_what_info_says(self):
        fams = scrape(self.http_port)
        rbac = self.r.info("rbac")
        for key in ("tenants", "users", "roles", "menus", "packages"):
            self.assertEqual(value(fams, "rbacd_" + key), rbac[key], key)
        self.assertEqual(value(fams, "rbacd_model_revision"), rbac["model_revision"])
        self.assertGreater(rbac["users"], 0)
        sync = self.r.info("sync")
        self.assertEqual(value(fams, "rbacd_sync_revision"), sync["revision"])
        self.assertLess(value(fams, "rbacd_sync_lag_seconds"), 5)

    def test_healthz_and_readyz_when_loaded(self):
        self.assertEqual(self.get("/healthz")[0], 200)
        self.assertEqual(self.get("/healthz")[2], b"ok\n")
        self.assertEqual(self.get("/readyz")[:3:2], (200, b"ready\n"))
        self.assertEqual(self.get("/readyz?verbose=1")[0], 200)  # the query is ignored

    def test_head_has_the_status_and_length_of_get_and_no_body(self):
        _, _, body = self.get("/healthz")
        status, headers, head_body = self.get("/healthz", "HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(head_body, b"")
        self.assertEqual(int(headers["content-length"]), len(body))
        # On one keep-alive connection: a HEAD reply carries no body that the next reply
        # would be read from.
        got = http_raw(self.http_port, b"HEAD /metrics HTTP/1.1\r\n\r\n"
                       b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(got.count(b"HTTP/1.1 200 OK"), 2, got[:300])
        self.assertTrue(got.endswith(b"\r\n\r\nok\n"), got[-100:])
        self.assertNotIn(b"# HELP", got)

    def test_unknown_path_gets_404(self):
        for path in ("/", "/metrics/", "/metricsx", "/../metrics", "/healthz/x"):
            status, _, body = self.get(path)
            self.assertEqual(status, 404, path)
            self.assertIn(b"not found", body)
        self.assertEqual(self.get("/nope", "POST")[0], 404)

    def test_other_methods_get_405(self):
        before = value(scrape(self.http_port), "rbacd_http_requests_total", code="405")
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            status, headers, _ = self.get("/metrics", method, body=b"")
            self.assertEqual(status, 405, method)
            self.assertEqual(headers.get("allow"), "GET, HEAD", method)
        self.assertEqual(self.get("/readyz", "DELETE")[0], 405)
        after = value(scrape(self.http_port), "rbacd_http_requests_total", code="405")
        self.assertEqual(after - before, 6)

    def test_unknown_method_gets_501_from_evhttp(self):
        got = http_raw(self.http_port, b"BREW /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 501 "), got[:100])

    def test_oversized_header_closes_the_connection(self):
        got = http_raw(self.http_port, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 20000 +
                       b"\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got[:100])
        self.assertIn(b"Connection: close", got)
        self.assertNotIn(b"# HELP", got)
        got = http_raw(self.http_port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got[:100])
        # A header just below the bound is fine, and the server serves on.
        status, _, _ = self.get("/healthz", headers={"X-Big": "a" * 7000})
        self.assertEqual(status, 200)
        self.assertTrue(self.r.ping())

    def test_oversized_body_gets_413(self):
        got = http_raw(self.http_port, b"POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n"
                       b"\r\n" + b"x" * 100000)
        self.assertTrue(got.startswith(b"HTTP/1.1 413 "), got[:100])
        self.assertEqual(self.get("/healthz")[0], 200)

    def test_http_on_the_redis_port_is_still_refused(self):
        # The HTTP endpoint does not change the Redis port: HTTP there is still closed.
        got = self.srv.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(got, b"")


class CheckerTest(unittest.TestCase):
    """The format checker above rejects what it must, so its passing means something."""

    GOOD = "# HELP rbacd_a_total A.\n# TYPE rbacd_a_total counter\nrbacd_a_total{x=\"1\"} 2\n"

    def test_good_page_passes(self):
        fams = parse_exposition(self.GOOD)
        self.assertEqual(value(fams, "rbacd_a_total", x="1"), 2)

    def test_bad_pages_fail(self):
        bad = [
            self.GOOD[:-1],                                          # no final newline
            "rbacd_a_total 1\n",                                     # no HELP/TYPE
            self.GOOD + "rbacd_a_total{x=1} 2\n",                    # unquoted label
            self.GOOD + "rbacd_a_total 1 2 3\n",                     # junk after value
            self.GOOD + "rbacd_a_total{x=\"a\nb\"} 1\n",          # raw newline in label
            self.GOOD + "# HELP rbacd_b B.\n# TYPE rbacd_b gauge\nrbacd_a_total 3\n",
            self.GOOD + self.GOOD,                                   # family twice
            "# HELP rbacd_c C.\n# TYPE rbacd_c gauge\nrbacd_c one\n",  # not a number
        ]
        for page in bad:
            with self.assertRaises(AssertionError, msg=repr(page)):
                parse_exposition(page)


class MpbackendMetricsTest(unittest.TestCase):

    def test_mpbackend_page_is_valid(self):
        port = harness.free_port()
        with scratch_db("httpmp", profile="mpbackend") as db, \
                RbacdServer(db=db, args=["--profile", "mpbackend"],
                             conf_lines=["http-port %d" % port]) as srv:
            r = srv.client()
            r.execute_command("CAN", "admin", 1, "x")
            fams = scrape(port)
            self.assertEqual(value(fams, "rbacd_commands_total", cmd="can"), 1)
            self.assertEqual(value(fams, "rbacd_users"), r.info("rbac")["users"])
            self.assertEqual(http_request(port, "/readyz")[0], 200)
            status, _, body = http_request(port, "/metrics")
            p = subprocess.run(["promtool", "check", "metrics"], input=body,
                               capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            harness.close_client(r)


class HttpListenerTest(unittest.TestCase):
    """Off by default; a port in use; out of descriptors."""

    def test_off_by_default(self):
        with RbacdServer(db=None) as srv:
            r = srv.client()
            self.assertEqual(r.config_get("http-port"), {"http-port": "0"})
            self.assertEqual(r.config_get("http-bind"), {"http-bind": "127.0.0.1"})
            self.assertEqual(r.config_get("readyz-db-grace-ms"), {"readyz-db-grace-ms": "5000"})
            self.assertNotIn("http:", srv.log_text())

    def test_out_of_descriptors_pauses_accepting(self):
        # With every descriptor taken, evhttp's listener retried accept() at once, for
        # ever: the loop thread spun at 100% CPU until a connection closed.
        port = harness.free_port()
        with RbacdServer(db=None, cmd_prefix=["prlimit", "--nofile=120:120"],
                         conf_lines=["http-port %d" % port]) as srv:
            socks = []
            try:
                for _ in range(200):  # more than the process has descriptors for
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    socks.append(s)
                harness.wait_for(lambda: len(os.listdir("/proc/%d/fd" % srv.pid)) >= 115, 10,
                                 what="rbacd holding all its descriptors")

                def cpu_s():
                    with open("/proc/%d/stat" % srv.pid) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

                c0, t0 = cpu_s(), time.monotonic()
                time.sleep(1.0)  # measuring CPU use over a wall-clock second
                used = (cpu_s() - c0) / (time.monotonic() - t0)
                self.assertLess(used, 0.5, "the loop spins: %.0f%% CPU" % (used * 100))
                self.assertIn("http: accept failed", srv.log_text())
            finally:
                for s in socks:
                    s.close()
            # Descriptors back: served again.
            harness.wait_for(lambda: http_request(port, "/healthz")[0] == 200, 20,
                             what="/healthz after the descriptors came back")

    def test_port_in_use_stops_the_start(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            srv = RbacdServer(db=None, conf_lines=["http-port %d" % port])
            with self.assertRaises(harness.ServerError):
                srv.start()
            try:
                self.assertEqual(srv.proc.wait(timeout=20), 1)
                self.assertIn("http: cannot listen on 127.0.0.1:%d: Address already in use" % port,
                              srv.log_text() + srv.stderr_text())
            finally:
                srv._kill()
                srv.cleanup()


# ---------------------------------------------------------------------------------------
# Readiness, with a database account of its own
# ---------------------------------------------------------------------------------------


class ReadyzTest(unittest.TestCase):
    """The server connects as its own account; locking it and killing its connections
    makes the database unreachable for this server only."""

    @classmethod
    def setUpClass(cls):
        cls.db = scratch_db("readyz")
        cls.user = "rbacd_rz_" + secrets.token_hex(4)
        cls.password = secrets.token_hex(8)
        cls.db.sql("CREATE USER %s@'localhost' IDENTIFIED BY %s", (cls.user, cls.password))
        cls.db.sql("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@'localhost'" % cls.db.name,
                   (cls.user,))

    @classmethod
    def tearDownClass(cls):
        with contextlib.suppress(Exception):
            cls.db.sql("DROP USER %s@'localhost'", (cls.user,))
        cls.db.drop()

    def lock(self, locked):
        self.db.sql("ALTER USER %%s@'localhost' ACCOUNT %s" % ("LOCK" if locked else "UNLOCK"),
                    (self.user,))
        if locked:
            for (cid,) in self.db.sql("SELECT id FROM information_schema.PROCESSLIST "
                                      "WHERE user = %s", (self.user,)):
                with contextlib.suppress(Exception):
                    self.db.sql("KILL CONNECTION %d" % cid)

    def readyz(self, port):
        status, _, body = http_request(port, "/readyz")
        return status, body.decode()

    def test_readyz_follows_the_load_and_the_database(self):
        port = harness.free_port()
        self.lock(True)
        srv = RbacdServer(db=self.db, wait_loaded=False,
                          conf_lines=["http-port %d" % port, "db-user %s" % self.user,
                                      "db-password %s" % self.password,
                                      "readyz-db-grace-ms 600000"])
        with srv:
            # ---- before the first load: not ready, but healthy ----
            r = srv.client()
            harness.wait_for(lambda: r.info("rbac")["load_failures"] >= 1, 20,
                             what="a failed first load")
            self.assertEqual(self.readyz(port), (503, "loading\n"))
            self.assertEqual(http_request(port, "/healthz")[0], 200)
            fams = scrape(port)
            self.assertEqual(value(fams, "rbacd_loading"), 1)
            self.assertEqual(value(fams, "rbacd_ready"), 0)
            self.assertEqual(value(fams, "rbacd_database_up"), 0)
            self.assertEqual(value(fams, "rbacd_users"), 0)
            # ---- the database answers: loaded, ready ----
            self.lock(False)
            harness.wait_for(lambda: self.readyz(port)[0] == 200, 30, what="/readyz 200")
            self.assertEqual(r.info("persistence")["loading"], 0)
            self.assertEqual(value(scrape(port), "rbacd_ready"), 1)
            # ---- unreachable, within the grace period: still ready ----
            self.lock(True)
            harness.wait_for(lambda: r.info("sync")["db_up"] == 0, 20,
                             what="the change log seeing the database down")
            self.assertEqual(self.readyz(port)[0], 200)
            fams = scrape(port)
            self.assertEqual(value(fams, "rbacd_sync_database_up"), 0)
            self.assertEqual(value(fams, "rbacd_ready"), 1)
            self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
            # ---- past the grace period: not ready; reads still served ----
            r.config_set("readyz-db-grace-ms", 200)
            status, body = harness.wait_for(
                lambda: (lambda s: s if s[0] == 503 else None)(self.readyz(port)), 10,
                what="/readyz 503")
            self.assertRegex(body, r"^database unreachable for \d+ ms\n$")
            self.assertGreaterEqual(int(body.split()[3]), 200)
            self.assertEqual(http_request(port, "/healthz")[0], 200)
            self.assertEqual(value(scrape(port), "rbacd_ready"), 0)
            self.assertEqual(r.execute_command("CANMENU", 1, 1, "sys:user:add"), 1)
            # ---- back: ready again ----
            self.lock(False)
            harness.wait_for(lambda: self.readyz(port)[0] == 200, 30, what="/readyz 200 again")
            self.assertEqual(r.info("sync")["db_up"], 1)
            harness.close_client(r)


# ---------------------------------------------------------------------------------------
# A real Prometheus
# ---------------------------------------------------------------------------------------


class PrometheusScrapeTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.http_port = harness.free_port()
        cls.CONF_LINES = ("http-port %d" % cls.http_port,)
        super().setUpClass()

    def start_prometheus(self):
        tmp = tempfile.mkdtemp(prefix="rbacd-prom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: rbacd\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % self.http_port)
        port = harness.free_port()
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(["prometheus", "--config.file=" + conf,
                                 "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % port],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True)

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        self.addCleanup(stop)
        self.prom_log = os.path.join(tmp, "prometheus.log")
        return port, proc

    def query(self, port, q):
        """The value of an instant query's single sample, or None."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                data = json.load(resp)
        except OSError:
            return None
        result = data.get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if len(result) == 1 else None

    def test_prometheus_scrapes_what_info_says(self):
        for _ in range(25):
            self.r.execute_command("CANMENU", 1, 1, "sys:user:add")
        calls = self.r.info("commandstats")["cmdstat_canmenu"]["calls"]
        users = self.r.info("rbac")["users"]
        port, proc = self.start_prometheus()

        def matches():
            if proc.poll() is not None:
                with open(self.prom_log) as f:
                    self.fail("prometheus exited (%s):\n%s" % (proc.returncode, f.read()[-3000:]))
            return (self.query(port, 'up{job="rbacd"}') == 1
                    and self.query(port, "rbacd_users") == users
                    and self.query(port, 'rbacd_commands_total{cmd="canmenu"}') == calls)

        t0 = time.monotonic()
        harness.wait_for(matches, 90, interval=0.25, what="Prometheus to scrape rbacd")
        took = time.monotonic() - t0
        self.assertGreater(users, 0)
        # The histogram is usable by PromQL as it stands.
        q = 'histogram_quantile(0.99, rbacd_command_duration_seconds_bucket{cmd="canmenu"})'
        p99 = self.query(port, q)
        self.assertIsNotNone(p99)
        self.assertGreater(p99, 0)
        self.assertLessEqual(p99, 10)
        print("\nPrometheus saw rbacd_users=%d and canmenu calls=%d %.1f s after its start; "
              "p99 %.6f s" % (users, calls, took, p99))


if __name__ == "__main__":
    harness.main()
