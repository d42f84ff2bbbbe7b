/*
 * Connection and server commands: what every Redis client, redis-cli and
 * redis-benchmark send besides rbacd's own commands (PING, HELLO, AUTH, CLIENT,
 * COMMAND, INFO, CONFIG, SLOWLOG, ...). Replies follow Redis 7 shapes so that client
 * libraries parse them unchanged.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD (INFO cpu) */

#include "auth.h"
#include "client.h"
#include "cmd_tracking.h"
#include "tracking.h"
#include "cmd_rbac.h"
#include "command.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "module.h"
#include "monitor.h"
#include "server.h"
#include "util.h"
#include "worker.h"

#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#define RBACD_REDIS_COMPAT  "7.0.0" /* the Redis version whose protocol rbacd follows */
#define SLOWLOG_GET_DEFAULT 10
#define MAX_LIST_ARGS       1024 /* names or ids one COMMAND INFO/DOCS or CLIENT LIST takes */
#define MAX_CONFIG_PATTERNS 64   /* patterns one CONFIG GET takes */
#define CONFIG_KEYS_MAX     128  /* more than the configuration has keys */

/* ---- PING ECHO QUIT SELECT TIME RESET ---- */

static void pingCommand(client *c, size_t argc, const resp_arg *argv)
{
    char flags[8];
    long long redir;
    if (c->proto == 2 && tracking_client_describe(c, flags, &redir)) {
        /* A RESP2 connection subscribed to the invalidation channel: Redis's pub/sub
         * shape, which subscriber-mode clients expect. */
        resp_array(&c->out, 2);
        resp_bulk_str(&c->out, "pong");
        resp_bulk(&c->out, argc == 2 ? argv[1].ptr : "", argc == 2 ? argv[1].len : 0);
        return;
    }
    if (argc == 2)
        resp_bulk(&c->out, argv[1].ptr, argv[1].len);
    else
        resp_simple(&c->out, "PONG");
}

static void echoCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_bulk(&c->out, argv[1].ptr, argv[1].len);
}

static void quitCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_simple(&c->out, "OK");
    client_close_after_reply(c);
}

static void selectCommand(client *c, size_t argc, const resp_arg *argv)
{
    long long db;
    if (!util_parse_ll(argv[1].ptr, argv[1].len, &db)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    if (db != 0) {
        resp_error(&c->out, "ERR DB index is out of range");
        return;
    }
    resp_simple(&c->out, "OK");
}

static void timeCommand(client *c, size_t argc, const resp_arg *argv)
{
    int64_t us = util_now_us();
    char s[32];
    resp_array(&c->out, 2);
    snprintf(s, sizeof s, "%lld", (long long)(us / 1000000));
    resp_bulk_str(&c->out, s);
    snprintf(s, sizeof s, "%lld", (long long)(us % 1000000));
    resp_bulk_str(&c->out, s);
}

static void resetCommand(client *c, size_t argc, const resp_arg *argv)
{
    c->proto = 2;
    monitor_stop(c);
    mem_free(c->name);
    c->name = NULL;
    tracking_client_reset(c); /* as Redis: tracking off, unsubscribed */
    auth_reset_client(c);
    resp_simple(&c->out, "RESET");
}

/* ---- AUTH HELLO ---- */

static void auth_reply(client *c, bool ok, void *arg)
{
    if (!c)
        return;
    if (ok)
        resp_simple(&c->out, "OK");
    else
        resp_error(&c->out, "WRONGPASS invalid username-password pair or user is disabled.");
}

static void authCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (argc == 2 && !auth_required()) {
        resp_error(&c->out, "ERR AUTH <password> called without any password configured for "
                            "the default user. Are you sure your configuration is correct?");
        return;
    }
    const resp_arg *user = argc == 3 ? &argv[1] : NULL;
    const resp_arg *pass = &argv[argc - 1];
    auth_check(c, user ? user->ptr : NULL, user ? user->len : 0, pass->ptr, pass->len, auth_reply,
               NULL);
}

/* HELLO state carried across an asynchronous AUTH. */
typedef struct hello_ctx {
    int proto;  /* requested protocol, 0 = unchanged */
    char *name; /* SETNAME value or NULL */
} hello_ctx;

static void hello_reply(client *c)
{
    resp_map(&c->out, c->proto, 7);
    resp_bulk_str(&c->out, "server");
    resp_bulk_str(&c->out, "rbacd");
    resp_bulk_str(&c->out, "version");
    resp_bulk_str(&c->out, RBACD_VERSION);
    resp_bulk_str(&c->out, "proto");
    resp_int(&c->out, c->proto);
    resp_bulk_str(&c->out, "id");
    resp_int(&c->out, (long long)c->id);
    resp_bulk_str(&c->out, "mode");
    resp_bulk_str(&c->out, "standalone");
    resp_bulk_str(&c->out, "role");
    resp_bulk_str(&c->out, "master");
    resp_bulk_str(&c->out, "modules");
    resp_array(&c->out, 0);
}

static void hello_finish(client *c, bool ok, void *arg)
{
    hello_ctx *h = arg;
    if (c) {
        if (!ok) {
            resp_error(&c->out, "WRONGPASS invalid username-password pair or user is disabled.");
        } else {
            if (h->proto)
                c->proto = h->proto;
            if (h->name) {
                mem_free(c->name);
                c->name = h->name;
                h->name = NULL;
            }
            hello_reply(c);
        }
    }
    mem_free(h->name);
    mem_free(h);
}

static bool client_name_ok(const resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] <= ' ' || a->ptr[i] > '~')
            return false;
    return true;
}

