-- 002_logs.sql — append-only login and operation logs, partitioned by month.
--
-- One partition per calendar month (UTC) from 2025-01 to 2028-12, named pYYYYMM; rows
-- before 2025-02-01 land in p202501, rows from 2029-01-01 on in pmax. Retention is
-- "drop the oldest partition"; growth is "split pmax":
--
--   ALTER TABLE tenant_login_log REORGANIZE PARTITION pmax INTO (
--       PARTITION p202901 VALUES LESS THAN ('2029-02-01'),
--       PARTITION pmax VALUES LESS THAN (MAXVALUE));
--   ALTER TABLE tenant_login_log DROP PARTITION p202501;
--
-- A partitioned table's unique keys must contain the partitioning column, hence the
-- primary key (log_id, time); log_id alone is still unique (AUTO_INCREMENT).
-- Written by rbacd (SESSION LOGIN, every write-through command). rbacd reads one thing
-- back: SESSION LOGIN's abuse limits count the recent failed logins of a user name and
-- of an IP in tenant_login_log (README "Login abuse"); the lockouts are nowhere else.

-- ---------------------------------------------------------------------------------
-- tenant_login_log: one row per login attempt, successful or not. tenant_id and
-- user_id are 0 when the attempt named no existing tenant or user. An attempt refused
-- by a lockout has result 0 and message 'locked out (user)' or 'locked out (ip)'.
--
-- Before each password check SESSION LOGIN reads the failures that count ('wrong
-- password', 'unknown user', ...: message IN (...)) of the attempt's user name and IP
-- since login-failure-window + login-lockout ago:
--   idx_ll_name_msg_time   (tenant_id, username, message, login_time)
--   idx_ll_ip_msg_time     (ip, message, login_time)
-- With the message in the key, the refusals of a lockout (however many) are never read.
-- username is compared byte for byte (utf8mb4_bin), as tenant_user.username is.
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_login_log (
    log_id          BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 if unknown',
    user_id         BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 if unknown',
    username        VARCHAR(64)      COLLATE utf8mb4_bin NOT NULL DEFAULT '' COMMENT 'as presented',
    login_time      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    ip              VARCHAR(64)      NOT NULL DEFAULT '',
    user_agent      VARCHAR(512)     NOT NULL DEFAULT '',
    result          TINYINT          NOT NULL COMMENT '1 ok, 0 failed',
    message         VARCHAR(255)     NOT NULL DEFAULT '',
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (log_id, login_time),
    KEY idx_ll_tenant_time (tenant_id, login_time),
    KEY idx_ll_tenant_user_time (tenant_id, user_id, login_time),
    KEY idx_ll_name_msg_time (tenant_id, username, message, login_time),
    KEY idx_ll_ip_msg_time (ip, message, login_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='login attempts, partitioned by month'
PARTITION BY RANGE COLUMNS (login_time) (
    PARTITION p202501 VALUES LESS THAN ('2025-02-01'),
    PARTITION p202502 VALUES LESS THAN ('2025-03-01'),
    PARTITION p202503 VALUES LESS THAN ('2025-04-01'),
    PARTITION p202504 VALUES LESS THAN ('2025-05-01'),
    PARTITION p202505 VALUES LESS THAN ('2025-06-01'),
    PARTITION p202506 VALUES LESS THAN ('2025-07-01'),
    PARTITION p202507 VALUES LESS THAN ('2025-08-01'),
    PARTITION p202508 VALUES LESS THAN ('2025-09-01'),
    PARTITION p202509 VALUES LESS THAN ('2025-10-01'),
    PARTITION p202510 VALUES LESS THAN ('2025-11-01'),
    PARTITION p202511 VALUES LESS THAN ('2025-12-01'),
    PARTITION p202512 VALUES LESS THAN ('2026-01-01'),
    PARTITION p202601 VALUES LESS THAN ('2026-02-01'),
    PARTITION p202602 VALUES LESS THAN ('2026-03-01'),
    PARTITION p202603 VALUES LESS THAN ('2026-04-01'),
    PARTITION p202604 VALUES LESS THAN ('2026-05-01'),
    PARTITION p202605 VALUES LESS THAN ('2026-06-01'),
    PARTITION p202606 VALUES LESS THAN ('2026-07-01'),
    PARTITION p202607 VALUES LESS THAN ('2026-08-01'),
    PARTITION p202608 VALUES LESS THAN ('2026-09-01'),
    PARTITION p202609 VALUES LESS THAN ('2026-10-01'),
    PARTITION p202610 VALUES LESS THAN ('2026-11-01'),
    PARTITION p202611 VALUES LESS THAN ('2026-12-01'),
    PARTITION p202612 VALUES LESS THAN ('2027-01-01'),
    PARTITION p202701 VALUES LESS THAN ('2027-02-01'),
    PARTITION p202702 VALUES LESS THAN ('2027-03-01'),
    PARTITION p202703 VALUES LESS THAN ('2027-04-01'),
    PARTITION p202704 VALUES LESS THAN ('2027-05-01'),
    PARTITION p202705 VALUES LESS THAN ('2027-06-01'),
    PARTITION p202706 VALUES LESS THAN ('2027-07-01'),
    PARTITION p202707 VALUES LESS THAN ('2027-08-01'),
    PARTITION p202708 VALUES LESS THAN ('2027-09-01'),
    PARTITION p202709 VALUES LESS THAN ('2027-10-01'),
    PARTITION p202710 VALUES LESS THAN ('2027-11-01'),
    PARTITION p202711 VALUES LESS THAN ('2027-12-01'),
    PARTITION p202712 VALUES LESS THAN ('2028-01-01'),
    PARTITION p202801 VALUES LESS THAN ('2028-02-01'),
    PARTITION p202802 VALUES LESS THAN ('2028-03-01'),
    PARTITION p202803 VALUES LESS THAN ('2028-04-01'),
    PARTITION p202804 VALUES LESS THAN ('2028-05-01'),
    PARTITION p202805 VALUES LESS THAN ('2028-06-01'),
    PARTITION p202806 VALUES LESS THAN ('2028-07-01'),
    PARTITION p202807 VALUES LESS THAN ('2028-08-01'),
    PARTITION p202808 VALUES LESS THAN ('2028-09-01'),
    PARTITION p202809 VALUES LESS THAN ('2028-10-01'),
    PARTITION p202810 VALUES LESS THAN ('2028-11-01'),
    PARTITION p202811 VALUES LESS THAN ('2028-12-01'),
    PARTITION p202812 VALUES LESS THAN ('2029-01-01'),
    PARTITION pmax VALUES LESS THAN (MAXVALUE)
);

-- ---------------------------------------------------------------------------------
-- tenant_operation_log: one row per change made through rbacd (or the admin
-- application): who (operator), when, what (module, action, target, detail).
-- ---------------------------------------------------------------------------------
CREATE TABLE tenant_operation_log (
    log_id          BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    tenant_id       BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT '0 = platform-wide',
    user_id         BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT 'the user acted upon, 0 if none',
    operator        VARCHAR(64)      NOT NULL DEFAULT '' COMMENT 'the authenticated client user',
    operation_time  DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    module          VARCHAR(64)      NOT NULL DEFAULT '' COMMENT 'e.g. role, user, tenant, session',
    action          VARCHAR(64)      NOT NULL DEFAULT '' COMMENT 'e.g. grant, addrole, disable',
    target          VARCHAR(255)     NOT NULL DEFAULT '' COMMENT 'what was changed, e.g. role:3',
    detail          TEXT             NULL,
    created_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (log_id, operation_time),
    KEY idx_ol_tenant_time (tenant_id, operation_time),
    KEY idx_ol_tenant_user_time (tenant_id, user_id, operation_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='operations performed, partitioned by month'
PARTITION BY RANGE COLUMNS (operation_time) (
    PARTITION p202501 VALUES LESS THAN ('2025-02-01'),
    PARTITION p202502 VALUES LESS THAN ('2025-03-01'),
    PARTITION p202503 VALUES LESS THAN ('2025-04-01'),
    PARTITION p202504 VALUES LESS THAN ('2025-05-01'),
    PARTITION p202505 VALUES LESS THAN ('2025-06-01'),
    PARTITION p202506 VALUES LESS THAN ('2025-07-01'),
    PARTITION p202507 VALUES LESS THAN ('2025-08-01'),
    PARTITION p202508 VALUES LESS THAN ('2025-09-01'),
    PARTITION p202509 VALUES LESS THAN ('2025-10-01'),
    PARTITION p202510 VALUES LESS THAN ('2025-11-01'),
    PARTITION p202511 VALUES LESS THAN ('2025-12-01'),
    PARTITION p202512 VALUES LESS THAN ('2026-01-01'),
    PARTITION p202601 VALUES LESS THAN ('2026-02-01'),
    PARTITION p202602 VALUES LESS THAN ('2026-03-01'),
    PARTITION p202603 VALUES LESS THAN ('2026-04-01'),
    PARTITION p202604 VALUES LESS THAN ('2026-05-01'),
    PARTITION p202605 VALUES LESS THAN ('2026-06-01'),
    PARTITION p202606 VALUES LESS THAN ('2026-07-01'),
    PARTITION p202607 VALUES LESS THAN ('2026-08-01'),
    PARTITION p202608 VALUES LESS THAN ('2026-09-01'),
    PARTITION p202609 VALUES LESS THAN ('2026-10-01'),
    PARTITION p202610 VALUES LESS THAN ('2026-11-01'),
    PARTITION p202611 VALUES LESS THAN ('2026-12-01'),
    PARTITION p202612 VALUES LESS THAN ('2027-01-01'),
    PARTITION p202701 VALUES LESS THAN ('2027-02-01'),
    PARTITION p202702 VALUES LESS THAN ('2027-03-01'),
    PARTITION p202703 VALUES LESS THAN ('2027-04-01'),
    PARTITION p202704 VALUES LESS THAN ('2027-05-01'),
    PARTITION p202705 VALUES LESS THAN ('2027-06-01'),
    PARTITION p202706 VALUES LESS THAN ('2027-07-01'),
    PARTITION p202707 VALUES LESS THAN ('2027-08-01'),
    PARTITION p202708 VALUES LESS THAN ('2027-09-01'),
    PARTITION p202709 VALUES LESS THAN ('2027-10-01'),
    PARTITION p202710 VALUES LESS THAN ('2027-11-01'),
    PARTITION p202711 VALUES LESS THAN ('2027-12-01'),
    PARTITION p202712 VALUES LESS THAN ('2028-01-01'),
    PARTITION p202801 VALUES LESS THAN ('2028-02-01'),
    PARTITION p202802 VALUES LESS THAN ('2028-03-01'),
    PARTITION p202803 VALUES LESS THAN ('2028-04-01'),
    PARTITION p202804 VALUES LESS THAN ('2028-05-01'),
    PARTITION p202805 VALUES LESS THAN ('2028-06-01'),
    PARTITION p202806 VALUES LESS THAN ('2028-07-01'),
    PARTITION p202807 VALUES LESS THAN ('2028-08-01'),
    PARTITION p202808 VALUES LESS THAN ('2028-09-01'),
    PARTITION p202809 VALUES LESS THAN ('2028-10-01'),
    PARTITION p202810 VALUES LESS THAN ('2028-11-01'),
    PARTITION p202811 VALUES LESS THAN ('2028-12-01'),
    PARTITION p202812 VALUES LESS THAN ('2029-01-01'),
    PARTITION pmax VALUES LESS THAN (MAXVALUE)
);
