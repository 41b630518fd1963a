// Micro-batching: work items submitted while a batch is forming (at most maxWaitMs after
// the first, or until maxBatch items) run together in one call; the queue is bounded.

export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    readonly limit: number,
    readonly asked: number,
  ) {
    super(`queue full: ${queued} item(s) waiting, limit ${limit}; this request needs ${asked}; retry later`);
    this.name = "QueueFullError";
  }
}

export interface BatcherOptions {
  /** items per call of the batch function */
  maxBatch: number;
  /** longest time the first item of a forming batch waits for company, ms */
  maxWaitMs: number;
  /** items waiting (not yet in a running batch) beyond which submit is refused */
  maxQueue: number;
}

interface Pending<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
}

export type BatchObserver = (size: number, ms: number) => void;

export class MicroBatcher<T, R> {
  private pending: Pending<T, R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private running = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runBatch: (items: T[]) => R[] | Promise<R[]>,
    readonly options: BatcherOptions,
    private readonly observe: BatchObserver = () => {},
  ) {
    for (const k of ["maxBatch", "maxQueue"] as const)
      if (!(Number.isInteger(options[k]) && options[k] > 0))
        throw new RangeError(`MicroBatcher: ${k} must be a positive integer, got ${options[k]}`);
    if (!(Number.isFinite(options.maxWaitMs) && options.maxWaitMs >= 0))
      throw new RangeError(`MicroBatcher: maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
  }

  /** items waiting for a batch */
  get queued(): number {
    return this.pending.length;
  }

  get busy(): boolean {
    return this.running || this.pending.length > 0;
  }

  /** Queues all of `items` or none (QueueFullError); resolves with their results in order. */
  submit(items: readonly T[]): Promise<R[]> {
    if (this.pending.length + items.length > this.options.maxQueue)
      return Promise.reject(new QueueFullError(this.pending.length, this.options.maxQueue, items.length));
    const done = items.map((item) => new Promise<R>((resolve, reject) => this.pending.push({ item, resolve, reject })));
    this.schedule();
    return Promise.all(done);
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.immediate) return;
    if (this.pending.length >= this.options.maxBatch) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.immediate = setImmediate(() => this.flush());
    } else if (!this.timer && this.pending.length > 0) {
      this.timer = setTimeout(() => this.flush(), this.options.maxWaitMs);
    }
  }

  private async flush(): Promise<void> {
    this.timer = null;
    this.immediate = null;
    if (this.running) return;
    this.running = true;
    const batch = this.pending.splice(0, this.options.maxBatch);
    const t0 = performance.now();
    try {
      const results = await this.runBatch(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`batch function returned ${results.length} results for ${batch.length} items`);
      batch.forEach((p, i) => {
        p.resolve(results[i]);
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
    this.observe(batch.length, performance.now() - t0);
    this.running = false;
    if (this.pending.length > 0) {
      // these waited through the batch that just ran: go as soon as their sockets are read
      this.immediate = setImmediate(() => this.flush());
    } else {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
