// Regression tests of issue 10's defects: run-folder state that round-trips and is checked,
// the run lock, the data fingerprint, --resume and its flags, and clear errors on bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync, spawn } from "node:child_process";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { openRun, trainRun, loadRun, type RunSpec } from "../../src/cllm4rec/pipeline";
import { Trainer } from "../../src/cllm4rec/train/trainer";
import { datasetCorpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS, type TrainConfig } from "../../src/cllm4rec/train/config";
import { stringifyRunJson, Fields } from "../../src/cllm4rec/run/json";
import { lockRunFolder } from "../../src/cllm4rec/run/lock";
import { preprocess } from "../../src/cllm4rec/data/preprocess";
import { emptyRawData } from "../../src/cllm4rec/data/raw_data";
import { readLines } from "../../src/cllm4rec/data/line_reader";
import { readGeneric } from "../../src/cllm4rec/data/read_generic";
import { readAmazonReviews } from "../../src/cllm4rec/data/read_amazon";
import { readSafetensors } from "../../src/io/safetensors";
import { parseGpt2Config } from "../../src/io/gpt2_config";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { parseArgs } from "../../src/cli/flags";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-runfolder-"));
process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
const modelDir = path.join(tmp, "backbone");
createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 128, seed: 3 });
const quiet = () => {};
const cli = path.resolve(__dirname, "..", "..", "..", "dist", "train.js");
const config = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  ...PAPER_DEFAULTS,
  contentEpochs: 1,
  alternatingEpochs: 1,
  finetuneEpochs: 1,
  contentFraction: 0.1,
  lrFinetune: 1e-3,
  seed: 7,
  ...over,
});
const spec = (over: Partial<TrainConfig> = {}): RunSpec => ({
  data: { kind: "synthetic", numUsers: 40, numItems: 30, seed: 5 },
  dataOptions: {},
  modelDir,
  config: config(over),
});
const runCli = (args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, CLLM4REC_CACHE: path.join(tmp, "cache") } });
const tinyFlags = [
  "--model",
  modelDir,
  "--synthetic-users",
  "40",
  "--synthetic-items",
  "30",
  "--content-epochs",
  "1",
  "--alternating-epochs",
  "1",
  "--finetune-epochs",
  "1",
  "--content-fraction",
  "0.1",
  "--threads",
  "1",
];

async function trainerFor(s: RunSpec, outDir: string) {
  const ctx = await openRun(s, { log: quiet });
  const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: s.config.batchSize, maxTokens: 128, lengthAware: true });
  return {
    ctx,
    trainer: new Trainer({ model: ctx.model, corpora, split: ctx.dataset, config: s.config, outDir, log: quiet, backboneRef: modelDir }),
  };
}

test("state JSON round-trips ±Infinity and NaN, and checked fields name the file and field", () => {
  const text = stringifyRunJson({ a: Infinity, b: -Infinity, c: NaN, d: 0.1 + 0.2 });
  const f = new Fields("x.json", JSON.parse(text));
  assert.equal(f.number("a"), Infinity);
  assert.equal(f.number("b"), -Infinity);
  assert.ok(Number.isNaN(f.number("c")));
  assert.equal(f.number("d"), 0.1 + 0.2);
  assert.throws(() => new Fields("x.json", { n: "toString" }).number("n"), /x\.json: field 'n' must be a number/);
  assert.throws(() => new Fields("x.json", { o: { k: null } }).object("o").int("k", 0), /x\.json: field 'o\.k' must be a number, got null/);
});

test("resume after the content epoch still records the best L-step epoch (Infinity survived state.json)", async () => {
  const s = spec({ finetuneEpochs: 1 });
  const dir = path.join(tmp, "inf");
  const a = await trainerFor(s, dir);
  await a.trainer.run({ untilEpoch: 1 }); // content only: best collab loss still Infinity
  const st = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")).state;
  assert.equal(st.best.collabLoss, "Infinity");
  const b = await trainerFor(s, dir);
  assert.equal(b.trainer.resume(), true);
  const r = await b.trainer.run();
  assert.equal(r.best.collabEpoch, 2, "the alternating epoch must become the best L-side epoch");
  const ref = await (await trainerFor(s, path.join(tmp, "inf-ref"))).trainer.run();
  assert.deepEqual(
    r.history.map((h) => h.valScore),
    ref.history.map((h) => h.valScore),
  );
});

