// bench.js — checks per second and hit rate of the gateway cache against asking rbacd
// every time, for a gateway's mix over the demo world:
//
//   * checks: CANMENU of a (tenant, user, menu); 80% of them go to the hottest 20% of
//     users and 80% of those to the 10 hottest menus (the routes everyone uses)
//   * writes: 1% of operations, on a connection of their own: 4 in 5 change one user
//     (USER ADDSTORE / DELSTORE: a push of rbac:<t>:<u>), 1 in 5 a whole tenant (ROLE
//     GRANT / REVOKE of a menu: a push of rbac:<t>). They come from an admin, not from
//     the request path, so callers do not wait for them; one is in flight at a time (a
//     write due meanwhile is skipped: the database sets the write rate's ceiling, and
//     the rate reached is printed)
//   * CONCURRENCY callers at once for DURATION_MS per mode
//
// Run: node bench.js [duration_ms] [concurrency]   (RBACD_BIN etc. as for the test;
// RBACD_BIN may name a release build). Prints one line per mode and the ratio.
"use strict";

const { createClient } = require("redis");
const { GatewayCache } = require("./gateway_cache");
const { startServer } = require("./serve");

const DURATION_MS = Number(process.argv[2] || 5000);
const CONCURRENCY = Number(process.argv[3] || 32);
const WRITE_SHARE = 0.01;
const HOT_USER_SHARE = 0.2; // of users ...
const HOT_TRAFFIC = 0.8; // ... take this share of checks
const HOT_MENUS = 10;

// The demo world (schema/demo/README.md): tenant of each user.
const USERS = [
  [1, 1], [1, 2], [1, 3], [1, 4], [1, 6], [1, 7],
  [2, 11], [2, 12], [2, 13], [3, 21], [3, 22], [4, 31], [4, 32],
];

// A deterministic generator, so both modes see the same sequence.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function pickSkewed(rand, items, hotCount) {
  const hot = rand() < HOT_TRAFFIC;
  const n = hot ? hotCount : items.length;
  return items[Math.floor(rand() * n)];
}

async function run(mode, url, menus) {
  const cache = await new GatewayCache({ url }).connect();
  const writer = createClient({ url });
  writer.on("error", () => {});
  await writer.connect();
  const hotUsers = Math.max(1, Math.round(USERS.length * HOT_USER_SHARE));
  const toggles = new Map(); // write target -> currently applied
  let checks = 0;
  let writes = 0;
  let writing = null; // the write in flight
  const end = Date.now() + DURATION_MS;

  async function write(rand) {
    const [t, u] = USERS[Math.floor(rand() * USERS.length)];
    let cmd;
    if (rand() < 0.8) {
      const k = `s${u}`;
      const on = !toggles.get(k);
      toggles.set(k, on);
      cmd = ["USER", on ? "ADDSTORE" : "DELSTORE", String(t), String(u), "9999"];
    } else {
      const on = !toggles.get("role");
      toggles.set("role", on);
      cmd = ["ROLE", on ? "GRANT" : "REVOKE", "1", "2", "511"];
    }
    await writer.sendCommand(cmd);
    writes++;
  }

  async function worker(seed) {
    const rand = rng(seed);
    while (Date.now() < end) {
      if (rand() < WRITE_SHARE) {
        if (!writing) writing = write(rand).finally(() => (writing = null));
        continue;
      }
      const [t, u] = pickSkewed(rand, USERS, hotUsers);
      const menu = pickSkewed(rand, menus, HOT_MENUS);
      if (mode === "local") await cache.canMenu(t, u, menu);
      else await cache.client.sendCommand(["CANMENU", String(t), String(u), String(menu)]);
      checks++;
    }
  }

  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => worker(i + 1)));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (writing) await writing;
  const out = {
    mode,
    checksPerSec: Math.round(checks / secs),
    hitRate: mode === "local" ? cache.hitRate() : 0,
    invalidations: cache.stats.invalidations,
    writesPerSec: Math.round(writes / secs),
  };
  await writer.quit();
  await cache.close();
  return out;
}

(async () => {
  const srv = await startServer();
  let status = 0;
  try {
    const url = `redis://127.0.0.1:${srv.port}`;
    const probe = createClient({ url });
    await probe.connect();
    const menus = (await probe.sendCommand(["MENUS", "1", "1"])).map(String);
    await probe.quit();
    console.log(`rbacd: ${process.env.RBACD_BIN || "(default build)"}; ` +
      `${DURATION_MS} ms per mode, ${CONCURRENCY} callers, ${USERS.length} users, ` +
      `${menus.length} menus, ${WRITE_SHARE * 100}% writes`);
    const remote = await run("remote", url, menus);
    const local = await run("local", url, menus);
    for (const r of [remote, local]) {
      console.log(`${r.mode.padEnd(6)} checks/s ${String(r.checksPerSec).padStart(9)}` +
        `  hit rate ${(r.hitRate * 100).toFixed(1).padStart(5)}%` +
        `  writes/s ${r.writesPerSec}  invalidations received ${r.invalidations}`);
    }
    console.log(`local/remote: ${(local.checksPerSec / remote.checksPerSec).toFixed(1)}x`);
  } catch (e) {
    console.error(e);
    status = 1;
  } finally {
    const code = await srv.stop();
    if (code !== 0) {
      console.error("the server did not stop cleanly:\n" + srv.stderr());
      status = 1;
    }
  }
  process.exit(status);
})();
