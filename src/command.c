/*
 * The command table and processCommand-style checks. Order of the checks, and so
 * which error a client sees first:
 *   unknown command -> unknown subcommand -> arity -> NOAUTH -> NOPERM -> profile
 *   -> LOADING
 * Then the handler runs (shown to MONITOR watchers and traced in the debug log first),
 * timed, and the call is counted for INFO commandstats and the slowlog; an error reply,
 * whether a check's or the handler's, for INFO errorstats by its prefix. No handler
 * checks any of these again. Every report shows a secret command's arguments as
 * "(redacted)": command_shown_words().
 *
 * A request that is no command but a line of HTTP (a request line such as "POST /
 * HTTP/1.1", or a "Host:" header) closes the connection at once, without a reply, as
 * Redis does: a web page can make a browser send an HTTP request to rbacd's port, and
 * the lines after the headers would otherwise run as commands (cross-protocol
 * scripting). It is an unknown command first, so no real command pays for the check.
 *
 * The profile comes before LOADING because a command of the other profile will never
 * run, loaded or not, and its handler may rely on state that profile never starts
 * (sessions under mpbackend).
 *
 * Lookup is a small open-addressing table keyed by the lower-cased name; names longer
 * than any command are rejected before hashing.
 */
#include "command.h"
#include "auth.h"
#include "client.h"
#include "cmd_domain.h"
#include "cmd_rbac.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "monitor.h"
#include "rbac.h"
#include "server.h"
#include "session.h"
#include "sync.h"
#include "tracking.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define COMMAND_NAME_MAX   32   /* longer names cannot be commands */
#define COMMAND_SLOTS      256  /* power of two, well above twice the command count */
#define ERR_ARG_PREVIEW    128  /* bytes of an argument echoed back in an error */
#define ERR_DOMAIN_PREVIEW 64   /* ... of a malformed domain */
#define TRACE_MAX_WORDS    32   /* words of a request the debug log shows */
#define HTTP_WARN_EVERY_MS 1000 /* at most one warning a second about HTTP requests */
#define HTTP_WORD_PREVIEW  16   /* bytes of the HTTP method or header name logged */
#define TRACE_WORD_PREVIEW 128  /* bytes of each word it shows */

/* Every module's table; a module adds its row here once. */
static command *const command_tables[] = {
    cmd_server_table,  cmd_rbac_table,  cmd_domain_table,
    cmd_session_table, cmd_write_table, cmd_tracking_table,
};

static command *command_slots[COMMAND_SLOTS]; /* lookup table */
static command **command_list;                /* every top-level command, in table order */
static size_t command_n;

static size_t command_hash(const char *lower, size_t len)
{
    return (size_t)XXH3_64bits(lower, len) & (COMMAND_SLOTS - 1);
}

bool command_in_profile(const command *cmd)
{
    return cmd->profiles & (1u << server.conf.profile);
}

/* Adds cmd to the lookup table and the list. Two rows may share a name when they exist
 * in different profiles (WHY): lookups take the running profile's. */
static void command_insert(command *cmd)
{
    size_t len = strlen(cmd->name);
    size_t h = command_hash(cmd->name, len);
    while (command_slots[h])
        h = (h + 1) & (COMMAND_SLOTS - 1);
    command_slots[h] = cmd;
    command_list = mem_realloc(command_list, (command_n + 1) * sizeof *command_list);
    command_list[command_n++] = cmd;
}

void command_init(void)
{
    for (size_t t = 0; t < ARRAY_LEN(command_tables); t++) {
        for (command *cmd = command_tables[t]; cmd->name; cmd++) {
            snprintf(cmd->fullname, sizeof cmd->fullname, "%s", cmd->name);
            command_insert(cmd);
            for (command *sub = cmd->subcommands; sub && sub->name; sub++) {
                sub->parent = cmd;
                snprintf(sub->fullname, sizeof sub->fullname, "%s|%s", cmd->name, sub->name);
            }
        }
    }
}

void command_free(void)
{
    mem_free(command_list);
    command_list = NULL;
    command_n = 0;
    memset(command_slots, 0, sizeof command_slots);
}

