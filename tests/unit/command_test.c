/*
 * Command dispatch tests: command_process() on a client that has no socket, so each
 * check it makes before a handler runs can be seen in the bytes it replies — word
 * bounds (least and most), unknown commands and subcommands, NOAUTH, NOPERM, the
 * profile gate and its place before LOADING — and the replies generated from the rows
 * themselves: HELP of every container, COMMAND LIST FILTERBY, the arity COMMAND INFO
 * reports. Only handlers that touch nothing but the reply run here (PING, DBSIZE
 * without a model, COMMAND, HELP); nothing blocks.
 */
#include "auth.h"
#include "buf.h"
#include "client.h"
#include "command.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "testing.h"
#include "util.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORDS 16 /* words one test request holds at most */

static client fake; /* the client every request comes from */

/* Runs one request given as NULL-terminated words; returns what was replied (valid
 * until the next request). */
static const char *run_words(const char *first, ...)
{
    static resp_arg argv[MAX_WORDS];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w && n < MAX_WORDS; w = va_arg(ap, const char *)) {
        argv[n].ptr = w;
        argv[n].len = strlen(w);
        n++;
    }
    va_end(ap);
    fake.req.argv = argv;
    fake.req.argc = n;
    buf_clear(&fake.out);
    command_batch_begin();
    command_process(&fake);
    return fake.out.data ? fake.out.data : "";
}
#define RUN(...) run_words(__VA_ARGS__, (const char *)NULL)

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Back to an admin, authenticated, profile bitenant, loaded. */
static void reset(void)
{
    fake.authenticated = true;
    fake.role = CONF_ROLE_ADMIN;
    snprintf(fake.user, sizeof fake.user, "default");
    server.conf.profile = CONF_PROFILE_BITENANT;
    server.loading = false;
}

static const command *sub(const char *container, const char *name)
{
    const command *cmd = command_lookup(container, strlen(container));
    return cmd ? command_lookup_sub(cmd, name, strlen(name)) : NULL;
}

/* ---- word bounds ---- */

static void test_word_bounds(void)
{
    reset();
    CHECK_EQ_STR(RUN("PING"), "+PONG\r\n");
    CHECK_EQ_STR(RUN("ping", "hi"), "$2\r\nhi\r\n");
    CHECK_EQ_STR(RUN("PING", "a", "b"), "-ERR wrong number of arguments for 'ping' command\r\n");
    CHECK_EQ_STR(RUN("RELOAD", "1", "2"),
                 "-ERR wrong number of arguments for 'reload' command\r\n");
    CHECK_EQ_STR(RUN("CANMENU", "1", "1"),
                 "-ERR wrong number of arguments for 'canmenu' command\r\n");
    CHECK_EQ_STR(RUN("MENUS", "1", "1", "CODES", "x"),
                 "-ERR wrong number of arguments for 'menus' command\r\n");
    /* A container without a handler of its own, bare; a subcommand's own bounds. */
    CHECK_EQ_STR(RUN("CLIENT"), "-ERR wrong number of arguments for 'client' command\r\n");
    CHECK_EQ_STR(RUN("CLIENT", "ID", "x"),
                 "-ERR wrong number of arguments for 'client|id' command\r\n");
    CHECK_EQ_STR(RUN("COMMAND", "COUNT", "extra"),
                 "-ERR wrong number of arguments for 'command|count' command\r\n");
    CHECK_EQ_STR(RUN("SESSION", "TOUCH", "t", "TTL", "5", "x"),
                 "-ERR wrong number of arguments for 'session|touch' command\r\n");
    /* A rejected call is counted as such and the handler does not run. */
    command *ping = command_lookup("ping", 4);
    uint64_t calls = ping->stats.calls, rejected = ping->stats.rejected_calls;
    RUN("PING", "a", "b");
    CHECK_EQ_INT(ping->stats.calls, calls);
    CHECK_EQ_INT(ping->stats.rejected_calls, rejected + 1);
}

