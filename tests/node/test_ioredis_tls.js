// test_ioredis_tls.js — ioredis 6 over TLS (its `tls` option), against rbacd's tls-port
// with a client certificate, as a gateway in production would connect; and refused
// without one (tls-auth-clients keeps its default, yes).
//
// The server, its scratch database and the certificates (made by the openssl command)
// come from ../blackbox/harness.py's serve mode with --tls, which prints
// "PORT PID TLS_PORT CERT_DIR" and runs until its standard input closes; it then checks
// that the server stopped cleanly (exit 0, no sanitizer report).
//
// Run: node test_ioredis_tls.js (from tests/node, with RBACD_BIN, RBACD_SOURCE_DIR and
// RBACD_TEST_DBDIR set, as CTest does). Exits non-zero when a test fails.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const Redis = require("ioredis");

const HARNESS = path.join(__dirname, "..", "blackbox", "harness.py");
const START_TIMEOUT_MS = 60000;

// Starts harness.py serve --tls; resolves with { port, pid, tlsPort, certDir, child, stderr }.
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/python3", [HARNESS, "serve", "--tls"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the server did not start in time:\n" + stderr));
    }, START_TIMEOUT_MS);
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", (line) => {
      clearTimeout(timer);
      const [port, pid, tlsPort, certDir] = line.trim().split(/\s+/);
      resolve({
        port: Number(port),
        pid: Number(pid),
        tlsPort: Number(tlsPort),
        certDir,
        child,
        stderr: () => stderr,
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`harness exited (${code}) before the server started:\n${stderr}`));
    });
  });
}

// Closes the harness's stdin and resolves with its exit status.
function stopServer(srv) {
  return new Promise((resolve) => {
    srv.child.removeAllListeners("exit");
    if (srv.child.exitCode !== null) {
      resolve(srv.child.exitCode);
      return;
    }
    srv.child.once("exit", (code) => resolve(code));
    srv.child.stdin.end();
  });
}

describe("ioredis 6 over TLS", () => {
  let srv;
  const clients = [];

  const file = (name) => fs.readFileSync(path.join(srv.certDir, name));
  const connect = (tls, opts = {}) => {
    const r = new Redis({
      host: "127.0.0.1",
      port: srv.tlsPort,
      tls,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...opts,
    });
    clients.push(r);
    return r;
  };

  before(async () => {
    srv = await startServer();
  });

  after(async () => {
    for (const r of clients) {
      if (r.status !== "end") r.disconnect();
    }
    if (srv) {
      const code = await stopServer(srv);
      assert.equal(code, 0, "the server did not stop cleanly:\n" + srv.stderr());
    }
  });

  it("connects with a client certificate (RESP3, the server verified)", async () => {
    const r = connect({ ca: file("ca.crt"), cert: file("client.crt"), key: file("client.key") });
    assert.equal(await r.ping(), "PONG");
    assert.equal(await r.call("CANMENU", "1", "1", "sys:user:add"), 1);
    assert.equal(await r.call("CANMENU", "1", "3", "sys:user:add"), 0);
    const info = String(await r.call("CLIENT", "INFO"));
    assert.match(info, / resp=3 /);
    assert.match(info, new RegExp(` laddr=127\\.0\\.0\\.1:${srv.tlsPort} `));
    const big = "t".repeat(100000);
    assert.equal(await r.echo(big), big);
    const p = r.pipeline();
    for (let i = 0; i < 1000; i++) p.call("CANMENU", "1", "1", "sys:user:add");
    for (const [err, v] of await p.exec()) {
      assert.equal(err, null);
      assert.equal(v, 1);
    }
  });

  it("is refused without a client certificate", async () => {
    const r = connect({ ca: file("ca.crt") }, { lazyConnect: true });
    const errors = [];
    r.on("error", (e) => errors.push(String(e)));
    await assert.rejects(async () => {
      await r.connect();
      await r.ping();
    });
    assert.match(errors.join("\n"), /certificate required/);
    // The server goes on serving the others, TLS and plain.
    const ok = connect({ ca: file("ca.crt"), cert: file("client.crt"), key: file("client.key") });
    assert.equal(await ok.ping(), "PONG");
    const plain = new Redis({ host: "127.0.0.1", port: srv.port });
    clients.push(plain);
    assert.equal(await plain.ping(), "PONG");
  });

  it("does not trust a server its CA did not sign", async () => {
    const r = connect(
      { ca: file("other-ca.crt"), cert: file("client.crt"), key: file("client.key") },
      { lazyConnect: true },
    );
    const errors = [];
    r.on("error", (e) => errors.push(String(e)));
    await assert.rejects(r.connect());
    assert.match(errors.join("\n"), /certificate/);
  });
});
