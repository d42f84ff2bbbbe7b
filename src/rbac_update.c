/*
 * Changes to a finished model in place, on the loop thread: what a change-log consumer
 * or a write-through command applies after the database accepted it. Each function
 * touches one entity, so a change costs what that entity holds, never the whole model
 * (menus are the exception: a menu change recomputes the derived menu data, which is
 * O(menus) and menus are few).
 *
 * Removal never frees a slot: the entity is marked dead (RBAC_F_LIVE cleared) so that
 * indexes held elsewhere stay valid; a role or user also drops what it holds, so a
 * revived one starts empty and is refilled by whoever revives it.
 *
 * These functions refuse (return false) on a model that is still being built: build-time
 * lists have an implied capacity the exact-size operations here would break.
 */
#include "mem.h"
#include "rbac_internal.h"
#include "util.h"

#include <string.h>

bool rbac_remove_tenant(rbac_model *m, uint64_t id)
{
    uint32_t i = m->finished ? rbac_tenant_find(m, id) : RBAC_NONE;
    if (i == RBAC_NONE)
        return false;
    rbac_set_live(&m->tenants[i].flags, &m->live_tenants, false);
    rbac_tenant_codes_refresh(m);
    return true;
}

bool rbac_remove_package(rbac_model *m, uint64_t id)
{
    uint32_t i = m->finished ? rbac_package_find(m, id) : RBAC_NONE;
    if (i == RBAC_NONE)
        return false;
    rbac_package *p = &m->packages[i];
    rbac_set_live(&p->flags, &m->live_packages, false);
    roaring_bitmap_free(p->menus);
    p->menus = rbac_bitmap_new();
    return true;
}

bool rbac_remove_menu(rbac_model *m, uint64_t id)
{
    uint32_t i = m->finished ? rbac_menu_by_id(m, id) : RBAC_NONE;
    if (i == RBAC_NONE)
        return false;
    rbac_set_live(&m->menus[i].flags, &m->live_menus, false);
    rbac_menus_refresh(m);
    return true;
}

bool rbac_remove_subscription(rbac_model *m, uint64_t tenant_id, uint64_t id)
{
    uint64_t v;
    if (!m->finished || !idmap_get(&m->tenant_ix, tenant_id, &v))
        return false;
    rbac_tenant *t = &m->tenants[v];
    for (uint32_t k = 0; k < t->nsubs; k++) {
        if (t->subs[k].id != id)
            continue;
        memmove(&t->subs[k], &t->subs[k + 1], (t->nsubs - k - 1) * sizeof *t->subs);
        t->nsubs--;
        m->nsubs--;
        return true;
    }
    return false;
}

bool rbac_remove_role(rbac_model *m, uint64_t id)
{
    uint32_t i = m->finished ? rbac_role_find(m, id) : RBAC_NONE;
    if (i == RBAC_NONE)
        return false;
    rbac_role *r = &m->roles[i];
    size_t before = rbac_role_heap_bytes(r);
    rbac_set_live(&r->flags, &m->live_roles, false);
    roaring_bitmap_free(r->menus);
    r->menus = rbac_bitmap_new();
    rbac_account(&m->role_bytes, before, rbac_role_heap_bytes(r));
    return true;
}

