/*
 * cmd_tracking.c — the client-tracking commands: CLIENT TRACKING / CACHING /
 * TRACKINGINFO / GETREDIR (rows in cmd_server.c's CLIENT table, handlers here) and
 * SUBSCRIBE / UNSUBSCRIBE (cmd_tracking_table, listed in command.c).
 */
#ifndef RBACD_CMD_TRACKING_H
#define RBACD_CMD_TRACKING_H

#include "command.h"

#include <stddef.h>

void cmd_tracking_client_tracking(struct client *c, size_t argc, const resp_arg *argv);
void cmd_tracking_client_caching(struct client *c, size_t argc, const resp_arg *argv);
void cmd_tracking_client_trackinginfo(struct client *c, size_t argc, const resp_arg *argv);
void cmd_tracking_client_getredir(struct client *c, size_t argc, const resp_arg *argv);

#endif
