/*
 * The mpbackend profile's part of the engine (rbac.h, "Domains"): interned names,
 * scoped roles, a user's bindings, login methods and application flags, and the reads
 * CAN, PERMS, DOMAINS, WHY, USERBYLOGIN and APPFLAGS.
 *
 * The same model as the bi-tenant profile, used this way:
 *
 *   roles[]    global roles; flags, code = name, scope; their bitmap holds permission
 *              name indexes (names interned in dom->perms)
 *   users[]    under the live tenant 0; the user's list of grants, ascending:
 *                  domain index << 32 | role index << 2 | kind
 *              so one user's bindings in one domain are one run of the list
 *   dom        interned strings (permissions, domains, login keys, application ids),
 *              login methods and flags with their bindings, each found by id
 *
 * Names are interned for good (a permission nobody holds any more costs its string):
 * indexes stay valid for the life of the model, so bitmaps and grants never need
 * remapping. A binding is kept whatever its role's scope, and the scope is compared at
 * read time: changing a role's scope changes the answers at once.
 */
#include "buf.h"
#include "idmap.h"
#include "mem.h"
#include "rbac_internal.h"
#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define NAMES_MIN_SLOTS 16         /* smallest name table */
#define GRANT_ROLE_MAX  (1u << 30) /* role indexes a grant can hold */
#define DOMAIN_ADMIN    "admin"
#define DOMAIN_DEV      "developer:"
#define DOMAIN_APP      "application:"

/* ------------------------------------------------------------------ names ---- */

/* Interned strings: index -> string, and string -> index by open addressing. */
typedef struct rbac_names {
    char **s;        /* owned, '\0'-terminated */
    uint32_t *len;   /* their lengths */
    size_t n, cap;   /* used, allocated */
    uint32_t *slots; /* index + 1, 0 = empty; mask + 1 entries */
    size_t mask;     /* capacity - 1, 0 when nothing is allocated */
} rbac_names;

static uint64_t name_hash(const rbac_model *m, const char *s, size_t len)
{
    return XXH3_64bits_withSeed(s, len, m->hash_seed);
}

static uint32_t names_find(const rbac_model *m, const rbac_names *t, const char *s, size_t len)
{
    if (!t->slots)
        return RBAC_NONE;
    for (size_t j = name_hash(m, s, len) & t->mask;; j = (j + 1) & t->mask) {
        uint32_t v = t->slots[j];
        if (v == 0)
            return RBAC_NONE;
        if (t->len[v - 1] == len && memcmp(t->s[v - 1], s, len) == 0)
            return v - 1;
    }
}

static void names_place(const rbac_model *m, rbac_names *t, uint32_t i)
{
    size_t j = name_hash(m, t->s[i], t->len[i]) & t->mask;
    while (t->slots[j])
        j = (j + 1) & t->mask;
    t->slots[j] = i + 1;
}

static uint32_t names_intern(const rbac_model *m, rbac_names *t, const char *s, size_t len)
{
    uint32_t i = names_find(m, t, s, len);
    if (i != RBAC_NONE)
        return i;
    if (!t->slots || (t->n + 1) * 2 > t->mask + 1) {
        size_t cap = t->slots ? (t->mask + 1) * 2 : NAMES_MIN_SLOTS;
        mem_free(t->slots);
        t->slots = mem_calloc(cap, sizeof *t->slots);
        t->mask = cap - 1;
        for (uint32_t k = 0; k < t->n; k++)
            names_place(m, t, k);
    }
    size_t cap = t->cap;
    mem_grow((void **)&t->s, &t->cap, t->n + 1, sizeof *t->s);
    if (t->cap != cap)
        t->len = mem_realloc(t->len, t->cap * sizeof *t->len);
    i = (uint32_t)t->n++;
    t->s[i] = mem_strndup(s, len);
    t->len[i] = (uint32_t)len;
    names_place(m, t, i);
    return i;
}

