/*
 * rbac_internal.h — the layout of the RBAC model, shared by rbac.c (building, lookups,
 * accounting), rbac_index.c (derived indexes), rbac_query.c (the read side) and
 * rbac_update.c (changes in place). Nothing outside those four files includes it;
 * everyone else sees the opaque rbac_model of rbac.h.
 *
 * Layout (every entity lives in one array, found by database id through an idmap):
 *
 *   tenant_ix: id -> tenants[]  {code, flags, subs[] sorted by (start desc, id desc)}
 *   package_ix: id -> packages[] {code, flags, menus bitmap}
 *   menu_ix:   id -> menus[]     {ids, strings (perms with its length), flags, parent
 *                                 index}; index order = id order
 *   role_ix:   id -> roles[]     {tenant index, flags, menus bitmap, code}
 *   user_ix:   id -> users[]     {tenant index, flags, roles/stores/delegates lists}
 *
 * Bitmaps hold menu indexes (dense, 32-bit), so iterating a bitmap yields menus in
 * ascending id. Entities are never removed from their array: a deleted one keeps its
 * slot with RBAC_F_LIVE cleared, so indexes held elsewhere (a user's role list, a
 * role's tenant) stay valid and a revived row takes its old slot back.
 *
 * Small lists (a user's roles, stores, delegates) are stored inline when they fit in
 * the 8 bytes of the union, otherwise on the heap. While building, a heap list has the
 * implied capacity next_pow2(n) so appends need no capacity field; rbac_model_finish()
 * sorts, deduplicates and trims every list to exactly n, which is the invariant from
 * then on (changes after finish reallocate to the exact size).
 */
#ifndef RBACD_RBAC_INTERNAL_H
#define RBACD_RBAC_INTERNAL_H

#include "idmap.h"
#include "rbac.h"

#include <roaring/roaring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rbac_flags {
    RBAC_F_LIVE = 1 << 0,    /* the row exists (deleted_at = 0) */
    RBAC_F_ENABLED = 1 << 1, /* status = 1 */
    RBAC_F_ADMIN = 1 << 2,   /* users: is_admin = 1 */
    RBAC_F_USABLE = 1 << 3,  /* menus: live, enabled, every ancestor live and enabled */
};

#define RBAC_U32_INLINE 2 /* role indexes held in the union before spilling to the heap */
#define RBAC_U64_INLINE 1 /* ids held in the union before spilling to the heap */

typedef union rbac_u32list {
    uint32_t in[RBAC_U32_INLINE]; /* n <= RBAC_U32_INLINE */
    uint32_t *heap;               /* n > RBAC_U32_INLINE */
} rbac_u32list;

typedef union rbac_u64list {
    uint64_t in[RBAC_U64_INLINE]; /* n <= RBAC_U64_INLINE */
    uint64_t *heap;               /* n > RBAC_U64_INLINE */
} rbac_u64list;

typedef struct rbac_sub {
    uint64_t id;         /* tenant_subscription.id */
    uint64_t package_id; /* as stored, even when the package is unknown */
    int64_t start_ms;    /* start_time, inclusive (INT64_MIN when NULL) */
    int64_t end_ms;      /* end_time, exclusive (INT64_MAX when NULL) */
    uint32_t package;    /* index into packages, RBAC_NONE when unknown */
    uint8_t status;      /* 1 active */
} rbac_sub;

typedef struct rbac_tenant {
    uint64_t id;      /* tenant.id */
    char *code;       /* tenant_code, owned; NULL for a stub nobody loaded */
    rbac_sub *subs;   /* owned, sorted by (start_ms desc, id desc) once finished */
    uint32_t nsubs;   /* entries in subs */
    uint32_t capsubs; /* allocated entries */
    uint8_t flags;    /* RBAC_F_LIVE, RBAC_F_ENABLED */
} rbac_tenant;

typedef struct rbac_package {
    uint64_t id;             /* tenant_package.id */
    char *code;              /* package_code, owned, never NULL */
    roaring_bitmap_t *menus; /* owned: menu indexes of tenant_package_menu */
    uint8_t flags;           /* RBAC_F_LIVE, RBAC_F_ENABLED */
} rbac_package;

typedef struct rbac_menu {
    uint64_t id;        /* tenant_menu.id */
    uint64_t parent_id; /* 0 = root */
    char *name;         /* menu_name, owned, never NULL */
    char *perms;        /* perms code, owned; NULL when the row has none (or "") */
    char *path;         /* path, owned; NULL when none */
    int32_t sort;       /* sibling order, then id */
    uint32_t parent;    /* index of the parent, RBAC_NONE for a root or a missing parent */
    uint32_t perms_len; /* strlen(perms), 0 when none: replies copy codes without strlen */
    uint8_t type;       /* menu_type: 1 directory, 2 page, 3 action */
    uint8_t flags;      /* RBAC_F_LIVE, RBAC_F_ENABLED, RBAC_F_USABLE */
} rbac_menu;

