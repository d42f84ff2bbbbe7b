/*
 * The permission reads of SPEC §1, answered from a finished model. Every read starts at
 * the same gate (tenant known and enabled, user known, in that tenant and enabled),
 * then decides the current package from the caller's clock:
 *
 *   CANMENU  menu usable? -> gate -> current package contains menu? -> admin? -> any
 *            usable same-tenant role contains menu?            (no allocation)
 *   MENUS    (package ∩ usable) ∩ (admin ? all : ∪ usable role bitmaps); as a bitmap
 *            (rbac_menus) or copied into a caller's reusable array (rbac_menus_list)
 *   TREE     MENUS + ancestors, walked depth-first over the precomputed child lists
 *   WHY      the same checks, each failing one said in words
 *
 * Deny by default: every path that cannot prove access returns "no".
 */
#include "buf.h"
#include "mem.h"
#include "rbac_internal.h"
#include "util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GRANT_ON_STACK 16 /* role bitmaps rbac_menus() gathers without allocating */

enum gate {
    GATE_OK = 0,
    GATE_UNKNOWN_TENANT,  /* no live tenant with that id */
    GATE_UNKNOWN_USER,    /* no live user with that id */
    GATE_OTHER_TENANT,    /* the user exists in another tenant */
    GATE_USER_DISABLED,   /* user status 0 */
    GATE_TENANT_DISABLED, /* tenant status 0 */
};

/* The checks every read shares. On GATE_OK, *ti and *u name the tenant and user; on
 * the later failures (other tenant, disabled) they are set as well, for WHY. */
static enum gate gate(const rbac_model *m, uint64_t tenant, uint64_t user, uint32_t *ti,
                      const rbac_user **u)
{
    if (!m)
        return GATE_UNKNOWN_TENANT;
    *ti = rbac_tenant_find(m, tenant);
    if (*ti == RBAC_NONE)
        return GATE_UNKNOWN_TENANT;
    uint32_t ui = rbac_user_find(m, user);
    if (ui == RBAC_NONE)
        return GATE_UNKNOWN_USER;
    *u = &m->users[ui];
    if ((*u)->tenant != *ti)
        return GATE_OTHER_TENANT;
    if (!((*u)->flags & RBAC_F_ENABLED))
        return GATE_USER_DISABLED;
    if (!(m->tenants[*ti].flags & RBAC_F_ENABLED))
        return GATE_TENANT_DISABLED;
    return GATE_OK;
}

/* The current subscription: subs are sorted by (start desc, id desc), so the first one
 * active at now is the latest start, then the highest id. */
static const rbac_sub *current_sub(const rbac_tenant *t, int64_t now_ms)
{
    for (uint32_t k = 0; k < t->nsubs; k++) {
        const rbac_sub *s = &t->subs[k];
        if (s->status == 1 && s->start_ms <= now_ms && now_ms < s->end_ms)
            return s;
    }
    return NULL;
}

/* The package of a subscription if it can grant anything (live and enabled). */
static const rbac_package *sub_package(const rbac_model *m, const rbac_sub *s)
{
    if (!s || s->package == RBAC_NONE)
        return NULL;
    const rbac_package *p = &m->packages[s->package];
    uint8_t need = RBAC_F_LIVE | RBAC_F_ENABLED;
    return (p->flags & need) == need ? p : NULL;
}

static bool role_usable(const rbac_role *r, const rbac_user *u)
{
    uint8_t need = RBAC_F_LIVE | RBAC_F_ENABLED;
    return (r->flags & need) == need && r->tenant == u->tenant;
}

bool rbac_canmenu(const rbac_model *m, uint64_t tenant, uint64_t user, uint32_t menu,
                  int64_t now_ms)
{
    if (!m || menu >= m->nmenus || !(m->menus[menu].flags & RBAC_F_USABLE))
        return false;
    uint32_t ti;
    const rbac_user *u;
    if (gate(m, tenant, user, &ti, &u) != GATE_OK)
        return false;
    const rbac_package *p = sub_package(m, current_sub(&m->tenants[ti], now_ms));
    if (!p || !roaring_bitmap_contains(p->menus, menu))
        return false;
    if (u->flags & RBAC_F_ADMIN)
        return true;
    const uint32_t *roles = rbac_u32_items(&u->roles, u->nroles);
    for (uint16_t k = 0; k < u->nroles; k++) {
        const rbac_role *r = &m->roles[roles[k]];
        if (role_usable(r, u) && roaring_bitmap_contains(r->menus, menu))
            return true;
    }
    return false;
}

