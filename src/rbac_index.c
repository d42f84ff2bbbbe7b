/*
 * What the model derives from its rows, rebuilt whole when those rows change:
 *   - usable flags of menus (live, enabled, every ancestor too), found by walking each
 *     menu up to a root once, with memo states so the walk is linear and a cycle in
 *     parent_id can neither loop nor make anything usable;
 *   - the child lists of the usable tree, grouped by parent and ordered by (sort, id),
 *     which TREE walks depth-first;
 *   - the code tables (perms -> menu, tenant_code -> tenant): open addressing over
 *     indexes, keys hashed with a per-model random seed and verified by comparing the
 *     string, so a collision costs a probe and never a wrong answer;
 *   - each tenant's subscriptions in (start desc, id desc) order, so the current one is
 *     the first active one at the time of the read.
 * Menus and tenants are few (thousands), so a full rebuild after a change is cheap.
 */
#include "mem.h"
#include "rbac_internal.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define RBAC_STRTAB_MIN 16 /* smallest string table, in slots */

/* ----------------------------------------------------------- subscriptions ---- */

static int cmp_sub(const void *a, const void *b)
{
    const rbac_sub *x = a, *y = b;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? 1 : -1; /* latest start first */
    return (x->id < y->id) - (x->id > y->id);      /* then highest id */
}

void rbac_tenant_subs_refresh(rbac_model *m, rbac_tenant *t)
{
    for (uint32_t k = 0; k < t->nsubs; k++)
        t->subs[k].package = rbac_slot(&m->package_ix, t->subs[k].package_id);
    if (t->nsubs > 1)
        qsort(t->subs, t->nsubs, sizeof *t->subs, cmp_sub);
}

/* ------------------------------------------------------------------ menus ---- */

/* Memo states of the usable walk. */
enum { WALK_TODO = 0, WALK_ON_PATH = 1, WALK_YES = 2, WALK_NO = 3 };

/* Decides usable for menu i and every unresolved menu on its way to the root. Walks up
 * iteratively (no recursion depth to worry about); meeting a menu already on the path
 * is a cycle, and a cycle is never usable. */
static void usable_walk(rbac_model *m, uint32_t i, uint8_t *state, uint32_t *path)
{
    size_t n = 0;
    bool base = false;
    uint32_t j = i;
    for (;;) {
        if (state[j] == WALK_YES || state[j] == WALK_NO) {
            base = state[j] == WALK_YES;
            break;
        }
        if (state[j] == WALK_ON_PATH) {
            base = false; /* cycle */
            break;
        }
        state[j] = WALK_ON_PATH;
        path[n++] = j;
        const rbac_menu *mn = &m->menus[j];
        if (mn->parent_id == 0) {
            base = true;
            break;
        }
        if (mn->parent == RBAC_NONE) {
            base = false; /* the parent is deleted or never existed */
            break;
        }
        j = mn->parent;
    }
    while (n > 0) {
        uint32_t k = path[--n];
        uint8_t need = RBAC_F_LIVE | RBAC_F_ENABLED;
        base = base && (m->menus[k].flags & need) == need;
        state[k] = base ? WALK_YES : WALK_NO;
    }
}

typedef struct child_key {
    uint32_t group; /* parent index, or nmenus for roots */
    int32_t sort;   /* sibling order */
    uint64_t id;    /* tie-break */
    uint32_t idx;   /* the menu */
} child_key;

static int cmp_child(const void *a, const void *b)
{
    const child_key *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->sort != y->sort)
        return x->sort < y->sort ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Child lists of usable menus only: a tree never shows anything else. */
static void children_build(rbac_model *m, size_t nusable)
{
    size_t n = m->nmenus;
    child_key *keys = mem_alloc((nusable ? nusable : 1) * sizeof *keys);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const rbac_menu *mn = &m->menus[i];
        if (!(mn->flags & RBAC_F_USABLE))
            continue;
        keys[k].group = mn->parent_id == 0 ? (uint32_t)n : mn->parent;
        keys[k].sort = mn->sort;
        keys[k].id = mn->id;
        keys[k].idx = (uint32_t)i;
        k++;
    }
    qsort(keys, k, sizeof *keys, cmp_child);
    mem_free(m->child_off);
    mem_free(m->child_idx);
    m->child_off = mem_calloc(n + 2, sizeof *m->child_off);
    m->child_idx = mem_alloc((k ? k : 1) * sizeof *m->child_idx);
    for (size_t i = 0; i < k; i++) {
        m->child_idx[i] = keys[i].idx;
        m->child_off[keys[i].group + 1]++;
    }
    for (size_t g = 0; g < n + 1; g++)
        m->child_off[g + 1] += m->child_off[g];
    mem_free(keys);
}

