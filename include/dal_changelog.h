/*
 * dal_changelog.c — the statements on rbac_change, the change log the schema's triggers
 * fill (every profile has one): where a snapshot stands in it, fetching what changed,
 * probing holes, purging old rows. Worker threads only (see worker.h); callers decide
 * what the answers mean (sync_poll.c, loader.c, sync_cursor.c).
 */
#ifndef RBACD_DAL_CHANGELOG_H
#define RBACD_DAL_CHANGELOG_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable array of change ids. */
typedef struct dal_ids {
    uint64_t *v;   /* ids */
    size_t n, cap; /* used, allocated */
} dal_ids;

void dal_ids_push(dal_ids *ids, uint64_t id);
void dal_ids_free(dal_ids *ids);

/* The change-log position of the open snapshot: *rev = MAX(id) (0 when the log is empty
 * or missing), and the ids missing below it within the last `window` ids (above MIN(id))
 * appended to holes: transactions still open when the snapshot was taken, or rolled
 * back. False with err set on a database error. */
bool dal_log_revision(MYSQL *db, uint64_t window, uint64_t *rev, dal_ids *holes, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/* The oldest id left in the log (0 when empty). */
bool dal_log_min_id(MYSQL *db, uint64_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Receives one change row; entity may be NULL. */
typedef void dal_change_fn(void *ctx, uint64_t id, uint64_t tenant_id, const char *entity,
                           uint64_t entity_id, bool well_formed);

/* Fetches, ascending, at most limit rows with id > above or id in one of the ranges
 * ranges[i][0]..ranges[i][1]; *n gets the number of rows. */
bool dal_log_fetch(MYSQL *db, uint64_t above, const uint64_t (*ranges)[2], size_t nranges,
                   size_t limit, dal_change_fn *fn, void *ctx, size_t *n, char *err, size_t errlen)
    __attribute__((warn_unused_result));

enum dal_probe_result {
    DAL_PROBE_ERROR = 0,    /* the probe failed: decide nothing */
    DAL_PROBE_SETTLED = 1,  /* no open transaction in the range; present[] is committed */
    DAL_PROBE_INFLIGHT = 2, /* an open transaction holds an id in the range */
};

/* One locking read with NOWAIT over ids lo..hi: a row an open transaction holds answers
 * "lock wait" at once; otherwise the committed ids of the range go to present. Returns
 * an enum dal_probe_result. */
int dal_log_probe(MYSQL *db, uint64_t lo, uint64_t hi, dal_ids *present);

/* Deletes rows older than retention_s with id <= max_id, in rounds of at most `rows`,
 * `rounds` times at most; *purged counts them. */
bool dal_log_purge(MYSQL *db, long long retention_s, uint64_t max_id, int rows, int rounds,
                   uint64_t *purged, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
