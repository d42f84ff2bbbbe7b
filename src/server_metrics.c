/*
 * The server's metric families (server_metrics.h). Every number comes from where INFO
 * reads it — server.stats, each command row's command_stats, the worker pools — so the
 * page and INFO always agree; nothing here counts.
 *
 * Per command (label cmd, the name INFO commandstats uses: "canmenu", "session|login"):
 * a command appears once it has been called or refused, as in INFO commandstats.
 * rbacd_command_duration_seconds is a histogram of the handler time INFO latencystats
 * reads too, in the buckets of command_seconds_bounds_us; its _count is the calls of
 * commandstats and its _sum their usec.
 */
#include "server_metrics.h"
#include "client.h"
#include "command.h"
#include "mem.h"
#include "metrics.h"
#include "server.h"
#include "util.h"
#include "worker.h"

#include <stdbool.h>
#include <stddef.h>

#define US_PER_S 1e6

/* The families written once per command row, in this order. */
enum cmd_family {
    CMD_FAMILY_CALLS,    /* rbacd_commands_total */
    CMD_FAMILY_REJECTED, /* rbacd_command_rejected_calls_total */
    CMD_FAMILY_FAILED,   /* rbacd_command_failed_calls_total */
    CMD_FAMILY_DURATION, /* rbacd_command_duration_seconds */
    CMD_FAMILIES,
};

static const struct {
    const char *name;
    const char *type;
    const char *help;
} cmd_families[CMD_FAMILIES] = {
    [CMD_FAMILY_CALLS] = {"rbacd_commands_total", "counter",
                          "Calls of a command that reached its handler (INFO commandstats calls)."},
    [CMD_FAMILY_REJECTED] = {"rbacd_command_rejected_calls_total", "counter",
                             "Calls refused before the handler: arity, auth, ACL, profile, "
                             "loading."},
    [CMD_FAMILY_FAILED] = {"rbacd_command_failed_calls_total", "counter",
                           "Calls whose handler replied with an error."},
    [CMD_FAMILY_DURATION] = {"rbacd_command_duration_seconds", "histogram",
                             "Time a command's handler took, in seconds."},
};

static void command_sample(buf *out, enum cmd_family f, const command *cmd)
{
    const command_stats *st = &cmd->stats;
    if (!st->calls && !st->rejected_calls)
        return;
    buf labels;
    buf_init(&labels);
    metrics_label(&labels, "cmd", cmd->fullname);
    const char *name = cmd_families[f].name;
    switch (f) {
    case CMD_FAMILY_CALLS:
        metrics_sample_u64(out, name, &labels, st->calls);
        break;
    case CMD_FAMILY_REJECTED:
        metrics_sample_u64(out, name, &labels, st->rejected_calls);
        break;
    case CMD_FAMILY_FAILED:
        metrics_sample_u64(out, name, &labels, st->failed_calls);
        break;
    default: {
        double bounds[COMMAND_SECONDS_BOUNDS];
        for (size_t i = 0; i < COMMAND_SECONDS_BOUNDS; i++)
            bounds[i] = command_seconds_bounds_us[i] / US_PER_S;
        metrics_histogram(out, name, &labels, bounds, st->seconds_hist, COMMAND_SECONDS_BOUNDS,
                          st->calls, (double)st->usec / US_PER_S);
        break;
    }
    }
    buf_free(&labels);
}

/* Every command and subcommand of the running profile, the order of INFO commandstats. */
static void command_families(buf *out)
{
    for (enum cmd_family f = 0; f < CMD_FAMILIES; f++) {
        metrics_family(out, cmd_families[f].name, cmd_families[f].type, cmd_families[f].help);
        for (size_t i = 0; i < command_count(); i++) {
            const command *cmd = command_at(i);
            command_sample(out, f, cmd);
            for (const command *s = cmd->subcommands; s && s->name; s++)
                if (command_in_profile(s))
                    command_sample(out, f, s);
        }
    }
}

typedef struct pool_pass {
    buf *out;
    bool pending; /* this pass writes pending jobs, else the database state */
} pool_pass;