typedef struct rbac_role {
    uint64_t id;             /* tenant_role.id */
    char *code;              /* role_code, owned, never NULL */
    roaring_bitmap_t *menus; /* owned: menu indexes granted, kept whatever the package; under
                                profile mpbackend the role's permission name indexes */
    uint32_t tenant;         /* index into tenants */
    uint8_t flags;           /* RBAC_F_LIVE, RBAC_F_ENABLED */
    uint8_t scope;           /* profile mpbackend: enum rbac_scope of the role */
} rbac_role;

/* 40 bytes; with its user_ix entry (8 bytes and a bit in the window of dense ids, 32
 * in the hash part) about 48 bytes per user before any spilled list. */
typedef struct rbac_user {
    rbac_u32list roles; /* role indexes, ascending, unique (the id is user_ix's key) */
    union {
        rbac_u64list stores; /* bitenant: own store ids, ascending, unique */
        rbac_u64list grants; /* mpbackend: the user's bindings (rbac_domain.c), ascending */
    };
    rbac_u64list delegates; /* user ids whose own stores this user inherits, ascending */
    uint32_t tenant;        /* index into tenants */
    uint32_t nstores;       /* entries in stores (grants) */
    uint16_t nroles;        /* entries in roles (at most RBAC_MAX_LIST16) */
    uint16_t ndelegates;    /* entries in delegates (at most RBAC_MAX_LIST16) */
    uint8_t flags;          /* RBAC_F_LIVE, RBAC_F_ENABLED, RBAC_F_ADMIN */
} rbac_user;

#define RBAC_MAX_LIST16 UINT16_MAX /* most roles or delegates one user can hold */

/* The last id found in one idmap and its slot. Association rows arrive grouped by their
 * owner (ORDER BY owner id), so consecutive rows name the same user, role or package:
 * one compare instead of a probe into a table of millions of slots. An entry never goes
 * stale: an id keeps its slot for the life of the model (entities are never removed
 * from their idmap). Menus are not cached this way, since menus_sort() moves them. */
typedef struct rbac_slot_cache {
    uint64_t id;   /* the id looked up last */
    uint32_t slot; /* its slot, RBAC_NONE while the cache is empty */
} rbac_slot_cache;

/* An open-addressing table from a string (menu perms, tenant code) to an index. Built
 * whole from the arrays (rebuilt after a change: there are few menus and tenants);
 * keys are hashed with a per-model random seed and verified by comparing the string. */
typedef struct rbac_strtab {
    uint32_t *slots; /* index + 1, 0 = empty; capacity mask + 1, a power of two */
    uint32_t mask;   /* capacity - 1, 0 when empty */
} rbac_strtab;

struct rbac_model {
    rbac_tenant *tenants;         /* every tenant seen, stubs included */
    size_t ntenants;              /* entries used */
    size_t captenants;            /* entries allocated */
    idmap tenant_ix;              /* tenant id -> index */
    rbac_package *packages;       /* every package loaded */
    size_t npackages;             /* entries used */
    size_t cappackages;           /* entries allocated */
    idmap package_ix;             /* package id -> index */
    rbac_menu *menus;             /* ascending id once finished */
    size_t nmenus;                /* entries used */
    size_t capmenus;              /* entries allocated */
    idmap menu_ix;                /* menu id -> index */
    rbac_role *roles;             /* every role loaded */
    size_t nroles;                /* entries used */
    size_t caproles;              /* entries allocated */
    idmap role_ix;                /* role id -> index */
    rbac_user *users;             /* every user loaded */
    size_t nusers;                /* entries used */
    size_t capusers;              /* entries allocated */
    idmap user_ix;                /* user id -> index */
    rbac_slot_cache last_user;    /* user_ix lookups of the association adds */
    rbac_slot_cache last_role;    /* role_ix lookups of the association adds */
    rbac_slot_cache last_package; /* package_ix lookups of the association adds */
    rbac_strtab menu_codes;       /* perms -> usable-or-not menu index (live menus) */
    rbac_strtab tenant_codes;     /* tenant_code -> tenant index (live tenants) */
    roaring_bitmap_t *usable;     /* indexes of usable menus */
    uint32_t *child_off;          /* nmenus + 2 offsets into child_idx; group nmenus = roots */
    uint32_t *child_idx;          /* menu indexes grouped by parent, each group by (sort, id) */
    uint64_t hash_seed;           /* seed of the string tables */
    uint64_t revision;            /* rbac_change id the snapshot corresponds to */
    size_t live_tenants;          /* tenants with RBAC_F_LIVE */
    size_t live_users;            /* users with RBAC_F_LIVE */
    size_t live_roles;            /* roles with RBAC_F_LIVE */
    size_t live_menus;            /* menus with RBAC_F_LIVE */
    size_t live_packages;         /* packages with RBAC_F_LIVE */
    size_t nsubs;                 /* subscriptions held by all tenants */
    size_t user_bytes;            /* heap bytes of spilled user lists (counted once finished) */
    size_t role_bytes;            /* role codes and bitmaps (counted once finished) */
    struct rbac_domains *dom;     /* profile mpbackend's data (rbac_domain.c), else NULL */
    bool finished;                /* rbac_model_finish() ran: lists are exact and sorted */
    bool menus_unsorted;          /* a menu was added below the highest id while building */
};