roaring_bitmap_t *rbac_menus(const rbac_model *m, uint64_t tenant, uint64_t user, int64_t now_ms)
{
    roaring_bitmap_t *out = rbac_bitmap_new();
    uint32_t ti;
    const rbac_user *u;
    if (gate(m, tenant, user, &ti, &u) != GATE_OK)
        return out;
    const rbac_package *p = sub_package(m, current_sub(&m->tenants[ti], now_ms));
    if (!p)
        return out;
    roaring_bitmap_or_inplace(out, p->menus);
    roaring_bitmap_and_inplace(out, m->usable);
    if (u->flags & RBAC_F_ADMIN)
        return out;

    const uint32_t *roles = rbac_u32_items(&u->roles, u->nroles);
    /* Most users hold a few roles: their bitmaps are gathered on the stack. */
    const roaring_bitmap_t *few[GRANT_ON_STACK];
    const roaring_bitmap_t **grant =
        u->nroles <= GRANT_ON_STACK ? few : mem_alloc(u->nroles * sizeof *grant);
    size_t n = 0;
    for (uint16_t k = 0; k < u->nroles; k++)
        if (role_usable(&m->roles[roles[k]], u))
            grant[n++] = m->roles[roles[k]].menus;
    if (n == 0) {
        roaring_bitmap_free(out);
        out = rbac_bitmap_new();
    } else if (n == 1) {
        roaring_bitmap_and_inplace(out, grant[0]);
    } else {
        roaring_bitmap_t *all = rbac_bitmap_new();
        for (size_t k = 0; k < n; k++)
            roaring_bitmap_lazy_or_inplace(all, grant[k], false);
        roaring_bitmap_repair_after_lazy(all);
        roaring_bitmap_and_inplace(out, all);
        roaring_bitmap_free(all);
    }
    if (grant != few)
        mem_free(grant);
    return out;
}

/* ---- rbac_menus_list: rbac_menus() as an array, for replies that need the count
 * first and then walk the menus twice. The set algebra stays on the bitmaps: CRoaring's
 * container intersections beat merging or probing expanded arrays here. */

size_t rbac_menus_list(const rbac_model *m, uint64_t tenant, uint64_t user, int64_t now_ms,
                       rbac_menu_list *l)
{
    roaring_bitmap_t *b = rbac_menus(m, tenant, user, now_ms);
    size_t n = (size_t)roaring_bitmap_get_cardinality(b);
    if (l->cap < n) {
        mem_free(l->idx);
        l->idx = mem_alloc(n * sizeof *l->idx);
        l->cap = n;
    }
    roaring_bitmap_to_uint32_array(b, l->idx);
    roaring_bitmap_free(b);
    l->n = n;
    return n;
}

void rbac_menu_list_free(rbac_menu_list *l)
{
    mem_free(l->idx);
    memset(l, 0, sizeof *l);
}

size_t rbac_tree(const rbac_model *m, uint64_t tenant, uint64_t user, int64_t now_ms,
                 uint32_t **out)
{
    *out = NULL;
    roaring_bitmap_t *acc = rbac_menus(m, tenant, user, now_ms);
    if (roaring_bitmap_is_empty(acc)) {
        roaring_bitmap_free(acc);
        return 0;
    }
    /* Mark the accessible menus and every ancestor; stop climbing at a marked one. */
    size_t n = m->nmenus, nmarked = 0;
    uint8_t *mark = mem_calloc(n, 1);
    roaring_uint32_iterator_t it;
    roaring_init_iterator(acc, &it);
    for (; it.has_value; roaring_advance_uint32_iterator(&it)) {
        for (uint32_t j = it.current_value; j != RBAC_NONE && !mark[j]; j = m->menus[j].parent) {
            mark[j] = 1;
            nmarked++;
        }
    }
    roaring_bitmap_free(acc);

    /* Depth-first over the child lists (already ordered by sort, id); only marked menus
     * are entered, and an unmarked menu has no marked descendant. */
    uint32_t *res = mem_alloc(nmarked * sizeof *res);
    uint32_t *st_group = mem_alloc((nmarked + 1) * sizeof *st_group);
    uint32_t *st_pos = mem_alloc((nmarked + 1) * sizeof *st_pos);
    size_t depth = 0, nres = 0;
    st_group[0] = (uint32_t)n;
    st_pos[0] = m->child_off[n];
    depth = 1;
    while (depth > 0) {
        uint32_t g = st_group[depth - 1];
        if (st_pos[depth - 1] == m->child_off[g + 1]) {
            depth--;
            continue;
        }
        uint32_t c = m->child_idx[st_pos[depth - 1]++];
        if (!mark[c] || nres == nmarked)
            continue;
        res[nres++] = c;
        st_group[depth] = c;
        st_pos[depth] = m->child_off[c];
        depth++;
    }
    mem_free(st_group);
    mem_free(st_pos);
    mem_free(mark);
    if (nres == 0) {
        mem_free(res);
        return 0;
    }
    *out = res;
    return nres;
}

