// Popularity baseline: every user gets the same scores, the items' training counts.
import { checkSplit, checkUsers, fitLists, type FitOptions, type Recommender, type Split } from "./types";

export class PopularityRecommender implements Recommender {
  readonly name = "Popularity";
  private counts: Float32Array | null = null;
  private numUsers = 0;

  async fit(split: Split, opts: FitOptions = {}): Promise<void> {
    checkSplit("PopularityRecommender.fit", split);
    const counts = new Float32Array(split.numItems);
    for (const items of fitLists(split, opts)) for (const j of items) counts[j] += 1;
    this.counts = counts;
    this.numUsers = split.numUsers;
  }

  /** Training counts per item, [numItems]. */
  itemCounts(): Float32Array {
    if (!this.counts) throw new Error("PopularityRecommender.itemCounts: call fit() first");
    return this.counts;
  }

  score(users: number[]): Float32Array {
    if (!this.counts) throw new Error("PopularityRecommender.score: call fit() first");
    checkUsers("PopularityRecommender.score", users, this.numUsers);
    const J = this.counts.length;
    const out = new Float32Array(users.length * J); // [users, J]
    for (let r = 0; r < users.length; r++) out.set(this.counts, r * J);
    return out;
  }
}
