/*
 * What client tracking (tracking.c) asks the engine about a change: whose answers it
 * may touch. Read-only walks over a finished model on the loop thread; nothing here
 * changes the model. The walks over every tenant or every subscription are O(tenants)
 * and run only for changes that are rare (a package, a menu, a subscription).
 */
#include "rbac_internal.h"

#include <stdint.h>

bool rbac_user_tenant(const rbac_model *m, uint64_t user, uint64_t *tenant)
{
    uint32_t ui = m ? rbac_slot(&m->user_ix, user) : RBAC_NONE;
    if (ui == RBAC_NONE)
        return false;
    *tenant = m->tenants[m->users[ui].tenant].id;
    return true;
}

bool rbac_role_tenant(const rbac_model *m, uint64_t role, uint64_t *tenant)
{
    uint32_t ri = m ? rbac_slot(&m->role_ix, role) : RBAC_NONE;
    if (ri == RBAC_NONE)
        return false;
    *tenant = m->tenants[m->roles[ri].tenant].id;
    return true;
}

int rbac_role_scope(const rbac_model *m, uint64_t role)
{
    uint32_t ri = m ? rbac_slot(&m->role_ix, role) : RBAC_NONE;
    return ri == RBAC_NONE ? RBAC_SCOPE_NONE : m->roles[ri].scope;
}

bool rbac_user_delegates_to(const rbac_model *m, uint64_t user, uint64_t delegate)
{
    uint32_t ui = m ? rbac_slot(&m->user_ix, user) : RBAC_NONE;
    if (ui == RBAC_NONE)
        return false;
    const rbac_user *u = &m->users[ui];
    const uint64_t *d = rbac_u64_items(&u->delegates, u->ndelegates);
    for (size_t i = 0; i < u->ndelegates; i++)
        if (d[i] == delegate)
            return true;
    return false;
}

void rbac_each_tenant(const rbac_model *m, uint64_t package, rbac_id_fn *fn, void *ctx)
{
    for (size_t i = 0; m && i < m->ntenants; i++) {
        const rbac_tenant *t = &m->tenants[i];
        bool hit = package == 0;
        for (uint32_t k = 0; !hit && k < t->nsubs; k++)
            hit = t->subs[k].package_id == package;
        if (hit && t->id != 0)
            fn(ctx, t->id);
    }
}

/* Whether at lies in (from, to]. */
static bool within(int64_t at, int64_t from, int64_t to)
{
    return at > from && at <= to;
}

int64_t rbac_next_boundary(const rbac_model *m, int64_t after_ms)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; m && i < m->ntenants; i++) {
        const rbac_tenant *t = &m->tenants[i];
        for (uint32_t k = 0; k < t->nsubs; k++) {
            const rbac_sub *s = &t->subs[k];
            if (!s->status)
                continue;
            if (s->start_ms > after_ms && s->start_ms < next)
                next = s->start_ms;
            if (s->end_ms > after_ms && s->end_ms < next)
                next = s->end_ms;
        }
    }
    return next;
}

void rbac_each_boundary_tenant(const rbac_model *m, int64_t from_ms, int64_t to_ms, rbac_id_fn *fn,
                               void *ctx)
{
    for (size_t i = 0; m && i < m->ntenants; i++) {
        const rbac_tenant *t = &m->tenants[i];
        for (uint32_t k = 0; k < t->nsubs; k++) {
            const rbac_sub *s = &t->subs[k];
            if (s->status &&
                (within(s->start_ms, from_ms, to_ms) || within(s->end_ms, from_ms, to_ms))) {
                fn(ctx, t->id);
                break;
            }
        }
    }
}