static void helloCommand(client *c, size_t argc, const resp_arg *argv)
{
    int proto = 0;
    size_t i = 1;
    if (argc >= 2) {
        long long v;
        if (!util_parse_ll(argv[1].ptr, argv[1].len, &v)) {
            resp_error(&c->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (v != 2 && v != 3) {
            resp_error(&c->out, "NOPROTO unsupported protocol version");
            return;
        }
        proto = (int)v;
        i = 2;
    }
    const resp_arg *user = NULL, *pass = NULL, *name = NULL;
    for (; i < argc; i++) {
        if (util_eq_nocase(argv[i].ptr, argv[i].len, "auth") && i + 2 < argc) {
            user = &argv[i + 1];
            pass = &argv[i + 2];
            i += 2;
        } else if (util_eq_nocase(argv[i].ptr, argv[i].len, "setname") && i + 1 < argc) {
            name = &argv[i + 1];
            i += 1;
        } else {
            resp_error(&c->out, "ERR Syntax error in HELLO option '%.*s'",
                       (int)(argv[i].len > 64 ? 64 : argv[i].len), argv[i].ptr);
            return;
        }
    }
    if (name && !client_name_ok(name)) {
        resp_error(&c->out, "ERR Client names cannot contain spaces, newlines or special "
                            "characters.");
        return;
    }
    if (!user && !c->authenticated) {
        resp_error(&c->out, "NOAUTH HELLO must be called with the client already authenticated, "
                            "otherwise the HELLO <proto> AUTH <user> <pass> option can be used "
                            "to authenticate the client and select the RESP protocol version at "
                            "the same time");
        return;
    }
    hello_ctx *h = mem_calloc(1, sizeof *h);
    h->proto = proto;
    h->name = name && name->len ? mem_strndup(name->ptr, name->len) : NULL;
    if (!user) {
        hello_finish(c, true, h);
        return;
    }
    auth_check(c, user->ptr, user->len, pass->ptr, pass->len, hello_finish, h);
}

/* ---- CLIENT ---- */

static void clientIdCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_int(&c->out, (long long)c->id);
}

static void clientSetnameCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (!client_name_ok(&argv[2])) {
        resp_error(&c->out, "ERR Client names cannot contain spaces, newlines or special "
                            "characters.");
        return;
    }
    mem_free(c->name);
    c->name = argv[2].len ? mem_strndup(argv[2].ptr, argv[2].len) : NULL;
    resp_simple(&c->out, "OK");
}

static void clientGetnameCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (c->name)
        resp_bulk_str(&c->out, c->name);
    else
        resp_null(&c->out, c->proto);
}

static void clientSetinfoCommand(client *c, size_t argc, const resp_arg *argv)
{
    char **slot;
    if (util_eq_nocase(argv[2].ptr, argv[2].len, "lib-name"))
        slot = &c->lib_name;
    else if (util_eq_nocase(argv[2].ptr, argv[2].len, "lib-ver"))
        slot = &c->lib_ver;
    else {
        resp_error(&c->out, "ERR Unrecognized option '%.*s'",
                   (int)(argv[2].len > 64 ? 64 : argv[2].len), argv[2].ptr);
        return;
    }
    if (!client_name_ok(&argv[3])) {
        resp_error(&c->out, "ERR %s cannot contain spaces, newlines or special characters.",
                   slot == &c->lib_name ? "lib-name" : "lib-ver");
        return;
    }
    mem_free(*slot);
    *slot = argv[3].len ? mem_strndup(argv[3].ptr, argv[3].len) : NULL;
    resp_simple(&c->out, "OK");
}

static void clientListCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (argc > MAX_LIST_ARGS + 3) {
        resp_error(&c->out, "ERR too many client ids (at most %d)", MAX_LIST_ARGS);
        return;
    }
    if (argc > 2) {
        if (argc < 4 || !util_eq_nocase(argv[2].ptr, argv[2].len, "id")) {
            command_reply_syntax(c);
            return;
        }
    }
    buf out;
    buf_init(&out);
    for (client *x = server.clients; x; x = x->next) {
        if (argc > 2) {
            bool listed = false;
            for (size_t i = 3; i < argc; i++) {
                uint64_t id;
                if (!util_parse_u64(argv[i].ptr, argv[i].len, &id)) {
                    buf_free(&out);
                    resp_error(&c->out, "ERR Invalid client ID");
                    return;
                }
                listed |= id == x->id;
            }
            if (!listed)
                continue;
        }
        client_describe(x, &out);
        buf_append(&out, "\n", 1);
    }
    resp_verbatim(&c->out, c->proto, out.data ? out.data : "", out.len);
    buf_free(&out);
}

static void clientInfoCommand(client *c, size_t argc, const resp_arg *argv)
{
    buf out;
    buf_init(&out);
    client_describe(c, &out);
    buf_append(&out, "\n", 1);
    resp_verbatim(&c->out, c->proto, out.data, out.len);
    buf_free(&out);
}

static void client_kill(client *self, client *victim)
{
    if (victim == self) {
        client_close_after_reply(self);
    } else if (victim->state == CLIENT_BLOCKED) {
        /* its job completes into a lookup miss; free now */
        client_free(victim);
    } else {
        client_free(victim);
    }
}

