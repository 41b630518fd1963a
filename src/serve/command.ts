// `node dist/train.js serve --out RUN [--port N] [--host H]`: the service from the CLI.
import * as path from "node:path";
import { serve } from "./index";

export async function serveCommand(f: Record<string, string | number | boolean>): Promise<void> {
  if (!f.out) throw new Error("serve needs --out DIR (a run folder made by training)");
  const num = (k: string) => (f[k] === undefined ? undefined : (f[k] as number));
  await serve({
    out: path.resolve(String(f.out)),
    port: num("port") ?? 8080,
    host: f.host === undefined ? "127.0.0.1" : String(f.host),
    device: f.device as "auto" | "cpu" | "cuda" | undefined,
    threads: num("threads"),
    maxBatch: num("max-batch"),
    maxWaitMs: num("max-wait-ms"),
    maxQueue: num("max-queue"),
  });
}
