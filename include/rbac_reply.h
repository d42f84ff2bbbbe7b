/*
 * rbac_reply.c — the model's answers as RESP: the MENUS reply in its three forms and
 * the parsing of the arguments that name a menu or a form. Shared by the permission
 * reads (cmd_rbac.c) and the session module (SESSION CANMENU, SESSION MENUS), so that
 * neither calls into the other.
 *
 *   cmd_rbac.c  --\
 *                  +--> rbac_reply_* (model + arguments -> RESP into a buf) --> rbac.h
 *   session.c   --/
 *
 * Everything here runs on the loop thread (it reads the live model). Nothing replies
 * to a client: encoders append to the buffer they are given, parsers say what is wrong
 * and the caller replies.
 */
#ifndef RBACD_RBAC_REPLY_H
#define RBACD_RBAC_REPLY_H

#include "buf.h"
#include "rbac.h"
#include "resp.h"

#include <stdbool.h>
#include <stdint.h>

/* The forms of the MENUS reply. */
enum rbac_reply_form {
    RBAC_REPLY_IDS = 0,   /* ascending menu ids */
    RBAC_REPLY_CODES = 1, /* perms codes by menu id */
    RBAC_REPLY_TREE = 2,  /* [id, parent, type, name, perms, path, sort] depth-first */
};

/* Appends an id as an integer, or as a bulk string of its digits above 2^63-1 (which a
 * RESP integer cannot hold). */
void rbac_reply_id(buf *out, uint64_t id);

/* WHY's answer: a deferred array header, then one bulk string per line the engine
 * emits (rbac_why, rbac_why_domain take rbac_reply_line as their rbac_line_fn). */
typedef struct rbac_reply_lines {
    buf *out;     /* where the lines go */
    size_t pos;   /* the deferred header */
    size_t count; /* lines written */
} rbac_reply_lines;
void rbac_reply_lines_begin(rbac_reply_lines *l, buf *out);
void rbac_reply_line(void *ctx, const char *line, size_t len);
void rbac_reply_lines_end(rbac_reply_lines *l);

/* A menu argument: all digits = an id, anything else = a perms code. *idx is RBAC_NONE
 * when it names no live menu of m (or m is NULL). Returns false only for an all-digit
 * argument beyond 2^64-1 (*idx is then RBAC_NONE); the caller replies the error. */
bool rbac_reply_parse_menu(const rbac_model *m, const resp_arg *a, uint32_t *idx)
    __attribute__((warn_unused_result));

/* The MENUS form word: CODES or TREE (any case) into *form (enum rbac_reply_form);
 * false, *form untouched, for anything else. */
bool rbac_reply_parse_form(const resp_arg *a, int *form) __attribute__((warn_unused_result));

/* Appends the MENUS reply of user in tenant at now_ms, in form (enum rbac_reply_form),
 * to out. Never fails: an unknown tenant or user, or no model, is an empty array. */
void rbac_reply_menus(buf *out, const rbac_model *m, uint64_t tenant, uint64_t user, int form,
                      int64_t now_ms);

#endif
