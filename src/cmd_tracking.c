/*
 * The client-tracking commands (SPEC §5): CLIENT TRACKING, CACHING, TRACKINGINFO and
 * GETREDIR (rows in cmd_server.c's CLIENT table) and SUBSCRIBE / UNSUBSCRIBE of the one
 * channel rbacd publishes (rows here). They parse and answer with Redis's replies and
 * error texts; the state they change is tracking.c's (tracking_internal.h).
 */
#include "cmd_tracking.h"
#include "client.h"
#include "command.h"
#include "resp.h"
#include "tracking_internal.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool word_is(const resp_arg *a, const char *w)
{
    return util_eq_nocase(a->ptr, a->len, w);
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP] */
/* Whether one of a and b starts with the other (Redis: prefixes must not overlap). */
static bool prefixes_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
    return memcmp(a, b, alen < blen ? alen : blen) == 0;
}

/* Refuses, as Redis does, a PREFIX that overlaps one the client holds or another one of
 * the same command; and more prefixes in all than one command may give. */
static bool prefixes_ok(client *c, const tracking_client *tc, const resp_arg *const *p, size_t n)
{
    size_t held = tc && tc->on ? tc->nprefixes : 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < held; k++) {
            if (prefixes_overlap(p[i]->ptr, p[i]->len, tc->prefixes[k], strlen(tc->prefixes[k]))) {
                resp_error(&c->out,
                           "ERR Prefix '%.*s' overlaps with an existing prefix '%s'. Prefixes "
                           "for a single client must not overlap.",
                           (int)p[i]->len, p[i]->ptr, tc->prefixes[k]);
                return false;
            }
        }
        for (size_t j = i + 1; j < n; j++) {
            if (prefixes_overlap(p[i]->ptr, p[i]->len, p[j]->ptr, p[j]->len)) {
                resp_error(&c->out,
                           "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                           "Prefixes for a single client must not overlap.",
                           (int)p[i]->len, p[i]->ptr, (int)p[j]->len, p[j]->ptr);
                return false;
            }
        }
    }
    if (held + n > TRACKING_MAX_PREFIXES) {
        resp_error(&c->out, "ERR at most %d prefixes of at most %d bytes each",
                   TRACKING_MAX_PREFIXES, TRACKING_PREFIX_MAX);
        return false;
    }
    return true;
}