size_t rbac_roles(const rbac_model *m, uint64_t tenant, uint64_t user, uint64_t **out)
{
    *out = NULL;
    uint32_t ti;
    const rbac_user *u;
    if (gate(m, tenant, user, &ti, &u) != GATE_OK || u->nroles == 0)
        return 0;
    uint64_t *ids = mem_alloc(u->nroles * sizeof *ids);
    size_t n = 0;
    const uint32_t *roles = rbac_u32_items(&u->roles, u->nroles);
    for (uint16_t k = 0; k < u->nroles; k++)
        if (role_usable(&m->roles[roles[k]], u))
            ids[n++] = m->roles[roles[k]].id;
    n = util_sort_unique_u64(ids, n);
    if (n == 0) {
        mem_free(ids);
        return 0;
    }
    *out = ids;
    return n;
}

/* The delegate whose stores u inherits, or NULL if it does not count (unknown, removed,
 * disabled or in another tenant). */
static const rbac_user *delegate_of(const rbac_model *m, const rbac_user *u, uint64_t id)
{
    uint32_t di = rbac_user_find(m, id);
    if (di == RBAC_NONE)
        return NULL;
    const rbac_user *d = &m->users[di];
    if (!(d->flags & RBAC_F_ENABLED) || d->tenant != u->tenant)
        return NULL;
    return d;
}

size_t rbac_stores(const rbac_model *m, uint64_t tenant, uint64_t user, uint64_t **out)
{
    *out = NULL;
    uint32_t ti;
    const rbac_user *u;
    if (gate(m, tenant, user, &ti, &u) != GATE_OK)
        return 0;
    const uint64_t *dl = rbac_u64_items(&u->delegates, u->ndelegates);
    size_t total = u->nstores;
    for (uint16_t k = 0; k < u->ndelegates; k++) {
        const rbac_user *d = delegate_of(m, u, dl[k]);
        if (d)
            total += d->nstores;
    }
    if (total == 0)
        return 0;
    uint64_t *ids = mem_alloc(total * sizeof *ids);
    memcpy(ids, rbac_u64_items(&u->stores, u->nstores), u->nstores * sizeof *ids);
    size_t n = u->nstores;
    for (uint16_t k = 0; k < u->ndelegates; k++) {
        const rbac_user *d = delegate_of(m, u, dl[k]);
        if (!d)
            continue;
        memcpy(ids + n, rbac_u64_items(&d->stores, d->nstores), d->nstores * sizeof *ids);
        n += d->nstores;
    }
    *out = ids;
    return util_sort_unique_u64(ids, n);
}

bool rbac_canstore(const rbac_model *m, uint64_t tenant, uint64_t user, uint64_t store)
{
    uint32_t ti;
    const rbac_user *u;
    if (gate(m, tenant, user, &ti, &u) != GATE_OK)
        return false;
    if (util_u64_contains(rbac_u64_items(&u->stores, u->nstores), u->nstores, store))
        return true;
    const uint64_t *dl = rbac_u64_items(&u->delegates, u->ndelegates);
    for (uint16_t k = 0; k < u->ndelegates; k++) {
        const rbac_user *d = delegate_of(m, u, dl[k]);
        if (d && util_u64_contains(rbac_u64_items(&d->stores, d->nstores), d->nstores, store))
            return true;
    }
    return false;
}

bool rbac_user_active(const rbac_model *m, uint64_t tenant, uint64_t user)
{
    uint32_t ti;
    const rbac_user *u;
    return gate(m, tenant, user, &ti, &u) == GATE_OK;
}

