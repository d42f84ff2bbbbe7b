/*
 * log.c — level-gated logging to the logfile or stderr, from any thread.
 * Each line is formatted into one buffer and written with one write(2), so lines from
 * the loop thread and the workers never interleave. Tokens and passwords are never
 * passed to these macros; callers log ids and hash prefixes instead. The debug level
 * traces every command run, its arguments shown as SLOWLOG shows them
 * (command_shown_words(): a secret command's arguments are "(redacted)").
 */
#ifndef RBACD_LOG_H
#define RBACD_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

enum log_level {
    LOG_LVL_DEBUG = 0,   /* everything, including per-command tracing */
    LOG_LVL_VERBOSE = 1, /* connection open/close, job timings */
    LOG_LVL_NOTICE = 2,  /* start, stop, loads, database up/down */
    LOG_LVL_WARNING = 3, /* something is wrong but we go on */
};

/* Lines below this level are skipped before any formatting. Written by the loop thread
 * (CONFIG SET loglevel), read by every thread: an atomic, loaded relaxed (a thread that
 * sees a level change a little late logs or skips a line or two, which is harmless). */
extern atomic_int log_min_level;

/* Opens path for append (NULL or "" = stderr). Returns false with errno set on failure;
 * the previous target stays in use. */
bool log_open(const char *path) __attribute__((warn_unused_result));
/* Reopens the current file (SIGHUP, after logrotate moved it). */
void log_reopen(void);
void log_close(void);
void log_set_level(int level);
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether lines of level lvl are written (to skip building what would be logged). */
#define log_enabled(lvl) ((lvl) >= atomic_load_explicit(&log_min_level, memory_order_relaxed))
#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if (log_enabled(lvl))                                                                      \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)
#define log_debug(...)   LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_verbose(...) LOG_AT(LOG_LVL_VERBOSE, __VA_ARGS__)
#define log_notice(...)  LOG_AT(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_warn(...)    LOG_AT(LOG_LVL_WARNING, __VA_ARGS__)
/* Context-carrying forms: the client id (and tenant where known) lead the line. */
#define log_client(lvl, c, fmt, ...)                                                               \
    LOG_AT(lvl, "client id=%llu addr=%s: " fmt, (unsigned long long)(c)->id, (c)->addr,            \
           ##__VA_ARGS__)

#endif
