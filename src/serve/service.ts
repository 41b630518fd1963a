// The HTTP JSON service on an opened run: GET/POST /recommend (micro-batched into one
// forward pass), GET /healthz, GET /metrics; bounded queue; graceful close.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { type Run, UnknownUserError, type Exclude, type Recommendation } from "../run/run";
import { MicroBatcher, QueueFullError } from "./batcher";
import { ServiceMetrics } from "./metrics";

export interface ServiceOptions {
  /** users per forward pass (default 64) */
  maxBatch?: number;
  /** longest wait of a forming batch for more requests, ms (default 5) */
  maxWaitMs?: number;
  /** users waiting for a forward pass beyond which requests get 503 (default 1024) */
  maxQueue?: number;
  /** users in one POST /recommend (default 256, at most maxQueue) */
  maxRequestUsers?: number;
  /** largest `top` (default: all items) */
  maxTop?: number;
  /** request bodies beyond this many bytes get 413 (default 1 MiB) */
  maxBodyBytes?: number;
  /** what close() waits for in-flight work before cutting connections, ms (default 10,000) */
  shutdownGraceMs?: number;
  /** one line per request (default: none) */
  log?: (line: string) => void;
}

export interface Service {
  readonly server: http.Server;
  readonly metrics: ServiceMetrics;
  readonly run: Run;
  /** starts listening; resolves with the base URL (port 0 picks a free port) */
  listen(port?: number, host?: string): Promise<string>;
  /** stops accepting, answers what is queued, then closes every connection */
  close(): Promise<void>;
}

