/*
 * cmd_rbac.c — the permission-read commands (CANMENU, MENUS, ROLES, CANSTORE, STORES,
 * WHY, DBSIZE) and RELOAD, plus what INFO reports about the model. All of it runs on
 * the loop thread and reads server.model; a NULL model answers every read as a denial.
 */
#ifndef RBACD_CMD_RBAC_H
#define RBACD_CMD_RBAC_H

#include "buf.h"
#include "command.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;

/* Command rows, terminated by a row with a NULL name (listed in command.c). */
extern command cmd_rbac_table[];

/* Reply encoders shared with the session commands (SESSION CANMENU, SESSION MENUS). */

enum menus_form {
    MENUS_IDS = 0,   /* ascending menu ids */
    MENUS_CODES = 1, /* perms codes by menu id */
    MENUS_TREE = 2,  /* [id, parent, type, name, perms, path, sort] depth-first */
};

/* A menu argument: all digits = an id, anything else = a perms code. *idx is RBAC_NONE
 * when it names no live menu (or there is no model). Returns false only for an id out
 * of range, after replying the error to c. */
bool cmd_rbac_parse_menu(struct client *c, const resp_arg *a, uint32_t *idx)
    __attribute__((warn_unused_result));
/* The MENUS form word: CODES or TREE (any case) into *form; false (nothing replied)
 * for anything else. */
bool cmd_rbac_parse_menus_form(const resp_arg *a, int *form) __attribute__((warn_unused_result));
/* Appends the MENUS reply of user in tenant at now_ms, in form (enum menus_form), to
 * c's output. Never fails: unknown = empty array. */
void cmd_rbac_reply_menus(struct client *c, uint64_t tenant, uint64_t user, int form,
                          int64_t now_ms);

/* INFO "rbac" section body: `key:value\r\n` lines — tenants, users, roles, menus,
 * packages, subscriptions, model_bytes, model_revision, last_load_ms (duration),
 * last_load_at (unix ms), loads, load_failures. Zero counts without a model. */
void cmd_rbac_info(buf *out);
/* Live users in the model (DBSIZE, INFO keyspace); 0 without a model. */
size_t cmd_rbac_user_count(void);
/* Bytes held by the model (INFO memory); 0 without a model. */
size_t cmd_rbac_model_bytes(void);

#endif
