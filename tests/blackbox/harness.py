"""Black-box test harness: real rbacd processes over a real private MariaDB.

Every black-box test imports this module (it sits next to them). It knows three things:

* where everything is, from the environment CTest sets (see CMakeLists.txt here):
    RBACD_BIN          the server binary under test (default: <checkout>/build/rbacd)
    RBACD_SOURCE_DIR   the checkout, for schema/ and conf/ (default: two levels up)
    RBACD_TEST_DBDIR   the data directory of the test MariaDB started by
                       scripts/db.sh; its unix socket path is in DBDIR/socket-path

* how to make a scratch database:

    with scratch_db("proto") as db:           # fresh database, schema + demo data
        db.sql("SELECT COUNT(*) FROM tenant")  # -> list of row tuples, as root
        ...                                    # dropped on exit (or db.drop())

    scratch_db("mp", profile="mpbackend") holds the mpbackend service's tables
    (schema/mpbackend/seed/), rbacd's change log and triggers (schema/mpbackend/) and,
    with demo=True, schema/mpbackend/demo/; a server for it needs args=["--profile",
    "mpbackend"].

* how to run a server and talk to it:

    with RbacdServer(db=db, conf_lines=["timeout 5"]) as srv:
        r = srv.client()                       # redis.Redis, decode_responses=True
        assert r.ping()
        srv.raw(b"*-5x\\r\\n")                  # raw bytes in, raw bytes out
    # leaving the block: SIGTERM, exit status 0 asserted, and the log and stderr are
    # searched for sanitizer reports (AddressSanitizer, LeakSanitizer, runtime error:)

  With tls=make_certs(DIR) the server also listens on a free tls-port with those
  certificates (client certificates required, as tls-auth-clients' default says);
  srv.tls_client(cert="client") is a redis.Redis over TLS presenting the named client
  certificate (None: none), srv.raw_connection(tls=True) a raw one.

  Starting means: a free TCP port, a temporary directory holding the configuration
  file and the log, the process, then PING polled every 20 ms until it answers (at
  most `start_timeout` seconds), then, with a database, `INFO persistence` polled until
  `loading:0`. Nothing sleeps blindly.

For a file of tests sharing one database and one server, subclass ServerTestCase
(CONF_LINES, ARGS, DEMO, USE_DB, SERVER_KW); a test during which that server dies is
reported, and the next test gets a fresh server.

Servers run in a session of their own (a terminal's Ctrl-C goes to the test, which then
stops them) and are killed if the test process dies first. KEEP_RBACD_TMP=1 keeps each
server's temporary directory (configuration, log, stderr) for a post-mortem.

Also here: a small RESP2/RESP3 reader (`resp_read`, `RawConnection`) for tests that
need to see the exact bytes or the RESP3 types that redis-py 4.3 cannot show, and a
`serve` mode for tests written in other languages:

    python3 harness.py serve [--no-db] [--profile mpbackend] [--conf 'key value' ...]
                             [--arg ARG ...]

starts a scratch database (unless --no-db) and a server, prints one line
"PORT PID" on stdout (with --tls: "PORT PID TLS_PORT CERT_DIR", CERT_DIR holding the
files make_certs() names), and keeps both until its standard input is closed; it then
stops the server, checks it as above, drops the database and exits 0, or 1 if the
server misbehaved (the reason goes to stderr).

Only the Python standard library, redis-py and PyMySQL are used (Debian's
python3-redis and python3-pymysql, for /usr/bin/python3).
"""

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import redis

try:
    import pymysql
except ImportError:  # only scratch_db needs it; a clear message when it is used
    pymysql = None

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------
# Where things are
# ---------------------------------------------------------------------------------------


def source_dir():
    """The checkout: $RBACD_SOURCE_DIR, or the directory two levels above this file."""
    return os.environ.get("RBACD_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))


def rbacd_bin():
    """The server binary under test: $RBACD_BIN, or <checkout>/build/rbacd."""
    path = os.environ.get("RBACD_BIN") or os.path.join(source_dir(), "build", "rbacd")
    if not os.access(path, os.X_OK):
        raise RuntimeError("rbacd binary not found or not executable: %s (set RBACD_BIN)" % path)
    return path


def test_dbdir():
    d = os.environ.get("RBACD_TEST_DBDIR")
    if not d:
        raise RuntimeError("RBACD_TEST_DBDIR is not set: run the test through CTest, or start "
                           "a server with scripts/db.sh start DIR PORT and export it")
    return d


def db_socket():
    """Unix socket path of the test MariaDB (from $RBACD_TEST_DBDIR/socket-path)."""
    path = os.path.join(test_dbdir(), "socket-path")
    with open(path) as f:
        return f.readline().strip()


def default_conf_file():
    """conf/rbacd.conf of the checkout."""
    return os.path.join(source_dir(), "conf", "rbacd.conf")


# The files make_certs() writes, by name.
CERT_FILES = {
    "ca": "ca.crt",                    # the CA the server trusts for client certificates
    "server_cert": "server.crt",       # signed by ca, for 127.0.0.1 and localhost
    "server_key": "server.key",
    "client_cert": "client.crt",       # signed by ca
    "client_key": "client.key",
    "other_ca": "other-ca.crt",        # a CA the server does not trust
    "other_client_cert": "other-client.crt",  # signed by other_ca
    "other_client_key": "other-client.key",
}


def _openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), p.stderr))


