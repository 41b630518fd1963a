// Deterministic synthetic recommendation data with planted structure: item categories with their own words,
// users with tastes over 1–3 categories plus a popularity pull, and reviews that reflect both.
import { emptyRawData, reviewKey, type RawData } from "./raw_data";
import { Rng } from "../../shared/rng";
import { DISLIKE_VERBS, REVIEW_VERBS, SYNTHETIC_CATEGORIES, type CategoryVocabulary } from "./synthetic_vocabulary";

const WHERE = "generateSynthetic (src/cllm4rec/data/synthetic.ts)";

export interface SyntheticOptions {
  seed?: number;
  numUsers?: number;
  numItems?: number;
  /** At most SYNTHETIC_CATEGORIES.length (10). */
  numCategories?: number;
  /** Fewest positives per user (>= 5 keeps everyone through the default 5-core). */
  minPerUser?: number;
  /** Mean positives per user (exponential tail above minPerUser). */
  meanPerUser?: number;
  /** Weight of global popularity against the user's taste, in [0, 1]. */
  popularityMix?: number;
  /** Zipf exponent of item popularity. */
  popularityExponent?: number;
  /** Extra low-rated (1–3) rows per user as a fraction of its positives; the positive filter removes them. */
  dislikeFraction?: number;
  /** Fraction of positive pairs with a review. */
  reviewFraction?: number;
  /** Fraction of users with a profile text. */
  userTextFraction?: number;
}

export interface SyntheticTruth {
  /** Category of each item, indexed like the raw item ids "0".."numItems-1". */
  itemCategory: number[];
  /** Taste of each user over categories (sums to 1). */
  userTaste: number[][];
  categoryNames: string[];
}

export function resolveSyntheticOptions(o: SyntheticOptions = {}): Required<SyntheticOptions> {
  const r: Required<SyntheticOptions> = {
    seed: o.seed ?? 1,
    numUsers: o.numUsers ?? 1000,
    numItems: o.numItems ?? 500,
    numCategories: o.numCategories ?? 10,
    minPerUser: o.minPerUser ?? 5,
    meanPerUser: o.meanPerUser ?? 18,
    popularityMix: o.popularityMix ?? 0.2,
    popularityExponent: o.popularityExponent ?? 0.8,
    dislikeFraction: o.dislikeFraction ?? 0.1,
    reviewFraction: o.reviewFraction ?? 0.8,
    userTextFraction: o.userTextFraction ?? 0.5,
  };
  const ints = ["seed", "numUsers", "numItems", "numCategories", "minPerUser"] as const;
  for (const k of ints)
    if (!Number.isInteger(r[k]) || r[k] < (k === "seed" ? 0 : 1))
      throw new RangeError(`${WHERE}: ${k} must be a positive integer, got ${r[k]}`);
  if (r.numCategories > SYNTHETIC_CATEGORIES.length)
    throw new RangeError(`${WHERE}: numCategories is at most ${SYNTHETIC_CATEGORIES.length}, got ${r.numCategories}`);
  if (r.numItems < r.numCategories)
    throw new RangeError(`${WHERE}: numItems (${r.numItems}) must be >= numCategories (${r.numCategories})`);
  if (2 * r.minPerUser > r.numItems)
    throw new RangeError(`${WHERE}: numItems (${r.numItems}) must be at least twice minPerUser (${r.minPerUser})`);
  if (!(r.meanPerUser >= r.minPerUser))
    throw new RangeError(`${WHERE}: meanPerUser (${r.meanPerUser}) must be >= minPerUser (${r.minPerUser})`);
  for (const k of ["popularityMix", "dislikeFraction", "reviewFraction", "userTextFraction"] as const) {
    if (!(r[k] >= 0 && r[k] <= 1)) throw new RangeError(`${WHERE}: ${k} must be in [0, 1], got ${r[k]}`);
  }
  if (!(r.popularityExponent >= 0)) throw new RangeError(`${WHERE}: popularityExponent must be >= 0, got ${r.popularityExponent}`);
  return r;
}

const pick = <T>(rng: Rng, list: readonly T[]): T => list[rng.int(list.length)];
const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function itemDescription(rng: Rng, v: CategoryVocabulary): string {
  const noun = pick(rng, v.nouns);
  const [f1, f2, f3] = rng.sample(v.features, 3);
  const [a1, a2] = rng.sample(v.adjectives, 2);
  return `${capitalize(a1)} ${noun}. A ${a2} ${noun} from our ${v.name} line with a ${f1}, ${f2} and ${f3}.`;
}

