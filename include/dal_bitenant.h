/*
 * dal_bitenant.c — the bi-tenant profile (SPEC §1) as data: the descriptors of the
 * tables it caches, in dependency order, and its write-through changes (ROLE, USER,
 * TENANT commands of SPEC §2), each a dal_write_op.
 *
 *   descriptor            shape   owner         names (re-read for a newcomer)
 *   --------------------  ------  ------------  -------------------------------
 *   tenant                entity
 *   tenant_subscription   owned   tenant        (package: kept even if unknown)
 *   tenant_package        entity
 *   tenant_menu           entity
 *   tenant_package_menu   owned   package       menu
 *   tenant_role           entity  (tenant_id)
 *   tenant_role_menu      owned   role          menu
 *   tenant_user           entity  (tenant_id)
 *   tenant_user_role      owned   user          role
 *   tenant_user_store     owned   user
 *   tenant_user_delegate  owned   user          (delegates are looked up at read time)
 */
#ifndef RBACD_DAL_BITENANT_H
#define RBACD_DAL_BITENANT_H

#include "dal.h"
#include "dal_write.h"

/* The profile: descriptors plus the tenant_session change log name. */
extern const dal_profile dal_bitenant;

/* Descriptor indexes (positions in dal_bitenant.descs). */
enum dal_bitenant_desc {
    BT_TENANT = 0,
    BT_SUBSCRIPTION,
    BT_PACKAGE,
    BT_MENU,
    BT_PACKAGE_MENU,
    BT_ROLE,
    BT_ROLE_MENU,
    BT_USER,
    BT_USER_ROLE,
    BT_USER_STORE,
    BT_USER_DELEGATE,
    BT_NDESCS,
};

/* The write commands. Arguments in dal_write_job: tenant always; then
 *   ROLE GRANT/REVOKE        target = role, args = menus (ids or perms codes)
 *   USER ADDROLE/DELROLE...  target = user, other = role / store / delegate user
 *   USER ENABLE/DISABLE      target = user
 *   TENANT SUBSCRIBE         target = package, start_ms, end_ms
 *   TENANT ENABLE/DISABLE    nothing more */
enum dal_bitenant_op {
    BT_OP_ROLE_GRANT = 0,
    BT_OP_ROLE_REVOKE,
    BT_OP_USER_ADDROLE,
    BT_OP_USER_DELROLE,
    BT_OP_USER_ENABLE,
    BT_OP_USER_DISABLE,
    BT_OP_USER_ADDSTORE,
    BT_OP_USER_DELSTORE,
    BT_OP_USER_DELEGATE,
    BT_OP_USER_UNDELEGATE,
    BT_OP_TENANT_SUBSCRIBE,
    BT_OP_TENANT_ENABLE,
    BT_OP_TENANT_DISABLE,
    BT_OP_COUNT,
};

extern const dal_write_op dal_bitenant_ops[BT_OP_COUNT];

#endif