static void clientKillCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (argc == 3) { /* old form: CLIENT KILL addr:port */
        for (client *x = server.clients; x; x = x->next) {
            if (strlen(x->addr) == argv[2].len && memcmp(x->addr, argv[2].ptr, argv[2].len) == 0) {
                resp_simple(&c->out, "OK");
                client_kill(c, x);
                return;
            }
        }
        resp_error(&c->out, "ERR No such client");
        return;
    }
    if (argc % 2 != 0) {
        command_reply_syntax(c);
        return;
    }
    uint64_t id = 0;
    bool by_id = false, skipme = true;
    const resp_arg *addr = NULL, *laddr = NULL, *user = NULL;
    for (size_t i = 2; i + 1 < argc; i += 2) {
        const resp_arg *k = &argv[i], *v = &argv[i + 1];
        if (util_eq_nocase(k->ptr, k->len, "id")) {
            if (!util_parse_u64(v->ptr, v->len, &id)) {
                resp_error(&c->out, "ERR client-id should be greater than 0");
                return;
            }
            by_id = true;
        } else if (util_eq_nocase(k->ptr, k->len, "addr")) {
            addr = v;
        } else if (util_eq_nocase(k->ptr, k->len, "laddr")) {
            laddr = v;
        } else if (util_eq_nocase(k->ptr, k->len, "user")) {
            user = v;
        } else if (util_eq_nocase(k->ptr, k->len, "skipme")) {
            if (util_eq_nocase(v->ptr, v->len, "yes"))
                skipme = true;
            else if (util_eq_nocase(v->ptr, v->len, "no"))
                skipme = false;
            else {
                command_reply_syntax(c);
                return;
            }
        } else {
            command_reply_syntax(c);
            return;
        }
    }
    long long killed = 0;
    bool kill_self = false;
    for (client *x = server.clients, *next; x; x = next) {
        next = x->next;
        if (by_id && x->id != id)
            continue;
        if (addr && !(strlen(x->addr) == addr->len && !memcmp(x->addr, addr->ptr, addr->len)))
            continue;
        if (laddr && !(strlen(x->laddr) == laddr->len && !memcmp(x->laddr, laddr->ptr, laddr->len)))
            continue;
        if (user && !(strlen(x->user) == user->len && !memcmp(x->user, user->ptr, user->len)))
            continue;
        if (x == c) {
            if (skipme)
                continue;
            kill_self = true;
            killed++;
            continue;
        }
        client_kill(c, x);
        killed++;
    }
    resp_int(&c->out, killed);
    if (kill_self)
        client_close_after_reply(c);
}

static void clientOkCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (!util_eq_nocase(argv[2].ptr, argv[2].len, "on") &&
        !util_eq_nocase(argv[2].ptr, argv[2].len, "off")) {
        command_reply_syntax(c);
        return;
    }
    resp_simple(&c->out, "OK");
}

