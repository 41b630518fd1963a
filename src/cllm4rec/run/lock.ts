// One writer per run folder: run.lock holds the writer's pid and host. A second writer gets
// a clear error; a lock whose process is gone (a crash, a kill) is recovered.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { removeFile, writeDurable } from "./fs";

export const LOCK_FILE = "run.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

export interface RunLock {
  release(): void;
}

/** Takes the lock of runDir or throws naming the holder. */
export function lockRunFolder(runDir: string, log: (s: string) => void = () => {}): RunLock {
  const file = path.join(runDir, LOCK_FILE);
  const me = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  // the lock appears with its content in one step (write a temp file, then link it to run.lock),
  // so a second writer never reads a half-made lock and mistakes it for a stale one
  const tmp = `${file}.tmp-${process.pid}`;
  for (const name of fs.readdirSync(runDir)) {
    const m = /^run\.lock\.tmp-(\d+)$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) fs.rmSync(path.join(runDir, name), { force: true });
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeDurable(tmp, JSON.stringify(me) + "\n");
      fs.linkSync(tmp, file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`${file}: cannot create the run lock (${(e as Error).message})`);
      let holder: { pid?: unknown; host?: unknown; started?: unknown } = {};
      try {
        holder = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch {
        // unreadable: damaged on disk (a lock is never half-written)
      }
      const pid = typeof holder.pid === "number" ? holder.pid : NaN;
      const sameHost = holder.host === undefined || holder.host === me.host;
      if (Number.isInteger(pid) && (!sameHost || alive(pid)))
        throw new Error(
          `${runDir} is in use by another training (pid ${pid} on ${String(holder.host)}, since ${String(holder.started)}); ` +
            `wait for it to finish, or remove ${file} if that process is gone`,
        );
      log(`run lock: recovering a stale lock (${Number.isInteger(pid) ? `pid ${pid} is gone` : "unreadable lock file"})`);
      removeFile(file);
      continue;
    }
    fs.rmSync(tmp, { force: true });
    let held = true;
    const onExit = () => release();
    const release = () => {
      if (!held) return;
      held = false;
      process.removeListener("exit", onExit);
      try {
        const cur = JSON.parse(fs.readFileSync(file, "utf8")) as { pid?: number };
        if (cur.pid === process.pid) fs.rmSync(file, { force: true });
      } catch {
        // already gone
      }
    };
    process.on("exit", onExit);
    return { release };
  }
  throw new Error(`${file}: could not take the run lock (another process keeps recreating it)`);
}
