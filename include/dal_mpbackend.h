/*
 * dal_mpbackend.c — the mpbackend profile (SPEC §4) as data: the descriptors of the
 * seed's tables rbacd reads, in dependency order, and the BIND / UNBIND write-through
 * changes. The tables are used exactly as the seed's DDL defines them; a row with
 * disabled = 1 does not exist (a NULL or 0 disabled is a live row).
 *
 *   descriptor                                  shape   owner  names (re-read for a newcomer)
 *   ------------------------------------------  ------  -----  -----------------------------
 *   mpbackend_user                              entity
 *   mpbackend_role                              entity
 *   mpbackend_admin_user_role_binding           owned   user   role
 *   mpbackend_developer_user_role_binding       owned   user   role
 *   mpbackend_application_user_role_binding     owned   user   role
 *   mpbackend_account_login_method              entity
 *   mpbackend_application_permission_flag       entity
 *   mpbackend_application_permission_flag_binding  entity (by its own id)
 *
 * The change-log convention of schema/mpbackend/002_triggers.sql: entity_id is the row's
 * id, except for the role bindings and session tokens, where it is the user_id.
 */
#ifndef RBACD_DAL_MPBACKEND_H
#define RBACD_DAL_MPBACKEND_H

#include "dal.h"
#include "dal_write.h"

extern const dal_profile dal_mpbackend;

/* Descriptor indexes (positions in dal_mpbackend.descs). */
enum dal_mpbackend_desc {
    MP_USER = 0,
    MP_ROLE,
    MP_ADMIN_BINDING,
    MP_DEVELOPER_BINDING,
    MP_APPLICATION_BINDING,
    MP_LOGIN,
    MP_FLAG,
    MP_FLAG_BINDING,
    MP_NDESCS,
};

/* The write commands: BIND / UNBIND domain user role. In dal_write_job: target = user,
 * other = role, args[0] = the domain (its syntax already checked). */
enum dal_mpbackend_op {
    MP_OP_BIND = 0,
    MP_OP_UNBIND,
    MP_OP_COUNT,
};

extern const dal_write_op dal_mpbackend_ops[MP_OP_COUNT];

#endif
