/*
 * sync.c, cmd_write.c — changes written through to the database, and changes other
 * programs make followed through the rbac_change log.
 *
 * Calls other modules make (loop thread only):
 *   server.c  sync_init() once the workers run, sync_cron() every cron tick,
 *             sync_shutdown() before the workers stop, sync_info() for INFO.
 *   loader.c  sync_model_loaded() after a new model was swapped in.
 */
#ifndef RBACD_SYNC_H
#define RBACD_SYNC_H

#include "buf.h"
#include "command.h"

#include <stdbool.h>
#include <stdint.h>

bool sync_init(void) __attribute__((warn_unused_result));
void sync_shutdown(void);
void sync_cron(int64_t now_ms);
/* INFO "sync" section body: `key:value\r\n` lines. */
void sync_info(buf *out);
/* The highest rbac_change id this instance has applied (REVISION). */
uint64_t sync_revision(void);
void sync_model_loaded(void);

/* Write and revision command rows (listed in command.c). */
extern command cmd_write_table[];

#endif