static command client_subcommands[] = {
    COMMAND_ROW("id", 2, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL, clientIdCommand,
                "Returns the unique client ID of the connection.", "", NULL),
    COMMAND_ROW("setname", 3, 3, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                clientSetnameCommand, "Sets the connection name.", "connection-name", NULL),
    COMMAND_ROW("getname", 2, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                clientGetnameCommand, "Returns the name of the connection.", "", NULL),
    COMMAND_ROW("setinfo", 4, 4, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                clientSetinfoCommand, "Sets information specific to the client or connection.",
                "LIB-NAME|LIB-VER value", NULL),
    COMMAND_ROW("list", 2, -1, CMD_LOADING, ACL_CAT_ADMIN, PROF_ALL, clientListCommand,
                "Lists open connections.", "[ID client-id ...]", NULL),
    COMMAND_ROW("info", 2, 2, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, clientInfoCommand,
                "Returns information about the connection.", "", NULL),
    COMMAND_ROW("kill", 3, -1, CMD_LOADING, ACL_CAT_ADMIN, PROF_ALL, clientKillCommand,
                "Terminates open connections.", "ip:port | filter value [filter value ...]", NULL),
    COMMAND_ROW("no-evict", 3, 3, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                clientOkCommand, "Accepted for compatibility.", "ON|OFF", NULL),
    COMMAND_ROW("no-touch", 3, 3, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                clientOkCommand, "Accepted for compatibility.", "ON|OFF", NULL),
    COMMAND_ROW("tracking", 3, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL,
                cmd_tracking_client_tracking,
                "Enables or disables invalidation pushes for the keys this connection reads.",
                "ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] "
                "[OPTIN] [OPTOUT] [NOLOOP]",
                NULL),
    COMMAND_ROW("caching", 3, 3, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                cmd_tracking_client_caching,
                "Tracks (OPTIN) or skips (OPTOUT) the keys of the next command.", "YES|NO", NULL),
    COMMAND_ROW("trackinginfo", 2, 2, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL,
                cmd_tracking_client_trackinginfo,
                "Returns information about server-assisted client-side caching for the connection.",
                "", NULL),
    COMMAND_ROW("getredir", 2, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                cmd_tracking_client_getredir,
                "Returns the client ID to which the connection's tracking pushes are redirected.",
                "", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

/* ---- COMMAND ---- */

static const char *category_name(int cat)
{
    switch (cat) {
    case ACL_CAT_CHECK:
        return "@check";
    case ACL_CAT_SESSION:
        return "@session";
    case ACL_CAT_ADMIN:
        return "@admin";
    default:
        return "@connection";
    }
}

static void command_reply_flags(client *c, const command *cmd)
{
    const char *flags[6];
    size_t n = 0;
    if (cmd->flags & CMD_WRITE)
        flags[n++] = "write";
    else
        flags[n++] = "readonly";
    if (cmd->flags & CMD_FAST)
        flags[n++] = "fast";
    if (cmd->flags & CMD_LOADING)
        flags[n++] = "loading";
    if (cmd->flags & CMD_NOAUTH)
        flags[n++] = "no_auth";
    if (cmd->category == ACL_CAT_ADMIN)
        flags[n++] = "admin";
    resp_set(&c->out, c->proto, n);
    for (size_t i = 0; i < n; i++)
        resp_simple(&c->out, flags[i]);
}

static void command_reply_info(client *c, const command *cmd)
{
    size_t nsub = 0;
    for (const command *s = cmd->subcommands; s && s->name; s++)
        nsub += command_in_profile(s);
    resp_array(&c->out, 10);
    resp_bulk_str(&c->out, cmd->fullname);
    resp_int(&c->out, command_arity(cmd));
    command_reply_flags(c, cmd);
    resp_int(&c->out, 0);
    resp_int(&c->out, 0);
    resp_int(&c->out, 0);
    resp_set(&c->out, c->proto, 1);
    resp_simple(&c->out, category_name(cmd->category));
    resp_array(&c->out, 0); /* tips */
    resp_array(&c->out, 0); /* key specs */
    resp_array(&c->out, nsub);
    for (const command *s = cmd->subcommands; s && s->name; s++)
        if (command_in_profile(s))
            command_reply_info(c, s);
}

/* One top-level word or [group] of an argument synopsis ("tenant user [TTL s] [id ...]"). */
typedef struct synopsis_arg {
    const char *text; /* the word, or the inside of the brackets */
    size_t len;
    bool optional; /* was [bracketed] */
    bool multiple; /* followed by "..." (or ends with it inside the brackets) */
} synopsis_arg;

#define SYNOPSIS_MAX_ARGS 16

/* Splits a synopsis into its top-level words and bracket groups. */
static size_t synopsis_split(const char *syn, synopsis_arg *out, size_t max)
{
    size_t n = 0;
    const char *p = syn ? syn : "";
    while (*p && n < max) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (strncmp(p, "...", 3) == 0) {
            if (n)
                out[n - 1].multiple = true;
            p += 3;
            continue;
        }
        synopsis_arg *a = &out[n];
        memset(a, 0, sizeof *a);
        if (*p == '[') {
            int depth = 0;
            const char *start = p + 1;
            for (; *p; p++) {
                depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
                if (depth == 0)
                    break;
            }
            a->text = start;
            a->len = (size_t)(p - start);
            a->optional = true;
            if (*p)
                p++;
            if (a->len >= 4 && strncmp(a->text + a->len - 4, " ...", 4) == 0) {
                a->len -= 4;
                a->multiple = true;
            }
        } else {
            a->text = p;
            while (*p && *p != ' ')
                p++;
            a->len = (size_t)(p - a->text);
        }
        n++;
    }
    return n;
}

/* The "arguments" of COMMAND DOCS, from the row's synopsis; redis-cli shows them as
 * hints while a command is typed. */
static void command_reply_arguments(client *c, const command *cmd)
{
    synopsis_arg args[SYNOPSIS_MAX_ARGS];
    size_t n = synopsis_split(cmd->args, args, SYNOPSIS_MAX_ARGS);
    resp_array(&c->out, n);
    for (size_t i = 0; i < n; i++) {
        size_t nflags = (size_t)args[i].optional + (size_t)args[i].multiple;
        resp_map(&c->out, c->proto, nflags ? 4 : 3);
        resp_bulk_str(&c->out, "name");
        resp_bulk(&c->out, args[i].text, args[i].len);
        resp_bulk_str(&c->out, "type");
        resp_bulk_str(&c->out, "string");
        resp_bulk_str(&c->out, "display_text");
        resp_bulk(&c->out, args[i].text, args[i].len);
        if (nflags) {
            resp_bulk_str(&c->out, "flags");
            resp_array(&c->out, nflags);
            if (args[i].optional)
                resp_simple(&c->out, "optional");
            if (args[i].multiple)
                resp_simple(&c->out, "multiple");
        }
    }
}

static void command_reply_docs(client *c, const command *cmd)
{
    size_t nsub = 0;
    for (const command *s = cmd->subcommands; s && s->name; s++)
        nsub += command_in_profile(s);
    resp_map(&c->out, c->proto, nsub ? 6 : 5);
    resp_bulk_str(&c->out, "summary");
    resp_bulk_str(&c->out, cmd->summary ? cmd->summary : "");
    resp_bulk_str(&c->out, "since");
    resp_bulk_str(&c->out, "0.1.0");
    resp_bulk_str(&c->out, "group");
    resp_bulk_str(&c->out, cmd->category == ACL_CAT_CONNECTION ? "connection" : "server");
    resp_bulk_str(&c->out, "complexity");
    resp_bulk_str(&c->out, cmd->flags & CMD_FAST ? "O(1)" : "O(N)");
    resp_bulk_str(&c->out, "arguments");
    command_reply_arguments(c, cmd);
    if (nsub) {
        resp_bulk_str(&c->out, "subcommands");
        resp_map(&c->out, c->proto, nsub);
        for (const command *s = cmd->subcommands; s && s->name; s++) {
            if (!command_in_profile(s))
                continue;
            resp_bulk_str(&c->out, s->fullname);
            command_reply_docs(c, s);
        }
    }
}

/* Bare COMMAND: every command's COMMAND INFO entry. */
static void commandCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_array(&c->out, command_count());
    for (size_t i = 0; i < command_count(); i++)
        command_reply_info(c, command_at(i));
}

static void commandCountCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_int(&c->out, (long long)command_count());
}

/* COMMAND INFO and DOCS take at most MAX_LIST_ARGS names: each may cost a large reply. */
static bool command_names_bounded(client *c, size_t argc)
{
    if (argc - 2 <= MAX_LIST_ARGS)
        return true;
    resp_error(&c->out, "ERR too many command names (at most %d)", MAX_LIST_ARGS);
    return false;
}

static void commandInfoCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (!command_names_bounded(c, argc))
        return;
    size_t n = argc == 2 ? command_count() : argc - 2;
    resp_array(&c->out, n);
    for (size_t i = 0; i < n; i++) {
        const command *cmd =
            argc == 2 ? command_at(i) : command_lookup(argv[i + 2].ptr, argv[i + 2].len);
        if (cmd)
            command_reply_info(c, cmd);
        else
            resp_null_array(&c->out, c->proto);
    }
}

