/*
 * rbac.c, rbac_index.c, rbac_query.c, rbac_update.c — the RBAC engine: an in-memory model of
 * tenants, subscriptions, packages, menus, roles and users, and the permission reads of SPEC §1
 * answered from it.
 *
 * Life of a model:
 *
 *   worker thread                           loop thread
 *   -------------                           -----------
 *   rbac_model_new()
 *   rbac_add_*() row by row (any order of
 *     rows within a table; entities before
 *     the associations that name them)
 *   rbac_model_finish()  ---- hand over --> server.model = m; reads: rbac_canmenu() ...
 *                                           changes in place: rbac_update.c functions
 *
 * A model belongs to one thread at a time (see worker.h); nothing here locks.
 *
 * Identity: database ids are 64-bit; bitmaps hold dense 32-bit menu indexes assigned
 * in ascending menu id, so a bitmap iterates in menu-id order. A row that is deleted
 * (deleted_at <> 0) is never added; an association naming an unknown entity is
 * ignored (the add returns false). Reads never fail: unknown anything is a denial.
 *
 * Time: the current package of a tenant is decided at every read from now_ms, so a
 * subscription that starts or ends takes effect without any change to the model.
 */
#ifndef RBACD_RBAC_H
#define RBACD_RBAC_H

#include <roaring/roaring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RBAC_NONE UINT32_MAX /* "no such menu" where a menu index is expected */

typedef struct rbac_model rbac_model;

/* ---- Building ---- */

/* An empty model. The caller owns it and releases it with rbac_model_free(). */
rbac_model *rbac_model_new(void);
/* Frees m and everything it holds (NULL is fine). O(model): a big model may take a
 * while, which is why the loader frees replaced models on a worker. */
void rbac_model_free(rbac_model *m);

/* Entities. Adding an id that is already present overwrites its fields (and revives a
 * removed one). Strings are copied. status: 1 enabled, anything else disabled. */
void rbac_add_tenant(rbac_model *m, uint64_t id, const char *code, int status);
void rbac_add_package(rbac_model *m, uint64_t id, const char *code, int status);
/* perms and path may be NULL (an empty string counts as none). After
 * rbac_model_finish() a new menu must have an id above every menu id held (AUTO_INCREMENT
 * order); returns false otherwise, and the caller reloads the whole model. */
bool rbac_add_menu(rbac_model *m, uint64_t id, uint64_t parent_id, int type, const char *name,
                   const char *perms, const char *path, int32_t sort, int status);
/* start_ms/end_ms: INT64_MIN / INT64_MAX for a NULL bound. Returns false (ignored) when
 * the tenant is unknown. An unknown package is kept: the subscription can still be the
 * current one, and then the tenant gets no menus. */
bool rbac_add_subscription(rbac_model *m, uint64_t id, uint64_t tenant_id, uint64_t package_id,
                           int64_t start_ms, int64_t end_ms, int status);
/* The tenant of a role or user need not be loaded: it then counts as unknown. */
void rbac_add_role(rbac_model *m, uint64_t id, uint64_t tenant_id, const char *code, int status);
void rbac_add_user(rbac_model *m, uint64_t id, uint64_t tenant_id, int status, bool is_admin);

/* Associations: false when either side is unknown (the row is ignored) or, for a user's
 * roles and delegates, when the user already holds RBAC_MAX_LIST16 of them. Duplicates
 * are harmless. */
bool rbac_add_package_menu(rbac_model *m, uint64_t package_id, uint64_t menu_id);
bool rbac_add_role_menu(rbac_model *m, uint64_t role_id, uint64_t menu_id);
bool rbac_add_user_role(rbac_model *m, uint64_t user_id, uint64_t role_id);
bool rbac_add_user_store(rbac_model *m, uint64_t user_id, uint64_t store_id);
/* user_id inherits the own stores of delegate_user_id. The delegate need not be
 * loaded: it is looked up at read time, so only user_id must be known. */
bool rbac_add_delegate(rbac_model *m, uint64_t user_id, uint64_t delegate_user_id);

/* Ends building: orders menus by id (remapping bitmaps if rows came out of order),
 * computes usable flags (cycle-safe), sorts subscriptions, sorts, deduplicates and trims
 * every list, optimizes bitmaps. Must run once before any read. Never fails. */