test("damaged or inconsistent state.json and run.json are errors naming file and field", async () => {
  const dir = path.join(tmp, "damaged");
  await trainRun(spec(), dir, { log: quiet });
  const stateFile = path.join(dir, "state.json");
  const good = fs.readFileSync(stateFile, "utf8");
  const resume = () => trainRun(spec(), dir, { log: quiet, resume: true });
  fs.writeFileSync(stateFile, "");
  await assert.rejects(resume, /state\.json: the checkpoint state is empty/);
  fs.writeFileSync(stateFile, "{garbage");
  await assert.rejects(resume, /state\.json: the checkpoint state is not valid JSON/);
  const obj = JSON.parse(good);
  fs.writeFileSync(stateFile, JSON.stringify({ ...obj, state: { ...obj.state, completed: 99 } }));
  await assert.rejects(resume, /state\.json: field 'state\.completed' must be <= 3, got 99/);
  fs.writeFileSync(stateFile, JSON.stringify({ ...obj, state: { ...obj.state, best: { ...obj.state.best, valEpoch: "x" } } }));
  await assert.rejects(resume, /field 'state\.best\.valEpoch' must be a number/);
  fs.writeFileSync(stateFile, good);
  // a flipped byte in a checkpoint file is caught by its checksum
  const tables = path.join(dir, obj.files.tables.path);
  const bytes = fs.readFileSync(tables);
  const bad = Buffer.from(bytes);
  bad[bad.length - 1] ^= 1;
  fs.writeFileSync(tables, bad);
  await assert.rejects(resume, /tables-e0003\.safetensors: SHA-256 differs/);
  fs.writeFileSync(tables, bytes);
  const runFile = path.join(dir, "run.json");
  const run = fs.readFileSync(runFile, "utf8");
  fs.writeFileSync(runFile, "not json");
  await assert.rejects(() => loadRun(dir, { log: quiet }), /run\.json: the run description is not valid JSON/);
  fs.writeFileSync(runFile, JSON.stringify({ ...JSON.parse(run), config: { ...JSON.parse(run).config, batchSize: "20" } }));
  await assert.rejects(() => loadRun(dir, { log: quiet }), /run\.json: field 'config\.batchSize' must be a number/);
  fs.writeFileSync(runFile, run);
  await loadRun(dir, { log: quiet });
});

test("a NaN inside a checkpoint table is named, not found later by topK", async () => {
  const dir = path.join(tmp, "nan-table");
  await trainRun(spec(), dir, { log: quiet });
  const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8"));
  const file = path.join(dir, state.files.best.path);
  const st = readSafetensors(file);
  const t = st.tensors.get("collab.item")!;
  (t.data as Float32Array)[5] = NaN;
  const { serializeSafetensors } = await import("../../src/io/safetensors");
  const bytes = serializeSafetensors(
    new Map([...st.tensors].map(([n, x]) => [n, { shape: x.shape, data: x.data as Float32Array }])),
    st.metadata,
  );
  fs.writeFileSync(file, bytes);
  const crypto = await import("node:crypto");
  state.files.best = { ...state.files.best, bytes: bytes.length, sha256: crypto.createHash("sha256").update(bytes).digest("hex") };
  fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify(state));
  await assert.rejects(() => loadRun(dir, { log: quiet }), /tensor 'collab\.item' holds NaN at element 5/);
});

test("run lock: a second writer gets a clear error; a dead writer's lock is recovered", async () => {
  const dir = path.join(tmp, "locked");
  fs.mkdirSync(dir, { recursive: true });
  const held = lockRunFolder(dir);
  await assert.rejects(() => trainRun(spec(), dir, { log: quiet }), new RegExp(`in use by another training \\(pid ${process.pid}`));
  held.release();
  // a pid that is certainly gone: a child that already exited
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  fs.writeFileSync(path.join(dir, "run.lock"), JSON.stringify({ pid: Number(child.stdout), host: os.hostname(), started: "then" }));
  const logs: string[] = [];
  await trainRun(spec(), dir, { log: (s) => logs.push(s) });
  assert.ok(
    logs.some((l) => /recovering a stale lock \(pid \d+ is gone\)/.test(l)),
    logs.join("\n"),
  );
  assert.equal(fs.existsSync(path.join(dir, "run.lock")), false, "lock released at the end");
});

test("two CLI trainings on one --out: exactly one succeeds, the other names the lock", {
  skip: !fs.existsSync(cli) && "dist/train.js not built",
}, async () => {
  const out = path.join(tmp, "race");
  const start = () =>
    new Promise<{ code: number | null; text: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, ...tinyFlags, "--out", out], {
        env: { ...process.env, CLLM4REC_CACHE: path.join(tmp, "cache") },
      });
      let text = "";
      p.stdout.on("data", (d) => (text += d));
      p.stderr.on("data", (d) => (text += d));
      p.on("close", (code) => resolve({ code, text }));
    });
  const [a, b] = await Promise.all([start(), start()]);
  assert.deepEqual([a.code, b.code].sort(), [0, 1], a.text + b.text);
  const loser = a.code === 1 ? a : b;
  assert.match(loser.text, /in use by another training|already holds a run/);
  const lines = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n");
  assert.equal(lines.length, 3, "metrics.jsonl holds one run's epochs");
});