interface Job {
  user: number;
  top: number;
  exclude: Exclude;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A non-JSON answer (the Prometheus exposition). */
class TextBody {
  constructor(
    readonly text: string,
    readonly type: string,
  ) {}
}

const EXCLUDES: readonly Exclude[] = ["known", "train", "none"];
const ROUTES = new Set(["/recommend", "/healthz", "/metrics"]);
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** The metrics label of a request; unknown paths and methods share one label so clients cannot grow the table. */
const routeLabel = (method: string | undefined, pathname: string): string =>
  `${METHODS.has(method ?? "") ? method : "OTHER"} ${ROUTES.has(pathname) ? pathname : "(other)"}`;

export function createService(run: Run, o: ServiceOptions = {}): Service {
  const maxQueue = o.maxQueue ?? 1024;
  const opts = {
    maxBatch: o.maxBatch ?? 64,
    maxWaitMs: o.maxWaitMs ?? 5,
    maxQueue,
    maxRequestUsers: Math.min(o.maxRequestUsers ?? 256, maxQueue),
    maxTop: o.maxTop ?? run.items.length,
    maxBodyBytes: o.maxBodyBytes ?? 1 << 20,
    shutdownGraceMs: o.shutdownGraceMs ?? 10_000,
  };
  const metrics = new ServiceMetrics();
  const batcher = new MicroBatcher<Job, Recommendation>(
    (jobs) => {
      // one forward pass for the distinct users of the batch; each job ranks its own row
      const users = [...new Set(jobs.map((j) => j.user))];
      const row = new Map(users.map((u, r) => [u, r]));
      const scores = run.scoreIndices(users);
      const J = run.items.length;
      return jobs.map((j) => {
        const r = row.get(j.user)!;
        return run.rank([j.user], scores.subarray(r * J, (r + 1) * J), j.top, j.exclude)[0];
      });
    },
    opts,
    (size, ms) => metrics.batch(size, ms),
  );
  let closing = false;

  const parseTop = (v: unknown): number => {
    if (v === undefined || v === null || v === "") return Math.min(10, opts.maxTop);
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(String(v)) ? Number(v) : NaN;
    if (!(Number.isInteger(n) && n >= 1 && n <= opts.maxTop))
      throw new HttpError(400, `top must be an integer in [1, ${opts.maxTop}], got ${JSON.stringify(v)}`);
    return n;
  };
  const parseExclude = (v: unknown): Exclude => {
    if (v === undefined || v === null || v === "") return "known";
    if (!EXCLUDES.includes(v as Exclude))
      throw new HttpError(400, `exclude must be one of ${EXCLUDES.join(", ")}, got ${JSON.stringify(v)}`);
    return v as Exclude;
  };
  const lookUp = (ids: string[]): number[] => {
    try {
      return run.userIndices(ids);
    } catch (e) {
      if (e instanceof UnknownUserError) throw new HttpError(404, e.message, { unknown: e.users });
      throw e;
    }
  };
  const enqueue = async (jobs: Job[]): Promise<Recommendation[]> => {
    try {
      return await batcher.submit(jobs);
    } catch (e) {
      if (e instanceof QueueFullError) {
        metrics.rejectedQueueFull++;
        throw new HttpError(503, e.message, { retryAfterSeconds: 1 });
      }
      throw e;
    }
  };

  const readBody = (req: http.IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const tooLarge = () => new HttpError(413, `request body over ${opts.maxBodyBytes} bytes`, { close: true });
      if (Number(req.headers["content-length"] ?? 0) > opts.maxBodyBytes) return reject(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        // past the limit the rest is read and dropped; the answer closes the connection
        if (size > opts.maxBodyBytes) reject(tooLarge());
        else chunks.push(c);
      });
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      req.on("error", reject);
    });

  async function handle(req: http.IncomingMessage, url: URL): Promise<{ status: number; body: unknown; route: string }> {
    const method = req.method ?? "GET";
    const route = routeLabel(method, url.pathname);
    const allow = (methods: string[]) => {
      if (!methods.includes(method))
        throw new HttpError(405, `${url.pathname} accepts ${methods.join(", ")}, not ${method}`, { allow: methods });
    };
    switch (url.pathname) {
      case "/healthz":
        allow(["GET", "HEAD"]);
        if (closing) return { status: 503, route, body: { status: "shutting down" } };
        return {
          status: 200,
          route,
          body: { status: "ok", users: run.users.length, items: run.items.length, device: run.device, queued: batcher.queued },
        };
      case "/metrics":
        allow(["GET"]);
        if (url.searchParams.get("format") === "prometheus")
          return {
            status: 200,
            route,
            body: new TextBody(
              metrics.toPrometheus({ depth: batcher.queued, limit: maxQueue }),
              "text/plain; version=0.0.4; charset=utf-8",
            ),
          };
        return { status: 200, route, body: metrics.toJSON({ depth: batcher.queued, limit: maxQueue }) };
      case "/recommend": {
        allow(["GET", "POST"]);
        if (closing) throw new HttpError(503, "shutting down");
        if (method === "GET") {
          const users = url.searchParams.getAll("user");
          if (users.length !== 1 || users[0] === "")
            throw new HttpError(400, "GET /recommend needs exactly one user=ID (POST /recommend takes a batch)");
          const top = parseTop(url.searchParams.get("top") ?? undefined);
          const exclude = parseExclude(url.searchParams.get("exclude") ?? undefined);
          const [user] = lookUp(users);
          const [rec] = await enqueue([{ user, top, exclude }]);
          return { status: 200, route, body: rec };
        }
        const type = String(req.headers["content-type"] ?? "");
        if (!/^application\/json\b/i.test(type))
          throw new HttpError(415, `POST /recommend takes application/json, got '${type || "no content-type"}'`);
        const text = await readBody(req);
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (e) {
          throw new HttpError(400, `request body is not JSON: ${(e as Error).message}`);
        }
        if (typeof body !== "object" || body === null || Array.isArray(body))
          throw new HttpError(400, 'body must be an object: {"users": ["ID", ...], "top": M}');
        const b = body as Record<string, unknown>;
        const extra = Object.keys(b).filter((k) => !["users", "top", "exclude"].includes(k));
        if (extra.length) throw new HttpError(400, `unknown field(s) ${extra.join(", ")} (fields: users, top, exclude)`);
        if (!Array.isArray(b.users) || b.users.length === 0) throw new HttpError(400, "users must be a non-empty array of user ids");
        if (b.users.length > opts.maxRequestUsers)
          throw new HttpError(400, `at most ${opts.maxRequestUsers} users per request, got ${b.users.length}`);
        const ids = b.users.map((u, i) => {
          if (typeof u === "string" && u !== "") return u;
          if (typeof u === "number" && Number.isFinite(u)) return String(u);
          throw new HttpError(400, `users[${i}] must be a user id (string or number), got ${JSON.stringify(u)}`);
        });
        const top = parseTop(b.top);
        const exclude = parseExclude(b.exclude);
        const idx = lookUp(ids);
        const results = await enqueue(idx.map((user) => ({ user, top, exclude })));
        // ids given as numbers come back as the run's string ids
        return { status: 200, route, body: { results } };
      }
      default:
        throw new HttpError(
          404,
          `no route ${method} ${url.pathname} (routes: GET /recommend?user=ID&top=M, POST /recommend, GET /healthz, GET /metrics)`,
        );
    }
  }

  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      url = new URL("http://localhost/");
    }
    handle(req, url).then(
      (r) => send(res, r.status, r.body, r.route, t0),
      (e: unknown) => {
        const route = routeLabel(req.method, url.pathname);
        if (e instanceof HttpError) {
          const headers: Record<string, string> = {};
          if (e.status === 503) headers["Retry-After"] = "1";
          if (e.status === 405) headers.Allow = (e.extra.allow as string[]).join(", ");
          const { close, ...extra } = e.extra;
          if (close) headers.Connection = "close";
          send(res, e.status, { error: e.message, ...extra }, route, t0, headers);
        } else {
          send(res, 500, { error: `internal error: ${(e as Error)?.message ?? String(e)}` }, route, t0);
        }
      },
    );
  });
  server.keepAliveTimeout = 5000;

  function send(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    route: string,
    t0: number,
    headers: Record<string, string> = {},
  ): void {
    const text = body instanceof TextBody ? body.text : JSON.stringify(body) + "\n";
    const type = body instanceof TextBody ? body.type : "application/json; charset=utf-8";
    if (closing) headers.Connection = "close";
    if (!res.headersSent) res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(text), ...headers });
    res.end(text);
    const ms = performance.now() - t0;
    metrics.request(route, status, ms);
    o.log?.(`${route} ${status} ${ms.toFixed(1)} ms`);
  }

  return {
    server,
    metrics,
    run,
    listen(port = 8080, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const a = server.address() as AddressInfo;
          resolve(`http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`);
        });
      });
    },
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const grace = setTimeout(() => server.closeAllConnections(), opts.shutdownGraceMs);
      await batcher.idle();
      server.closeIdleConnections();
      await closed;
      clearTimeout(grace);
    },
  };
}
