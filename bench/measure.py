#!/usr/bin/python3
"""measure.py — the measurements of bench/run, its table, RESULTS.md and the pictures.

    measure.py wait-loaded --port P --pid PID --since-ns NS [--timeout S]
        polls rbacd's INFO persistence every 5 ms; prints the milliseconds from NS
        (a CLOCK_REALTIME time in ns, `date +%s%N` before the exec) to loading:0.
    measure.py load-sql --log GENERAL_LOG --out FILE
        the statements of rbacd's model load, taken from MariaDB's general log, as a
        script for the raw `mariadb --quick` read of the same rows.
    measure.py run --facts FILE
        everything else, with the servers bench/run started (their ports and pids are
        in FILE, key=value lines): prints the table, writes RESULTS.md and appends to
        the growth data the pictures are drawn from.

The rules every row follows (RESULTS.md repeats them under "Method"):
  * each row's two figures come from this run, measured one after the other on the
    same machine, with the same redis-benchmark options;
  * server CPU per request = utime + stime of the server process (/proc/<pid>/stat, all
    its threads) after the redis-benchmark run minus before, over the requests sent;
  * nothing else this script starts runs during a measured row, except the load the
    row describes.
"""

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_data  # noqa: E402  (the data set's password hash)
import refdata  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
CODE = "m:10"  # the menu of the permission checks (a perms code)
CLIENTS = 50
SIZES = {
    # n1 / n16: requests per redis-benchmark run at -P 1 / -P 16, sized so that the
    # server spends at least ~0.3 s of CPU in each (clock ticks are 10 ms).
    # write_s: the length of the SESSION CREATE runs (sized by a probe, at most create_n).
    "small": dict(n1=50000, n16=400000, mixed_s=4, login_n=48, bcrypt_s=2, create_n=20000,
                  write_s=1, touch_n=50000, sql_queries=300, grant_rounds=3),
    "large": dict(n1=300000, n16=2000000, mixed_s=15, login_n=160, bcrypt_s=5,
                  create_n=100000, write_s=3, touch_n=200000, sql_queries=2000,
                  grant_rounds=3),
    # huge: a RELOAD of 10M users takes tens of seconds; the mixed run must outlast it.
    "huge": dict(n1=300000, n16=2000000, mixed_s=60, login_n=160, bcrypt_s=5,
                 create_n=100000, write_s=3, touch_n=200000, sql_queries=2000,
                 grant_rounds=3),
}
SESSION_PROCS = 5  # redis-benchmark processes of the TOUCH rows, one session each
SESSION_LUA = """local s = redis.call('GET', KEYS[1])
if not s then return redis.error_reply('NOSESSION') end
return redis.call('SISMEMBER', 'perms:' .. s, ARGV[1])"""


T0 = time.monotonic()


def log(msg):
    print("measure.py: [%5.1fs] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


# ------------------------------------------------------------------- helpers ---- #

def cpu_ticks(pid):
    """utime + stime of a process (all threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def machine_busy_ticks():
    """CPU time every core of the machine spent busy (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6]


class OthersGauge:
    """How much CPU programs other than this run's used while it measured: the machine's
    busy time less that of the servers, their clients and this script."""

    def __init__(self, pids):
        self.pids = pids
        self.t0 = time.monotonic()
        self.busy0 = machine_busy_ticks()
        self.ours0 = self.ours()

    def ours(self):
        t = os.times()
        total = (t.user + t.system + t.children_user + t.children_system) * HZ
        for pid in self.pids:
            try:
                total += cpu_ticks(pid)
            except OSError:
                pass
        return total

    def cores(self):
        """Average number of cores the others kept busy."""
        others = (machine_busy_ticks() - self.busy0) - (self.ours() - self.ours0)
        return max(0.0, others / HZ / (time.monotonic() - self.t0))


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def info_raw(port, section, timeout=2.0):
    """INFO section over a plain socket (fast enough to poll every few ms)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(refdata.resp("INFO", section))
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if buf.startswith(b"$"):
                n = int(buf[1:buf.index(b"\r\n")])
                if len(buf) >= buf.index(b"\r\n") + 2 + n + 2:
                    break
            elif buf.endswith(b"\r\n"):
                break
    out = {}
    for line in buf.decode(errors="replace").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_loaded(port, pid, timeout, field="loading"):
    """Waits until the server on port answers INFO persistence with field 0."""
    deadline = time.monotonic() + timeout
    while True:
        if pid and not os.path.exists("/proc/%d" % pid):
            die("the server (pid %d) exited while loading" % pid)
        try:
            if info_raw(port, "persistence", 1.0).get(field) == "0":
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            die("port %d did not finish loading in %.0f s" % (port, timeout))
        time.sleep(0.005)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def read_facts(path):
    facts = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                facts[k] = v
    return facts


class Killer:
    """Processes started here, ended on any exit (SIGTERM from bench/run included)."""

    def __init__(self):
        self.procs = []
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def add(self, p):
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for p in self.procs:
            self.stop(p)


KILLER = None


# ------------------------------------------------------------ redis-benchmark ---- #

RB_THROUGHPUT = re.compile(r"throughput summary:\s*([\d.]+) requests per second")
RB_PCT = re.compile(r"^\s*([\d.]+)% <= ([\d.]+) milliseconds", re.M)


def parse_rb(out):
    """rps, latencies (ms) and p99.9 from redis-benchmark's full report."""
    text = out.replace("\r", "\n")
    m = RB_THROUGHPUT.search(text)
    if not m:
        return None
    res = {"rps": float(m.group(1))}
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.split() == ["avg", "min", "p50", "p95", "p99", "max"] and i + 1 < len(lines):
            vals = [float(x) for x in lines[i + 1].split()]
            res.update(zip(["avg", "min", "p50", "p95", "p99", "max"], vals))
    # p99.9: the first point of the percentile distribution at or past 99.9%
    # (HdrHistogram's value there; the distribution's steps halve towards 100%).
    dist = text.split("Latency by percentile distribution:", 1)
    if len(dist) == 2:
        part = dist[1].split("Cumulative distribution", 1)[0]
        for pct, ms in RB_PCT.findall(part):
            if float(pct) >= 99.9:
                res["p999"] = float(ms)
                break
    return res


class Bench:
    def __init__(self, facts, logdir):
        self.facts = facts
        self.ports = {"rbacd": int(facts["rbacd_port"]), "redis": int(facts["redis_port"])}
        self.pids = {"rbacd": int(facts["rbacd_pid"]), "redis": int(facts["redis_pid"])}
        self.commands = []  # what ran, for RESULTS.md
        self.raw = open(os.path.join(logdir, "redis-benchmark.txt"), "w")

    def cmdline(self, who, n, c, pipe, rand, args):
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.ports[who]), "-n", str(n),
               "-c", str(c), "-P", str(pipe)]
        if rand:
            cmd += ["-r", str(rand)]
        return cmd + [str(a) for a in args]

    def note_command(self, who, cmd):
        # cmd[4] is the port: shown as the variable bench/run sets.
        self.commands.append("%s $%s_PORT %s" % (shlex.join(cmd[:4]), who.upper(),
                                                 shlex.join(cmd[5:])))

    def run(self, who, args, n, c=CLIENTS, pipe=1, rand=0, cpu=True):
        cmd = self.cmdline(who, n, c, pipe, rand, args)
        self.note_command(who, cmd)
        pid = self.pids[who]
        c0 = cpu_ticks(pid) if cpu else 0
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - t0
        c1 = cpu_ticks(pid) if cpu else 0
        self.raw.write("### %s\n%s\n%s\n" % (shlex.join(cmd), p.stdout, p.stderr))
        self.raw.flush()
        res = parse_rb(p.stdout)
        if p.returncode != 0 or res is None or "Error from server" in p.stdout + p.stderr:
            die("redis-benchmark failed: %s\n%s" % (shlex.join(cmd),
                                                   (p.stdout + p.stderr)[-1500:]))
        res["wall_s"] = wall
        res["n"] = n
        if cpu:
            res["cpu_s"] = (c1 - c0) / HZ
            res["cpu_us"] = (c1 - c0) / HZ / n * 1e6
        return res

    def run_procs(self, who, per_proc_args, n_each, c_each, rand=0):
        """Several redis-benchmark processes at once (each its own arguments); requests
        per second = all requests / the time from the first start to the last end."""
        procs = []
        t0 = time.monotonic()
        for args in per_proc_args:
            cmd = self.cmdline(who, n_each, c_each, 1, rand, args)
            self.note_command(who, cmd)
            procs.append((cmd, KILLER.add(subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))))
        outs = [(cmd, p.communicate()[0], p.returncode) for cmd, p in procs]
        wall = time.monotonic() - t0
        parsed = []
        for cmd, out, rc in outs:
            self.raw.write("### %s\n%s\n" % (shlex.join(cmd), out))
            r = parse_rb(out)
            if rc != 0 or r is None or "Error from server" in out:
                die("redis-benchmark failed: %s\n%s" % (shlex.join(cmd), out[-1500:]))
            parsed.append(r)
        self.raw.flush()
        total = n_each * len(per_proc_args)
        return {"rps": total / wall, "wall_s": wall, "n": total,
                "p50": median([r["p50"] for r in parsed]),
                "p99": max(r["p99"] for r in parsed)}


