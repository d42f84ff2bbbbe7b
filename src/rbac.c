/*
 * The model itself: building it row by row, finishing it (ordering, trimming, then the
 * derived indexes of rbac_index.c), lookups by id, and memory accounting. The layout
 * and its invariants are written once, in rbac_internal.h; reads are in rbac_query.c
 * and changes in place in rbac_update.c.
 *
 * Building is append-only and cheap per row (a hash lookup and an array append), so a
 * million users stream in without sorting; rbac_model_finish() then does every sort
 * once. After finish the same add functions keep working as upserts, keeping lists
 * sorted and exact so the model can be changed in place on the loop thread.
 */
#include "mem.h"
#include "rbac_internal.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- small lists ---- */

static size_t pow2_at_least(size_t n)
{
    size_t c = 1;
    while (c < n)
        c <<= 1;
    return c;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

size_t rbac_u32_sort_unique(uint32_t *v, size_t n)
{
    return util_sort_unique(v, n, sizeof *v, cmp_u32);
}

size_t rbac_u64_sort_unique(uint64_t *v, size_t n)
{
    return util_sort_unique_u64(v, n);
}

/*
 * The list operations are the same for role indexes (uint32, two inline) and ids
 * (uint64, one inline); one template defines both so they cannot drift apart.
 *   append_build: while building; heap capacity is implied by n (next power of two)
 *   trim:         at finish; sort, dedupe, shrink to exactly n (inline when it fits)
 *   insert/erase: after finish; keep the list sorted and exact
 */
/* A million users pay for every byte of this struct. */
_Static_assert(sizeof(rbac_user) <= 48, "rbac_user grew past 48 bytes");

#define RBAC_LIST_OPS(SFX, T, INL, LIST)                                                           \
    void rbac_##SFX##_append_build(LIST *l, size_t n, T v)                                         \
    {                                                                                              \
        if (n < INL) {                                                                             \
            l->in[n] = v;                                                                          \
            return;                                                                                \
        }                                                                                          \
        if (n == INL) {                                                                            \
            T *h = mem_alloc(pow2_at_least(n + 1) * sizeof *h);                                    \
            memcpy(h, l->in, n * sizeof *h);                                                       \
            h[n] = v;                                                                              \
            l->heap = h;                                                                           \
            return;                                                                                \
        }                                                                                          \
        if ((n & (n - 1)) == 0)                                                                    \
            l->heap = mem_realloc(l->heap, 2 * n * sizeof(T));                                     \
        l->heap[n] = v;                                                                            \
    }                                                                                              \
    static size_t SFX##_trim(LIST *l, size_t n)                                                    \
    {                                                                                              \
        if (n <= INL)                                                                              \
            return rbac_##SFX##_sort_unique(l->in, n);                                             \
        T *h = l->heap;                                                                            \
        size_t k = rbac_##SFX##_sort_unique(h, n);                                                 \
        if (k <= INL) {                                                                            \
            memcpy(l->in, h, k * sizeof *h);                                                       \
            mem_free(h);                                                                           \
        } else {                                                                                   \
            l->heap = mem_realloc(h, k * sizeof *h);                                               \
        }                                                                                          \
        return k;                                                                                  \
    }                                                                                              \
    void rbac_##SFX##_clear(LIST *l, size_t n)                                                     \
    {                                                                                              \
        if (n > INL)                                                                               \
            mem_free(l->heap);                                                                     \
        memset(l, 0, sizeof *l);                                                                   \
    }                                                                                              \
    void rbac_##SFX##_set(LIST *l, size_t oldn, const T *v, size_t n)                              \
    {                                                                                              \
        rbac_##SFX##_clear(l, oldn);                                                               \
        if (n <= INL) {                                                                            \
            memcpy(l->in, v, n * sizeof *v);                                                       \
        } else {                                                                                   \
            l->heap = mem_alloc(n * sizeof *v);                                                    \
            memcpy(l->heap, v, n * sizeof *v);                                                     \
        }                                                                                          \
    }                                                                                              \
    /* Inserts v keeping order; returns false if already present. */                               \
    bool rbac_##SFX##_insert(LIST *l, size_t n, T v)                                               \
    {                                                                                              \
        const T *it = rbac_##SFX##_items(l, n);                                                    \
        size_t pos = 0;                                                                            \
        while (pos < n && it[pos] < v)                                                             \
            pos++;                                                                                 \
        if (pos < n && it[pos] == v)                                                               \
            return false;                                                                          \
        T *dst;                                                                                    \
        if (n + 1 <= INL) {                                                                        \
            dst = l->in;                                                                           \
        } else if (n == INL) {                                                                     \
            dst = mem_alloc((n + 1) * sizeof *dst);                                                \
            memcpy(dst, l->in, n * sizeof *dst);                                                   \
            l->heap = dst;                                                                         \
        } else {                                                                                   \
            dst = l->heap = mem_realloc(l->heap, (n + 1) * sizeof *dst);                           \
        }                                                                                          \
        memmove(dst + pos + 1, dst + pos, (n - pos) * sizeof *dst);                                \
        dst[pos] = v;                                                                              \
        return true;                                                                               \
    }                                                                                              \
    /* Removes v; returns false if absent. */                                                      \
    bool rbac_##SFX##_erase(LIST *l, size_t n, T v)                                                \
    {                                                                                              \
        T *it = n <= INL ? l->in : l->heap;                                                        \
        size_t pos = 0;                                                                            \
        while (pos < n && it[pos] != v)                                                            \
            pos++;                                                                                 \
        if (pos == n)                                                                              \
            return false;                                                                          \
        memmove(it + pos, it + pos + 1, (n - pos - 1) * sizeof *it);                               \
        if (n == INL + 1) {                                                                        \
            T tmp[INL];                                                                            \
            memcpy(tmp, it, INL * sizeof *it);                                                     \
            mem_free(it);                                                                          \
            memcpy(l->in, tmp, sizeof tmp);                                                        \
        } else if (n > INL + 1) {                                                                  \
            l->heap = mem_realloc(it, (n - 1) * sizeof *it);                                       \
        }                                                                                          \
        return true;                                                                               \
    }

RBAC_LIST_OPS(u32, uint32_t, RBAC_U32_INLINE, rbac_u32list)
RBAC_LIST_OPS(u64, uint64_t, RBAC_U64_INLINE, rbac_u64list)

/* ------------------------------------------------------------------- helpers ---- */

roaring_bitmap_t *rbac_bitmap_new(void)
{
    roaring_bitmap_t *b = roaring_bitmap_create();
    if (!b) {
        fprintf(stderr, "rbacd: out of memory creating a bitmap\n");
        abort();
    }
    roaring_bitmap_set_copy_on_write(b, false);
    return b;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? mem_strdup(s) : NULL;
}

void rbac_set_live(uint8_t *flags, size_t *counter, bool live)
{
    bool was = *flags & RBAC_F_LIVE;
    if (live && !was) {
        *flags |= RBAC_F_LIVE;
        (*counter)++;
    } else if (!live && was) {
        *flags &= (uint8_t)~RBAC_F_LIVE;
        (*counter)--;
    }
}

static uint8_t enabled_flag(int status)
{
    return status == 1 ? RBAC_F_ENABLED : 0;
}

uint32_t rbac_slot(const idmap *ix, uint64_t id)
{
    uint64_t v;
    return idmap_get(ix, id, &v) ? (uint32_t)v : RBAC_NONE;
}

uint32_t rbac_slot_cached(const idmap *ix, rbac_slot_cache *c, uint64_t id)
{
    if (c->slot != RBAC_NONE && c->id == id)
        return c->slot;
    uint32_t i = rbac_slot(ix, id);
    if (i != RBAC_NONE) {
        c->id = id;
        c->slot = i;
    }
    return i;
}

/* Live owners of association rows, found through the model's one-entry caches. */
static uint32_t user_find_cached(rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot_cached(&m->user_ix, &m->last_user, id);
    return i != RBAC_NONE && (m->users[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

static uint32_t role_find_cached(rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot_cached(&m->role_ix, &m->last_role, id);
    return i != RBAC_NONE && (m->roles[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

static uint32_t package_find_cached(rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot_cached(&m->package_ix, &m->last_package, id);
    return i != RBAC_NONE && (m->packages[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

uint32_t rbac_tenant_find(const rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot(&m->tenant_ix, id);
    return i != RBAC_NONE && (m->tenants[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

uint32_t rbac_user_find(const rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot(&m->user_ix, id);
    return i != RBAC_NONE && (m->users[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

uint32_t rbac_role_find(const rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot(&m->role_ix, id);
    return i != RBAC_NONE && (m->roles[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

uint32_t rbac_package_find(const rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot(&m->package_ix, id);
    return i != RBAC_NONE && (m->packages[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

uint32_t rbac_tenant_ref(rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot(&m->tenant_ix, id);
    if (i != RBAC_NONE)
        return i;
    mem_grow((void **)&m->tenants, &m->captenants, m->ntenants + 1, sizeof *m->tenants);
    i = (uint32_t)m->ntenants++;
    memset(&m->tenants[i], 0, sizeof m->tenants[i]);
    m->tenants[i].id = id;
    idmap_put(&m->tenant_ix, id, i);
    return i;
}

/* ------------------------------------------------------------- model life ---- */

rbac_model *rbac_model_new(void)
{
    rbac_model *m = mem_calloc(1, sizeof *m);
    idmap_init(&m->tenant_ix);
    idmap_init(&m->package_ix);
    idmap_init(&m->menu_ix);
    idmap_init(&m->role_ix);
    idmap_init(&m->user_ix);
    m->last_user.slot = RBAC_NONE;
    m->last_role.slot = RBAC_NONE;
    m->last_package.slot = RBAC_NONE;
    randombytes_buf(&m->hash_seed, sizeof m->hash_seed);
    m->usable = rbac_bitmap_new();
    return m;
}

void rbac_model_free(rbac_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ntenants; i++) {
        mem_free(m->tenants[i].code);
        mem_free(m->tenants[i].subs);
    }
    for (size_t i = 0; i < m->npackages; i++) {
        mem_free(m->packages[i].code);
        roaring_bitmap_free(m->packages[i].menus);
    }
    for (size_t i = 0; i < m->nmenus; i++) {
        mem_free(m->menus[i].name);
        mem_free(m->menus[i].perms);
        mem_free(m->menus[i].path);
    }
    for (size_t i = 0; i < m->nroles; i++) {
        mem_free(m->roles[i].code);
        roaring_bitmap_free(m->roles[i].menus);
    }
    for (size_t i = 0; i < m->nusers; i++) {
        rbac_user *u = &m->users[i];
        rbac_u32_clear(&u->roles, u->nroles);
        rbac_u64_clear(&u->stores, u->nstores);
        rbac_u64_clear(&u->delegates, u->ndelegates);
    }
    mem_free(m->tenants);
    mem_free(m->packages);
    mem_free(m->menus);
    mem_free(m->roles);
    mem_free(m->users);
    idmap_free(&m->tenant_ix);
    idmap_free(&m->package_ix);
    idmap_free(&m->menu_ix);
    idmap_free(&m->role_ix);
    idmap_free(&m->user_ix);
    mem_free(m->menu_codes.slots);
    mem_free(m->tenant_codes.slots);
    roaring_bitmap_free(m->usable);
    mem_free(m->child_off);
    mem_free(m->child_idx);
    rbac_domains_free(m->dom);
    mem_free(m);
}

void rbac_model_set_revision(rbac_model *m, uint64_t revision)
{
    m->revision = revision;
}

uint64_t rbac_model_revision(const rbac_model *m)
{
    return m->revision;
}

/* --------------------------------------------------------------- entities ---- */

void rbac_add_tenant(rbac_model *m, uint64_t id, const char *code, int status)
{
    uint32_t i = rbac_tenant_ref(m, id);
    rbac_tenant *t = &m->tenants[i];
    mem_free(t->code);
    t->code = mem_strdup(code ? code : "");
    t->flags = (uint8_t)((t->flags & RBAC_F_LIVE) | enabled_flag(status));
    rbac_set_live(&t->flags, &m->live_tenants, true);
    if (m->finished)
        rbac_tenant_codes_refresh(m);
}

void rbac_add_package(rbac_model *m, uint64_t id, const char *code, int status)
{
    uint32_t i = rbac_slot(&m->package_ix, id);
    bool fresh = i == RBAC_NONE;
    if (fresh) {
        mem_grow((void **)&m->packages, &m->cappackages, m->npackages + 1, sizeof *m->packages);
        i = (uint32_t)m->npackages++;
        memset(&m->packages[i], 0, sizeof m->packages[i]);
        m->packages[i].id = id;
        m->packages[i].menus = rbac_bitmap_new();
        idmap_put(&m->package_ix, id, i);
    }
    rbac_package *p = &m->packages[i];
    mem_free(p->code);
    p->code = mem_strdup(code ? code : "");
    p->flags = (uint8_t)((p->flags & RBAC_F_LIVE) | enabled_flag(status));
    rbac_set_live(&p->flags, &m->live_packages, true);
    if (m->finished && fresh) {
        /* Subscriptions that named this package before it existed now resolve. */
        for (size_t t = 0; t < m->ntenants; t++)
            for (uint32_t s = 0; s < m->tenants[t].nsubs; s++)
                if (m->tenants[t].subs[s].package_id == id)
                    m->tenants[t].subs[s].package = i;
    }
}

bool rbac_add_menu(rbac_model *m, uint64_t id, uint64_t parent_id, int type, const char *name,
                   const char *perms, const char *path, int32_t sort, int status)
{
    uint32_t i = rbac_slot(&m->menu_ix, id);
    if (i == RBAC_NONE) {
        bool below = m->nmenus > 0 && id < m->menus[m->nmenus - 1].id;
        if (below && m->finished)
            return false;
        if (below)
            m->menus_unsorted = true;
        mem_grow((void **)&m->menus, &m->capmenus, m->nmenus + 1, sizeof *m->menus);
        i = (uint32_t)m->nmenus++;
        memset(&m->menus[i], 0, sizeof m->menus[i]);
        m->menus[i].id = id;
        idmap_put(&m->menu_ix, id, i);
    }
    rbac_menu *mn = &m->menus[i];
    mem_free(mn->name);
    mem_free(mn->perms);
    mem_free(mn->path);
    mn->parent_id = parent_id;
    mn->type = (uint8_t)type;
    mn->name = mem_strdup(name ? name : "");
    mn->perms = dup_or_null(perms);
    mn->perms_len = mn->perms ? (uint32_t)strlen(mn->perms) : 0;
    mn->path = dup_or_null(path);
    mn->sort = sort;
    mn->flags = (uint8_t)((mn->flags & RBAC_F_LIVE) | enabled_flag(status));
    rbac_set_live(&mn->flags, &m->live_menus, true);
    if (m->finished)
        rbac_menus_refresh(m);
    return true;
}

bool rbac_add_subscription(rbac_model *m, uint64_t id, uint64_t tenant_id, uint64_t package_id,
                           int64_t start_ms, int64_t end_ms, int status)
{
    uint32_t ti = rbac_slot(&m->tenant_ix, tenant_id);
    if (ti == RBAC_NONE)
        return false;
    rbac_tenant *t = &m->tenants[ti];
    rbac_sub *s = NULL;
    for (uint32_t k = 0; k < t->nsubs && !s; k++)
        if (t->subs[k].id == id)
            s = &t->subs[k];
    if (!s) {
        size_t cap = t->capsubs;
        mem_grow((void **)&t->subs, &cap, (size_t)t->nsubs + 1, sizeof *t->subs);
        t->capsubs = (uint32_t)cap;
        s = &t->subs[t->nsubs++];
        m->nsubs++;
    }
    s->id = id;
    s->package_id = package_id;
    s->start_ms = start_ms;
    s->end_ms = end_ms;
    s->status = status == 1;
    s->package = rbac_slot(&m->package_ix, package_id);
    if (m->finished)
        rbac_tenant_subs_refresh(m, t);
    return true;
}

void rbac_add_role(rbac_model *m, uint64_t id, uint64_t tenant_id, const char *code, int status)
{
    uint32_t ti = rbac_tenant_ref(m, tenant_id);
    uint32_t i = rbac_slot(&m->role_ix, id);
    if (i == RBAC_NONE) {
        mem_grow((void **)&m->roles, &m->caproles, m->nroles + 1, sizeof *m->roles);
        i = (uint32_t)m->nroles++;
        memset(&m->roles[i], 0, sizeof m->roles[i]);
        m->roles[i].id = id;
        m->roles[i].menus = rbac_bitmap_new();
        idmap_put(&m->role_ix, id, i);
    }
    rbac_role *r = &m->roles[i];
    size_t before = m->finished ? rbac_role_heap_bytes(r) : 0;
    mem_free(r->code);
    r->code = mem_strdup(code ? code : "");
    r->tenant = ti;
    r->flags = (uint8_t)((r->flags & RBAC_F_LIVE) | enabled_flag(status));
    rbac_set_live(&r->flags, &m->live_roles, true);
    if (m->finished)
        rbac_account(&m->role_bytes, before, rbac_role_heap_bytes(r));
}

void rbac_add_user(rbac_model *m, uint64_t id, uint64_t tenant_id, int status, bool is_admin)
{
    uint32_t ti = rbac_tenant_ref(m, tenant_id);
    uint32_t i = rbac_slot(&m->user_ix, id);
    if (i == RBAC_NONE) {
        mem_grow((void **)&m->users, &m->capusers, m->nusers + 1, sizeof *m->users);
        i = (uint32_t)m->nusers++;
        memset(&m->users[i], 0, sizeof m->users[i]);
        idmap_put(&m->user_ix, id, i);
    }
    rbac_user *u = &m->users[i];
    u->tenant = ti;
    u->flags =
        (uint8_t)((u->flags & RBAC_F_LIVE) | enabled_flag(status) | (is_admin ? RBAC_F_ADMIN : 0));
    rbac_set_live(&u->flags, &m->live_users, true);
}

/* ----------------------------------------------------------- associations ---- */

bool rbac_add_package_menu(rbac_model *m, uint64_t package_id, uint64_t menu_id)
{
    uint32_t p = package_find_cached(m, package_id), mi = rbac_slot(&m->menu_ix, menu_id);
    if (p == RBAC_NONE || mi == RBAC_NONE)
        return false;
    roaring_bitmap_add(m->packages[p].menus, mi);
    return true;
}

bool rbac_add_role_menu(rbac_model *m, uint64_t role_id, uint64_t menu_id)
{
    uint32_t r = role_find_cached(m, role_id), mi = rbac_slot(&m->menu_ix, menu_id);
    if (r == RBAC_NONE || mi == RBAC_NONE)
        return false;
    rbac_role *role = &m->roles[r];
    size_t before = m->finished ? rbac_role_heap_bytes(role) : 0;
    roaring_bitmap_add(role->menus, mi);
    if (m->finished)
        rbac_account(&m->role_bytes, before, rbac_role_heap_bytes(role));
    return true;
}

bool rbac_add_user_role(rbac_model *m, uint64_t user_id, uint64_t role_id)
{
    uint32_t ui = user_find_cached(m, user_id), r = rbac_slot(&m->role_ix, role_id);
    if (ui == RBAC_NONE || r == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[ui];
    if (u->nroles == RBAC_MAX_LIST16)
        return false;
    if (!m->finished) {
        rbac_u32_append_build(&u->roles, u->nroles++, r);
        return true;
    }
    size_t before = rbac_user_heap_bytes(u);
    if (rbac_u32_insert(&u->roles, u->nroles, r))
        u->nroles++;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    return true;
}

bool rbac_add_user_store(rbac_model *m, uint64_t user_id, uint64_t store_id)
{
    uint32_t ui = user_find_cached(m, user_id);
    if (ui == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[ui];
    if (u->nstores == UINT32_MAX)
        return false;
    if (!m->finished) {
        rbac_u64_append_build(&u->stores, u->nstores++, store_id);
        return true;
    }
    size_t before = rbac_user_heap_bytes(u);
    if (rbac_u64_insert(&u->stores, u->nstores, store_id))
        u->nstores++;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    return true;
}

bool rbac_add_delegate(rbac_model *m, uint64_t user_id, uint64_t delegate_user_id)
{
    uint32_t ui = user_find_cached(m, user_id);
    if (ui == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[ui];
    if (u->ndelegates == RBAC_MAX_LIST16)
        return false;
    if (!m->finished) {
        rbac_u64_append_build(&u->delegates, u->ndelegates++, delegate_user_id);
        return true;
    }
    size_t before = rbac_user_heap_bytes(u);
    if (rbac_u64_insert(&u->delegates, u->ndelegates, delegate_user_id))
        u->ndelegates++;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    return true;
}

/* ----------------------------------------------------------------- finish ---- */

/* Rewrites a bitmap of old menu indexes into new ones (menus were re-sorted). */
static void bitmap_remap(roaring_bitmap_t **b, const uint32_t *newidx)
{
    uint64_t n = roaring_bitmap_get_cardinality(*b);
    if (n == 0)
        return;
    uint32_t *v = mem_alloc(n * sizeof *v);
    roaring_bitmap_to_uint32_array(*b, v);
    for (uint64_t k = 0; k < n; k++)
        v[k] = newidx[v[k]];
    roaring_bitmap_free(*b);
    *b = rbac_bitmap_new();
    roaring_bitmap_add_many(*b, n, v);
    mem_free(v);
}

static int cmp_menu_id(const void *a, const void *b)
{
    uint64_t x = ((const rbac_menu *)a)->id, y = ((const rbac_menu *)b)->id;
    return (x > y) - (x < y);
}

/* Menus arrived out of id order: sort them and move every bitmap to the new indexes so
 * that bitmap order is id order again. Only hand-built models get here. */
static void menus_sort(rbac_model *m)
{
    qsort(m->menus, m->nmenus, sizeof *m->menus, cmp_menu_id);
    uint32_t *newidx = mem_alloc((m->nmenus ? m->nmenus : 1) * sizeof *newidx);
    for (size_t i = 0; i < m->nmenus; i++) {
        uint64_t old;
        if (idmap_get(&m->menu_ix, m->menus[i].id, &old))
            newidx[old] = (uint32_t)i;
        idmap_put(&m->menu_ix, m->menus[i].id, i);
    }
    for (size_t i = 0; i < m->npackages; i++)
        bitmap_remap(&m->packages[i].menus, newidx);
    for (size_t i = 0; i < m->nroles; i++)
        bitmap_remap(&m->roles[i].menus, newidx);
    mem_free(newidx);
    m->menus_unsorted = false;
}

/* Gives back what doubling left unused at the end of an array (a sixteenth is kept for
 * the entities that come later through the change log). */
static void array_fit(void **v, size_t *cap, size_t n, size_t size)
{
    size_t want = n + n / 16 + 16;
    if (*v && want < *cap) {
        *v = mem_realloc(*v, want * size);
        *cap = want;
    }
}

void rbac_model_finish(rbac_model *m)
{
    array_fit((void **)&m->users, &m->capusers, m->nusers, sizeof *m->users);
    array_fit((void **)&m->roles, &m->caproles, m->nroles, sizeof *m->roles);
    if (m->menus_unsorted)
        menus_sort(m);
    rbac_menus_refresh(m);
    for (size_t i = 0; i < m->ntenants; i++)
        rbac_tenant_subs_refresh(m, &m->tenants[i]);
    rbac_tenant_codes_refresh(m);
    for (size_t i = 0; i < m->nusers; i++) {
        rbac_user *u = &m->users[i];
        u->nroles = (uint16_t)u32_trim(&u->roles, u->nroles);
        u->nstores = (uint32_t)u64_trim(&u->stores, u->nstores);
        u->ndelegates = (uint16_t)u64_trim(&u->delegates, u->ndelegates);
    }
    for (size_t i = 0; i < m->npackages; i++) {
        roaring_bitmap_run_optimize(m->packages[i].menus);
        roaring_bitmap_shrink_to_fit(m->packages[i].menus);
    }
    m->user_bytes = 0;
    for (size_t i = 0; i < m->nusers; i++)
        m->user_bytes += rbac_user_heap_bytes(&m->users[i]);
    m->role_bytes = 0;
    for (size_t i = 0; i < m->nroles; i++) {
        roaring_bitmap_run_optimize(m->roles[i].menus);
        roaring_bitmap_shrink_to_fit(m->roles[i].menus);
        m->role_bytes += rbac_role_heap_bytes(&m->roles[i]);
    }
    m->finished = true;
}

/* ---------------------------------------------------------------- lookups ---- */

uint32_t rbac_menu_by_id(const rbac_model *m, uint64_t id)
{
    uint32_t i = rbac_slot(&m->menu_ix, id);
    return i != RBAC_NONE && (m->menus[i].flags & RBAC_F_LIVE) ? i : RBAC_NONE;
}

bool rbac_menu_get(const rbac_model *m, uint32_t idx, rbac_menu_info *out)
{
    if (idx >= m->nmenus)
        return false;
    const rbac_menu *mn = &m->menus[idx];
    out->id = mn->id;
    out->parent_id = mn->parent_id;
    out->type = mn->type;
    out->sort = mn->sort;
    out->name = mn->name;
    out->perms = mn->perms;
    out->perms_len = mn->perms_len;
    out->path = mn->path;
    out->usable = mn->flags & RBAC_F_USABLE;
    return true;
}

const char *rbac_menu_perms(const rbac_model *m, uint32_t idx, size_t *len)
{
    if (idx >= m->nmenus) {
        *len = 0;
        return NULL;
    }
    *len = m->menus[idx].perms_len;
    return m->menus[idx].perms;
}

size_t rbac_user_count(const rbac_model *m)
{
    return m->live_users;
}

/* ------------------------------------------------------------- accounting ---- */

static size_t bitmap_bytes(const roaring_bitmap_t *b)
{
    /* The portable size is O(containers) (roaring_bitmap_statistics() visits every
     * value): container payloads plus key and cardinality per container. Add the index's
     * pointer and type code per container and the struct itself. */
    return sizeof *b + roaring_bitmap_portable_size_in_bytes(b) +
           (size_t)b->high_low_container.size * (sizeof(void *) + 1);
}

static size_t str_bytes(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

size_t rbac_user_heap_bytes(const rbac_user *u)
{
    size_t b = 0;
    if (u->nroles > RBAC_U32_INLINE)
        b += u->nroles * sizeof(uint32_t);
    if (u->nstores > RBAC_U64_INLINE)
        b += u->nstores * sizeof(uint64_t);
    if (u->ndelegates > RBAC_U64_INLINE)
        b += u->ndelegates * sizeof(uint64_t);
    return b;
}

size_t rbac_role_heap_bytes(const rbac_role *r)
{
    return str_bytes(r->code) + bitmap_bytes(r->menus);
}

/* O(tenants + packages + menus): users and roles come from the running totals. */
static size_t model_bytes(const rbac_model *m)
{
    size_t b = sizeof *m;
    b += m->captenants * sizeof *m->tenants + m->cappackages * sizeof *m->packages +
         m->capmenus * sizeof *m->menus + m->caproles * sizeof *m->roles +
         m->capusers * sizeof *m->users;
    b += idmap_bytes(&m->tenant_ix) + idmap_bytes(&m->package_ix) + idmap_bytes(&m->menu_ix) +
         idmap_bytes(&m->role_ix) + idmap_bytes(&m->user_ix);
    b += (m->menu_codes.slots ? (m->menu_codes.mask + 1) * sizeof(uint32_t) : 0) +
         (m->tenant_codes.slots ? (m->tenant_codes.mask + 1) * sizeof(uint32_t) : 0);
    b += bitmap_bytes(m->usable);
    if (m->child_off)
        b += (m->nmenus + 2) * sizeof(uint32_t) +
             roaring_bitmap_get_cardinality(m->usable) * sizeof(uint32_t);
    for (size_t i = 0; i < m->ntenants; i++)
        b += str_bytes(m->tenants[i].code) + m->tenants[i].capsubs * sizeof(rbac_sub);
    for (size_t i = 0; i < m->npackages; i++)
        b += str_bytes(m->packages[i].code) + bitmap_bytes(m->packages[i].menus);
    for (size_t i = 0; i < m->nmenus; i++)
        b += str_bytes(m->menus[i].name) + str_bytes(m->menus[i].perms) +
             str_bytes(m->menus[i].path);
    return b + m->user_bytes + m->role_bytes + rbac_domains_bytes(m->dom);
}

void rbac_model_stats(const rbac_model *m, rbac_stats *out)
{
    out->tenants = m->live_tenants;
    out->users = m->live_users;
    out->roles = m->live_roles;
    out->menus = m->live_menus;
    out->packages = m->live_packages;
    out->subscriptions = m->nsubs;
    out->bytes = model_bytes(m);
}
