-- 001_tables.sql — the bi-tenant model: tenants, packages, menus, organisations,
-- users, roles, their bindings, sessions and the change log rbacd follows.
--
-- Conventions, shared by every table:
--   * ids are BIGINT UNSIGNED; entity tables number them with AUTO_INCREMENT;
--   * every DATETIME holds UTC; created_at / updated_at are kept by the server;
--   * deleted_at is a soft-delete mark: 0 = live, otherwise the unix time in
--     milliseconds of the deletion. Unique keys include it so that a deleted row never
--     blocks a new one with the same code;
--   * status: 1 enabled, 0 disabled;
--   * no foreign keys: rows are soft-deleted, and every reader (rbacd included) treats
--     a dangling reference as "does not exist";
--   * codes that programs match byte for byte (tenant_code, package_code, perms,
--     username, role_code) use a binary collation, so that the database's idea of
--     "the same code" is the program's.
--
-- Indexes follow the access paths: tenant-scoped tables lead with tenant_id (full and
-- one-tenant loads), association tables are unique on (owner, target) so that the
-- owner's list is one range read (change-log sync reloads lists by owner), and carry
-- a key on the target for the reverse direction.
--
-- Applied to an empty database; creates tables only (partitioned logs: 002, triggers:
-- 003).

-- ---------------------------------------------------------------------------------
-- tenant: one customer organisation of the SaaS service.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_code     VARCHAR(64)      COLLATE utf8mb4_bin NOT NULL COMMENT 'login-facing code, e.g. demo',
    tenant_name     VARCHAR(128)     NOT NULL,
    contact_name    VARCHAR(64)      NOT NULL DEFAULT '',
    contact_phone   VARCHAR(32)      NOT NULL DEFAULT '',
    contact_email   VARCHAR(128)     NOT NULL DEFAULT '',
    status          TINYINT          NOT NULL DEFAULT 1 COMMENT '1 enabled, 0 disabled',
    deleted_at      BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 live, else unix ms of deletion',
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_tenant_code (tenant_code, deleted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='SaaS tenants';

-- ---------------------------------------------------------------------------------
-- tenant_package: a subscription tier (trial, pro, ...) = a set of menus. Prices and
-- durations belong to subscriptions, not to packages.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_package (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    package_code    VARCHAR(64)      COLLATE utf8mb4_bin NOT NULL,
    package_name    VARCHAR(128)     NOT NULL,
    description     TEXT             NULL,
    status          TINYINT          NOT NULL DEFAULT 1 COMMENT '1 enabled, 0 disabled',
    sort            INT              NOT NULL DEFAULT 0,
    deleted_at      BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 live, else unix ms of deletion',
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_package_code (package_code, deleted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='subscription packages (feature tiers)';

-- ---------------------------------------------------------------------------------
-- tenant_menu: the platform-wide menu tree (not per tenant). Directories hold pages,
-- pages hold actions; perms is the permission code checked by applications.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_menu (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    parent_id       BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 = root',
    menu_name       VARCHAR(64)      NOT NULL,
    menu_type       TINYINT          NOT NULL DEFAULT 2 COMMENT '1 directory, 2 page, 3 action',
    perms           VARCHAR(128)     COLLATE utf8mb4_bin NULL COMMENT 'permission code, e.g. sys:user:add; unique among live menus',
    path            VARCHAR(255)     NOT NULL DEFAULT '' COMMENT 'route path of a page',
    component       VARCHAR(255)     NOT NULL DEFAULT '' COMMENT 'front-end component of a page',
    icon            VARCHAR(64)      NOT NULL DEFAULT '',
    platform        VARCHAR(32)      NOT NULL DEFAULT '' COMMENT 'taobao, douyin, base, org, system, ...',
    sort            INT              NOT NULL DEFAULT 0 COMMENT 'order among siblings',
    visible         TINYINT          NOT NULL DEFAULT 1 COMMENT '1 shown in navigation, 0 hidden',
    status          TINYINT          NOT NULL DEFAULT 1 COMMENT '1 enabled, 0 disabled (with its subtree)',
    deleted_at      BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 live, else unix ms of deletion',
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    -- NULL perms never collide: many menus (directories, most pages) have none.
    UNIQUE KEY uk_menu_perms (perms, deleted_at),
    KEY idx_menu_parent (parent_id, sort),
    KEY idx_menu_platform (platform, sort)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='platform-wide menu tree: directories, pages, actions';

-- ---------------------------------------------------------------------------------
-- tenant_package_menu: the menus a package contains.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_package_menu (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    package_id      BIGINT UNSIGNED  NOT NULL,
    menu_id         BIGINT UNSIGNED  NOT NULL,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_pm_package_menu (package_id, menu_id),
    KEY idx_pm_menu (menu_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='package -> menus';

-- ---------------------------------------------------------------------------------
-- tenant_subscription: a tenant holds a package from start_time (inclusive) to
-- end_time (exclusive). The current package is the enabled subscription in effect
-- now with the latest start_time (then the highest id).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_subscription (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    package_id      BIGINT UNSIGNED  NOT NULL,
    start_time      DATETIME(3)      NOT NULL COMMENT 'UTC, inclusive',
    end_time        DATETIME(3)      NOT NULL COMMENT 'UTC, exclusive',
    status          TINYINT          NOT NULL DEFAULT 1 COMMENT '1 active, 0 inactive (superseded or cancelled)',
    price           DECIMAL(12,2)    NOT NULL DEFAULT 0.00,
    duration_days   INT              NOT NULL DEFAULT 0,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_sub_tenant (tenant_id, status, start_time),
    KEY idx_sub_package (package_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='tenant -> package over a period of time';

-- ---------------------------------------------------------------------------------
-- tenant_org: a tenant's organisation tree (company > department > team).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_org (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    parent_id       BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 = root',
    org_name        VARCHAR(128)     NOT NULL,
    org_type        TINYINT          NOT NULL DEFAULT 2 COMMENT '1 company, 2 department, 3 team',
    status          TINYINT          NOT NULL DEFAULT 1 COMMENT '1 enabled, 0 disabled',
    sort            INT              NOT NULL DEFAULT 0,
    deleted_at      BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 live, else unix ms of deletion',
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_org_tenant_parent (tenant_id, parent_id, sort)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='organisation units of a tenant';

-- ---------------------------------------------------------------------------------
-- tenant_user: a person who logs in to one tenant. is_admin = 1 is the tenant's
-- super-admin: every usable menu of the current package, cannot be disabled or
-- deleted through rbacd.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_user (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    org_id          BIGINT UNSIGNED  NOT NULL DEFAULT 0,
    username        VARCHAR(64)      COLLATE utf8mb4_bin NOT NULL,
    password        VARCHAR(255)     NOT NULL DEFAULT '' COMMENT 'bcrypt ($2a$/$2b$/$2y$) or $argon2id$ hash; empty = no password login',
    real_name       VARCHAR(64)      NOT NULL DEFAULT '',
    phone           VARCHAR(32)      NOT NULL DEFAULT '',
    email           VARCHAR(128)     NOT NULL DEFAULT '',
    is_admin        TINYINT          NOT NULL DEFAULT 0 COMMENT '1 tenant super-admin',
    status          TINYINT          NOT NULL DEFAULT 1 COMMENT '1 enabled, 0 disabled',
    last_login_at   DATETIME(3)      NULL DEFAULT NULL,
    deleted_at      BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 live, else unix ms of deletion',
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_user_tenant_username (tenant_id, username, deleted_at),
    KEY idx_user_tenant_org (tenant_id, org_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='users of a tenant';

-- ---------------------------------------------------------------------------------
-- tenant_role: a named set of menus inside one tenant.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_role (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    role_code       VARCHAR(64)      COLLATE utf8mb4_bin NOT NULL,
    role_name       VARCHAR(64)      NOT NULL,
    status          TINYINT          NOT NULL DEFAULT 1 COMMENT '1 enabled, 0 disabled',
    sort            INT              NOT NULL DEFAULT 0,
    remark          VARCHAR(255)     NOT NULL DEFAULT '',
    deleted_at      BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 live, else unix ms of deletion',
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_role_tenant_code (tenant_id, role_code, deleted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='roles of a tenant';

-- ---------------------------------------------------------------------------------
-- tenant_user_role: user -> roles.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_user_role (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    user_id         BIGINT UNSIGNED  NOT NULL,
    role_id         BIGINT UNSIGNED  NOT NULL,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_ur_user_role (user_id, role_id),
    KEY idx_ur_tenant (tenant_id),
    KEY idx_ur_role (role_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='user -> roles';

-- ---------------------------------------------------------------------------------
-- tenant_role_menu: role -> menus. Rows outside the tenant's current package are
-- kept: they take effect again when the package includes the menu.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_role_menu (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    role_id         BIGINT UNSIGNED  NOT NULL,
    menu_id         BIGINT UNSIGNED  NOT NULL,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_rm_role_menu (role_id, menu_id),
    KEY idx_rm_tenant_role (tenant_id, role_id),
    KEY idx_rm_menu (menu_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='role -> menus';

-- ---------------------------------------------------------------------------------
-- tenant_user_store: user -> external store ids (shops on the platforms).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_user_store (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    user_id         BIGINT UNSIGNED  NOT NULL,
    store_id        BIGINT UNSIGNED  NOT NULL,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_us_user_store (user_id, store_id),
    KEY idx_us_tenant_store (tenant_id, store_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='user -> stores';

-- ---------------------------------------------------------------------------------
-- tenant_user_delegate: user_id inherits the own stores of delegate_user_id (one
-- level, not transitive).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_user_delegate (
    id               BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id        BIGINT UNSIGNED  NOT NULL,
    user_id          BIGINT UNSIGNED  NOT NULL COMMENT 'the user who inherits',
    delegate_user_id BIGINT UNSIGNED  NOT NULL COMMENT 'the user whose own stores are inherited',
    created_at       DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_ud_user_delegate (user_id, delegate_user_id),
    KEY idx_ud_tenant (tenant_id),
    KEY idx_ud_delegate (delegate_user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='store delegation between users';

-- ---------------------------------------------------------------------------------
-- tenant_role_template: role -> analysis templates of an external service (not
-- cached by rbacd).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_role_template (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    role_id         BIGINT UNSIGNED  NOT NULL,
    template_id     BIGINT UNSIGNED  NOT NULL,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_rt_tenant_role (tenant_id, role_id),
    KEY idx_rt_template (template_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='role -> external templates';

-- ---------------------------------------------------------------------------------
-- tenant_user_favorite: a user's menu shortcuts (not cached by rbacd).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_user_favorite (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    user_id         BIGINT UNSIGNED  NOT NULL,
    menu_id         BIGINT UNSIGNED  NOT NULL,
    sort            INT              NOT NULL DEFAULT 0,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_uf_tenant_user (tenant_id, user_id, sort),
    KEY idx_uf_menu (menu_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='user menu shortcuts';

-- ---------------------------------------------------------------------------------
-- tenant_session: login sessions. The token is never stored, only its BLAKE2b-256
-- hash. A session is valid while revoked = 0 and now < expires_at. A user's live
-- sessions are one range of idx_session_user_live (revoked rows stay a minute before
-- the purge: a user who logs in all day must not make every login scan them).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_session (
    token_hash      BINARY(32)       NOT NULL COMMENT 'BLAKE2b-256 of the token',
    tenant_id       BIGINT UNSIGNED  NOT NULL,
    user_id         BIGINT UNSIGNED  NOT NULL,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    expires_at      DATETIME(3)      NOT NULL COMMENT 'UTC, exclusive',
    last_seen_at    DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    ip              VARCHAR(64)      NOT NULL DEFAULT '',
    user_agent      VARCHAR(512)     NOT NULL DEFAULT '',
    revoked         TINYINT          NOT NULL DEFAULT 0 COMMENT '1 revoked',
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (token_hash),
    KEY idx_session_tenant_user (tenant_id, user_id),
    KEY idx_session_user_live (tenant_id, user_id, revoked, expires_at),
    KEY idx_session_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='login sessions, keyed by token hash';

-- ---------------------------------------------------------------------------------
-- rbac_change: one row per insert, update or delete on a table rbacd caches, written
-- by the triggers of 003_triggers.sql (which document what entity_id means). Readers
-- follow it by id; old rows are purged by changed_at.
-- ---------------------------------------------------------------------------------
CREATE TABLE rbac_change (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL COMMENT '0 = platform-wide (menus, packages)',
    entity          VARCHAR(32)      NOT NULL COMMENT 'table name',
    entity_id       BIGINT UNSIGNED  NOT NULL COMMENT 'row id, or owning entity id for associations',
    op              CHAR(1)          NOT NULL COMMENT 'I insert, U update, D delete',
    changed_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_change_changed_at (changed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='change log written by triggers, followed by rbacd';