# ------------------------------------------------------------------ the run ---- #

class Run:
    def __init__(self, facts):
        self.f = facts
        self.size = facts["size"]
        self.p = SIZES[self.size]
        self.logdir = facts["log_dir"]
        self.bench = Bench(facts, self.logdir)
        self.rb = redis.Redis(host="127.0.0.1", port=int(facts["rbacd_port"]),
                              socket_timeout=600, decode_responses=True)
        self.rb2 = redis.Redis(host="127.0.0.1", port=int(facts["rbacd2_port"]),
                               socket_timeout=600, decode_responses=True)
        self.rs = redis.Redis(host="127.0.0.1", port=int(facts["redis_port"]),
                              socket_timeout=600, decode_responses=True)
        self.big = int(facts["big"])
        self.users = int(facts["users"])
        self.m = {}  # measured figures
        self.notes = {}
        self.other_commands = []

    def db(self):
        import pymysql
        return pymysql.connect(unix_socket=self.f["db_socket"], user="root", password="",
                               database=self.f["db_name"], autocommit=True)

    def sql_one(self, q):
        conn = self.db()
        try:
            cur = conn.cursor()
            cur.execute(q)
            return cur.fetchall()
        finally:
            conn.close()

    # --- load and memory ------------------------------------------------------------
    def load_and_memory(self):
        m = self.m
        pid = int(self.f["rbacd_pid"])
        info = self.rb.info("rbac")
        m["rbacd_users"] = int(info["users"])
        m["rbacd_model_bytes"] = int(info["model_bytes"])
        m["rbacd_rss"] = vm_rss(pid)
        m["cold_ms"] = float(self.f["cold_ms"])
        m["load_ms_reported"] = float(self.rb.info("persistence")["last_load_duration_ms"])

        # The raw read: the statements rbacd's load ran (from MariaDB's general log),
        # through the mariadb client with --quick, output thrown away.
        cli = ["mariadb", "--no-defaults", "--user=root", "--socket=" + self.f["db_socket"],
               "--quick", "--batch", "--skip-column-names", self.f["db_name"]]
        self.other_commands.append("mariadb --no-defaults --user=root --socket=$DB_SOCKET "
                                   "--quick --batch --skip-column-names %s < load.sql "
                                   "> /dev/null  # 3 times" % self.f["db_name"])
        raw = []
        for _ in range(3):
            with open(self.f["load_sql"]) as fin:
                t0 = time.monotonic()
                subprocess.run(cli, stdin=fin, stdout=subprocess.DEVNULL, check=True)
                raw.append((time.monotonic() - t0) * 1000)
        m["raw_read_ms"] = median(raw)
        m["raw_read_all"] = raw
        reloads = []
        for _ in range(3):
            t0 = time.monotonic()
            self.rb.execute_command("RELOAD")
            reloads.append((time.monotonic() - t0) * 1000)
        m["reload_ms"] = median(reloads)
        m["reload_all"] = reloads
        log("cold start %.0f ms (reported %.0f), raw read %.0f ms, RELOAD %.0f ms, RSS %.1f MiB"
            % (m["cold_ms"], m["load_ms_reported"], m["raw_read_ms"], m["reload_ms"],
               m["rbacd_rss"] / 1048576))

    def fill_redis(self):
        m = self.m
        maxu = int(self.f.get("redis_max_users", "0"))
        users = refdata.live_users(self.f["db_socket"], self.f["db_name"], maxu)
        log("copying rbacd's answers into redis-server (%s)"
            % ("every user" if not maxu else "the first %d users" % maxu))
        r = refdata.fill(int(self.f["rbacd_port"]), int(self.f["redis_port"]), users, 1, 1,
                         self.big, self.big, CODE + ",sys:user:add")
        m["fill"] = r
        if r["check_mismatches"]:
            log("WARNING: rbacd and redis disagree on %d of %d answers"
                % (r["check_mismatches"], r["check_pairs"]))
        held = r["fill_users"]
        base = r["redis_rss_empty"]
        m["redis_held_users"] = held
        m["redis_rss_perms"] = r["redis_rss_perms"]
        # Redis holding every user: measured, or scaled from the users it holds.
        m["redis_rss_same_users"] = base + (r["redis_rss_perms"] - base) * m["rbacd_users"] / held
        # The two layouts per user, from MEMORY USAGE of a sample of keys (the growth of
        # used_memory would also count the keyspace's own rehashing).
        m["redis_perms_key_bytes"] = self.memory_usage("perms:1:%012d")
        m["redis_ids_key_bytes"] = self.memory_usage("menus:1:%012d")

        # Redis's own cold start: a second redis-server loading a dump of the same keys.
        self.rs.execute_command("SAVE")
        cfg = self.rs.config_get("dir")
        rdb_dir = cfg["dir"]
        port = int(self.f["redis_rdb_port"])
        cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", rdb_dir,
               "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no",
               "--logfile", os.path.join(self.logdir, "redis-rdb.log")]
        self.other_commands.append("redis-server --bind 127.0.0.1 --port $PORT --dir $TMP "
                                   "--dbfilename dump.rdb --save '' --appendonly no  "
                                   "# after SAVE on the first one")
        t0 = time.monotonic()
        p = KILLER.add(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_loaded(port, p.pid, 3600)
        m["redis_rdb_ms"] = (time.monotonic() - t0) * 1000
        KILLER.stop(p)
        try:
            os.unlink(os.path.join(rdb_dir, "dump.rdb"))
        except OSError:
            pass
        log("redis: RSS %.1f MiB for %d users; restart from its dump %.0f ms"
            % (r["redis_rss_perms"] / 1048576, held, m["redis_rdb_ms"]))

    def memory_usage(self, pattern, sample=1000):
        rnd = random.Random(3)
        p = self.rs.pipeline(transaction=False)
        for _ in range(sample):
            p.execute_command("MEMORY", "USAGE", pattern % rnd.randint(1, self.big))
        sizes = [int(x) for x in p.execute() if x is not None]
        return sum(sizes) / len(sizes) if sizes else float("nan")

    # --- the fixed users --------------------------------------------------------------
    def pick_users(self):
        rows = self.sql_one("SELECT id FROM tenant_user WHERE tenant_id = 1 AND status = 1 "
                            "AND deleted_at = 0 AND is_admin = 0 ORDER BY id LIMIT 2000")
        ids = [int(r[0]) for r in rows]
        p = self.rb.pipeline(transaction=False)
        for u in ids:
            p.execute_command("CANMENU", 1, u, CODE)
        allowed = [u for u, a in zip(ids, p.execute()) if int(a) == 1]
        if len(allowed) < SESSION_PROCS + 1:
            die("too few users of tenant 1 are allowed %s" % CODE)
        self.user = allowed[0]  # the session user of the fixed-token rows
        self.session_users = allowed[1:1 + SESSION_PROCS]
        self.token = self.rb.execute_command("SESSION", "CREATE", 1, self.user)
        self.tokens = [self.rb.execute_command("SESSION", "CREATE", 1, u)
                       for u in self.session_users]
        self.sha = self.rs.script_load(SESSION_LUA)
        assert int(self.rb.execute_command("SESSION", "CANMENU", self.token, CODE)) == 1
        assert int(self.rs.evalsha(self.sha, 1, refdata.sess_key(self.user), CODE)) == 1

    # --- throughput and CPU per request ------------------------------------------------
    def pairs(self):
        b, K, p = self.bench, self.big, self.p
        sk = refdata.sess_key(self.user)
        pairs = [
            ("canmenu", ["CANMENU", 1, "__rand_int__", CODE],
             ["SISMEMBER", "perms:1:__rand_int__", CODE], K),
            ("menus", ["MENUS", 1, "__rand_int__"], ["SMEMBERS", "menus:1:__rand_int__"], K),
            ("codes", ["MENUS", 1, "__rand_int__", "CODES"],
             ["SMEMBERS", "perms:1:__rand_int__"], K),
            ("session", ["SESSION", "CANMENU", self.token, CODE],
             ["EVALSHA", self.sha, 1, sk, CODE], 0),
        ]
        runs = {}
        repeat = int(self.f.get("repeat", "1"))
        for k in range(repeat):
            for pipe in (1, 16):
                n = p["n1"] if pipe == 1 else p["n16"]
                log("redis-benchmark -c %d -P %d -n %d%s" % (
                    CLIENTS, pipe, n, " (round %d of %d)" % (k + 1, repeat) if repeat > 1 else ""))
                todo = [x for (name, a, r, rand) in pairs
                        for x in (("%s_rbacd_%d" % (name, pipe), "rbacd", a, rand),
                                  ("%s_redis_%d" % (name, pipe), "redis", r, rand))]
                todo.append(("ping_%d" % pipe, "rbacd", ["PING"], 0))
                # What a random session costs Redis (rbacd cannot be given one: see Method).
                todo.append(("session_redis_rand_%d" % pipe, "redis",
                             ["EVALSHA", self.sha, 1, "sess:__rand_int__", CODE], K))
                for key, who, args, rand in todo:
                    runs.setdefault(key, []).append(b.run(who, args, n, pipe=pipe, rand=rand))
        # With --repeat, each figure is the median of the rounds (run interleaved).
        for key, rs in runs.items():
            self.m[key] = {f: median([r[f] for r in rs]) for f in rs[0]
                           if all(_num(r.get(f)) for r in rs)}

    # --- sessions, logins ----------------------------------------------------------------
    def sized(self, who, args, rand, max_n, seconds, c=CLIENTS):
        """A run of about `seconds` (at most max_n requests), sized by a short probe: a
        write path may be far slower than the size expects."""
        probe = max(200, max_n // 50)
        r = self.bench.run(who, args, probe, c=c, rand=rand, cpu=False)
        n = int(min(max_n, max(probe, r["rps"] * seconds)))
        return self.bench.run(who, args, n, c=c, rand=rand, cpu=False)

    def sessions(self):
        b, p = self.bench, self.p
        su = int(self.f["session_users"])
        log("SESSION CREATE: -c %d -r %d (session users 1%s..)" % (CLIENTS, su, "0" * 12))
        w0 = self.rb.info("sessions")
        self.m["create"] = self.sized("rbacd", ["SESSION", "CREATE", 1, "1__rand_int__"], su,
                                      p["create_n"], p["write_s"])
        w1 = self.rb.info("sessions")
        commits = int(w1["group_commits"]) - int(w0["group_commits"])
        writes = int(w1["session_writes"]) - int(w0["session_writes"])
        self.notes["create_batch"] = writes / commits if commits else float("nan")
        self.m["create_redis"] = self.sized(
            "redis", ["SET", "sess:1__rand_int__", "1:1__rand_int__", "EX",
                      refdata.SESSION_TTL_S], su, p["create_n"], p["write_s"])
        n_each = p["touch_n"] // SESSION_PROCS
        c_each = CLIENTS // SESSION_PROCS
        log("SESSION TOUCH: %d processes x %d clients, one session each" % (SESSION_PROCS, c_each))
        self.m["touch"] = b.run_procs("rbacd", [["SESSION", "TOUCH", t] for t in self.tokens],
                                      n_each, c_each)
        self.m["touch_redis"] = b.run_procs(
            "redis", [["EXPIRE", refdata.sess_key(u), refdata.SESSION_TTL_S]
                      for u in self.session_users], n_each, c_each)

    def logins(self):
        b, p = self.bench, self.p
        exe = self.f["bcrypt_rate"]
        threads = os.cpu_count() or 1
        cmd = [exe, str(threads), str(p["bcrypt_s"]), gen_data.PASSWORD_HASH, "password"]
        self.other_commands.append(shlex.join(["bench/bcrypt_rate"] + cmd[1:]))
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        kv = dict(line.split("=", 1) for line in out.split())
        self.m["bcrypt_raw"] = float(kv["verifies_per_s"])
        log("raw bcrypt: %.1f verifies/s on %d threads" % (self.m["bcrypt_raw"], threads))
        su = int(self.f["session_users"])
        login = ["SESSION", "LOGIN", "t1", "s__rand_int__", "password"]
        self.m["login"] = b.run("rbacd", login, p["login_n"], c=8, rand=su, cpu=False)
        # CANMENU while logins run without pause: its p99 against the quiet one.
        # Its reference: the same CANMENU run alone, right before.
        self.m["canmenu_before_login"] = b.run("rbacd", ["CANMENU", 1, "__rand_int__", CODE],
                                               p["n1"], rand=self.big)
        cmd = b.cmdline("rbacd", 100000, 8, 1, su, login)
        b.note_command("rbacd", cmd)
        lp = KILLER.add(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))
        try:
            time.sleep(1.0)
            l0 = int(self.rb.info("sessions")["logins_ok"])
            t0 = time.monotonic()
            self.m["canmenu_during_login"] = b.run("rbacd", ["CANMENU", 1, "__rand_int__", CODE],
                                                   p["n1"], rand=self.big)
            l1 = int(self.rb.info("sessions")["logins_ok"])
            self.notes["logins_during"] = (l1 - l0) / (time.monotonic() - t0)
        finally:
            KILLER.stop(lp)
        # Let the queued password checks drain before the next row.
        deadline = time.monotonic() + 60
        while int(self.rb.info("sessions")["logins_in_progress"]) and time.monotonic() < deadline:
            time.sleep(0.1)

    # --- the mixed load -----------------------------------------------------------------
    def mixed(self):
        p = self.p
        rows = self.sql_one("SELECT id FROM tenant_role WHERE tenant_id = 2 AND status = 1 "
                            "AND deleted_at = 0 ORDER BY id LIMIT 1")
        role = int(rows[0][0])
        menus = ["sys:role:add", "sys:role:edit", "sys:user:delete", "sys:user:edit"]
        su = int(self.f["session_users"])
        port = int(self.f["rbacd_port"])
        stop = threading.Event()
        done = {"writes": 0, "logins": 0, "login_errors": 0, "reload_ms": None, "errors": []}
        lock = threading.Lock()

        def count(key):
            with lock:
                done[key] += 1

        def paced(rate, fn):
            """Calls fn(i) at `rate` per second, on schedule (late calls go at once)."""
            c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=120,
                            decode_responses=True)
            t0 = time.monotonic()
            i = 0
            while not stop.is_set():
                wait = t0 + i / rate - time.monotonic()
                if wait > 0 and stop.wait(wait):
                    break
                try:
                    fn(c, i)
                except redis.RedisError as e:
                    done["errors"].append(str(e))
                i += 1

        def write(c, i, menu):
            # GRANT then REVOKE of one menu: the data set ends as it began.
            c.execute_command("ROLE", "GRANT" if i % 2 == 0 else "REVOKE", 2, role, menu)
            count("writes")

        def login(c, i):
            tok = c.execute_command("SESSION", "LOGIN", "t1", "s%012d" % ((i * 7919) % su),
                                    "password")
            count("logins" if tok else "login_errors")

        def reload():
            if stop.wait(p["mixed_s"] / 3):
                return
            c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=600)
            t0 = time.monotonic()
            c.execute_command("RELOAD")
            done["reload_ms"] = (time.monotonic() - t0) * 1000

        # 100 writes a second from as many threads as menus (a write waits for its
        # commit: one thread alone would slow down with the database); 20 logins a
        # second, each a password check of ~50-80 ms: several in flight.
        login_threads = 8
        threads = [threading.Thread(target=paced, args=(100 / len(menus),
                                                        lambda c, i, m=m: write(c, i, m)),
                                    daemon=True) for m in menus]
        threads.append(threading.Thread(target=reload, daemon=True))
        threads += [threading.Thread(target=paced, args=(20 / login_threads,
                                                         lambda c, i, k=k: login(
                                                             c, i * login_threads + k)),
                                     daemon=True) for k in range(login_threads)]
        n = int(self.m["canmenu_rbacd_1"]["rps"] * p["mixed_s"])
        log("quiet CANMENU -c %d -n %d, then the same with 100 writes/s, 20 LOGIN/s and one "
            "RELOAD" % (CLIENTS, n))
        self.m["mixed_quiet"] = self.bench.run("rbacd", ["CANMENU", 1, "__rand_int__", CODE], n,
                                               rand=self.big)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        try:
            res = self.bench.run("rbacd", ["CANMENU", 1, "__rand_int__", CODE], n,
                                 rand=self.big)
        finally:
            stop.set()
            for t in threads:
                t.join(120)
        dt = time.monotonic() - t0
        # Whatever the last write was, leave the role as it was.
        self.rb.execute_command("ROLE", "REVOKE", 2, role, *menus)
        self.m["mixed"] = res
        self.notes["mixed"] = {"writes_per_s": done["writes"] / dt,
                               "logins_per_s": done["logins"] / dt,
                               "login_errors": done["login_errors"],
                               "reload_ms": done["reload_ms"], "seconds": dt,
                               "errors": done["errors"][:3]}
        if done["errors"]:
            log("mixed load: %d errors, first: %s" % (len(done["errors"]), done["errors"][0]))
        log("mixed load: p99 %.3f ms; %.0f writes/s, %.1f logins/s, RELOAD %s ms"
            % (res["p99"], done["writes"] / dt, done["logins"] / dt,
               "%.0f" % done["reload_ms"] if done["reload_ms"] else "not finished"))

    # --- a grant to a role many users hold ----------------------------------------------
    def grant(self):
        role = int(self.f["grant_role"])
        holders = [int(r[0]) for r in self.sql_one(
            "SELECT user_id FROM tenant_user_role WHERE role_id = %d" % role)]
        rbacd_ms, rbacd2_ms, redis_ms = [], [], []
        for _ in range(self.p["grant_rounds"]):
            # The Redis pattern: the application writes the row, finds the role's users,
            # and adds the permission to each user's cached set (pipelined).
            conn = self.db()
            t0 = time.monotonic()
            cur = conn.cursor()
            cur.execute("INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) "
                        "SELECT 1, %d, id FROM tenant_menu WHERE perms = 'sys:role:add'" % role)
            cur.execute("SELECT user_id FROM tenant_user_role WHERE role_id = %d" % role)
            users = [int(r[0]) for r in cur.fetchall()]
            pipe = self.rs.pipeline(transaction=False)
            for i, u in enumerate(users):
                pipe.sadd(refdata.perms_key(1, u), "sys:role:add")
                if i % 1000 == 999:
                    pipe.execute()
            pipe.execute()
            redis_ms.append((time.monotonic() - t0) * 1000)
            cur.execute("SELECT MAX(id) FROM rbac_change")
            rev = int(cur.fetchone()[0] or 0)
            conn.close()
            # Both instances have applied that change before rbacd's own grant.
            for c in (self.rb, self.rb2):
                if int(c.execute_command("WAITREV", rev, 10000)) != 1:
                    die("an instance did not apply change %d in 10 s" % rev)
            # rbacd: one command; the second instance has it once WAITREV returns.
            t0 = time.monotonic()
            n = int(self.rb.execute_command("ROLE", "GRANT", 1, role, "sys:role:edit"))
            t1 = time.monotonic()
            rev = self.rb.execute_command("REVISION")
            if int(self.rb2.execute_command("WAITREV", rev, 10000)) != 1:
                die("the second instance did not apply revision %s in 10 s" % rev)
            t2 = time.monotonic()
            if n != 1:
                die("ROLE GRANT 1 %d sys:role:edit answered %d" % (role, n))
            rbacd_ms.append((t1 - t0) * 1000)
            rbacd2_ms.append((t2 - t0) * 1000)
            self.rb.execute_command("ROLE", "REVOKE", 1, role, "sys:role:add", "sys:role:edit")
        self.m["grant_rbacd_ms"] = median(rbacd_ms)
        self.m["grant_rbacd2_ms"] = median(rbacd2_ms)
        self.m["grant_redis_ms"] = median(redis_ms)
        self.m["grant_holders"] = len(holders)
        log("grant to a role of %d users: rbacd %.1f ms (second instance %.1f ms), "
            "Redis pattern %.1f ms" % (len(holders), self.m["grant_rbacd_ms"],
                                       self.m["grant_rbacd2_ms"], self.m["grant_redis_ms"]))

    def sql(self):
        self.m["sql"] = refdata.sql(int(self.f["rbacd_port"]), self.f["db_socket"],
                                    self.f["db_name"], 1, 1, self.big, CODE + ",sys:user:add",
                                    self.p["sql_queries"])

    def finish(self):
        self.m["rbacd_rss_end"] = vm_rss(int(self.f["rbacd_pid"]))
        self.m["redis_rss_end"] = vm_rss(int(self.f["redis_pid"]))


