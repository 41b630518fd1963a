import { test } from "node:test";
import * as assert from "node:assert/strict";
import { makeBatches, paddingFraction, truncatedLengths } from "../../src/cllm4rec/data/batches";
import type { CorpusDoc, EvalPrompt, RecSample } from "../../src/cllm4rec/data/corpus_doc";
import { Rng } from "../../src/shared/rng";

const range = (a: number, n: number): number[] => Array.from({ length: n }, (_, k) => a + k);
const doc = (user: number, prompt: number[], main: number[]): CorpusDoc => ({
  kind: "review",
  user,
  item: user + 100,
  prompt,
  main,
  promptText: "",
  mainText: "",
});

test("makeBatches: right-padded row-major ids with masks and lengths", () => {
  const docs = [doc(0, [5, 6], [7, 8, 9]), doc(1, [10, 11, 12], [13])];
  const [b] = makeBatches(docs, 4);
  assert.equal(b.size, 2);
  assert.equal(b.promptLen, 3);
  assert.equal(b.mainLen, 3);
  assert.deepEqual([...b.promptIds], [5, 6, 0, 10, 11, 12]);
  assert.deepEqual([...b.promptMask], [1, 1, 0, 1, 1, 1]);
  assert.deepEqual([...b.mainIds], [7, 8, 9, 13, 0, 0]);
  assert.deepEqual([...b.mainMask], [1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...b.promptLengths], [2, 3]);
  assert.deepEqual([...b.mainLengths], [3, 1]);
  assert.deepEqual([...b.users], [0, 1]);
  assert.deepEqual([...b.items], [100, 101]);
});

test("truncation: prompt + main <= maxTotal, the end of the main text is cut, an overlong prompt keeps its end", () => {
  const docs = [doc(0, range(1, 5), range(100, 20)), doc(1, range(1, 15), range(200, 3)), doc(2, range(1, 3), range(300, 4))];
  const batches = makeBatches(docs, 1, { maxTotal: 10 });
  const [a, b, c] = batches;
  assert.deepEqual([...a.promptIds], range(1, 5));
  assert.deepEqual([...a.mainIds], range(100, 5));
  assert.deepEqual([...b.promptIds], range(7, 9), "last maxTotal - 1 prompt tokens");
  assert.deepEqual([...b.mainIds], [200]);
  assert.deepEqual([...c.promptIds], range(1, 3));
  assert.deepEqual([...c.mainIds], range(300, 4), "short docs untouched");
  for (const x of batches) assert.ok(x.promptLengths[0] + x.mainLengths[0] <= 10);
  // Prompt-only rows keep their last maxTotal tokens.
  const rec: RecSample = { kind: "rec", user: 3, prompt: range(1, 15), promptText: "", masked: [4], target: [1, 4] };
  const [r] = makeBatches([rec], 2, { maxTotal: 10 });
  assert.deepEqual([...r.promptIds], range(6, 10));
  assert.deepEqual(r.targets, [[1, 4]]);
  assert.deepEqual(truncatedLengths(2000, 10, 1024), { prompt: 1023, main: 1 });
  assert.deepEqual(truncatedLengths(100, 2000, 1024), { prompt: 100, main: 924 });
});

test("random batching covers every doc once; eval batches carry exclude/truth; kinds cannot mix", () => {
  const rng = new Rng(4);
  const docs = range(0, 23).map((u) => doc(u, [1], range(1, 1 + (u % 5))));
  const batches = makeBatches(docs, 5, { rng });
  assert.deepEqual(
    batches.map((b) => b.size),
    [5, 5, 5, 5, 3],
  );
  assert.deepEqual(
    batches.flatMap((b) => [...b.users]).sort((a, b) => a - b),
    range(0, 23),
  );
  const ev: EvalPrompt[] = [0, 1].map((u) => ({ kind: "eval", user: u, prompt: [1, 2], promptText: "", exclude: [u], truth: [u + 5] }));
  const [e] = makeBatches(ev, 8);
  assert.deepEqual(
    [e.exclude, e.truth, [...e.users]],
    [
      [[0], [1]],
      [[5], [6]],
      [0, 1],
    ],
  );
  assert.throws(() => makeBatches([...docs.slice(0, 1), ev[0]] as unknown as CorpusDoc[], 2), /makeBatches.*batch one kind at a time/);
  assert.throws(() => makeBatches(docs, 0), /makeBatches.*batchSize/);
  assert.throws(() => makeBatches([doc(0, [], [])], 2), /makeBatches.*has no tokens/);
});

test("length-aware batching cuts padding on a skewed set and still covers every doc once", () => {
  const rng = new Rng(9);
  // 90% short docs (3-10 tokens), 10% long ones (200-400 tokens).
  const docs = range(0, 1000).map((u) => {
    const long = rng.float() < 0.1;
    return doc(u, [1, 2], range(3, long ? 200 + rng.int(200) : 3 + rng.int(8)));
  });
  const random = makeBatches(docs, 20, { rng: new Rng(1) });
  const aware = makeBatches(docs, 20, { rng: new Rng(1), lengthAware: true });
  const pr = paddingFraction(random);
  const pa = paddingFraction(aware);
  console.log(`padding: random ${(100 * pr).toFixed(1)}%, length-aware ${(100 * pa).toFixed(1)}%`);
  assert.ok(pa < pr / 2, `length-aware ${pa} vs random ${pr}`);
  assert.deepEqual(
    aware.flatMap((b) => [...b.users]).sort((a, b) => a - b),
    range(0, 1000),
  );
});
