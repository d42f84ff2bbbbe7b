/*
 * Sessions: placeholder until the session store lands. No session commands exist yet.
 */
#include "session.h"

command cmd_session_table[] = {{0}};

bool session_init(void)
{
    return true;
}

void session_shutdown(void) {}

void session_cron(int64_t now_ms)
{
    (void)now_ms;
}

void session_info(buf *out)
{
    (void)out;
}

void session_user_changed(uint64_t tenant, uint64_t user)
{
    (void)tenant;
    (void)user;
}

void session_forget_user(uint64_t tenant, uint64_t user)
{
    (void)tenant;
    (void)user;
}
