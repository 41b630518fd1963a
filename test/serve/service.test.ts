// The HTTP service with a real client (fetch) against a real server on localhost:
// answers equal the library's, concurrent requests share forward passes, errors have
// the right status and a message, the bounded queue answers 503, SIGTERM drains.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { lib, trainedRun } from "../run/fixture";
import type { Service } from "../../src/serve";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const fixture = trainedRun("serve");
const services: Service[] = [];
after(async () => {
  for (const s of services) await s.close();
});

async function start(o: Parameters<typeof lib.createService>[1] = {}): Promise<{ url: string; service: Service }> {
  const { run } = await fixture;
  const service = lib.createService(run, o);
  services.push(service);
  return { url: await service.listen(0, "127.0.0.1"), service };
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies of many shapes, checked field by field
async function get(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json(), headers: r.headers };
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies of many shapes, checked field by field
async function post(url: string, body: unknown, type = "application/json"): Promise<{ status: number; body: any }> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": type },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

test("GET and POST /recommend answer what the library answers; healthz", async () => {
  const { run } = await fixture;
  const { url } = await start();
  const u = run.users[3];
  const one = await get(`${url}/recommend?user=${encodeURIComponent(u)}&top=4`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, run.recommend(u, 4)[0]);
  const dflt = await get(`${url}/recommend?user=${encodeURIComponent(u)}`);
  assert.equal(dflt.body.items.length, 10);
  const batch = await post(`${url}/recommend`, { users: [run.users[1], u, run.users[7]], top: 3, exclude: "train" });
  assert.equal(batch.status, 200);
  assert.deepEqual(batch.body.results, run.recommend([run.users[1], u, run.users[7]], 3, { exclude: "train" }));
  const h = await get(`${url}/healthz`);
  assert.equal(h.status, 200);
  assert.equal(h.body.status, "ok");
  assert.equal(h.body.users, run.users.length);
});

test("concurrent requests are micro-batched into shared forward passes", async () => {
  const { run } = await fixture;
  // a generous wait so that all requests of the burst land in one forming batch even on a busy machine
  const { url, service } = await start({ maxWaitMs: 300, maxBatch: 64 });
  const users = run.users.slice(0, 16);
  const answers = await Promise.all(users.map((u) => get(`${url}/recommend?user=${encodeURIComponent(u)}&top=5`)));
  answers.forEach((a, i) => {
    assert.equal(a.status, 200);
    assert.equal(a.body.user, users[i]);
    const alone = run.recommend(users[i], 5)[0].items;
    assert.deepEqual(
      a.body.items.map((x: { item: string }) => x.item),
      alone.map((x) => x.item),
    );
    a.body.items.forEach((x: { score: number }, k: number) => {
      assert.ok(Math.abs(x.score - alone[k].score) <= 1e-4 * (1 + Math.abs(x.score)));
    });
  });
  const m = (await get(`${url}/metrics`)).body;
  assert.equal(m.batches.users, 16);
  assert.ok(m.batches.count < 16, `16 concurrent requests took ${m.batches.count} forward passes`);
  assert.ok(m.batches.size.max > 1, `largest batch ${m.batches.size.max}`);
  assert.equal(m.requests.byRoute["GET /recommend"], 16);
  assert.equal(m.requests.byStatus["200"], 16);
  assert.equal(m.latencyMs.count, 16);
  assert.equal(
    m.latencyMs.buckets.reduce((s: number, b: { count: number }) => s + b.count, 0),
    16,
  );
  assert.ok(m.latencyMs.p50 > 0 && m.latencyMs.p99 >= m.latencyMs.p50);
  assert.equal(service.metrics.requests, 17);
  // the same counters in the Prometheus text format; buckets cumulative, +Inf = count
  const r = await fetch(`${url}/metrics?format=prometheus`);
  assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  assert.match(text, /^cllm4rec_requests_total\{route="GET \/recommend",status="200"\} 16$/m);
  assert.match(text, /^cllm4rec_requests_total\{route="GET \/metrics",status="200"\} 1$/m);
  const buckets = [...text.matchAll(/^cllm4rec_request_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((x) => Number(x[2]));
  assert.ok(buckets.length > 5 && buckets.every((n, i) => i === 0 || n >= buckets[i - 1]), `buckets ${buckets}`);
  assert.equal(buckets[buckets.length - 1], 17);
  assert.match(text, /^cllm4rec_request_duration_seconds_count 17$/m);
  assert.match(text, /^cllm4rec_batch_users_sum 16$/m);
  assert.match(text, /^# TYPE cllm4rec_queue_rejected_total counter$/m);
});

test("errors: 404 unknown users, 400 bad parameters, 405, 413, 415, unknown routes", async () => {
  const { run } = await fixture;
  const { url } = await start({ maxBodyBytes: 2000, maxRequestUsers: 5 });
  const nf = await get(`${url}/recommend?user=nobody`);
  assert.equal(nf.status, 404);
  assert.match(nf.body.error, /unknown user id\(s\): nobody/);
  assert.deepEqual(nf.body.unknown, ["nobody"]);
  const nf2 = await post(`${url}/recommend`, { users: [run.users[0], "ghost"] });
  assert.equal(nf2.status, 404);
  assert.deepEqual(nf2.body.unknown, ["ghost"]);
  const bad: [string, RegExp][] = [
    [`/recommend`, /needs exactly one user=ID/],
    [`/recommend?user=${run.users[0]}&top=0`, /top must be an integer in \[1, 30\], got "0"/],
    [`/recommend?user=${run.users[0]}&top=abc`, /top must be an integer/],
    [`/recommend?user=${run.users[0]}&top=31`, /top must be an integer in \[1, 30\]/],
    [`/recommend?user=${run.users[0]}&exclude=val`, /exclude must be one of known, train, none/],
    [`/recommend?user=a&user=b`, /exactly one user/],
  ];
  for (const [p, re] of bad) {
    const r = await get(url + p);
    assert.equal(r.status, 400, p);
    assert.match(r.body.error, re, p);
  }
  const badPosts: [unknown, RegExp][] = [
    ["{not json", /not JSON/],
    [[1, 2], /body must be an object/],
    [{ users: [] }, /non-empty array/],
    [{ users: "1" }, /non-empty array/],
    [{ users: [run.users[0], null] }, /users\[1\] must be a user id/],
    [{ users: [run.users[0]], top: 2.5 }, /top must be an integer/],
    [{ users: [run.users[0]], tpo: 2 }, /unknown field\(s\) tpo/],
    [{ users: run.users.slice(0, 6) }, /at most 5 users per request, got 6/],
  ];
  for (const [b, re] of badPosts) {
    const r = await post(`${url}/recommend`, b);
    assert.equal(r.status, 400, JSON.stringify(b));
    assert.match(r.body.error, re);
  }
  assert.equal((await post(`${url}/recommend`, { users: ["x".repeat(3000)] })).status, 413);
  assert.equal((await post(`${url}/recommend`, "users=1", "application/x-www-form-urlencoded")).status, 415);
  const del = await fetch(`${url}/recommend`, { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "GET, POST");
  const nr = await get(`${url}/nope`);
  assert.equal(nr.status, 404);
  assert.match(nr.body.error, /no route GET \/nope/);
  await get(`${url}/nope2`);
  const m = (await get(`${url}/metrics`)).body;
  assert.equal(m.requests.byRoute["GET (other)"], 2, "unknown paths share one label");
  assert.equal(m.requests.byStatus["404"], 4);
  assert.equal(m.requests.byStatus["400"], 14);
});

test("a full queue answers 503 with Retry-After; the queued requests still succeed", async () => {
  const { run } = await fixture;
  const { url, service } = await start({ maxQueue: 4, maxWaitMs: 1500, maxBatch: 64 });
  // the first four wait (1.5 s) for a batch that never fills; the rest find the queue full
  const first = run.users.slice(0, 4).map((u) => get(`${url}/recommend?user=${encodeURIComponent(u)}`));
  await new Promise((r) => setTimeout(r, 200));
  const more = await Promise.all(run.users.slice(4, 6).map((u) => get(`${url}/recommend?user=${encodeURIComponent(u)}`)));
  for (const r of more) {
    assert.equal(r.status, 503);
    assert.match(r.body.error, /queue full: 4 item\(s\) waiting, limit 4/);
    assert.equal(r.headers.get("retry-after"), "1");
  }
  for (const r of await Promise.all(first)) assert.equal(r.status, 200);
  assert.equal(service.metrics.rejectedQueueFull, 2);
});

test("serve command: listens, answers, and drains queued requests on SIGTERM", async () => {
  const { out, tmp } = await fixture;
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "dist", "train.js"), "serve", "--out", out, "--port", "0", "--max-wait-ms", "1000"],
    {
      env: { ...process.env, CLLM4REC_CACHE: path.join(tmp, "cache") },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "",
    stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no 'serving' line in 60 s; stdout: ${stdout} stderr: ${stderr}`)), 60_000);
    child.stdout.on("data", () => {
      const m = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.on("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
  });
  const { run } = await fixture;
  const h = await get(`${url}/healthz`);
  assert.equal(h.status, 200);
  // a request waiting in a forming batch (1 s) when SIGTERM arrives is still answered
  const pending = get(`${url}/recommend?user=${encodeURIComponent(run.users[2])}&top=3`);
  await new Promise((r) => setTimeout(r, 200));
  child.kill("SIGTERM");
  const answered = await pending;
  assert.equal(answered.status, 200);
  assert.deepEqual(answered.body, run.recommend(run.users[2], 3)[0]);
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /SIGTERM: refusing new requests/);
  assert.match(stdout, /closed/);
  await assert.rejects(() => fetch(`${url}/healthz`));
});

test("serve command: a clear error without --out or with a bad --port", async () => {
  const cli = path.join(ROOT, "dist", "train.js");
  const { spawnSync } = await import("node:child_process");
  const a = spawnSync(process.execPath, [cli, "serve"], { encoding: "utf8" });
  assert.equal(a.status, 1);
  assert.match(a.stderr, /serve needs --out DIR/);
  const { out, tmp } = await fixture;
  const b = spawnSync(process.execPath, [cli, "serve", "--out", out, "--port", "70000"], {
    encoding: "utf8",
    env: { ...process.env, CLLM4REC_CACHE: path.join(tmp, "cache") },
  });
  assert.equal(b.status, 1);
  assert.match(b.stderr, /port must be an integer in \[0, 65535\], got 70000/);
});