# ------------------------------------------------------------------- the table ---- #

class Row:
    def __init__(self, label, rbacd, ref, unit, targets=(), note=""):
        self.label, self.rbacd, self.ref, self.unit = label, rbacd, ref, unit
        self.targets = list(targets)  # (on, op, value, text, applies)
        self.note = note

    @property
    def ratio(self):
        if self.ref and _num(self.rbacd) and _num(self.ref):
            return self.rbacd / self.ref
        return None

    def target_text(self):
        return "; ".join(t[3] + ("" if t[4] else " (n/a)") for t in self.targets)

    def mark(self):
        live = [t for t in self.targets if t[4]]
        if not live:
            return ""
        for on, op, value, _, _ in live:
            x = self.ratio if on == "ratio" else self.rbacd
            if x is None or not (x >= value if op == ">=" else x <= value if op == "<=" else x < value):
                return "MISS"
        return "PASS"


def _num(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def fmt(x, unit):
    if not _num(x):
        return "-"
    if unit == "rps" or unit == "/s":
        return "{:,.0f}".format(x) if x >= 100 else "{:.1f}".format(x)
    if unit == "us":
        return "{:.2f} µs".format(x)
    if unit == "ms":
        return ("{:.3f} ms" if x < 10 else "{:,.0f} ms").format(x)
    if unit == "MiB":
        return "{:,.1f} MiB".format(x / 1048576)
    if unit == "B":
        return "{:,.0f} B".format(x)
    return "{:g}".format(x)


def build_rows(run):
    m, n = run.m, run.notes
    big_users = m["rbacd_users"] >= 1000000
    rows = []

    def T(on, op, value, text, applies=True):
        return (on, op, value, text, applies)

    names = {"canmenu": ("CANMENU", "SISMEMBER"), "menus": ("MENUS", "SMEMBERS ids"),
             "codes": ("MENUS CODES", "SMEMBERS codes"),
             "session": ("SESSION CANMENU", "GET+SISMEMBER EVALSHA")}
    for name, (a, b) in names.items():
        for pipe in (1, 16):
            r1, r2 = m["%s_rbacd_%d" % (name, pipe)], m["%s_redis_%d" % (name, pipe)]
            t = []
            if name == "canmenu":
                t = [T("ratio", ">=", 1.2, "≥ 1.2×")]
            elif name == "menus":
                t = [T("ratio", ">=", 1.5, "≥ 1.5×")]
            note = ""
            if name == "session":
                note = "Redis with random tokens: %s rps" % fmt(
                    m["session_redis_rand_%d" % pipe]["rps"], "rps")
            rows.append(Row("%s vs %s, rps, -P %d" % (a, b, pipe), r1["rps"], r2["rps"], "rps",
                            t, note))
    for name, (a, b) in names.items():
        for pipe in (1, 16):
            r1, r2 = m["%s_rbacd_%d" % (name, pipe)], m["%s_redis_%d" % (name, pipe)]
            t = [T("ratio", "<=", 0.7, "≤ 0.7×")] if name == "canmenu" else []
            rows.append(Row("%s vs %s, server CPU/request, -P %d" % (a, b, pipe),
                            r1["cpu_us"], r2["cpu_us"], "us", t))
    for pipe in (1, 16):
        rows.append(Row("CANMENU vs rbacd's own PING, rps, -P %d" % pipe,
                        m["canmenu_rbacd_%d" % pipe]["rps"], m["ping_%d" % pipe]["rps"], "rps",
                        [T("ratio", ">=", 0.95, "≥ 0.95×")],
                        "PING server CPU %.2f µs/request" % m["ping_%d" % pipe]["cpu_us"]))
    held = m["redis_held_users"]
    scaled = held < m["rbacd_users"]
    rows.append(Row("RSS, rbacd vs redis-server (perms sets of the same users)",
                    m["rbacd_rss"], m["redis_rss_same_users"], "MiB",
                    [T("ratio", "<=", 0.5, "≤ 0.5×")],
                    ("Redis scaled from %d users it held; " % held if scaled else "") +
                    "rbacd model_bytes %s" % fmt(m["rbacd_model_bytes"], "MiB")))
    rows.append(Row("RSS bytes per user", m["rbacd_rss"] / m["rbacd_users"],
                    m["redis_rss_same_users"] / m["rbacd_users"], "B",
                    [T("rbacd", "<=", 100, "≤ 100 B at 1M", big_users)],
                    "Redis MEMORY USAGE per user: %.0f B as a set of codes, %.0f B as an "
                    "intset of menu ids" % (m["redis_perms_key_bytes"], m["redis_ids_key_bytes"])))
    rows.append(Row("cold start vs raw `mariadb --quick` read", m["cold_ms"], m["raw_read_ms"],
                    "ms", [T("ratio", "<=", 1.2, "≤ 1.2×"),
                           T("rbacd", "<", 5000, "< 5 s at 1M", big_users)],
                    "last_load_duration_ms %.0f; redis-server from its dump: %s"
                    % (m["load_ms_reported"], fmt(m["redis_rdb_ms"], "ms"))))
    rows.append(Row("RELOAD vs raw `mariadb --quick` read", m["reload_ms"], m["raw_read_ms"],
                    "ms", [], "median of 3 of each"))
    q = m["mixed_quiet"]
    mx = m["mixed"]
    nm = n["mixed"]
    mixed_note = ("%.0f writes/s, %.1f LOGIN/s, RELOAD %s during the run"
                  % (nm["writes_per_s"], nm["logins_per_s"],
                     fmt(nm["reload_ms"], "ms") if nm["reload_ms"] else "unfinished"))
    rows.append(Row("CANMENU p50, mixed load vs quiet (-P 1)", mx["p50"], q["p50"], "ms", [],
                    mixed_note))
    rows.append(Row("CANMENU p99, mixed load vs quiet (-P 1)", mx["p99"], q["p99"], "ms",
                    [T("rbacd", "<=", 1.0, "≤ 1 ms")]))
    rows.append(Row("CANMENU p99.9, mixed load vs quiet (-P 1)", mx.get("p999"), q.get("p999"),
                    "ms", []))
    rows.append(Row("SESSION CREATE/s (write-through) vs Redis SET EX", m["create"]["rps"],
                    m["create_redis"]["rps"], "/s", [T("rbacd", ">=", 20000, "≥ 20,000/s")],
                    "%.1f sessions per commit" % n["create_batch"]))
    rows.append(Row("SESSION TOUCH/s (write-through) vs Redis EXPIRE", m["touch"]["rps"],
                    m["touch_redis"]["rps"], "/s", []))
    rows.append(Row("SESSION LOGIN/s (bcrypt cost 10) vs raw bcrypt verifies/s",
                    m["login"]["rps"], m["bcrypt_raw"], "/s", [T("ratio", ">=", 0.9, "≥ 0.9×")],
                    "raw: bench/bcrypt_rate.c, libxcrypt, %d threads" % (os.cpu_count() or 1)))
    rows.append(Row("CANMENU p99 while LOGIN saturates vs quiet", m["canmenu_during_login"]["p99"],
                    m["canmenu_before_login"]["p99"], "ms", [T("ratio", "<=", 1.1, "≤ 1.1× (no effect)")],
                    "%.1f LOGIN/s meanwhile" % n["logins_during"]))
    rows.append(Row("grant to a role of %s users: ROLE GRANT vs SQL + SADD each"
                    % "{:,}".format(m["grant_holders"]), m["grant_rbacd_ms"], m["grant_redis_ms"],
                    "ms", [], "second instance has it (WAITREV) after %s"
                    % fmt(m["grant_rbacd2_ms"], "ms")))
    s = m["sql"]
    rows.append(Row("one caller, CANMENU (redis-py) vs the same question as SQL (PyMySQL)",
                    s["rb_py_avg_ms"], s["sql_py_avg_ms"], "ms", [],
                    "%d questions, %d mismatches" % (s["sql_queries"], s["sql_mismatches"])))
    return rows


def render_text(rows):
    w = max(len(r.label) for r in rows)
    head = "%-3s %-*s %14s %14s %7s  %-22s %-4s  %s" % ("#", w, "measure", "rbacd", "reference",
                                                       "ratio", "target", "mark", "notes")
    out = [head, "-" * len(head)]
    for i, r in enumerate(rows, 1):
        ratio = "%.2f×" % r.ratio if r.ratio is not None else "-"
        out.append("%-3d %-*s %14s %14s %7s  %-22s %-4s  %s" % (
            i, w, r.label, fmt(r.rbacd, r.unit), fmt(r.ref, r.unit), ratio, r.target_text(),
            r.mark(), r.note))
    return "\n".join(out)


def render_md(rows):
    out = ["| # | measure | rbacd | reference | ratio | target | mark | notes |",
           "|---|---|--:|--:|--:|---|---|---|"]
    for i, r in enumerate(rows, 1):
        ratio = "%.2f×" % r.ratio if r.ratio is not None else "-"
        out.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            i, r.label, fmt(r.rbacd, r.unit), fmt(r.ref, r.unit), ratio, r.target_text(),
            r.mark(), r.note))
    return "\n".join(out)


