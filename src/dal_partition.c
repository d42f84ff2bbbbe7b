/*
 * Monthly partitions of the log tables: the plan (pure) and the statements (worker
 * threads). The header says what is created and dropped and when; the statements are
 * the DBA's own (schema/002_logs.sql): REORGANIZE the MAXVALUE partition into the new
 * months plus itself, DROP PARTITION the oldest. Both take a metadata lock for as long
 * as they run, which is short: the MAXVALUE partition is empty while partitions exist
 * ahead, and dropping a partition removes its file without touching rows one by one.
 */
#include "dal_partition.h"
#include "buf.h"
#include "dal.h"
#include "db.h"
#include "mem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LOCK_NAME_SQL "CONCAT('rbacd_housekeeping.', DATABASE())"

/* ------------------------------------------------------------------ plan ---- */

/* Reads "'YYYY-MM-DD" from s into *y, *m, *d; returns what follows, or NULL. */
static const char *parse_date(const char *s, int *y, int *m, int *d)
{
    int n = 0;
    if (sscanf(s, "'%4d-%2d-%2d%n", y, m, d, &n) != 3 || n != 11)
        return NULL;
    return s + n;
}

bool dal_part_parse_bound(const char *desc, int *bound)
{
    if (!desc)
        return false;
    if (!strcmp(desc, "MAXVALUE")) {
        *bound = DAL_PART_MAXVALUE;
        return true;
    }
    int y, m, d;
    const char *rest = parse_date(desc, &y, &m, &d);
    if (!rest || y < 1000 || m < 1 || m > 12 || d != 1)
        return false;
    if (!strncmp(rest, " 00:00:00", 9)) { /* a DATETIME bound written with its time */
        rest += 9;
        if (*rest == '.')
            for (rest++; *rest == '0'; rest++)
                ;
    }
    if (strcmp(rest, "'") != 0)
        return false;
    *bound = DAL_MONTH(y, m);
    return true;
}

void dal_part_name(int month, char out[DAL_PART_NAME_MAX + 1])
{
    snprintf(out, DAL_PART_NAME_MAX + 1, "p%04d%02d", month / 12, month % 12 + 1);
}

bool dal_part_plan_make(const dal_partition *parts, size_t n, int now_month, int ahead,
                        int retention, dal_partition_plan *plan, char *err, size_t errlen)
{
    memset(plan, 0, sizeof *plan);
    int highest = -1; /* bound of the last bounded partition, -1 = none */
    for (size_t i = 0; i < n; i++) {
        if (parts[i].bound == DAL_PART_MAXVALUE) {
            if (i + 1 != n) {
                snprintf(err, errlen, "partition %s (MAXVALUE) is not the last", parts[i].name);
                return false;
            }
            snprintf(plan->max_name, sizeof plan->max_name, "%s", parts[i].name);
            continue;
        }
        if (parts[i].bound <= highest) {
            snprintf(err, errlen, "partition %s: bounds do not increase", parts[i].name);
            return false;
        }
        highest = parts[i].bound;
    }
    /* Partitions up to the month now + ahead: the last one's bound is the month after. */
    plan->create_to = now_month + ahead + 1;
    plan->create_from = highest >= 0 ? highest + 1 : now_month + 1;
    if (retention <= 0)
        return true;
    int cutoff = now_month - retention; /* bounds at or before this are past retention */
    size_t bounded = 0;
    for (size_t i = 0; i < n; i++)
        bounded += parts[i].bound != DAL_PART_MAXVALUE;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].bound == DAL_PART_MAXVALUE || parts[i].bound > cutoff)
            continue;
        /* The last bounded partition stays, whatever its age: a table cannot lose them
         * all, and rows of now would otherwise land in MAXVALUE. */
        if (plan->past_retention + 1 >= bounded && plan->create_from > plan->create_to)
            break;
        if (!plan->past_retention)
            snprintf(plan->drop, sizeof plan->drop, "%s", parts[i].name);
        plan->past_retention++;
    }
    return true;
}

/* ------------------------------------------------------------ statements ---- */

typedef struct list_ctx {
    dal_partition *parts; /* out */
    size_t n;             /* used */
    bool partitioned;     /* a row with a partition name was seen */
    bool unmanaged;       /* a method or bound this does not handle */
    char why[256];        /* what was not understood */
} list_ctx;

