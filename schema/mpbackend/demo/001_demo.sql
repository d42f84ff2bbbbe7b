-- 001_demo.sql — a small mpbackend world to explore rbacd's profile mpbackend with (see
-- README.md next to this file for every case and the answer each command gives).
--
-- Applied after schema/mpbackend/seed/*.sql and schema/mpbackend/*.sql
-- (scripts/db.sh load DATADIR DB --demo --profile mpbackend); the triggers record every
-- row in rbac_change. Every id is fixed so that documentation and tests can name it:
--   users        1 root, 2 alice, 3 bob, 4 carol (disabled), 5 dave,
--                4294967297 erin (2^32 + 1: a 64-bit id)
--   roles        1-8, and 4294967301 app-support (2^32 + 5)
--   developers   10 Acme Apps (owner alice), 11 Bolt Labs (owner bob)
--   applications app_id com.example.pay, com.example.chat (Acme), io.bolt.maps (Bolt)
--
-- Times are UTC; every expiry stays below 2038 (the columns are TIMESTAMP).

SET time_zone = '+00:00';

START TRANSACTION;

-- ---------------------------------------------------------------------------------
-- Users. carol is disabled: for rbacd she does not exist.
-- ---------------------------------------------------------------------------------
INSERT INTO mpbackend_user (id, email, create_time, disabled_at, disabled) VALUES
    (1,          'root@example.com',   '2025-01-01 00:00:00', NULL,                  0),
    (2,          'alice@acme.example', '2025-01-01 00:00:00', NULL,                  0),
    (3,          'bob@bolt.example',   '2025-01-01 00:00:00', NULL,                  0),
    (4,          'carol@acme.example', '2025-01-01 00:00:00', '2025-06-01 00:00:00', 1),
    (5,          'dave@acme.example',  '2025-01-01 00:00:00', NULL,                  0),
    (4294967297, 'erin@bolt.example',  '2025-01-01 00:00:00', NULL,                  0);

-- ---------------------------------------------------------------------------------
-- Roles are global; the scope says which binding table may use them. Role 4's
-- permissions are written carelessly on purpose (spaces, an empty item, a duplicate,
-- a trailing comma): it grants app:read and app:upload. Role 7 is disabled; role 8
-- grants nothing (an empty list) but is still a role its holders hold.
-- ---------------------------------------------------------------------------------
INSERT INTO mpbackend_role (id, name, permissions, scope, disabled) VALUES
    (1,          'platform-admin', 'user:read, user:write, app:audit',             'Admin',       0),
    (2,          'auditor',        'app:audit,user:read',                          'Admin',       0),
    (3,          'dev-owner',      'app:create,app:publish,app:read,member:manage', 'Developer',   0),
    (4,          'dev-member',     ' app:read ,, app:upload,app:read ,',           'Developer',   0),
    (5,          'app-operator',   'flag:read, version:audit, version:publish',    'Application', 0),
    (6,          'app-viewer',     'flag:read,stats:read',                         'Application', 0),
    (7,          'root-legacy',    'user:delete',                                  'Admin',       1),
    (8,          'dev-guest',      '',                                             'Developer',   0),
    (4294967301, 'app-support',    'ticket:read, ticket:reply',                    'Application', 0);

-- ---------------------------------------------------------------------------------
-- Developers and applications (not read by rbacd: a domain is the id or app_id a
-- binding names; these rows make the world coherent for the service).
-- ---------------------------------------------------------------------------------
INSERT INTO mpbackend_developer (id, name, owner_id) VALUES
    (10, 'Acme Apps', 2),
    (11, 'Bolt Labs', 3);

INSERT INTO mpbackend_developer_user (id, developer_id, user_id) VALUES
    (1, 10, 2),
    (2, 11, 3),
    (3, 10, 3),
    (4, 10, 4),
    (5, 10, 5),
    (6, 11, 4294967297);

INSERT INTO mpbackend_application (id, app_id, name, description, developer_id, app_type) VALUES
    (1, 'com.example.pay',  'Pay',  'Payments mini-program',  10, 'mini-program'),
    (2, 'com.example.chat', 'Chat', 'Chat mini-program',      10, 'mini-program'),
    (3, 'io.bolt.maps',     'Maps', 'Maps web app',           11, 'web-app');

-- ---------------------------------------------------------------------------------
-- Role bindings. Domain: admin / developer:<developer_id> / application:<app_id>.
-- A binding counts only if its role's scope matches its table, its role and user
-- exist (disabled <> 1) and it is not disabled itself.
-- ---------------------------------------------------------------------------------
INSERT INTO mpbackend_admin_user_role_binding (id, user_id, role_id, disabled) VALUES
    (1, 1, 1, 0),   -- root: platform-admin
    (2, 1, 7, 0),   -- root: root-legacy, a disabled role (no user:delete)
    (3, 2, 5, 0),   -- alice: app-operator is an Application role: does not count here
    (4, 4, 1, 0),   -- carol is disabled
    (5, 5, 2, 1);   -- dave: auditor, but the binding is disabled

INSERT INTO mpbackend_developer_user_role_binding (id, user_id, role_id, developer_id, disabled) VALUES
    (1, 2, 3, 10, 0),   -- alice owns Acme
    (2, 3, 3, 11, 0),   -- bob owns Bolt
    (3, 3, 4, 10, 0),   -- bob is a member of Acme (the careless permission list)
    (4, 5, 1, 11, 0),   -- dave: platform-admin is an Admin role: does not count here
    (5, 2, 8, 11, 0),   -- alice is a guest of Bolt: a role with no permissions
    (6, 5, 4, 10, 1);   -- dave: member of Acme, but the binding is disabled

INSERT INTO mpbackend_application_user_role_binding (id, user_id, role_id, application_id, disabled) VALUES
    (1, 5,          5,          'com.example.pay',  0),  -- dave operates Pay
    (2, 5,          6,          'com.example.chat', 1),  -- disabled binding
    (3, 4294967297, 4294967301, 'com.example.pay',  0),  -- erin: app-support (64-bit ids)
    (4, 4294967297, 6,          'io.bolt.maps',     0),  -- erin views Maps
    (5, 2,          3,          'com.example.chat', 0),  -- dev-owner is a Developer role: does not count
    (6, 4,          5,          'io.bolt.maps',     0);  -- carol is disabled

-- ---------------------------------------------------------------------------------
-- Login methods: USERBYLOGIN provider provider_key gives the user of the live method
-- (lowest id if several) whose user is live.
-- ---------------------------------------------------------------------------------
INSERT INTO mpbackend_account_login_method (id, user_id, provider_key, login_provider, disabled) VALUES
    (1,  1,          'root@example.com',   'email',         0),
    (2,  2,          'alice@acme.example', 'email',         0),
    (3,  2,          '00u1alice',          'okta',          0),
    (4,  3,          'bnc-3003',           'binance-oauth', 0),
    (5,  4,          'carol@acme.example', 'email',         0),  -- carol is disabled
    (6,  5,          'dave@acme.example',  'email',         1),  -- disabled method
    (7,  3,          '00ushared',          'okta',          0),  -- two live methods share a key:
    (8,  5,          '00ushared',          'okta',          0),  --   the lowest id (7, bob) wins
    (9,  4,          '00urecycled',        'okta',          0),  -- lowest id, but carol is disabled:
    (10, 4294967297, '00urecycled',        'okta',          0),  --   erin's method answers
    (11, 4294967297, 'erin@bolt.example',  'email',         0),
    (12, 5,          'bnc-5005',           'binance-oauth', 0);

-- ---------------------------------------------------------------------------------
-- Application permission flags (arguments: a JSON array of strings, as text) and the
-- applications they are bound to (application_id = the app_id string). Flags 1 and 5
-- share a name; flag binding 8 names a flag that does not exist.
-- ---------------------------------------------------------------------------------
INSERT INTO mpbackend_application_permission_flag (id, name, arguments) VALUES
    (1, 'camera',    '["front","back"]'),
    (2, 'location',  '["coarse"]'),
    (3, 'payment',   '["alipay","card","wallet"]'),
    (4, 'bluetooth', '[]'),
    (5, 'camera',    '["front"]');

INSERT INTO mpbackend_application_permission_flag_binding (id, application_id, permission_flag_id) VALUES
    (1, 'com.example.pay',  3),
    (2, 'com.example.pay',  1),
    (3, 'com.example.pay',  2),
    (4, 'com.example.chat', 5),
    (5, 'com.example.chat', 1),
    (6, 'com.example.chat', 4),
    (7, 'io.bolt.maps',     2),
    (8, 'io.bolt.maps',     99);

-- ---------------------------------------------------------------------------------
-- Session tokens. Row 1 was written by the legacy service: session_token is the token
-- itself. Row 2 is written the way rbacd writes them: 'h1:' + lowercase hex of
-- BLAKE2b-256 of the token, for the token
--     demo-bob-session-0123456789ABCDEFGHIJKLMNOQ
-- (43 characters of base64url, 32 bytes). Rows 3-5 are no live session: expired,
-- disabled, and a session of a disabled user.
-- ---------------------------------------------------------------------------------
INSERT INTO mpbackend_user_session_token
    (id, session_token, user_id, expired_at, create_time, db_create_time, disabled)
VALUES
    (1, 'legacy-token-alice-0001', 2, '2037-12-31 00:00:00', '2025-01-01 00:00:00', '2025-01-01 00:00:00.000', 0),
    (2, 'h1:4871e0eda0eba937e821f183696f319f51c3a55d7c4f869c484e9dc5a81cc043',
                                   3, '2037-12-31 00:00:00', '2025-01-01 00:00:00', '2025-01-01 00:00:00.000', 0),
    (3, 'legacy-token-alice-0002', 2, '2024-01-01 00:00:00', '2023-12-01 00:00:00', '2023-12-01 00:00:00.000', 0),
    (4, 'legacy-token-dave-0003',  5, '2037-12-31 00:00:00', '2025-01-01 00:00:00', '2025-01-01 00:00:00.000', 1),
    (5, 'legacy-token-carol-0004', 4, '2037-12-31 00:00:00', '2025-01-01 00:00:00', '2025-01-01 00:00:00.000', 0);

COMMIT;