bool rbac_remove_user(rbac_model *m, uint64_t id)
{
    uint32_t i = m->finished ? rbac_user_find(m, id) : RBAC_NONE;
    if (i == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[i];
    rbac_account(&m->user_bytes, rbac_user_heap_bytes(u), 0);
    rbac_set_live(&u->flags, &m->live_users, false);
    rbac_u32_clear(&u->roles, u->nroles);
    rbac_u64_clear(&u->stores, u->nstores);
    rbac_u64_clear(&u->delegates, u->ndelegates);
    u->nroles = 0;
    u->nstores = 0;
    u->ndelegates = 0;
    return true;
}

/* ---------------------------------------------------- association removal ---- */

bool rbac_remove_package_menu(rbac_model *m, uint64_t package_id, uint64_t menu_id)
{
    uint32_t p = m->finished ? rbac_package_find(m, package_id) : RBAC_NONE;
    uint32_t mi = rbac_slot(&m->menu_ix, menu_id);
    if (p == RBAC_NONE || mi == RBAC_NONE)
        return false;
    return roaring_bitmap_remove_checked(m->packages[p].menus, mi);
}

bool rbac_remove_role_menu(rbac_model *m, uint64_t role_id, uint64_t menu_id)
{
    uint32_t r = m->finished ? rbac_role_find(m, role_id) : RBAC_NONE;
    uint32_t mi = rbac_slot(&m->menu_ix, menu_id);
    if (r == RBAC_NONE || mi == RBAC_NONE)
        return false;
    rbac_role *role = &m->roles[r];
    size_t before = rbac_role_heap_bytes(role);
    bool had = roaring_bitmap_remove_checked(role->menus, mi);
    rbac_account(&m->role_bytes, before, rbac_role_heap_bytes(role));
    return had;
}

bool rbac_remove_user_role(rbac_model *m, uint64_t user_id, uint64_t role_id)
{
    uint32_t ui = m->finished ? rbac_user_find(m, user_id) : RBAC_NONE;
    uint32_t r = rbac_slot(&m->role_ix, role_id);
    if (ui == RBAC_NONE || r == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[ui];
    size_t before = rbac_user_heap_bytes(u);
    if (!rbac_u32_erase(&u->roles, u->nroles, r))
        return false;
    u->nroles--;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    return true;
}

bool rbac_remove_user_store(rbac_model *m, uint64_t user_id, uint64_t store_id)
{
    uint32_t ui = m->finished ? rbac_user_find(m, user_id) : RBAC_NONE;
    if (ui == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[ui];
    size_t before = rbac_user_heap_bytes(u);
    if (!rbac_u64_erase(&u->stores, u->nstores, store_id))
        return false;
    u->nstores--;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    return true;
}

bool rbac_remove_delegate(rbac_model *m, uint64_t user_id, uint64_t delegate_user_id)
{
    uint32_t ui = m->finished ? rbac_user_find(m, user_id) : RBAC_NONE;
    if (ui == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[ui];
    size_t before = rbac_user_heap_bytes(u);
    if (!rbac_u64_erase(&u->delegates, u->ndelegates, delegate_user_id))
        return false;
    u->ndelegates--;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    return true;
}

/* ------------------------------------------------------ whole-list replace ---- */

/* A bitmap of the menu indexes of the known menus among ids. */
static roaring_bitmap_t *menu_bitmap(const rbac_model *m, const uint64_t *ids, size_t n)
{
    roaring_bitmap_t *b = rbac_bitmap_new();
    uint32_t *v = mem_alloc((n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t mi = rbac_slot(&m->menu_ix, ids[i]);
        if (mi != RBAC_NONE)
            v[k++] = mi;
    }
    k = rbac_u32_sort_unique(v, k);
    roaring_bitmap_add_many(b, k, v);
    roaring_bitmap_run_optimize(b);
    mem_free(v);
    return b;
}

bool rbac_set_package_menus(rbac_model *m, uint64_t package_id, const uint64_t *menu_ids, size_t n)
{
    uint32_t p = m->finished ? rbac_package_find(m, package_id) : RBAC_NONE;
    if (p == RBAC_NONE)
        return false;
    roaring_bitmap_free(m->packages[p].menus);
    m->packages[p].menus = menu_bitmap(m, menu_ids, n);
    return true;
}

bool rbac_set_role_menus(rbac_model *m, uint64_t role_id, const uint64_t *menu_ids, size_t n)
{
    uint32_t r = m->finished ? rbac_role_find(m, role_id) : RBAC_NONE;
    if (r == RBAC_NONE)
        return false;
    rbac_role *role = &m->roles[r];
    size_t before = rbac_role_heap_bytes(role);
    roaring_bitmap_free(role->menus);
    role->menus = menu_bitmap(m, menu_ids, n);
    rbac_account(&m->role_bytes, before, rbac_role_heap_bytes(role));
    return true;
}

bool rbac_set_user_roles(rbac_model *m, uint64_t user_id, const uint64_t *role_ids, size_t n)
{
    uint32_t ui = m->finished ? rbac_user_find(m, user_id) : RBAC_NONE;
    if (ui == RBAC_NONE)
        return false;
    uint32_t *v = mem_alloc((n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rbac_slot(&m->role_ix, role_ids[i]);
        if (r != RBAC_NONE)
            v[k++] = r;
    }
    k = rbac_u32_sort_unique(v, k);
    if (k > RBAC_MAX_LIST16)
        k = RBAC_MAX_LIST16;
    rbac_user *u = &m->users[ui];
    size_t before = rbac_user_heap_bytes(u);
    rbac_u32_set(&u->roles, u->nroles, v, k);
    u->nroles = (uint16_t)k;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    mem_free(v);
    return true;
}

/* Sorted, unique copy of ids, at most max entries; returns the count. */
static size_t sorted_copy(const uint64_t *ids, size_t n, size_t max, uint64_t **out)
{
    uint64_t *v = mem_alloc((n ? n : 1) * sizeof *v);
    if (n)
        memcpy(v, ids, n * sizeof *v);
    size_t k = util_sort_unique_u64(v, n);
    *out = v;
    return k > max ? max : k;
}

bool rbac_set_user_stores(rbac_model *m, uint64_t user_id, const uint64_t *store_ids, size_t n)
{
    uint32_t ui = m->finished ? rbac_user_find(m, user_id) : RBAC_NONE;
    if (ui == RBAC_NONE)
        return false;
    uint64_t *v;
    size_t k = sorted_copy(store_ids, n, UINT32_MAX, &v);
    rbac_user *u = &m->users[ui];
    size_t before = rbac_user_heap_bytes(u);
    rbac_u64_set(&u->stores, u->nstores, v, k);
    u->nstores = (uint32_t)k;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    mem_free(v);
    return true;
}

bool rbac_set_user_delegates(rbac_model *m, uint64_t user_id, const uint64_t *user_ids, size_t n)
{
    uint32_t ui = m->finished ? rbac_user_find(m, user_id) : RBAC_NONE;
    if (ui == RBAC_NONE)
        return false;
    uint64_t *v;
    size_t k = sorted_copy(user_ids, n, RBAC_MAX_LIST16, &v);
    rbac_user *u = &m->users[ui];
    size_t before = rbac_user_heap_bytes(u);
    rbac_u64_set(&u->delegates, u->ndelegates, v, k);
    u->ndelegates = (uint16_t)k;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    mem_free(v);
    return true;
}

/* ----------------------------------------------------------- subscriptions ---- */

bool rbac_set_subscriptions(rbac_model *m, uint64_t tenant_id, const rbac_sub_row *rows, size_t n)
{
    if (!m->finished)
        return false;
    /* rbac_tenant_ref may grow m->tenants: index only after it returned. */
    uint32_t ti = rbac_tenant_ref(m, tenant_id);
    rbac_tenant *t = &m->tenants[ti];
    m->nsubs -= t->nsubs;
    if (n > t->capsubs) {
        mem_free(t->subs);
        t->subs = mem_alloc(n * sizeof *t->subs);
        t->capsubs = (uint32_t)n;
    }
    for (size_t k = 0; k < n; k++) {
        rbac_sub *s = &t->subs[k];
        s->id = rows[k].id;
        s->package_id = rows[k].package_id;
        s->start_ms = rows[k].start_ms;
        s->end_ms = rows[k].end_ms;
        s->status = rows[k].status == 1;
    }
    t->nsubs = (uint32_t)n;
    m->nsubs += n;
    rbac_tenant_subs_refresh(m, t);
    return true;
}

/* ------------------------------------------------------------------ lookups ---- */

bool rbac_role_known(const rbac_model *m, uint64_t id)
{
    return rbac_slot(&m->role_ix, id) != RBAC_NONE;
}

bool rbac_menu_known(const rbac_model *m, uint64_t id)
{
    return rbac_slot(&m->menu_ix, id) != RBAC_NONE;
}
