/*
 * The permission reads of SPEC §2 (CANMENU, MENUS, ROLES, CANSTORE, STORES, WHY), DBSIZE
 * and RELOAD, as rows of the command table, and the INFO rbac section.
 *
 * Handlers run after command.c checked arity, authentication, ACL, profile and LOADING.
 * They parse ids (a bad id is the only error a read can reply), ask the engine with the
 * wall clock of the call, and encode. Unknown tenants, users, menus and stores are
 * denials (`:0`, empty array), never errors: redis-benchmark stops at the first error.
 *
 * Ids are replied as integers; an id above 2^63-1 (which a RESP integer cannot hold)
 * is replied as a bulk string of its digits. The MENUS encoders and the menu argument
 * parser live in rbac_reply.c, which the session commands share.
 */
#include "cmd_rbac.h"
#include "client.h"
#include "loader.h"
#include "mem.h"
#include "metrics.h"
#include "rbac.h"
#include "rbac_reply.h"
#include "server.h"
#include "util.h"

#include <stdint.h>

/* Parses argv[1] and argv[2] as tenant and user; on failure the error is replied. */
static bool parse_tenant_user(client *c, const resp_arg *argv, uint64_t *tenant, uint64_t *user)
{
    return command_parse_id(c, &argv[1], tenant) && command_parse_id(c, &argv[2], user);
}

/* The menu argument a into *idx; false after replying the error for an id out of
 * range. */
static bool parse_menu(client *c, const resp_arg *a, uint32_t *idx)
{
    if (rbac_reply_parse_menu(server.model, a, idx))
        return true;
    command_reply_bad_id(c, a);
    return false;
}

static void canmenuCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, user;
    uint32_t menu;
    if (!parse_tenant_user(c, argv, &tenant, &user) || !parse_menu(c, &argv[3], &menu))
        return;
    resp_int(&c->out, rbac_canmenu(server.model, tenant, user, menu, server.now_ms));
}

/* ---- MENUS ---- */

static void menusCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, user;
    int form = RBAC_REPLY_IDS;
    if (argc == 4 && !rbac_reply_parse_form(&argv[3], &form)) {
        command_reply_syntax(c);
        return;
    }
    if (!parse_tenant_user(c, argv, &tenant, &user))
        return;
    rbac_reply_menus(&c->out, server.model, tenant, user, form, server.now_ms);
}

/* ---- ROLES, STORES, CANSTORE ---- */

static void reply_ids(client *c, uint64_t *ids, size_t n)
{
    resp_array(&c->out, n);
    for (size_t i = 0; i < n; i++)
        rbac_reply_id(&c->out, ids[i]);
    mem_free(ids);
}

static void rolesCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, user, *ids;
    if (!parse_tenant_user(c, argv, &tenant, &user))
        return;
    size_t n = rbac_roles(server.model, tenant, user, &ids);
    reply_ids(c, ids, n);
}

static void storesCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, user, *ids;
    if (!parse_tenant_user(c, argv, &tenant, &user))
        return;
    size_t n = rbac_stores(server.model, tenant, user, &ids);
    reply_ids(c, ids, n);
}

static void canstoreCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, user, store;
    if (!parse_tenant_user(c, argv, &tenant, &user) || !command_parse_id(c, &argv[3], &store))
        return;
    resp_int(&c->out, rbac_canstore(server.model, tenant, user, store));
}

/* ---- WHY ---- */

static void whyCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, user;
    uint32_t menu;
    if (!parse_tenant_user(c, argv, &tenant, &user) || !parse_menu(c, &argv[3], &menu))
        return;
    rbac_reply_lines w;
    rbac_reply_lines_begin(&w, &c->out);
    rbac_why(server.model, tenant, user, menu, argv[3].ptr, argv[3].len, server.now_ms,
             rbac_reply_line, &w);
    rbac_reply_lines_end(&w);
}

/* ---- DBSIZE, RELOAD ---- */

static void dbsizeCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_int(&c->out, (long long)cmd_rbac_user_count());
}

/* How a reload ended; lives for the reply only. */
typedef struct reload_result {
    bool ok;         /* the new model is in use */
    const char *err; /* why not, or NULL */
} reload_result;

static void reload_reply(client *c, void *arg)
{
    const reload_result *r = arg;
    if (!c)
        return;
    if (r->ok)
        resp_simple(&c->out, "OK");
    else
        resp_error(&c->out, "ERR reload failed: %s", r->err ? r->err : "unknown error");
}

/* Runs on the loop thread when the reload ends; ctx is the waiting client's ticket. */
static void reload_done(void *ctx, bool ok, const char *err)
{
    reload_result r = {ok, err};
    client_resume((uint64_t)(uintptr_t)ctx, reload_reply, &r);
}

static void reloadCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant = 0;
    if (argc == 2 && !command_parse_id(c, &argv[1], &tenant))
        return;
    loader_start(tenant, reload_done, (void *)(uintptr_t)client_wait(c));
}

/* ---- INFO ---- */

size_t cmd_rbac_user_count(void)
{
    return server.model ? rbac_user_count(server.model) : 0;
}

