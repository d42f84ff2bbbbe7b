/*
 * dal_partition.c — monthly partitions of the log tables (tenant_login_log,
 * tenant_operation_log: RANGE COLUMNS on a DATETIME, one partition per calendar month,
 * a MAXVALUE partition last; schema/002_logs.sql). What to create and what to drop is
 * decided by a pure function over the table's partition list (dal_part_plan_make), so
 * that the rule is tested without a database; the statements run on a worker thread.
 *
 *   months are indexes: year * 12 + (month - 1); a partition's "bound" is the month of
 *   its exclusive upper bound, so p202603 (VALUES LESS THAN ('2026-04-01')) has the bound
 *   of 2026-04 and holds March 2026 (and, for the first partition, everything before).
 *
 *   ahead A:      partitions exist up to and including the month now + A
 *                 (created by splitting the MAXVALUE partition, or added after the last
 *                 one when there is none)
 *   retention R:  a partition whose bound is at or before the first day of the month
 *                 now - R is dropped, oldest first, one per table per pass: a row is
 *                 kept at least R whole months and goes in the first pass after that
 *                 (0 = never drop)
 *
 * A table that does not exist or is not partitioned is left alone; one partitioned
 * another way (not RANGE COLUMNS, or a bound that is not the first of a month at
 * midnight) is left alone with an error, so that rbacd never reshapes a table it does
 * not understand.
 */
#ifndef RBACD_DAL_PARTITION_H
#define RBACD_DAL_PARTITION_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>

#define DAL_PART_NAME_MAX 64   /* a partition name, as MariaDB bounds it */
#define DAL_PART_MAX      1024 /* partitions of one table looked at; MariaDB allows 8192 */
#define DAL_PART_MAXVALUE (-1) /* bound of the VALUES LESS THAN (MAXVALUE) partition */

/* Month index of year y, month m (1..12). */
#define DAL_MONTH(y, m) ((y)*12 + (m)-1)

typedef struct dal_partition {
    char name[DAL_PART_NAME_MAX + 1]; /* partition name */
    int bound;                        /* month index of its exclusive upper bound, or
                                         DAL_PART_MAXVALUE */
} dal_partition;

typedef struct dal_partition_plan {
    int create_from;                      /* bound of the first partition to create ... */
    int create_to;                        /* ... and of the last; none when from > to */
    char max_name[DAL_PART_NAME_MAX + 1]; /* the MAXVALUE partition to split, "" = none */
    char drop[DAL_PART_NAME_MAX + 1];     /* the partition to drop now, "" = none */
    size_t past_retention;                /* partitions past retention, drop included */
} dal_partition_plan;

/* Parses an information_schema PARTITION_DESCRIPTION of a RANGE COLUMNS partition:
 * "MAXVALUE" gives DAL_PART_MAXVALUE, "'2026-04-01'" or "'2026-04-01 00:00:00'" (any
 * fraction of zeros) gives the month index. False for anything else (another day, a
 * time of day, an integer bound). */
bool dal_part_parse_bound(const char *desc, int *bound) __attribute__((warn_unused_result));

/* The partition name for the month index m (what the partition holds): "p202603". */
void dal_part_name(int month, char out[DAL_PART_NAME_MAX + 1]);

/* Decides one pass over a table whose partitions are parts[0..n) in ordinal order, at
 * month now_month (index), keeping `ahead` months ahead and `retention` months back (0 =
 * keep for ever). False with err set when the bounds are not increasing or a MAXVALUE
 * partition is not last: the caller then leaves the table alone. */
bool dal_part_plan_make(const dal_partition *parts, size_t n, int now_month, int ahead,
                        int retention, dal_partition_plan *plan, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* One table's result of dal_part_maintain. */
typedef struct dal_partition_result {
    bool partitioned;  /* the table exists and is partitioned */
    unsigned created;  /* partitions added */
    unsigned dropped;  /* partitions dropped (0 or 1) */
    bool more_to_drop; /* partitions past retention are left for the next pass */
} dal_partition_result;

/* Worker thread: one pass over table (a constant name, not user input) at the database's
 * current month (UTC session): creates the missing partitions ahead in one statement and
 * drops at most one partition past retention. False with err set when a statement
 * failed or the table is partitioned in a way this does not manage; *r tells what was
 * done before that. */
bool dal_part_maintain(MYSQL *db, const char *table, int ahead, int retention,
                       dal_partition_result *r, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Worker thread: takes the database-wide advisory lock that keeps two instances from
 * maintaining the same tables at once (GET_LOCK, no wait). *held tells whether this
 * connection holds it; false only on a connection error (a server without user locks
 * counts as held: the statements themselves are safe to race, only noisier). */
bool dal_part_lock(MYSQL *db, bool *held, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Releases what dal_part_lock took (errors ignored: the lock ends with the session). */
void dal_part_unlock(MYSQL *db);

#endif