static bool list_row(void *arg, MYSQL_ROW row, const unsigned long *len)
{
    list_ctx *x = arg;
    if (!row[0])
        return true; /* the one row of a table that is not partitioned */
    x->partitioned = true;
    if (x->unmanaged)
        return true;
    if (x->n == DAL_PART_MAX) {
        x->unmanaged = true;
        snprintf(x->why, sizeof x->why, "more than %d partitions", DAL_PART_MAX);
        return true;
    }
    dal_partition *p = &x->parts[x->n];
    if (!row[1] || strcmp(row[1], "RANGE COLUMNS") != 0 || len[0] > DAL_PART_NAME_MAX ||
        !dal_part_parse_bound(row[2], &p->bound)) {
        x->unmanaged = true;
        snprintf(x->why, sizeof x->why, "partition %.64s: %.20s bound %.40s is not a month", row[0],
                 row[1] ? row[1] : "?", row[2] ? row[2] : "NULL");
        return true;
    }
    memcpy(p->name, row[0], len[0]);
    p->name[len[0]] = '\0';
    x->n++;
    return true;
}

/* "PARTITION p202901 VALUES LESS THAN ('2029-02-01'), ..." for bounds from..to. */
static void append_months(buf *q, int from, int to)
{
    for (int b = from; b <= to; b++) {
        char name[DAL_PART_NAME_MAX + 1];
        dal_part_name(b - 1, name);
        buf_printf(q, "%sPARTITION %s VALUES LESS THAN ('%04d-%02d-01')", b == from ? "" : ", ",
                   name, b / 12, b % 12 + 1);
    }
}

static bool run(MYSQL *db, const buf *q, const char *what, char *err, size_t errlen)
{
    if (mysql_real_query(db, q->data, q->len) != 0) {
        dal_error(db, what, err, errlen);
        return false;
    }
    return true;
}

bool dal_part_maintain(MYSQL *db, const char *table, int ahead, int retention,
                       dal_partition_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    uint64_t ym = 0;
    if (!dal_query_u64(db, "SELECT EXTRACT(YEAR_MONTH FROM UTC_TIMESTAMP())", &ym, "the month", err,
                       errlen))
        return false;
    int now_month = DAL_MONTH((int)(ym / 100), (int)(ym % 100));

    list_ctx x = {.parts = mem_calloc(DAL_PART_MAX, sizeof(dal_partition))};
    buf q;
    buf_init(&q);
    bool ok = false;
    buf_printf(&q,
               "SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_DESCRIPTION"
               " FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE()"
               " AND TABLE_NAME = '%s' ORDER BY PARTITION_ORDINAL_POSITION",
               table);
    if (!dal_query_rows(db, q.data, q.len, 3, list_row, &x, table, err, errlen))
        goto done;
    r->partitioned = x.partitioned;
    if (!x.partitioned) {
        ok = true; /* missing or not partitioned: not ours to reshape */
        goto done;
    }
    if (x.unmanaged) {
        snprintf(err, errlen, "%s: %s; left alone", table, x.why);
        goto done;
    }
    dal_partition_plan plan;
    char why[128];
    if (!dal_part_plan_make(x.parts, x.n, now_month, ahead, retention, &plan, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s; left alone", table, why);
        goto done;
    }
    if (plan.create_from <= plan.create_to) {
        buf_clear(&q);
        if (plan.max_name[0]) {
            buf_printf(&q, "ALTER TABLE %s REORGANIZE PARTITION %s INTO (", table, plan.max_name);
            append_months(&q, plan.create_from, plan.create_to);
            buf_printf(&q, ", PARTITION %s VALUES LESS THAN (MAXVALUE))", plan.max_name);
        } else {
            buf_printf(&q, "ALTER TABLE %s ADD PARTITION (", table);
            append_months(&q, plan.create_from, plan.create_to);
            buf_append_str(&q, ")");
        }
        if (!run(db, &q, table, err, errlen))
            goto done;
        r->created = (unsigned)(plan.create_to - plan.create_from + 1);
    }
    if (plan.drop[0]) {
        buf_clear(&q);
        buf_printf(&q, "ALTER TABLE %s DROP PARTITION %s", table, plan.drop);
        if (!run(db, &q, table, err, errlen))
            goto done;
        r->dropped = 1;
        r->more_to_drop = plan.past_retention > 1;
    }
    ok = true;
done:
    buf_free(&q);
    mem_free(x.parts);
    return ok;
}

bool dal_part_lock(MYSQL *db, bool *held, char *err, size_t errlen)
{
    uint64_t got = 0;
    *held = true;
    if (dal_query_u64(db, "SELECT GET_LOCK(" LOCK_NAME_SQL ", 0)", &got, "housekeeping lock", err,
                      errlen)) {
        *held = got == 1;
        return true;
    }
    return !db_error_is_connection(db);
}

void dal_part_unlock(MYSQL *db)
{
    static const char sql[] = "DO RELEASE_LOCK(" LOCK_NAME_SQL ")";
    (void)mysql_real_query(db, sql, sizeof sql - 1);
}
