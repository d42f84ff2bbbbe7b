#!/usr/bin/env python3
"""test_deploy.py — what an operator installs and runs (README "Operations").

* `rbacd --version` and `-v`: name, the CMake project version, the git commit when built
  from a checkout; exit status 0, nothing on stderr.
* `cmake --install` of the build under test, with DESTDIR and with --prefix: the binary,
  the configuration, the systemd unit and the sysusers entry land where the README says;
  the installed binary runs and accepts the installed configuration; the unit's paths
  point at the installed files and `systemd-analyze verify` has nothing to say about it
  (when systemd-analyze is there); a second install keeps an edited configuration.
* The unit's ExecReload, run as written, after a logrotate-style rename: the log file is
  reopened at its path and the lines that follow go there.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import RbacdServer, scratch_db, wait_for  # noqa: E402

UNIT_SETTINGS = [  # what the unit must keep (README, "Operations")
    "User=rbacd", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
    "ProtectHome=yes", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID",
]


def build_dir():
    return os.path.dirname(harness.rbacd_bin())


def project_version():
    with open(os.path.join(harness.source_dir(), "CMakeLists.txt")) as f:
        return re.search(r"project\(rbacd VERSION (\d+\.\d+\.\d+)", f.read()).group(1)


def cmake_install(*args, env=None):
    e = dict(os.environ)
    e.pop("DESTDIR", None)
    e.update(env or {})
    p = subprocess.run(["cmake", "--install", build_dir()] + list(args), env=e,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("cmake --install failed:\n" + p.stdout + p.stderr)
    return p.stdout


def unit_value(text, key):
    m = re.search(r"^%s=(.*)$" % re.escape(key), text, re.M)
    return m.group(1) if m else None


class VersionTest(unittest.TestCase):

    def test_version(self):
        for flag in ("--version", "-v"):
            p = subprocess.run([harness.rbacd_bin(), flag], capture_output=True, text=True,
                               timeout=30, env=harness.sanitizer_env())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "")
            line = p.stdout.strip()
            self.assertEqual(len(p.stdout.splitlines()), 1, p.stdout)
            self.assertTrue(line.startswith("rbacd %s" % project_version()), line)
            if os.path.exists(os.path.join(harness.source_dir(), ".git")) and \
                    shutil.which("git"):
                # The commit the binary was built from (not necessarily HEAD: a commit
                # since the build does not rebuild it) is one of this checkout's.
                m = re.search(r"\(git (?:.*-g)?([0-9a-f]{7,40})(?:-dirty)?\)$", line)
                self.assertIsNotNone(m, line)
                p = subprocess.run(["git", "-C", harness.source_dir(), "cat-file", "-e",
                                    m.group(1) + "^{commit}"], capture_output=True)
                self.assertEqual(p.returncode, 0, "%s names no commit here" % line)

class InstallTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rbacd-install-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check_tree(self, root, prefix):
        """The files under root (DESTDIR or /) for an install to prefix."""
        bin_ = os.path.join(root + prefix, "bin", "rbacd")
        conf = os.path.join(root + prefix, "etc", "rbacd", "rbacd.conf")
        unit = os.path.join(root + prefix, "lib", "systemd", "system", "rbacd.service")
        users = os.path.join(root + prefix, "lib", "sysusers.d", "rbacd.conf")
        for path in (bin_, conf, unit, users):
            self.assertTrue(os.path.isfile(path), path)
        self.assertTrue(os.access(bin_, os.X_OK))
        with open(unit) as f:
            text = f.read()
        for setting in UNIT_SETTINGS:
            self.assertIn("\n" + setting + "\n", text)
        # ExecStart names the installed binary and configuration (without DESTDIR).
        exec_start = unit_value(text, "ExecStart").split()
        self.assertEqual(exec_start[0], prefix + "/bin/rbacd")
        self.assertEqual(exec_start[1], prefix + "/etc/rbacd/rbacd.conf")
        with open(users) as f:
            self.assertRegex(f.read(), r"(?m)^u rbacd ")
        p = subprocess.run([bin_, "--check-config", conf] + exec_start[2:], capture_output=True,
                           text=True, timeout=30, env=harness.sanitizer_env())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return unit, conf

    def test_install_with_destdir(self):
        dest = os.path.join(self.tmp, "dest")
        cmake_install("--prefix", "/usr/local", env={"DESTDIR": dest})
        self.check_tree(dest, "/usr/local")
        # Nothing outside DESTDIR: every file is under dest/usr/local.
        for top, _, files in os.walk(dest):
            for name in files:
                self.assertTrue(os.path.join(top, name).startswith(dest + "/usr/local/"))

    def test_install_with_prefix_and_verify_unit(self):
        prefix = os.path.join(self.tmp, "prefix")
        cmake_install("--prefix", prefix)
        unit, conf = self.check_tree("", prefix)
        p = subprocess.run([os.path.join(prefix, "bin", "rbacd"), "--version"],
                           capture_output=True, text=True, timeout=30,
                           env=harness.sanitizer_env())
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("rbacd " + project_version()))
        if shutil.which("systemd-analyze"):
            v = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            # Unknown keys and bad values are only warnings: none may be about the unit.
            about_unit = [line for line in (v.stdout + v.stderr).splitlines()
                          if "rbacd.service" in line]
            self.assertEqual(about_unit, [])
        # A second install keeps an edited configuration and puts the new one beside it.
        with open(conf, "a") as f:
            f.write("\n# edited by the operator\nport 7777\n")
        cmake_install("--prefix", prefix)
        with open(conf) as f:
            self.assertIn("port 7777", f.read())
        self.assertTrue(os.path.isfile(conf + ".dist"))


class ReloadTest(unittest.TestCase):

    def test_exec_reload_reopens_the_log(self):
        with open(os.path.join(harness.source_dir(), "conf", "rbacd.service")) as f:
            reload_cmd = unit_value(f.read(), "ExecReload")
        with scratch_db("deployhup", demo=True) as db, RbacdServer(
                db=db, args=["--loglevel", "verbose"]) as srv:
            rotated = srv.log_path + ".1"
            os.rename(srv.log_path, rotated)  # what logrotate does (without copytruncate)
            argv = reload_cmd.replace("$MAINPID", str(srv.pid)).split()
            self.assertEqual(subprocess.run(argv, timeout=30).returncode, 0)
            wait_for(lambda: os.path.exists(srv.log_path), 10, what="the log file reopened")
            r = srv.client()
            r.client_setname("after-reload")
            r.ping()
            r.close()
            wait_for(lambda: "accepted" in srv.log_text(), 10,
                     what="a line in the new log file")
            with open(rotated) as f:
                self.assertIn("started", f.read())
            self.assertIn("SIGHUP", srv.log_text())
            self.assertEqual(srv.stop(signal.SIGTERM), 0)


if __name__ == "__main__":
    harness.main()