void cmd_tracking_client_tracking(client *c, size_t argc, const resp_arg *argv)
{
    bool on;
    if (word_is(&argv[2], "on"))
        on = true;
    else if (word_is(&argv[2], "off"))
        on = false;
    else {
        command_reply_syntax(c);
        return;
    }
    bool bcast = false, optin = false, optout = false, noloop = false;
    uint64_t redirect = 0;
    size_t nprefix = 0;
    const resp_arg *prefixes[TRACKING_MAX_PREFIXES];
    for (size_t i = 3; i < argc; i++) {
        bool more = i + 1 < argc;
        if (word_is(&argv[i], "redirect") && more) {
            long long v;
            i++;
            if (!util_parse_ll(argv[i].ptr, argv[i].len, &v) || v < 0) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return;
            }
            redirect = (uint64_t)v;
        } else if (word_is(&argv[i], "bcast")) {
            bcast = true;
        } else if (word_is(&argv[i], "optin")) {
            optin = true;
        } else if (word_is(&argv[i], "optout")) {
            optout = true;
        } else if (word_is(&argv[i], "noloop")) {
            noloop = true;
        } else if (word_is(&argv[i], "prefix") && more) {
            i++;
            if (nprefix == TRACKING_MAX_PREFIXES || argv[i].len > TRACKING_PREFIX_MAX ||
                memchr(argv[i].ptr, '\0', argv[i].len)) {
                resp_error(&c->out, "ERR at most %d prefixes of at most %d bytes each",
                           TRACKING_MAX_PREFIXES, TRACKING_PREFIX_MAX);
                return;
            }
            prefixes[nprefix++] = &argv[i];
        } else {
            command_reply_syntax(c);
            return;
        }
    }
    tracking_client *tc = c->tracking;
    if (!on) {
        tracking_disable(c);
        resp_simple(&c->out, "OK");
        return;
    }
    if (optin && optout) {
        resp_error(&c->out, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        return;
    }
    if (bcast && (optin || optout)) {
        resp_error(&c->out, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        return;
    }
    if (nprefix && !bcast) {
        resp_error(&c->out, "ERR PREFIX option requires BCAST mode to be enabled");
        return;
    }
    if (tc && tc->on && tc->bcast != bcast) {
        resp_error(&c->out, "ERR You can't switch BCAST mode on/off before disabling tracking "
                            "for this client, and then re-enabling it with a different mode.");
        return;
    }
    if (tc && tc->on && ((optin && tc->optout) || (optout && tc->optin))) {
        resp_error(&c->out, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                            "for this client, and then re-enabling it with a different mode.");
        return;
    }
    if (redirect && redirect != c->id && !client_by_id(redirect)) {
        resp_error(&c->out, "ERR The client ID you want redirect to does not exist");
        return;
    }
    if (!prefixes_ok(c, tc, prefixes, nprefix))
        return;
    tracking_mode m = {bcast, optin, optout, noloop, redirect, prefixes, nprefix};
    tracking_enable(c, &m);
    resp_simple(&c->out, "OK");
}

void cmd_tracking_client_caching(client *c, size_t argc, const resp_arg *argv)
{
    tracking_client *tc = c->tracking;
    bool yes = word_is(&argv[2], "yes");
    if (!yes && !word_is(&argv[2], "no")) {
        command_reply_syntax(c);
        return;
    }
    if (!tc || !tc->on || !(tc->optin || tc->optout)) {
        resp_error(&c->out, "ERR CLIENT CACHING can be called only when the client is in "
                            "tracking mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (yes && !tc->optin) {
        resp_error(&c->out,
                   "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
        return;
    }
    if (!yes && !tc->optout) {
        resp_error(&c->out,
                   "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
        return;
    }
    tc->caching_yes = yes;
    tc->caching_no = !yes;
    tc->caching_at = c->commands;
    resp_simple(&c->out, "OK");
}

void cmd_tracking_client_trackinginfo(client *c, size_t argc, const resp_arg *argv)
{
    const tracking_client *tc = c->tracking;
    bool on = tc && tc->on;
    resp_map(&c->out, c->proto, 3);
    resp_bulk_str(&c->out, "flags");
    const char *flags[8];
    size_t n = 0;
    flags[n++] = on ? "on" : "off";
    if (on && tc->bcast)
        flags[n++] = "bcast";
    if (on && tc->optin)
        flags[n++] = "optin";
    if (on && tc->optout)
        flags[n++] = "optout";
    if (on && tc->caching_yes && tc->caching_at + 1 == c->commands)
        flags[n++] = "caching-yes";
    if (on && tc->caching_no && tc->caching_at + 1 == c->commands)
        flags[n++] = "caching-no";
    if (on && tc->noloop)
        flags[n++] = "noloop";
    if (on && tc->broken)
        flags[n++] = "broken_redirect";
    resp_set(&c->out, c->proto, n);
    for (size_t i = 0; i < n; i++)
        resp_bulk_str(&c->out, flags[i]);
    resp_bulk_str(&c->out, "redirect");
    resp_int(&c->out, on ? (long long)tc->redirect : -1);
    resp_bulk_str(&c->out, "prefixes");
    resp_array(&c->out, on ? tc->nprefixes : 0);
    for (size_t i = 0; on && i < tc->nprefixes; i++)
        resp_bulk_str(&c->out, tc->prefixes[i]);
}

void cmd_tracking_client_getredir(client *c, size_t argc, const resp_arg *argv)
{
    const tracking_client *tc = c->tracking;
    resp_int(&c->out, tc && tc->on ? (long long)tc->redirect : -1);
}

/* The reply to (UN)SUBSCRIBE for one channel: RESP3 a push, RESP2 an array. */
static void reply_subscription(client *c, const char *kind, bool named, size_t count)
{
    if (c->proto >= 3)
        buf_append_str(&c->out, ">3\r\n");
    else
        resp_array(&c->out, 3);
    resp_bulk_str(&c->out, kind);
    if (named)
        resp_bulk_str(&c->out, TRACKING_CHANNEL);
    else
        resp_null(&c->out, c->proto);
    resp_int(&c->out, (long long)count);
}

static void subscribeCommand(client *c, size_t argc, const resp_arg *argv)
{
    for (size_t i = 1; i < argc; i++) {
        if (!util_eq_nocase(argv[i].ptr, argv[i].len, TRACKING_CHANNEL) ||
            argv[i].len != strlen(TRACKING_CHANNEL)) {
            resp_error(&c->out, "ERR rbacd publishes only the " TRACKING_CHANNEL
                                " channel (client tracking); nothing was subscribed");
            return;
        }
    }
    tracking_subscribe(c);
    for (size_t i = 1; i < argc; i++)
        reply_subscription(c, "subscribe", true, 1);
}

static void unsubscribeCommand(client *c, size_t argc, const resp_arg *argv)
{
    for (size_t i = 1; i < argc; i++) {
        if (!util_eq_nocase(argv[i].ptr, argv[i].len, TRACKING_CHANNEL) ||
            argv[i].len != strlen(TRACKING_CHANNEL)) {
            resp_error(&c->out, "ERR rbacd publishes only the " TRACKING_CHANNEL " channel");
            return;
        }
    }
    bool was = tracking_unsubscribe(c);
    if (argc == 1 && !was)
        reply_subscription(c, "unsubscribe", false, 0);
    else if (argc == 1)
        reply_subscription(c, "unsubscribe", true, 0);
    for (size_t i = 1; i < argc; i++)
        reply_subscription(c, "unsubscribe", true, 0);
}

command cmd_tracking_table[] = {
    COMMAND_ROW("subscribe", 2, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, subscribeCommand,
                "Receives client-tracking invalidations (the __redis__:invalidate channel only).",
                "channel [channel ...]", NULL),
    COMMAND_ROW("unsubscribe", 1, -1, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, unsubscribeCommand,
                "Stops receiving client-tracking invalidations.", "[channel [channel ...]]", NULL),
    COMMAND_END,
};