void rbac_model_finish(rbac_model *m);

/* The rbac_change id the loaded snapshot corresponds to (set by the loader, advanced by
 * whoever applies changes). */
void rbac_model_set_revision(rbac_model *m, uint64_t revision);
uint64_t rbac_model_revision(const rbac_model *m);

/* ---- Changes in place (loop thread, finished model) ----
 * Each returns false when the entity it changes is unknown (nothing changed). Entity
 * upserts are the rbac_add_* functions above; association adds also work after finish
 * (they keep lists sorted). */

bool rbac_remove_tenant(rbac_model *m, uint64_t id);
bool rbac_remove_package(rbac_model *m, uint64_t id);
bool rbac_remove_menu(rbac_model *m, uint64_t id);
bool rbac_remove_subscription(rbac_model *m, uint64_t tenant_id, uint64_t id);
/* Removing a role or user also drops its menus / lists; a later upsert starts empty. */
bool rbac_remove_role(rbac_model *m, uint64_t id);
bool rbac_remove_user(rbac_model *m, uint64_t id);

bool rbac_remove_package_menu(rbac_model *m, uint64_t package_id, uint64_t menu_id);
bool rbac_remove_role_menu(rbac_model *m, uint64_t role_id, uint64_t menu_id);
bool rbac_remove_user_role(rbac_model *m, uint64_t user_id, uint64_t role_id);
bool rbac_remove_user_store(rbac_model *m, uint64_t user_id, uint64_t store_id);
bool rbac_remove_delegate(rbac_model *m, uint64_t user_id, uint64_t delegate_user_id);

/* Whole-list replacements (what a change-log consumer re-reads for one entity). Ids that
 * name unknown menus / roles are skipped; the arrays need not be sorted. */
bool rbac_set_package_menus(rbac_model *m, uint64_t package_id, const uint64_t *menu_ids, size_t n);
bool rbac_set_role_menus(rbac_model *m, uint64_t role_id, const uint64_t *menu_ids, size_t n);
bool rbac_set_user_roles(rbac_model *m, uint64_t user_id, const uint64_t *role_ids, size_t n);
bool rbac_set_user_stores(rbac_model *m, uint64_t user_id, const uint64_t *store_ids, size_t n);
bool rbac_set_user_delegates(rbac_model *m, uint64_t user_id, const uint64_t *user_ids, size_t n);

/* One tenant_subscription row, as rbac_set_subscriptions() takes them. */
typedef struct rbac_sub_row {
    uint64_t id;         /* tenant_subscription.id */
    uint64_t package_id; /* as stored, even when the package is unknown */
    int64_t start_ms;    /* start_time (INT64_MIN for NULL) */
    int64_t end_ms;      /* end_time (INT64_MAX for NULL) */
    int status;          /* 1 active */
} rbac_sub_row;

/* Replaces every subscription of tenant_id with rows[0..n) (copied). A tenant the model
 * has never seen gets a dead stub holding them, so that subscriptions which arrive
 * before their tenant row are not lost. False only on a model still being built. */
bool rbac_set_subscriptions(rbac_model *m, uint64_t tenant_id, const rbac_sub_row *rows, size_t n);

/* Whether the model has ever held this role / menu id, live or removed. A change-log
 * consumer uses it to notice an entity that is new to the model: associations naming it
 * were ignored when they were loaded, and must be read again. */
bool rbac_role_known(const rbac_model *m, uint64_t id);
bool rbac_menu_known(const rbac_model *m, uint64_t id);

/* ---- Lookups ---- */

/* Menu index of a live menu by id or by perms code (exact, case-sensitive), or
 * RBAC_NONE. */
uint32_t rbac_menu_by_id(const rbac_model *m, uint64_t id);
uint32_t rbac_menu_by_code(const rbac_model *m, const char *code, size_t len);

typedef struct rbac_menu_info {
    uint64_t id;        /* tenant_menu.id */
    uint64_t parent_id; /* 0 = root */
    int type;           /* menu_type */
    int32_t sort;       /* sort */
    const char *name;   /* menu_name, never NULL; points into the model */
    const char *perms;  /* perms code or NULL; points into the model */
    size_t perms_len;   /* strlen(perms), 0 when perms is NULL */
    const char *path;   /* path or NULL; points into the model */
    bool usable;        /* live, enabled, every ancestor live and enabled */
} rbac_menu_info;

