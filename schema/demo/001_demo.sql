-- 001_demo.sql — a small world to explore rbacd with (see README.md next to this file).
--
-- Every id is fixed so that documentation and tests can name it:
--   packages   1 trial, 2 pro, 3 enterprise
--   menus      block per platform: 1xx taobao, 2xx douyin, 3xx base, 4xx org,
--              5xx system, 6xx labs (a disabled directory)
--   tenants    1 demo, 2 acme, 3 trialco, 4 oldco, 5 frozen
--   users, roles, orgs, stores: the tens digit of an id is the tenant
--              (users 1-7 and roles 1-5 in tenant 1, users 11-13 and roles 11-12 in
--              tenant 2, ...; stores 1001.. in tenant 1, 2001.. in tenant 2, ...)
--
-- Soft-deleted rows carry deleted_at = 1735689600000 (2025-01-01T00:00:00Z in ms).
-- Applied after schema/*.sql; the triggers record every row in rbac_change.

START TRANSACTION;

-- ---------------------------------------------------------------------------------
-- Packages: trial is a subset of pro, pro a subset of enterprise.
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_package (id, package_code, package_name, description, status, sort) VALUES
    (1, 'trial',      'Trial',      'Orders, products, dashboard and basic user management.', 1, 1),
    (2, 'pro',        'Pro',        'All storefront platforms, reports, organisation, users, roles and logs.', 1, 2),
    (3, 'enterprise', 'Enterprise', 'Everything, including menu management, sessions, settings and labs.', 1, 3);

-- ---------------------------------------------------------------------------------
-- Menus: one top-level directory per platform, pages below, actions below pages.
-- Notable rows:
--   511 sys:user:add      the menu of the README's first command
--   516 sys:user:import   soft-deleted: does not exist for rbacd
--   540 Logs              a directory nested in a directory
--   560 Settings          hidden (visible = 0) but usable
--   600 Labs              disabled directory (status 0): its live, enabled children
--                         610-621 are not usable because an ancestor is disabled
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_menu
    (id, parent_id, menu_name, menu_type, perms, path, component, icon, platform, sort, visible, status, deleted_at)
VALUES
    -- Taobao storefront
    (100,   0, 'Taobao',            1, NULL,                  '/taobao',            '',                     'taobao',    'taobao', 1, 1, 1, 0),
    (110, 100, 'Orders',            2, 'taobao:order:list',   '/taobao/orders',     'taobao/order/index',   'list',      'taobao', 1, 1, 1, 0),
    (111, 110, 'Order detail',      3, 'taobao:order:query',  '',                   '',                     '',          'taobao', 1, 1, 1, 0),
    (112, 110, 'Export orders',     3, 'taobao:order:export', '',                   '',                     '',          'taobao', 2, 1, 1, 0),
    (113, 110, 'Refund order',      3, 'taobao:order:refund', '',                   '',                     '',          'taobao', 3, 1, 1, 0),
    (120, 100, 'Products',          2, 'taobao:item:list',    '/taobao/items',      'taobao/item/index',    'goods',     'taobao', 2, 1, 1, 0),
    (121, 120, 'Add product',       3, 'taobao:item:add',     '',                   '',                     '',          'taobao', 1, 1, 1, 0),
    (122, 120, 'Edit product',      3, 'taobao:item:edit',    '',                   '',                     '',          'taobao', 2, 1, 1, 0),
    (123, 120, 'Delete product',    3, 'taobao:item:delete',  '',                   '',                     '',          'taobao', 3, 1, 1, 0),
    (130, 100, 'Shops',             2, 'taobao:shop:list',    '/taobao/shops',      'taobao/shop/index',    'shop',      'taobao', 3, 1, 1, 0),
    (131, 130, 'Bind shop',         3, 'taobao:shop:bind',    '',                   '',                     '',          'taobao', 1, 1, 1, 0),
    (132, 130, 'Unbind shop',       3, 'taobao:shop:unbind',  '',                   '',                     '',          'taobao', 2, 1, 1, 0),
    (140, 100, 'Promotions',        2, 'taobao:promo:list',   '/taobao/promotions', 'taobao/promo/index',   'gift',      'taobao', 4, 1, 1, 0),
    (141, 140, 'Create promotion',  3, 'taobao:promo:add',    '',                   '',                     '',          'taobao', 1, 1, 1, 0),
    -- Douyin storefront
    (200,   0, 'Douyin',            1, NULL,                  '/douyin',            '',                     'douyin',    'douyin', 2, 1, 1, 0),
    (210, 200, 'Live rooms',        2, 'douyin:live:list',    '/douyin/live',       'douyin/live/index',    'video',     'douyin', 1, 1, 1, 0),
    (211, 210, 'Live analysis',     3, 'douyin:live:analysis','',                   '',                     '',          'douyin', 1, 1, 1, 0),
    (212, 210, 'Export live data',  3, 'douyin:live:export',  '',                   '',                     '',          'douyin', 2, 1, 1, 0),
    (220, 200, 'Short videos',      2, 'douyin:video:list',   '/douyin/videos',     'douyin/video/index',   'film',      'douyin', 2, 1, 1, 0),
    (221, 220, 'Video analysis',    3, 'douyin:video:analysis','',                  '',                     '',          'douyin', 1, 1, 1, 0),
    (222, 220, 'Export videos',     3, 'douyin:video:export', '',                   '',                     '',          'douyin', 2, 1, 1, 0),
    (230, 200, 'Orders',            2, 'douyin:order:list',   '/douyin/orders',     'douyin/order/index',   'list',      'douyin', 3, 1, 1, 0),
    (231, 230, 'Export orders',     3, 'douyin:order:export', '',                   '',                     '',          'douyin', 1, 1, 1, 0),
    (240, 200, 'Influencers',       2, 'douyin:kol:list',     '/douyin/influencers','douyin/kol/index',     'star',      'douyin', 4, 1, 1, 0),
    (241, 240, 'Invite influencer', 3, 'douyin:kol:invite',   '',                   '',                     '',          'douyin', 1, 1, 1, 0),
    -- Base: cross-platform data
    (300,   0, 'Base',              1, NULL,                  '/base',              '',                     'database',  'base',   3, 1, 1, 0),
    (310, 300, 'Dashboard',         2, 'base:dashboard:view', '/base/dashboard',    'base/dashboard/index', 'dashboard', 'base',   1, 1, 1, 0),
    (320, 300, 'Reports',           2, 'base:report:list',    '/base/reports',      'base/report/index',    'chart',     'base',   2, 1, 1, 0),
    (321, 320, 'Create report',     3, 'base:report:add',     '',                   '',                     '',          'base',   1, 1, 1, 0),
    (322, 320, 'Export report',     3, 'base:report:export',  '',                   '',                     '',          'base',   2, 1, 1, 0),
    (330, 300, 'Stores',            2, 'base:store:list',     '/base/stores',       'base/store/index',     'shop',      'base',   3, 1, 1, 0),
    (331, 330, 'Add store',         3, 'base:store:add',      '',                   '',                     '',          'base',   1, 1, 1, 0),
    (332, 330, 'Edit store',        3, 'base:store:edit',     '',                   '',                     '',          'base',   2, 1, 1, 0),
    (333, 330, 'Delete store',      3, 'base:store:delete',   '',                   '',                     '',          'base',   3, 1, 1, 0),
    (340, 300, 'Data sync',         2, 'base:sync:list',      '/base/sync',         'base/sync/index',      'refresh',   'base',   4, 1, 1, 0),
    (341, 340, 'Run sync',          3, 'base:sync:run',       '',                   '',                     '',          'base',   1, 1, 1, 0),
    (350, 300, 'Notices',           2, 'base:notice:list',    '/base/notices',      'base/notice/index',    'bell',      'base',   5, 1, 1, 0),
    (351, 350, 'Publish notice',    3, 'base:notice:add',     '',                   '',                     '',          'base',   1, 1, 1, 0),
    -- Organisation
    (400,   0, 'Organisation',      1, NULL,                  '/org',               '',                     'tree',      'org',    4, 1, 1, 0),
    (410, 400, 'Departments',       2, 'org:dept:list',       '/org/depts',         'org/dept/index',       'apartment', 'org',    1, 1, 1, 0),
    (411, 410, 'Add department',    3, 'org:dept:add',        '',                   '',                     '',          'org',    1, 1, 1, 0),
    (412, 410, 'Edit department',   3, 'org:dept:edit',       '',                   '',                     '',          'org',    2, 1, 1, 0),
    (413, 410, 'Delete department', 3, 'org:dept:delete',     '',                   '',                     '',          'org',    3, 1, 1, 0),
    (420, 400, 'Teams',             2, 'org:team:list',       '/org/teams',         'org/team/index',       'team',      'org',    2, 1, 1, 0),
    (421, 420, 'Add team',          3, 'org:team:add',        '',                   '',                     '',          'org',    1, 1, 1, 0),
    (422, 420, 'Edit team',         3, 'org:team:edit',       '',                   '',                     '',          'org',    2, 1, 1, 0),
    (430, 400, 'Positions',         2, 'org:post:list',       '/org/posts',         'org/post/index',       'idcard',    'org',    3, 1, 1, 0),
    (431, 430, 'Add position',      3, 'org:post:add',        '',                   '',                     '',          'org',    1, 1, 1, 0),
    -- System administration
    (500,   0, 'System',            1, NULL,                  '/system',            '',                     'setting',   'system', 5, 1, 1, 0),
    (510, 500, 'Users',             2, 'sys:user:list',       '/system/users',      'system/user/index',    'user',      'system', 1, 1, 1, 0),
    (511, 510, 'Add user',          3, 'sys:user:add',        '',                   '',                     '',          'system', 1, 1, 1, 0),
    (512, 510, 'Edit user',         3, 'sys:user:edit',       '',                   '',                     '',          'system', 2, 1, 1, 0),
    (513, 510, 'Delete user',       3, 'sys:user:delete',     '',                   '',                     '',          'system', 3, 1, 1, 0),
    (514, 510, 'Reset password',    3, 'sys:user:resetpwd',   '',                   '',                     '',          'system', 4, 1, 1, 0),
    (515, 510, 'Export users',      3, 'sys:user:export',     '',                   '',                     '',          'system', 5, 1, 1, 0),
    (516, 510, 'Import users',      3, 'sys:user:import',     '',                   '',                     '',          'system', 6, 1, 1, 1735689600000),
    (520, 500, 'Roles',             2, 'sys:role:list',       '/system/roles',      'system/role/index',    'peoples',   'system', 2, 1, 1, 0),
    (521, 520, 'Add role',          3, 'sys:role:add',        '',                   '',                     '',          'system', 1, 1, 1, 0),
    (522, 520, 'Edit role',         3, 'sys:role:edit',       '',                   '',                     '',          'system', 2, 1, 1, 0),
    (523, 520, 'Delete role',       3, 'sys:role:delete',     '',                   '',                     '',          'system', 3, 1, 1, 0),
    (524, 520, 'Grant menus',       3, 'sys:role:grant',      '',                   '',                     '',          'system', 4, 1, 1, 0),
    (530, 500, 'Menus',             2, 'sys:menu:list',       '/system/menus',      'system/menu/index',    'menu',      'system', 3, 1, 1, 0),
    (531, 530, 'Add menu',          3, 'sys:menu:add',        '',                   '',                     '',          'system', 1, 1, 1, 0),
    (532, 530, 'Edit menu',         3, 'sys:menu:edit',       '',                   '',                     '',          'system', 2, 1, 1, 0),
    (533, 530, 'Delete menu',       3, 'sys:menu:delete',     '',                   '',                     '',          'system', 3, 1, 1, 0),
    (540, 500, 'Logs',              1, NULL,                  '/system/logs',       '',                     'log',       'system', 4, 1, 1, 0),
    (541, 540, 'Login log',         2, 'sys:loginlog:list',   '/system/logs/login', 'system/log/login',     'logininfor','system', 1, 1, 1, 0),
    (542, 541, 'Export login log',  3, 'sys:loginlog:export', '',                   '',                     '',          'system', 1, 1, 1, 0),
    (543, 540, 'Operation log',     2, 'sys:oplog:list',      '/system/logs/operation', 'system/log/operation', 'form', 'system', 2, 1, 1, 0),
    (544, 543, 'Export operation log', 3, 'sys:oplog:export', '',                   '',                     '',          'system', 1, 1, 1, 0),
    (550, 500, 'Sessions',          2, 'sys:session:list',    '/system/sessions',   'system/session/index', 'online',    'system', 5, 1, 1, 0),
    (551, 550, 'Revoke session',    3, 'sys:session:revoke',  '',                   '',                     '',          'system', 1, 1, 1, 0),
    (560, 500, 'Settings',          2, 'sys:config:list',     '/system/settings',   'system/config/index',  'edit',      'system', 6, 0, 1, 0),
    (561, 560, 'Edit settings',     3, 'sys:config:edit',     '',                   '',                     '',          'system', 1, 1, 1, 0),
    -- Labs: a disabled directory; its children are live and enabled themselves
    (600,   0, 'Labs',              1, NULL,                  '/labs',              '',                     'flask',     'base',   9, 1, 0, 0),
    (610, 600, 'Sales forecast',    2, 'lab:forecast:list',   '/labs/forecast',     'labs/forecast/index',  'trend',     'base',   1, 1, 1, 0),
    (611, 610, 'Run forecast',      3, 'lab:forecast:run',    '',                   '',                     '',          'base',   1, 1, 1, 0),
    (620, 600, 'A/B tests',         2, 'lab:abtest:list',     '/labs/abtests',      'labs/abtest/index',    'experiment','base',   2, 1, 1, 0),
    (621, 620, 'Create A/B test',   3, 'lab:abtest:add',      '',                   '',                     '',          'base',   1, 1, 1, 0);

-- ---------------------------------------------------------------------------------
-- Package contents.
-- ---------------------------------------------------------------------------------
-- trial: Taobao orders and products, dashboard, reports, stores, departments, users
-- (list, add, edit) and the role list.
INSERT INTO tenant_package_menu (package_id, menu_id)
SELECT 1, id FROM tenant_menu
 WHERE id IN (100, 110, 111, 120,
              300, 310, 320, 330,
              400, 410,
              500, 510, 511, 512, 520)
 ORDER BY id;

-- pro: Taobao, Douyin, Base without data sync, Organisation without positions, System
-- users, roles and logs. Not: menu management, sessions, settings, labs.
INSERT INTO tenant_package_menu (package_id, menu_id)
SELECT 2, id FROM tenant_menu
 WHERE id BETWEEN 100 AND 299
    OR (id BETWEEN 300 AND 399 AND id NOT IN (340, 341))
    OR id BETWEEN 400 AND 429
    OR id BETWEEN 500 AND 529
    OR id BETWEEN 540 AND 549
 ORDER BY id;

-- enterprise: every menu (the deleted 516 and the disabled Labs included: the
-- package lists them, the menu rules still keep them out).
INSERT INTO tenant_package_menu (package_id, menu_id)
SELECT 3, id FROM tenant_menu ORDER BY id;

-- ---------------------------------------------------------------------------------
-- Tenants.
-- ---------------------------------------------------------------------------------
INSERT INTO tenant (id, tenant_code, tenant_name, contact_name, contact_phone, contact_email, status, deleted_at) VALUES
    (1, 'demo',    'Demo Trading Co.',  'Lin Wei',    '+86 138 0000 0001', 'ops@demo.example',    1, 0),
    (2, 'acme',    'Acme Retail Ltd.',  'Amy Stone',  '+86 138 0000 0002', 'it@acme.example',     1, 0),
    (3, 'trialco', 'Trial Company',     'Tim Brooks', '+86 138 0000 0003', 'hello@trialco.example',1, 0),
    (4, 'oldco',   'Old Company',       'Otto Berg',  '+86 138 0000 0004', 'admin@oldco.example', 1, 0),
    (5, 'frozen',  'Frozen Foods Inc.', 'Fay Moss',   '+86 138 0000 0005', 'ops@frozen.example',  0, 0);

-- ---------------------------------------------------------------------------------
-- Subscriptions (start inclusive, end exclusive, UTC).
--   1 demo     enterprise 2025..2030, active                      -> current
--   2 demo     pro        2024..2027, inactive (superseded)       -> ignored
--   3 acme     pro        2025..2030, active                      -> current
--   4 acme     enterprise 2030..2035, active, starts in the future
--   5 trialco  trial      2025..2030, active                      -> current
--   6 oldco    pro        2024-06..2025-06, expired               -> no package
--   7 frozen   pro        2025..2030, active (the tenant is disabled)
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_subscription (id, tenant_id, package_id, start_time, end_time, status, price, duration_days) VALUES
    (1, 1, 3, '2025-01-01 00:00:00.000', '2030-01-01 00:00:00.000', 1,  9999.00, 1826),
    (2, 1, 2, '2024-01-01 00:00:00.000', '2027-01-01 00:00:00.000', 0,  2999.00, 1096),
    (3, 2, 2, '2025-01-01 00:00:00.000', '2030-01-01 00:00:00.000', 1,  4999.00, 1826),
    (4, 2, 3, '2030-01-01 00:00:00.000', '2035-01-01 00:00:00.000', 1, 19999.00, 1826),
    (5, 3, 1, '2025-01-01 00:00:00.000', '2030-01-01 00:00:00.000', 1,     0.00, 1826),
    (6, 4, 2, '2024-06-01 00:00:00.000', '2025-06-01 00:00:00.000', 1,  1999.00,  365),
    (7, 5, 2, '2025-01-01 00:00:00.000', '2030-01-01 00:00:00.000', 1,  4999.00, 1826);

-- ---------------------------------------------------------------------------------
-- Organisations.
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_org (id, tenant_id, parent_id, org_name, org_type, status, sort) VALUES
    ( 1, 1,  0, 'Demo Trading Co.',  1, 1, 1),
    ( 2, 1,  1, 'Operations',        2, 1, 1),
    ( 3, 1,  2, 'Taobao team',       3, 1, 1),
    ( 4, 1,  1, 'Finance',           2, 1, 2),
    (11, 2,  0, 'Acme Retail Ltd.',  1, 1, 1),
    (12, 2, 11, 'Sales',             2, 1, 1),
    (21, 3,  0, 'Trial Company',     1, 1, 1),
    (31, 4,  0, 'Old Company',       1, 1, 1),
    (41, 5,  0, 'Frozen Foods Inc.', 1, 1, 1);

-- ---------------------------------------------------------------------------------
-- Users. Passwords (plain text only here, for the demo):
--   every admin: admin123; any other user: <username>123.
--   Hash kinds: bcrypt $2b$ (most), argon2id (alice, erin, trialco's admin),
--   bcrypt $2a$ (mia), bcrypt $2y$ (noah).
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_user (id, tenant_id, org_id, username, password, real_name, phone, email, is_admin, status, deleted_at) VALUES
    -- tenant 1 demo
    ( 1, 1,  1, 'admin', '$2b$10$nPPk9sHq8sqbfKYGEdBQY.By5yEonclD.JjEfZA1enhGIYi6Yt4GW',
      'Demo Admin',  '+86 139 0000 0101', 'admin@demo.example', 1, 1, 0),
    ( 2, 1,  2, 'alice', '$argon2id$v=19$m=65536,t=2,p=1$l8zCzmsH+WKyXR8XkzFk7A$FFar8YZWYAxkzQ8Jj4g1UKYu6fh/I/VBd23/FHiOtco',
      'Alice Zhang', '+86 139 0000 0102', 'alice@demo.example', 0, 1, 0),
    ( 3, 1,  3, 'bob',   '$2b$10$7UL39eRZthTtkJcN5JcRD.lvvf884.Sk4X4QMyeP/v8By2PCE0fmu',
      'Bob Li',      '+86 139 0000 0103', 'bob@demo.example',   0, 1, 0),
    ( 4, 1,  4, 'carol', '$2b$10$bB3QY/TB7n0WXEDLSYdk2eExfRUvdD4kZiaekkdoIf3gt.v4Dz4yO',
      'Carol Wang',  '+86 139 0000 0104', 'carol@demo.example', 0, 0, 0),
    ( 5, 1,  2, 'dave',  '$2b$10$65x8Hd21EReYrTMhdjOmWeBIeSO3xQhuClfu2lg/RPY9gMCn8feHK',
      'Dave Chen',   '+86 139 0000 0105', 'dave@demo.example',  0, 1, 1735689600000),
    ( 6, 1,  4, 'erin',  '$argon2id$v=19$m=65536,t=2,p=1$KcQGP3/mCc88Eyr7oriVPA$v+FVwwikI/3j9UVOep5zmdLr22CjsXsp4J816HT+0Gw',
      'Erin Liu',    '+86 139 0000 0106', 'erin@demo.example',  0, 1, 0),
    ( 7, 1,  3, 'frank', '$2b$10$C1umKKiwLdYIkLBXN8kvNOg.29/hHJMyoPApQVGIXwyS41f1xSMzG',
      'Frank Zhao',  '+86 139 0000 0107', 'frank@demo.example', 0, 1, 0),
    -- tenant 2 acme
    (11, 2, 11, 'admin', '$2b$10$9xEbbfxRTeIsPgzegBtLJOyEBy/Mq/AnzRlP.WaP996lUa36uGk8.',
      'Acme Admin',  '+86 139 0000 0201', 'admin@acme.example', 1, 1, 0),
    (12, 2, 12, 'mia',   '$2a$10$3puj0aRvisQ7FMryLZRmfenJL35pWob19d5/8ioAaVKz9n1jdzwd.',
      'Mia Sun',     '+86 139 0000 0202', 'mia@acme.example',   0, 1, 0),
    (13, 2, 12, 'noah',  '$2y$10$unYwtfAcWkODtrQf3oGpwu.JAE6KD7wVFJA1AA0Yhic7NwPMAyLiO',
      'Noah Wu',     '+86 139 0000 0203', 'noah@acme.example',  0, 1, 0),
    -- tenant 3 trialco
    (21, 3, 21, 'admin', '$argon2id$v=19$m=65536,t=2,p=1$pzEXow/SkCEFiMszP15IZg$TPYmmbUgcwLjKXbifqwU/iTFr44vsyXWe8gj5UR/HWo',
      'Trial Admin', '+86 139 0000 0301', 'admin@trialco.example', 1, 1, 0),
    (22, 3, 21, 'tom',   '$2b$10$nvkojzHqy8gLFhYIstjIV.KArzY4T4YVTA02gs8PRahDRnkU0ckwa',
      'Tom Hu',      '+86 139 0000 0302', 'tom@trialco.example', 0, 1, 0),
    -- tenant 4 oldco
    (31, 4, 31, 'admin', '$2b$10$umzql5w77hELmRSo4IZpQOESx/WSHaUY1g/TmVdFtcblYCIiA0e9.',
      'Old Admin',   '+86 139 0000 0401', 'admin@oldco.example', 1, 1, 0),
    (32, 4, 31, 'olga',  '$2b$10$LMMVm/ajaPevy2.Dh619.eUHD4ehhmq/I8ghanwjpfuSnon6b4Hgu',
      'Olga Ma',     '+86 139 0000 0402', 'olga@oldco.example', 0, 1, 0),
    -- tenant 5 frozen
    (41, 5, 41, 'admin', '$2b$10$xFUgmbxQzl4U8X86q69WiuFziZdZOpN8.tC3z6KaoK5zkiOMd5fH6',
      'Frozen Admin','+86 139 0000 0501', 'admin@frozen.example', 1, 1, 0),
    (42, 5, 41, 'fred',  '$2b$10$4dd76hrukNh9Dhoz7YXICOZK7SLMyJzxSx7CVGBFqaK0rJbTJ4GDS',
      'Fred Gao',    '+86 139 0000 0502', 'fred@frozen.example', 0, 1, 0);

-- ---------------------------------------------------------------------------------
-- Roles.
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_role (id, tenant_id, role_code, role_name, status, sort, remark, deleted_at) VALUES
    ( 1, 1, 'admin-ops',  'Operations admin', 1, 1, 'All of System.', 0),
    ( 2, 1, 'viewer',     'Viewer',           1, 2, 'Every list page and the dashboard.', 0),
    ( 3, 1, 'auditor',    'Auditor',          0, 3, 'Disabled: grants nothing.', 0),
    ( 4, 1, 'legacy',     'Legacy operator',  1, 4, 'Soft-deleted: grants nothing.', 1735689600000),
    ( 5, 1, 'taobao-ops', 'Taobao operator',  1, 5, 'All of Taobao.', 0),
    (11, 2, 'manager',    'Store manager',    1, 1, 'Storefronts; also holds menus outside the pro package.', 0),
    (12, 2, 'clerk',      'Clerk',            1, 2, 'Order lists and the dashboard.', 0),
    (21, 3, 'staff',      'Staff',            1, 1, 'Holds one menu outside the trial package.', 0),
    (31, 4, 'staff',      'Staff',            1, 1, '', 0),
    (41, 5, 'staff',      'Staff',            1, 1, '', 0);

-- ---------------------------------------------------------------------------------
-- Role menus. Role menus need not include ancestor directories: MENUS ... TREE adds
-- the directories needed to reach what a user may open.
-- ---------------------------------------------------------------------------------
-- 1 admin-ops: the System directory and every sys:* menu (516, deleted, included).
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id)
SELECT 1, 1, id FROM tenant_menu
 WHERE id IN (500, 540) OR perms LIKE 'sys:%'
 ORDER BY id;

-- 2 viewer: every list page and the dashboard (the Labs lists included; they stay
-- unusable while Labs is disabled).
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id)
SELECT 1, 2, id FROM tenant_menu
 WHERE perms LIKE '%:list' OR perms = 'base:dashboard:view'
 ORDER BY id;

-- 3 auditor (disabled): the logs.
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) VALUES
    (1, 3, 541), (1, 3, 542), (1, 3, 543), (1, 3, 544);

-- 4 legacy (deleted): destructive actions.
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) VALUES
    (1, 4, 113), (1, 4, 513), (1, 4, 523);

-- 5 taobao-ops: the whole Taobao subtree.
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id)
SELECT 1, 5, id FROM tenant_menu
 WHERE id BETWEEN 100 AND 199
 ORDER BY id;

-- 11 manager (acme, pro): Taobao and Douyin, plus sys:menu:list (530) and
-- base:sync:run (341), which pro lacks: kept, not usable until an upgrade.
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id)
SELECT 2, 11, id FROM tenant_menu
 WHERE id BETWEEN 100 AND 299 OR id IN (341, 530)
 ORDER BY id;

-- 12 clerk (acme): order lists and the dashboard.
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) VALUES
    (2, 12, 110), (2, 12, 230), (2, 12, 310);

-- 21 staff (trialco, trial): douyin:live:list (210) is not in trial.
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) VALUES
    (3, 21, 110), (3, 21, 111), (3, 21, 210), (3, 21, 310);

-- 31 staff (oldco) and 41 staff (frozen): dashboard and Taobao orders.
INSERT INTO tenant_role_menu (tenant_id, role_id, menu_id) VALUES
    (4, 31, 110), (4, 31, 310),
    (5, 41, 110), (5, 41, 310);

-- ---------------------------------------------------------------------------------
-- User roles.
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_user_role (tenant_id, user_id, role_id) VALUES
    (1,  2,  1), (1,  2,  2),   -- alice: admin-ops + viewer
    (1,  3,  2),                -- bob: viewer
    (1,  4,  2),                -- carol (disabled user): viewer
    (1,  5,  1),                -- dave (deleted user): admin-ops
    (1,  6,  3), (1,  6,  4),   -- erin: only a disabled and a deleted role
    (1,  7,  5),                -- frank: taobao-ops ...
    (1,  7, 11),                -- ... and acme's manager role: another tenant's, ignored
    (2, 12, 11),                -- mia: manager
    (2, 13, 12),                -- noah: clerk
    (3, 22, 21),                -- tom
    (4, 32, 31),                -- olga
    (5, 42, 41);                -- fred

-- ---------------------------------------------------------------------------------
-- Stores and delegation. STORES = own stores + the own stores of each delegate
-- (one level; the delegate must be live and enabled).
--   bob   -> alice : bob gets alice's 1001, 1002 but not frank's (one level only)
--   alice -> frank : alice gets frank's 1004, 1005
--   erin  -> carol : carol is disabled, erin gets nothing from her
--   noah  -> mia   : noah gets mia's 2001, 2002
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_user_store (tenant_id, user_id, store_id) VALUES
    (1,  2, 1001), (1,  2, 1002),  -- alice
    (1,  3, 1003),                 -- bob
    (1,  7, 1004), (1,  7, 1005),  -- frank
    (1,  4, 1007),                 -- carol (disabled)
    (1,  6, 1008),                 -- erin
    (1,  5, 1009),                 -- dave (deleted)
    (2, 12, 2001), (2, 12, 2002),  -- mia
    (2, 13, 2003),                 -- noah
    (3, 22, 3001),                 -- tom
    (4, 32, 4001),                 -- olga
    (5, 42, 5001);                 -- fred

INSERT INTO tenant_user_delegate (tenant_id, user_id, delegate_user_id) VALUES
    (1,  3,  2),   -- bob inherits alice's stores
    (1,  2,  7),   -- alice inherits frank's stores
    (1,  6,  4),   -- erin inherits carol's stores (carol is disabled: none)
    (2, 13, 12);   -- noah inherits mia's stores

-- ---------------------------------------------------------------------------------
-- Tables rbacd does not cache, filled for completeness.
-- ---------------------------------------------------------------------------------
INSERT INTO tenant_role_template (tenant_id, role_id, template_id) VALUES
    (1, 1, 9001), (1, 2, 9002), (2, 11, 9001);

INSERT INTO tenant_user_favorite (tenant_id, user_id, menu_id, sort) VALUES
    (1, 2, 510, 1), (1, 2, 110, 2), (1, 3, 310, 1);

COMMIT;
