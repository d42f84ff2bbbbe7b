// test_compat_clients.js — the Node.js clients people run today, each unmodified, in
// RESP2 and RESP3 where the client speaks both (README "Clients"):
//
//   ioredis 6          RESP2, RESP3 (its default: HELLO 3)
//   node-redis 6       (@redis/client) RESP2, RESP3 (its default)
//   iovalkey           RESP2 (it has no RESP3)
//   Valkey GLIDE       (@valkey/valkey-glide, standalone client) RESP2, RESP3; it reads
//                      INFO replication for role:master before it uses a node
//
// Each runs the same round: connect as an ACL user (AUTH username password), PING,
// CANMENU allow and deny (by id and by perms code), MENUS, a SESSION CREATE / GET /
// CANMENU / REVOKE round trip, error replies surfacing as the client's own error type
// (ERR, NOSESSION, NOPERM for a check user's SESSION CREATE), and a pipeline.
//
// GLIDE ships a prebuilt native binding; where it cannot load, its cases are skipped
// with the reason, never failed.
//
// Run: node test_compat_clients.js (from tests/node, with RBACD_BIN, RBACD_SOURCE_DIR and
// RBACD_TEST_DBDIR set, as CTest does). Exits non-zero when a test fails.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { startServer, stopServer, clientFields, hashPassword } = require("./harness");

const ADMIN = { username: "ops", password: "ops-pw-compat" };
const CHECKER = { username: "app", password: "app-pw-compat" };
const REQUIREPASS = "default-pw-compat";
const PIPELINE_DEPTH = 100;

// Demo data (schema/demo): user 2 of tenant 1 may open menu 110 and
// "taobao:order:list", not menu 999999.
const T = "1";
const U = "2";
const ALLOWED = "110";
const ALLOWED_CODE = "taobao:order:list";
const DENIED = "999999";

// Loads a client library; null (with why) when it cannot load here.
function load(name) {
  try {
    return { lib: require(name), why: null };
  } catch (e) {
    return { lib: null, why: `${name} cannot load on this platform: ${e.message.split("\n")[0]}` };
  }
}