static void test_arity_reported_from_bounds(void)
{
    CHECK_EQ_INT(command_arity(command_lookup("ping", 4)), -1);
    CHECK_EQ_INT(command_arity(command_lookup("echo", 4)), 2);
    CHECK_EQ_INT(command_arity(command_lookup("menus", 5)), -3);
    CHECK_EQ_INT(command_arity(command_lookup("client", 6)), -2);
    CHECK_EQ_INT(command_arity(sub("session", "touch")), -3);
    CHECK_EQ_INT(command_arity(sub("command", "count")), 2);
}

/* ---- lookup ---- */

static void test_unknown_command_and_subcommand(void)
{
    reset();
    CHECK(starts_with(RUN("NOSUCH", "a"), "-ERR unknown command 'NOSUCH', with args beginning "
                                          "with: 'a' "));
    CHECK_EQ_STR(RUN("CLIENT", "FROB"), "-ERR unknown subcommand 'FROB'. Try CLIENT HELP.\r\n");
    CHECK_EQ_STR(RUN("config", "frob", "x"),
                 "-ERR unknown subcommand 'frob'. Try CONFIG HELP.\r\n");
    CHECK_EQ_STR(RUN("TENANT", "frob"), "-ERR unknown subcommand 'frob'. Try TENANT HELP.\r\n");
    /* Subcommands are found in any case. */
    CHECK(starts_with(RUN("client", "help"), "*"));
    CHECK(sub("CLIENT", "Kill") == sub("client", "kill"));
}

/* ---- NOAUTH, NOPERM ---- */

static void test_noauth(void)
{
    reset();
    fake.authenticated = false;
    CHECK_EQ_STR(RUN("PING"), "-NOAUTH Authentication required.\r\n");
    CHECK_EQ_STR(RUN("CLIENT", "HELP"), "-NOAUTH Authentication required.\r\n");
    /* Arity comes first, and a CMD_NOAUTH row runs. */
    CHECK_EQ_STR(RUN("ECHO"), "-ERR wrong number of arguments for 'echo' command\r\n");
    CHECK_EQ_STR(RUN("RESET"), "+RESET\r\n");
    CHECK(!fake.authenticated);
}

static void test_noperm(void)
{
    reset();
    fake.role = CONF_ROLE_CHECK;
    snprintf(fake.user, sizeof fake.user, "checker");
    CHECK_EQ_STR(RUN("SHUTDOWN"),
                 "-NOPERM User checker has no permissions to run the 'shutdown' command\r\n");
    CHECK_EQ_STR(RUN("CLIENT", "KILL", "ID", "1"),
                 "-NOPERM User checker has no permissions to run the 'client|kill' command\r\n");
    CHECK_EQ_STR(RUN("CONFIG", "SET", "timeout", "1"),
                 "-NOPERM User checker has no permissions to run the 'config|set' command\r\n");
    CHECK_EQ_STR(RUN("SESSION", "CREATE", "1", "1"),
                 "-NOPERM User checker has no permissions to run the 'session|create' command\r\n");
    /* HELP says what exists: open to every role, even for an admin container. */
    CHECK(starts_with(RUN("USER", "HELP"), "*"));
    CHECK_EQ_STR(RUN("PING"), "+PONG\r\n");
}

/* ---- the profile gate ---- */

