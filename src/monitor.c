/*
 * MONITOR's watchers and the lines they are sent (the design is in monitor.h).
 */
#include "monitor.h"
#include "buf.h"
#include "client.h"
#include "command.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include "util.h"

#include <string.h>

void monitor_start(client *c)
{
    if (c->monitor)
        return;
    server.monitors =
        mem_realloc(server.monitors, (server.nmonitors + 1) * sizeof *server.monitors);
    server.monitors[server.nmonitors++] = c;
    c->monitor = true;
}

void monitor_stop(client *c)
{
    if (!c->monitor)
        return;
    c->monitor = false;
    for (size_t i = 0; i < server.nmonitors; i++) {
        if (server.monitors[i] == c) {
            server.monitors[i] = server.monitors[--server.nmonitors];
            break;
        }
    }
    if (server.nmonitors == 0) {
        mem_free(server.monitors);
        server.monitors = NULL;
    }
}

/* The line for one request: "+<s>.<us> [0 <addr>] "word" ... "(redacted)"\r\n", where
 * addr is "ip:port", or "unix:<path>" for a unix socket client. */
static void monitor_line(buf *line, const client *c, const command *run, size_t argc,
                         const resp_arg *argv)
{
    int64_t us = util_now_us();
    buf_printf(line, "+%lld.%06lld [0 ", (long long)(us / 1000000), (long long)(us % 1000000));
    if (c->kind == CLIENT_UNIX) /* as Redis names a unix socket client here */
        buf_printf(line, "unix:%s]", server.conf.unixsocket ? server.conf.unixsocket : "");
    else
        buf_printf(line, "%s]", c->addr);
    size_t shown = command_shown_words(run, argc);
    for (size_t i = 0; i < argc; i++) {
        buf_append_str(line, " ");
        if (i < shown)
            buf_append_dquoted(line, argv[i].ptr, argv[i].len);
        else
            buf_append_str(line, "\"(redacted)\"");
    }
    buf_append_str(line, "\r\n");
}

/* Whether a watching client may send run: QUIT, and RESET, which ends the watch. */
static bool allowed_while_watching(const command *run)
{
    return strcmp(run->fullname, "quit") == 0 || strcmp(run->fullname, "reset") == 0;
}

bool monitor_feed(client *c, const command *run, size_t argc, const resp_arg *argv)
{
    if (c->monitor) {
        if (!allowed_while_watching(run)) {
            resp_error(&c->out, "ERR only QUIT and RESET are allowed while in MONITOR mode");
            return false;
        }
        monitor_stop(c); /* +OK of QUIT (or RESET) is the last thing it is sent */
    }
    buf line;
    buf_init(&line);
    monitor_line(&line, c, run, argc, argv);
    for (size_t i = 0; i < server.nmonitors;) {
        client *m = server.monitors[i];
        if (m == c) {
            i++;
            continue;
        }
        buf_append(&m->out, line.data, line.len);
        if (client_output_over_limit(m)) {
            log_client(LOG_LVL_NOTICE, m,
                       "MONITOR client closed: unread output over client-output-limit");
            monitor_stop(m); /* moves the last watcher into slot i */
            client_close_soon(m);
            continue;
        }
        client_flush_later(m);
        i++;
    }
    buf_free(&line);
    return true;
}