bool rbac_user_is_admin(const rbac_model *m, uint64_t tenant, uint64_t user)
{
    uint32_t ti = m ? rbac_tenant_find(m, tenant) : RBAC_NONE;
    uint32_t ui = m ? rbac_user_find(m, user) : RBAC_NONE;
    return ti != RBAC_NONE && ui != RBAC_NONE && m->users[ui].tenant == ti &&
           (m->users[ui].flags & RBAC_F_ADMIN);
}

/* ------------------------------------------------------------------- WHY ---- */

#define WHY_LINE_MAX 512 /* longest line say() builds; longer names from the model are cut */

typedef struct why_out {
    rbac_line_fn *emit; /* where lines go */
    void *ctx;          /* its context */
} why_out;

static void say(why_out *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(why_out *w, const char *fmt, ...)
{
    char line[WHY_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    w->emit(w->ctx, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* "YYYY-MM-DD HH:MM:SS.mmm UTC" */
static void fmt_utc(int64_t ms, char *out, size_t outlen)
{
    int64_t sec = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outlen, "%" PRId64 " ms", ms);
        return;
    }
    snprintf(out, outlen, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
}

static const char *package_name(const rbac_model *m, const rbac_sub *s, char *out, size_t len)
{
    if (s->package != RBAC_NONE && (m->packages[s->package].flags & RBAC_F_LIVE))
        return m->packages[s->package].code;
    snprintf(out, len, "%" PRIu64 " (deleted)", s->package_id);
    return out;
}

/* Why the tenant has no current package: the latest expiry, the next start, or the
 * absence of any active subscription. */
static void why_no_package(const rbac_model *m, const rbac_tenant *t, int64_t now, why_out *w)
{
    const rbac_sub *expired = NULL, *future = NULL;
    uint32_t inactive = 0;
    for (uint32_t k = 0; k < t->nsubs; k++) {
        const rbac_sub *s = &t->subs[k];
        if (s->status != 1)
            inactive++;
        else if (s->end_ms <= now && (!expired || s->end_ms > expired->end_ms))
            expired = s;
        else if (s->start_ms > now && (!future || s->start_ms < future->start_ms))
            future = s;
    }
    say(w, "tenant %" PRIu64 " has no current package", t->id);
    char when[64], pkg[64];
    if (expired) {
        fmt_utc(expired->end_ms, when, sizeof when);
        say(w, "subscription %" PRIu64 " to package %s expired at %s", expired->id,
            package_name(m, expired, pkg, sizeof pkg), when);
    }
    if (future) {
        fmt_utc(future->start_ms, when, sizeof when);
        say(w, "subscription %" PRIu64 " to package %s starts at %s", future->id,
            package_name(m, future, pkg, sizeof pkg), when);
    }
    if (inactive)
        say(w, "%" PRIu32 " subscription(s) of the tenant are inactive (status 0)", inactive);
    if (t->nsubs == 0)
        say(w, "tenant %" PRIu64 " has no subscriptions", t->id);
}

/* The menu argument named no live menu. It is quoted whole, NUL bytes and all: the
 * line must name what the client sent, not a prefix of it. */
static void why_unknown_menu(why_out *w, const char *arg, size_t arglen)
{
    buf line;
    buf_init(&line);
    buf_append_str(&line, "unknown menu ");
    buf_append_quoted(&line, arg ? arg : "", arglen);
    buf_append_str(&line, " (deleted or never existed)");
    w->emit(w->ctx, line.data, line.len);
    buf_free(&line);
}

/* Says why a menu is not usable: itself, or the first ancestor that breaks the chain. */
static void why_menu(const rbac_model *m, uint32_t menu, why_out *w)
{
    const rbac_menu *mn = &m->menus[menu];
    if (!(mn->flags & RBAC_F_ENABLED))
        say(w, "menu %" PRIu64 " %s is disabled", mn->id, mn->name);
    const rbac_menu *c = mn;
    for (size_t steps = 0; c->parent_id != 0; steps++) {
        if (steps > m->nmenus) {
            say(w, "menu %" PRIu64 " %s has a cycle among its ancestors", mn->id, mn->name);
            return;
        }
        if (c->parent == RBAC_NONE) {
            say(w, "ancestor %" PRIu64 " of menu %" PRIu64 " is deleted or unknown", c->parent_id,
                mn->id);
            return;
        }
        const rbac_menu *a = &m->menus[c->parent];
        if (!(a->flags & RBAC_F_LIVE)) {
            say(w, "ancestor %" PRIu64 " %s is deleted", a->id, a->name);
            return;
        }
        if (!(a->flags & RBAC_F_ENABLED)) {
            say(w, "ancestor %" PRIu64 " %s is disabled", a->id, a->name);
            return;
        }
        c = a;
    }
}

/* Which roles grant the menu, or why none does. */
static void why_roles(const rbac_model *m, uint64_t user, const rbac_user *u, uint32_t menu,
                      why_out *w)
{
    if (u->flags & RBAC_F_ADMIN) {
        say(w, "user %" PRIu64 " is tenant admin", user);
        return;
    }
    const uint32_t *roles = rbac_u32_items(&u->roles, u->nroles);
    bool granted = false;
    for (uint16_t k = 0; k < u->nroles; k++) {
        const rbac_role *r = &m->roles[roles[k]];
        if (role_usable(r, u) && roaring_bitmap_contains(r->menus, menu)) {
            say(w, "granted by role %" PRIu64 " %s", r->id, r->code);
            granted = true;
        }
    }
    if (granted)
        return;
    if (u->nroles == 0) {
        say(w, "no usable role grants it: user %" PRIu64 " has no roles", user);
        return;
    }
    say(w, "no usable role grants it");
    for (uint16_t k = 0; k < u->nroles; k++) {
        const rbac_role *r = &m->roles[roles[k]];
        const char *why;
        if (!(r->flags & RBAC_F_LIVE))
            why = "is deleted";
        else if (r->tenant != u->tenant)
            why = "belongs to another tenant";
        else if (!(r->flags & RBAC_F_ENABLED))
            why = "is disabled";
        else
            why = "does not include the menu";
        say(w, "role %" PRIu64 " %s %s", r->id, r->code, why);
    }
}

void rbac_why(const rbac_model *m, uint64_t tenant, uint64_t user, uint32_t menu, const char *arg,
              size_t arglen, int64_t now_ms, rbac_line_fn *emit, void *ctx)
{
    why_out w = {emit, ctx};
    bool allow = rbac_canmenu(m, tenant, user, menu, now_ms);
    emit(ctx, allow ? "allow" : "deny", allow ? 5 : 4);
    if (!m) {
        say(&w, "the model is not loaded");
        return;
    }
    uint32_t ti = RBAC_NONE;
    const rbac_user *u = NULL;
    enum gate g = gate(m, tenant, user, &ti, &u);
    if (g == GATE_UNKNOWN_TENANT) {
        say(&w, "unknown tenant %" PRIu64, tenant);
        return;
    }
    if (g == GATE_UNKNOWN_USER) {
        say(&w, "unknown user %" PRIu64, user);
        return;
    }
    if (g == GATE_OTHER_TENANT) {
        say(&w, "user %" PRIu64 " belongs to another tenant (%" PRIu64 ")", user,
            m->tenants[u->tenant].id);
        return;
    }
    const rbac_tenant *t = &m->tenants[ti];
    if (!(u->flags & RBAC_F_ENABLED))
        say(&w, "user %" PRIu64 " is disabled", user);
    if (!(t->flags & RBAC_F_ENABLED))
        say(&w, "tenant %" PRIu64 " is disabled", tenant);
    const rbac_sub *s = current_sub(t, now_ms);
    const rbac_package *p = sub_package(m, s);
    char pkg[64];
    if (!s)
        why_no_package(m, t, now_ms, &w);
    else if (!p && s->package != RBAC_NONE && (m->packages[s->package].flags & RBAC_F_LIVE))
        say(&w, "current package %s is disabled", m->packages[s->package].code);
    else if (!p)
        say(&w, "current package %s no longer exists", package_name(m, s, pkg, sizeof pkg));
    if (menu == RBAC_NONE || menu >= m->nmenus) {
        why_unknown_menu(&w, arg, arg ? arglen : 0);
        return;
    }
    const rbac_menu *mn = &m->menus[menu];
    if (p && !roaring_bitmap_contains(p->menus, menu))
        say(&w, "menu %" PRIu64 " %s is not in package %s", mn->id, mn->name, p->code);
    if (!(mn->flags & RBAC_F_USABLE))
        why_menu(m, menu, &w);
    why_roles(m, user, u, menu, &w);
}
