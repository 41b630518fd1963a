// Raw rows -> Dataset (SPEC §7): positives, duplicate collapse, k-core, dense ids, per-user 80/10/10 split, texts.
import { countStats, type DatasetCard } from "./dataset_card";
import type { Dataset, TrainingReview } from "./dataset";
import { kCore } from "./kcore";
import { reviewKey, type RawData } from "./raw_data";
import { splitPositives } from "./split";

const WHERE = "preprocess (src/cllm4rec/data/preprocess.ts)";

export interface PreprocessOptions {
  /** A row is positive when rating > positiveThreshold (rows without a rating are positive). Default 3. */
  positiveThreshold?: number;
  /** Minimum positives per user (iterative k-core). Default 5. */
  userCore?: number;
  /** Minimum positives per item; 0 or 1 = no item constraint. Default 0. */
  itemCore?: number;
  valFraction?: number;
  testFraction?: number;
  /** Seed of the split's PRNG. Default 42. */
  seed?: number;
}

export type ResolvedPreprocessOptions = Required<PreprocessOptions>;

export function resolvePreprocessOptions(o: PreprocessOptions = {}): ResolvedPreprocessOptions {
  const r: ResolvedPreprocessOptions = {
    positiveThreshold: o.positiveThreshold ?? 3,
    userCore: o.userCore ?? 5,
    itemCore: o.itemCore ?? 0,
    valFraction: o.valFraction ?? 0.1,
    testFraction: o.testFraction ?? 0.1,
    seed: o.seed ?? 42,
  };
  if (!Number.isFinite(r.positiveThreshold))
    throw new RangeError(`${WHERE}: positiveThreshold must be a finite number, got ${r.positiveThreshold}`);
  for (const k of ["userCore", "itemCore", "seed"] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 0) throw new RangeError(`${WHERE}: ${k} must be a non-negative integer, got ${r[k]}`);
  }
  for (const k of ["valFraction", "testFraction"] as const) {
    if (!(r[k] >= 0 && r[k] < 0.5)) throw new RangeError(`${WHERE}: ${k} must be in [0, 0.5), got ${r[k]}`);
  }
  return r;
}

/** Sort order for original ids: numeric when every id is an integer string, else code-unit order. */
export function sortIds(ids: string[]): string[] {
  const numeric = ids.every((s) => /^-?\d+$/.test(s));
  return numeric ? [...ids].sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0)) : [...ids].sort();
}

