/**
 * Server (model owner) and client optimizers on flat Float32Arrays.
 *
 * They run where the plaintext weights live (the model owner for FedSGD and
 * FedAvg's server step; each data owner for FedAvg's local steps). All state
 * is flat Float32Arrays, so the update costs a few passes over the weights.
 */

export interface FlatOptimizer {
  readonly name: string;
  /** In-place update of `weights` with the gradient (or pseudo-gradient) `grad`. */
  step(weights: Float32Array, grad: Float32Array): void;
  /** Current learning rate (after decay). */
  readonly lr: number;
  readonly steps: number;
  /** Copy of the optimizer state (to restore after an aborted round). */
  snapshot(): unknown;
  restore(s: unknown): void;
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** AMSGrad: use the running max of the second moment. */
  amsgrad?: boolean;
  /** Learning-rate schedule: lr_t = lr * decay(t), t = steps taken so far. */
  decay?: (t: number) => number;
}

function checkPos(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`"${name}" expected finite number > 0, got ${String(v)}`);
  return v;
}
function checkBeta(name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new RangeError(`"${name}" expected number in [0, 1), got ${String(v)}`);
  return v;
}

/** Adam / AMSGrad with bias correction and an optional learning-rate schedule. */
export function adam(options: AdamOptions = {}): FlatOptimizer {
  const lr0 = checkPos('lr', options.lr ?? 0.001);
  const b1 = checkBeta('beta1', options.beta1 ?? 0.9);
  const b2 = checkBeta('beta2', options.beta2 ?? 0.999);
  const eps = checkPos('epsilon', options.epsilon ?? 1e-8);
  const ams = options.amsgrad ?? false;
  const decay = options.decay ?? (() => 1);
  let m: Float32Array | undefined;
  let v: Float32Array | undefined;
  let vmax: Float32Array | undefined;
  let t = 0;
  return {
    name: ams ? 'amsgrad' : 'adam',
    get lr() { return lr0 * decay(t); },
    get steps() { return t; },
    step(w, g) {
      if (w.length !== g.length) throw new RangeError(`"grad" expected length ${w.length}, got ${g.length}`);
      if (!m) { m = new Float32Array(w.length); v = new Float32Array(w.length); if (ams) vmax = new Float32Array(w.length); }
      const lr = lr0 * decay(t);
      t++;
      const c1 = 1 - Math.pow(b1, t);
      const c2 = 1 - Math.pow(b2, t);
      const a = (lr * Math.sqrt(c2)) / c1;
      const epsHat = eps * Math.sqrt(c2);
      const M = m, V = v!, VM = vmax;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = b1 * M[i]! + (1 - b1) * gi;
        let vi = b2 * V[i]! + (1 - b2) * gi * gi;
        M[i] = mi;
        V[i] = vi;
        if (VM) { if (vi < VM[i]!) vi = VM[i]!; else VM[i] = vi; }
        w[i] = w[i]! - (a * mi) / (Math.sqrt(vi) + epsHat);
      }
    },
    snapshot() { return { t, m: m?.slice(), v: v?.slice(), vmax: vmax?.slice() }; },
    restore(s) {
      const o = s as { t: number; m?: Float32Array; v?: Float32Array; vmax?: Float32Array };
      t = o.t; m = o.m?.slice(); v = o.v?.slice(); vmax = o.vmax?.slice();
    },
  };
}

/** Plain SGD, optionally with momentum. */
export function sgd(options: { lr?: number; momentum?: number; decay?: (t: number) => number } = {}): FlatOptimizer {
  const lr0 = checkPos('lr', options.lr ?? 0.01);
  const mom = options.momentum ?? 0;
  if (!(mom >= 0 && mom < 1)) throw new RangeError(`"momentum" expected number in [0, 1), got ${mom}`);
  const decay = options.decay ?? (() => 1);
  let buf: Float32Array | undefined;
  let t = 0;
  return {
    name: mom > 0 ? 'sgd-momentum' : 'sgd',
    get lr() { return lr0 * decay(t); },
    get steps() { return t; },
    step(w, g) {
      if (w.length !== g.length) throw new RangeError(`"grad" expected length ${w.length}, got ${g.length}`);
      const lr = lr0 * decay(t);
      t++;
      if (mom > 0) {
        if (!buf) buf = new Float32Array(w.length);
        for (let i = 0; i < w.length; i++) { const b = mom * buf[i]! + g[i]!; buf[i] = b; w[i] = w[i]! - lr * b; }
      } else {
        for (let i = 0; i < w.length; i++) w[i] = w[i]! - lr * g[i]!;
      }
    },
    snapshot() { return { t, buf: buf?.slice() }; },
    restore(s) { const o = s as { t: number; buf?: Float32Array }; t = o.t; buf = o.buf?.slice(); },
  };
}

/** Cosine decay from 1 to `floor` over `total` steps (then stays at floor). */
export function cosineDecay(total: number, floor = 0.02): (t: number) => number {
  checkPos('total', total);
  return (t) => {
    const p = Math.min(1, t / total);
    return floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}

/** Exponential decay: rate^(t / every). */
export function exponentialDecay(rate: number, every: number): (t: number) => number {
  checkPos('rate', rate);
  checkPos('every', every);
  return (t) => Math.pow(rate, t / every);
}

export const OPTIMIZER_NAMES = ['amsgrad', 'adam', 'sgd'] as const;
