/*
 * command_fuzz — libFuzzer target for command dispatch: RESP requests through the
 * parser and command_process() on a client without a socket (as tests/unit/command_test.c
 * runs them), over a fixed model built once. Built by CMake with RBACD_FUZZ (see
 * resp_fuzz.c for the commands); seeds in tests/fuzz/command_fuzz_seeds.
 *
 * Input: one flags byte, then the bytes a client sends. The flags pick the profile (and
 * its model: bitenant or mpbackend), whether the client has authenticated (requirepass
 * is set) and with which role, RESP2 or RESP3, whether the first load is still running,
 * and whether every command goes to the slowlog. Requests are cut and run as client.c
 * does: with its limits before and after AUTH, until the input ends, a protocol error,
 * or a command that closes the connection (QUIT, SHUTDOWN, CLIENT KILL of itself).
 *
 * Checked after every command: it appended exactly one reply (none only when it closes
 * the connection); every reply is well-formed and complete; a RESP2 client never gets a
 * RESP3 type; the client never blocks (see below); ASan, UBSan and LeakSanitizer
 * watch everything else. State a command may change (the configuration through CONFIG
 * SET, the client's name and protocol, SHUTDOWN's flag, MONITOR and CLIENT TRACKING, as
 * client_free() ends them) is reset before each input.
 *
 * Nothing here has a worker pool or a database, so the handlers of commands that hand
 * work to them are replaced by a stub that replies "-ERR not fuzzed" (the checks that
 * command_process() makes before a handler still run for them):
 *   RELOAD          a model load on the worker pool, waited for;
 *   WAITREV         waits for the change-log follower (the sync module is not started);
 *   SESSION *       the session store, its lane and the password checkers are not
 *                   started; every subcommand but HELP and mpbackend's LOGIN (an error)
 *                   would queue an operation for the database.
 * The write commands (ROLE, USER, TENANT, BIND, UNBIND) run: their arguments are parsed
 * and checked, then, with no sync module, they answer -ERR before any job is submitted.
 */
#include "auth.h"
#include "buf.h"
#include "client.h"
#include "command.h"
#include "conf.h"
#include "idmap.h"
#include "log.h"
#include "mem.h"
#include "monitor.h"
#include "rbac.h"
#include "resp.h"
#include "server.h"
#include "tracking.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "command_fuzz: invariant failed at line %d: %s\n", __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* client.c's limits (kept in step by hand: they are private to it). */
#define PREAUTH_MAX_ARGS 16
#define PREAUTH_MAX_BULK 4096
#define MAX_ARGS         (1024 * 1024)
#define MAX_INLINE       (64 * 1024)

#define REPLY_MAX_DEPTH 16 /* nesting of aggregates a reply may have */
#define PASSWORD        "fuzz-secret"
#define DAY_MS          86400000LL

/* The flags byte. */
#define F_MPBACKEND 0x01 /* profile mpbackend (else bitenant) */
#define F_AUTHED    0x02 /* the client has authenticated */
#define F_CHECK     0x04 /* ... with role check (else admin) */
#define F_RESP3     0x08 /* HELLO 3 was sent */
#define F_LOADING   0x10 /* the first load has not finished */
#define F_SLOWLOG   0x20 /* slowlog-log-slower-than 0: every command is recorded */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rbac_model *bitenant_model, *mp_model;
static client fake;
static bool trace; /* COMMAND_FUZZ_TRACE=1: each request and its reply to stderr */

/* ---- the models ---- */

