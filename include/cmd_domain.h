/*
 * cmd_domain.c — the permission reads of the mpbackend profile (CAN, PERMS, DOMAINS,
 * USERBYLOGIN, APPFLAGS, WHY domain user permission), as rows of the command table.
 * They run on the loop thread and read server.model; a NULL model is a denial.
 */
#ifndef RBACD_CMD_DOMAIN_H
#define RBACD_CMD_DOMAIN_H

#include "command.h"

/* Command rows, terminated by COMMAND_END (listed in command.c). */
extern command cmd_domain_table[];

#endif