command *command_lookup(const char *name, size_t len)
{
    char lower[COMMAND_NAME_MAX];
    if (len == 0 || len >= COMMAND_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    size_t h = command_hash(lower, len);
    command *found = NULL;
    for (command *cmd; (cmd = command_slots[h]); h = (h + 1) & (COMMAND_SLOTS - 1))
        if (strlen(cmd->name) == len && memcmp(cmd->name, lower, len) == 0 &&
            (!found || command_in_profile(cmd)))
            found = cmd; /* the row of the running profile, if two share the name */
    return found;
}

command *command_lookup_sub(const command *parent, const char *name, size_t len)
{
    command *found = NULL;
    for (command *sub = parent->subcommands; sub && sub->name; sub++)
        if (util_eq_nocase(name, len, sub->name) && (!found || command_in_profile(sub)))
            found = sub; /* the row of the running profile, if two share the name */
    return found;
}

int command_arity(const command *cmd)
{
    return cmd->min_words == cmd->max_words ? cmd->min_words : -cmd->min_words;
}

size_t command_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < command_n; i++)
        n += command_in_profile(command_list[i]);
    return n;
}

command *command_at(size_t i)
{
    for (size_t k = 0; k < command_n; k++)
        if (command_in_profile(command_list[k]) && i-- == 0)
            return command_list[k];
    return NULL;
}

/* Upper-case copy of a command name, for error texts (out holds COMMAND_NAME_MAX). */
static void upper_name(const command *cmd, char *out)
{
    size_t i = 0;
    for (; cmd->name[i] && i < COMMAND_NAME_MAX - 1; i++)
        out[i] = (char)toupper((unsigned char)cmd->name[i]);
    out[i] = '\0';
}

/* Appends an argument to an error text: printable bytes only, bounded. */
static void append_preview_n(buf *b, const resp_arg *a, size_t max)
{
    size_t n = a->len < max ? a->len : max;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a->ptr[i];
        buf_append(b, isprint(ch) && ch != '\'' ? (const char *)&a->ptr[i] : "?", 1);
    }
}

static void append_preview(buf *b, const resp_arg *a)
{
    append_preview_n(b, a, ERR_ARG_PREVIEW);
}

static void reply_unknown_command(client *c, size_t argc, const resp_arg *argv)
{
    buf msg;
    buf_init(&msg);
    buf_append_str(&msg, "ERR unknown command '");
    append_preview(&msg, &argv[0]);
    buf_append_str(&msg, "', with args beginning with: ");
    for (size_t i = 1; i < argc && i < 8; i++) {
        buf_append_str(&msg, "'");
        append_preview(&msg, &argv[i]);
        buf_append_str(&msg, "' ");
    }
    resp_error(&c->out, "%s", msg.data);
    buf_free(&msg);
}

static void reply_unknown_subcommand(client *c, const command *cmd, const resp_arg *sub)
{
    buf msg;
    buf_init(&msg);
    buf_append_str(&msg, "ERR unknown subcommand '");
    append_preview(&msg, sub);
    char upper[COMMAND_NAME_MAX];
    upper_name(cmd, upper);
    buf_printf(&msg, "'. Try %s HELP.", upper);
    resp_error(&c->out, "%s", msg.data);
    buf_free(&msg);
}

/* Whether an unknown request is a line of HTTP: it starts with POST or Host: (what Redis
 * checks), or it has the shape of a request line, "METHOD target HTTP/x.y". */
static bool looks_like_http(size_t argc, const resp_arg *argv)
{
    static const char *const methods[] = {"GET",     "HEAD",  "POST",  "PUT", "DELETE",
                                          "CONNECT", "TRACE", "PATCH", "PRI", "OPTIONS"};
    const resp_arg *w = &argv[0];
    if (util_eq_nocase(w->ptr, w->len, "post") || util_eq_nocase(w->ptr, w->len, "host:"))
        return true;
    if (argc != 3 || argv[2].len < 5 || !util_eq_nocase(argv[2].ptr, 5, "http/"))
        return false;
    for (size_t i = 0; i < ARRAY_LEN(methods); i++)
        if (util_eq_nocase(w->ptr, w->len, methods[i]))
            return true;
    return false;
}

/* Closes a client that spoke HTTP and says so in the log, naming the peer: once a
 * second at most, so that a page firing requests cannot flood the log. */
