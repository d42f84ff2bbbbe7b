#!/usr/bin/env python3
"""test_compat_redis_py.py — redis-py as Debian ships it (python3-redis, for
/usr/bin/python3), unmodified, against rbacd (README "Clients").

The round every client of the compatibility suite runs (tests/node/test_compat_clients.js
for the Node.js ones): connect as an ACL user (AUTH username password), PING, CANMENU
allow and deny (by id and by perms code), MENUS, a SESSION CREATE / GET / CANMENU /
REVOKE round trip, error replies as redis-py's exception types (ResponseError,
NoPermissionError), and a pipeline (transaction=False: no MULTI) with an error in it.

RESP3: redis-py speaks it from 5.0 on (protocol=3). Debian 12's python3-redis is 4.3,
which has RESP2 only; the RESP3 case runs when the installed redis-py takes protocol=3
and is skipped, saying so, when it does not.
"""

import inspect
import re
import unittest

import redis

import harness
from harness import RbacdServer

ADMIN = ("ops", "ops-pw-py")
CHECKER = ("app", "app-pw-py")
REQUIREPASS = "default-pw-py"
T, U, ALLOWED, ALLOWED_CODE, DENIED = 1, 2, 110, "taobao:order:list", 999999
PIPELINE_DEPTH = 100

HAS_RESP3 = "protocol" in inspect.signature(redis.Redis.__init__).parameters


class RedisPyRound:
    """The round, for one protocol version (PROTO)."""

    PROTO = 2

    @classmethod
    def setUpClass(cls):
        cls.db = harness.scratch_db("compatpy")
        conf = ["requirepass " + REQUIREPASS,
                "user %s admin %s" % (ADMIN[0], harness.hash_password(ADMIN[1])),
                "user %s check %s" % (CHECKER[0], harness.hash_password(CHECKER[1]))]
        try:
            cls.srv = RbacdServer(db=cls.db, conf_lines=conf, password=REQUIREPASS).start()
        except BaseException:
            cls.db.drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.db.drop()

    def connect(self, user):
        kw = {"username": user[0], "password": user[1]}
        if self.PROTO == 3:
            kw["protocol"] = 3
        return self.srv.client(**kw)

    def setUp(self):
        self.r = self.connect(ADMIN)

    def test_connects_as_an_acl_user_in_its_protocol(self):
        self.assertTrue(self.r.ping())
        info = self.r.client_info()
        self.assertEqual(info["user"], ADMIN[0])
        self.assertEqual(str(info["resp"]), str(self.PROTO))
        self.assertEqual(self.r.info("replication")["role"], "master")

    def test_canmenu_and_menus(self):
        self.assertEqual(self.r.execute_command("CANMENU", T, U, ALLOWED), 1)
        self.assertEqual(self.r.execute_command("CANMENU", T, U, ALLOWED_CODE), 1)
        self.assertEqual(self.r.execute_command("CANMENU", T, U, DENIED), 0)
        menus = self.r.execute_command("MENUS", T, U)
        self.assertGreater(len(menus), 10)
        self.assertEqual(menus[0], ALLOWED)
        self.assertEqual(menus, sorted(menus))

    def test_session_round_trip(self):
        token = self.r.execute_command("SESSION", "CREATE", T, U, "TTL", 600)
        self.assertRegex(token, r"^[A-Za-z0-9_-]{43}$")
        got = self.r.execute_command("SESSION", "GET", token)
        self.assertEqual(got[:2], [T, U])
        self.assertGreater(got[3], got[2])
        self.assertEqual(self.r.execute_command("SESSION", "CANMENU", token, ALLOWED), 1)
        self.assertEqual(self.r.execute_command("SESSION", "CANMENU", token, DENIED), 0)
        self.assertEqual(self.r.execute_command("SESSION", "REVOKE", token), 1)
        self.assertIsNone(self.r.execute_command("SESSION", "GET", token))
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "^NOSESSION"):
            self.r.execute_command("SESSION", "CANMENU", token, ALLOWED)

    def test_errors_are_redis_py_exceptions(self):
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "invalid id 'x'"):
            self.r.execute_command("CANMENU", T, "x", ALLOWED)
        c = self.connect(CHECKER)
        self.assertEqual(c.execute_command("CANMENU", T, U, ALLOWED), 1)
        with self.assertRaisesRegex(redis.exceptions.NoPermissionError, "session\\|create"):
            c.execute_command("SESSION", "CREATE", T, U)
        # redis-py 4.3 maps WRONGPASS to no class of its own.
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "^WRONGPASS"):
            self.srv.client(username=CHECKER[0], password="wrong").ping()
        self.assertTrue(self.r.ping())

    def test_pipeline_keeps_order_and_places_errors(self):
        p = self.r.pipeline(transaction=False)
        for i in range(PIPELINE_DEPTH):
            if i == 50:
                p.execute_command("CANMENU", T, "x", ALLOWED)
            else:
                p.execute_command("CANMENU", T, U, DENIED if i % 2 else ALLOWED)
        replies = p.execute(raise_on_error=False)
        self.assertEqual(len(replies), PIPELINE_DEPTH)
        for i, v in enumerate(replies):
            if i == 50:
                self.assertIsInstance(v, redis.exceptions.ResponseError)
            else:
                self.assertEqual(v, 0 if i % 2 else 1, i)


class RedisPyResp2Test(RedisPyRound, unittest.TestCase):
    PROTO = 2


@unittest.skipUnless(HAS_RESP3, "redis-py %s has no RESP3 (protocol=3 came in 5.0)" %
                     redis.__version__)
class RedisPyResp3Test(RedisPyRound, unittest.TestCase):
    PROTO = 3


if __name__ == "__main__":
    harness.main()
