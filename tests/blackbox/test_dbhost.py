#!/usr/bin/env python3
"""test_dbhost.py — db-host as a list (host[:port],...) on the single test MariaDB.

* A bad list stops the start with a message naming the file, the line, the key and what
  is wrong (each case of the parser is pinned in tests/unit/conf_test.c).
* A list whose first node does not answer: rbacd loads, writes and follows changes
  through the next one, logs the move and counts it in INFO sync. (Moving between live
  nodes and back is tests/blackbox/test_galera.py, on a real cluster.)
"""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import RbacdServer, close_client, scratch_db  # noqa: E402


def live_port(db):
    return int(db.sql("SELECT @@port")[0][0])


class DbHostListTest(unittest.TestCase):
    def test_bad_list_stops_the_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            for value, why in (("a,,b", "host 2 of the list is empty"),
                               ("a:0", "'a:0': the port must be a number from 1 to 65535"),
                               ("[::1", "'[::1': no ']' after an IPv6 address")):
                path = os.path.join(tmp, "bad.conf")
                with open(path, "w") as f:
                    f.write("port 0\ndb-host %s\n" % value)
                for mode in (["--check-config"], []):
                    p = subprocess.run([harness.rbacd_bin(), *mode, path], capture_output=True,
                                       text=True, timeout=30, env=harness.sanitizer_env(),
                                       stdin=subprocess.DEVNULL)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertIn(path + ":2: db-host: " + why, p.stderr)

    def test_first_node_down_next_one_used(self):
        dead = harness.free_port()
        with scratch_db("dbhost") as db:
            port = live_port(db)
            hosts = "127.0.0.1:%d,127.0.0.1:%d" % (dead, port)
            srv = RbacdServer(db=db, conf_lines=['db-socket ""', 'db-host "%s"' % hosts,
                                                 "sync-interval-ms 50"]).start()
            try:
                r = srv.client()
                # The sync lane connects at its first poll.
                harness.wait_for(lambda: r.info("sync")["polls"] > 0, timeout=5,
                                 what="the first change-log poll")
                s = r.info("sync")
                self.assertEqual(s["db_nodes"], 2)
                self.assertEqual(s["db_node_current"], "127.0.0.1:%d" % port)
                self.assertEqual(s["db_galera"], 0)
                self.assertGreaterEqual(s["db_failovers"], 1)
                # Writes and change-following go through the live node.
                self.assertIn(r.execute_command("USER", "DISABLE", 1, 3), (0, 1))
                self.assertEqual(r.execute_command("MENUS", 1, 3), [])
                db.sql("UPDATE tenant_user SET status = 1 WHERE id = 3")
                top = db.sql("SELECT MAX(id) FROM rbac_change")[0][0]
                self.assertEqual(r.execute_command("WAITREV", int(top), 5000), 1)
                self.assertNotEqual(r.execute_command("MENUS", 1, 3), [])
                self.assertIn("now using the database at 127.0.0.1:%d" % port, srv.log_text())
                close_client(r)
            finally:
                srv.stop()
                srv.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
