/*
 * Linear probing with backward-shift deletion (no tombstones), load factor <= 0.5 so a
 * miss ends after a probe or two. The seed is drawn once from the OS random source.
 */
#include "idmap.h"
#include "mem.h"

#include <sodium.h>
#include <string.h>

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
    memset(m, 0, sizeof *m);
}

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

void idmap_put(idmap *m, uint64_t key, uint64_t val)
{
    if (key == 0) {
        if (!m->has_zero)
            m->count++;
        m->has_zero = true;
        m->zero_val = val;
        return;
    }
    if (!m->slots || (m->count + 1) * 2 > m->mask + 1)
        idmap_reserve(m, m->count + 1);
    size_t j = idmap_hash(key) & m->mask;
    while (m->slots[j].key != 0) {
        if (m->slots[j].key == key) {
            m->slots[j].val = val;
            return;
        }
        j = (j + 1) & m->mask;
    }
    m->slots[j].key = key;
    m->slots[j].val = val;
    m->count++;
}

bool idmap_get(const idmap *m, uint64_t key, uint64_t *val)
{
    if (key == 0) {
        if (m->has_zero)
            *val = m->zero_val;
        return m->has_zero;
    }
    if (!m->slots)
        return false;
    size_t j = idmap_hash(key) & m->mask;
    for (;;) {
        uint64_t k = m->slots[j].key;
        if (k == key) {
            *val = m->slots[j].val;
            return true;
        }
        if (k == 0)
            return false;
        j = (j + 1) & m->mask;
    }
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
    if (!m->slots)
        return false;
    size_t j = idmap_hash(key) & m->mask;
    while (m->slots[j].key != key) {
        if (m->slots[j].key == 0)
            return false;
        j = (j + 1) & m->mask;
    }
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
    m->count--;
    return true;
}

size_t idmap_bytes(const idmap *m)
{
    return m->slots ? (m->mask + 1) * sizeof(idmap_slot) : 0;
}

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
    size_t cap = m->slots ? m->mask + 1 : 0;
    while (*it - 1 < cap) {
        idmap_slot *s = &m->slots[*it - 1];
        (*it)++;
        if (s->key != 0) {
            *key = s->key;
            *val = s->val;
            return true;
        }
    }
    return false;
}