static void test_profile_gate(void)
{
    reset();
    server.conf.profile = CONF_PROFILE_MPBACKEND;
    server.loading = true;
    CHECK_EQ_STR(RUN("CANMENU", "1", "1", "1"), "-ERR CANMENU needs profile bitenant\r\n");
    CHECK_EQ_STR(RUN("SESSION", "CANMENU", "x", "1"),
                 "-ERR SESSION CANMENU needs profile bitenant\r\n");
    CHECK(starts_with(RUN("SESSION", "LOGIN", "a", "b", "c"),
                      "-ERR SESSION LOGIN needs profile bitenant: "));
    /* Bare ROLE (the replication role) exists in both profiles, so its subcommands are
     * named with it; it answers while loading, as in Redis. */
    CHECK_EQ_STR(RUN("ROLE", "GRANT", "1", "2", "3"), "-ERR ROLE GRANT needs profile bitenant\r\n");
    CHECK_EQ_STR(RUN("ROLE"), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    CHECK_EQ_STR(RUN("USER", "ENABLE", "1", "2"), "-ERR USER needs profile bitenant\r\n");
    /* Commands of both profiles, and the profile's own, reach the LOADING gate: WHY is
     * the row of the running profile (domain user permission). */
    CHECK(starts_with(RUN("DBSIZE"), "-LOADING "));
    CHECK(starts_with(RUN("WAITREV", "1", "0"), "-LOADING "));
    CHECK(starts_with(RUN("why", "admin", "1", "p"), "-LOADING "));
    CHECK(starts_with(RUN("SESSION", "GET", "x"), "-LOADING "));
    CHECK(starts_with(RUN("CAN", "admin", "1", "p"), "-LOADING "));
    CHECK(strstr(RUN("SESSION", "HELP"), "+CAN <token> <domain> <permission>\r\n") != NULL);
    CHECK(strstr(RUN("SESSION", "HELP"), "CANMENU") == NULL);
    CHECK_EQ_STR(RUN("PING"), "+PONG\r\n");
    /* Arity and NOPERM come before the profile. */
    CHECK_EQ_STR(RUN("CANMENU", "1"), "-ERR wrong number of arguments for 'canmenu' command\r\n");
    fake.role = CONF_ROLE_CHECK;
    snprintf(fake.user, sizeof fake.user, "checker");
    CHECK(starts_with(RUN("USER", "ENABLE", "1", "2"), "-NOPERM "));
    /* In its own profile a command gets as far as LOADING, then runs once loaded. */
    reset();
    server.loading = true;
    CHECK(starts_with(RUN("CANMENU", "1", "1", "1"), "-LOADING "));
    CHECK_EQ_STR(RUN("CAN", "admin", "1", "p"), "-ERR CAN needs profile mpbackend\r\n");
    CHECK_EQ_STR(RUN("BIND", "admin", "1", "2"), "-ERR BIND needs profile mpbackend\r\n");
    CHECK_EQ_STR(RUN("SESSION", "CAN", "t", "admin", "p"),
                 "-ERR SESSION CAN needs profile mpbackend\r\n");
    server.loading = false;
    CHECK_EQ_STR(RUN("DBSIZE"), ":0\r\n");
}

/* ---- HELP, generated from the rows ---- */

static void test_help_generated(void)
{
    reset();
    CHECK_EQ_STR(RUN("CONFIG", "HELP"),
                 "*9\r\n"
                 "+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
                 "+GET <parameter> [<parameter> ...]\r\n"
                 "+    Returns the effective values of configuration parameters.\r\n"
                 "+SET <parameter> <value> [<parameter> <value> ...]\r\n"
                 "+    Sets configuration parameters in-flight.\r\n"
                 "+RESETSTAT\r\n"
                 "+    Resets the server's statistics.\r\n"
                 "+HELP\r\n"
                 "+    Print this help.\r\n");
    /* A container with a handler of its own says what the bare form does. */
    const char *h = RUN("COMMAND", "HELP");
    CHECK(strstr(h, "\r\n+(no subcommand)\r\n+    Returns detailed information about all "
                    "commands.\r\n+COUNT\r\n") != NULL);
    CHECK(strstr(RUN("SESSION", "HELP"), "\r\n+LOGIN <tenant_code> <username> <password> [TTL "
                                         "<s>] [IP <addr>] [UA <agent>]\r\n") != NULL);
    CHECK_EQ_STR(RUN("CLIENT", "HELP", "x"),
                 "-ERR wrong number of arguments for 'client|help' command\r\n");
}

/* Every container has its HELP row, last, with the generic handler; a bare container
 * either has a handler or takes at least two words. */
static void test_every_container_has_help(void)
{
    size_t containers = 0;
    for (size_t i = 0; i < command_count(); i++) {
        const command *cmd = command_at(i);
        CHECK(cmd->proc || cmd->min_words >= 2);
        if (!cmd->subcommands)
            continue;
        containers++;
        const command *last = NULL;
        for (const command *s = cmd->subcommands; s->name; s++) {
            last = s;
            CHECK(s->parent == cmd);
            CHECK(s->proc != NULL);
            CHECK(s->min_words >= 2);
        }
        CHECK(last && strcmp(last->name, "help") == 0 && last->proc == command_help);
    }
    CHECK_EQ_INT(containers, 8); /* CLIENT COMMAND CONFIG SLOWLOG SESSION ROLE USER TENANT */
}

/* ---- COMMAND LIST FILTERBY ---- */

static void test_command_list_filterby(void)
{
    reset();
    CHECK_EQ_STR(RUN("COMMAND", "LIST", "FILTERBY", "PATTERN", "can*"),
                 "*2\r\n$7\r\ncanmenu\r\n$8\r\ncanstore\r\n");
    CHECK_EQ_STR(RUN("command", "list", "filterby", "pattern", "CAN*"),
                 "*2\r\n$7\r\ncanmenu\r\n$8\r\ncanstore\r\n");
    CHECK_EQ_STR(RUN("COMMAND", "LIST", "FILTERBY", "PATTERN", "session|l*"),
                 "*2\r\n$13\r\nsession|login\r\n$12\r\nsession|list\r\n");
    const char *admin = RUN("COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin");
    CHECK(strstr(admin, "$14\r\nsession|create\r\n") != NULL);
    CHECK(strstr(admin, "$8\r\nshutdown\r\n") != NULL);
    CHECK(strstr(admin, "$4\r\nping\r\n") == NULL);
    CHECK(strstr(RUN("COMMAND", "LIST", "FILTERBY", "ACLCAT", "Check"), "$7\r\ncanmenu\r\n"));
    CHECK_EQ_STR(RUN("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"), "*0\r\n");
    CHECK_EQ_STR(RUN("COMMAND", "LIST", "FILTERBY", "MODULE", "any"), "*0\r\n");
    CHECK_EQ_STR(RUN("COMMAND", "LIST", "FILTERBY", "NAME", "x"), "-ERR syntax error\r\n");
    CHECK_EQ_STR(RUN("COMMAND", "LIST", "FILTERBY", "PATTERN"), "-ERR syntax error\r\n");
    CHECK_EQ_STR(RUN("COMMAND", "LIST", "x"), "-ERR syntax error\r\n");
    char want[32];
    snprintf(want, sizeof want, "*%zu\r\n", command_count());
    CHECK(starts_with(RUN("COMMAND", "LIST"), want));
    snprintf(want, sizeof want, ":%zu\r\n", command_count());
    CHECK_EQ_STR(RUN("COMMAND", "COUNT"), want);
}

/* ---- HTTP on the Redis port ---- */

/* A line of HTTP closes the client without a reply; anything else unknown is an error. */
static void test_http_closes_the_client(void)
{
    static const char *const http[][3] = {
        {"POST", "/", "HTTP/1.1"}, {"GET", "/", "HTTP/1.1"},     {"get", "/x?a=b", "http/1.0"},
        {"Host:", "a", NULL},      {"HOST:", NULL, NULL},        {"post", NULL, NULL},
        {"PUT", "/", "HTTP/2"},    {"OPTIONS", "*", "HTTP/1.1"}, {"PRI", "*", "HTTP/2.0"},
    };
    log_set_level(LOG_LVL_WARNING + 1); /* quiet: the warning is the black-box test's */
    for (size_t i = 0; i < sizeof http / sizeof http[0]; i++) {
        reset();
        fake.state = CLIENT_READY;
        uint64_t refused = server.stats.http_refused;
        CHECK_EQ_STR(run_words(http[i][0], http[i][1], http[i][2], (const char *)NULL), "");
        CHECK_EQ_INT(fake.state, CLIENT_CLOSING);
        CHECK_EQ_INT(server.stats.http_refused, refused + 1);
    }
    log_set_level(LOG_LVL_NOTICE);
    fake.state = CLIENT_READY;
    CHECK(starts_with(RUN("GET", "key"), "-ERR unknown command 'GET'"));
    CHECK(starts_with(RUN("GET", "/", "HTTP"), "-ERR unknown command 'GET'"));
    CHECK(starts_with(RUN("GET", "/", "x", "HTTP/1.1"), "-ERR unknown command 'GET'"));
    CHECK(starts_with(RUN("HOST", "a"), "-ERR unknown command 'HOST'"));
    CHECK(starts_with(RUN("Hosts:", "a"), "-ERR unknown command 'Hosts:'"));
    CHECK_EQ_INT(fake.state, CLIENT_READY);
}

/* ---- what reports show of a request ---- */

/* The rows that carry passwords or tokens hide their arguments; the others show all. */
static void test_secret_rows_show_only_their_names(void)
{
    CHECK_EQ_INT(command_shown_words(command_lookup("ping", 4), 2), 2);
    CHECK_EQ_INT(command_shown_words(command_lookup("auth", 4), 3), 1);
    CHECK_EQ_INT(command_shown_words(command_lookup("hello", 5), 5), 1);
    CHECK_EQ_INT(command_shown_words(sub("config", "set"), 4), 2);
    CHECK_EQ_INT(command_shown_words(sub("config", "get"), 3), 3);
    CHECK_EQ_INT(command_shown_words(sub("client", "setname"), 3), 3);
    const command *session = command_lookup("session", 7);
    for (const command *s = session->subcommands; s && s->name; s++)
        if (s->proc != command_help) {
            CHECK(s->flags & CMD_SECRET);
            CHECK_EQ_INT(command_shown_words(s, 5), 2);
        }
}

/* Debug level: every command run is logged, secret arguments as (redacted). */
static void test_debug_trace_redacts(void)
{
    char path[] = "/tmp/rbacd_command_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    reset();
    CHECK(log_open(path));
    log_set_level(LOG_LVL_DEBUG);
    RUN("ECHO", "shown\x01");
    RUN("CONFIG", "SET", "timeout", "hidden-value");
    RUN("PING", "a", "b"); /* refused before it runs: not traced */
    log_set_level(LOG_LVL_NOTICE);
    log_close();
    char text[4096] = "";
    FILE *f = fopen(path, "r");
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = '\0';
        fclose(f);
    }
    unlink(path);
    CHECK(strstr(text, "client id=1 addr=: user=default: 'ECHO' 'shown\\x01'\n") != NULL);
    CHECK(strstr(text, "user=default: 'CONFIG' 'SET' (redacted) (redacted)\n") != NULL);
    CHECK(strstr(text, "hidden-value") == NULL);
    CHECK(strstr(text, "'PING'") == NULL);
    server.conf.timeout = 0;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    conf_init(&server.conf);
    server.conf.slowlog_log_slower_than = -1;
    /* A requirepass, so that a client that has not authenticated meets NOAUTH. */
    rbacd_conf with_password;
    conf_init(&with_password);
    char err[256];
    bool ok = conf_set_runtime(&with_password, "requirepass", "secret", err, sizeof err) &&
              auth_init(&with_password, err, sizeof err);
    conf_free(&with_password);
    if (!ok) {
        fprintf(stderr, "setting up AUTH: %s\n", err);
        return 1;
    }
    command_init();
    fake.id = 1;
    buf_init(&fake.out);

    TEST_RUN(test_word_bounds);
    TEST_RUN(test_arity_reported_from_bounds);
    TEST_RUN(test_unknown_command_and_subcommand);
    TEST_RUN(test_noauth);
    TEST_RUN(test_noperm);
    TEST_RUN(test_profile_gate);
    TEST_RUN(test_help_generated);
    TEST_RUN(test_every_container_has_help);
    TEST_RUN(test_command_list_filterby);
    TEST_RUN(test_http_closes_the_client);
    TEST_RUN(test_secret_rows_show_only_their_names);
    TEST_RUN(test_debug_trace_redacts);

    buf_free(&fake.out);
    command_free();
    auth_free();
    conf_free(&server.conf);
    return TEST_DONE();
}
