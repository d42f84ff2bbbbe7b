/*
 * dal.c — the data-access layer: every table rbacd caches is described once, by an
 * entity descriptor (dal_desc), and everything rbacd reads of those tables is driven
 * from the descriptors:
 *
 *   load      a whole model, every table streamed in dependency order inside one
 *             consistent snapshot (loader.c, on the sync lane)
 *   refresh   the current rows of what a change names: an entity by id, an owner's
 *             whole list, the rows naming an entity new to the model, a tenant whole
 *             (change-log polls and write transactions, on the sync lane)
 *   apply     a refreshed batch into the live model (sync.c, on the loop thread)
 *   check     whether a row a write names exists and is live (dal_write.c)
 *
 * A descriptor says: the table (also its rbac_change.entity name), its columns and how
 * each decodes into a dal_rec, which condition makes a row live, how the full load
 * orders it, its tenant column, who owns it (for association rows) and what it names,
 * what a change to it invalidates, and the model calls that take its records. A profile
 * (dal_profile) is an ordered set of descriptors; the SQL is generated from them, so the
 * loader, the change-log re-reads and the write checks cannot disagree about a column.
 *
 * Two shapes:
 *   DAL_ENTITY  a row per id (tenant, menu, user...). The first column is the id.
 *               Refreshed by id; a row that is gone or not live removes the entity.
 *   DAL_OWNED   rows grouped by an owner (a role's menus, a tenant's subscriptions).
 *               The first column is the owner. Refreshed a whole owner at a time: the
 *               list read replaces the model's (an empty list is "the last one went").
 *
 * Threads: descriptors and profiles are constant data. Everything that takes a MYSQL
 * handle runs on a worker thread (see worker.h); dal_apply() runs on the loop thread.
 * A dal_batch is built by one and handed to the other whole.
 */
#ifndef RBACD_DAL_H
#define RBACD_DAL_H

#include "buf.h"
#include "rbac.h"

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAL_ERR_MAX   256  /* error text kept per job */
#define DAL_MAX_COLS  10   /* columns of one descriptor */
#define DAL_MAX_DESCS 16   /* descriptors of one profile */
#define DAL_U64S      3    /* id-like columns a record holds */
#define DAL_INTS      4    /* small integer columns a record holds */
#define DAL_STRS      3    /* string columns a record holds */
#define DAL_TIMES     2    /* DATETIME columns a record holds */
#define DAL_SESSIONS  0xFE /* dal_key.desc of a session change (see dal_profile) */

/* How one column decodes. Columns fill the record's slots of their kind in order. */
enum dal_coltype {
    DC_U64 = 0,     /* unsigned id into u[k]; malformed or NULL: the row is ignored */
    DC_INT = 1,     /* int32 into v[k]; NULL or malformed: 0 */
    DC_STR = 2,     /* string into s[k] (NULL stays NULL) */
    DC_TIME_LO = 3, /* DATETIME into t[k] as unix ms; NULL: INT64_MIN; malformed: ignored */
    DC_TIME_HI = 4, /* the same, NULL: INT64_MAX (an open end) */
};

typedef struct dal_column {
    const char *name; /* SQL expression, usually the column name */
    uint8_t type;     /* enum dal_coltype */
} dal_column;

/* One decoded row. While a table streams (load), strings point into the row and live
 * until the next row; in a batch they are owned copies. */
typedef struct dal_rec {
    uint64_t u[DAL_U64S];    /* u[0]: the id (entity) or the owner (owned rows) */
    int32_t v[DAL_INTS];     /* small integers, in column order */
    const char *s[DAL_STRS]; /* strings, in column order; NULL for SQL NULL */
    uint32_t len[DAL_STRS];  /* their lengths */
    int64_t t[DAL_TIMES];    /* times in unix ms */
    bool live;               /* entity refresh: the row exists and is live */
} dal_rec;

enum dal_shape {
    DAL_ENTITY = 0, /* one row per id */
    DAL_OWNED = 1,  /* rows grouped by an owner */
};

/* What a change to a descriptor's rows may change in the answers (client tracking). */
enum dal_scope {
    DAL_SCOPE_USER = 0,     /* one user's answers (the row's user, or the owner user) */
    DAL_SCOPE_TENANT = 1,   /* every user of one tenant */
    DAL_SCOPE_PLATFORM = 2, /* every user anywhere (menus, packages) */
    DAL_SCOPE_NONE = 3,     /* no tracked answer (login methods, application flags) */
};