/* Fills *out for menu index idx (from a bitmap or a lookup). The strings stay valid
 * until the model changes. Returns false for an index out of range. */
bool rbac_menu_get(const rbac_model *m, uint32_t idx, rbac_menu_info *out);

/* The perms code of menu index idx and its length in *len, or NULL (and *len = 0) when
 * it has none or idx is out of range: rbac_menu_get() for the one field MENUS CODES
 * needs. The string stays valid until the model changes. */
const char *rbac_menu_perms(const rbac_model *m, uint32_t idx, size_t *len);

/* Tenant id of a live tenant by tenant_code; false if none. */
bool rbac_tenant_by_code(const rbac_model *m, const char *code, size_t len, uint64_t *id);
/* Whether user exists, belongs to tenant, and both are live and enabled (what a session
 * needs to stay valid). */
bool rbac_user_active(const rbac_model *m, uint64_t tenant, uint64_t user);
/* Whether user is a live tenant admin of tenant (admins cannot be disabled). */
bool rbac_user_is_admin(const rbac_model *m, uint64_t tenant, uint64_t user);

/* ---- Permission reads (SPEC §1). None fails; unknown = denial. ---- */

/* Whether menu index menu is accessible to user of tenant at now_ms. Allocates nothing:
 * two hash lookups, a few array reads and bitmap probes. */
bool rbac_canmenu(const rbac_model *m, uint64_t tenant, uint64_t user, uint32_t menu,
                  int64_t now_ms);
/* The accessible menu indexes (ascending index = ascending id). Never NULL; the caller
 * frees it with roaring_bitmap_free(). */
roaring_bitmap_t *rbac_menus(const rbac_model *m, uint64_t tenant, uint64_t user, int64_t now_ms);
/* A reusable array of menu indexes for rbac_menus_list(). Zero it to start; the caller
 * owns the storage and releases it with rbac_menu_list_free(). */
typedef struct rbac_menu_list {
    uint32_t *idx; /* idx[0..n): the accessible menu indexes, ascending; owned */
    size_t n;      /* entries of the result */
    size_t cap;    /* entries allocated */
} rbac_menu_list;

/* rbac_menus() as an array: the same indexes, ascending, into l, whose storage is reused
 * from call to call (grown when too small, aborting like mem_* when memory runs out).
 * Returns l->n. */
size_t rbac_menus_list(const rbac_model *m, uint64_t tenant, uint64_t user, int64_t now_ms,
                       rbac_menu_list *l);
/* Releases l's storage and zeroes it (a zeroed list is fine). */
void rbac_menu_list_free(rbac_menu_list *l);
/* Accessible menus plus the ancestors needed to reach them, depth-first, siblings by
 * (sort, id), as menu indexes. Returns the count; *out is owned by the caller (mem_free),
 * NULL when the count is 0. */
size_t rbac_tree(const rbac_model *m, uint64_t tenant, uint64_t user, int64_t now_ms,
                 uint32_t **out);
/* The user's usable role ids, ascending. Ownership of *out as for rbac_tree. Empty when
 * the user or tenant is unknown, disabled, or the user belongs to another tenant. */
size_t rbac_roles(const rbac_model *m, uint64_t tenant, uint64_t user, uint64_t **out);
/* Own stores and those of every live, enabled, same-tenant delegate (one level),
 * ascending and unique. Ownership of *out as for rbac_tree. */
size_t rbac_stores(const rbac_model *m, uint64_t tenant, uint64_t user, uint64_t **out);
/* Whether store is among rbac_stores(); allocates nothing. */
bool rbac_canstore(const rbac_model *m, uint64_t tenant, uint64_t user, uint64_t store);

/* Receives one WHY line (not '\0'-terminated; valid during the call only). */
typedef void rbac_line_fn(void *ctx, const char *line, size_t len);
/* Explains rbac_canmenu(): emits "allow" or "deny", then one plain-English line per
 * reason. menu is the resolved index (RBAC_NONE if the argument named nothing); arg is
 * the argument as the client sent it, quoted whole (escaped, never cut) in the
 * "unknown menu" line. */