/* ---- string tables ---- */

typedef const char *strtab_key_fn(const rbac_model *m, uint32_t idx);

static uint64_t strtab_hash(const rbac_model *m, const char *s, size_t len)
{
    return XXH3_64bits_withSeed(s, len, m->hash_seed);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = RBAC_STRTAB_MIN;
    while (c < n)
        c <<= 1;
    return c;
}

static void strtab_build(const rbac_model *m, rbac_strtab *t, size_t n, strtab_key_fn *key)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (key(m, (uint32_t)i))
            count++;
    size_t cap = pow2_at_least(count * 2);
    mem_free(t->slots);
    t->slots = mem_calloc(cap, sizeof *t->slots);
    t->mask = (uint32_t)(cap - 1);
    for (size_t i = 0; i < n; i++) {
        const char *s = key(m, (uint32_t)i);
        if (!s)
            continue;
        size_t len = strlen(s);
        size_t j = strtab_hash(m, s, len) & t->mask;
        bool dup = false;
        while (t->slots[j] && !dup) {
            dup = strcmp(key(m, t->slots[j] - 1), s) == 0; /* first (lowest id) wins */
            j = (j + 1) & t->mask;
        }
        if (!dup)
            t->slots[j] = (uint32_t)i + 1;
    }
}

static uint32_t strtab_get(const rbac_model *m, const rbac_strtab *t, strtab_key_fn *key,
                           const char *s, size_t len)
{
    if (!t->slots)
        return RBAC_NONE;
    size_t j = strtab_hash(m, s, len) & t->mask;
    for (; t->slots[j]; j = (j + 1) & t->mask) {
        const char *k = key(m, t->slots[j] - 1);
        if (strlen(k) == len && memcmp(k, s, len) == 0)
            return t->slots[j] - 1;
    }
    return RBAC_NONE;
}

static const char *menu_code_key(const rbac_model *m, uint32_t i)
{
    return (m->menus[i].flags & RBAC_F_LIVE) ? m->menus[i].perms : NULL;
}

static const char *tenant_code_key(const rbac_model *m, uint32_t i)
{
    return (m->tenants[i].flags & RBAC_F_LIVE) ? m->tenants[i].code : NULL;
}

void rbac_tenant_codes_refresh(rbac_model *m)
{
    strtab_build(m, &m->tenant_codes, m->ntenants, tenant_code_key);
}

void rbac_menus_refresh(rbac_model *m)
{
    size_t n = m->nmenus;
    for (size_t i = 0; i < n; i++) {
        rbac_menu *mn = &m->menus[i];
        mn->parent = mn->parent_id ? rbac_slot(&m->menu_ix, mn->parent_id) : RBAC_NONE;
    }
    uint8_t *state = mem_calloc(n ? n : 1, 1);
    uint32_t *path = mem_alloc((n ? n : 1) * sizeof *path);
    for (size_t i = 0; i < n; i++)
        if (state[i] == WALK_TODO)
            usable_walk(m, (uint32_t)i, state, path);
    roaring_bitmap_free(m->usable);
    m->usable = rbac_bitmap_new();
    size_t nusable = 0;
    for (size_t i = 0; i < n; i++) {
        rbac_menu *mn = &m->menus[i];
        mn->flags &= (uint8_t)~RBAC_F_USABLE;
        if (state[i] == WALK_YES) {
            mn->flags |= RBAC_F_USABLE;
            path[nusable++] = (uint32_t)i;
        }
    }
    roaring_bitmap_add_many(m->usable, nusable, path);
    roaring_bitmap_run_optimize(m->usable);
    mem_free(state);
    mem_free(path);
    children_build(m, nusable);
    strtab_build(m, &m->menu_codes, n, menu_code_key);
}

/* ------------------------------------------------------------ code lookups ---- */

uint32_t rbac_menu_by_code(const rbac_model *m, const char *code, size_t len)
{
    return strtab_get(m, &m->menu_codes, menu_code_key, code, len);
}

bool rbac_tenant_by_code(const rbac_model *m, const char *code, size_t len, uint64_t *id)
{
    uint32_t i = strtab_get(m, &m->tenant_codes, tenant_code_key, code, len);
    if (i == RBAC_NONE)
        return false;
    *id = m->tenants[i].id;
    return true;
}
