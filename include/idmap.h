/*
 * idmap.c — an open-addressing hash table from 64-bit ids to 64-bit values. It maps
 * database ids to dense internal indexes (the bitmaps hold 32-bit values only), client
 * ids to clients, and anything else keyed by an integer. Keys are mixed with a
 * per-process random seed, so clients cannot choose ids that collide.
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
    idmap_slot *slots; /* capacity is a power of two; key 0 lives in zero_val */
    size_t mask;       /* capacity - 1, or 0 when nothing is allocated */
    size_t count;      /* live keys, key 0 included */
    bool has_zero;     /* key 0 is present */
    uint64_t zero_val; /* its value */
} idmap;

void idmap_init(idmap *m);
void idmap_free(idmap *m);
/* Pre-sizes for n keys, so a bulk load does not rehash. */
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