size_t cmd_rbac_model_bytes(void)
{
    if (!server.model)
        return 0;
    rbac_stats st;
    rbac_model_stats(server.model, &st);
    return st.bytes;
}

static void cmd_rbac_info(buf *out)
{
    rbac_stats st = {0};
    if (server.model)
        rbac_model_stats(server.model, &st);
    uint64_t ok, failed;
    loader_counters(&ok, &failed);
    buf_printf(out,
               "tenants:%zu\r\nusers:%zu\r\nroles:%zu\r\nmenus:%zu\r\npackages:%zu\r\n"
               "subscriptions:%zu\r\nmodel_bytes:%zu\r\nmodel_revision:%llu\r\n"
               "last_load_ms:%lld\r\nlast_load_at:%lld\r\nloads:%llu\r\nload_failures:%llu\r\n",
               st.tenants, st.users, st.roles, st.menus, st.packages, st.subscriptions, st.bytes,
               (unsigned long long)(server.model ? rbac_model_revision(server.model) : 0),
               (long long)server.last_load_ms, (long long)server.last_load_at_ms,
               (unsigned long long)ok, (unsigned long long)failed);
}

/* The model's families: what INFO rbac shows. Zeros until the first load. */
static void cmd_rbac_metrics(buf *out)
{
    rbac_stats st = {0};
    if (server.model)
        rbac_model_stats(server.model, &st);
    uint64_t ok, failed;
    loader_counters(&ok, &failed);
    metrics_gauge(out, "rbacd_tenants", "Live tenants in the loaded model.", (double)st.tenants);
    metrics_gauge(out, "rbacd_users", "Live users in the loaded model.", (double)st.users);
    metrics_gauge(out, "rbacd_roles", "Live roles in the loaded model.", (double)st.roles);
    metrics_gauge(out, "rbacd_menus", "Live menus (permissions) in the loaded model.",
                  (double)st.menus);
    metrics_gauge(out, "rbacd_packages", "Live packages in the loaded model.", (double)st.packages);
    metrics_gauge(out, "rbacd_subscriptions", "Subscriptions of all tenants in the loaded model.",
                  (double)st.subscriptions);
    metrics_gauge(out, "rbacd_model_bytes", "Approximate memory held by the model.",
                  (double)st.bytes);
    metrics_gauge(out, "rbacd_model_revision", "Change-log revision the loaded model was read at.",
                  (double)(server.model ? rbac_model_revision(server.model) : 0));
    metrics_counter(out, "rbacd_model_loads_total", "Model loads that worked.", ok);
    metrics_counter(out, "rbacd_model_load_failures_total", "Model loads that failed.", failed);
    metrics_gauge(out, "rbacd_model_last_load_duration_seconds", "How long the last load took.",
                  (double)server.last_load_ms / 1e3);
    metrics_gauge(out, "rbacd_model_last_load_timestamp_seconds",
                  "Unix time the last load finished, 0 = none yet.",
                  (double)server.last_load_at_ms / 1e3);
}

const module cmd_rbac_module = {
    .name = "rbac",
    .info_section = "rbac",
    .info = cmd_rbac_info,
    .metrics = cmd_rbac_metrics,
};

/* ---- the rows ---- */

command cmd_rbac_table[] = {
    COMMAND_ROW("canmenu", 4, 4, CMD_FAST | CMD_TRACK_USER, ACL_CAT_CHECK, PROF_BITENANT,
                canmenuCommand, "Whether a user may open a menu (id or perms code): 1 or 0.",
                "tenant user menu", NULL),
    COMMAND_ROW("menus", 3, 4, CMD_TRACK_USER, ACL_CAT_CHECK, PROF_BITENANT, menusCommand,
                "The menus a user may open: ids ascending, perms codes, or the tree.",
                "tenant user [CODES|TREE]", NULL),
    COMMAND_ROW("roles", 3, 3, CMD_TRACK_USER, ACL_CAT_CHECK, PROF_BITENANT, rolesCommand,
                "The usable role ids of a user, ascending.", "tenant user", NULL),
    COMMAND_ROW("canstore", 4, 4, CMD_FAST | CMD_TRACK_USER, ACL_CAT_CHECK, PROF_BITENANT,
                canstoreCommand, "Whether a user may act on a store (own or delegated): 1 or 0.",
                "tenant user store", NULL),
    COMMAND_ROW("stores", 3, 3, CMD_TRACK_USER, ACL_CAT_CHECK, PROF_BITENANT, storesCommand,
                "The store ids of a user, own and delegated, ascending.", "tenant user", NULL),
    COMMAND_ROW("why", 4, 4, CMD_TRACK_USER, ACL_CAT_CHECK, PROF_BITENANT, whyCommand,
                "Explains CANMENU: allow or deny, then the reasons in plain words.",
                "tenant user menu", NULL),
    COMMAND_ROW("dbsize", 1, 1, CMD_FAST, ACL_CAT_CHECK, PROF_ALL, dbsizeCommand,
                "The number of users loaded.", "", NULL),
    COMMAND_ROW("reload", 1, 2, 0, ACL_CAT_ADMIN, PROF_ALL, reloadCommand,
                "Reloads the model from the database; reads are served meanwhile.", "[tenant]",
                NULL),
    COMMAND_END,
};
