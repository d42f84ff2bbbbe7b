/*
 * cmd_rbac.c — the permission-read commands (CANMENU, MENUS, ROLES, CANSTORE, STORES,
 * WHY, DBSIZE) and RELOAD, plus what INFO reports about the model. All of it runs on
 * the loop thread and reads server.model; a NULL model answers every read as a denial.
 */
#ifndef RBACD_CMD_RBAC_H
#define RBACD_CMD_RBAC_H

#include "buf.h"
#include "command.h"
#include "module.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Command rows, terminated by a row with a NULL name (listed in command.c). */
extern command cmd_rbac_table[];

/* The INFO "rbac" section (module.h; no other hook): `key:value\r\n` lines —
 * tenants, users, roles, menus, packages, subscriptions, model_bytes, model_revision,
 * last_load_ms (duration), last_load_at (unix ms), loads, load_failures. Zero counts
 * without a model. */
extern const module cmd_rbac_module;
/* Live users in the model (DBSIZE, INFO keyspace); 0 without a model. */
size_t cmd_rbac_user_count(void);
/* Bytes held by the model (INFO memory); 0 without a model. */
size_t cmd_rbac_model_bytes(void);

#endif
