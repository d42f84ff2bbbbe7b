-- 003_triggers.sql — every insert, update and delete on a table rbacd caches leaves
-- one row in rbac_change, which rbacd polls (by id) to apply changes other programs
-- make. The one exception: sessions rbacd inserts itself (see tenant_session below). Triggers are AFTER triggers: a statement that fails leaves no change row, and
-- the row commits or rolls back with the change itself.
--
-- What a change row means (the sync code relies on this):
--
--   entity     the table name.
--   op         'I' insert, 'U' update (soft deletes and status changes included),
--              'D' delete.
--   entity_id  for an ENTITY table: the id of the row.
--              for an ASSOCIATION table: the id of the OWNING entity, so that a reader
--              reloads that owner's whole list (this works after a delete too, when
--              the association row is gone):
--
--     table                  entity_id                 tenant_id
--     ---------------------  ------------------------  -------------------------
--     tenant                 tenant.id                 tenant.id
--     tenant_package         tenant_package.id         0 (platform-wide)
--     tenant_menu            tenant_menu.id            0 (platform-wide)
--     tenant_package_menu    package_id                0 (platform-wide)
--     tenant_subscription    tenant_subscription.id    its tenant_id
--     tenant_role            tenant_role.id            its tenant_id
--     tenant_role_menu       role_id                   its tenant_id
--     tenant_user            tenant_user.id            its tenant_id
--     tenant_user_role       user_id                   its tenant_id
--     tenant_user_store      user_id                   its tenant_id
--     tenant_user_delegate   user_id (who inherits)    its tenant_id
--     tenant_session         user_id                   its tenant_id
--
--   An UPDATE that moves a row to another owner or tenant (or changes an entity's
--   id) writes two rows: first one for the old (tenant_id, entity_id), then one for
--   the new, so that both sides are reloaded. Any other UPDATE writes one row.
--
-- Each trigger body is a single statement (no DELIMITER needed): the UPDATE trigger
-- writes its optional "old owner" row with INSERT ... SELECT ... WHERE.

-- tenant — entity: the tenant itself; tenant_id = its id
CREATE TRIGGER trg_tenant_ai AFTER INSERT ON tenant FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.id, 'tenant', NEW.id, 'I');

CREATE TRIGGER trg_tenant_au AFTER UPDATE ON tenant FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.id, 'tenant', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT NEW.id, 'tenant', NEW.id, 'U';

CREATE TRIGGER trg_tenant_ad AFTER DELETE ON tenant FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.id, 'tenant', OLD.id, 'D');

-- tenant_package — entity: the package; platform-wide
CREATE TRIGGER trg_tenant_package_ai AFTER INSERT ON tenant_package FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'tenant_package', NEW.id, 'I');

CREATE TRIGGER trg_tenant_package_au AFTER UPDATE ON tenant_package FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'tenant_package', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT 0, 'tenant_package', NEW.id, 'U';

CREATE TRIGGER trg_tenant_package_ad AFTER DELETE ON tenant_package FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'tenant_package', OLD.id, 'D');

-- tenant_menu — entity: the menu; platform-wide (a soft delete is an UPDATE: op U)
CREATE TRIGGER trg_tenant_menu_ai AFTER INSERT ON tenant_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'tenant_menu', NEW.id, 'I');

CREATE TRIGGER trg_tenant_menu_au AFTER UPDATE ON tenant_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'tenant_menu', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT 0, 'tenant_menu', NEW.id, 'U';

CREATE TRIGGER trg_tenant_menu_ad AFTER DELETE ON tenant_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'tenant_menu', OLD.id, 'D');

-- tenant_package_menu — association: owner = the package; platform-wide
CREATE TRIGGER trg_tenant_package_menu_ai AFTER INSERT ON tenant_package_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'tenant_package_menu', NEW.package_id, 'I');

CREATE TRIGGER trg_tenant_package_menu_au AFTER UPDATE ON tenant_package_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'tenant_package_menu', OLD.package_id, 'U' FROM DUAL
     WHERE OLD.package_id <> NEW.package_id
    UNION ALL
    SELECT 0, 'tenant_package_menu', NEW.package_id, 'U';

CREATE TRIGGER trg_tenant_package_menu_ad AFTER DELETE ON tenant_package_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'tenant_package_menu', OLD.package_id, 'D');

-- tenant_subscription — entity: the subscription; tenant_id = its tenant
CREATE TRIGGER trg_tenant_subscription_ai AFTER INSERT ON tenant_subscription FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.tenant_id, 'tenant_subscription', NEW.id, 'I');

