-- 002_triggers.sql — every insert, update and delete on a table rbacd caches in profile
-- mpbackend leaves one row in rbac_change (001_rbac_change.sql), which rbacd polls (by
-- id) to apply changes other programs make: the mpbackend service itself, a DBA, a
-- migration (sessions rbacd inserts itself are the one exception: see
-- mpbackend_user_session_token below). Triggers are AFTER triggers: a statement that fails leaves no change row,
-- and the row commits or rolls back with the change itself.
--
-- What a change row means (the sync code relies on this exactly):
--
--   entity     the table name.
--   op         'I' insert, 'U' update (disabled = 1 and back included), 'D' delete.
--   tenant_id  always 0: this schema has no tenants.
--   entity_id  for a table whose rows rbacd looks up by their own id: that id.
--              for a table rbacd reads per user (role bindings, sessions): the
--              user_id of the row, so that a reader reloads that user's whole list
--              (this works after a delete too, when the row is gone):
--
--     table                                          entity_id   tenant_id
--     ---------------------------------------------  ----------  ---------
--     mpbackend_user                                 id          0
--     mpbackend_role                                 id          0
--     mpbackend_admin_user_role_binding              user_id     0
--     mpbackend_developer_user_role_binding          user_id     0
--     mpbackend_application_user_role_binding        user_id     0
--     mpbackend_account_login_method                 id          0
--     mpbackend_application_permission_flag          id          0
--     mpbackend_application_permission_flag_binding  id          0
--     mpbackend_user_session_token                   user_id     0
--
--   An UPDATE that changes a row's id (tables keyed by id) or moves it to another user
--   (tables keyed by user_id) writes two rows: first one for the old entity_id, then
--   one for the new, so that both sides are reloaded. Any other UPDATE writes one row
--   per row it matched, whatever columns it changed (MariaDB fires AFTER UPDATE for a
--   matched row even when no value changed).
--
-- The service's tables number rows with signed BIGINT; rbac_change.entity_id is
-- unsigned, as in the bi-tenant profile. Ids are positive in practice; in strict mode
-- (MariaDB's default) a statement that writes a negative id to one of these tables
-- fails with "Out of range value for column 'entity_id'".
--
-- Other tables of the service (applications, versions, files, developers) are not
-- cached by rbacd and have no triggers. Each trigger body is a single statement (no
-- DELIMITER needed): the UPDATE trigger writes its optional "old" row with
-- INSERT ... SELECT ... WHERE.

-- mpbackend_user — the user; entity_id = its id
CREATE TRIGGER trg_mpbackend_user_ai AFTER INSERT ON mpbackend_user FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_user', NEW.id, 'I');

CREATE TRIGGER trg_mpbackend_user_au AFTER UPDATE ON mpbackend_user FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_user', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT 0, 'mpbackend_user', NEW.id, 'U';

CREATE TRIGGER trg_mpbackend_user_ad AFTER DELETE ON mpbackend_user FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_user', OLD.id, 'D');

-- mpbackend_role — the role (roles are global); entity_id = its id
CREATE TRIGGER trg_mpbackend_role_ai AFTER INSERT ON mpbackend_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_role', NEW.id, 'I');

CREATE TRIGGER trg_mpbackend_role_au AFTER UPDATE ON mpbackend_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_role', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT 0, 'mpbackend_role', NEW.id, 'U';

CREATE TRIGGER trg_mpbackend_role_ad AFTER DELETE ON mpbackend_role FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_role', OLD.id, 'D');

-- mpbackend_admin_user_role_binding — owner = the bound user; entity_id = user_id
CREATE TRIGGER trg_mpbackend_admin_user_role_binding_ai AFTER INSERT ON mpbackend_admin_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_admin_user_role_binding', NEW.user_id, 'I');

CREATE TRIGGER trg_mpbackend_admin_user_role_binding_au AFTER UPDATE ON mpbackend_admin_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_admin_user_role_binding', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT 0, 'mpbackend_admin_user_role_binding', NEW.user_id, 'U';

CREATE TRIGGER trg_mpbackend_admin_user_role_binding_ad AFTER DELETE ON mpbackend_admin_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_admin_user_role_binding', OLD.user_id, 'D');

-- mpbackend_developer_user_role_binding — owner = the bound user; entity_id = user_id
CREATE TRIGGER trg_mpbackend_developer_user_role_binding_ai AFTER INSERT ON mpbackend_developer_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_developer_user_role_binding', NEW.user_id, 'I');

CREATE TRIGGER trg_mpbackend_developer_user_role_binding_au AFTER UPDATE ON mpbackend_developer_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_developer_user_role_binding', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT 0, 'mpbackend_developer_user_role_binding', NEW.user_id, 'U';

CREATE TRIGGER trg_mpbackend_developer_user_role_binding_ad AFTER DELETE ON mpbackend_developer_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_developer_user_role_binding', OLD.user_id, 'D');

-- mpbackend_application_user_role_binding — owner = the bound user; entity_id = user_id
CREATE TRIGGER trg_mpbackend_application_user_role_binding_ai AFTER INSERT ON mpbackend_application_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_application_user_role_binding', NEW.user_id, 'I');

CREATE TRIGGER trg_mpbackend_application_user_role_binding_au AFTER UPDATE ON mpbackend_application_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_application_user_role_binding', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT 0, 'mpbackend_application_user_role_binding', NEW.user_id, 'U';

CREATE TRIGGER trg_mpbackend_application_user_role_binding_ad AFTER DELETE ON mpbackend_application_user_role_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_application_user_role_binding', OLD.user_id, 'D');

-- mpbackend_account_login_method — the login method row; entity_id = its id
CREATE TRIGGER trg_mpbackend_account_login_method_ai AFTER INSERT ON mpbackend_account_login_method FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_account_login_method', NEW.id, 'I');

CREATE TRIGGER trg_mpbackend_account_login_method_au AFTER UPDATE ON mpbackend_account_login_method FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_account_login_method', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT 0, 'mpbackend_account_login_method', NEW.id, 'U';

CREATE TRIGGER trg_mpbackend_account_login_method_ad AFTER DELETE ON mpbackend_account_login_method FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_account_login_method', OLD.id, 'D');

-- mpbackend_application_permission_flag — the flag; entity_id = its id
CREATE TRIGGER trg_mpbackend_application_permission_flag_ai AFTER INSERT ON mpbackend_application_permission_flag FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_application_permission_flag', NEW.id, 'I');

CREATE TRIGGER trg_mpbackend_application_permission_flag_au AFTER UPDATE ON mpbackend_application_permission_flag FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_application_permission_flag', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT 0, 'mpbackend_application_permission_flag', NEW.id, 'U';

CREATE TRIGGER trg_mpbackend_application_permission_flag_ad AFTER DELETE ON mpbackend_application_permission_flag FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_application_permission_flag', OLD.id, 'D');

-- mpbackend_application_permission_flag_binding — the binding row; entity_id = its id
CREATE TRIGGER trg_mpbackend_application_permission_flag_binding_ai AFTER INSERT ON mpbackend_application_permission_flag_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_application_permission_flag_binding', NEW.id, 'I');

CREATE TRIGGER trg_mpbackend_application_permission_flag_binding_au AFTER UPDATE ON mpbackend_application_permission_flag_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_application_permission_flag_binding', OLD.id, 'U' FROM DUAL
     WHERE OLD.id <> NEW.id
    UNION ALL
    SELECT 0, 'mpbackend_application_permission_flag_binding', NEW.id, 'U';

CREATE TRIGGER trg_mpbackend_application_permission_flag_binding_ad AFTER DELETE ON mpbackend_application_permission_flag_binding FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_application_permission_flag_binding', OLD.id, 'D');

-- mpbackend_user_session_token — owner = the session's user; entity_id = user_id
-- A session rbacd inserts itself (its session lane's connections set
-- @rbacd_session_lane) leaves no row: nobody holds anything about a token just made,
-- and another instance finds it by reading through. Revocations, deletes and the
-- inserts of other programs are logged.
CREATE TRIGGER trg_mpbackend_user_session_token_ai AFTER INSERT ON mpbackend_user_session_token FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_user_session_token', NEW.user_id, 'I' FROM DUAL WHERE @rbacd_session_lane IS NULL;

CREATE TRIGGER trg_mpbackend_user_session_token_au AFTER UPDATE ON mpbackend_user_session_token FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    SELECT 0, 'mpbackend_user_session_token', OLD.user_id, 'U' FROM DUAL
     WHERE OLD.user_id <> NEW.user_id
    UNION ALL
    SELECT 0, 'mpbackend_user_session_token', NEW.user_id, 'U';

CREATE TRIGGER trg_mpbackend_user_session_token_ad AFTER DELETE ON mpbackend_user_session_token FOR EACH ROW
    INSERT INTO rbac_change (tenant_id, entity, entity_id, op)
    VALUES (0, 'mpbackend_user_session_token', OLD.user_id, 'D');