void rbac_why(const rbac_model *m, uint64_t tenant, uint64_t user, uint32_t menu, const char *arg,
              size_t arglen, int64_t now_ms, rbac_line_fn *emit, void *ctx);

/* ---- Accounting ---- */

typedef struct rbac_stats {
    size_t tenants;       /* live tenants */
    size_t users;         /* live users */
    size_t roles;         /* live roles */
    size_t menus;         /* live menus */
    size_t packages;      /* live packages */
    size_t subscriptions; /* subscriptions of all tenants */
    size_t bytes;         /* approximate memory held by the model */
} rbac_stats;

/* Counts and memory, O(tenants + packages + menus); user and role memory are running
 * totals, counted from rbac_model_finish() on. */
void rbac_model_stats(const rbac_model *m, rbac_stats *out);
/* Live users, O(1) (DBSIZE). */
size_t rbac_user_count(const rbac_model *m);

/* ---- Domains: the mpbackend profile (SPEC §4), rbac_domain.c ----
 *
 * The same model holds the second profile's world: roles are global, each with a scope
 * and a set of permission names (interned once, held in the role's bitmap); a user holds
 * a role in a domain through a binding of one of three kinds, and a binding counts only
 * when its kind is the role's scope:
 *
 *   binding table                              kind         domain
 *   mpbackend_admin_user_role_binding          ADMIN        "admin"
 *   mpbackend_developer_user_role_binding      DEVELOPER    "developer:<developer_id>"
 *   mpbackend_application_user_role_binding    APPLICATION  "application:<application_id>"
 *
 * Users are added with rbac_add_user(m, id, 0, 1, false) under the live tenant 0, which
 * rbac_domain_prepare() adds; roles with rbac_add_scoped_role(). Login methods and
 * application permission flags are kept for USERBYLOGIN and APPFLAGS. Every read is a
 * denial on a model without domain data. */

enum rbac_scope {
    RBAC_SCOPE_NONE = 0,        /* NULL or unknown scope: no binding counts */
    RBAC_SCOPE_ADMIN = 1,       /* "Admin" */
    RBAC_SCOPE_DEVELOPER = 2,   /* "Developer" */
    RBAC_SCOPE_APPLICATION = 3, /* "Application" */
};

/* The scope a mpbackend_role.scope value names ("Admin", "Developer", "Application",
 * exactly as the ENUM spells them); RBAC_SCOPE_NONE for anything else. */
int rbac_scope_parse(const char *s, size_t len);
/* The kind a domain string names: "admin", "developer:<decimal id>",
 * "application:<one or more printable characters>"; RBAC_SCOPE_NONE when malformed. */
int rbac_domain_kind(const char *d, size_t len);

/* The canonical form of a domain argument into out ('\0'-terminated): a developer id
 * without leading zeros, anything else as it is. Returns its kind, RBAC_SCOPE_NONE (out
 * untouched) when malformed. out holds RBAC_DOMAIN_MAX + 1 bytes. */
#define RBAC_DOMAIN_MAX 300 /* "application:" + a VARCHAR(255) application id, with room */
int rbac_domain_canon(const char *d, size_t len, char *out);

/* Makes m a domain model: the live tenant 0 its users belong to. Idempotent. */
void rbac_domain_prepare(rbac_model *m);
/* Upserts a global role: name, scope (enum rbac_scope), permissions "a, b,,c" split on
 * commas, trimmed, empties dropped (the role's list is replaced). */
void rbac_add_scoped_role(rbac_model *m, uint64_t id, const char *name, int scope,
                          const char *perms, size_t len);

/* One binding: user holds role in domain (built by the caller from the binding row), as
 * a binding of kind. False when the user is unknown or the role was never held (the row
 * is ignored), or the domain is empty. */
bool rbac_add_grant(rbac_model *m, uint64_t user, int kind, const char *domain, size_t dlen,
                    uint64_t role);
/* One binding row for rbac_set_grants(). */
typedef struct rbac_grant_row {
    const char *domain; /* the domain string (need not be '\0'-terminated) */
    size_t len;         /* its length */
    uint64_t role;      /* the role id */
} rbac_grant_row;
/* Replaces the user's bindings of kind with rows[0..n) (rows naming roles never held are
 * skipped). False when the user is unknown. */