static void refuse_http(client *c, const resp_arg *first)
{
    static int64_t last_ms = -HTTP_WARN_EVERY_MS; /* last warning (loop thread only) */
    static uint64_t unlogged;                     /* refused since, not logged */
    server.stats.http_refused++;
    client_abort(c);
    if (server.now_ms - last_ms < HTTP_WARN_EVERY_MS) {
        unlogged++;
        return;
    }
    buf word;
    buf_init(&word);
    append_preview_n(&word, first, HTTP_WORD_PREVIEW);
    char more[64] = "";
    if (unlogged)
        snprintf(more, sizeof more, " (and %llu more since the last such line)",
                 (unsigned long long)unlogged);
    log_client(LOG_LVL_WARNING, c,
               "possible SECURITY ATTACK: an HTTP request ('%s ...') to the Redis protocol port, "
               "as a web page can make a browser send (cross-protocol scripting); connection "
               "closed, nothing run%s",
               word.data ? word.data : "", more);
    buf_free(&word);
    last_ms = server.now_ms;
    unlogged = 0;
}

static bool arity_ok(const command *cmd, size_t argc)
{
    return argc >= (size_t)cmd->min_words && (cmd->max_words < 0 || argc <= (size_t)cmd->max_words);
}

/* Whether a row exists in the running profile: the subcommand and its container. */
static bool profile_allows(const command *cmd, const command *run)
{
    unsigned bit = 1u << server.conf.profile;
    return (cmd->profiles & bit) && (run->profiles & bit);
}

/* "-ERR ROLE needs profile bitenant"; a subcommand of a container both profiles have
 * is named with its container: "-ERR SESSION CANMENU needs profile bitenant". */
static void reply_needs_profile(client *c, const command *cmd, const command *run)
{
    char upper[COMMAND_NAME_MAX], sub[COMMAND_NAME_MAX + 1] = "";
    upper_name(cmd, upper);
    if (run != cmd && command_in_profile(cmd)) {
        sub[0] = ' ';
        upper_name(run, sub + 1);
    }
    unsigned wanted = cmd->profiles & run->profiles;
    int profile = wanted & PROF_BITENANT ? CONF_PROFILE_BITENANT : CONF_PROFILE_MPBACKEND;
    resp_error(&c->out, "ERR %s%s needs profile %s", upper, sub, conf_profile_name(profile));
}

static bool role_allows(int role, int category)
{
    if (category == ACL_CAT_ADMIN)
        return role == CONF_ROLE_ADMIN;
    return true;
}

/* ---- HELP, generated from the rows ---- */

#define HELP_SEPARATORS " []|" /* what splits a synopsis into words */

/* Appends a synopsis as HELP shows it: a word with a lower-case letter is a value to
 * fill in and becomes <word>; keywords, brackets, '|' and "..." stay as they are. */
static void help_synopsis(buf *b, const char *syn)
{
    for (const char *p = syn ? syn : ""; *p;) {
        if (strchr(HELP_SEPARATORS, *p)) {
            buf_append(b, p++, 1);
            continue;
        }
        const char *w = p;
        bool value = false;
        for (; *p && !strchr(HELP_SEPARATORS, *p); p++)
            value |= islower((unsigned char)*p) != 0;
        if (value)
            buf_append_str(b, "<");
        buf_append(b, w, (size_t)(p - w));
        if (value)
            buf_append_str(b, ">");
    }
}

/* Sends line as one simple string and empties it for the next. */
static void help_line(client *c, buf *line)
{
    resp_simple(&c->out, line->data ? line->data : "");
    buf_clear(line);
}

/* Whether HELP lists sub: a row of the running profile (two profiles may give a
 * subcommand different rows, and a container of both may hold rows of one). */
static bool help_lists(const command *parent, const command *sub)
{
    return command_in_profile(sub) &&
           command_lookup_sub(parent, sub->name, strlen(sub->name)) == sub;
}