test("data fingerprint: relabelled data with the same counts is refused unless --allow-data-change", async () => {
  const csv = path.join(tmp, "inter.csv");
  const rows = (perm: (i: number) => number) => {
    const out = ["user,item,rating"];
    for (let u = 0; u < 30; u++) for (let k = 0; k < 8; k++) out.push(`u${u},i${perm((u * 3 + k * 5) % 25)},5`);
    return out.join("\n") + "\n";
  };
  fs.writeFileSync(
    csv,
    rows((i) => i),
  );
  const s: RunSpec = { data: { kind: "generic", interactions: csv }, dataOptions: {}, modelDir, config: config({ ablation: "llm-cf" }) };
  const dir = path.join(tmp, "fingerprint");
  await trainRun(s, dir, { log: quiet });
  fs.writeFileSync(
    csv,
    rows((i) => (i * 7) % 25),
  ); // same size and counts, items relabelled
  await assert.rejects(
    () => loadRun(dir, { log: quiet }),
    /the data changed since this run was trained[\s\S]*inter\.csv: same size, different content[\s\S]*--allow-data-change/,
  );
  await assert.rejects(() => trainRun(s, dir, { log: quiet, resume: true }), /the data changed/);
  const warned: string[] = [];
  await loadRun(dir, { log: (l) => warned.push(l), allowDataChange: true });
  assert.ok(warned.some((l) => /warning: --allow-data-change/.test(l)));
});

test("--resume applies safe flags and says so; other changes are refused before run.json is touched", async () => {
  const dir = path.join(tmp, "resume-flags");
  const a = await trainerFor(spec({ finetuneEpochs: 2 }), dir);
  await a.trainer.run({ untilEpoch: 3 });
  fs.writeFileSync(path.join(dir, "run.json"), stringifyRunJson(spec({ finetuneEpochs: 2 })));
  const before = fs.readFileSync(path.join(dir, "run.json"), "utf8");
  await assert.rejects(
    () => trainRun(spec({ finetuneEpochs: 2 }), dir, { log: quiet, resume: true, resumeConfig: { batchSize: 7 } }),
    /--resume cannot change batchSize \(20 -> 7\)/,
  );
  await assert.rejects(
    () => trainRun(spec({ finetuneEpochs: 2 }), dir, { log: quiet, resume: true, resumeConfig: { alternatingEpochs: 2 } }),
    /field 'state\.history\[2\]' is finetune epoch 1, but this run's schedule has alternating epoch 2 there/,
  );
  assert.equal(fs.readFileSync(path.join(dir, "run.json"), "utf8"), before, "run.json must not change when resume is refused");
  const logs: string[] = [];
  const rep = await trainRun(spec(), dir, {
    log: (l) => logs.push(l),
    resume: true,
    resumeConfig: { lrFinetune: 5e-4, finetuneEpochs: 3 },
  });
  assert.ok(
    logs.some((l) => l === "resume: applying lrFinetune 0.001 -> 0.0005, finetuneEpochs 2 -> 3"),
    logs.join("\n"),
  );
  assert.equal(rep.stageEpochs.finetune, 3);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")).config.lrFinetune, 5e-4);
});

test("a failed start leaves no folder; --out naming a file is a clear error", async () => {
  const dir = path.join(tmp, "failed-start");
  await assert.rejects(() => trainRun({ ...spec(), dataOptions: { userCore: 100000 } }, dir, { log: quiet }), /k-core|removed every/);
  assert.equal(fs.existsSync(dir), false);
  const file = path.join(tmp, "a-file");
  fs.writeFileSync(file, "x");
  await assert.rejects(() => trainRun(spec(), file, { log: quiet }), /--out .*a-file is a file, not a folder/);
});

test("a tab or comma inside ids keeps users and items apart", () => {
  const raw = emptyRawData("tabs");
  for (let u = 0; u < 6; u++)
    for (let i = 0; i < 6; i++) raw.interactions.push({ user: `u\t${u}`, item: `i\t${i},x`, rating: 5, time: null });
  const ds = preprocess(raw, { userCore: 5 });
  assert.equal(ds.numUsers, 6);
  assert.equal(ds.numItems, 6);
  assert.ok(ds.userIds.includes("u\t3"));
});