def check_complete(rows):
    """The smoke test's condition: every row has both figures."""
    missing = [r.label for r in rows if not (_num(r.rbacd) and _num(r.ref))]
    return missing


# ------------------------------------------------------------- RESULTS.md ---- #

METHOD = """## Method

`bench/run SIZE` starts its own MariaDB (port 3471 unless `DB_PORT`), two rbacd instances
on that database (the second only to time how a write reaches another instance) and a
redis-server holding the same answers, then measures every row below in one run. Each
row's rbacd and reference figures are taken one right after the other, with the same
`redis-benchmark` options (50 clients, `-P 1` and `-P 16`).

* **The Redis data.** For every user rbacd knows, `perms:<tenant>:<user>` is the set of
  the codes `MENUS tenant user CODES` answers (copied from rbacd, then checked on a
  sample: CANMENU and SISMEMBER must agree); for the users of the big tenant also
  `menus:1:<user>` (menu ids, an intset) and a session `sess:<i>` → `"1:<user>"`.
  `<user>` and `<i>` are written as 12 zero-padded digits, as redis-benchmark writes
  `__rand_int__`, so random keys hit real sets. Redis 7.0 keeps a set of strings as a
  hash table; the RSS row compares with that layout (what an application checking
  permission codes stores) and notes the smaller id-only layout.
* **Rounds.** `bench/run --repeat N` runs the throughput and CPU rows N times,
  interleaved, and shows the median of each figure (default 1).
* **Random users.** CANMENU, MENUS and MENUS CODES ask about `__rand_int__` with
  `-r <users of the big tenant>`, tenant 1: both servers see the same spread of keys
  (user 0 does not exist on either side; it is denied by both).
* **Sessions.** redis-benchmark can only substitute a number, and rbacd's tokens are 43
  random characters, so the rows that present a token (SESSION CANMENU, TOUCH) use
  fixed tokens, and the Redis side gets the same handicap: SESSION CANMENU is set
  against `EVALSHA <sha> 1 sess:<that user> m:10` (the script GETs the session, then
  SISMEMBERs the user's set; the figure with random sessions, `sess:__rand_int__`, is in
  the notes), and TOUCH runs as 5 redis-benchmark processes of 10 clients, one session
  each, against EXPIRE of 5 keys run the same way. The rows that name a user draw it at
  random: the data set has session users with ids 10^12 + i and usernames `s<i>` (i as
  12 digits) in tenant 1, so `SESSION CREATE 1 1__rand_int__` and
  `SESSION LOGIN t1 s__rand_int__ password` name a live user every time (against
  `SET sess:1__rand_int__ ... EX 7200`). MariaDB runs with
  `innodb_flush_log_at_trx_commit = 1` (a durable commit) for every write row; Redis
  runs with persistence off. CREATE runs are sized by a short probe to last about
  `write_s` seconds.
* **Server CPU per request** is utime + stime of the server process, all threads, from
  `/proc/<pid>/stat` before and after the redis-benchmark run, over the requests; it
  counts rbacd's background threads (change-log poll every 100 ms) and Redis's cron
  alike. Runs are sized for at least ~0.3 s of server CPU (ticks are 10 ms).
* **Cold start** is the wall time from rbacd's exec to `loading:0` (polled every 5 ms).
  The raw read runs the very statements rbacd's load ran (taken from MariaDB's general
  log) through `mariadb --quick`, output to /dev/null, the median of 3, after the load.
  Before rbacd starts, bench/run reads the last run's load statements once, so both
  read a warm buffer pool. RELOAD is the reply time of the command, median of 3.
  The restart of redis-server from a dump of its keys is given for comparison.
* **Mixed load**: CANMENU at 50 clients for about the size's `mixed_s` seconds while
  four threads do ROLE GRANT/REVOKE at 100/s in all (a role of tenant 2), eight do 20
  SESSION LOGIN/s in all (bcrypt cost 10), and one RELOAD runs a third of the way in.
  The reference is the same run without the load, just before. p50/p99 from
  redis-benchmark's summary, p99.9 is the first point at or above 99.9 % of its
  percentile distribution. The achieved rates are in the notes.
* **LOGIN** runs at 8 clients against the raw rate of `bench/bcrypt_rate.c` (the same
  libxcrypt `crypt_rn` rbacd uses, one thread per core, nothing else running).
  "No effect on CANMENU p99": CANMENU's p99 while 8 clients log in without pause, over
  its p99 in the same run alone, right before.
* **Grant**: a role of tenant 1 held by 10,000 users gets one menu.
  rbacd: `ROLE GRANT` (written through) until its reply, and until a second instance
  answers `WAITREV`; the Redis pattern: the application INSERTs the row, SELECTs the
  role's users and SADDs the code to each user's set, pipelined by 1000. Median of 3.
* **The machine is shared and has 2 cores**: the servers, redis-benchmark and MariaDB
  compete for them, so throughput moves from run to run; CPU per request moves least.
  Each section says how busy other programs kept the cores meanwhile (the machine's busy
  time from /proc/stat less that of this run's processes): figures from a run where
  that is well above zero are less worth than those of a quiet one.
  `small` is CI's smoke test (it checks that every row has both figures; PASS/MISS does
  not fail it); its figures are for 110k users.
"""


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GiB" % (int(f.readline().split()[1]) / 1048576)
    except OSError:
        pass

    def ver(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem,
            "kernel": platform.release(),
            "mariadb": ver(["mariadbd", "--version"]),
            "redis": ver(["redis-server", "--version"]),
            "redis_benchmark": ver(["redis-benchmark", "--version"])}