bool rbac_set_grants(rbac_model *m, uint64_t user, int kind, const rbac_grant_row *rows, size_t n);

/* Login methods (USERBYLOGIN). Upsert / remove by mpbackend_account_login_method.id. */
void rbac_add_login(rbac_model *m, uint64_t id, uint64_t user, const char *provider, size_t plen,
                    const char *key, size_t klen);
bool rbac_remove_login(rbac_model *m, uint64_t id);
/* The user of the live login method (lowest id) for (provider, key) whose user is live:
 * true and *user set, or false. */
bool rbac_user_by_login(const rbac_model *m, const char *provider, size_t plen, const char *key,
                        size_t klen, uint64_t *user);

/* Application permission flags (APPFLAGS). Flags by id; bindings by their row id. */
void rbac_add_flag(rbac_model *m, uint64_t id, const char *name, const char *args);
bool rbac_remove_flag(rbac_model *m, uint64_t id);
void rbac_add_flag_binding(rbac_model *m, uint64_t id, const char *app, size_t len, uint64_t flag);
bool rbac_remove_flag_binding(rbac_model *m, uint64_t id);

/* A string handed out by a read: points into the model, valid until it changes. */
typedef struct rbac_str {
    const char *s; /* '\0'-terminated */
    size_t len;    /* its length */
} rbac_str;

/* The [name, arguments] pairs of the flags bound to application app, ordered by name then
 * flag id (a flag bound twice is listed once): 2 * count strings into *out (owned by
 * the caller, mem_free; NULL when none); arguments "" when NULL. Returns the count. */
size_t rbac_app_flags(const rbac_model *m, const char *app, size_t len, rbac_str **out);

/* Whether user holds, in domain, a live role of the binding's scope that includes
 * permission perm. Allocates nothing. */
bool rbac_can(const rbac_model *m, const char *domain, size_t dlen, uint64_t user, const char *perm,
              size_t plen);
/* The permission names of user in domain, sorted (byte order), unique; into *out as for
 * rbac_app_flags. Returns the count. */
size_t rbac_perms(const rbac_model *m, const char *domain, size_t dlen, uint64_t user,
                  rbac_str **out);
/* The domains in which user holds a usable role (live, of the binding's scope), sorted. */
size_t rbac_domains(const rbac_model *m, uint64_t user, rbac_str **out);
/* Explains rbac_can() as rbac_why() explains rbac_canmenu(). */
void rbac_why_domain(const rbac_model *m, const char *domain, size_t dlen, uint64_t user,
                     const char *perm, size_t plen, rbac_line_fn *emit, void *ctx);

/* ---- What a change touches (rbac_track.c; client tracking) ---- */

/* Called with each id a walk finds. */
typedef void rbac_id_fn(void *ctx, uint64_t id);

/* The tenant id of a user or role slot (live or not); false when m never held it. */
bool rbac_user_tenant(const rbac_model *m, uint64_t user, uint64_t *tenant);
bool rbac_role_tenant(const rbac_model *m, uint64_t role, uint64_t *tenant);
/* The enum rbac_scope of a role (mpbackend), RBAC_SCOPE_NONE when unknown. */
int rbac_role_scope(const rbac_model *m, uint64_t role);
/* Whether user inherits the stores of delegate. */
bool rbac_user_delegates_to(const rbac_model *m, uint64_t user, uint64_t delegate);
/* Calls fn with every tenant id holding a subscription to package, or with every tenant
 * id when package is 0. */
void rbac_each_tenant(const rbac_model *m, uint64_t package, rbac_id_fn *fn, void *ctx);
/* The earliest start or end of an active subscription after after_ms (unix ms), or
 * INT64_MAX when there is none: the next instant a tenant's current package may change
 * without any database write. */
int64_t rbac_next_boundary(const rbac_model *m, int64_t after_ms);
/* Calls fn once with every tenant id with an active subscription starting or ending in
 * (from_ms, to_ms]. */
void rbac_each_boundary_tenant(const rbac_model *m, int64_t from_ms, int64_t to_ms, rbac_id_fn *fn,
                               void *ctx);
/* Profile mpbackend: the domains in which any user is bound to role, sorted, into *out
 * (mem_free it; strings point into the model). */
size_t rbac_role_domains(const rbac_model *m, uint64_t role, rbac_str **out);

#endif