test('ratings: 0x10 is not 16, an empty rating or "overall": null is a bad row, not a positive', async () => {
  const csv = path.join(tmp, "ratings.csv");
  fs.writeFileSync(csv, "user,item,rating\na,x,0x10\na,y,\na,z,4.5\n");
  const g = await readGeneric({ interactions: csv });
  assert.deepEqual(
    g.interactions.map((r) => [r.item, r.rating]),
    [["z", 4.5]],
  );
  assert.equal(g.badRows, 2);
  assert.match(g.issues.map((i) => i.reason).join("\n"), /non-numeric rating "0x10"[\s\S]*empty rating/);
  const jl = path.join(tmp, "amazon.jsonl");
  fs.writeFileSync(
    jl,
    [
      '{"reviewerID":"a","asin":"x","overall":null}',
      '{"reviewerID":"a","asin":"y","overall":"0x10"}',
      '{"reviewerID":"a","asin":"z","overall":5}',
    ].join("\n") + "\n",
  );
  const am = await readAmazonReviews(jl);
  assert.deepEqual(
    am.interactions.map((r) => r.item),
    ["z"],
  );
  assert.equal(am.badRows, 2);
});

test("a huge line is an error with its line number; corrupt backbone configs and safetensors headers are named", async () => {
  const f = path.join(tmp, "long.txt");
  fs.writeFileSync(f, "short\n" + "x".repeat(5000) + "\nend\n");
  await assert.rejects(() => readLines(f, () => {}, "utf8", 1000), /long\.txt: line 2 is longer than 1000 characters/);
  const cfg = { vocab_size: 10, n_positions: 8, n_embd: 4, n_head: 1, n_layer: 1e9 };
  assert.throws(() => parseGpt2Config(cfg), /n_layer must be at most 1024, got 1000000000/);
  const header = (entry: unknown) => {
    const h = Buffer.from(JSON.stringify({ t: entry }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, Buffer.alloc(16)]);
  };
  assert.throws(() => readSafetensors(header({ dtype: "toString", shape: [4], data_offsets: [0, 16] })), /unsupported dtype "toString"/);
  assert.throws(
    () => readSafetensors(header({ dtype: "F32", shape: [2 ** 52, 2 ** 52], data_offsets: [0, 16] })),
    /has 2\.028e\+31 elements, more than the 16-byte data area/,
  );
  const half = path.join(tmp, "half-tokenizer");
  createTinyGpt2Folder(half, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 128, seed: 3 });
  fs.writeFileSync(path.join(half, "vocab.json"), "{}");
  assert.throws(() => loadGpt2Folder(half), /has vocab\.json but no merges\.txt/);
});

test("CLI: bounded --threads, --out needs a value, empty --users, --tokens, export never overwrites the run", {
  skip: !fs.existsSync(cli) && "dist/train.js not built",
}, async () => {
  assert.throws(() => parseArgs(["--out", "--resume"]), /--out needs a value, got the flag --resume/);
  const t = runCli(["--threads", "100000", "--out", path.join(tmp, "threads")]);
  assert.equal(t.status, 1);
  assert.match(t.stderr, /--threads must be an integer in 1\.\.1024, got 100000/);
  const g = runCli(["generate", "--model", modelDir, "--tokens", "-1"]);
  assert.equal(g.status, 1);
  assert.match(g.stderr, /--tokens must be an integer in 1\.\.100000, got -1/);
  const out = path.join(tmp, "cli-run");
  const tr = runCli([...tinyFlags, "--out", out]);
  assert.equal(tr.status, 0, tr.stderr);
  const r = runCli(["recommend", "--out", out, "--users", ",,,"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--users names no user id/);
  for (const to of ["run.json", "state.json", path.join("checkpoint", "x.safetensors")]) {
    const before = fs.existsSync(path.join(out, to)) ? fs.readFileSync(path.join(out, to)) : null;
    const e = runCli(["export", "--out", out, "--to", path.join(out, to)]);
    assert.equal(e.status, 1, `export --to ${to} must fail`);
    assert.match(e.stderr, /would overwrite|must name a \.safetensors file/);
    if (before) assert.ok(fs.readFileSync(path.join(out, to)).equals(before));
  }
  const ok = runCli(["export", "--out", out]);
  assert.equal(ok.status, 0, ok.stderr);
});

test("the NaN stop says whether a checkpoint was kept and how to continue", async () => {
  // no content stage: the first epoch's L-steps diverge after a 1e30 update, before any commit
  const fresh = await trainerFor(spec({ lrPretrain: 1e30, batchSize: 2, contentEpochs: 0 }), path.join(tmp, "nan-fresh"));
  await assert.rejects(() => fresh.trainer.run(), /stage 'alternating', epoch 1, step \d+; no epoch was complete, so nothing was kept/);
  const kept = await trainerFor(spec(), path.join(tmp, "nan-kept"));
  await kept.trainer.run({ untilEpoch: 1 });
  const bad = await trainerFor(spec({ lrPretrain: 1e30 }), path.join(tmp, "nan-kept"));
  assert.equal(bad.trainer.resume(), true);
  await assert.rejects(() => bad.trainer.run(), /checkpoint is kept: lower the learning rate and continue with --resume --lr-pretrain/);
});