def issue_cert(cwd, name, subject, ca, ext):
    """Writes NAME.key and NAME.crt into directory cwd: a P-256 key and a certificate for
    it signed by CA (the stem of CA.crt/CA.key there, as make_certs() leaves "ca"), with
    the X.509v3 extensions in ext (one per line). Returns the two paths."""
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject, cwd=cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(ext)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", name + ".ext",
             "-out", name + ".crt", cwd=cwd)
    return os.path.join(cwd, name + ".crt"), os.path.join(cwd, name + ".key")


def make_certs(directory):
    """Writes test certificates into directory with the openssl command (made at test
    time, valid two days): a CA, a server certificate it signs for 127.0.0.1 and
    localhost, a client certificate it signs, and a second CA with a client certificate
    of its own, which a server trusting only the first must refuse. Returns a dict
    name -> absolute path (the names of CERT_FILES)."""
    d = os.path.abspath(directory)
    os.makedirs(d, exist_ok=True)
    for ca, cn in (("ca", "rbacd test CA"), ("other-ca", "rbacd other CA")):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2",
                 "-subj", "/CN=" + cn, cwd=d)
    issue_cert(d, "server", "/CN=localhost", "ca",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
               "extendedKeyUsage=serverAuth\n")
    client_ext = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
    issue_cert(d, "client", "/CN=gateway", "ca", client_ext)
    issue_cert(d, "other-client", "/CN=intruder", "other-ca", client_ext)
    return {k: os.path.join(d, v) for k, v in CERT_FILES.items()}


def hash_password(password):
    """Runs `rbacd --hash-password` with the password on stdin; returns the hash line."""
    p = subprocess.run([rbacd_bin(), "--hash-password"], input=password + "\n",
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("rbacd --hash-password failed (%d): %s" % (p.returncode, p.stderr))
    check_sanitizer_output(p.stderr, "rbacd --hash-password")
    return p.stdout.strip()


# ---------------------------------------------------------------------------------------
# Sanitizer reports
# ---------------------------------------------------------------------------------------

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "ThreadSanitizer", "MemorySanitizer")


def sanitizer_report(text):
    """The first sanitizer marker found in text, or None."""
    for m in SANITIZER_MARKERS:
        if m in text:
            return m
    return None


def check_sanitizer_output(text, what):
    """Raises AssertionError (a test failure) if text holds a sanitizer report."""
    m = sanitizer_report(text or "")
    if m:
        raise AssertionError("%s: sanitizer report (%s):\n%s" % (what, m, tail(text, 80)))


def tail(text, n):
    lines = (text or "").splitlines()
    return "\n".join(lines[-n:])


def sanitizer_env(env=None):
    """Environment for a child rbacd: the caller's, plus sanitizer options unless set."""
    e = dict(os.environ if env is None else env)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return e


# ---------------------------------------------------------------------------------------
# Scratch databases
# ---------------------------------------------------------------------------------------

DB_APP_USER = "rbacd"
DB_APP_PASSWORD = "rbacd"


def _root_connect(database=None):
    if pymysql is None:
        raise RuntimeError("PyMySQL is missing: apt-get install python3-pymysql")
    return pymysql.connect(unix_socket=db_socket(), user="root", password="",
                           database=database, autocommit=True, charset="utf8mb4",
                           connect_timeout=10)


def _apply_sql_file(dbname, path):
    """Runs one .sql file with the mariadb client (the files may use DELIMITER)."""
    with open(path, "rb") as f:
        p = subprocess.run(["mariadb", "--no-defaults", "--socket=" + db_socket(), "-uroot",
                            "--default-character-set=utf8mb4", "--batch", dbname],
                           stdin=f, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("applying %s to %s failed: %s" %
                           (path, dbname, p.stderr.decode(errors="replace")))


def _sql_files(d):
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".sql"))


