/*
 * Applying a batch of re-read rows to the live model, on the loop thread. Every step is
 * a replacement by current state (upsert or remove an entity, replace an owner's whole
 * list), so applying the same batch twice, or a batch older than a write that followed
 * it, cannot leave the model wrong once the later one is applied too.
 *
 * Order matters only where one record names another: tenants before subscriptions,
 * packages and menus before package lists, menus before role lists, roles before user
 * lists. Within a batch that is this fixed order; across batches the lane's commit
 * order does it.
 *
 * Entities new to the model (never held, not merely removed) get a follow-up: the
 * associations naming them were ignored when they were loaded or set, so the next poll
 * reads them again (SYNC_K_MENU_REFS, SYNC_K_ROLE_REFS).
 */
#include "mem.h"
#include "session.h"
#include "sync_internal.h"

#include <string.h>

static void followup(sync_apply_out *out, int kind, uint64_t id)
{
    mem_grow((void **)&out->followups, &out->capfollowups, out->nfollowups + 1,
             sizeof *out->followups);
    out->followups[out->nfollowups++] = (sync_key){id, 0, (uint8_t)kind};
}

static const uint64_t *list_ids(const sync_lists *l, const sync_list *li)
{
    return li->n ? l->pool + li->off : NULL;
}

static void apply_tenants(rbac_model *m, const sync_batch *b)
{
    for (size_t i = 0; i < b->ntenants; i++) {
        const sync_tenant_rec *t = &b->tenants[i];
        if (t->live)
            rbac_add_tenant(m, t->id, t->code, t->status);
        else
            rbac_remove_tenant(m, t->id);
    }
    for (size_t i = 0; i < b->nsubs; i++) {
        const sync_subs *s = &b->subs[i];
        rbac_set_subscriptions(m, s->tenant_id, s->n ? b->sub_rows + s->off : NULL, s->n);
    }
}

static void apply_packages_menus(rbac_model *m, const sync_batch *b, sync_apply_out *out)
{
    for (size_t i = 0; i < b->npackages; i++) {
        const sync_package_rec *p = &b->packages[i];
        if (p->live)
            rbac_add_package(m, p->id, p->code, p->status);
        else
            rbac_remove_package(m, p->id);
    }
    for (size_t i = 0; i < b->nmenus; i++) {
        const sync_menu_rec *mn = &b->menus[i];
        if (!mn->live) {
            rbac_remove_menu(m, mn->id);
            continue;
        }
        bool known = rbac_menu_known(m, mn->id);
        if (!rbac_add_menu(m, mn->id, mn->parent_id, mn->type, mn->name, mn->perms, mn->path,
                           mn->sort, mn->status))
            out->need_full_reload = true; /* a new id below the highest: bitmap order */
        else if (!known)
            followup(out, SYNC_K_MENU_REFS, mn->id);
    }
    const sync_lists *pl = &b->lists[SYNC_L_PACKAGE_MENUS];
    for (size_t i = 0; i < pl->n; i++)
        rbac_set_package_menus(m, pl->items[i].owner, list_ids(pl, &pl->items[i]), pl->items[i].n);
    const sync_lists *mp = &b->lists[SYNC_L_MENU_PACKAGES];
    for (size_t i = 0; i < mp->n; i++)
        for (size_t k = 0; k < mp->items[i].n; k++)
            rbac_add_package_menu(m, mp->pool[mp->items[i].off + k], mp->items[i].owner);
}

static void apply_roles(rbac_model *m, const sync_batch *b, sync_apply_out *out)
{
    for (size_t i = 0; i < b->nroles; i++) {
        const sync_role_rec *r = &b->roles[i];
        if (!r->live) {
            rbac_remove_role(m, r->id);
            continue;
        }
        bool known = rbac_role_known(m, r->id);
        rbac_add_role(m, r->id, r->tenant_id, r->code, r->status);
        if (!known)
            followup(out, SYNC_K_ROLE_REFS, r->id);
    }
    const sync_lists *rl = &b->lists[SYNC_L_ROLE_MENUS];
    for (size_t i = 0; i < rl->n; i++)
        rbac_set_role_menus(m, rl->items[i].owner, list_ids(rl, &rl->items[i]), rl->items[i].n);
    const sync_lists *mr = &b->lists[SYNC_L_MENU_ROLES];
    for (size_t i = 0; i < mr->n; i++)
        for (size_t k = 0; k < mr->items[i].n; k++)
            rbac_add_role_menu(m, mr->pool[mr->items[i].off + k], mr->items[i].owner);
}

static void apply_users(rbac_model *m, const sync_batch *b)
{
    for (size_t i = 0; i < b->nusers; i++) {
        const sync_user_rec *u = &b->users[i];
        if (u->live)
            rbac_add_user(m, u->id, u->tenant_id, u->status, u->admin);
        else
            rbac_remove_user(m, u->id);
    }
    static bool (*const setters[])(rbac_model *, uint64_t, const uint64_t *, size_t) = {
        [SYNC_L_USER_ROLES] = rbac_set_user_roles,
        [SYNC_L_USER_STORES] = rbac_set_user_stores,
        [SYNC_L_USER_DELEGATES] = rbac_set_user_delegates,
    };
    for (int kind = SYNC_L_USER_ROLES; kind <= SYNC_L_USER_DELEGATES; kind++) {
        const sync_lists *l = &b->lists[kind];
        for (size_t i = 0; i < l->n; i++)
            setters[kind](m, l->items[i].owner, list_ids(l, &l->items[i]), l->items[i].n);
    }
    const sync_lists *ru = &b->lists[SYNC_L_ROLE_USERS];
    for (size_t i = 0; i < ru->n; i++)
        for (size_t k = 0; k < ru->items[i].n; k++)
            rbac_add_user_role(m, ru->pool[ru->items[i].off + k], ru->items[i].owner);
}

void sync_apply_batch(rbac_model *m, const sync_batch *b, sync_apply_out *out)
{
    apply_tenants(m, b);
    apply_packages_menus(m, b, out);
    apply_roles(m, b, out);
    apply_users(m, b);
    for (size_t i = 0; i < b->nsessions; i++)
        session_user_changed(b->sessions[i].tenant_id, b->sessions[i].user_id);
    out->applied += sync_batch_records(b);
}