static rbac_model *build_bitenant(int64_t now)
{
    rbac_model *m = rbac_model_new();
    rbac_add_tenant(m, 1, "acme", 1);
    rbac_add_tenant(m, 2, "frozen", 0);
    rbac_add_tenant(m, 3, "oldco", 1);
    rbac_add_tenant(m, UINT64_MAX, "max", 1);
    rbac_add_menu(m, 100, 0, 1, "System", NULL, "/system", 1, 1);
    rbac_add_menu(m, 101, 100, 2, "Users", "sys:user:list", "/system/users", 2, 1);
    rbac_add_menu(m, 102, 101, 3, "Add", "sys:user:add", NULL, 3, 1);
    rbac_add_menu(m, 103, 101, 3, "Delete", "sys:user:del", NULL, 4, 1);
    rbac_add_menu(m, 200, 0, 1, "Labs", NULL, "/labs", 5, 0); /* disabled directory */
    rbac_add_menu(m, 201, 200, 2, "Forecast", "lab:forecast", "/labs/f", 1, 1);
    rbac_add_menu(m, 300, 0, 2, "Orders", "order:list", "/orders", 6, 1);
    rbac_add_package(m, 10, "all", 1);
    rbac_add_package(m, 11, "small", 1);
    static const uint64_t all[] = {100, 101, 102, 103, 200, 201, 300};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        rbac_add_package_menu(m, 10, all[i]);
    rbac_add_package_menu(m, 11, 300);
    rbac_add_subscription(m, 1, 1, 10, now - DAY_MS, now + DAY_MS, 1);
    rbac_add_subscription(m, 2, 2, 10, now - DAY_MS, now + DAY_MS, 1);
    rbac_add_subscription(m, 3, 3, 11, now - 3 * DAY_MS, now - DAY_MS, 1); /* expired */
    rbac_add_subscription(m, 4, UINT64_MAX, 11, INT64_MIN, INT64_MAX, 1);
    rbac_add_role(m, 1, 1, "ops", 1);
    rbac_add_role(m, 2, 1, "viewer", 1);
    rbac_add_role(m, 3, 1, "off", 0);
    rbac_add_role(m, 4, 3, "staff", 1);
    rbac_add_role_menu(m, 1, 102);
    rbac_add_role_menu(m, 1, 201);
    rbac_add_role_menu(m, 2, 101);
    rbac_add_role_menu(m, 2, 300);
    rbac_add_role_menu(m, 3, 103);
    rbac_add_role_menu(m, 4, 300);
    rbac_add_user(m, 1, 1, 1, true); /* admin */
    rbac_add_user(m, 2, 1, 1, false);
    rbac_add_user(m, 3, 1, 0, false); /* disabled */
    rbac_add_user(m, 4, 2, 1, false); /* in the disabled tenant */
    rbac_add_user(m, 5, 3, 1, false); /* expired subscription */
    rbac_add_user(m, UINT64_MAX, UINT64_MAX, 1, false);
    rbac_add_user_role(m, 2, 1);
    rbac_add_user_role(m, 2, 2);
    rbac_add_user_role(m, 2, 3);
    rbac_add_user_role(m, 3, 2);
    rbac_add_user_role(m, 5, 4);
    rbac_add_user_store(m, 2, 1001);
    rbac_add_user_store(m, 3, 1002);
    rbac_add_user_store(m, UINT64_MAX, UINT64_MAX);
    rbac_add_delegate(m, 2, 3);
    rbac_add_delegate(m, 3, 2);
    rbac_model_finish(m);
    return m;
}

static void scoped(rbac_model *m, uint64_t id, const char *name, int scope, const char *perms)
{
    rbac_add_scoped_role(m, id, name, scope, perms, strlen(perms));
}

static void grant(rbac_model *m, uint64_t user, int kind, const char *domain, uint64_t role)
{
    rbac_add_grant(m, user, kind, domain, strlen(domain), role);
}

static rbac_model *build_mpbackend(void)
{
    rbac_model *m = rbac_model_new();
    rbac_domain_prepare(m);
    scoped(m, 1, "admin", RBAC_SCOPE_ADMIN, "user:read, user:write,,app:*");
    scoped(m, 2, "dev", RBAC_SCOPE_DEVELOPER, "app:create");
    scoped(m, 3, "app", RBAC_SCOPE_APPLICATION, "flag:read,flag:write");
    rbac_add_user(m, 1, 0, 1, false);
    rbac_add_user(m, 2, 0, 1, false);
    rbac_add_user(m, UINT64_MAX, 0, 1, false);
    grant(m, 1, RBAC_SCOPE_ADMIN, "admin", 1);
    grant(m, 1, RBAC_SCOPE_DEVELOPER, "developer:7", 2);
    grant(m, 2, RBAC_SCOPE_APPLICATION, "application:com.example", 3);
    grant(m, 2, RBAC_SCOPE_ADMIN, "admin", 2); /* scope mismatch: does not count */
    grant(m, UINT64_MAX, RBAC_SCOPE_DEVELOPER, "developer:18446744073709551615", 2);
    rbac_add_login(m, 1, 1, "email", 5, "a@example.com", 13);
    rbac_add_login(m, 2, 2, "okta", 4, "k", 1);
    rbac_add_flag(m, 1, "camera", "[\"front\"]");
    rbac_add_flag(m, 2, "bluetooth", NULL);
    rbac_add_flag_binding(m, 1, "com.example", 11, 1);
    rbac_add_flag_binding(m, 2, "com.example", 11, 2);
    rbac_model_finish(m);
    return m;
}

/* ---- commands left out ---- */

static void not_fuzzed(client *c, size_t argc, const resp_arg *argv)
{
    resp_error(&c->out, "ERR not fuzzed");
}

