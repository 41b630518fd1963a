// Base vocabulary extended with atomic user_<i> / item_<j> tokens (SPEC §2).
import type { TextTokenizer } from "./tokenizer";

const ATOMIC = /\b(user|item)_(\d+)\b/g;
const SEGMENT_CACHE_LIMIT = 100_000;

export class RecTokenizer implements TextTokenizer {
  /** Size of the base (word) vocabulary N; user i is N+i, item j is N+numUsers+j. */
  readonly baseVocab: number;
  readonly totalVocab: number;
  private readonly segmentCache = new Map<string, number[]>();

  constructor(
    readonly base: TextTokenizer,
    readonly numUsers: number,
    readonly numItems: number,
  ) {
    for (const [name, v] of [
      ["numUsers", numUsers],
      ["numItems", numItems],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`RecTokenizer: ${name} must be a non-negative integer, got ${v}`);
    }
    this.baseVocab = base.vocabSize;
    this.totalVocab = this.baseVocab + numUsers + numItems;
  }

  get vocabSize(): number {
    return this.totalVocab;
  }

  userToken(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.numUsers)
      throw new RangeError(`RecTokenizer.userToken: user ${i} outside 0..${this.numUsers - 1}`);
    return this.baseVocab + i;
  }

  itemToken(j: number): number {
    if (!Number.isInteger(j) || j < 0 || j >= this.numItems)
      throw new RangeError(`RecTokenizer.itemToken: item ${j} outside 0..${this.numItems - 1}`);
    return this.baseVocab + this.numUsers + j;
  }

  isUser(id: number): boolean {
    return Number.isInteger(id) && id >= this.baseVocab && id < this.baseVocab + this.numUsers;
  }

  isItem(id: number): boolean {
    return Number.isInteger(id) && id >= this.baseVocab + this.numUsers && id < this.totalVocab;
  }

  userOf(id: number): number {
    if (!this.isUser(id))
      throw new RangeError(
        `RecTokenizer.userOf: token ${id} is not a user token (${this.baseVocab}..${this.baseVocab + this.numUsers - 1})`,
      );
    return id - this.baseVocab;
  }

  itemOf(id: number): number {
    if (!this.isItem(id))
      throw new RangeError(
        `RecTokenizer.itemOf: token ${id} is not an item token (${this.baseVocab + this.numUsers}..${this.totalVocab - 1})`,
      );
    return id - this.baseVocab - this.numUsers;
  }

  /** user_<i>/item_<j> become single tokens; one space right before each of them is a separator and is dropped. */
  encode(text: string): number[] {
    if (typeof text !== "string") throw new TypeError(`RecTokenizer.encode: expected a string, got ${typeof text}`);
    const out: number[] = [];
    let last = 0;
    for (const m of text.matchAll(ATOMIC)) {
      const start = m.index!;
      let segment = text.slice(last, start);
      if (segment.endsWith(" ")) segment = segment.slice(0, -1);
      this.pushSegment(segment, out);
      const index = Number(m[2]);
      const kind = m[1];
      const limit = kind === "user" ? this.numUsers : this.numItems;
      if (!Number.isSafeInteger(index) || index >= limit) {
        throw new RangeError(`RecTokenizer.encode: token ${m[0]} out of range (${kind}s are 0..${limit - 1})`);
      }
      out.push(kind === "user" ? this.baseVocab + index : this.baseVocab + this.numUsers + index);
      last = start + m[0].length;
    }
    this.pushSegment(text.slice(last), out);
    return out;
  }

  decode(ids: number[]): string {
    let text = "";
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 0) text += this.base.decode(run);
      run = [];
    };
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.totalVocab) {
        throw new RangeError(`RecTokenizer.decode: token id ${id} outside 0..${this.totalVocab - 1}`);
      }
      if (id < this.baseVocab) {
        run.push(id);
        continue;
      }
      flush();
      if (text.length > 0) text += " ";
      text += this.isUser(id) ? `user_${id - this.baseVocab}` : `item_${id - this.baseVocab - this.numUsers}`;
    }
    flush();
    return text;
  }

  private pushSegment(segment: string, out: number[]): void {
    if (segment === "") return;
    let ids = this.segmentCache.get(segment);
    if (ids === undefined) {
      ids = this.base.encode(segment);
      if (this.segmentCache.size >= SEGMENT_CACHE_LIMIT) this.segmentCache.clear();
      this.segmentCache.set(segment, ids);
    }
    for (const id of ids) out.push(id);
  }
}
