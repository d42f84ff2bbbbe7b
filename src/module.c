/*
 * The module list and the walks over it (see module.h).
 *
 * Why this order:
 *   server    metrics only (the server's and the commands' families lead /metrics).
 *   loader    first: the first model load is the longest step of a start, so it is
 *             queued at once (on the general pool: the sync lane does not exist yet).
 *             Stopped after sync, whose lane may still finish a load.
 *   rbac      INFO rbac only (the model the loader keeps).
 *   sessions  its own lane and password checkers; answers read the model.
 *   sync      it follows the change log from the revision of a loaded model. Stopped
 *             before all but housekeeping and http: its lane (writes, polls, loads)
 *             finishes before anything it applies to goes away.
 *   housekeeping  after sessions and sync, whose purge counters its INFO section and
 *             metrics show; it needs no model (log partitions are kept even while
 *             loading).
 *   tracking  client tracking, after the others so that its INFO section comes last.
 *             Stopped before sync: its hooks do nothing once stopped, so a change
 *             sync's lane still applies then pushes to nobody.
 *   http      after everything it reports on has started: /readyz and /metrics answer
 *             from the first request on. Stopped first: no request runs while the
 *             others stop.
 * INFO shows the sections in the same order: rbac, sessions, sync, housekeeping,
 * tracking.
 */
#include "module.h"
#include "cmd_rbac.h"
#include "housekeeping.h"
#include "http.h"
#include "loader.h"
#include "server_metrics.h"
#include "log.h"
#include "session.h"
#include "sync.h"
#include "tracking.h"

#include <ctype.h>

const module *const module_list[] = {
    &server_metrics_module, &loader_module, &cmd_rbac_module,
    &session_module,        &sync_module,   &housekeeping_module,
    &tracking_module,       &http_module,   NULL,
};

bool module_init_all(const module *const *list, size_t *started)
{
    *started = 0;
    for (const module *const *m = list; *m; m++) {
        ++*started; /* its shutdown runs even if its init fails */
        if ((*m)->init && !(*m)->init()) {
            log_warn("%s: cannot start; stopping", (*m)->name);
            module_shutdown_all(list, started);
            return false;
        }
    }
    return true;
}

void module_shutdown_all(const module *const *list, size_t *started)
{
    while (*started > 0) {
        const module *m = list[--*started];
        if (m->shutdown)
            m->shutdown();
    }
}

void module_cron_all(const module *const *list, size_t started, int64_t now_ms)
{
    for (size_t i = 0; i < started; i++)
        if (list[i]->cron)
            list[i]->cron(now_ms);
}

void module_model_loaded_all(const module *const *list, size_t started)
{
    for (size_t i = 0; i < started; i++)
        if (list[i]->model_loaded)
            list[i]->model_loaded();
}

void module_metrics_all(const module *const *list, buf *out)
{
    for (const module *const *m = list; *m; m++)
        if ((*m)->metrics)
            (*m)->metrics(out);
}

void module_info(const module *m, buf *out)
{
    if (!m->info_section || !m->info_section[0] || !m->info)
        return;
    buf_printf(out, "# %c%s\r\n", toupper((unsigned char)m->info_section[0]), m->info_section + 1);
    m->info(out);
    buf_append_str(out, "\r\n");
}