function reviewText(rng: Rng, item: CategoryVocabulary, persona: CategoryVocabulary, liked: boolean): string {
  const [f1, f2] = rng.sample(item.features, 2);
  const [a1, a2] = rng.sample(item.adjectives, 2);
  const verb = pick(rng, liked ? REVIEW_VERBS : DISLIKE_VERBS);
  const noun = pick(rng, item.nouns);
  return `${capitalize(pick(rng, persona.personas))}, I ${verb} this ${noun}. The ${f1} is ${a1} and the ${f2} feels ${a2}.`;
}

/** Raw rows with string ids "0".."n-1" (so dense ids equal them when nothing is filtered), plus the planted truth. */
export function generateSynthetic(options: SyntheticOptions = {}): { raw: RawData; truth: SyntheticTruth } {
  const o = resolveSyntheticOptions(options);
  const rng = new Rng(o.seed);
  const cats = SYNTHETIC_CATEGORIES.slice(0, o.numCategories);
  const raw = emptyRawData(`synthetic-${o.numUsers}x${o.numItems}-s${o.seed}`);

  // Every category gets items; popularity is Zipf over a random rank.
  const itemCategory = rng.shuffle(Array.from({ length: o.numItems }, (_, j) => j % o.numCategories));
  const rank = rng.shuffle(Array.from({ length: o.numItems }, (_, j) => j));
  const pop = rank.map((r) => 1 / (r + 1) ** o.popularityExponent);
  const popTotal = pop.reduce((a, b) => a + b, 0);
  const catPopTotal = new Array<number>(o.numCategories).fill(0);
  for (let j = 0; j < o.numItems; j++) catPopTotal[itemCategory[j]] += pop[j];
  for (let j = 0; j < o.numItems; j++) raw.itemText.set(String(j), itemDescription(rng, cats[itemCategory[j]]));

  const userTaste: number[][] = [];
  const weights = new Float64Array(o.numItems);
  const maxPerUser = Math.floor(o.numItems / 2);
  let time = 1_600_000_000;
  const nextTime = () => {
    time += 1 + rng.int(3600);
    return time;
  };
  for (let u = 0; u < o.numUsers; u++) {
    const liked = rng.sample(o.numCategories, 1 + rng.int(3));
    const taste = new Array<number>(o.numCategories).fill(0);
    let tasteSum = 0;
    for (const c of liked) tasteSum += taste[c] = 0.3 + rng.float();
    for (const c of liked) taste[c] /= tasteSum;
    userTaste.push(taste);
    const main = liked.reduce((a, b) => (taste[b] > taste[a] ? b : a));
    if (rng.float() < o.userTextFraction) {
      const names = liked.map((c) => cats[c].name);
      raw.userText.set(String(u), `Shops mostly for ${names.join(" and ")}, ${pick(rng, cats[main].personas)}.`);
    }
    // p(j) ∝ (1 - mix) · taste[cat j] · pop_j / pop(cat j) + mix · pop_j / pop(all)
    let reachable = 0;
    for (let j = 0; j < o.numItems; j++) {
      const c = itemCategory[j];
      weights[j] = (1 - o.popularityMix) * taste[c] * (pop[j] / catPopTotal[c]) + o.popularityMix * (pop[j] / popTotal);
      if (weights[j] > 0) reachable++;
    }
    const extra = Math.floor(-(o.meanPerUser - o.minPerUser) * Math.log(1 - rng.float()));
    const n = Math.min(maxPerUser, reachable, o.minPerUser + extra);
    let total = 0;
    for (let j = 0; j < o.numItems; j++) total += weights[j];
    for (let k = 0; k < n; k++) {
      // A running total (re-summed every 8 draws to bound float drift) keeps each draw to one partial scan.
      if (k % 8 === 7) {
        total = 0;
        for (let j = 0; j < o.numItems; j++) total += weights[j];
      }
      const j = rng.weighted(weights, total);
      total -= weights[j];
      weights[j] = 0;
      raw.interactions.push({ user: String(u), item: String(j), rating: rng.float() < 0.6 ? 5 : 4, time: nextTime() });
      if (rng.float() < o.reviewFraction)
        raw.reviews.set(reviewKey(String(u), String(j)), reviewText(rng, cats[itemCategory[j]], cats[main], true));
    }
    // Disliked rows: popular items outside the taste, rated 1–3, so the positive filter has work to do.
    const dislikes = Math.round(o.dislikeFraction * n);
    for (let k = 0; k < dislikes; k++) {
      const j = rng.weighted(pop, popTotal);
      if (weights[j] === 0 || taste[itemCategory[j]] > 0) continue;
      weights[j] = 0;
      raw.interactions.push({ user: String(u), item: String(j), rating: 1 + rng.int(3), time: nextTime() });
      raw.reviews.set(reviewKey(String(u), String(j)), reviewText(rng, cats[itemCategory[j]], cats[main], false));
    }
  }
  return { raw, truth: { itemCategory, userTaste, categoryNames: cats.map((c) => c.name) } };
}