static void pool_sample(void *ctx, const char *name, bool db_up, size_t pending)
{
    pool_pass *p = ctx;
    buf labels;
    buf_init(&labels);
    metrics_label(&labels, "pool", name);
    if (p->pending)
        metrics_sample_u64(p->out, "rbacd_worker_pending_jobs", &labels, pending);
    else
        metrics_sample_u64(p->out, "rbacd_worker_database_up", &labels, db_up ? 1 : 0);
    buf_free(&labels);
}

static void database_families(buf *out)
{
    metrics_gauge(out, "rbacd_database_up",
                  "1 if the last database attempt of any worker worked, else 0.",
                  worker_db_is_up() ? 1 : 0);
    metrics_family(out, "rbacd_worker_database_up", "gauge",
                   "1 if the last database attempt of a worker pool's threads worked, else 0.");
    pool_pass p = {.out = out, .pending = false};
    worker_pool_each(pool_sample, &p);
    metrics_family(out, "rbacd_worker_pending_jobs", "gauge",
                   "Jobs queued or running on a worker pool.");
    p.pending = true;
    worker_pool_each(pool_sample, &p);
}

static void server_metrics(buf *out)
{
    buf labels;
    buf_init(&labels);
    metrics_label(&labels, "version", RBACD_VERSION);
    metrics_label(&labels, "profile", conf_profile_name(server.conf.profile));
    metrics_family(out, "rbacd_build_info", "gauge", "Always 1; the version and the profile.");
    metrics_sample(out, "rbacd_build_info", &labels, 1);
    buf_free(&labels);
    metrics_gauge(out, "rbacd_start_time_seconds", "Unix time the server started.",
                  (double)server.start_ms / 1e3);
    metrics_gauge(out, "rbacd_uptime_seconds", "Seconds since the server started.",
                  (double)(util_mono_us() - server.start_mono_us) / US_PER_S);
    metrics_gauge(out, "rbacd_loading", "1 until the first model load has finished (INFO loading).",
                  server.loading ? 1 : 0);

    size_t blocked = 0;
    for (client *x = server.clients; x; x = x->next)
        blocked += x->state == CLIENT_BLOCKED;
    metrics_gauge(out, "rbacd_connected_clients", "Clients connected.", (double)server.nclients);
    metrics_gauge(out, "rbacd_blocked_clients", "Clients waiting for a job, a reload or WAITREV.",
                  (double)blocked);
    metrics_gauge(out, "rbacd_max_clients", "The maxclients setting.",
                  (double)server.conf.maxclients);

    metrics_gauge(out, "rbacd_memory_used_bytes", "Bytes the allocator has handed out.",
                  (double)mem_used_bytes());
    metrics_gauge(out, "rbacd_memory_rss_bytes", "Resident set size of the process.",
                  (double)mem_rss_bytes());

    const server_stats *st = &server.stats;
    metrics_counter(out, "rbacd_connections_received_total", "Connections accepted.",
                    st->connections);
    metrics_counter(out, "rbacd_rejected_connections_total",
                    "Connections refused (maxclients, protected mode).", st->rejected_conns);
    metrics_counter(out, "rbacd_commands_processed_total", "Commands run, all names together.",
                    st->commands);
    metrics_counter(out, "rbacd_error_replies_total", "Error replies sent.", st->errors);
    metrics_counter(out, "rbacd_net_input_bytes_total", "Bytes read from clients.", st->net_in);
    metrics_counter(out, "rbacd_net_output_bytes_total", "Bytes written to clients.", st->net_out);
    metrics_counter(out, "rbacd_auth_failures_total",
                    "AUTH and HELLO AUTH attempts refused with WRONGPASS.", st->auth_failures);
    metrics_counter(out, "rbacd_resp_http_requests_refused_total",
                    "Connections to the Redis protocol port closed for sending HTTP.",
                    st->http_refused);

    command_families(out);
    database_families(out);
}

const module server_metrics_module = {
    .name = "server",
    .metrics = server_metrics,
};
