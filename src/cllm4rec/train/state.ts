// The trainer's resumable state and its validation against the epoch plan: a state.json
// that does not describe a prefix of this run's schedule is an error naming the field.
import type { EvalResult } from "../../shared/metrics";
import type { Fields } from "../run/json";

export type Stage = "content" | "alternating" | "finetune";
export const STAGES: readonly Stage[] = ["content", "alternating", "finetune"];
export interface EpochPlan {
  stage: Stage;
  epoch: number;
}

export interface EpochRecord {
  global: number;
  stage: Stage;
  epoch: number;
  collabLoss?: number;
  contentLoss?: number;
  recLoss?: number;
  val?: EvalResult;
  valScore?: number;
  seconds: number;
}

export interface BestEpochs {
  collabLoss: number;
  collabEpoch: number;
  contentLoss: number;
  contentEpoch: number;
  valScore: number;
  valEpoch: number;
  val?: EvalResult;
}

export interface RunState {
  completed: number; // epochs of the plan finished
  history: EpochRecord[];
  best: BestEpochs;
  steps: { collab: number; content: number; rec: number };
  /** Adam step counts; rec is -1 until finetuning created its optimizer */
  optSteps: { collab: number; content: number; rec: number };
  badEpochs: number;
  stoppedEarly: boolean;
}

export function freshState(): RunState {
  return {
    completed: 0,
    history: [],
    best: { collabLoss: Infinity, collabEpoch: 0, contentLoss: Infinity, contentEpoch: 0, valScore: -Infinity, valEpoch: 0 },
    steps: { collab: 0, content: 0, rec: 0 },
    optSteps: { collab: 0, content: 0, rec: -1 },
    badEpochs: 0,
    stoppedEarly: false,
  };
}

function evalResult(f: Fields): EvalResult {
  const r = f.object("recall"),
    n = f.object("ndcg");
  const rec: Record<number, number> = {},
    nd: Record<number, number> = {};
  for (const k of r.keys()) rec[Number(k)] = r.number(k);
  for (const k of n.keys()) nd[Number(k)] = n.number(k);
  return { recall: rec, ndcg: nd, users: f.int("users", 0) };
}

/** Parses and checks state.json's `state` against the plan this run would follow. */
export function parseState(f: Fields, plan: readonly EpochPlan[]): RunState {
  const completed = f.int("completed", 0, plan.length);
  const history = f.objects("history").map((h, i): EpochRecord => {
    const p = plan[i];
    const rec: EpochRecord = {
      global: h.int("global", i + 1, i + 1),
      stage: h.string("stage", STAGES) as Stage,
      epoch: h.int("epoch", 1),
      seconds: h.number("seconds", { min: 0 }),
    };
    if (!p || rec.stage !== p.stage || rec.epoch !== p.epoch)
      throw h.fail(
        `is ${rec.stage} epoch ${rec.epoch}, but this run's schedule has ${p ? `${p.stage} epoch ${p.epoch}` : "no epoch"} there ` +
          `(changed epoch counts can only extend stages that have not finished)`,
      );
    for (const k of ["collabLoss", "contentLoss", "recLoss", "valScore"] as const) {
      const v = h.optionalNumber(k);
      if (v !== undefined) rec[k] = v;
    }
    if (h.has("val")) rec.val = evalResult(h.object("val"));
    // keep the file's key order: metrics.jsonl is rewritten from these records
    const ordered: Record<string, unknown> = {};
    for (const k of h.keys()) if (k in rec) ordered[k] = rec[k as keyof EpochRecord];
    return ordered as unknown as EpochRecord;
  });
  if (history.length !== completed) throw f.fail(`has ${history.length} epoch record(s) but 'completed' is ${completed}`, "history");
  const b = f.object("best");
  const best: BestEpochs = {
    collabLoss: b.number("collabLoss"),
    collabEpoch: b.int("collabEpoch", 0, completed),
    contentLoss: b.number("contentLoss"),
    contentEpoch: b.int("contentEpoch", 0, completed),
    valScore: b.number("valScore"),
    valEpoch: b.int("valEpoch", 0, completed),
  };
  if (b.has("val")) best.val = evalResult(b.object("val"));
  const bestOrdered: Record<string, unknown> = {};
  for (const k of b.keys()) if (k in best) bestOrdered[k] = best[k as keyof BestEpochs];
  const s = f.object("steps"),
    o = f.object("optSteps");
  return {
    completed,
    history,
    best: bestOrdered as unknown as BestEpochs,
    steps: { collab: s.int("collab", 0), content: s.int("content", 0), rec: s.int("rec", 0) },
    optSteps: { collab: o.int("collab", 0), content: o.int("content", 0), rec: o.int("rec", -1) },
    badEpochs: f.int("badEpochs", 0, completed),
    stoppedEarly: f.bool("stoppedEarly"),
  };
}
