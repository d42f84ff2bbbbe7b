// gateway_cache.js — a gateway-side permission cache for rbacd (SPEC §5).
//
// canMenu(tenant, user, menu) answers from a local Map; a miss asks rbacd (CANMENU)
// over one RESP3 connection that has client tracking on, so rbacd remembers that this
// connection read rbac:<tenant>:<user> and pushes ">2 invalidate [keys]" when the answer
// may have changed:
//
//   rbac:<t>:<u>   drop what is cached for that user
//   rbac:<t>       drop the whole tenant
//   null           drop everything (rbacd reloaded its model)
//
// and the whole cache is dropped whenever the connection drops: pushes sent while it
// was down are lost, so nothing cached before can be trusted.
//
// The one race: rbacd writes a reply and then a push on the same connection, and
// node-redis resolves the reply's promise (a microtask) after it has run the push
// handler for bytes that arrived in the same chunk. A miss therefore stores its answer
// only if no invalidation arrived while it was in flight (the `generation` counter):
// otherwise the answer may predate the change, and the next call asks again.
"use strict";

const { createClient } = require("redis");

class GatewayCache {
  // options: url ("redis://127.0.0.1:6380"), password (optional), and anything else
  // for createClient. The connection is RESP3 with node-redis' emitInvalidate, which
  // sends CLIENT TRACKING ON on every (re)connect.
  constructor(options = {}) {
    const { url, password, ...rest } = options;
    this.client = createClient({ url, password, RESP: 3, emitInvalidate: true, ...rest });
    this.users = new Map(); // "rbac:t:u" -> Map(menu -> 0|1)
    this.tenants = new Map(); // "rbac:t" -> Set of "rbac:t:u" cached
    this.generation = 0; // bumped by every invalidation and every drop
    this.stats = { hits: 0, misses: 0, invalidations: 0, drops: 0 };
    this.client.on("invalidate", (key) => this.invalidate(key));
    this.client.on("error", () => this.dropAll()); // node-redis reconnects by itself
    this.client.on("end", () => this.dropAll());
    this.client.on("reconnecting", () => this.dropAll());
  }

  async connect() {
    await this.client.connect();
    return this;
  }

  async close() {
    this.dropAll();
    if (this.client.isOpen) await this.client.quit();
  }

  dropAll() {
    this.generation++;
    this.stats.drops++;
    this.users.clear();
    this.tenants.clear();
  }

  // One invalidated key from a push (a Buffer or string), or null for everything.
  invalidate(key) {
    this.generation++;
    this.stats.invalidations++;
    if (key === null || key === undefined) {
      this.users.clear();
      this.tenants.clear();
      return;
    }
    const k = key.toString();
    const tenantKeys = this.tenants.get(k);
    if (tenantKeys) {
      // rbac:<t>: every user of the tenant
      for (const uk of tenantKeys) this.users.delete(uk);
      this.tenants.delete(k);
      return;
    }
    if (this.users.delete(k)) {
      const t = k.slice(0, k.lastIndexOf(":"));
      const set = this.tenants.get(t);
      if (set) {
        set.delete(k);
        if (set.size === 0) this.tenants.delete(t);
      }
    }
  }

  // 1 or 0: whether user (of tenant) may open menu (an id or a perms code).
  async canMenu(tenant, user, menu) {
    const key = `rbac:${tenant}:${user}`;
    const m = String(menu);
    const cached = this.users.get(key);
    if (cached && cached.has(m)) {
      this.stats.hits++;
      return cached.get(m);
    }
    this.stats.misses++;
    const gen = this.generation;
    const answer = Number(await this.client.sendCommand(["CANMENU", String(tenant), String(user), m]));
    if (gen === this.generation) this.store(key, `rbac:${tenant}`, m, answer);
    return answer;
  }

  store(key, tenantKey, menu, answer) {
    let entry = this.users.get(key);
    if (!entry) {
      entry = new Map();
      this.users.set(key, entry);
      let set = this.tenants.get(tenantKey);
      if (!set) this.tenants.set(tenantKey, (set = new Set()));
      set.add(key);
    }
    entry.set(menu, answer);
  }

  hitRate() {
    const n = this.stats.hits + this.stats.misses;
    return n ? this.stats.hits / n : 0;
  }
}

module.exports = { GatewayCache };