void command_help(client *c, size_t argc, const resp_arg *argv)
{
    const command *parent = command_lookup(argv[0].ptr, argv[0].len);
    if (!parent) /* cannot happen: command_process found it */
        return;
    size_t n = 1 + (parent->proc ? 2 : 0) + 2;
    for (const command *s = parent->subcommands; s && s->name; s++)
        n += s->proc != command_help && help_lists(parent, s) ? 2 : 0;
    resp_array(&c->out, n);
    char upper[COMMAND_NAME_MAX];
    upper_name(parent, upper);
    buf line;
    buf_init(&line);
    buf_printf(&line, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
    help_line(c, &line);
    if (parent->proc) {
        buf_append_str(&line, "(no subcommand)");
        help_line(c, &line);
        buf_printf(&line, "    %s", parent->summary ? parent->summary : "");
        help_line(c, &line);
    }
    for (const command *s = parent->subcommands; s && s->name; s++) {
        if (s->proc == command_help || !help_lists(parent, s))
            continue; /* HELP is always last, below */
        upper_name(s, upper);
        buf_append_str(&line, upper);
        if (s->args && s->args[0]) {
            buf_append_str(&line, " ");
            help_synopsis(&line, s->args);
        }
        help_line(c, &line);
        buf_printf(&line, "    %s", s->summary ? s->summary : "");
        help_line(c, &line);
    }
    buf_append_str(&line, "HELP");
    help_line(c, &line);
    buf_append_str(&line, "    Print this help.");
    help_line(c, &line);
    buf_free(&line);
}

size_t command_shown_words(const command *run, size_t argc)
{
    if (!(run->flags & CMD_SECRET))
        return argc;
    size_t named = run->parent ? 2 : 1; /* the name, and the subcommand */
    return argc < named ? argc : named;
}

/* The debug log's line for a request about to run: its words quoted, bounded, those
 * command_shown_words() hides as (redacted). */
static void trace_command(const client *c, const command *run, size_t argc, const resp_arg *argv)
{
    buf line;
    buf_init(&line);
    size_t shown = command_shown_words(run, argc);
    for (size_t i = 0; i < argc && i < TRACE_MAX_WORDS; i++) {
        if (i)
            buf_append_str(&line, " ");
        if (i >= shown) {
            buf_append_str(&line, "(redacted)");
            continue;
        }
        size_t n = argv[i].len < TRACE_WORD_PREVIEW ? argv[i].len : TRACE_WORD_PREVIEW;
        buf_append_quoted(&line, argv[i].ptr, n);
        if (n < argv[i].len)
            buf_printf(&line, "... (%zu more bytes)", argv[i].len - n);
    }
    if (argc > TRACE_MAX_WORDS)
        buf_printf(&line, " ... (%zu more words)", argc - TRACE_MAX_WORDS);
    log_client(LOG_LVL_DEBUG, c, "user=%s: %s", c->user, line.data ? line.data : "");
    buf_free(&line);
}

static size_t hist_bucket(int64_t usec)
{
    size_t b = usec <= 0 ? 0 : (size_t)(64 - __builtin_clzll((unsigned long long)usec));
    return b < COMMAND_HIST_BUCKETS ? b : COMMAND_HIST_BUCKETS - 1;
}

const double command_seconds_bounds_us[COMMAND_SECONDS_BOUNDS] = {
    1,    2.5,   5,     10,    25,     50,     100,    250, 500,   1000, 2500,
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1e6, 2.5e6, 5e6,  10e6,
};

size_t command_seconds_bucket(int64_t usec)
{
    size_t b = 0; /* most calls take a few microseconds: a scan from the bottom is short */
    while (b < COMMAND_SECONDS_BOUNDS && (double)usec > command_seconds_bounds_us[b])
        b++;
    return b;
}

double command_percentile(const command_stats *st, double p)
{
    if (st->calls == 0)
        return 0;
    uint64_t want = (uint64_t)((double)st->calls * p / 100.0);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < COMMAND_HIST_BUCKETS; b++) {
        seen += st->hist[b];
        if (seen >= want)
            return (double)(1ULL << b);
    }
    return (double)(1ULL << (COMMAND_HIST_BUCKETS - 1));
}

/* End of the last command run in this batch (or the batch's start): the start of the
 * next one's latency. */
static int64_t batch_clock_us;

void command_batch_begin(void)
{
    server.now_ms = util_now_ms();
    batch_clock_us = util_mono_us();
    /* A subscription that started or ended by now is pushed before any reply of this
     * batch reflects it. */
    tracking_time_check(server.now_ms);
}

/* Counts the error reply written to c->out at at: total_error_replies, and its prefix
 * (the first word) in INFO errorstats. */
static void count_error(const client *c, size_t at)
{
    server.stats.errors++;
    if (at >= c->out.len || c->out.data[at] != '-')
        return;
    const char *p = c->out.data + at + 1;
    size_t n = strcspn(p, " \r");
    if (n == 0 || n >= SERVER_ERROR_PREFIX_MAX)
        return;
    server_stats *st = &server.stats;
    size_t i = 0;
    while (i < st->nerrorstats &&
           !(strlen(st->errorstats[i].prefix) == n && memcmp(st->errorstats[i].prefix, p, n) == 0))
        i++;
    if (i == st->nerrorstats) {
        if (i == SERVER_ERRORSTATS_MAX)
            return;
        memcpy(st->errorstats[i].prefix, p, n);
        st->errorstats[i].prefix[n] = '\0';
        st->nerrorstats++;
    }
    st->errorstats[i].count++;
}