static void commandDocsCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (!command_names_bounded(c, argc))
        return;
    size_t n = 0;
    size_t pos = resp_defer(&c->out);
    for (size_t i = 0; i < (argc == 2 ? command_count() : argc - 2); i++) {
        const command *cmd =
            argc == 2 ? command_at(i) : command_lookup(argv[i + 2].ptr, argv[i + 2].len);
        if (!cmd)
            continue;
        resp_bulk_str(&c->out, cmd->name);
        command_reply_docs(c, cmd);
        n++;
    }
    if (c->proto == 3)
        resp_defer_set(&c->out, pos, '%', n);
    else
        resp_defer_set(&c->out, pos, '*', n * 2);
}

enum list_filter {
    LIST_FILTER_MODULE = 0,  /* rbacd has no modules: matches nothing */
    LIST_FILTER_ACLCAT = 1,  /* category name without '@', any case */
    LIST_FILTER_PATTERN = 2, /* glob on the full name ("client|kill"), any case */
};

static bool list_filter_matches(const command *cmd, int filter, const resp_arg *value)
{
    switch (filter) {
    case LIST_FILTER_ACLCAT:
        return util_eq_nocase(value->ptr, value->len, category_name(cmd->category) + 1);
    case LIST_FILTER_PATTERN:
        return util_glob_match(value->ptr, value->len, cmd->fullname, strlen(cmd->fullname), true);
    default:
        return false;
    }
}

/* COMMAND LIST: every top-level name; with FILTERBY, as Redis, every command and
 * subcommand (by full name) that passes the filter. */
static void commandListCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (argc == 2) {
        resp_array(&c->out, command_count());
        for (size_t i = 0; i < command_count(); i++)
            resp_bulk_str(&c->out, command_at(i)->name);
        return;
    }
    int filter;
    const resp_arg *kind = &argv[3];
    if (argc != 5 || !util_eq_nocase(argv[2].ptr, argv[2].len, "filterby")) {
        command_reply_syntax(c);
        return;
    }
    if (util_eq_nocase(kind->ptr, kind->len, "module"))
        filter = LIST_FILTER_MODULE;
    else if (util_eq_nocase(kind->ptr, kind->len, "aclcat"))
        filter = LIST_FILTER_ACLCAT;
    else if (util_eq_nocase(kind->ptr, kind->len, "pattern"))
        filter = LIST_FILTER_PATTERN;
    else {
        command_reply_syntax(c);
        return;
    }
    size_t n = 0, pos = resp_defer(&c->out);
    for (size_t i = 0; i < command_count(); i++) {
        const command *cmd = command_at(i);
        if (list_filter_matches(cmd, filter, &argv[4])) {
            resp_bulk_str(&c->out, cmd->fullname);
            n++;
        }
        for (const command *s = cmd->subcommands; s && s->name; s++) {
            if (command_in_profile(s) && list_filter_matches(s, filter, &argv[4])) {
                resp_bulk_str(&c->out, s->fullname);
                n++;
            }
        }
    }
    resp_defer_set(&c->out, pos, '*', n);
}

