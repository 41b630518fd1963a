// Best wall-clock seconds of `reps` runs after one warm-up, with the process CPU seconds of
// that run: on a shared machine CPU time / threads estimates the uncontended wall time.
export function bestOf(fn: () => void, reps: number): [number, number] {
  fn(); // warm up: page faults and packing buffers
  let best: [number, number] = [Infinity, Infinity];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    if (wall < best[0]) best = [wall, (c.user + c.system) / 1e6];
  }
  return best;
}
