// The public API as a user sees it: the package imported by name (exports map, typed
// subpaths), train() -> Run, openRun(dir) and what a Run answers, checked against the
// run folder's own files and a naive ranking; bad input fails with clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { lib, trainedRun } from "./fixture";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const fixture = trainedRun("api");

test("every subpath of the exports map resolves by package name to built JS with declarations", () => {
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== "./package.json");
  assert.ok(subpaths.length >= 8, `only ${subpaths.length} subpaths`);
  for (const sub of subpaths) {
    const name = sub === "." ? "cllm4rec" : `cllm4rec/${sub.slice(2)}`;
    const file = require.resolve(name);
    assert.equal(file, path.join(ROOT, pkg.exports[sub].default), name);
    assert.ok(
      fs.existsSync(path.join(ROOT, pkg.exports[sub].types)),
      `${name}: ${pkg.exports[sub].types} missing (tsc declaration output)`,
    );
    assert.ok(Object.keys(require(name)).length > 0, `${name} exports nothing`);
    if (sub !== ".") assert.deepEqual(pkg.typesVersions["*"][sub.slice(2)], [pkg.exports[sub].types.slice(2)], `typesVersions for ${name}`);
  }
  // the namespaces of the main entry are the subpath modules themselves
  assert.equal(lib.engine.Tensor, require("cllm4rec/engine").Tensor);
  assert.equal(lib.openRun, require("cllm4rec/run").openRun);
  assert.equal(typeof lib.serve, "function");
  assert.equal(typeof lib.io.loadGpt2Folder, "function");
  assert.equal(typeof lib.nn.Gpt2, "function");
  // internals stay private: only the exports map is public
  assert.throws(
    () => require("cllm4rec/dist/engine/tensor"),
    (e: NodeJS.ErrnoException) => e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED",
  );
});

test("train() returns the run; openRun(dir) reopens it with the selected embeddings", async () => {
  const { out, run } = await fixture;
  assert.ok(run.report, "report.json read");
  assert.equal(run.users.length, run.card.users);
  assert.equal(run.items.length, run.card.items);
  assert.deepEqual(run.card, JSON.parse(fs.readFileSync(path.join(out, "dataset-card.json"), "utf8")));
  // the reopened run scores exactly as the final evaluation of training did
  const again = await lib.openRun(out);
  const test = await again.evaluate("test");
  assert.deepEqual(test.recall, run.report!.cllm4rec.test.recall);
  assert.deepEqual(test.ndcg, run.report!.cllm4rec.test.ndcg);
  // embeddings() are the tables of the committed best epoch (state.json names the file), rows in the order of users/items
  const best = JSON.parse(fs.readFileSync(path.join(out, "state.json"), "utf8")).files.best.path;
  const saved = lib.io.readSafetensors(path.join(out, best));
  const e = again.embeddings();
  assert.equal(e.dim, 32);
  assert.deepEqual(e.collab.user.shape, [run.users.length, 32]);
  assert.deepEqual(e.content.item.shape, [run.items.length, 32]);
  for (const [name, m] of [
    ["collab.user", e.collab.user],
    ["collab.item", e.collab.item],
    ["content.user", e.content.user],
    ["content.item", e.content.item],
  ] as const)
    assert.deepEqual(m.data, lib.io.floatData(saved.tensors.get(name)!, name), name);
  again.dispose();
  assert.throws(() => again.recommend(run.users[0]), /was disposed/);
});

test("recommend: the top of the raw scores, known items excluded, independent of the batch", async () => {
  const { run } = await fixture;
  const ds = run.context.dataset;
  const ids = [run.users[4], run.users[0], run.users[9], run.users[4]];
  const recs = run.recommend(ids, 7);
  const all = run.scores(ids);
  assert.equal(all.data.length, ids.length * run.items.length);
  recs.forEach((rec, r) => {
    assert.equal(rec.user, ids[r]);
    const u = run.users.indexOf(ids[r]);
    const known = new Set([...ds.train[u], ...ds.val[u], ...ds.test[u]]);
    // naive reference: sort every unknown item by score (ties: lower index first)
    const row = all.row(r);
    const expect = [...row.keys()]
      .filter((j) => !known.has(j))
      .sort((a, b) => row[b] - row[a] || a - b)
      .slice(0, 7);
    assert.deepEqual(
      rec.items.map((x) => x.item),
      expect.map((j) => run.items[j]),
    );
    assert.deepEqual(
      rec.items.map((x) => x.score),
      expect.map((j) => row[j]),
    );
    // a user's scores do not depend on the other users of the forward pass
    const alone = run.scores(ids[r]).row(0);
    for (let j = 0; j < alone.length; j++)
      assert.ok(Math.abs(alone[j] - row[j]) <= 1e-4 * (1 + Math.abs(row[j])), `user ${ids[r]} item ${j}: ${alone[j]} vs ${row[j]}`);
  });
  const u0 = run.users.indexOf(ids[0]);
  const train = new Set(ds.train[u0].map((j) => run.items[j]));
  const withTest = run.recommend(ids[0], run.items.length, { exclude: "train" })[0].items.map((x) => x.item);
  assert.equal(withTest.length, run.items.length - train.size);
  assert.ok(withTest.every((i) => !train.has(i)));
  assert.equal(run.recommend(ids[0], 1000, { exclude: "none" })[0].items.length, run.items.length);
});

test("bad input: unknown users, bad top, bad config, not a run folder", async () => {
  const { tmp, run } = await fixture;
  assert.throws(
    () => run.recommend(["nobody", run.users[0], "ghost"], 3),
    (e: Error) =>
      e instanceof lib.UnknownUserError &&
      e.name === "UnknownUserError" &&
      /unknown user id\(s\): nobody, ghost/.test(e.message) &&
      (e as InstanceType<typeof lib.UnknownUserError>).users.join() === "nobody,ghost",
  );
  for (const top of [0, -1, 2.5, NaN]) assert.throws(() => run.recommend(run.users[0], top), /top must be a positive integer/);
  assert.throws(() => run.recommend(run.users[0], 3, { exclude: "val" as never }), /exclude must be known, train or none/);
  await assert.rejects(() => lib.train({ out: path.join(tmp, "x"), config: { lamdaC: 1 } as never }), /unknown config field\(s\) lamdaC/);
  await assert.rejects(() => lib.train({ out: path.join(tmp, "x"), config: { batchSize: 0 } }), /batchSize must be a positive number/);
  await assert.rejects(() => lib.train({} as never), /options.out/);
  await assert.rejects(() => lib.openRun(path.join(tmp, "cache")), /is not a run folder \(no run\.json\)/);
  await assert.rejects(() => lib.openRun(path.join(tmp, "missing")), /does not exist/);
});

test("the example runs against the package by name (on the trained run)", async () => {
  const { out, tmp } = await fixture;
  const r = spawnSync(process.execPath, [path.join(ROOT, "examples", "quickstart.js"), out], {
    encoding: "utf8",
    env: { ...process.env, CLLM4REC_CACHE: path.join(tmp, "cache") },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /run .*: 60 users, 30 items/);
  assert.match(r.stdout, /top 5 for user \S+: (\S+ \(-?\d+\.\d+\)(, )?){5}/);
  assert.match(r.stdout, /embeddings: collab.user 60x32, content.item 30x32 \(d = 32\)/);
  assert.match(r.stdout, /engine: \[\[1,2\],\[3,4\]\]·I = \[1, 2, 3, 4\]/);
});
