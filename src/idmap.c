/*
 * The window and the hash part of idmap.h. A key lives in exactly one of them: put
 * updates a key where it is, and only a key not held anywhere may enter the window.
 *
 * Hash part: linear probing with backward-shift deletion (no tombstones), load factor
 * <= 0.5 so a miss ends after a probe or two. The seed is drawn once from the OS random
 * source.
 *
 * Window: grows upward by doubling while the keys it holds stay at least half of the
 * span from its base to the new key (IDMAP_WINDOW_DENSITY), so it never costs more
 * than about twice the 8 bytes a key: ids loaded in ascending order (ORDER BY id) fill
 * it without one hash probe, and a lookup is a range check and an array read.
 */
#include "idmap.h"
#include "mem.h"

#include <sodium.h>
#include <string.h>

#define IDMAP_WINDOW_MIN     64 /* first window, in slots */
#define IDMAP_WINDOW_DENSITY 2  /* the window's span may be at most this times its keys */

static uint64_t idmap_seed;
static bool idmap_seeded;

static inline uint64_t idmap_hash(uint64_t key)
{
    /* splitmix64 finaliser over a seeded key: cheap and well mixed. */
    uint64_t x = key ^ idmap_seed;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void idmap_init(idmap *m)
{
    if (!idmap_seeded) {
        /* randombytes_buf is safe before sodium_init() on Linux (getrandom). */
        randombytes_buf(&idmap_seed, sizeof idmap_seed);
        idmap_seeded = true;
    }
    memset(m, 0, sizeof *m);
}

void idmap_free(idmap *m)
{
    mem_free(m->slots);
    mem_free(m->dense);
    mem_free(m->dbits);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- window ---- */

/* The window slot of key, or SIZE_MAX when key is outside the window. */
static inline size_t window_slot(const idmap *m, uint64_t key)
{
    return key >= m->dbase && key - m->dbase < m->dcap ? (size_t)(key - m->dbase) : SIZE_MAX;
}

static inline bool window_held(const idmap *m, size_t i)
{
    return (m->dbits[i / 64] >> (i % 64)) & 1;
}

/* Whether key may enter the window: it starts one, or falls in or just above it with
 * the window staying dense enough. Grows the window to cover key when it does. */
static bool window_take(idmap *m, uint64_t key)
{
    if (m->dcap == 0) {
        m->dbase = key;
        m->dcap = IDMAP_WINDOW_MIN;
        m->dense = mem_alloc(m->dcap * sizeof *m->dense);
        m->dbits = mem_calloc(m->dcap / 64, sizeof *m->dbits);
        return true;
    }
    if (key < m->dbase)
        return false;
    uint64_t span = key - m->dbase + 1;
    if (span <= m->dcap)
        return true;
    if (span > (uint64_t)(m->dcount + 1) * IDMAP_WINDOW_DENSITY + IDMAP_WINDOW_MIN)
        return false;
    size_t ncap = m->dcap;
    while (ncap < span)
        ncap *= 2;
    m->dense = mem_realloc(m->dense, ncap * sizeof *m->dense);
    m->dbits = mem_realloc(m->dbits, ncap / 64 * sizeof *m->dbits);
    memset(m->dbits + m->dcap / 64, 0, (ncap - m->dcap) / 64 * sizeof *m->dbits);
    m->dcap = ncap;
    return true;
}

/* ------------------------------------------------------------------ hash ---- */

static void idmap_rehash(idmap *m, size_t ncap)
{
    idmap_slot *old = m->slots;
    size_t oldcap = m->slots ? m->mask + 1 : 0;
    m->slots = mem_calloc(ncap, sizeof *m->slots);
    m->mask = ncap - 1;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key == 0)
            continue;
        size_t j = idmap_hash(old[i].key) & m->mask;
        while (m->slots[j].key != 0)
            j = (j + 1) & m->mask;
        m->slots[j] = old[i];
    }
    mem_free(old);
}

void idmap_reserve(idmap *m, size_t n)
{
    size_t cap = m->slots ? m->mask + 1 : 0;
    size_t need = 16;
    while (need < n * 2)
        need *= 2;
    if (need > cap)
        idmap_rehash(m, need);
}

