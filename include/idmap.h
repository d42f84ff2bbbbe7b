/*
 * idmap.c — a map from 64-bit ids to 64-bit values. It maps database ids to dense
 * internal indexes (the bitmaps hold 32-bit values only), client ids to clients, and
 * anything else keyed by an integer.
 *
 * Two parts. Database ids are mostly dense (AUTO_INCREMENT), so keys that fall in one
 * run of ids live in a direct window: a value array indexed by key - base, with a bit
 * per slot saying it is held (8 bytes and a bit per key, one array read per lookup).
 * The window starts at the first key and grows upward while at least half of the span
 * it covers is held. Every other key lives in an open-addressing hash table (16 bytes a
 * slot at load factor <= 0.5) whose keys are mixed with a per-process random seed, so
 * clients cannot choose ids that collide.
 *
 * Not thread-safe: one owner at a time (see the threading rule in worker.h).
 */
#ifndef RBACD_IDMAP_H
#define RBACD_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct idmap_slot {
    uint64_t key;
    uint64_t val;
} idmap_slot;

typedef struct idmap {
    idmap_slot *slots; /* hash part: capacity a power of two; key 0 lives in zero_val */
    size_t mask;       /* capacity - 1, or 0 when nothing is allocated */
    size_t hcount;     /* keys in the hash part */
    uint64_t *dense;   /* window: values of keys dbase .. dbase + dcap - 1 */
    uint64_t *dbits;   /* window: a held bit per slot */
    uint64_t dbase;    /* window: its first key */
    size_t dcap;       /* window: slots allocated, 0 = none */
    size_t dcount;     /* window: keys held */
    size_t count;      /* live keys, key 0 included */
    bool has_zero;     /* key 0 is present */
    uint64_t zero_val; /* its value */
} idmap;

void idmap_init(idmap *m);
void idmap_free(idmap *m);
/* Pre-sizes the hash part for n keys, so a bulk load of scattered keys does not rehash
 * (dense keys go to the window and need no reserve). */
void idmap_reserve(idmap *m, size_t n);
/* Inserts or overwrites. */
void idmap_put(idmap *m, uint64_t key, uint64_t val);
/* Returns true and sets *val when key is present. */
bool idmap_get(const idmap *m, uint64_t key, uint64_t *val);
/* Removes key; returns whether it was present. */
bool idmap_del(idmap *m, uint64_t key);
/* Bytes held by the table (INFO memory accounting). */
size_t idmap_bytes(const idmap *m);

/* Iteration: for (size_t it = 0; idmap_next(m, &it, &k, &v);) ... */
bool idmap_next(const idmap *m, size_t *it, uint64_t *key, uint64_t *val);

#endif
