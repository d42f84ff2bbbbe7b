/*
 * Logging. The target fd is swapped atomically under a mutex on reopen; writers take
 * the same mutex only to read the fd, so a write never races a close.
 */
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048 /* longer lines are truncated, never split */

atomic_int log_min_level = LOG_LVL_NOTICE;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO; /* guarded by log_lock */
static char *log_path;             /* guarded by log_lock; NULL = stderr */

bool log_open(const char *path)
{
    if (!path || !*path) {
        log_close();
        return true;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    pthread_mutex_lock(&log_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    if (log_path != path) {
        char *copy = mem_strdup(path);
        mem_free(log_path);
        log_path = copy;
    }
    pthread_mutex_unlock(&log_lock);
    return true;
}

void log_reopen(void)
{
    pthread_mutex_lock(&log_lock);
    char *path = log_path ? mem_strdup(log_path) : NULL;
    pthread_mutex_unlock(&log_lock);
    if (!path)
        return;
    if (!log_open(path))
        log_warn("cannot reopen log file %s: %s", path, strerror(errno));
    mem_free(path);
}

void log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
    mem_free(log_path);
    log_path = NULL;
    pthread_mutex_unlock(&log_lock);
}

void log_set_level(int level)
{
    atomic_store_explicit(&log_min_level, level, memory_order_relaxed);
}

void log_write(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    char line[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%d:M ", (int)getpid());
    n += (int)strftime(line + n, sizeof line - (size_t)n, "%d %b %Y %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                  marks[level < 0   ? 0
                        : level > 3 ? 3
                                    : level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    pthread_mutex_lock(&log_lock);
    ssize_t w = write(log_fd, line, (size_t)n);
    pthread_mutex_unlock(&log_lock);
    (void)w;
}
