/*
 * The model's answers as RESP (see rbac_reply.h). MENUS and MENUS CODES go through one
 * scratch list of menu indexes reused from call to call; MENUS TREE asks the engine for
 * the tree order and encodes each entry as a 7-element array.
 */
#include "rbac_reply.h"
#include "mem.h"
#include "util.h"

#include <string.h>

#define MENUS_SCRATCH_KEEP 65536 /* menu indexes the MENUS scratch keeps between calls */

/* The scratch of MENUS and MENUS CODES. Everything here runs on the loop thread only,
 * one call at a time, so one list serves every client and its storage is reused; after
 * an unusually large answer it is released, so a burst does not pin memory. */
static rbac_menu_list menus_scratch;

void rbac_reply_id(buf *out, uint64_t id)
{
    if (id <= (uint64_t)INT64_MAX)
        resp_int(out, (long long)id);
    else
        resp_bulk_u64(out, id);
}

static void reply_str_or_empty(buf *out, const char *s)
{
    resp_bulk_str(out, s ? s : "");
}

bool rbac_reply_parse_menu(const rbac_model *m, const resp_arg *a, uint32_t *idx)
{
    *idx = RBAC_NONE;
    if (util_all_digits(a->ptr, a->len)) {
        uint64_t id;
        if (!util_parse_u64(a->ptr, a->len, &id))
            return false;
        if (m)
            *idx = rbac_menu_by_id(m, id);
        return true;
    }
    if (m)
        *idx = rbac_menu_by_code(m, a->ptr, a->len);
    return true;
}

bool rbac_reply_parse_form(const resp_arg *a, int *form)
{
    if (util_eq_nocase(a->ptr, a->len, "codes"))
        *form = RBAC_REPLY_CODES;
    else if (util_eq_nocase(a->ptr, a->len, "tree"))
        *form = RBAC_REPLY_TREE;
    else
        return false;
    return true;
}

static void reply_menu_ids(buf *out, const rbac_model *m, const rbac_menu_list *l)
{
    resp_array(out, l->n);
    for (size_t k = 0; k < l->n; k++) {
        rbac_menu_info info;
        if (rbac_menu_get(m, l->idx[k], &info))
            rbac_reply_id(out, info.id);
        else
            resp_int(out, 0); /* cannot happen: the count is already sent */
    }
}

/* Counts the codes first and writes the header before them: a deferred header would
 * move the whole reply to make room. */
static void reply_menu_codes(buf *out, const rbac_model *m, const rbac_menu_list *l)
{
    size_t count = 0, len;
    for (size_t k = 0; k < l->n; k++)
        if (rbac_menu_perms(m, l->idx[k], &len))
            count++;
    resp_array(out, count);
    for (size_t k = 0; k < l->n; k++) {
        const char *perms = rbac_menu_perms(m, l->idx[k], &len);
        if (perms)
            resp_bulk(out, perms, len);
    }
}

static void reply_menu_tree(buf *out, const rbac_model *m, uint64_t tenant, uint64_t user,
                            int64_t now)
{
    uint32_t *idx;
    size_t n = rbac_tree(m, tenant, user, now, &idx);
    resp_array(out, n);
    for (size_t i = 0; i < n; i++) {
        rbac_menu_info info;
        if (!rbac_menu_get(m, idx[i], &info))
            memset(&info, 0, sizeof info); /* cannot happen; keeps the reply well formed */
        resp_array(out, 7);
        rbac_reply_id(out, info.id);
        rbac_reply_id(out, info.parent_id);
        resp_int(out, info.type);
        reply_str_or_empty(out, info.name);
        reply_str_or_empty(out, info.perms);
        reply_str_or_empty(out, info.path);
        resp_int(out, info.sort);
    }
    mem_free(idx);
}

void rbac_reply_menus(buf *out, const rbac_model *m, uint64_t tenant, uint64_t user, int form,
                      int64_t now_ms)
{
    if (form == RBAC_REPLY_TREE) {
        reply_menu_tree(out, m, tenant, user, now_ms);
        return;
    }
    rbac_menus_list(m, tenant, user, now_ms, &menus_scratch);
    if (form == RBAC_REPLY_CODES)
        reply_menu_codes(out, m, &menus_scratch);
    else
        reply_menu_ids(out, m, &menus_scratch);
    if (menus_scratch.cap > MENUS_SCRATCH_KEEP)
        rbac_menu_list_free(&menus_scratch);
}

void rbac_reply_lines_begin(rbac_reply_lines *l, buf *out)
{
    l->out = out;
    l->count = 0;
    l->pos = resp_defer(out);
}

void rbac_reply_line(void *ctx, const char *line, size_t len)
{
    rbac_reply_lines *l = ctx;
    resp_bulk(l->out, line, len);
    l->count++;
}

void rbac_reply_lines_end(rbac_reply_lines *l)
{
    resp_defer_set(l->out, l->pos, '*', l->count);
}
