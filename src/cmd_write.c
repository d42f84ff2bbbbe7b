/*
 * The write-through commands (ROLE GRANT|REVOKE, USER, TENANT; category admin), bare
 * ROLE (the replication role Redis clients ask for), and REVISION /
 * WAITREV (category check), as rows of the command table. A handler parses and copies
 * its arguments into a dal_write_job and hands it to the sync lane; the transaction
 * itself, and what each command changes, are the data-access layer's (dal_write.h,
 * dal_bitenant.c, ...). When the lane is done, write_done() applies the re-read rows to the
 * model, then replies: memory first, so that a client's next request sees its write.
 */
#include "buf.h"
#include "client.h"
#include "command.h"
#include "dal.h"
#include "dal_write.h"
#include "log.h"
#include "mem.h"
#include "rbac.h"
#include "resp.h"
#include "server.h"
#include "session.h"
#include "sync.h"
#include "sync_internal.h"
#include "util.h"
#include "worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SYNC_WRITE_MAX_MENUS 1000              /* menus in one ROLE GRANT / REVOKE */
#define SYNC_DATETIME_MAX_MS 253402300799999LL /* 9999-12-31 23:59:59.999 UTC */

/* On the loop, in lane order: memory first, then the reply to c (NULL if it has gone). */
static void write_done(client *c, void *arg)
{
    dal_write_job *j = arg;
    if (j->status == DAL_WRITE_OK) {
        sync_write_applied(&j->batch, j->ids, j->nids, c ? c->id : 0);
        if (j->forget_sessions)
            session_forget_user(j->tenant, j->target);
    }
    sync_note_write(j->status == DAL_WRITE_OK, j->status == DAL_WRITE_DBERR, j->msg);
    sync_note_retries(j->attempts > 0 ? j->attempts - 1 : 0,
                      j->status == DAL_WRITE_DBERR && j->conflict);
    if (c) {
        if (j->status == DAL_WRITE_OK)
            resp_int(&c->out, j->reply);
        else if (j->status == DAL_WRITE_REFUSED)
            resp_error(&c->out, "ERR %s", j->msg);
        else
            resp_error(&c->out, "DBERR %s", j->msg[0] ? j->msg : "database error");
    }
    dal_write_job_free(j);
}

/* ------------------------------------------------------------------ handlers ---- */

/* The write a row stands for: the profile's op whose module and action are the row's
 * container and subcommand (ROLE GRANT -> role/grant), or its name (BIND -> bind). */
static const dal_write_op *row_op(const client *c)
{
    const command *row = c->last_cmd;
    const dal_profile *p = sync_profile();
    const char *cmd = row->parent ? row->parent->name : row->name;
    const char *action = row->parent ? row->name : NULL;
    for (size_t i = 0; p && i < p->nops; i++) {
        const dal_write_op *op = &p->ops[i];
        if (!strcmp(op->module, cmd) &&
            (action ? op->action && !strcmp(op->action, action) : !op->action))
            return op;
    }
    return NULL;
}

/* Hands the job to the lane and blocks the client until write_done() answers. */
static void submit(client *c, dal_write_job *j)
{
    struct worker_pool *lane = sync_lane();
    if (!lane) {
        resp_error(&c->out, "DBERR the database lane is not running");
        dal_write_job_free(j);
        return;
    }
    snprintf(j->operator_name, sizeof j->operator_name, "%s", c->user);
    j->retries = (int)server.conf.db_retries;
    client_run_job(c, lane, dal_write_run, write_done, j);
}

/* A new job for the row's op, or NULL (error replied) when the row names none. */
static dal_write_job *job_for(client *c)
{
    const dal_write_op *op = row_op(c);
    if (!op) {
        resp_error(&c->out, "ERR no write is defined for '%s'", c->last_cmd->fullname);
        return NULL;
    }
    return dal_write_job_new(sync_profile(), op);
}

/* USER ADDROLE/DELROLE/ADDSTORE/DELSTORE/DELEGATE/UNDELEGATE/ENABLE/DISABLE, TENANT
 * ENABLE/DISABLE: ids only, in the order tenant, target, other. */