export function preprocess(raw: RawData, options: PreprocessOptions = {}, source = raw.name): Dataset {
  const o = resolvePreprocessOptions(options);
  const rawUsers = new Set<string>();
  const rawItems = new Set<string>();
  // Duplicate (user,item) rows collapse to one: the latest time wins; with equal or missing times, the later row.
  const latest = new Map<string, { user: string; item: string; rating: number | null; time: number | null }>();
  for (const r of raw.interactions) {
    rawUsers.add(r.user);
    rawItems.add(r.item);
    const key = reviewKey(r.user, r.item);
    const prev = latest.get(key);
    if (prev === undefined || prev.time === null || r.time === null || r.time >= prev.time)
      latest.set(key, { user: r.user, item: r.item, rating: r.rating, time: r.time });
  }
  const duplicatePairs = raw.interactions.length - latest.size;
  if (raw.interactions.length === 0) throw new Error(`${WHERE}: ${source} has no readable interaction rows (${raw.badRows} bad rows)`);

  // Positive pairs with temporary ids in first-seen order.
  const userTmp = new Map<string, number>();
  const itemTmp = new Map<string, number>();
  const tmpUserIds: string[] = [];
  const tmpItemIds: string[] = [];
  const pu: number[] = [];
  const pi: number[] = [];
  for (const v of latest.values()) {
    if (v.rating !== null && !(v.rating > o.positiveThreshold)) continue;
    const u = v.user;
    const i = v.item;
    let a = userTmp.get(u);
    if (a === undefined) {
      a = tmpUserIds.push(u) - 1;
      userTmp.set(u, a);
    }
    let b = itemTmp.get(i);
    if (b === undefined) {
      b = tmpItemIds.push(i) - 1;
      itemTmp.set(i, b);
    }
    pu.push(a);
    pi.push(b);
  }
  if (pu.length === 0)
    throw new Error(`${WHERE}: ${source}: the positive filter (rating > ${o.positiveThreshold}) removed every interaction`);

  const core = kCore(Int32Array.from(pu), Int32Array.from(pi), tmpUserIds.length, tmpItemIds.length, o.userCore, o.itemCore);
  const byUser = new Map<number, number[]>();
  let afterCorePairs = 0;
  for (let e = 0; e < pu.length; e++) {
    if (core[e] === 0) continue;
    afterCorePairs++;
    let list = byUser.get(pu[e]);
    if (list === undefined) {
      list = [];
      byUser.set(pu[e], list);
    }
    list.push(pi[e]);
  }
  if (afterCorePairs === 0) {
    throw new Error(
      `${WHERE}: ${source}: the k-core filter (users >= ${o.userCore}, items >= ${o.itemCore} positives) removed every interaction`,
    );
  }
  // Splitting needs 1 train + 1 val + 1 test item; only matters when userCore < 3.
  let droppedUsersUnsplittable = 0;
  for (const [u, list] of byUser)
    if (list.length < 3) {
      byUser.delete(u);
      droppedUsersUnsplittable++;
    }
  if (byUser.size === 0) throw new Error(`${WHERE}: ${source}: no user has the 3 positives a train/val/test split needs`);

  const userIds = sortIds([...byUser.keys()].map((u) => tmpUserIds[u]));
  const keptItems = new Set<number>();
  for (const list of byUser.values()) for (const i of list) keptItems.add(i);
  const itemIds = sortIds([...keptItems].map((i) => tmpItemIds[i]));
  const itemDense = new Map(itemIds.map((id, j) => [id, j]));
  const positives = userIds.map((id) => byUser.get(userTmp.get(id)!)!.map((t) => itemDense.get(tmpItemIds[t])!));
  const { train, val, test } = splitPositives(positives, o, o.seed);

  const reviews: TrainingReview[] = [];
  let trainPairs = 0;
  for (let u = 0; u < userIds.length; u++) {
    for (const j of train[u]) {
      trainPairs++;
      const text = raw.reviews.get(reviewKey(userIds[u], itemIds[j]));
      if (text !== undefined && text !== "") reviews.push({ user: u, item: j, text });
    }
  }
  const itemText = itemIds.map((id) => raw.itemText.get(id) || null);
  const userText = userIds.map((id) => raw.userText.get(id) || null);

  const itemCounts = new Array<number>(itemIds.length).fill(0);
  for (const list of positives) for (const j of list) itemCounts[j]++;
  const sum = (parts: number[][]): number => parts.reduce((a, p) => a + p.length, 0);
  const total = sum(positives);
  const card: DatasetCard = {
    name: raw.name,
    source,
    options: { ...o },
    raw: { rows: raw.interactions.length, users: rawUsers.size, items: rawItems.size, badRows: raw.badRows, badRowExamples: raw.issues },
    filtering: { duplicatePairs, positivePairs: pu.length, afterCorePairs, droppedUsersUnsplittable },
    users: userIds.length,
    items: itemIds.length,
    interactions: { train: sum(train), val: sum(val), test: sum(test), total },
    density: total / (userIds.length * itemIds.length),
    perUser: countStats(positives.map((p) => p.length)),
    perItem: countStats(itemCounts),
    textCoverage: {
      itemsWithText: itemText.filter((t) => t !== null).length,
      usersWithText: userText.filter((t) => t !== null).length,
      trainPairsWithReview: reviews.length,
      trainPairs,
    },
  };
  return {
    name: raw.name,
    numUsers: userIds.length,
    numItems: itemIds.length,
    userIds,
    itemIds,
    train,
    val,
    test,
    itemText,
    userText,
    reviews,
    card,
  };
}