static void names_free(rbac_names *t)
{
    for (size_t i = 0; i < t->n; i++)
        mem_free(t->s[i]);
    mem_free(t->s);
    mem_free(t->len);
    mem_free(t->slots);
}

static size_t names_bytes(const rbac_names *t)
{
    size_t b = t->cap * (sizeof *t->s + sizeof *t->len) + (t->slots ? (t->mask + 1) * 4 : 0);
    for (size_t i = 0; i < t->n; i++)
        b += t->len[i] + 1;
    return b;
}

/* -------------------------------------------------------------- the data ---- */

typedef struct rbac_login {
    uint64_t id;   /* mpbackend_account_login_method.id */
    uint64_t user; /* its user_id */
    uint32_t key;  /* index in login_keys of "provider\nprovider_key" */
    uint32_t next; /* next login with the same key, RBAC_NONE at the end */
    bool live;     /* the row exists (not disabled) */
} rbac_login;

typedef struct rbac_flag {
    uint64_t id; /* mpbackend_application_permission_flag.id */
    char *name;  /* owned */
    char *args;  /* owned, "" when NULL */
    bool live;   /* the row exists */
} rbac_flag;

typedef struct rbac_fbind {
    uint64_t id;   /* mpbackend_application_permission_flag_binding.id */
    uint64_t flag; /* permission_flag_id */
    uint32_t app;  /* index in apps of application_id */
    uint32_t next; /* next binding of the same application, RBAC_NONE at the end */
    bool live;     /* the row exists */
} rbac_fbind;

/* A chain of records by a name index (logins by key, flag bindings by application). */
typedef struct rbac_heads {
    uint32_t *v; /* first record per name index, RBAC_NONE when none */
    size_t cap;  /* entries allocated */
} rbac_heads;

struct rbac_domains {
    rbac_names perms;      /* permission names: the values of role bitmaps */
    rbac_names domains;    /* "admin", "developer:7", "application:x" */
    rbac_names login_keys; /* "provider\nprovider_key" */
    rbac_names apps;       /* application ids of flag bindings */
    rbac_login *logins;    /* every login method loaded */
    size_t nlogins, caplogins;
    idmap login_ix;    /* id -> index */
    rbac_heads by_key; /* login_keys index -> first login */
    rbac_flag *flags;  /* every flag loaded */
    size_t nflags, capflags;
    idmap flag_ix;      /* id -> index */
    rbac_fbind *fbinds; /* every flag binding loaded */
    size_t nfbinds, capfbinds;
    idmap fbind_ix;    /* id -> index */
    rbac_heads by_app; /* apps index -> first binding */
};
typedef struct rbac_domains dom_data;

static dom_data *dom_of(rbac_model *m)
{
    if (!m->dom) {
        m->dom = mem_calloc(1, sizeof *m->dom);
        idmap_init(&m->dom->login_ix);
        idmap_init(&m->dom->flag_ix);
        idmap_init(&m->dom->fbind_ix);
    }
    return m->dom;
}

void rbac_domains_free(dom_data *d)
{
    if (!d)
        return;
    names_free(&d->perms);
    names_free(&d->domains);
    names_free(&d->login_keys);
    names_free(&d->apps);
    for (size_t i = 0; i < d->nflags; i++) {
        mem_free(d->flags[i].name);
        mem_free(d->flags[i].args);
    }
    mem_free(d->logins);
    mem_free(d->flags);
    mem_free(d->fbinds);
    mem_free(d->by_key.v);
    mem_free(d->by_app.v);
    idmap_free(&d->login_ix);
    idmap_free(&d->flag_ix);
    idmap_free(&d->fbind_ix);
    mem_free(d);
}

size_t rbac_domains_bytes(const dom_data *d)
{
    if (!d)
        return 0;
    size_t b = sizeof *d + names_bytes(&d->perms) + names_bytes(&d->domains) +
               names_bytes(&d->login_keys) + names_bytes(&d->apps);
    b += d->caplogins * sizeof *d->logins + d->capflags * sizeof *d->flags +
         d->capfbinds * sizeof *d->fbinds + (d->by_key.cap + d->by_app.cap) * sizeof(uint32_t);
    b += idmap_bytes(&d->login_ix) + idmap_bytes(&d->flag_ix) + idmap_bytes(&d->fbind_ix);
    for (size_t i = 0; i < d->nflags; i++)
        b += strlen(d->flags[i].name) + strlen(d->flags[i].args) + 2;
    return b;
}