static void writeIdsCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t ids[3] = {0};
    for (size_t i = 2; i < argc && i < 5; i++)
        if (!command_parse_id(c, &argv[i], &ids[i - 2]))
            return;
    dal_write_job *j = job_for(c);
    if (!j)
        return;
    j->tenant = ids[0];
    j->target = ids[1];
    j->other = ids[2];
    submit(c, j);
}

/* ROLE GRANT/REVOKE tenant role menu [menu ...]: menus are ids or perms codes. */
static void roleMenusCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, role;
    if (!command_parse_id(c, &argv[2], &tenant) || !command_parse_id(c, &argv[3], &role))
        return;
    size_t n = argc - 4;
    if (n > SYNC_WRITE_MAX_MENUS) {
        resp_error(&c->out, "ERR at most %d menus per command", SYNC_WRITE_MAX_MENUS);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        const resp_arg *a = &argv[4 + i];
        if (util_all_digits(a->ptr, a->len) && !command_parse_id(c, a, &id))
            return;
        if (a->len == 0 || memchr(a->ptr, '\0', a->len)) {
            resp_error(&c->out, "ERR empty or malformed menu argument");
            return;
        }
    }
    dal_write_job *j = job_for(c);
    if (!j)
        return;
    j->tenant = tenant;
    j->target = role;
    j->args = mem_calloc(n, sizeof *j->args);
    j->nargs = n;
    for (size_t i = 0; i < n; i++)
        j->args[i] = mem_strndup(argv[4 + i].ptr, argv[4 + i].len);
    submit(c, j);
}

/* BIND / UNBIND domain user role: the domain's kind names the binding table. */
static void bindCommand(client *c, size_t argc, const resp_arg *argv)
{
    char domain[RBAC_DOMAIN_MAX + 1];
    uint64_t user, role;
    if (!command_parse_domain(c, &argv[1], domain))
        return;
    if (!command_parse_id(c, &argv[2], &user) || !command_parse_id(c, &argv[3], &role))
        return;
    dal_write_job *j = job_for(c);
    if (!j)
        return;
    j->target = user;
    j->other = role;
    j->args = mem_calloc(1, sizeof *j->args);
    j->nargs = 1;
    j->args[0] = mem_strdup(domain);
    submit(c, j);
}

static bool parse_ms(client *c, const resp_arg *a, int64_t *out)
{
    long long v;
    if (!util_parse_ll(a->ptr, a->len, &v) || v < 0 || v > SYNC_DATETIME_MAX_MS) {
        resp_error(&c->out,
                   "ERR invalid time '%.*s': expected unix milliseconds between 0 and "
                   "%lld",
                   (int)(a->len > 32 ? 32 : a->len), a->ptr, SYNC_DATETIME_MAX_MS);
        return false;
    }
    *out = v;
    return true;
}

static void tenantSubscribeCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, package;
    int64_t start, end;
    if (!command_parse_id(c, &argv[2], &tenant) || !command_parse_id(c, &argv[3], &package) ||
        !parse_ms(c, &argv[4], &start) || !parse_ms(c, &argv[5], &end))
        return;
    if (start >= end) {
        resp_error(&c->out, "ERR start_ms must be before end_ms");
        return;
    }
    dal_write_job *j = job_for(c);
    if (!j)
        return;
    j->tenant = tenant;
    j->target = package;
    j->start_ms = start;
    j->end_ms = end;
    submit(c, j);
}

static void revisionCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t rev = sync_revision();
    if (rev <= (uint64_t)INT64_MAX)
        resp_int(&c->out, (long long)rev);
    else
        resp_bulk_u64(&c->out, rev);
}

static void waitrevCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t rev;
    long long timeout;
    if (!command_parse_id(c, &argv[1], &rev))
        return;
    if (!util_parse_ll(argv[2].ptr, argv[2].len, &timeout) || timeout < 0) {
        resp_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    sync_waitrev(c, rev, timeout);
}

/* Bare ROLE, as Redis answers it: rbacd is always a master and has no replicas. The
 * same container holds ROLE GRANT|REVOKE, so this form exists in every profile. */
