// Define-by-run autograd. An op that has an input requiring grad attaches a GradNode to
// its output; backward() walks the nodes in reverse topological order. Every backward
// kernel accumulates into a gradient slot, so fan-out needs no extra adds, and an input
// that does not require grad never gets a slot, so no kernel is launched for it. A kernel
// that writes its whole slot takes it from target(): the first writer of a slot writes
// (no zero fill, no read of zeros), later ones add.
// Scalar losses carry host-side gradients (plain numbers): the seed is 1 and every
// scalar combinator is linear with host constants, so backward never reads the device.
import { Tensor, keep } from "./tensor";

export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** true when the output is a scalar loss whose gradient is a host number */
  readonly scalar?: boolean;
  backward(ctx: BackwardContext, gradOut: Tensor | number): void;
}

let gradEnabled = true;

/** Runs fn without recording a graph (evaluation, optimiser steps). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Attaches node to out when recording and any input requires grad. */
export function record(out: Tensor, node: GradNode): Tensor {
  if (gradEnabled && node.inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = node;
  }
  return out;
}

export class BackwardContext {
  private readonly slots = new Map<Tensor, Tensor>();
  private readonly scalarGrads = new Map<Tensor, number>();
  /** leaves whose .grad this pass created without the zero fill (dropped if the pass fails) */
  private readonly fresh: Tensor[] = [];

  /** The tensor to accumulate t's gradient into (zeroed on first use), or null when t needs none. */
  slot(t: Tensor): Tensor | null {
    if (!t.requiresGrad) return null;
    if (!t.node) {
      // a leaf: its gradient persists across steps until zeroGrad
      if (!t.grad) t.grad = keep(Tensor.zeros(t.shape, { device: t.device }));
      return t.grad;
    }
    let g = this.slots.get(t);
    if (!g) {
      g = Tensor.zeros(t.shape, { device: t.device });
      this.slots.set(t, g);
    }
    return g;
  }

  /**
   * t's gradient for a kernel that writes every element of it: `accumulate` is false when
   * this call creates the slot, allocated without the zero fill (the kernel then writes
   * rather than adds), and true when earlier kernels have written it. Call it right before
   * that kernel, and only when it runs: until then a slot created here holds garbage (NaN
   * under CLLM4REC_POISON_EMPTY=1, as the tests run). Null when t needs no gradient.
   */
  target(t: Tensor): { grad: Tensor; accumulate: boolean } | null {
    if (!t.requiresGrad) return null;
    if (!t.node) {
      if (t.grad) return { grad: t.grad, accumulate: true };
      t.grad = keep(Tensor.empty(t.shape, { device: t.device }));
      this.fresh.push(t);
      return { grad: t.grad, accumulate: false };
    }
    const g = this.slots.get(t);
    if (g) return { grad: g, accumulate: true };
    const fresh = Tensor.empty(t.shape, { device: t.device });
    this.slots.set(t, fresh);
    return { grad: fresh, accumulate: false };
  }

  /** Adds a host-side gradient to a scalar loss input. */
  addScalar(t: Tensor, g: number): void {
    if (!t.requiresGrad) return;
    if (!t.node?.scalar) throw new Error(`autograd: ${t} is not a scalar loss`);
    this.scalarGrads.set(t, (this.scalarGrads.get(t) ?? 0) + g);
  }

  takeScalar(t: Tensor): number | undefined {
    const g = this.scalarGrads.get(t);
    this.scalarGrads.delete(t);
    return g;
  }

  take(t: Tensor): Tensor | undefined {
    const g = this.slots.get(t);
    this.slots.delete(t);
    return g;
  }

  disposeAll(): void {
    for (const g of this.slots.values()) g.dispose();
    this.slots.clear();
  }

  /**
   * After a failed pass: the leaf gradients it created may hold unwritten elements, so they
   * are freed (grad null, as before the pass). Gradients that existed before it keep what
   * the pass added before it failed.
   */
  dropFresh(): void {
    for (const t of this.fresh) {
      t.grad?.dispose();
      t.grad = null;
    }
    this.fresh.length = 0;
  }
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // iterative DFS: graphs of deep models overflow recursion
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c.requiresGrad && c.node && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/** Back-propagates from a scalar loss into the .grad of every leaf that requires grad. */
export function backward(loss: Tensor): void {
  if (!loss.requiresGrad || !loss.node) throw new Error(`backward: ${loss} is not part of a graph that requires grad`);
  if (!loss.node.scalar) throw new Error(`backward: ${loss} is not a scalar loss`);
  const ctx = new BackwardContext();
  ctx.addScalar(loss, 1);
  let done = false;
  try {
    for (const t of topoOrder(loss)) {
      const node = t.node!;
      if (node.scalar) {
        const g = ctx.takeScalar(t);
        if (g !== undefined) node.backward(ctx, g);
      } else {
        const g = ctx.take(t);
        if (g) {
          node.backward(ctx, g);
          g.dispose();
        }
      }
    }
    done = true;
  } finally {
    if (!done) ctx.dropFresh();
    ctx.disposeAll();
  }
}

/** Sets the gradients of the given tensors to zero (frees them). */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    if (p.grad) {
      p.grad.dispose();
      p.grad = null;
    }
  }
}