void command_process(client *c)
{
    size_t argc = c->req.argc;
    const resp_arg *argv = c->req.argv;
    size_t out_start = c->out.len; /* where a refusal's error reply starts */
    command *cmd = command_lookup(argv[0].ptr, argv[0].len);
    if (!cmd && looks_like_http(argc, argv)) {
        refuse_http(c, &argv[0]);
        return;
    }
    if (!cmd) {
        reply_unknown_command(c, argc, argv);
        count_error(c, out_start);
        return;
    }
    command *run = cmd;
    if (cmd->subcommands && argc >= 2) {
        run = command_lookup_sub(cmd, argv[1].ptr, argv[1].len);
        if (!run) {
            reply_unknown_subcommand(c, cmd, &argv[1]);
            run = cmd; /* counted against the container */
            goto rejected;
        }
    }
    /* A container without a handler of its own takes at least 2 words: bare, it is an
     * arity error, as in Redis. */
    if (!arity_ok(run, argc) || !run->proc) {
        resp_error(&c->out, "ERR wrong number of arguments for '%s' command", run->fullname);
        goto rejected;
    }
    if (!c->authenticated && !auth_required())
        auth_reset_client(c); /* requirepass was removed at run time */
    if (!c->authenticated && !(run->flags & CMD_NOAUTH)) {
        resp_error(&c->out, "NOAUTH Authentication required.");
        goto rejected;
    }
    if (!role_allows(c->role, run->category)) {
        resp_error(&c->out, "NOPERM User %s has no permissions to run the '%s' command", c->user,
                   run->fullname);
        goto rejected;
    }
    if (!profile_allows(cmd, run)) {
        reply_needs_profile(c, cmd, run);
        goto rejected;
    }
    if (server.loading && !(run->flags & CMD_LOADING)) {
        resp_error(&c->out, "LOADING rbacd is loading the dataset in memory");
        goto rejected;
    }

    if (server.nmonitors && !monitor_feed(c, run, argc, argv))
        goto rejected; /* the one test MONITOR costs when nobody watches */
    if (log_enabled(LOG_LVL_DEBUG))
        trace_command(c, run, argc, argv);
    size_t out_before = c->out.len;
    int64_t t0 = batch_clock_us;
    c->last_cmd = run;
    run->proc(c, argc, argv);
    batch_clock_us = util_mono_us();
    int64_t dt = batch_clock_us - t0;
    run->stats.calls++;
    run->stats.usec += (uint64_t)dt;
    run->stats.hist[hist_bucket(dt)]++;
    run->stats.seconds_hist[command_seconds_bucket(dt)]++;
    server.stats.commands++;
    if (c->out.len > out_before && c->out.data[out_before] == '-') {
        run->stats.failed_calls++;
        count_error(c, out_before);
    } else if (c->tracking && (run->flags & CMD_TRACK_ANY)) {
        tracking_note_read(c, run, argc, argv);
    }
    if (server.conf.slowlog_log_slower_than >= 0 && dt >= server.conf.slowlog_log_slower_than)
        server_slowlog_record(c, argc, argv, dt, command_shown_words(run, argc));
    return;

rejected:
    run->stats.rejected_calls++;
    count_error(c, out_start);
}

void command_reply_syntax(client *c)
{
    resp_error(&c->out, "ERR syntax error");
}

void command_reply_bad_id(client *c, const resp_arg *a)
{
    buf msg;
    buf_init(&msg);
    buf_append_str(&msg, "ERR invalid id '");
    append_preview(&msg, a);
    buf_append_str(&msg, "': expected a decimal integer between 0 and 18446744073709551615");
    resp_error(&c->out, "%s", msg.data);
    buf_free(&msg);
}

bool command_parse_domain(client *c, const resp_arg *a, char *out)
{
    if (rbac_domain_canon(a->ptr, a->len, out) != RBAC_SCOPE_NONE)
        return true;
    buf msg;
    buf_init(&msg);
    buf_append_str(&msg, "ERR invalid domain '");
    append_preview_n(&msg, a, ERR_DOMAIN_PREVIEW);
    buf_append_str(&msg, "': expected admin, developer:<id> or application:<app_id>");
    resp_error(&c->out, "%s", msg.data);
    buf_free(&msg);
    return false;
}

bool command_parse_id(client *c, const resp_arg *a, uint64_t *out)
{
    if (util_parse_u64(a->ptr, a->len, out))
        return true;
    command_reply_bad_id(c, a);
    return false;
}