/* The head of chain i, growing the table (new heads empty). */
static uint32_t *head_at(rbac_heads *h, uint32_t i)
{
    if (i >= h->cap) {
        size_t old = h->cap;
        mem_grow((void **)&h->v, &h->cap, (size_t)i + 1, sizeof *h->v);
        for (size_t k = old; k < h->cap; k++)
            h->v[k] = RBAC_NONE;
    }
    return &h->v[i];
}

static uint32_t head_get(const rbac_heads *h, uint32_t i)
{
    return i < h->cap ? h->v[i] : RBAC_NONE;
}

/* ---------------------------------------------------------------- syntax ---- */

int rbac_scope_parse(const char *s, size_t len)
{
    static const char *const names[] = {[RBAC_SCOPE_ADMIN] = "Admin",
                                        [RBAC_SCOPE_DEVELOPER] = "Developer",
                                        [RBAC_SCOPE_APPLICATION] = "Application"};
    for (int i = RBAC_SCOPE_ADMIN; s && i <= RBAC_SCOPE_APPLICATION; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return RBAC_SCOPE_NONE;
}

static const char *scope_name(int scope)
{
    switch (scope) {
    case RBAC_SCOPE_ADMIN:
        return "Admin";
    case RBAC_SCOPE_DEVELOPER:
        return "Developer";
    case RBAC_SCOPE_APPLICATION:
        return "Application";
    default:
        return "none";
    }
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p);
    return len > n && memcmp(s, p, n) == 0;
}

int rbac_domain_kind(const char *d, size_t len)
{
    if (len == strlen(DOMAIN_ADMIN) && memcmp(d, DOMAIN_ADMIN, len) == 0)
        return RBAC_SCOPE_ADMIN;
    if (has_prefix(d, len, DOMAIN_DEV)) {
        uint64_t id;
        size_t n = strlen(DOMAIN_DEV);
        return util_parse_u64(d + n, len - n, &id) ? RBAC_SCOPE_DEVELOPER : RBAC_SCOPE_NONE;
    }
    if (has_prefix(d, len, DOMAIN_APP)) {
        for (size_t i = strlen(DOMAIN_APP); i < len; i++)
            if ((unsigned char)d[i] <= ' ' || (unsigned char)d[i] == 0x7f)
                return RBAC_SCOPE_NONE;
        return RBAC_SCOPE_APPLICATION;
    }
    return RBAC_SCOPE_NONE;
}

int rbac_domain_canon(const char *d, size_t len, char *out)
{
    int kind = len <= RBAC_DOMAIN_MAX ? rbac_domain_kind(d, len) : RBAC_SCOPE_NONE;
    if (kind == RBAC_SCOPE_DEVELOPER) {
        uint64_t id = 0;
        size_t n = strlen(DOMAIN_DEV);
        if (!util_parse_u64(d + n, len - n, &id))
            return RBAC_SCOPE_NONE;
        snprintf(out, RBAC_DOMAIN_MAX + 1, DOMAIN_DEV "%" PRIu64, id);
    } else if (kind != RBAC_SCOPE_NONE) {
        memcpy(out, d, len);
        out[len] = '\0';
    }
    return kind;
}

/* ----------------------------------------------------------- roles, users ---- */