def write_results(path, size, section):
    sections = {}
    if os.path.exists(path):
        text = open(path, encoding="utf-8").read()
        for s in SIZES:
            m = re.search(r"<!-- size:%s -->\n(.*?)<!-- /size:%s -->" % (s, s), text, re.S)
            if m:
                sections[s] = m.group(1)
    sections[size] = section
    out = ["# rbacd benchmark results", "",
           "Written by `bench/run` (see the README's Benchmarks section); a run of one size "
           "replaces that size's section and its line of `results/growth.dat`, from which "
           "the pictures are drawn.", "",
           "![RSS](results/rss.svg) ![cold start](results/load.svg) "
           "![CPU per CANMENU](results/cpu.svg)", "", METHOD]
    for s in SIZES:
        if s in sections:
            out.append("<!-- size:%s -->\n%s<!-- /size:%s -->\n" % (s, sections[s], s))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


GROWTH_COLS = ["size", "users", "rbacd_rss_mib", "redis_rss_mib", "cold_ms", "raw_read_ms",
               "redis_rdb_ms", "canmenu_cpu_p1", "sismember_cpu_p1", "canmenu_cpu_p16",
               "sismember_cpu_p16", "date"]


def write_growth(resdir, run):
    m = run.m
    path = os.path.join(resdir, "growth.dat")
    rows = {}
    if os.path.exists(path):
        for line in open(path):
            if line.startswith("#") or not line.strip():
                continue
            rows[line.split()[0]] = line.rstrip("\n")
    vals = [run.size, m["rbacd_users"], "%.1f" % (m["rbacd_rss"] / 1048576),
            "%.1f" % (m["redis_rss_same_users"] / 1048576), "%.0f" % m["cold_ms"],
            "%.0f" % m["raw_read_ms"], "%.0f" % m["redis_rdb_ms"],
            "%.3f" % m["canmenu_rbacd_1"]["cpu_us"], "%.3f" % m["canmenu_redis_1"]["cpu_us"],
            "%.3f" % m["canmenu_rbacd_16"]["cpu_us"], "%.3f" % m["canmenu_redis_16"]["cpu_us"],
            datetime.date.today().isoformat()]
    rows[run.size] = " ".join(str(v) for v in vals)
    ordered = sorted(rows.values(), key=lambda line: int(line.split()[1]))
    with open(path, "w") as f:
        f.write("# bench/run: one line per size, the last run of each (bench/RESULTS.md)\n")
        f.write("# " + " ".join(GROWTH_COLS) + "\n")
        f.write("\n".join(ordered) + "\n")
    return path