CREATE TRIGGER trg_tenant_subscription_au AFTER UPDATE ON tenant_subscription FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_subscription', OLD.id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.id <> NEW.id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_subscription', NEW.id, 'U';

CREATE TRIGGER trg_tenant_subscription_ad AFTER DELETE ON tenant_subscription FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_subscription', OLD.id, 'D');

-- tenant_role — entity: the role
CREATE TRIGGER trg_tenant_role_ai AFTER INSERT ON tenant_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.tenant_id, 'tenant_role', NEW.id, 'I');

CREATE TRIGGER trg_tenant_role_au AFTER UPDATE ON tenant_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_role', OLD.id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.id <> NEW.id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_role', NEW.id, 'U';

CREATE TRIGGER trg_tenant_role_ad AFTER DELETE ON tenant_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_role', OLD.id, 'D');

-- tenant_role_menu — association: owner = the role
CREATE TRIGGER trg_tenant_role_menu_ai AFTER INSERT ON tenant_role_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.tenant_id, 'tenant_role_menu', NEW.role_id, 'I');

CREATE TRIGGER trg_tenant_role_menu_au AFTER UPDATE ON tenant_role_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_role_menu', OLD.role_id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.role_id <> NEW.role_id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_role_menu', NEW.role_id, 'U';

CREATE TRIGGER trg_tenant_role_menu_ad AFTER DELETE ON tenant_role_menu FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_role_menu', OLD.role_id, 'D');

-- tenant_user — entity: the user
CREATE TRIGGER trg_tenant_user_ai AFTER INSERT ON tenant_user FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.tenant_id, 'tenant_user', NEW.id, 'I');

CREATE TRIGGER trg_tenant_user_au AFTER UPDATE ON tenant_user FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_user', OLD.id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.id <> NEW.id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_user', NEW.id, 'U';

CREATE TRIGGER trg_tenant_user_ad AFTER DELETE ON tenant_user FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_user', OLD.id, 'D');

-- tenant_user_role — association: owner = the user
CREATE TRIGGER trg_tenant_user_role_ai AFTER INSERT ON tenant_user_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.tenant_id, 'tenant_user_role', NEW.user_id, 'I');

CREATE TRIGGER trg_tenant_user_role_au AFTER UPDATE ON tenant_user_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_user_role', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_user_role', NEW.user_id, 'U';

CREATE TRIGGER trg_tenant_user_role_ad AFTER DELETE ON tenant_user_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_user_role', OLD.user_id, 'D');

-- tenant_user_store — association: owner = the user
CREATE TRIGGER trg_tenant_user_store_ai AFTER INSERT ON tenant_user_store FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.tenant_id, 'tenant_user_store', NEW.user_id, 'I');

CREATE TRIGGER trg_tenant_user_store_au AFTER UPDATE ON tenant_user_store FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_user_store', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_user_store', NEW.user_id, 'U';

CREATE TRIGGER trg_tenant_user_store_ad AFTER DELETE ON tenant_user_store FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_user_store', OLD.user_id, 'D');

-- tenant_user_delegate — association: owner = the inheriting user (user_id)
CREATE TRIGGER trg_tenant_user_delegate_ai AFTER INSERT ON tenant_user_delegate FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (NEW.tenant_id, 'tenant_user_delegate', NEW.user_id, 'I');

CREATE TRIGGER trg_tenant_user_delegate_au AFTER UPDATE ON tenant_user_delegate FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_user_delegate', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_user_delegate', NEW.user_id, 'U';

CREATE TRIGGER trg_tenant_user_delegate_ad AFTER DELETE ON tenant_user_delegate FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_user_delegate', OLD.user_id, 'D');

-- tenant_session — association: owner = the session's user
-- A session rbacd inserts itself (its session lane's connections set
-- @rbacd_session_lane) leaves no row: nobody holds anything about a token just made,
-- and another instance finds it by reading through. Revocations, deletes and the
-- inserts of other programs are logged.
CREATE TRIGGER trg_tenant_session_ai AFTER INSERT ON tenant_session FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT NEW.tenant_id, 'tenant_session', NEW.user_id, 'I' FROM DUAL WHERE @rbacd_session_lane IS NULL;

CREATE TRIGGER trg_tenant_session_au AFTER UPDATE ON tenant_session FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT OLD.tenant_id, 'tenant_session', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.tenant_id <> NEW.tenant_id OR OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT NEW.tenant_id, 'tenant_session', NEW.user_id, 'U';

CREATE TRIGGER trg_tenant_session_ad AFTER DELETE ON tenant_session FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (OLD.tenant_id, 'tenant_session', OLD.user_id, 'D');
