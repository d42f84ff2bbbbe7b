// test_ioredis.js — ioredis 6 against rbacd with its default options: it opens every
// connection with HELLO 3 (RESP3), then CLIENT SETINFO, as current clients do.
//
// The server (and its scratch database) comes from ../blackbox/harness.py's serve
// mode, through ./harness.js.
//
// Run: node test_ioredis.js (from tests/node, with RBACD_BIN, RBACD_SOURCE_DIR and
// RBACD_TEST_DBDIR set, as CTest does). Exits non-zero when a test fails.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const Redis = require("ioredis");
const { startServer, stopServer, clientFields } = require("./harness");

describe("ioredis 6 with default options", () => {
  let srv;
  let redis;
  const extra = [];

  const connect = (opts = {}) => {
    const r = new Redis({
      host: "127.0.0.1",
      port: srv.port,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...opts,
    });
    extra.push(r);
    return r;
  };

  before(async () => {
    srv = await startServer();
    redis = new Redis({ port: srv.port, host: "127.0.0.1" }); // defaults otherwise
  });

  after(async () => {
    for (const r of [redis, ...extra]) {
      if (r && r.status !== "end") r.disconnect();
    }
    if (srv) {
      const code = await stopServer(srv);
      assert.equal(code, 0, "the server did not stop cleanly:\n" + srv.stderr());
    }
  });

  it("connects with HELLO 3 (RESP3) and sends CLIENT SETINFO", async () => {
    assert.equal(await redis.ping(), "PONG");
    const info = clientFields(await redis.call("CLIENT", "INFO"));
    assert.equal(info.resp, "3");
    assert.equal(info["lib-name"], "ioredis");
    assert.match(info["lib-ver"], /^\d+\.\d+/);
    const hello = await redis.call("HELLO");
    // A map, whichever way ioredis hands it back (object or flat array).
    const h = Array.isArray(hello)
      ? Object.fromEntries(hello.reduce((acc, v, i, a) => (i % 2 ? acc : [...acc, [a[i], a[i + 1]]]), []))
      : hello;
    assert.equal(Number(h.proto), 3);
    assert.equal(h.server, "rbacd");
  });

  it("ping and echo", async () => {
    assert.equal(await redis.ping(), "PONG");
    assert.equal(await redis.ping("hello"), "hello");
    assert.equal(await redis.echo("hi"), "hi");
    const big = "x".repeat(100000);
    assert.equal(await redis.echo(big), big);
    const bin = Buffer.from([0, 1, 2, 13, 10, 255]);
    assert.deepEqual(await redis.echoBuffer(bin), bin);
  });

  it("CLIENT SETNAME / GETNAME", async () => {
    assert.equal(await redis.call("CLIENT", "GETNAME"), null);
    assert.equal(await redis.call("CLIENT", "SETNAME", "x"), "OK");
    assert.equal(await redis.call("CLIENT", "GETNAME"), "x");
    const id = await redis.call("CLIENT", "ID");
    assert.equal(typeof id, "number");
    const list = String(await redis.call("CLIENT", "LIST"));
    assert.match(list, new RegExp(`id=${id} .*name=x `));
  });

  it("INFO shows loading:0", async () => {
    const info = await redis.info();
    assert.equal(typeof info, "string");
    assert.match(info, /^loading:0\r?$/m);
    assert.match(await redis.info("persistence"), /loading:0/);
    assert.match(info, /^redis_version:/m);
  });

  it("CONFIG GET", async () => {
    const save = await redis.config("GET", "save");
    const flat = Array.isArray(save) ? save : Object.entries(save).flat();
    assert.deepEqual(flat, ["save", ""]);
    const port = await redis.config("GET", "port");
    const pflat = Array.isArray(port) ? port : Object.entries(port).flat();
    assert.deepEqual(pflat, ["port", String(srv.port)]);
  });

  it("a wrong command rejects with an error", async () => {
    await assert.rejects(redis.call("NOSUCHCOMMAND", "a"), /unknown command/);
    await assert.rejects(redis.call("ECHO"), /wrong number of arguments/);
    await assert.rejects(redis.call("HELLO", "4"), /NOPROTO/);
    await assert.rejects(redis.call("SELECT", "1"), /DB index is out of range/);
    // The connection is still fine.
    assert.equal(await redis.ping(), "PONG");
  });

  it("pipeline of 1000 pings", async () => {
    const p = redis.pipeline();
    for (let i = 0; i < 1000; i++) p.ping();
    const results = await p.exec();
    assert.equal(results.length, 1000);
    for (const [err, v] of results) {
      assert.equal(err, null);
      assert.equal(v, "PONG");
    }
    const q = redis.pipeline();
    for (let i = 0; i < 500; i++) q.echo(`v${i}`);
    const echoed = await q.exec();
    echoed.forEach(([err, v], i) => {
      assert.equal(err, null);
      assert.equal(v, `v${i}`);
    });
  });

  it("many commands in flight at once (auto ordering)", async () => {
    const replies = await Promise.all(Array.from({ length: 2000 }, (_, i) => redis.echo(`m${i}`)));
    replies.forEach((v, i) => assert.equal(v, `m${i}`));
  });

  it("RESP2 (protocol: 2) and connectionName work too", async () => {
    const r2 = connect({ protocol: 2, connectionName: "resp2-conn" });
    assert.equal(await r2.ping(), "PONG");
    const info = clientFields(await r2.call("CLIENT", "INFO"));
    assert.equal(info.resp, "2");
    assert.equal(info.name, "resp2-conn");
    assert.equal(await r2.call("CLIENT", "GETNAME"), "resp2-conn");
    assert.match(await r2.info(), /loading:0/);
  });

  it("COMMAND and TIME", async () => {
    const count = await redis.call("COMMAND", "COUNT");
    assert.ok(count > 10);
    const [secs, usecs] = await redis.time();
    assert.ok(Math.abs(Number(secs) - Date.now() / 1000) < 5);
    assert.ok(Number(usecs) < 1e6);
  });

  it("quit", async () => {
    const r = connect();
    assert.equal(await r.ping(), "PONG");
    assert.equal(await r.quit(), "OK");
  });
});