class ScratchDb:
    """A fresh database on the test MariaDB, granted to rbacd@localhost (and
    rbacd@127.0.0.1) with password rbacd, holding schema/*.sql (and schema/demo/*.sql
    when demo=True), or for profile mpbackend the files of schema_files(). Use
    scratch_db() to make one.

    .name           the database name
    .sql(q, args)   runs q (PyMySQL %s placeholders) as root in this database,
                    autocommit; returns the rows as a list of tuples ([] if none)
    .drop()         drops it (idempotent); a context manager does it on exit
    """

    def __init__(self, name):
        self.name = name
        self._conn = None
        self.dropped = False

    def _connection(self):
        if self._conn is None or not self._conn.open:
            self._conn = _root_connect(self.name)
        else:
            self._conn.ping(reconnect=True)
        return self._conn

    def sql(self, query, args=None):
        with self._connection().cursor() as cur:
            cur.execute(query, args)
            rows = cur.fetchall()
        return list(rows) if rows else []

    def drop(self):
        if self.dropped:
            return
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        conn = _root_connect()
        try:
            with conn.cursor() as cur:
                cur.execute("DROP DATABASE IF EXISTS `%s`" % self.name)
        finally:
            conn.close()
        self.dropped = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.drop()
        return False

    def __repr__(self):
        return "ScratchDb(%r)" % self.name


PROFILES = ("bitenant", "mpbackend")


def schema_files(profile="bitenant", demo=True):
    """The .sql files that make a database of the profile, in the order they apply:
    bitenant: schema/*.sql, then schema/demo/*.sql if demo; mpbackend: the service's
    own tables (schema/mpbackend/seed/*.sql), what rbacd adds (schema/mpbackend/*.sql),
    then schema/mpbackend/demo/*.sql if demo. Each directory in name order."""
    if profile not in PROFILES:
        raise ValueError("unknown profile %r (known: %s)" % (profile, ", ".join(PROFILES)))
    schema = os.path.join(source_dir(), "schema")
    if profile == "mpbackend":
        base = os.path.join(schema, "mpbackend")
        dirs = [os.path.join(base, "seed"), base]
        demo_dir = os.path.join(base, "demo")
    else:
        dirs = [schema]
        demo_dir = os.path.join(schema, "demo")
    files = []
    for d in dirs:
        found = _sql_files(d)
        if not found:
            raise RuntimeError("no schema files in %s" % d)
        files += found
    if demo:
        files += _sql_files(demo_dir)
    return files


def scratch_db(name_prefix="t", demo=True, profile="bitenant"):
    """Creates a fresh database (named name_prefix + a random suffix), grants it to the
    application user and applies the schema of the profile (and its demo data if
    demo): see schema_files(). Returns a ScratchDb; use it as a context manager so that
    it is dropped at the end."""
    files = schema_files(profile, demo)
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", name_prefix)[:32] or "t"
    name = "bb_%s_%d_%s" % (prefix, os.getpid(), secrets.token_hex(4))
    conn = _root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                        % name)
            for host in ("localhost", "127.0.0.1"):
                # Tests may run in parallel: CREATE USER IF NOT EXISTS can still race.
                for attempt in range(5):
                    try:
                        cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
                                    (DB_APP_USER, host, DB_APP_PASSWORD))
                        break
                    except pymysql.err.OperationalError:
                        if attempt == 4:
                            raise
                        time.sleep(0.1)
                cur.execute("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@%%s" % name,
                            (DB_APP_USER, host))
    finally:
        conn.close()
    db = ScratchDb(name)
    try:
        for f in files:
            _apply_sql_file(name, f)
    except BaseException:
        with contextlib.suppress(Exception):
            db.drop()
        raise
    return db


# ---------------------------------------------------------------------------------------
# A minimal RESP2/RESP3 reader and raw connections
# ---------------------------------------------------------------------------------------


class RespError(Exception):
    """An error reply (-ERR ..., !<len> blob error). str(e) is the text without '-'."""


class RespIncomplete(Exception):
    """The buffer ends inside a reply."""


class Verbatim(str):
    """A RESP3 verbatim string; .format is 'txt' or 'mkd'."""
    format = "txt"


class Push(list):
    """A RESP3 push (>): out-of-band data."""


def _line(buf, pos):
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise RespIncomplete()
    return buf[pos:end], end + 2