typedef struct dal_desc {
    const char *table;             /* table name, also what rbac_change.entity holds */
    uint8_t shape;                 /* enum dal_shape */
    uint8_t scope;                 /* enum dal_scope */
    uint8_t ncols;                 /* entries in cols */
    dal_column cols[DAL_MAX_COLS]; /* the first is the id (entity) or the owner (owned) */
    const char *live;              /* SQL condition of a live row; NULL = every row is live */
    const char *order;             /* ORDER BY of a load and a refresh: "id", or the owner first */
    const char *tenant_col;        /* entity: its tenant column; NULL = not tenant-scoped */
    int owner;              /* owned: index of the owning entity descriptor; -1 for entities */
    const char *target_col; /* owned: the column naming the entity the row points at */
    int target;             /* owned: index of that entity when rows naming an entity new
                               to the model were ignored and must be read again; -1 none */
    bool key_is_tenant;     /* owned: rbac_change.entity_id names the row, not the owner,
                               and rbac_change.tenant_id is the owner (subscriptions) */
    /* Model calls (all of them on a model being built or on the live one):
     * put     entity: upsert; owned: add one row. False: the row was ignored (load), or,
     *         for an entity upsert on a finished model, it cannot be taken in place and
     *         the model must be reloaded whole.
     * remove  entity: the row is gone or not live (false: it was not held).
     * known   entity: whether the model ever held this id (a newcomer makes the rows
     *         naming it be read again); NULL = never needed.
     * set     owned: replaces an owner's whole list with rows[0..n). */
    bool (*put)(rbac_model *m, const dal_rec *r);
    bool (*remove)(rbac_model *m, uint64_t id);
    bool (*known)(const rbac_model *m, uint64_t id);
    void (*set)(rbac_model *m, uint64_t owner, const dal_rec *rows, size_t n);
} dal_desc;

struct dal_write_op;

typedef struct dal_profile {
    const char *name;               /* conf profile name */
    void (*prepare)(rbac_model *m); /* run on a new model before the load; NULL = none */
    const struct dal_write_op *ops; /* the profile's write commands (dal_write.h) */
    size_t nops;                    /* entries in ops */
    const dal_desc *descs;          /* in dependency order: what a row names comes first */
    size_t ndescs;                  /* entries in descs */
    int tenant_desc;                /* the tenants' descriptor (tenant-wide reads), -1 none */
    const char *session_table;      /* rbac_change.entity of session rows; their entity_id is
                                       the user, tenant_id its tenant */
} dal_profile;

/* The profile of a conf_profile value; NULL when the profile has no loader. */
const dal_profile *dal_profile_of(int conf_profile);
/* Index of the descriptor of table in p, or -1. */
int dal_desc_index(const dal_profile *p, const char *table);

/* ---- Columns ---- */

/* The one column parser: an unsigned decimal id of len bytes (fast for up to 19 digits,
 * exact up to 2^64-1). False for NULL, empty, non-digits and overflow. */
bool dal_col_u64(const char *s, size_t len, uint64_t *out) __attribute__((warn_unused_result));
/* An int32 column; 0 for NULL, malformed or out of range. */
int32_t dal_col_int(const char *s, size_t len);
/* Decodes one row of d (lengths from mysql_fetch_lengths) into r, strings pointing into
 * the row. False when an id or a time is malformed; r->u[0] is then valid if id_ok. */
bool dal_decode(const dal_desc *d, MYSQL_ROW row, const unsigned long *len, dal_rec *r, bool *id_ok)
    __attribute__((warn_unused_result));

/* ---- Errors and statements (worker threads) ---- */

/* After a failed statement: "what: error (errno)" into err, and notes when the connection
 * is gone. The handle stays usable for the rest of the job (its statements then fail at
 * once); dal_done(), called when a job stops using the handle, drops a lost connection
 * so that the next job reconnects. */
void dal_error(MYSQL *db, const char *what, char *err, size_t errlen);
void dal_done(void);
/* Runs sql (one unsigned number, 0 for NULL or no row) into *out. */
bool dal_query_u64(MYSQL *db, const char *sql, uint64_t *out, const char *what, char *err,
                   size_t errlen) __attribute__((warn_unused_result));
/* Streams the rows of sql through fn (ncols columns expected). fn's false stops using
 * rows (they are still read out) and fails the call. */
