// How the bench merges interleaved rounds (bench/reference.ts): a row's times and ordinary
// figures come from the round nearest the median time; figures measured against their own
// per-round reference (perRound, e.g. a GEMM's share of the peak measured right after it)
// are the median over the rounds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeRounds } from "../../bench/reference";
import type { Row } from "../../bench/common";

const round = (ms: number, ofPeak: number, paired: number): Row => ({
  case: "c",
  ms,
  minMs: ms - 1,
  samples: 10,
  metrics: { "of peak": ofPeak, "of paired peak": paired },
  primary: "of peak",
  perRound: ["of paired peak"],
});

test("bench rounds: per-round figures merge as their median, the rest come from the median-time round", () => {
  // times 10, 30, 20: the median time is the third round's, whose paired ratio (0.5) is not
  // the median paired ratio (0.8, the second round's), so the two rules give different values
  const rounds = [[round(10, 0.3, 0.9)], [round(30, 0.1, 0.8)], [round(20, 0.2, 0.5)]].map((rows) => ({ rows, ref: null }));
  const [r] = mergeRounds(rounds).rows;
  assert.equal(r.ms, 20);
  assert.equal(r.minMs, 9);
  assert.deepEqual(r.spread, [10, 30]);
  assert.equal(r.rounds, 3);
  assert.equal(r.metrics["of peak"], 0.2); // the median-time round's value
  assert.equal(r.metrics["of paired peak"], 0.8); // median of 0.9, 0.8, 0.5, not the median-time round's 0.5
});

test("bench rounds: a row without perRound keeps the median-time round's figures", () => {
  const plain = (ms: number, v: number): Row => ({ case: "p", ms, minMs: ms, samples: 1, metrics: { "of paired peak": v } });
  const [r] = mergeRounds([plain(5, 0.1), plain(7, 0.9), plain(6, 0.4)].map((x) => ({ rows: [x], ref: null }))).rows;
  assert.equal(r.metrics["of paired peak"], 0.4);
});