def resp_read(buf, pos=0):
    """Parses one reply starting at buf[pos]. Returns (value, next_pos); raises
    RespIncomplete if buf ends first. Types: + -> str, - -> RespError (returned, not
    raised), : -> int, $ -> bytes or None, * -> list or None, % -> dict, ~ -> list
    (sets may hold unhashable values), _ -> None, # -> bool, , -> float, ( -> int,
    = -> Verbatim, ! -> RespError, > -> Push, | attributes are skipped."""
    if pos >= len(buf):
        raise RespIncomplete()
    t = buf[pos:pos + 1]
    body, nxt = _line(buf, pos + 1)
    if t == b"+":
        return body.decode(errors="replace"), nxt
    if t == b"-":
        return RespError(body.decode(errors="replace")), nxt
    if t in (b":", b"("):
        return int(body), nxt
    if t == b"_":
        return None, nxt
    if t == b"#":
        return body == b"t", nxt
    if t == b",":
        return float(body), nxt
    if t in (b"$", b"=", b"!"):
        n = int(body)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            raise RespIncomplete()
        data = buf[nxt:nxt + n]
        if buf[nxt + n:nxt + n + 2] != b"\r\n":
            raise ValueError("bulk not followed by CRLF at %d" % (nxt + n))
        end = nxt + n + 2
        if t == b"=":
            v = Verbatim(data[4:].decode(errors="replace"))
            v.format = data[:3].decode(errors="replace")
            return v, end
        if t == b"!":
            return RespError(data.decode(errors="replace")), end
        return data, end
    if t in (b"*", b"~", b">"):
        n = int(body)
        if n < 0:
            return None, nxt
        items = []
        for _ in range(n):
            v, nxt = resp_read(buf, nxt)
            items.append(v)
        return (Push(items) if t == b">" else items), nxt
    if t in (b"%", b"|"):
        n = int(body)
        d = {}
        for _ in range(n):
            k, nxt = resp_read(buf, nxt)
            v, nxt = resp_read(buf, nxt)
            if isinstance(k, (bytes, bytearray)):
                k = bytes(k).decode(errors="replace")
            d[k if not isinstance(k, list) else tuple(k)] = v
        if t == b"|":  # an attribute precedes the real reply
            return resp_read(buf, nxt)
        return d, nxt
    raise ValueError("unknown RESP type byte %r at %d" % (t, pos))


def resp_read_all(buf):
    """Every complete reply in buf, in order (a trailing partial one is ignored)."""
    out, pos = [], 0
    while pos < len(buf):
        try:
            v, pos = resp_read(buf, pos)
        except RespIncomplete:
            break
        out.append(v)
    return out


def encode_command(*args):
    """A request as a RESP multibulk (str args are UTF-8 encoded)."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class RawResult(bytes):
    """What RbacdServer.raw() read; .closed is True if the server closed the connection
    (end of file seen) rather than the read timing out."""
    closed = False


class RawConnection:
    """One TCP (or unix) connection speaking RESP by hand (over TLS when given an
    ssl.SSLContext as tls):

        with RawConnection(port) as c:
            c.call("HELLO", "3")      # -> parsed reply (dict for a RESP3 map)
            c.send(b"PING\\r\\n"); c.read_reply()
            c.read_until_closed()     # bytes until EOF (or timeout)

    Error replies come back as RespError values; they are not raised."""

    def __init__(self, port=None, host="127.0.0.1", unix_path=None, timeout=10.0, tls=None):
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.settimeout(timeout)
                self.sock.connect(unix_path)
            except OSError:
                self.sock.close()
                raise
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
            if tls is not None:
                try:
                    self.sock = tls.wrap_socket(self.sock, server_hostname=host)
                except BaseException:
                    self.sock.close()
                    raise
        self.timeout = timeout
        self.buf = b""
        self.closed_by_peer = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            self.closed_by_peer = True
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def read_reply(self):
        while True:
            try:
                v, pos = resp_read(self.buf)
                self.buf = self.buf[pos:]
                return v
            except RespIncomplete:
                self._fill()

    def call(self, *args):
        self.send(encode_command(*args))
        return self.read_reply()

    def read_until_closed(self, timeout=None):
        """Reads until EOF; returns everything (buffered bytes included). Sets
        .closed_by_peer; on timeout returns what it has with closed_by_peer False."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        data = self.buf
        self.buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return data
            except (ConnectionResetError, ssl.SSLError):
                self.closed_by_peer = True
                return data
            if not chunk:
                self.closed_by_peer = True
                return data
            data += chunk

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------