static void roleCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_array(&c->out, 3);
    resp_bulk_str(&c->out, "master");
    resp_int(&c->out, 0);
    resp_array(&c->out, 0);
}

/* ---------------------------------------------------------------- the rows ---- */

static command role_subcommands[] = {
    COMMAND_ROW("grant", 5, -1, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, roleMenusCommand,
                "Adds menus (ids or perms codes) to a role; replies the number added.",
                "tenant role menu [menu ...]", NULL),
    COMMAND_ROW("revoke", 5, -1, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, roleMenusCommand,
                "Removes menus from a role; replies the number removed.",
                "tenant role menu [menu ...]", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

static command user_subcommands[] = {
    COMMAND_ROW("addrole", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Gives a user a role: 1 changed, 0 already so.", "tenant user role", NULL),
    COMMAND_ROW("delrole", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Takes a role from a user: 1 changed, 0 already so.", "tenant user role", NULL),
    COMMAND_ROW("enable", 4, 4, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Enables a user: 1 changed, 0 already so.", "tenant user", NULL),
    COMMAND_ROW("disable", 4, 4, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Disables a user (not a tenant admin) and revokes its sessions: 1 or 0.",
                "tenant user", NULL),
    COMMAND_ROW("addstore", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Gives a user a store: 1 changed, 0 already so.", "tenant user store", NULL),
    COMMAND_ROW("delstore", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Takes a store from a user: 1 or 0.", "tenant user store", NULL),
    COMMAND_ROW("delegate", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "The user inherits the own stores of delegate_user: 1 or 0.",
                "tenant user delegate_user", NULL),
    COMMAND_ROW("undelegate", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Ends a delegation: 1 or 0.", "tenant user delegate_user", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

static command tenant_subcommands[] = {
    COMMAND_ROW("subscribe", 6, 6, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, tenantSubscribeCommand,
                "Subscribes a tenant to a package; earlier active subscriptions end. Replies the "
                "new subscription id.",
                "tenant package start_ms end_ms", NULL),
    COMMAND_ROW("enable", 3, 3, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Enables a tenant: 1 changed, 0 already so.", "tenant", NULL),
    COMMAND_ROW("disable", 3, 3, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, writeIdsCommand,
                "Disables a tenant: 1 changed, 0 already so.", "tenant", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

command cmd_write_table[] = {
    COMMAND_ROW("role", 1, -1, CMD_LOADING | CMD_FAST, ACL_CAT_ADMIN, PROF_ALL, roleCommand,
                "Without arguments: the replication role, [\"master\", 0, []]. A container for "
                "role changes (written through).",
                "", role_subcommands),
    COMMAND_ROW("user", 2, -1, 0, ACL_CAT_ADMIN, PROF_BITENANT, NULL,
                "A container for user changes (written through).", "", user_subcommands),
    COMMAND_ROW("tenant", 2, -1, 0, ACL_CAT_ADMIN, PROF_BITENANT, NULL,
                "A container for tenant changes (written through).", "", tenant_subcommands),
    COMMAND_ROW("bind", 4, 4, CMD_WRITE, ACL_CAT_ADMIN, PROF_MPBACKEND, bindCommand,
                "Binds a role to a user in a domain (written through): 1 changed, 0 already so.",
                "domain user role", NULL),
    COMMAND_ROW("unbind", 4, 4, CMD_WRITE, ACL_CAT_ADMIN, PROF_MPBACKEND, bindCommand,
                "Ends a user's binding of a role in a domain: 1 changed, 0 already so.",
                "domain user role", NULL),
    COMMAND_ROW("revision", 1, 1, CMD_FAST, ACL_CAT_CHECK, PROF_ALL, revisionCommand,
                "The highest rbac_change id this instance has applied.", "", NULL),
    COMMAND_ROW("waitrev", 3, 3, 0, ACL_CAT_CHECK, PROF_ALL, waitrevCommand,
                "Waits until this instance has applied a revision: 1, or 0 on timeout.",
                "revision timeout_ms", NULL),
    COMMAND_END,
};