static void stub(const char *name, const char *sub, unsigned profiles)
{
    command *cmd = command_lookup(name, strlen(name));
    FUZZ_CHECK(cmd != NULL);
    if (!sub) {
        cmd->proc = not_fuzzed;
        return;
    }
    for (command *s = cmd->subcommands; s && s->name; s++)
        if (!strcmp(s->name, sub) && (s->profiles & profiles))
            s->proc = not_fuzzed;
}

static void stub_excluded(void)
{
    stub("reload", NULL, 0);
    stub("waitrev", NULL, 0);
    static const char *const session_subs[] = {"create", "get",       "touch", "canmenu", "menus",
                                               "revoke", "revokeall", "list",  "can"};
    for (size_t i = 0; i < sizeof session_subs / sizeof session_subs[0]; i++)
        stub("session", session_subs[i], PROF_ALL);
    stub("session", "login", PROF_BITENANT); /* mpbackend's LOGIN only replies an error */
}

/* ---- replies ---- */

static bool resp3_type(char t)
{
    return strchr("%~_#,(=!>|", t) != NULL;
}

/* The length of the line at p (up to "\r\n"), or -1 when there is none in [p, end). */
static long line_len(const char *p, const char *end)
{
    for (const char *q = p; q + 1 < end; q++) {
        if (q[0] == '\r' && q[1] == '\n')
            return (long)(q - p);
        if (*q == '\r' || *q == '\n')
            return -1; /* a bare CR or LF inside a line */
    }
    return -1;
}

static bool parse_ll(const char *p, long n, long long *out)
{
    if (n <= 0 || n > 20)
        return false;
    char tmp[24];
    memcpy(tmp, p, (size_t)n);
    tmp[n] = '\0';
    char *e;
    *out = strtoll(tmp, &e, 10);
    return *e == '\0';
}

/* One complete, well-formed reply at *pp; moves *pp past it. */
static bool reply_ok(const char **pp, const char *end, int proto, int depth)
{
    const char *p = *pp;
    if (p >= end || depth > REPLY_MAX_DEPTH)
        return false;
    char t = *p++;
    if (proto == 2 && resp3_type(t))
        return false;
    long n = line_len(p, end);
    if (n < 0)
        return false;
    const char *body = p;
    p += n + 2;
    long long v = 0;
    switch (t) {
    case '+':
    case '-':
        break;
    case ':':
    case '(':
        if (!parse_ll(body, n, &v) && t == ':')
            return false;
        break;
    case '_':
        if (n != 0)
            return false;
        break;
    case '#':
        if (n != 1 || (body[0] != 't' && body[0] != 'f'))
            return false;
        break;
    case ',':
        if (n == 0)
            return false;
        break;
    case '$':
    case '=':
    case '!':
        if (!parse_ll(body, n, &v) || v < -1 || (v == -1 && t != '$'))
            return false;
        if (v >= 0) {
            if (end - p < v + 2 || p[v] != '\r' || p[v + 1] != '\n')
                return false;
            if (t == '=' && (v < 4 || p[3] != ':'))
                return false;
            p += v + 2;
        }
        break;
    case '*':
    case '~':
    case '%':
    case '>':
    case '|':
        if (!parse_ll(body, n, &v) || v < (t == '*' ? -1 : 0))
            return false;
        for (long long i = 0; i < (t == '%' || t == '|' ? 2 * v : v); i++)
            if (!reply_ok(&p, end, proto, depth + 1))
                return false;
        break;
    default:
        return false;
    }
    *pp = p;
    return true;
}

/* The number of replies in out[from..), each checked; aborts on a malformed one. */
static size_t count_replies(const buf *out, size_t from, int proto)
{
    if (from == out->len)
        return 0;
    const char *p = out->data + from, *end = out->data + out->len;
    size_t n = 0;
    while (p < end) {
        if (!reply_ok(&p, end, proto, 0)) {
            fprintf(stderr, "command_fuzz: malformed reply: %.*s\n",
                    (int)(end - (out->data + from) > 300 ? 300 : end - (out->data + from)),
                    out->data + from);
            FUZZ_CHECK(0);
        }
        n++;
    }
    return n;
}

/* ---- per input ---- */

static void reset_server(uint8_t flags)
{
    conf_free(&server.conf);
    conf_init(&server.conf);
    char err[256];
    FUZZ_CHECK(conf_set_runtime(&server.conf, "requirepass", PASSWORD, err, sizeof err));
    server.conf.profile = flags & F_MPBACKEND ? CONF_PROFILE_MPBACKEND : CONF_PROFILE_BITENANT;
    server.conf.slowlog_log_slower_than = flags & F_SLOWLOG ? 0 : -1;
    server.conf.loglevel = LOG_LVL_WARNING;
    static const char *const hooked[] = {"requirepass", "loglevel", "slowlog-max-len"};
    for (size_t i = 0; i < sizeof hooked / sizeof hooked[0]; i++)
        conf_apply_runtime(&server.conf, hooked[i]);
    server.model = flags & F_MPBACKEND ? mp_model : bitenant_model;
    server.loading = (flags & F_LOADING) != 0;
    server.shutting_down = false;
}

