// serve.js — starts an rbacd over a scratch database for the test and the benchmark,
// through tests/blackbox/harness.py's serve mode (it prints "PORT PID" and keeps both
// until its standard input closes, then checks that the server stopped cleanly).
// Needs RBACD_BIN, RBACD_SOURCE_DIR and RBACD_TEST_DBDIR, as CTest sets them.
"use strict";

const { spawn } = require("node:child_process");
const path = require("node:path");
const readline = require("node:readline");

const HARNESS = path.join(__dirname, "..", "..", "tests", "blackbox", "harness.py");
const START_TIMEOUT_MS = 60000;

// Resolves with { port, pid, stop() -> Promise<exit status>, stderr() }.
function startServer(extraArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/python3", [HARNESS, "serve", ...extraArgs], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the server did not start in time:\n" + stderr));
    }, START_TIMEOUT_MS);
    const onEarlyExit = (code) => {
      clearTimeout(timer);
      reject(new Error(`harness exited (${code}) before the server started:\n${stderr}`));
    };
    child.once("exit", onEarlyExit);
    readline.createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      child.removeListener("exit", onEarlyExit);
      const [port, pid] = line.trim().split(/\s+/).map(Number);
      const stop = () =>
        new Promise((res) => {
          if (child.exitCode !== null) return res(child.exitCode);
          child.once("exit", (code) => res(code));
          child.stdin.end();
        });
      resolve({ port, pid, stop, stderr: () => stderr });
    });
  });
}

module.exports = { startServer };