void rbac_domain_prepare(rbac_model *m)
{
    rbac_add_tenant(m, 0, "", 1);
    dom_of(m);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void rbac_add_scoped_role(rbac_model *m, uint64_t id, const char *name, int scope,
                          const char *perms, size_t len)
{
    rbac_add_role(m, id, 0, name, 1);
    rbac_role *r = &m->roles[rbac_slot(&m->role_ix, id)];
    dom_data *d = dom_of(m);
    size_t before = m->finished ? rbac_role_heap_bytes(r) : 0;
    r->scope = (uint8_t)scope;
    roaring_bitmap_clear(r->menus);
    for (size_t i = 0; perms && i <= len;) {
        size_t j = i;
        while (j < len && perms[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && is_space(perms[a]))
            a++;
        while (b > a && is_space(perms[b - 1]))
            b--;
        if (b > a)
            roaring_bitmap_add(r->menus, names_intern(m, &d->perms, perms + a, b - a));
        i = j + 1;
    }
    if (m->finished) {
        roaring_bitmap_run_optimize(r->menus);
        rbac_account(&m->role_bytes, before, rbac_role_heap_bytes(r));
    }
}

/* ---------------------------------------------------------------- grants ---- */

static uint64_t grant_pack(uint32_t domain, uint32_t role, int kind)
{
    return (uint64_t)domain << 32 | (uint64_t)role << 2 | (uint64_t)(kind & 3);
}

static uint32_t grant_domain(uint64_t g)
{
    return (uint32_t)(g >> 32);
}

static uint32_t grant_role(uint64_t g)
{
    return (uint32_t)(g >> 2) & (GRANT_ROLE_MAX - 1);
}

static int grant_kind(uint64_t g)
{
    return (int)(g & 3);
}

/* The grant of a row, or false when its role was never held or the domain is empty. */
static bool grant_of(rbac_model *m, int kind, const char *domain, size_t dlen, uint64_t role,
                     uint64_t *g)
{
    uint32_t r = rbac_slot(&m->role_ix, role);
    if (r == RBAC_NONE || r >= GRANT_ROLE_MAX || dlen == 0)
        return false;
    *g = grant_pack(names_intern(m, &dom_of(m)->domains, domain, dlen), r, kind);
    return true;
}

bool rbac_add_grant(rbac_model *m, uint64_t user, int kind, const char *domain, size_t dlen,
                    uint64_t role)
{
    uint32_t ui = rbac_user_find(m, user);
    uint64_t g;
    if (ui == RBAC_NONE || !grant_of(m, kind, domain, dlen, role, &g))
        return false;
    rbac_user *u = &m->users[ui];
    if (u->nstores == UINT32_MAX)
        return false;
    if (!m->finished) {
        rbac_u64_append_build(&u->grants, u->nstores++, g);
        return true;
    }
    size_t before = rbac_user_heap_bytes(u);
    if (rbac_u64_insert(&u->grants, u->nstores, g))
        u->nstores++;
    rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    return true;
}

bool rbac_set_grants(rbac_model *m, uint64_t user, int kind, const rbac_grant_row *rows, size_t n)
{
    uint32_t ui = rbac_user_find(m, user);
    if (ui == RBAC_NONE)
        return false;
    rbac_user *u = &m->users[ui];
    const uint64_t *old = rbac_u64_items(&u->grants, u->nstores);
    uint64_t *v = mem_alloc((u->nstores + n + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < u->nstores; i++)
        if (grant_kind(old[i]) != kind)
            v[k++] = old[i];
    for (size_t i = 0; i < n; i++)
        if (grant_of(m, kind, rows[i].domain, rows[i].len, rows[i].role, &v[k]))
            k++;
    k = rbac_u64_sort_unique(v, k);
    if (!m->finished) {
        rbac_u64_clear(&u->grants, u->nstores);
        u->nstores = 0;
        for (size_t i = 0; i < k; i++)
            rbac_u64_append_build(&u->grants, u->nstores++, v[i]);
    } else {
        size_t before = rbac_user_heap_bytes(u);
        rbac_u64_set(&u->grants, u->nstores, v, k);
        u->nstores = (uint32_t)k;
        rbac_account(&m->user_bytes, before, rbac_user_heap_bytes(u));
    }
    mem_free(v);
    return true;
}

/* ------------------------------------------------------------ login methods ---- */

/* "provider\nkey" into b: providers never hold a newline, so the pair is unambiguous. */
static void login_key(buf *b, const char *provider, size_t plen, const char *key, size_t klen)
{
    buf_append(b, provider, plen);
    buf_append(b, "\n", 1);
    buf_append(b, key, klen);
}

/* Takes login i off its key's chain. */
static void login_unlink(dom_data *d, uint32_t i)
{
    uint32_t *p = head_at(&d->by_key, d->logins[i].key);
    while (*p != RBAC_NONE && *p != i)
        p = &d->logins[*p].next;
    if (*p == i)
        *p = d->logins[i].next;
}

void rbac_add_login(rbac_model *m, uint64_t id, uint64_t user, const char *provider, size_t plen,
                    const char *key, size_t klen)
{
    dom_data *d = dom_of(m);
    buf b;
    buf_init(&b);
    login_key(&b, provider, plen, key, klen);
    uint32_t k = names_intern(m, &d->login_keys, b.data, b.len);
    buf_free(&b);
    uint32_t i = rbac_slot(&d->login_ix, id);
    if (i == RBAC_NONE) {
        mem_grow((void **)&d->logins, &d->caplogins, d->nlogins + 1, sizeof *d->logins);
        i = (uint32_t)d->nlogins++;
        d->logins[i] = (rbac_login){.id = id, .key = RBAC_NONE, .next = RBAC_NONE};
        idmap_put(&d->login_ix, id, i);
    }
    rbac_login *l = &d->logins[i];
    if (l->live && l->key != k)
        login_unlink(d, i);
    if (!l->live || l->key != k) {
        l->key = k;
        uint32_t *h = head_at(&d->by_key, k);
        l->next = *h;
        *h = i;
    }
    l->user = user;
    l->live = true;
}

bool rbac_remove_login(rbac_model *m, uint64_t id)
{
    if (!m->dom)
        return false;
    uint32_t i = rbac_slot(&m->dom->login_ix, id);
    if (i == RBAC_NONE || !m->dom->logins[i].live)
        return false;
    login_unlink(m->dom, i);
    m->dom->logins[i].live = false;
    return true;
}

bool rbac_user_by_login(const rbac_model *m, const char *provider, size_t plen, const char *key,
                        size_t klen, uint64_t *user)
{
    if (!m || !m->dom)
        return false;
    const dom_data *d = m->dom;
    buf b;
    buf_init(&b);
    login_key(&b, provider, plen, key, klen);
    uint32_t k = names_find(m, &d->login_keys, b.data, b.len);
    buf_free(&b);
    if (k == RBAC_NONE)
        return false;
    const rbac_login *best = NULL;
    for (uint32_t i = head_get(&d->by_key, k); i != RBAC_NONE; i = d->logins[i].next) {
        const rbac_login *l = &d->logins[i];
        if (l->live && rbac_user_find(m, l->user) != RBAC_NONE && (!best || l->id < best->id))
            best = l;
    }
    if (best)
        *user = best->user;
    return best != NULL;
}

/* ------------------------------------------------------------------ flags ---- */

void rbac_add_flag(rbac_model *m, uint64_t id, const char *name, const char *args)
{
    dom_data *d = dom_of(m);
    uint32_t i = rbac_slot(&d->flag_ix, id);
    if (i == RBAC_NONE) {
        mem_grow((void **)&d->flags, &d->capflags, d->nflags + 1, sizeof *d->flags);
        i = (uint32_t)d->nflags++;
        d->flags[i] = (rbac_flag){.id = id};
        idmap_put(&d->flag_ix, id, i);
    }
    rbac_flag *f = &d->flags[i];
    mem_free(f->name);
    mem_free(f->args);
    f->name = mem_strdup(name ? name : "");
    f->args = mem_strdup(args ? args : "");
    f->live = true;
}

bool rbac_remove_flag(rbac_model *m, uint64_t id)
{
    uint32_t i = m->dom ? rbac_slot(&m->dom->flag_ix, id) : RBAC_NONE;
    if (i == RBAC_NONE || !m->dom->flags[i].live)
        return false;
    m->dom->flags[i].live = false;
    return true;
}

/* Takes binding i off its application's chain. */
static void fbind_unlink(dom_data *d, uint32_t i)
{
    uint32_t *p = head_at(&d->by_app, d->fbinds[i].app);
    while (*p != RBAC_NONE && *p != i)
        p = &d->fbinds[*p].next;
    if (*p == i)
        *p = d->fbinds[i].next;
}

void rbac_add_flag_binding(rbac_model *m, uint64_t id, const char *app, size_t len, uint64_t flag)
{
    dom_data *d = dom_of(m);
    uint32_t a = names_intern(m, &d->apps, app, len);
    uint32_t i = rbac_slot(&d->fbind_ix, id);
    if (i == RBAC_NONE) {
        mem_grow((void **)&d->fbinds, &d->capfbinds, d->nfbinds + 1, sizeof *d->fbinds);
        i = (uint32_t)d->nfbinds++;
        d->fbinds[i] = (rbac_fbind){.id = id, .app = RBAC_NONE, .next = RBAC_NONE};
        idmap_put(&d->fbind_ix, id, i);
    }
    rbac_fbind *fb = &d->fbinds[i];
    if (fb->live && fb->app != a)
        fbind_unlink(d, i);
    if (!fb->live || fb->app != a) {
        fb->app = a;
        uint32_t *h = head_at(&d->by_app, a);
        fb->next = *h;
        *h = i;
    }
    fb->flag = flag;
    fb->live = true;
}

bool rbac_remove_flag_binding(rbac_model *m, uint64_t id)
{
    uint32_t i = m->dom ? rbac_slot(&m->dom->fbind_ix, id) : RBAC_NONE;
    if (i == RBAC_NONE || !m->dom->fbinds[i].live)
        return false;
    fbind_unlink(m->dom, i);
    m->dom->fbinds[i].live = false;
    return true;
}

static int cmp_flag(const void *a, const void *b)
{
    const rbac_flag *x = *(const rbac_flag *const *)a, *y = *(const rbac_flag *const *)b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (x->id > y->id) - (x->id < y->id);
}

size_t rbac_app_flags(const rbac_model *m, const char *app, size_t len, rbac_str **out)
{
    *out = NULL;
    const dom_data *d = m ? m->dom : NULL;
    uint32_t a = d ? names_find(m, &d->apps, app, len) : RBAC_NONE;
    if (a == RBAC_NONE)
        return 0;
    size_t n = 0, cap = 0;
    const rbac_flag **v = NULL;
    for (uint32_t i = head_get(&d->by_app, a); i != RBAC_NONE; i = d->fbinds[i].next) {
        uint32_t f = rbac_slot(&d->flag_ix, d->fbinds[i].flag);
        if (!d->fbinds[i].live || f == RBAC_NONE || !d->flags[f].live)
            continue;
        mem_grow((void **)&v, &cap, n + 1, sizeof *v);
        v[n++] = &d->flags[f];
    }
    n = util_sort_unique(v, n, sizeof *v, cmp_flag);
    if (n) {
        *out = mem_alloc(2 * n * sizeof **out);
        for (size_t i = 0; i < n; i++) {
            (*out)[2 * i] = (rbac_str){v[i]->name, strlen(v[i]->name)};
            (*out)[2 * i + 1] = (rbac_str){v[i]->args, strlen(v[i]->args)};
        }
    }
    mem_free(v);
    return n;
}

/* ------------------------------------------------------------------ reads ---- */

/* The grants of user in domain d: first index in *first, count returned. */
static size_t user_domain_grants(const rbac_user *u, uint32_t d, const uint64_t **first)
{
    const uint64_t *g = rbac_u64_items(&u->grants, u->nstores);
    size_t lo = util_u64_lower_bound(g, u->nstores, (uint64_t)d << 32);
    size_t end = lo;
    while (end < u->nstores && grant_domain(g[end]) == d)
        end++;
    *first = g + lo;
    return end - lo;
}

/* Whether grant g counts: its role is live and of the binding's scope. */
static const rbac_role *grant_usable(const rbac_model *m, uint64_t g)
{
    const rbac_role *r = &m->roles[grant_role(g)];
    return (r->flags & RBAC_F_LIVE) && r->scope == grant_kind(g) ? r : NULL;
}

/* The user of a domain read, or NULL for an unknown user or a model without domains. */
static const rbac_user *domain_user(const rbac_model *m, uint64_t user)
{
    if (!m || !m->dom)
        return NULL;
    uint32_t ui = rbac_user_find(m, user);
    return ui == RBAC_NONE ? NULL : &m->users[ui];
}

bool rbac_can(const rbac_model *m, const char *domain, size_t dlen, uint64_t user, const char *perm,
              size_t plen)
{
    const rbac_user *u = domain_user(m, user);
    if (!u)
        return false;
    uint32_t d = names_find(m, &m->dom->domains, domain, dlen);
    uint32_t p = names_find(m, &m->dom->perms, perm, plen);
    if (d == RBAC_NONE || p == RBAC_NONE)
        return false;
    const uint64_t *g;
    size_t n = user_domain_grants(u, d, &g);
    for (size_t i = 0; i < n; i++) {
        const rbac_role *r = grant_usable(m, g[i]);
        if (r && roaring_bitmap_contains(r->menus, p))
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    const rbac_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* The names of the indexes idx[0..n) of t, sorted, into *out (n may be 0). */
static size_t names_sorted(const rbac_names *t, const uint32_t *idx, size_t n, rbac_str **out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    *out = mem_alloc(n * sizeof **out);
    for (size_t i = 0; i < n; i++)
        (*out)[i] = (rbac_str){t->s[idx[i]], t->len[idx[i]]};
    qsort(*out, n, sizeof **out, cmp_str);
    return n;
}

size_t rbac_perms(const rbac_model *m, const char *domain, size_t dlen, uint64_t user,
                  rbac_str **out)
{
    *out = NULL;
    const rbac_user *u = domain_user(m, user);
    uint32_t d = u ? names_find(m, &m->dom->domains, domain, dlen) : RBAC_NONE;
    if (d == RBAC_NONE)
        return 0;
    const uint64_t *g;
    size_t n = user_domain_grants(u, d, &g);
    roaring_bitmap_t *all = rbac_bitmap_new();
    for (size_t i = 0; i < n; i++) {
        const rbac_role *r = grant_usable(m, g[i]);
        if (r)
            roaring_bitmap_or_inplace(all, r->menus);
    }
    size_t k = (size_t)roaring_bitmap_get_cardinality(all);
    uint32_t *idx = mem_alloc((k ? k : 1) * sizeof *idx);
    roaring_bitmap_to_uint32_array(all, idx);
    roaring_bitmap_free(all);
    k = names_sorted(&m->dom->perms, idx, k, out);
    mem_free(idx);
    return k;
}

size_t rbac_domains(const rbac_model *m, uint64_t user, rbac_str **out)
{
    *out = NULL;
    const rbac_user *u = domain_user(m, user);
    if (!u)
        return 0;
    const uint64_t *g = rbac_u64_items(&u->grants, u->nstores);
    uint32_t *idx = mem_alloc((u->nstores ? u->nstores : 1) * sizeof *idx);
    size_t k = 0;
    for (size_t i = 0; i < u->nstores; i++)
        if (grant_usable(m, g[i]) && (k == 0 || idx[k - 1] != grant_domain(g[i])))
            idx[k++] = grant_domain(g[i]); /* grants are sorted by domain */
    k = names_sorted(&m->dom->domains, idx, k, out);
    mem_free(idx);
    return k;
}

/* ------------------------------------------------------------------- WHY ---- */

typedef struct why {
    rbac_line_fn *emit; /* the caller's */
    void *ctx;          /* its context */
} why;

static void say(why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(why *w, const char *fmt, ...)
{
    buf line;
    buf_init(&line);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&line, fmt, ap);
    va_end(ap);
    w->emit(w->ctx, line.data ? line.data : "", line.len);
    buf_free(&line);
}

/* One line naming an argument the client sent, quoted whole. */
static void say_quoted(why *w, const char *before, const char *s, size_t len, const char *after)
{
    buf line;
    buf_init(&line);
    buf_append_str(&line, before);
    buf_append_quoted(&line, s, len);
    buf_append_str(&line, after);
    w->emit(w->ctx, line.data, line.len);
    buf_free(&line);
}

static void why_grants(const rbac_model *m, const uint64_t *g, size_t n, uint32_t p, why *w)
{
    for (size_t i = 0; i < n; i++) {
        const rbac_role *r = &m->roles[grant_role(g[i])];
        if (!(r->flags & RBAC_F_LIVE))
            say(w, "role %" PRIu64 " is bound here but is disabled or deleted", r->id);
        else if (r->scope != grant_kind(g[i]))
            say(w,
                "role %" PRIu64 " '%s' has scope %s but is bound through the %s binding table: "
                "the binding does not count",
                r->id, r->code, scope_name(r->scope), scope_name(grant_kind(g[i])));
        else if (p != RBAC_NONE && roaring_bitmap_contains(r->menus, p))
            say(w, "role %" PRIu64 " '%s' grants it", r->id, r->code);
        else
            say(w, "role %" PRIu64 " '%s' does not include the permission", r->id, r->code);
    }
}

void rbac_why_domain(const rbac_model *m, const char *domain, size_t dlen, uint64_t user,
                     const char *perm, size_t plen, rbac_line_fn *emit, void *ctx)
{
    why w = {emit, ctx};
    bool allow = rbac_can(m, domain, dlen, user, perm, plen);
    say(&w, "%s", allow ? "allow" : "deny");
    if (rbac_domain_kind(domain, dlen) == RBAC_SCOPE_NONE) {
        say_quoted(&w, "invalid domain ", domain, dlen,
                   ": expected admin, developer:<id> or application:<app_id>");
        return;
    }
    const rbac_user *u = domain_user(m, user);
    if (!u) {
        say(&w, "unknown user %" PRIu64 " (disabled, deleted or never existed)", user);
        return;
    }
    uint32_t p = names_find(m, &m->dom->perms, perm, plen);
    if (p == RBAC_NONE)
        say_quoted(&w, "no role anywhere has the permission ", perm, plen, "");
    uint32_t d = names_find(m, &m->dom->domains, domain, dlen);
    const uint64_t *g = NULL;
    size_t n = d == RBAC_NONE ? 0 : user_domain_grants(u, d, &g);
    if (n == 0) {
        say_quoted(&w, "the user holds no role in domain ", domain, dlen, "");
        return;
    }
    why_grants(m, g, n, p, &w);
}

/* ------------------------------------------------------- client tracking ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

size_t rbac_role_domains(const rbac_model *m, uint64_t role, rbac_str **out)
{
    *out = NULL;
    uint32_t ri = m && m->dom ? rbac_slot(&m->role_ix, role) : RBAC_NONE;
    if (ri == RBAC_NONE)
        return 0;
    uint32_t *idx = NULL;
    size_t k = 0, cap = 0;
    for (size_t i = 0; i < m->nusers; i++) {
        const rbac_user *u = &m->users[i];
        const uint64_t *g = rbac_u64_items(&u->grants, u->nstores);
        for (size_t j = 0; j < u->nstores; j++) {
            if (grant_role(g[j]) != ri)
                continue;
            mem_grow((void **)&idx, &cap, k + 1, sizeof *idx);
            idx[k++] = grant_domain(g[j]);
        }
    }
    k = util_sort_unique(idx, k, sizeof *idx, cmp_u32);
    k = names_sorted(&m->dom->domains, idx, k, out);
    mem_free(idx);
    return k;
}