GNUPLOT = """set terminal svg size 720,480 dynamic font "sans,12" background "white"
set key top left opaque box
set grid
set logscale x
set xlabel "users"
set format x "%.0s%c"
set xtics (100000, 1000000, 10000000)
set xrange [70000:14000000]
set datafile commentschars "#"
rbacd = "#8e24aa"
redis = "#00897b"
raw = "#ef6c00"
set output "{d}/rss.svg"
set title "RSS after the load"
set ylabel "MiB"
set logscale y
plot "{f}" using 2:3 with linespoints lw 2 pt 7 lc rgb rbacd title "rbacd", \\
     "{f}" using 2:4 with linespoints lw 2 pt 5 lc rgb redis title "redis-server (perms sets)"
set output "{d}/load.svg"
set title "Cold start: rbacd from MariaDB, the raw read of its rows, Redis from a dump"
set ylabel "seconds"
plot "{f}" using 2:($5/1000) with linespoints lw 2 pt 7 lc rgb rbacd title "rbacd cold start", \\
     "{f}" using 2:($6/1000) with linespoints lw 2 pt 9 lc rgb raw title "mariadb --quick", \\
     "{f}" using 2:($7/1000) with linespoints lw 2 pt 5 lc rgb redis title "redis-server, RDB load"
set output "{d}/cpu.svg"
set title "Server CPU per permission check, random users of the big tenant"
set ylabel "µs per request"
unset logscale y
set yrange [0:*]
set offsets 0, 0, graph 0.5, 0
plot "{f}" using 2:8 with linespoints lw 2 pt 7 lc rgb rbacd title "CANMENU -P 1", \\
     "{f}" using 2:9 with linespoints lw 2 pt 5 lc rgb redis title "SISMEMBER -P 1", \\
     "{f}" using 2:10 with linespoints lw 2 pt 6 dt 2 lc rgb rbacd title "CANMENU -P 16", \\
     "{f}" using 2:11 with linespoints lw 2 pt 4 dt 2 lc rgb redis title "SISMEMBER -P 16"
"""


