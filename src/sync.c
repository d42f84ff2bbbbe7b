/*
 * Sync: placeholder until write-through and change-log following land.
 */
#include "sync.h"
#include "server.h"

command cmd_write_table[] = {{0}};

bool sync_init(void)
{
    return true;
}

void sync_shutdown(void) {}

void sync_cron(int64_t now_ms)
{
    (void)now_ms;
}

void sync_info(buf *out)
{
    (void)out;
}

uint64_t sync_revision(void)
{
    return 0;
}

void sync_model_loaded(void) {}