static void reset_client(uint8_t flags)
{
    /* As client_free(): what the last input left watching or tracking ends with it. */
    tracking_client_gone(&fake);
    monitor_stop(&fake);
    buf_free(&fake.out);
    resp_request_free(&fake.req);
    mem_free(fake.name);
    mem_free(fake.lib_name);
    mem_free(fake.lib_ver);
    uint64_t id = fake.id;
    memset(&fake, 0, sizeof fake);
    fake.id = id;
    fake.fd = -1;
    fake.kind = CLIENT_TCP;
    fake.state = CLIENT_READY;
    fake.proto = flags & F_RESP3 ? 3 : 2;
    fake.loopback = true;
    snprintf(fake.addr, sizeof fake.addr, "127.0.0.1:40000");
    snprintf(fake.laddr, sizeof fake.laddr, "127.0.0.1:6380");
    snprintf(fake.user, sizeof fake.user, "default");
    fake.authenticated = (flags & F_AUTHED) != 0;
    fake.role = flags & F_CHECK ? CONF_ROLE_CHECK : CONF_ROLE_ADMIN;
    fake.created_ms = fake.last_ms = 1;
    buf_init(&fake.in);
    buf_init(&fake.out);
    resp_request_init(&fake.req);
    server.clients = &fake;
    server.nclients = 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (sodium_init() < 0)
        abort();
    conf_init(&server.conf);
    if (!log_open("/dev/null"))
        abort();
    char err[256];
    if (!auth_init(&server.conf, err, sizeof err))
        abort();
    evthread_use_pthreads();
    server.base = event_base_new(); /* SHUTDOWN asks it to stop */
    idmap_init(&server.clients_by_id);
    command_init();
    stub_excluded();
    int64_t now = (int64_t)time(NULL) * 1000;
    bitenant_model = build_bitenant(now);
    mp_model = build_mpbackend();
    trace = getenv("COMMAND_FUZZ_TRACE") != NULL;
    fake.id = ++server.next_client_id;
    idmap_put(&server.clients_by_id, fake.id, (uint64_t)(uintptr_t)&fake);
    buf_init(&fake.out);
    resp_request_init(&fake.req);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    reset_server(flags);
    reset_client(flags);
    const char *in = (const char *)data + 1;
    size_t len = size - 1, pos = 0;
    while (pos < len && fake.state == CLIENT_READY) {
        resp_limits lim;
        if (fake.authenticated) {
            lim.max_args = MAX_ARGS;
            lim.max_bulk = (size_t)server.conf.proto_max_bulk_len;
            lim.max_inline = MAX_INLINE;
        } else {
            lim.max_args = PREAUTH_MAX_ARGS;
            lim.max_bulk = PREAUTH_MAX_BULK;
            lim.max_inline = PREAUTH_MAX_BULK;
        }
        size_t used = 0;
        if (resp_parse(&fake.req, in + pos, len - pos, &lim, &used) != RESP_OK) {
            if (trace)
                fprintf(stderr, "(input ends, or a protocol error: %s)\n",
                        fake.req.error ? fake.req.error : "incomplete");
            break; /* incomplete (the input ends) or a protocol error (client.c closes) */
        }
        if (fake.req.argc > 0) {
            size_t before = fake.out.len;
            int proto = fake.proto;
            command_batch_begin();
            command_process(&fake);
            FUZZ_CHECK(fake.state != CLIENT_BLOCKED); /* a command left out above waits */
            if (fake.proto > proto)
                proto = fake.proto; /* HELLO 3 answers in RESP3 */
            if (trace)
                fprintf(stderr, "> %.*s (%zu args)\n< %.*s\n", (int)fake.req.argv[0].len,
                        fake.req.argv[0].ptr, fake.req.argc,
                        (int)(fake.out.len - before > 200 ? 200 : fake.out.len - before),
                        fake.out.data ? fake.out.data + before : "");
            size_t n = count_replies(&fake.out, before, proto);
            if (n != 1 && !(n == 0 && fake.state == CLIENT_CLOSING)) {
                fprintf(stderr, "command_fuzz: %zu replies to '%.*s'\n", n,
                        (int)fake.req.argv[0].len, fake.req.argv[0].ptr);
                FUZZ_CHECK(0);
            }
        }
        pos += used;
    }
    return 0;
}
