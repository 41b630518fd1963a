// Service counters for GET /metrics: requests by route and status, latency and batch
// histograms with fixed buckets (percentiles are read off the buckets: upper bounds).

/** Fixed-bucket histogram; counts[i] holds values <= bounds[i], the last bucket the rest. */
export class Histogram {
  readonly counts: number[];
  count = 0;
  sum = 0;
  max = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  add(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    this.counts[i]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** Upper bound of the bucket holding the q-quantile (the observed max for the last bucket). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i < this.bounds.length ? Math.min(this.bounds[i], this.max) : this.max;
    }
    return this.max;
  }

  toJSON(): Record<string, unknown> {
    return {
      count: this.count,
      sum: round(this.sum),
      mean: this.count ? round(this.sum / this.count) : 0,
      max: round(this.max),
      p50: round(this.quantile(0.5)),
      p90: round(this.quantile(0.9)),
      p99: round(this.quantile(0.99)),
      buckets: [...this.bounds.map((b, i) => ({ le: b, count: this.counts[i] })), { le: "+Inf", count: this.counts[this.bounds.length] }],
    };
  }
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class ServiceMetrics {
  private readonly started = Date.now();
  readonly byRoute = new Map<string, number>();
  readonly byStatus = new Map<number, number>();
  /** "route\tstatus" -> count, for the Prometheus exposition */
  readonly byRouteStatus = new Map<string, number>();
  readonly latencyMs = new Histogram(LATENCY_BUCKETS_MS);
  readonly batchSize = new Histogram(BATCH_BUCKETS);
  readonly forwardMs = new Histogram(LATENCY_BUCKETS_MS);
  requests = 0;
  rejectedQueueFull = 0;

  request(route: string, status: number, ms: number): void {
    this.requests++;
    this.byRoute.set(route, (this.byRoute.get(route) ?? 0) + 1);
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    const key = `${route}\t${status}`;
    this.byRouteStatus.set(key, (this.byRouteStatus.get(key) ?? 0) + 1);
    this.latencyMs.add(ms);
  }

  batch(size: number, ms: number): void {
    this.batchSize.add(size);
    this.forwardMs.add(ms);
  }

  toJSON(queue: { depth: number; limit: number }): Record<string, unknown> {
    return {
      uptimeSeconds: round((Date.now() - this.started) / 1000),
      requests: {
        total: this.requests,
        byRoute: Object.fromEntries([...this.byRoute].sort()),
        byStatus: Object.fromEntries([...this.byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n])),
      },
      latencyMs: this.latencyMs.toJSON(),
      batches: {
        count: this.batchSize.count,
        users: this.batchSize.sum,
        size: this.batchSize.toJSON(),
        forwardMs: this.forwardMs.toJSON(),
      },
      queue: { ...queue, rejected: this.rejectedQueueFull },
    };
  }

  /** Prometheus text exposition (version 0.0.4); durations in seconds as its convention asks. */
  toPrometheus(queue: { depth: number; limit: number }): string {
    const out: string[] = [];
    const head = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    head("cllm4rec_requests_total", "counter", "HTTP requests by route and status.");
    for (const [key, n] of [...this.byRouteStatus].sort()) {
      const [route, status] = key.split("\t");
      out.push(`cllm4rec_requests_total{route="${route}",status="${status}"} ${n}`);
    }
    const hist = (name: string, help: string, h: Histogram, divisor: number) => {
      head(name, "histogram", help);
      let cumulative = 0;
      h.bounds.forEach((b, i) => {
        cumulative += h.counts[i];
        out.push(`${name}_bucket{le="${b / divisor}"} ${cumulative}`);
      });
      out.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sum / divisor}`, `${name}_count ${h.count}`);
    };
    hist("cllm4rec_request_duration_seconds", "Time from request to answer.", this.latencyMs, 1000);
    hist("cllm4rec_batch_users", "Users per forward pass.", this.batchSize, 1);
    hist("cllm4rec_forward_seconds", "Time of one batched forward pass and ranking.", this.forwardMs, 1000);
    head("cllm4rec_queue_users", "gauge", "Users waiting for a forward pass.");
    out.push(`cllm4rec_queue_users ${queue.depth}`);
    head("cllm4rec_queue_limit_users", "gauge", "Users waiting beyond which requests get 503.");
    out.push(`cllm4rec_queue_limit_users ${queue.limit}`);
    head("cllm4rec_queue_rejected_total", "counter", "Requests refused with 503 because the queue was full.");
    out.push(`cllm4rec_queue_rejected_total ${this.rejectedQueueFull}`);
    return out.join("\n") + "\n";
  }
}