def draw(resdir, datafile):
    try:
        p = subprocess.run(["gnuplot"], input=GNUPLOT.format(d=resdir, f=datafile), text=True,
                           capture_output=True)
    except OSError:
        log("gnuplot is missing (scripts/deps.sh --bench installs it): no pictures")
        return False
    if p.returncode != 0:
        log("gnuplot failed: %s" % p.stderr.strip())
        return False
    return True


def report(run, rows, started):
    f, m = run.f, run.m
    mach = machine()
    text = render_text(rows)
    p = run.p
    head = ("bench/run %s — %s users, %s tenants, random users from tenant 1's %s; %s; "
            "%d CPUs (%s)"
            % (run.size, "{:,}".format(m["rbacd_users"]), "{:,}".format(int(f["tenants"])),
               "{:,}".format(run.big), started.strftime("%Y-%m-%d %H:%M UTC"), mach["nproc"],
               mach["cpu"]))
    noise = ("other programs kept %.2f of the %d cores busy on average during the "
             "measurements; load average %s before, %s after"
             % (run.notes["others_cores"], mach["nproc"], f.get("loadavg", "?"),
                run.notes["loadavg_end"]))
    print()
    print(head)
    print(noise)
    print(text)
    fill = m["fill"]
    print("answers checked: %d CANMENU vs SISMEMBER pairs, %d mismatches; "
          "%d SQL vs CANMENU, %d mismatches"
          % (fill["check_pairs"], fill["check_mismatches"], m["sql"]["sql_queries"],
             m["sql"]["sql_mismatches"]))

    cmds = [f.get("cmd_gen", ""), f.get("cmd_rbacd", ""), f.get("cmd_rbacd2", ""),
            f.get("cmd_redis", "")] + run.other_commands + run.bench.commands
    md = ["## %s — %s users, %s tenants, random users from tenant 1's %s" % (
        run.size, "{:,}".format(m["rbacd_users"]), "{:,}".format(int(f["tenants"])),
        "{:,}".format(run.big)), "",
        "- date: %s" % started.strftime("%Y-%m-%d %H:%M UTC"),
        "- machine: %d CPUs, %s, %s memory, kernel %s" % (mach["nproc"], mach["cpu"],
                                                          mach["memory"], mach["kernel"]),
        "- noise: %s" % noise,
        "- %s; %s; %s" % (mach["mariadb"], mach["redis"], mach["redis_benchmark"]),
        "- %s (commit %s); MariaDB innodb_flush_log_at_trx_commit=1 during the run"
        % (f.get("rbacd_version", "?"), f.get("commit", "?")),
        "- data: `bench/gen_data.py` %s" % f.get("gen_args", ""),
        "- sizes of this run: %s" % ", ".join("%s=%s" % kv for kv in p.items()),
        "- answers checked: %d CANMENU vs SISMEMBER pairs, %d mismatches; %d SQL vs CANMENU, "
        "%d mismatches" % (fill["check_pairs"], fill["check_mismatches"],
                           m["sql"]["sql_queries"], m["sql"]["sql_mismatches"]),
        "", render_md(rows), "",
        "<details><summary>commands run</summary>", "", "```",
        *[c for c in cmds if c], "```", "", "</details>", ""]
    outdir = f["out_dir"]
    resdir = os.path.join(outdir, "results")
    os.makedirs(resdir, exist_ok=True)
    write_results(os.path.join(outdir, "RESULTS.md"), run.size, "\n".join(md))
    datafile = write_growth(resdir, run)
    drew = draw(resdir, datafile)
    with open(os.path.join(run.logdir, "measured.json"), "w") as fh:
        json.dump({"measured": run.m, "notes": run.notes}, fh, indent=1, default=str)
    log("wrote %s and %s%s" % (os.path.join(outdir, "RESULTS.md"), datafile,
                               " (+ rss.svg, load.svg, cpu.svg)" if drew else ""))