// One adapter per client: connect(port, proto, creds) -> handle with call(args),
// pipeline(cmds) -> replies (an error as an Error object in its place), close().
const ioredisLike = (name) => {
  const { lib: Redis, why } = load(name);
  return {
    why,
    errorType: Redis && Redis.ReplyError,
    protos: name === "ioredis" ? [2, 3] : [2],
    async connect(port, proto, creds) {
      const r = new Redis({
        host: "127.0.0.1",
        port,
        ...creds,
        ...(name === "ioredis" ? { protocol: proto } : {}),
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      await r.connect();
      return {
        call: (args) => r.call(...args),
        async pipeline(cmds) {
          const p = r.pipeline();
          for (const c of cmds) p.call(...c);
          return (await p.exec()).map(([err, v]) => err || v);
        },
        close: () => r.quit(),
      };
    },
  };
};

const nodeRedis = () => {
  const { lib, why } = load("@redis/client");
  return {
    why,
    errorType: lib && lib.ErrorReply,
    protos: [2, 3],
    async connect(port, proto, creds) {
      const c = lib.createClient({
        socket: { host: "127.0.0.1", port, reconnectStrategy: false },
        ...creds,
        RESP: proto,
      });
      c.on("error", () => {}); // surfaced through the promises below
      await c.connect();
      return {
        call: (args) => c.sendCommand(args),
        // Commands sent in one tick go out together (node-redis pipelines them itself);
        // multi().execAsPipeline() would reject the whole batch on its first error.
        async pipeline(cmds) {
          const settled = await Promise.allSettled(cmds.map((cmd) => c.sendCommand(cmd)));
          return settled.map((s) => (s.status === "fulfilled" ? s.value : s.reason));
        },
        close: () => c.close(),
      };
    },
  };
};

const glide = () => {
  const { lib: g, why } = load("@valkey/valkey-glide");
  if (g) g.Logger.setLoggerConfig("off");
  return {
    why,
    errorType: g && g.RequestError,
    protos: [2, 3],
    async connect(port, proto, creds) {
      const c = await g.GlideClient.createClient({
        addresses: [{ host: "127.0.0.1", port }],
        credentials: creds,
        protocol: proto === 3 ? g.ProtocolVersion.RESP3 : g.ProtocolVersion.RESP2,
        requestTimeout: 10000,
      });
      return {
        call: (args) => c.customCommand(args),
        async pipeline(cmds) {
          const b = new g.Batch(false); // a pipeline, not MULTI/EXEC
          for (const cmd of cmds) b.customCommand(cmd);
          return c.exec(b, false);
        },
        close: () => c.close(),
      };
    },
  };
};

const CLIENTS = {
  "ioredis 6": ioredisLike("ioredis"),
  "node-redis 6": nodeRedis(),
  iovalkey: ioredisLike("iovalkey"),
  "Valkey GLIDE": glide(),
};

const text = (v) => (Buffer.isBuffer(v) ? v.toString() : String(v));

describe("Node.js clients", () => {
  let srv;

  before(async () => {
    srv = await startServer([
      "--password", REQUIREPASS,
      "--conf", `requirepass ${REQUIREPASS}`,
      "--conf", `user ${ADMIN.username} admin ${hashPassword(ADMIN.password)}`,
      "--conf", `user ${CHECKER.username} check ${hashPassword(CHECKER.password)}`,
    ]);
  });

  after(async () => {
    if (srv) {
      const code = await stopServer(srv);
      assert.equal(code, 0, "the server did not stop cleanly:\n" + srv.stderr());
    }
  });

  for (const [name, client] of Object.entries(CLIENTS)) {
    for (const proto of client.protos) {
      describe(`${name} RESP${proto}`, { skip: client.why || false }, () => {
        let h;
        before(async () => {
          h = await client.connect(srv.port, proto, ADMIN);
        });
        after(async () => {
          if (h) await h.close();
        });

        it("connects as an ACL user in the protocol asked for", async () => {
          assert.equal(text(await h.call(["PING"])), "PONG");
          const info = clientFields(text(await h.call(["CLIENT", "INFO"])));
          assert.equal(info.user, ADMIN.username);
          assert.equal(info.resp, String(proto));
        });

        it("CANMENU allows and denies, MENUS lists ascending ids", async () => {
          assert.equal(await h.call(["CANMENU", T, U, ALLOWED]), 1);
          assert.equal(await h.call(["CANMENU", T, U, ALLOWED_CODE]), 1);
          assert.equal(await h.call(["CANMENU", T, U, DENIED]), 0);
          const menus = await h.call(["MENUS", T, U]);
          assert.ok(Array.isArray(menus) && menus.length > 10, String(menus));
          assert.equal(menus[0], Number(ALLOWED));
          assert.deepEqual([...menus].sort((a, b) => a - b), menus);
        });

        it("SESSION CREATE, GET, CANMENU, REVOKE", async () => {
          const token = text(await h.call(["SESSION", "CREATE", T, U, "TTL", "600"]));
          assert.match(token, /^[A-Za-z0-9_-]{43}$/);
          const got = await h.call(["SESSION", "GET", token]);
          assert.deepEqual(got.slice(0, 2).map(Number), [1, 2]);
          assert.ok(Number(got[3]) > Number(got[2]), String(got));
          assert.equal(await h.call(["SESSION", "CANMENU", token, ALLOWED]), 1);
          assert.equal(await h.call(["SESSION", "CANMENU", token, DENIED]), 0);
          assert.equal(await h.call(["SESSION", "REVOKE", token]), 1);
          assert.equal(await h.call(["SESSION", "GET", token]), null);
          await assert.rejects(h.call(["SESSION", "CANMENU", token, ALLOWED]), (e) => {
            assert.ok(e instanceof client.errorType, e.constructor.name);
            assert.match(e.message, /session/i);
            return true;
          });
        });

        it("an error reply is the client's error type", async () => {
          await assert.rejects(h.call(["CANMENU", T, "x", ALLOWED]), (e) => {
            assert.ok(e instanceof client.errorType, e.constructor.name);
            assert.match(e.message, /invalid id 'x'/);
            return true;
          });
          assert.equal(text(await h.call(["PING"])), "PONG"); // still connected
        });

        it("a check user gets NOPERM for SESSION CREATE", async () => {
          const c = await client.connect(srv.port, proto, CHECKER);
          try {
            assert.equal(await c.call(["CANMENU", T, U, ALLOWED]), 1);
            await assert.rejects(c.call(["SESSION", "CREATE", T, U]), (e) => {
              assert.ok(e instanceof client.errorType, e.constructor.name);
              assert.match(e.message, /no permissions to run the 'session\|create' command/);
              return true;
            });
          } finally {
            await c.close();
          }
        });

        it(`pipelines ${PIPELINE_DEPTH} commands, an error in its place`, async () => {
          const cmds = [];
          for (let i = 0; i < PIPELINE_DEPTH; i++)
            cmds.push(["CANMENU", T, U, i % 2 ? DENIED : ALLOWED]);
          cmds[50] = ["CANMENU", T, "x", ALLOWED];
          const replies = await h.pipeline(cmds);
          assert.equal(replies.length, PIPELINE_DEPTH);
          replies.forEach((v, i) => {
            if (i === 50) assert.ok(v instanceof Error, `reply ${i}: ${v}`);
            else assert.equal(v, i % 2 ? 0 : 1, `reply ${i}`);
          });
        });
      });
    }
  }
});