def close_client(r):
    """Really closes a redis.Redis: in redis-py 4.3, Redis.close() leaves the pool's
    connections open unless the pool was made with auto_close_connection_pool."""
    with contextlib.suppress(Exception):
        r.close()
    with contextlib.suppress(Exception):
        r.connection_pool.disconnect()


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    """Polls predicate() every `interval` s until it returns a true value (returned) or
    `timeout` s pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL if the test process dies first (a CTest
    timeout, a crash), so that no server outlives its test."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def _conf_key(line):
    """The (lower-cased) key of a configuration line, or None for blanks/comments."""
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    return s.split(None, 1)[0].lower()


class ServerError(AssertionError):
    """The server did not start, did not stop cleanly, or reported a sanitizer error."""


class RbacdServer:
    """One rbacd process for a test. Context manager; see the module docstring.

    db          a ScratchDb, a database name, or None. None points the server at a
                database socket that does not exist: it still serves connection
                commands but never finishes loading (wait_loaded is then ignored).
    conf_lines  lines of the configuration file, written after conf/rbacd.conf's
                content when base_conf=True, else alone
    args        extra command-line arguments (overrides), after the harness's own
    wait_loaded poll INFO persistence until loading:0 before returning from start()
    password, username
                credentials the harness itself uses (readiness, INFO) when the
                configuration requires AUTH; .admin_client() uses them too
    cmd_prefix  a wrapper before the binary, e.g. ["valgrind", "--error-exitcode=9"]
    start_timeout
                seconds to wait for PING (and again for loading:0)
    port        a fixed port instead of a free one
    tls         certificates from make_certs(): the server also listens on a free
                tls-port with them (.tls_port; keys the test sets itself win)

    env         the server's environment (default: the test's), sanitizer options added
    The harness passes --port, --db-socket, --db-name, --db-user, --db-password and
    --logfile on the command line, except for keys the test sets itself in conf_lines
    or args (so a test's value always wins). --db-password is also left out when the
    test gives the password another way: db-password-file, or RBACD_DB_PASSWORD in env.
    With port 0 and a unixsocket, the harness reaches the server through the socket.

    .port .tls_port .pid .proc .tmpdir .conf_path .log_path .stderr_path
    .client(**kw)        redis.Redis to this server (decode_responses=True, timeouts)
    .admin_client(**kw)  the same, authenticated with password/username
    .raw(data, ...)      bytes in, bytes out on a fresh connection
    .raw_connection()    a RawConnection (tls=True: to tls-port, with the client certificate)
    .tls_client(cert="client", **kw)  redis.Redis over TLS to tls-port
    .log_text() .stderr_text()
    .stop(sig, expect_status)  signal, wait, assert status, check for sanitizer reports
    .wait_exit(timeout, expect_status)  the same without sending a signal (SHUTDOWN)
    """

    STOP_TIMEOUT = 20.0

    def __init__(self, db=None, conf_lines=(), args=(), wait_loaded=True, password=None,
                 username=None, base_conf=False, cmd_prefix=(), start_timeout=20.0, port=None,
                 env=None, tls=None):
        self.db = db
        self.db_name = db.name if isinstance(db, ScratchDb) else db
        self.conf_lines = list(conf_lines)
        self.args = [str(a) for a in args]
        self.wait_loaded = wait_loaded and self.db_name is not None
        self.password = password
        self.username = username
        self.base_conf = base_conf
        self.cmd_prefix = list(cmd_prefix)
        self.start_timeout = start_timeout
        self.fixed_port = port
        self.env = env
        self.tls = tls
        self.tls_port = None
        self.port = None
        self.unixsocket = None
        self.proc = None
        self.pid = None
        self.tmpdir = None
        self.returncode = None
        self._stderr_file = None
        self._clients = []

    # ---- start ----

    def _keys_set_by_test(self):
        keys = {k for k in map(_conf_key, self.conf_lines) if k}
        keys |= {a[2:].lower() for a in self.args if a.startswith("--") and len(a) > 2}
        return keys

    def _setting(self, key):
        """The value the test gave for key (args win over conf_lines), or None."""
        val = None
        for line in self.conf_lines:
            if _conf_key(line) == key:
                parts = line.strip().split(None, 1)
                val = parts[1].strip().strip("\"'") if len(parts) > 1 else ""
        for i, a in enumerate(self.args):
            if a.lower() == "--" + key and i + 1 < len(self.args):
                val = self.args[i + 1]
        return val

    def command_line(self):
        """The argv the server is (or would be) started with."""
        own = self._keys_set_by_test()
        if "db-password-file" in own or "RBACD_DB_PASSWORD" in (self.env or {}):
            own.add("db-password")
        argv = self.cmd_prefix + [rbacd_bin(), self.conf_path]
        defaults = [
            ("port", str(self.port)),
            ("db-socket", self._db_socket_arg()),
            ("db-name", self.db_name or "rbacd_no_database"),
            ("db-user", DB_APP_USER),
            ("db-password", DB_APP_PASSWORD),
            ("logfile", self.log_path),
        ]
        if self.tls:
            defaults += [
                ("tls-port", str(self.tls_port)),
                ("tls-cert-file", self.tls["server_cert"]),
                ("tls-key-file", self.tls["server_key"]),
                ("tls-ca-cert-file", self.tls["ca"]),
            ]
        for k, v in defaults:
            if k not in own:
                argv += ["--" + k, v]
        return argv + self.args

    def _db_socket_arg(self):
        if self.db_name is None:
            return os.path.join(self.tmpdir, "no-database.sock")
        return db_socket()

    def start(self):
        self.tmpdir = tempfile.mkdtemp(prefix="rbacd-bb-")
        self.conf_path = os.path.join(self.tmpdir, "rbacd.conf")
        self.log_path = os.path.join(self.tmpdir, "rbacd.log")
        self.stderr_path = os.path.join(self.tmpdir, "stderr.log")
        text = ""
        if self.base_conf:
            with open(default_conf_file()) as f:
                text = f.read() + "\n"
        text += "".join(line + "\n" for line in self.conf_lines)
        with open(self.conf_path, "w") as f:
            f.write(text)
        own_port = self._setting("port")
        us = self._setting("unixsocket")
        self.unixsocket = us or None
        attempts = 1 if (own_port is not None or self.fixed_port) else 3
        for attempt in range(attempts):
            if own_port is not None:
                self.port = int(own_port)
            else:
                self.port = self.fixed_port or free_port()
            if self.tls:
                own_tls_port = self._setting("tls-port")
                self.tls_port = int(own_tls_port) if own_tls_port is not None else free_port()
            try:
                self._spawn_and_wait()
                return self
            except ServerError:
                # Another test may have taken the port between free_port() and bind().
                if (attempt + 1 < attempts and self.proc.poll() is not None
                        and "cannot listen" in self.log_text() + self.stderr_text()):
                    self._close_clients()
                    continue
                self._kill()
                raise
            except BaseException:
                self._kill()
                raise
        return self

    def _spawn_and_wait(self):
        if self._stderr_file:
            self._stderr_file.close()
        self._stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.command_line(), stdin=subprocess.DEVNULL,
                                     stdout=self._stderr_file, stderr=self._stderr_file,
                                     env=sanitizer_env(self.env), start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        self.returncode = None
        self.wait_ready(self.start_timeout)
        if self.wait_loaded:
            self.wait_loaded_state(self.start_timeout)

    def _probe(self):
        """True once the server answers a PING (PONG, or NOAUTH when AUTH is needed)."""
        try:
            with self.raw_connection(timeout=1.0, tls=self.port == 0 and bool(self.tls)) as c:
                v = c.call("PING")
        except (OSError, ConnectionError, ValueError, ssl.SSLError):
            return False
        if isinstance(v, RespError):
            return str(v).startswith(("NOAUTH", "LOADING"))
        return v == "PONG"

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerError("rbacd exited with status %s during start-up\n%s" %
                                  (self.proc.returncode, self.diagnostics()))
            if self._probe():
                return
            if time.monotonic() >= deadline:
                raise ServerError("rbacd did not answer PING within %.0fs\n%s" %
                                  (timeout, self.diagnostics()))
            time.sleep(0.02)

    def info(self, section=None):
        """INFO [section] as a dict (via an authenticated client when needed)."""
        r = self.admin_client()
        try:
            return r.info(section) if section else r.info()
        finally:
            close_client(r)

    def wait_loaded_state(self, timeout):
        """Polls INFO persistence every 20 ms until loading:0."""
        deadline = time.monotonic() + timeout
        r = self.admin_client(socket_timeout=5)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise ServerError("rbacd exited with status %s while loading\n%s" %
                                      (self.proc.returncode, self.diagnostics()))
                try:
                    if r.info("persistence").get("loading") == 0:
                        return
                except redis.exceptions.ConnectionError:
                    pass
                if time.monotonic() >= deadline:
                    raise ServerError("rbacd still loading after %.0fs\n%s" %
                                      (timeout, self.diagnostics()))
                time.sleep(0.02)
        finally:
            close_client(r)

    # ---- clients ----

    def client(self, **kw):
        """redis.Redis to this server; keyword arguments go to redis.Redis."""
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("socket_connect_timeout", 10)
        if self.port == 0 and self.unixsocket and "unix_socket_path" not in kw:
            kw["unix_socket_path"] = self.unixsocket
        else:
            kw.setdefault("host", "127.0.0.1")
            kw.setdefault("port", self.port)
        r = redis.Redis(**kw)
        self._clients.append(r)
        return r

    def admin_client(self, **kw):
        """client() with the harness's credentials (password/username), if any."""
        if self.password is not None:
            kw.setdefault("password", self.password)
            if self.username is not None:
                kw.setdefault("username", self.username)
        return self.client(**kw)

    def tls_context(self, cert="client"):
        """An ssl.SSLContext trusting the test CA and presenting the client certificate
        named cert ("client", "other_client", or None for none)."""
        ctx = ssl.create_default_context(cafile=self.tls["ca"])
        if cert:
            ctx.load_cert_chain(self.tls[cert + "_cert"], self.tls[cert + "_key"])
        return ctx

    def tls_client(self, cert="client", **kw):
        """redis.Redis to tls-port, verifying the server against the test CA and
        presenting the client certificate named cert (None: none)."""
        kw.setdefault("ssl", True)
        kw.setdefault("ssl_ca_certs", self.tls["ca"])
        kw.setdefault("ssl_cert_reqs", "required")
        if cert:
            kw.setdefault("ssl_certfile", self.tls[cert + "_cert"])
            kw.setdefault("ssl_keyfile", self.tls[cert + "_key"])
        kw.setdefault("port", self.tls_port)
        kw.setdefault("host", "127.0.0.1")
        return self.client(**kw)

    def raw_connection(self, timeout=10.0, tls=False, cert="client"):
        if tls:
            return RawConnection(self.tls_port, timeout=timeout, tls=self.tls_context(cert))
        if self.port == 0 and self.unixsocket:
            return RawConnection(unix_path=self.unixsocket, timeout=timeout)
        return RawConnection(self.port, timeout=timeout)

    def raw(self, data, timeout=3.0, until=None):
        """Opens a connection, sends data, and reads until the server closes it,
        `timeout` seconds pass with nothing more arriving, or `until` is met: an int
        (that many bytes received), bytes (the reply ends with them) or a callable
        taking the bytes so far. Returns a RawResult (bytes with .closed)."""
        with self.raw_connection(timeout=timeout) as c:
            c.send(data)
            got = b""
            closed = False
            while True:
                if until is not None:
                    if isinstance(until, int) and len(got) >= until:
                        break
                    if isinstance(until, (bytes, bytearray)) and got.endswith(until):
                        break
                    if callable(until) and until(got):
                        break
                c.sock.settimeout(timeout)
                try:
                    chunk = c.sock.recv(1 << 16)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                got += chunk
        res = RawResult(got)
        res.closed = closed
        return res

    # ---- logs ----

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_text(self):
        """The server's log file (the one the harness configured, or the test's)."""
        path = self._setting("logfile") if "logfile" in self._keys_set_by_test() else None
        return self._read(path or self.log_path) if (path or self.log_path) else ""

    def stderr_text(self):
        return self._read(self.stderr_path) if self.tmpdir else ""

    def diagnostics(self):
        return ("--- command: %s\n--- log (last lines):\n%s\n--- stderr (last lines):\n%s" %
                (" ".join(self.command_line()) if self.tmpdir else "?",
                 tail(self.log_text(), 40), tail(self.stderr_text(), 40)))

    def check_sanitizers(self):
        check_sanitizer_output(self.log_text() + "\n" + self.stderr_text(), "rbacd")

    # ---- stop ----

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _close_clients(self):
        for r in self._clients:
            close_client(r)
        self._clients = []

    def wait_exit(self, timeout=None, expect_status=0):
        """Waits for the process to exit by itself; asserts its status (None: any) and
        that no sanitizer report was printed. Returns the status."""
        timeout = self.STOP_TIMEOUT if timeout is None else timeout
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServerError("rbacd (pid %d) did not exit within %.0fs\n%s" %
                              (self.pid, timeout, self.diagnostics()))
        self._close_clients()
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None
        self.check_sanitizers()
        if expect_status is not None and self.returncode != expect_status:
            raise ServerError("rbacd exited with status %s, expected %s\n%s" %
                              (self.returncode, expect_status, self.diagnostics()))
        return self.returncode

    def stop(self, sig=signal.SIGTERM, expect_status=0, timeout=None):
        """Sends sig (SIGTERM), then wait_exit(). A server that already exited is only
        checked."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
        return self.wait_exit(timeout, expect_status)

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)
        self._close_clients()
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None

    def cleanup(self):
        """Removes the temporary directory (kept when KEEP_RBACD_TMP is set)."""
        if self.tmpdir and not os.environ.get("KEEP_RBACD_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                if self.returncode is None:
                    self.stop()
                else:
                    self.check_sanitizers()
            else:
                # The test already failed: stop, but let its own error be the one shown
                # (a sanitizer report is still worth printing).
                try:
                    if self.running():
                        self.stop(expect_status=None, timeout=10)
                except Exception as e:  # noqa: BLE001
                    sys.stderr.write("rbacd stop after failure: %s\n" % e)
                if sanitizer_report(self.log_text() + self.stderr_text()):
                    sys.stderr.write(self.diagnostics() + "\n")
        finally:
            self._kill()
            self.cleanup()
        return False


# ---------------------------------------------------------------------------------------
# unittest helpers
# ---------------------------------------------------------------------------------------


class ServerTestCase(unittest.TestCase):
    """A TestCase sharing one scratch database and one server across its tests.
    Subclasses set CONF_LINES / ARGS / DEMO / USE_DB / PROFILE / SERVER_KW; tests use self.srv,
    self.db and self.r (a fresh admin redis.Redis per test).

    A test during which the server dies (or prints a sanitizer report) fails with the
    server's log and stderr, and the next test gets a new server on the same database,
    so one crash is reported once, by the test that caused it."""

    CONF_LINES = ()
    ARGS = ()
    DEMO = True
    USE_DB = True
    PROFILE = "bitenant"  # the scratch database's schema (scratch_db's profile)
    SERVER_KW = {}

    @classmethod
    def _new_server(cls):
        return RbacdServer(db=cls.db, conf_lines=cls.CONF_LINES, args=cls.ARGS,
                           **cls.SERVER_KW).start()

    @classmethod
    def setUpClass(cls):
        cls.db = (scratch_db(cls.__name__.lower(), demo=cls.DEMO, profile=cls.PROFILE)
                  if cls.USE_DB else None)
        try:
            cls.srv = cls._new_server()
        except BaseException:
            if cls.db:
                cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.srv.running():
                cls.srv.stop()
        finally:
            cls.srv._kill()
            cls.srv.cleanup()
            if cls.db:
                cls.db.drop()

    def setUp(self):
        if not self.srv.running():
            type(self)._replace_server()
        self.r = self.srv.admin_client()

    @classmethod
    def _replace_server(cls):
        old = cls.srv
        old._kill()
        old.cleanup()
        cls.srv = cls._new_server()

    def tearDown(self):
        close_client(self.r)
        srv = self.srv
        report = sanitizer_report(srv.log_text() + srv.stderr_text())
        if srv.running() and not report:
            return
        diag = srv.diagnostics()
        status = srv.proc.poll()
        type(self)._replace_server()
        self.fail("the server %s during this test:\n%s" %
                  ("died (status %s)" % status if status is not None
                   else "printed a sanitizer report (%s)" % report, diag))


def main():
    """unittest.main with verbosity 2; exits non-zero on failure."""
    unittest.main(verbosity=2)


# ---------------------------------------------------------------------------------------
# serve mode, for the shell and Node.js tests
# ---------------------------------------------------------------------------------------


def serve(argv):
    ap = argparse.ArgumentParser(prog="harness.py serve",
                                 description="Start a scratch database and an rbacd; print "
                                 "'PORT PID'; stop both when stdin closes.")
    ap.add_argument("--no-db", action="store_true", help="no database (never loads)")
    ap.add_argument("--no-demo", action="store_true", help="schema only, no demo data")
    ap.add_argument("--profile", choices=PROFILES, default="bitenant",
                    help="schema and demo of this profile; the server gets --profile too "
                    "unless it is bitenant")
    ap.add_argument("--conf", action="append", default=[], metavar="LINE",
                    help="a configuration line, e.g. 'timeout 5' (repeatable)")
    ap.add_argument("--arg", action="append", default=[], metavar="ARG",
                    help="one extra command-line argument (repeatable)")
    ap.add_argument("--password", help="requirepass the harness authenticates with")
    ap.add_argument("--tls", action="store_true",
                    help="also a tls-port with certificates made by make_certs()")
    opts = ap.parse_args(argv)

    cert_dir = tempfile.mkdtemp(prefix="rbacd-certs-") if opts.tls else None
    try:
        certs = make_certs(cert_dir) if cert_dir else None
    except BaseException:
        shutil.rmtree(cert_dir, ignore_errors=True)
        raise
    db = None if opts.no_db else scratch_db("serve", demo=not opts.no_demo,
                                            profile=opts.profile)
    args = opts.arg if opts.profile == "bitenant" else ["--profile", opts.profile] + opts.arg
    srv = RbacdServer(db=db, conf_lines=opts.conf, args=args, password=opts.password,
                      tls=certs)
    status = 0
    try:
        srv.start()
        line = "%d %d" % (srv.port, srv.pid)
        if cert_dir:
            line += " %d %s" % (srv.tls_port, cert_dir)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        # Wait for EOF on stdin (the test is done), whatever it writes.
        while sys.stdin.buffer.read(4096):
            pass
        if not srv.running():
            raise ServerError("rbacd exited before the test ended (status %s)\n%s" %
                              (srv.proc.returncode, srv.diagnostics()))
        srv.stop()
    except Exception as e:  # noqa: BLE001
        sys.stderr.write("harness serve: %s\n" % e)
        status = 1
    finally:
        srv._kill()
        srv.cleanup()
        if cert_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)
        if db:
            with contextlib.suppress(Exception):
                db.drop()
    return status


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        sys.exit(serve(sys.argv[2:]))
    sys.stderr.write("usage: harness.py serve [--no-db] [--profile P] [--conf LINE ...] "
                     "[--arg ARG ...] [--tls]\n")
    sys.exit(2)