static command command_subcommands[] = {
    COMMAND_ROW("count", 2, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                commandCountCommand, "Returns a count of commands.", "", NULL),
    COMMAND_ROW("docs", 2, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, commandDocsCommand,
                "Returns documentary information about one, multiple or all commands.",
                "[command-name ...]", NULL),
    COMMAND_ROW("info", 2, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, commandInfoCommand,
                "Returns information about one, multiple or all commands.", "[command-name ...]",
                NULL),
    COMMAND_ROW("list", 2, 5, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, commandListCommand,
                "Returns a list of command names.",
                "[FILTERBY MODULE name|ACLCAT category|PATTERN pattern]", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

/* ---- INFO ---- */

static bool section_wanted(size_t argc, const resp_arg *argv, const char *name, bool dflt)
{
    if (argc < 2)
        return dflt;
    for (size_t i = 1; i < argc; i++) {
        if (util_eq_nocase(argv[i].ptr, argv[i].len, name) ||
            util_eq_nocase(argv[i].ptr, argv[i].len, "all") ||
            (dflt && util_eq_nocase(argv[i].ptr, argv[i].len, "default")) ||
            util_eq_nocase(argv[i].ptr, argv[i].len, "everything"))
            return true;
    }
    return false;
}

static void info_server(buf *o)
{
    struct utsname u;
    uname(&u);
    int64_t up = (util_mono_us() - server.start_mono_us) / 1000000;
    buf_printf(o,
               "# Server\r\nredis_version:%s\r\nrbacd_version:%s\r\nredis_mode:standalone\r\n"
               "os:%s %s %s\r\narch_bits:%d\r\nprocess_id:%d\r\ntcp_port:%lld\r\n"
               "uptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\nexecutable:rbacd\r\n"
               "config_file:%s\r\nprofile:%s\r\nworker_threads:%lld\r\n\r\n",
               RBACD_REDIS_COMPAT, RBACD_VERSION, u.sysname, u.release, u.machine,
               (int)(sizeof(void *) * 8), (int)getpid(), server.conf.port, (long long)up,
               (long long)(up / 86400), server.conf.config_file ? server.conf.config_file : "",
               conf_profile_name(server.conf.profile), server.conf.worker_threads);
}

static void info_clients(buf *o)
{
    size_t blocked = 0;
    for (client *x = server.clients; x; x = x->next)
        blocked += x->state == CLIENT_BLOCKED;
    buf_printf(o,
               "# Clients\r\nconnected_clients:%zu\r\nmaxclients:%lld\r\nblocked_clients:%zu\r\n"
               "\r\n",
               server.nclients, server.conf.maxclients, blocked);
}

static void info_memory(buf *o)
{
    buf_printf(o, "# Memory\r\nused_memory:%zu\r\nused_memory_rss:%zu\r\n", mem_used_bytes(),
               mem_rss_bytes());
    if (server.model)
        buf_printf(o, "used_memory_model:%zu\r\n", cmd_rbac_model_bytes());
    buf_append_str(o, "\r\n");
}

static void info_stats(buf *o)
{
    int64_t up = (util_mono_us() - server.start_mono_us) / 1000000;
    buf_printf(
        o,
        "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
        "instantaneous_ops_per_sec:%llu\r\ntotal_net_input_bytes:%llu\r\n"
        "total_net_output_bytes:%llu\r\nrejected_connections:%llu\r\n"
        "total_error_replies:%llu\r\nauth_failures:%llu\r\nhttp_requests_refused:%llu\r\n"
        "pending_jobs:%zu\r\nuptime_seconds:%lld\r\n\r\n",
        (unsigned long long)server.stats.connections, (unsigned long long)server.stats.commands,
        (unsigned long long)server_ops_per_sec(), (unsigned long long)server.stats.net_in,
        (unsigned long long)server.stats.net_out, (unsigned long long)server.stats.rejected_conns,
        (unsigned long long)server.stats.errors, (unsigned long long)server.stats.auth_failures,
        (unsigned long long)server.stats.http_refused,
        server.workers ? worker_pool_pending(server.workers) : 0, (long long)up);
}

static void info_persistence(buf *o)
{
    buf_printf(o,
               "# Persistence\r\nloading:%d\r\nasync_loading:0\r\ndatabase_up:%d\r\n"
               "last_load_duration_ms:%lld\r\nlast_load_at_ms:%lld\r\nlast_load_error:%s\r\n"
               "\r\n",
               server.loading ? 1 : 0, worker_db_is_up() ? 1 : 0, (long long)server.last_load_ms,
               (long long)server.last_load_at_ms, util_one_line(server.last_load_error));
}

/* What standalone Redis clients read to find the node they may send commands to
 * (GLIDE refuses a node without role:master): a master with no replicas, as Redis 7
 * shows one. The replication id is random per run, as Redis's is. */
static void info_replication(buf *o)
{
    if (!server.replid[0]) {
        unsigned char id[SERVER_REPLID_LEN / 2];
        randombytes_buf(id, sizeof id);
        sodium_bin2hex(server.replid, sizeof server.replid, id, sizeof id);
    }
    buf_printf(o,
               "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
               "master_failover_state:no-failover\r\nmaster_replid:%s\r\n"
               "master_replid2:0000000000000000000000000000000000000000\r\n"
               "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n"
               "repl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\n"
               "repl_backlog_histlen:0\r\n\r\n",
               server.replid);
}

static double tv_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* CPU time from getrusage(2): the process, its children (none), and the loop thread,
 * which is the thread INFO runs on. */
static void info_cpu(buf *o)
{
    struct rusage self = {0}, children = {0}, loop = {0};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &loop);
    buf_printf(o,
               "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\n"
               "used_cpu_sys_children:%.6f\r\nused_cpu_user_children:%.6f\r\n"
               "used_cpu_sys_main_thread:%.6f\r\nused_cpu_user_main_thread:%.6f\r\n\r\n",
               tv_seconds(self.ru_stime), tv_seconds(self.ru_utime), tv_seconds(children.ru_stime),
               tv_seconds(children.ru_utime), tv_seconds(loop.ru_stime), tv_seconds(loop.ru_utime));
}

static void info_command_line(buf *o, const command *cmd)
{
    if (cmd->stats.calls || cmd->stats.rejected_calls)
        buf_printf(o,
                   "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                   "failed_calls=%llu\r\n",
                   cmd->fullname, (unsigned long long)cmd->stats.calls,
                   (unsigned long long)cmd->stats.usec,
                   cmd->stats.calls ? (double)cmd->stats.usec / (double)cmd->stats.calls : 0.0,
                   (unsigned long long)cmd->stats.rejected_calls,
                   (unsigned long long)cmd->stats.failed_calls);
}

/* Redis's errorstats: error replies by prefix, in the order each was first seen. */
static void info_errorstats(buf *o)
{
    buf_append_str(o, "# Errorstats\r\n");
    for (size_t i = 0; i < server.stats.nerrorstats; i++)
        buf_printf(o, "errorstat_%s:count=%llu\r\n", server.stats.errorstats[i].prefix,
                   (unsigned long long)server.stats.errorstats[i].count);
    buf_append_str(o, "\r\n");
}

static void info_latency_line(buf *o, const command *cmd)
{
    if (cmd->stats.calls)
        buf_printf(o, "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n", cmd->fullname,
                   command_percentile(&cmd->stats, 50), command_percentile(&cmd->stats, 99),
                   command_percentile(&cmd->stats, 99.9));
}

/* One INFO section with a line per command and subcommand. */
static void info_per_command(buf *o, const char *title, void (*line)(buf *, const command *))
{
    buf_printf(o, "# %s\r\n", title);
    for (size_t i = 0; i < command_count(); i++) {
        const command *cmd = command_at(i);
        line(o, cmd);
        for (const command *s = cmd->subcommands; s && s->name; s++)
            if (command_in_profile(s))
                line(o, s);
    }
    buf_append_str(o, "\r\n");
}

static void info_keyspace(buf *o)
{
    buf_append_str(o, "# Keyspace\r\n");
    if (server.model)
        buf_printf(o, "db0:keys=%zu,expires=0,avg_ttl=0\r\n", cmd_rbac_user_count());
    buf_append_str(o, "\r\n");
}

static void infoCommand(client *c, size_t argc, const resp_arg *argv)
{
    buf o;
    buf_init(&o);
    if (section_wanted(argc, argv, "server", true))
        info_server(&o);
    if (section_wanted(argc, argv, "clients", true))
        info_clients(&o);
    if (section_wanted(argc, argv, "memory", true))
        info_memory(&o);
    if (section_wanted(argc, argv, "persistence", true))
        info_persistence(&o);
    if (section_wanted(argc, argv, "stats", true))
        info_stats(&o);
    if (section_wanted(argc, argv, "replication", true))
        info_replication(&o);
    if (section_wanted(argc, argv, "cpu", true))
        info_cpu(&o);
    for (const module *const *m = module_list; *m; m++)
        if ((*m)->info_section && section_wanted(argc, argv, (*m)->info_section, true))
            module_info(*m, &o);
    if (section_wanted(argc, argv, "commandstats", false))
        info_per_command(&o, "Commandstats", info_command_line);
    if (section_wanted(argc, argv, "errorstats", true))
        info_errorstats(&o);
    if (section_wanted(argc, argv, "latencystats", false))
        info_per_command(&o, "Latencystats", info_latency_line);
    if (section_wanted(argc, argv, "keyspace", true))
        info_keyspace(&o);
    if (o.len >= 2)
        o.len -= 2; /* no blank line after the last section */
    resp_verbatim(&c->out, c->proto, o.data ? o.data : "", o.len);
    buf_free(&o);
}

/* ---- CONFIG ---- */

typedef struct config_get_ctx {
    client *c;
    buf *tmp;                          /* the reply body, built first so its length is known */
    size_t n;                          /* pairs emitted */
    const char *seen[CONFIG_KEYS_MAX]; /* names emitted (conf.c owns the strings) */
    size_t nseen;                      /* entries in seen */
} config_get_ctx;

static void config_emit(void *arg, const char *name, const char *value)
{
    config_get_ctx *g = arg;
    for (size_t i = 0; i < g->nseen; i++)
        if (g->seen[i] == name || strcmp(g->seen[i], name) == 0)
            return; /* a key matched by several patterns is listed once */
    if (g->nseen < CONFIG_KEYS_MAX)
        g->seen[g->nseen++] = name;
    resp_bulk_str(g->tmp, name);
    resp_bulk_str(g->tmp, value);
    g->n++;
}

static void configGetCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (argc - 2 > MAX_CONFIG_PATTERNS) {
        resp_error(&c->out, "ERR too many patterns (at most %d)", MAX_CONFIG_PATTERNS);
        return;
    }
    buf tmp;
    buf_init(&tmp);
    config_get_ctx g = {.c = c, .tmp = &tmp};
    for (size_t i = 2; i < argc; i++)
        conf_get(&server.conf, argv[i].ptr, argv[i].len, config_emit, &g);
    resp_map(&c->out, c->proto, g.n);
    buf_append(&c->out, tmp.data, tmp.len);
    buf_free(&tmp);
}

