/*
 * monitor.c — MONITOR: clients that watch every command the server runs, streamed as
 * Redis streams them, one simple string per command:
 *
 *   +1733231000.123456 [0 127.0.0.1:51234] "CANMENU" "1" "2" "sys:user:add"
 *
 * The words command_shown_words() hides (every argument of a CMD_SECRET row: AUTH,
 * HELLO, CONFIG SET, each SESSION subcommand) show as "(redacted)", as in SLOWLOG and
 * the debug log. A command is shown when it passed the checks and is about to run;
 * one refused before (unknown, arity, NOAUTH, NOPERM, LOADING) is not.
 *
 * Cost when nobody watches: command_process() tests server.nmonitors, one branch per
 * command. A watcher whose unsent lines pass client-output-limit is closed (Redis
 * closes a monitor over its output buffer limit the same way): a watcher that does not
 * read never holds memory or slows the server. While watching, a client may send only
 * QUIT and RESET (which ends the watch); anything else gets an error.
 *
 * Threading: loop thread only; the list of watchers is server.monitors.
 */
#ifndef RBACD_MONITOR_H
#define RBACD_MONITOR_H

#include "resp.h"

#include <stdbool.h>
#include <stddef.h>

struct client;
struct command;

/* c starts watching (the MONITOR handler; c has been told +OK). */
void monitor_start(struct client *c);
/* c stops watching (RESET, or c is being freed). Does nothing for a client that is not
 * watching. */
void monitor_stop(struct client *c);
/* Called by command_process() only while server.nmonitors > 0, for the request run of
 * c is about to run: sends its line to every watcher but c. Returns false, with the
 * error written to c, when c is itself watching and run is neither QUIT nor RESET:
 * the request must not run. */
bool monitor_feed(struct client *c, const struct command *run, size_t argc, const resp_arg *argv)
    __attribute__((warn_unused_result));

#endif