typedef bool dal_row_fn(void *ctx, MYSQL_ROW row, const unsigned long *len);
bool dal_query_rows(MYSQL *db, const char *sql, size_t sqllen, unsigned ncols, dal_row_fn *fn,
                    void *ctx, const char *what, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* A read-only snapshot: every read until dal_snapshot_end() sees the same instant. */
bool dal_snapshot_begin(MYSQL *db, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Commits (ok) or rolls back the snapshot; false (err set) if ok and the commit failed. */
bool dal_snapshot_end(MYSQL *db, bool ok, char *err, size_t errlen);

/* ---- Load ---- */

typedef struct dal_load_stats {
    uint64_t rows;    /* rows read */
    uint64_t ignored; /* rows malformed or naming what the model does not hold */
} dal_load_stats;

/* Streams every table of p into m in descriptor order (inside a snapshot the caller
 * opened). False with err set on a database error or a table of the wrong shape. */
bool dal_load(MYSQL *db, const dal_profile *p, rbac_model *m, dal_load_stats *st, char *err,
              size_t errlen) __attribute__((warn_unused_result));

/* ---- Keys: what a change names ---- */

enum dal_key_mode {
    DAL_KEY_ROW = 0,    /* entity: the row id; owned: the owner's whole list (and an
                           entity's key also re-reads the lists it owns) */
    DAL_KEY_TARGET = 1, /* owned: the rows naming entity id (it is new to the model) */
    DAL_KEY_TENANT = 2, /* the tenant id whole: its row, and every tenant-scoped entity of
                           it with the lists they own (desc = the tenants' descriptor) */
};

typedef struct dal_key {
    uint64_t id;     /* entity, owner or target id; for DAL_SESSIONS the user */
    uint64_t tenant; /* rbac_change.tenant_id: 0 platform-wide */
    uint8_t desc;    /* descriptor index, or DAL_SESSIONS */
    uint8_t mode;    /* enum dal_key_mode */
} dal_key;

/* The key a change-log row names (entity = rbac_change.entity), or false for a table p
 * does not cache. */
bool dal_key_of_change(const dal_profile *p, const char *entity, uint64_t entity_id,
                       uint64_t tenant_id, dal_key *out) __attribute__((warn_unused_result));
/* Sorts keys by (desc, mode, id, tenant) and drops duplicates; returns the new count. */
size_t dal_keys_unique(dal_key *keys, size_t n);
/* Whether a key names something scoped to one tenant (so that many keys of one tenant
 * may be cheaper read as the whole tenant). */
bool dal_key_tenant_scoped(const dal_profile *p, const dal_key *k);

/* ---- Batches: the current rows of a set of keys ---- */

typedef struct dal_list {
    uint64_t owner; /* whose list */
    size_t off;     /* first row in the part's rows */
    size_t n;       /* rows: the complete list */
} dal_list;

typedef struct dal_part {
    dal_rec *rows;           /* entity records, or the rows of the lists */
    size_t nrows, caprows;   /* used, allocated */
    dal_list *lists;         /* owned: one per owner read */
    size_t nlists, caplists; /* used, allocated */
    dal_rec *added;          /* owned: rows naming a newcomer, added one by one */
    size_t nadded, capadded; /* used, allocated */
} dal_part;

typedef struct dal_user_ref {
    uint64_t tenant; /* rbac_change.tenant_id */
    uint64_t user;   /* whose session rows changed */
} dal_user_ref;

/* Built on the lane, applied and freed on the loop; owns every array and string. */
typedef struct dal_batch {
    dal_part parts[DAL_MAX_DESCS]; /* by descriptor index */
    dal_user_ref *sessions;        /* users whose session rows changed */
    size_t nsessions, capsessions; /* used, allocated */
} dal_batch;

void dal_batch_free(dal_batch *b);
/* Records in b: entities, lists, added rows, sessions (INFO: records applied). */
size_t dal_batch_records(const dal_batch *b);

/* Reads the current rows of keys[0..n) into b (appending). keys is sorted and
 * deduplicated in place. lock: locking reads (LOCK IN SHARE MODE), for a write
 * transaction that must see the latest committed rows rather than its snapshot.
 * False with err set on a database error (b then holds a partial batch to free). */
bool dal_refresh(MYSQL *db, const dal_profile *p, dal_key *keys, size_t n, bool lock, dal_batch *b,
                 char *err, size_t errlen) __attribute__((warn_unused_result));

/* Sums, over the tenant-scoped entities of p, the rows of tenant t (whether reading the
 * tenant whole is cheaper than its keys one by one). */
bool dal_tenant_size(MYSQL *db, const dal_profile *p, uint64_t t, uint64_t *size, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

typedef struct dal_apply_out {
    bool need_full_reload;           /* an entity could not be taken in place */
    size_t applied;                  /* records applied */
    dal_key *followups;              /* keys to read on the next poll (owned, mem_free) */
    size_t nfollowups, capfollowups; /* used, allocated */
} dal_apply_out;

/* On the loop: applies b to m in descriptor order. Every step is a replacement by
 * current state (upsert or remove an entity, replace an owner's list), so applying the
 * same batch twice, or an older one before a newer, leaves m right once the newer is
 * applied. An entity new to the model adds DAL_KEY_TARGET follow-ups for the rows that
 * name it, which were ignored when they were read. Sessions are not applied here: the
 * caller hands b->sessions to the session module. */
void dal_apply(const dal_profile *p, rbac_model *m, const dal_batch *b, dal_apply_out *out);

/* ---- Checks (inside a write transaction) ---- */

/* Reads the live row of entity descriptor d with this id (and, when tenant is nonzero
 * and d has a tenant column, of that tenant), with the lock clause appended ("FOR
 * UPDATE", "LOCK IN SHARE MODE" or ""). *found says whether there was one; r holds it
 * (strings valid until the next statement on db). False on a database error. */
bool dal_check(MYSQL *db, const dal_desc *d, uint64_t id, uint64_t tenant, const char *lock,
               dal_rec *r, bool *found, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* ---- SQL text (exposed for the unit tests) ---- */

/* The SELECT of a full load of d. */
void dal_sql_load(const dal_desc *d, buf *sql);
/* The SELECT of d's rows whose column col is one of ids[0..n) (entity: also the live
 * flag as the last column), with the lock clause when lock. */
void dal_sql_in(const dal_desc *d, const char *col, const uint64_t *ids, size_t n, bool lock,
                buf *sql);

#endif
