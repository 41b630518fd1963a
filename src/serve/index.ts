// Public surface of `cllm4rec/serve`: the HTTP JSON service on a run folder.
import { openRun, type OpenRunOptions } from "../run/run";
import { createService, type Service, type ServiceOptions } from "./service";

export { createService } from "./service";
export type { Service, ServiceOptions } from "./service";
export { MicroBatcher, QueueFullError } from "./batcher";
export type { BatcherOptions } from "./batcher";
export { Histogram, ServiceMetrics } from "./metrics";

export interface ServeOptions extends ServiceOptions, OpenRunOptions {
  /** the run folder */
  out: string;
  /** default 8080; 0 picks a free port */
  port?: number;
  /** default 127.0.0.1 (localhost only) */
  host?: string;
  /** close gracefully on SIGTERM and SIGINT (default true) */
  handleSignals?: boolean;
}

/** Opens the run, listens, and (by default) shuts down gracefully on SIGTERM/SIGINT. */
export async function serve(o: ServeOptions): Promise<Service & { url: string }> {
  const log = o.log ?? ((s: string) => console.log(s));
  const port = o.port ?? 8080;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new RangeError(`port must be an integer in [0, 65535], got ${port}`);
  const t0 = Date.now();
  const run = await openRun(o.out, { device: o.device, threads: o.threads, log });
  const service = createService(run, { ...o, log: undefined });
  let url: string;
  try {
    url = await service.listen(port, o.host ?? "127.0.0.1");
  } catch (e) {
    run.dispose();
    const err = e as NodeJS.ErrnoException;
    throw new Error(
      `cannot listen on ${o.host ?? "127.0.0.1"}:${port}: ${err.code === "EADDRINUSE" ? "the port is in use (choose another with --port)" : err.message}`,
    );
  }
  log(
    `serving ${run.users.length} users x ${run.items.length} items from ${run.dir} on ${url} (device ${run.device}, ready in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  log(
    `  GET ${url}/recommend?user=${encodeURIComponent(run.users[0] ?? "ID")}&top=10 | POST ${url}/recommend {"users":[...],"top":10} | GET ${url}/healthz | GET ${url}/metrics`,
  );
  if (o.handleSignals !== false) {
    const stop = (signal: string) => {
      log(`${signal}: refusing new requests, answering the queued ones, then closing`);
      service.close().then(
        () => {
          run.dispose();
          log("closed");
        },
        (e: unknown) => {
          console.error(`error while closing: ${(e as Error).message}`);
          process.exitCode = 1;
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  }
  return Object.assign(service, { url });
}