def cmd_run(a):
    global KILLER
    KILLER = Killer()
    facts = read_facts(a.facts)
    started = datetime.datetime.now(datetime.timezone.utc)
    run = Run(facts)
    gauge = OthersGauge([int(facts[k]) for k in ("rbacd_pid", "rbacd2_pid", "redis_pid", "db_pid")
                         if facts.get(k, "").isdigit()])
    try:
        run.load_and_memory()
        run.fill_redis()
        run.pick_users()
        run.pairs()
        run.sessions()
        run.logins()
        run.mixed()
        run.grant()
        run.sql()
        run.finish()
    finally:
        KILLER.stop_all()
    run.notes["others_cores"] = gauge.cores()
    run.notes["loadavg_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    rows = build_rows(run)
    report(run, rows, started)
    missing = check_complete(rows)
    if missing:
        die("the table is incomplete: no figure for %s" % "; ".join(missing))
    log("table complete: %d rows, %d PASS, %d MISS" % (
        len(rows), sum(r.mark() == "PASS" for r in rows), sum(r.mark() == "MISS" for r in rows)))


GENERAL_LOG_QUERY = re.compile(r"^(?:\d{6}\s+[\d:]+)?\s+(\d+) Query\t(.*)$")


def cmd_load_sql(a):
    """The statements of rbacd's model load, from MariaDB's general log: every SELECT
    inside a consistent-snapshot transaction (on however many connections), less the
    change log and the sessions, which are not part of the model."""
    open_tx = set()
    stmts = []
    with open(a.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = GENERAL_LOG_QUERY.match(line.rstrip("\n"))
            if not m:
                continue
            conn, q = m.group(1), m.group(2).strip()
            if q.startswith("START TRANSACTION WITH CONSISTENT SNAPSHOT"):
                open_tx.add(conn)
            elif q in ("COMMIT", "ROLLBACK"):
                open_tx.discard(conn)
            elif conn in open_tx and q.upper().startswith("SELECT") and \
                    not re.search(r"\b(rbac_change|tenant_session)\b", q):
                stmts.append(q)
    if not stmts:
        die("no load statements in %s" % a.log)
    with open(a.out, "w") as f:
        f.write("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;\n"
                "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY;\n")
        f.write("".join(q + ";\n" for q in stmts))
        f.write("COMMIT;\n")
    print(len(stmts))


def cmd_wait_loaded(a):
    wait_loaded(a.port, a.pid, a.timeout)
    print("%.0f" % ((time.time_ns() - a.since_ns) / 1e6))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait-loaded")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--pid", type=int, required=True)
    w.add_argument("--since-ns", type=int, required=True)
    w.add_argument("--timeout", type=float, default=3600)
    r = sub.add_parser("run")
    r.add_argument("--facts", required=True)
    s = sub.add_parser("load-sql")
    s.add_argument("--log", required=True, help="MariaDB general log of rbacd's first load")
    s.add_argument("--out", required=True)
    a = p.parse_args()
    {"wait-loaded": cmd_wait_loaded, "run": cmd_run, "load-sql": cmd_load_sql}[a.cmd](a)


if __name__ == "__main__":
    main()
