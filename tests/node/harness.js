// harness.js — what the Node.js tests share: a server from ../blackbox/harness.py's
// serve mode (a scratch database with the demo data and an rbacd on a free port), and
// CLIENT INFO parsing.
//
// startServer(args) runs `harness.py serve ARGS...`, which prints "PORT PID" and runs
// until its standard input closes; stopServer() closes it and resolves with its exit
// status: 0 when the server stopped cleanly (exit 0, no sanitizer report).
"use strict";

const { spawn, execFileSync } = require("node:child_process");
const path = require("node:path");
const readline = require("node:readline");

const HARNESS = path.join(__dirname, "..", "blackbox", "harness.py");
const START_TIMEOUT_MS = 60000;

// Starts harness.py serve; resolves with { port, pid, child, stderr }.
function startServer(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/python3", [HARNESS, "serve", ...args], {
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
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", (line) => {
      clearTimeout(timer);
      const [port, pid] = line.trim().split(/\s+/).map(Number);
      resolve({ port, pid, child, stderr: () => stderr });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`harness exited (${code}) before the server started:\n${stderr}`));
    });
  });
}

// Closes the harness's stdin and resolves with its exit status.
function stopServer(srv) {
  return new Promise((resolve) => {
    srv.child.removeAllListeners("exit");
    if (srv.child.exitCode !== null) {
      resolve(srv.child.exitCode);
      return;
    }
    srv.child.once("exit", (code) => resolve(code));
    srv.child.stdin.end();
  });
}

// Parses CLIENT INFO / CLIENT LIST lines into { key: value }.
function clientFields(text) {
  const out = {};
  for (const kv of String(text).trim().split(" ")) {
    const i = kv.indexOf("=");
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

// The hash of password for a `user NAME ROLE HASH` line (rbacd --hash-password).
function hashPassword(password) {
  const bin = process.env.RBACD_BIN;
  if (!bin) throw new Error("RBACD_BIN is not set: run this test through CTest");
  return execFileSync(bin, ["--hash-password"], { input: password + "\n" }).toString().trim();
}

module.exports = { startServer, stopServer, clientFields, hashPassword };