/* ---- shared helpers (rbac.c) ---- */

/* Index of the slot with this id in ix (live or not), or RBAC_NONE. */
uint32_t rbac_slot(const idmap *ix, uint64_t id);

/* rbac_slot() through a one-entry cache (see rbac_slot_cache). */
uint32_t rbac_slot_cached(const idmap *ix, rbac_slot_cache *c, uint64_t id);

/* Index of the live entity with this id, or RBAC_NONE. */
uint32_t rbac_tenant_find(const rbac_model *m, uint64_t id);
uint32_t rbac_user_find(const rbac_model *m, uint64_t id);
uint32_t rbac_role_find(const rbac_model *m, uint64_t id);
uint32_t rbac_package_find(const rbac_model *m, uint64_t id);
/* Index of the tenant slot with this id, creating a dead stub if none exists yet. */
uint32_t rbac_tenant_ref(rbac_model *m, uint64_t id);

/* ---- profile mpbackend (rbac_domain.c) ---- */

/* Frees m->dom (NULL is fine). */
void rbac_domains_free(struct rbac_domains *d);
/* Bytes held by m->dom (0 without). */
size_t rbac_domains_bytes(const struct rbac_domains *d);

/* ---- derived data (rbac_index.c) ---- */

/* Recomputes everything derived from the menu array: usable flags and bitmap, the
 * child lists of the tree, the perms table. O(menus log menus). */
void rbac_menus_refresh(rbac_model *m);
/* Rebuilds the tenant code table. */
void rbac_tenant_codes_refresh(rbac_model *m);
/* Sorts one tenant's subscriptions and resolves their package indexes. */
void rbac_tenant_subs_refresh(rbac_model *m, rbac_tenant *t);

/* Sets or clears RBAC_F_LIVE in *flags, keeping the live counter in step. */
void rbac_set_live(uint8_t *flags, size_t *counter, bool live);

/* Memory accounting without walking a million users on the loop thread: finish counts
 * users and roles once, then every change replaces the entity's old share of
 * user_bytes / role_bytes with its new one (rbac_account_*). */
size_t rbac_user_heap_bytes(const rbac_user *u);
size_t rbac_role_heap_bytes(const rbac_role *r);
static inline void rbac_account(size_t *total, size_t before, size_t after)
{
    *total = *total - before + after;
}

/* A bitmap with copy-on-write off; aborts on allocation failure like mem_*. */
roaring_bitmap_t *rbac_bitmap_new(void);

/* List views. */
static inline const uint32_t *rbac_u32_items(const rbac_u32list *l, size_t n)
{
    return n <= RBAC_U32_INLINE ? l->in : l->heap;
}
static inline const uint64_t *rbac_u64_items(const rbac_u64list *l, size_t n)
{
    return n <= RBAC_U64_INLINE ? l->in : l->heap;
}

/* Appends v to a list being built (n entries; heap capacity implied by n). */
void rbac_u32_append_build(rbac_u32list *l, size_t n, uint32_t v);
void rbac_u64_append_build(rbac_u64list *l, size_t n, uint64_t v);
/* Inserts v into a finished list of n entries keeping order; false if present. */
bool rbac_u32_insert(rbac_u32list *l, size_t n, uint32_t v);
bool rbac_u64_insert(rbac_u64list *l, size_t n, uint64_t v);
/* Replaces a finished list with a copy of v[0..n) (sorted, unique; exact size). */
void rbac_u32_set(rbac_u32list *l, size_t oldn, const uint32_t *v, size_t n);
void rbac_u64_set(rbac_u64list *l, size_t oldn, const uint64_t *v, size_t n);
void rbac_u32_clear(rbac_u32list *l, size_t n);
void rbac_u64_clear(rbac_u64list *l, size_t n);
/* Removes v from a finished list of n entries; false if absent. */
bool rbac_u32_erase(rbac_u32list *l, size_t n, uint32_t v);
bool rbac_u64_erase(rbac_u64list *l, size_t n, uint64_t v);
/* Sorts and deduplicates v in place; returns the new count. */
size_t rbac_u32_sort_unique(uint32_t *v, size_t n);
size_t rbac_u64_sort_unique(uint64_t *v, size_t n);

#endif