/* Applies every name/value pair of CONFIG SET to conf; stops at the first refusal with
 * the error reply written. On the live configuration (live), each key's apply hook
 * then makes the running server follow it. */
static bool config_set_pairs(client *c, rbacd_conf *conf, size_t argc, const resp_arg *argv,
                             bool live)
{
    for (size_t i = 2; i + 1 < argc; i += 2) {
        char name[64], err[256];
        if (memchr(argv[i + 1].ptr, '\0', argv[i + 1].len)) {
            resp_error(&c->out, "ERR CONFIG SET failed - values cannot contain NUL bytes");
            return false;
        }
        char *value = mem_strndup(argv[i + 1].ptr, argv[i + 1].len);
        snprintf(name, sizeof name, "%.*s", (int)(argv[i].len > 63 ? 63 : argv[i].len),
                 argv[i].ptr);
        bool ok = conf_set_runtime(conf, name, value, err, sizeof err);
        mem_free(value);
        if (!ok) {
            resp_error(&c->out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                       name, err);
            return false;
        }
        if (live)
            conf_apply_runtime(conf, name);
    }
    return true;
}

static void configSetCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (argc % 2 != 0) {
        resp_error(&c->out, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    /* All or nothing: every pair is checked on a scratch configuration first. */
    rbacd_conf scratch;
    conf_init(&scratch);
    bool ok = config_set_pairs(c, &scratch, argc, argv, false);
    conf_free(&scratch);
    if (!ok)
        return;
    if (config_set_pairs(c, &server.conf, argc, argv, true))
        resp_simple(&c->out, "OK");
}

static void configResetstatCommand(client *c, size_t argc, const resp_arg *argv)
{
    memset(&server.stats, 0, sizeof server.stats);
    for (size_t i = 0; i < command_count(); i++) {
        command *cmd = command_at(i);
        memset(&cmd->stats, 0, sizeof cmd->stats);
        for (command *s = cmd->subcommands; s && s->name; s++)
            memset(&s->stats, 0, sizeof s->stats);
    }
    resp_simple(&c->out, "OK");
}

static command config_subcommands[] = {
    COMMAND_ROW("get", 3, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, configGetCommand,
                "Returns the effective values of configuration parameters.",
                "parameter [parameter ...]", NULL),
    COMMAND_ROW("set", 4, -1, CMD_LOADING | CMD_SECRET, ACL_CAT_ADMIN, PROF_ALL, configSetCommand,
                "Sets configuration parameters in-flight.", "parameter value [parameter value ...]",
                NULL),
    COMMAND_ROW("resetstat", 2, 2, CMD_LOADING, ACL_CAT_ADMIN, PROF_ALL, configResetstatCommand,
                "Resets the server's statistics.", "", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

/* ---- SLOWLOG ---- */

static void slowlogGetCommand(client *c, size_t argc, const resp_arg *argv)
{
    long long count = SLOWLOG_GET_DEFAULT;
    if (argc == 3 && (!util_parse_ll(argv[2].ptr, argv[2].len, &count) || count < -1)) {
        resp_error(&c->out, "ERR count should be greater than or equal to -1");
        return;
    }
    size_t n = count < 0 || (size_t)count > server.slowlog_len ? server.slowlog_len : (size_t)count;
    resp_array(&c->out, n);
    size_t cap = (size_t)server.conf.slowlog_max_len;
    for (size_t i = 0; i < n; i++) {
        /* newest first */
        size_t idx = (server.slowlog_head + cap - 1 - i) % cap;
        const slowlog_entry *e = &server.slowlog[idx];
        resp_array(&c->out, 6);
        resp_int(&c->out, (long long)e->id);
        resp_int(&c->out, e->time_s);
        resp_int(&c->out, e->usec);
        resp_array(&c->out, e->argc);
        for (size_t a = 0; a < e->argc; a++)
            resp_bulk_str(&c->out, e->argv[a]);
        resp_bulk_str(&c->out, e->addr);
        resp_bulk_str(&c->out, e->name);
    }
}

static void slowlogLenCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_int(&c->out, (long long)server.slowlog_len);
}

static void slowlogResetCommand(client *c, size_t argc, const resp_arg *argv)
{
    server_slowlog_record(NULL, 0, NULL, 0, 0); /* NULL client = clear */
    resp_simple(&c->out, "OK");
}

static command slowlog_subcommands[] = {
    COMMAND_ROW("get", 2, 3, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, slowlogGetCommand,
                "Returns the slow log's entries.", "[count]", NULL),
    COMMAND_ROW("len", 2, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                slowlogLenCommand, "Returns the number of entries in the slow log.", "", NULL),
    COMMAND_ROW("reset", 2, 2, CMD_LOADING, ACL_CAT_ADMIN, PROF_ALL, slowlogResetCommand,
                "Clears all entries from the slow log.", "", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

/* ---- MONITOR ---- */

static void monitorCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_simple(&c->out, "OK");
    monitor_start(c);
}

/* ---- SHUTDOWN ---- */

static void shutdownCommand(client *c, size_t argc, const resp_arg *argv)
{
    for (size_t i = 1; i < argc; i++) {
        if (!util_eq_nocase(argv[i].ptr, argv[i].len, "nosave") &&
            !util_eq_nocase(argv[i].ptr, argv[i].len, "save") &&
            !util_eq_nocase(argv[i].ptr, argv[i].len, "now") &&
            !util_eq_nocase(argv[i].ptr, argv[i].len, "force")) {
            command_reply_syntax(c);
            return;
        }
    }
    log_notice("SHUTDOWN requested by client id=%llu addr=%s user=%s", (unsigned long long)c->id,
               c->addr, c->user);
    client_close_after_reply(c);
    server_shutdown();
}

command cmd_server_table[] = {
    COMMAND_ROW("ping", 1, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL, pingCommand,
                "Returns the server's liveliness response.", "[message]", NULL),
    COMMAND_ROW("echo", 2, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL, echoCommand,
                "Returns the given string.", "message", NULL),
    COMMAND_ROW("quit", 1, -1, CMD_NOAUTH | CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                quitCommand, "Closes the connection.", "", NULL),
    COMMAND_ROW("reset", 1, 1, CMD_NOAUTH | CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL,
                resetCommand, "Resets the connection.", "", NULL),
    COMMAND_ROW("select", 2, 2, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL, selectCommand,
                "Changes the selected database (only 0 exists).", "index", NULL),
    COMMAND_ROW("auth", 2, 3, CMD_NOAUTH | CMD_LOADING | CMD_FAST | CMD_SECRET, ACL_CAT_CONNECTION,
                PROF_ALL, authCommand, "Authenticates the connection.", "[username] password",
                NULL),
    COMMAND_ROW("hello", 1, -1, CMD_NOAUTH | CMD_LOADING | CMD_FAST | CMD_SECRET,
                ACL_CAT_CONNECTION, PROF_ALL, helloCommand, "Handshakes with the server.",
                "[protover [AUTH username password] [SETNAME clientname]]", NULL),
    COMMAND_ROW("client", 2, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, NULL,
                "A container for client connection commands.", "", client_subcommands),
    COMMAND_ROW("command", 1, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, commandCommand,
                "Returns detailed information about all commands.", "", command_subcommands),
    COMMAND_ROW("info", 1, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, infoCommand,
                "Returns information and statistics about the server.", "[section ...]", NULL),
    COMMAND_ROW("config", 2, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, NULL,
                "A container for server configuration commands.", "", config_subcommands),
    COMMAND_ROW("time", 1, 1, CMD_LOADING | CMD_FAST, ACL_CAT_CONNECTION, PROF_ALL, timeCommand,
                "Returns the server time.", "", NULL),
    COMMAND_ROW("slowlog", 2, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, NULL,
                "A container for slow log commands.", "", slowlog_subcommands),
    COMMAND_ROW("monitor", 1, 1, CMD_LOADING, ACL_CAT_ADMIN, PROF_ALL, monitorCommand,
                "Streams every command the server runs (secret arguments redacted).", "", NULL),
    COMMAND_ROW("shutdown", 1, -1, CMD_LOADING, ACL_CAT_ADMIN, PROF_ALL, shutdownCommand,
                "Stops the server.", "[NOSAVE|SAVE] [NOW] [FORCE]", NULL),
    COMMAND_END,
};