/* The hash slot holding key, or SIZE_MAX. */
static size_t hash_find(const idmap *m, uint64_t key)
{
    if (m->hcount == 0)
        return SIZE_MAX;
    for (size_t j = idmap_hash(key) & m->mask;; j = (j + 1) & m->mask) {
        uint64_t k = m->slots[j].key;
        if (k == key)
            return j;
        if (k == 0)
            return SIZE_MAX;
    }
}

static void hash_insert(idmap *m, uint64_t key, uint64_t val)
{
    if (!m->slots || (m->hcount + 1) * 2 > m->mask + 1)
        idmap_reserve(m, m->hcount + 1);
    size_t j = idmap_hash(key) & m->mask;
    while (m->slots[j].key != 0)
        j = (j + 1) & m->mask;
    m->slots[j].key = key;
    m->slots[j].val = val;
    m->hcount++;
}

/* ------------------------------------------------------------------- map ---- */

void idmap_put(idmap *m, uint64_t key, uint64_t val)
{
    if (key == 0) {
        if (!m->has_zero)
            m->count++;
        m->has_zero = true;
        m->zero_val = val;
        return;
    }
    size_t i = window_slot(m, key);
    if (i != SIZE_MAX && window_held(m, i)) {
        m->dense[i] = val;
        return;
    }
    size_t j = hash_find(m, key);
    if (j != SIZE_MAX) {
        m->slots[j].val = val;
        return;
    }
    m->count++;
    if (window_take(m, key)) {
        i = (size_t)(key - m->dbase);
        m->dense[i] = val;
        m->dbits[i / 64] |= 1ULL << (i % 64);
        m->dcount++;
        return;
    }
    hash_insert(m, key, val);
}

bool idmap_get(const idmap *m, uint64_t key, uint64_t *val)
{
    if (key == 0) {
        if (m->has_zero)
            *val = m->zero_val;
        return m->has_zero;
    }
    size_t i = window_slot(m, key);
    if (i != SIZE_MAX && window_held(m, i)) {
        *val = m->dense[i];
        return true;
    }
    size_t j = hash_find(m, key);
    if (j == SIZE_MAX)
        return false;
    *val = m->slots[j].val;
    return true;
}

bool idmap_del(idmap *m, uint64_t key)
{
    if (key == 0) {
        if (!m->has_zero)
            return false;
        m->has_zero = false;
        m->count--;
        return true;
    }
    size_t i = window_slot(m, key);
    if (i != SIZE_MAX && window_held(m, i)) {
        m->dbits[i / 64] &= ~(1ULL << (i % 64));
        m->dcount--;
        m->count--;
        return true;
    }
    size_t j = hash_find(m, key);
    if (j == SIZE_MAX)
        return false;
    /* Backward-shift: pull later members of the cluster into the hole. */
    size_t hole = j;
    for (size_t k = (j + 1) & m->mask; m->slots[k].key != 0; k = (k + 1) & m->mask) {
        size_t home = idmap_hash(m->slots[k].key) & m->mask;
        bool movable = hole <= k ? (home <= hole || home > k) : (home <= hole && home > k);
        if (movable) {
            m->slots[hole] = m->slots[k];
            hole = k;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].val = 0;
    m->hcount--;
    m->count--;
    return true;
}

size_t idmap_bytes(const idmap *m)
{
    return (m->slots ? (m->mask + 1) * sizeof(idmap_slot) : 0) + m->dcap * sizeof *m->dense +
           m->dcap / 8;
}

/* Iteration: *it 0 is the start (key 0), then 1 .. dcap the window, then the hash part. */
bool idmap_next(const idmap *m, size_t *it, uint64_t *key, uint64_t *val)
{
    if (*it == 0) {
        *it = 1;
        if (m->has_zero) {
            *key = 0;
            *val = m->zero_val;
            return true;
        }
    }
    while (*it - 1 < m->dcap) {
        size_t i = (*it)++ - 1;
        if (window_held(m, i)) {
            *key = m->dbase + i;
            *val = m->dense[i];
            return true;
        }
    }
    size_t cap = m->slots ? m->mask + 1 : 0;
    while (*it - 1 - m->dcap < cap) {
        const idmap_slot *s = &m->slots[*it - 1 - m->dcap];
        (*it)++;
        if (s->key != 0) {
            *key = s->key;
            *val = s->val;
            return true;
        }
    }
    return false;
}
