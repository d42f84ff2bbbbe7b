// test_gateway_cache.js — the reference gateway cache against a real rbacd: a miss then a
// hit; a revoke (USER DELROLE) on another connection reaches the cache as a push and the
// next check is a miss with the new answer; a tenant-wide change (ROLE REVOKE) drops the
// tenant; RELOAD (null push) and a dropped connection empty it.
//
// Run: node test_gateway_cache.js (with RBACD_BIN, RBACD_SOURCE_DIR, RBACD_TEST_DBDIR).
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { createClient } = require("redis");
const { GatewayCache } = require("./gateway_cache");
const { startServer } = require("./serve");

const PUSH_TIMEOUT_MS = 2000;

// Polls pred every 5 ms until it holds; fails after PUSH_TIMEOUT_MS.
async function until(pred, what) {
  const deadline = Date.now() + PUSH_TIMEOUT_MS;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("gateway cache over RESP3 client tracking", () => {
  let srv;
  let cache;
  let admin;

  before(async () => {
    srv = await startServer();
    const url = `redis://127.0.0.1:${srv.port}`;
    cache = await new GatewayCache({ url }).connect();
    admin = createClient({ url });
    admin.on("error", () => {});
    await admin.connect();
  });

  after(async () => {
    if (cache) await cache.close();
    if (admin && admin.isOpen) await admin.quit();
    if (srv) assert.equal(await srv.stop(), 0, "server did not stop cleanly:\n" + srv.stderr());
  });

  it("a miss, then a hit", async () => {
    assert.equal(await cache.canMenu(1, 2, 511), 1);
    assert.equal(cache.stats.misses, 1);
    assert.equal(await cache.canMenu(1, 2, 511), 1);
    assert.equal(cache.stats.hits, 1);
  });

  it("a revoke reaches the cache", async () => {
    const before = cache.stats.invalidations;
    assert.equal(await admin.sendCommand(["USER", "DELROLE", "1", "2", "1"]), 1);
    try {
      await until(() => cache.stats.invalidations > before, "the push about rbac:1:2");
      assert.equal(cache.users.has("rbac:1:2"), false);
      const misses = cache.stats.misses;
      assert.equal(await cache.canMenu(1, 2, 511), 0);
      assert.equal(cache.stats.misses, misses + 1);
    } finally {
      await admin.sendCommand(["USER", "ADDROLE", "1", "2", "1"]);
    }
    await until(() => !cache.users.has("rbac:1:2"), "the push about the role given back");
    assert.equal(await cache.canMenu(1, 2, 511), 1);
  });

  it("a tenant-wide change drops the tenant, not the others", async () => {
    await cache.canMenu(1, 3, 511);
    await cache.canMenu(2, 12, 101);
    const before = cache.stats.invalidations;
    assert.equal(await admin.sendCommand(["ROLE", "GRANT", "1", "2", "511"]), 1);
    try {
      await until(() => cache.stats.invalidations > before, "the push about rbac:1");
      assert.equal(cache.users.has("rbac:1:2") || cache.users.has("rbac:1:3"), false);
      assert.equal(cache.users.has("rbac:2:12"), true);
      assert.equal(await cache.canMenu(1, 3, 511), 1); // bob has role 2 (viewer)
    } finally {
      await admin.sendCommand(["ROLE", "REVOKE", "1", "2", "511"]);
    }
  });

  it("RELOAD empties the cache (null push)", async () => {
    await cache.canMenu(2, 12, 101);
    assert.ok(cache.users.size > 0);
    assert.equal(await admin.sendCommand(["RELOAD"]), "OK");
    await until(() => cache.users.size === 0, "the null push");
  });

  it("a dropped connection empties the cache", async () => {
    await cache.canMenu(2, 12, 101);
    assert.ok(cache.users.size > 0);
    const id = await cache.client.sendCommand(["CLIENT", "ID"]);
    const drops = cache.stats.drops;
    await admin.sendCommand(["CLIENT", "KILL", "ID", String(id)]);
    await until(() => cache.stats.drops > drops, "the drop");
    assert.equal(cache.users.size, 0);
    await until(() => cache.client.isReady, "the reconnect");
    assert.equal(await cache.canMenu(2, 12, 101), await cache.canMenu(2, 12, 101));
  });
});
