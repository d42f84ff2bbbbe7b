-- 001_rbac_change.sql — the change log rbacd follows in profile mpbackend.
--
-- Applied after the mpbackend service's own tables (schema/mpbackend/seed/), which it
-- leaves as they are. The columns are those of the bi-tenant profile's rbac_change
-- (schema/001_tables.sql), except that entity is VARCHAR(64): it holds a table name,
-- and mpbackend's are longer than 32 characters. The rows are written by the triggers
-- of 002_triggers.sql, whose header says what entity_id means for each table; every
-- tenant_id is 0 (this schema has no tenants). Readers follow the log by id; old rows
-- are purged by changed_at.
CREATE TABLE rbac_change (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL COMMENT 'always 0 in profile mpbackend',
    entity          VARCHAR(64)      NOT NULL COMMENT 'table name',
    entity_id       BIGINT UNSIGNED  NOT NULL COMMENT 'row id, or owning user id for user-keyed tables',
    op              CHAR(1)          NOT NULL COMMENT 'I insert, U update, D delete',
    changed_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_change_changed_at (changed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='change log written by triggers, followed by rbacd';
