// The common shape every reader returns, before preprocessing.
import type { ReadIssue } from "./issues";

export interface RawInteraction {
  user: string;
  item: string;
  /** null when the source has no rating (then the row counts as a positive). */
  rating: number | null;
  /** Unix seconds, or null. */
  time: number | null;
}

export interface RawData {
  /** Short name for cards and logs, e.g. "ml-100k" or "reviews_Musical_Instruments_5". */
  name: string;
  interactions: RawInteraction[];
  itemText: Map<string, string>;
  userText: Map<string, string>;
  /** Keyed by reviewKey(user, item). */
  reviews: Map<string, string>;
  /** The first few bad rows (MAX_KEPT_ISSUES per reader call). */
  issues: ReadIssue[];
  /** All bad rows, including those not kept in `issues`. */
  badRows: number;
  /** Input files read, for cache keys and cards. */
  files: string[];
}

/** JSON of the pair: unambiguous whatever the ids contain (a tab or comma inside an id included). */
export function reviewKey(user: string, item: string): string {
  return JSON.stringify([user, item]);
}

export function emptyRawData(name: string): RawData {
  return { name, interactions: [], itemText: new Map(), userText: new Map(), reviews: new Map(), issues: [], badRows: 0, files: [] };
}
