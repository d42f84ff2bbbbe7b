/*
 * The permission reads of the mpbackend profile (SPEC §4): CAN, PERMS, DOMAINS,
 * USERBYLOGIN, APPFLAGS and WHY, as rows of the command table (profile mpbackend), and
 * BIND / UNBIND's argument checks before they become writes (cmd_write.c).
 *
 * A domain argument is "admin", "developer:<id>" or "application:<app_id>"; anything
 * else is a clear error, since a gateway that sends a malformed domain has a bug worth
 * seeing. Unknown users, domains, permissions, providers and applications are denials
 * (":0", empty array, nil), never errors. A permission name holding a comma can name
 * nothing (names are split on commas): it is a denial too.
 */
#include "client.h"
#include "cmd_domain.h"
#include "mem.h"
#include "rbac.h"
#include "rbac_reply.h"
#include "server.h"
#include "util.h"

#include <string.h>

#define USERBYLOGIN_KEY_MAX 320 /* mpbackend_account_login_method.provider_key */

static bool parse_domain_user(client *c, const resp_arg *argv, char domain[RBAC_DOMAIN_MAX + 1],
                              uint64_t *user)
{
    return command_parse_domain(c, &argv[1], domain) && command_parse_id(c, &argv[2], user);
}

static void reply_strs(client *c, rbac_str *v, size_t n)
{
    resp_array(&c->out, n);
    for (size_t i = 0; i < n; i++)
        resp_bulk(&c->out, v[i].s, v[i].len);
    mem_free(v);
}

static void canCommand(client *c, size_t argc, const resp_arg *argv)
{
    char domain[RBAC_DOMAIN_MAX + 1];
    uint64_t user;
    if (!parse_domain_user(c, argv, domain, &user))
        return;
    resp_int(&c->out,
             rbac_can(server.model, domain, strlen(domain), user, argv[3].ptr, argv[3].len));
}

static void permsCommand(client *c, size_t argc, const resp_arg *argv)
{
    char domain[RBAC_DOMAIN_MAX + 1];
    uint64_t user;
    rbac_str *v;
    if (!parse_domain_user(c, argv, domain, &user))
        return;
    size_t n = rbac_perms(server.model, domain, strlen(domain), user, &v);
    reply_strs(c, v, n);
}

static void domainsCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t user;
    rbac_str *v;
    if (!command_parse_id(c, &argv[1], &user))
        return;
    size_t n = rbac_domains(server.model, user, &v);
    reply_strs(c, v, n);
}

static void userbyloginCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t user;
    if (argv[2].len <= USERBYLOGIN_KEY_MAX &&
        rbac_user_by_login(server.model, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len, &user))
        rbac_reply_id(&c->out, user);
    else
        resp_null(&c->out, c->proto);
}

static void appflagsCommand(client *c, size_t argc, const resp_arg *argv)
{
    rbac_str *v;
    size_t n = rbac_app_flags(server.model, argv[1].ptr, argv[1].len, &v);
    resp_array(&c->out, n);
    for (size_t i = 0; i < n; i++) {
        resp_array(&c->out, 2);
        resp_bulk(&c->out, v[2 * i].s, v[2 * i].len);
        resp_bulk(&c->out, v[2 * i + 1].s, v[2 * i + 1].len);
    }
    mem_free(v);
}

/* WHY domain user permission: unlike CAN, a malformed domain is explained, not refused. */
static void whyDomainCommand(client *c, size_t argc, const resp_arg *argv)
{
    char domain[RBAC_DOMAIN_MAX + 1];
    uint64_t user;
    if (!command_parse_id(c, &argv[2], &user))
        return;
    const char *d = argv[1].ptr;
    size_t dlen = argv[1].len;
    if (rbac_domain_canon(argv[1].ptr, argv[1].len, domain) != RBAC_SCOPE_NONE) {
        d = domain;
        dlen = strlen(domain);
    }
    rbac_reply_lines w;
    rbac_reply_lines_begin(&w, &c->out);
    rbac_why_domain(server.model, d, dlen, user, argv[3].ptr, argv[3].len, rbac_reply_line, &w);
    rbac_reply_lines_end(&w);
}

command cmd_domain_table[] = {
    COMMAND_ROW("can", 4, 4, CMD_FAST | CMD_TRACK_USER, ACL_CAT_CHECK, PROF_MPBACKEND, canCommand,
                "Whether a user holds a permission in a domain: 1 or 0.", "domain user permission",
                NULL),
    COMMAND_ROW("perms", 3, 3, CMD_TRACK_USER, ACL_CAT_CHECK, PROF_MPBACKEND, permsCommand,
                "The permission names of a user in a domain, sorted.", "domain user", NULL),
    COMMAND_ROW("domains", 2, 2, CMD_TRACK_DOMAINS, ACL_CAT_CHECK, PROF_MPBACKEND, domainsCommand,
                "The domains in which a user holds a usable role, sorted.", "user", NULL),
    COMMAND_ROW("userbylogin", 3, 3, CMD_FAST, ACL_CAT_CHECK, PROF_MPBACKEND, userbyloginCommand,
                "The user id of a login method, or nil.", "provider provider_key", NULL),
    COMMAND_ROW("appflags", 2, 2, 0, ACL_CAT_CHECK, PROF_MPBACKEND, appflagsCommand,
                "The [name, arguments] pairs of an application's permission flags.",
                "application_id", NULL),
    COMMAND_ROW("why", 4, 4, CMD_TRACK_USER, ACL_CAT_CHECK, PROF_MPBACKEND, whyDomainCommand,
                "Explains CAN: allow or deny, then the reasons in plain words.",
                "domain user permission", NULL),
    COMMAND_END,
};
