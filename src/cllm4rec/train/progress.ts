// One-line progress for long loops: step, steps/s, running loss, ETA; printed at most
// every `everyMs` and once at the end.
export class Progress {
  private readonly start = Date.now();
  private last = 0;
  private lossSum = 0;
  private lossCount = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly log: (s: string) => void,
    private readonly everyMs = 5000,
  ) {}

  step(done: number, loss?: number): void {
    if (loss !== undefined && Number.isFinite(loss)) {
      this.lossSum += loss;
      this.lossCount++;
    }
    const now = Date.now();
    if (done < this.total && now - this.last < this.everyMs) return;
    this.last = now;
    const secs = (now - this.start) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const l = this.lossCount ? ` loss ${(this.lossSum / this.lossCount).toFixed(4)}` : "";
    this.log(
      `  ${this.label} ${done}/${this.total} ${rate.toFixed(2)} step/s${l} ${done < this.total ? `ETA ${fmtSecs(eta)}` : `in ${fmtSecs(secs)}`}`,
    );
  }

  meanLoss(): number {
    return this.lossCount ? this.lossSum / this.lossCount : NaN;
  }

  seconds(): number {
    return (Date.now() - this.start) / 1000;
  }
}

export function fmtSecs(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60)
    return `${m}m${Math.round(s - 60 * m)
      .toString()
      .padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, "0")}m`;
}
