// Starts the real apisendsms binary on a random port with a fresh SQLite database and the
// in-process simulated carrier, and collects what it logs (e-mails kept in the outbox).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");

export function binary() {
  if (process.env.APISENDSMS_BIN) { return process.env.APISENDSMS_BIN; }
  const target = process.env.CARGO_TARGET_DIR || path.join(repo, "target");
  const bin = path.join(target, "debug", "apisendsms");
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it with cargo build -p gateway (scripts/test.sh does)`);
  }
  return bin;
}

export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(path.join(tmpdir(), "apisendsms-web-"));
  const config = path.join(dir, "apisendsms.toml");
  writeFileSync(config, [
    `database_url = "sqlite://${dir}/web.db"`,
    "rate_limit_per_second = 0",
    "[web]",
    "signup_credit_czk = \"50.00\"",
    "[[connectors]]",
    "kind = \"sim\"",
    "name = \"sim\"",
    "receipt_delay_ms = 50",
    "[[routes]]",
    "prefix = \"\"",
    "connector = \"sim\"",
    "",
  ].join("\n"));
  const env = { ...process.env, APISENDSMS_LOG: "info,sqlx=warn", NO_COLOR: "1" };
  const child = spawn(binary(), ["--config", config, "serve", "--http", "127.0.0.1:0", ...extraArgs], {
    env, stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => { log += d.toString(); });
  const base = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log}`)), 30000);
    child.stdout.on("data", (d) => {
      out += d.toString();
      const m = out.match(/listening on (https?:\/\/[0-9.:]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`the server exited (${code}):\n${log}`)); });
  });
  return {
    base,
    config,
    /** The links of e-mails kept in the outbox, oldest first. */
    links() {
      // eslint-disable-next-line no-control-regex
      const clean = log.replace(/\u001b\[[0-9;]*m/g, "");
      return [...clean.matchAll(/link=(\S+)/g)].map((m) => m[1]);
    },
    log() { return log; },
    /** Runs a subcommand of the binary against the same database. */
    cli(...args) {
      return execFileSync(binary(), ["--config", config, ...args], { env }).toString();
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => { child.once("exit", r); setTimeout(r, 10000); });
    },
  };
}
