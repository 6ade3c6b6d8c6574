/**
 * Optimizers on encrypted parameters (ABY3), for private training: SGD and
 * AMSgrad (docs/encrypted-ml.md, "Private training"). They work on one flat
 * tensor holding every parameter of the model (`flatConcat`: a local copy of
 * the parts), so that each step is a few ops over all parameters at once.
 *
 * The gradient they receive is that of the batch's summed loss;
 * `gradScale` (1/B) turns it into the mean loss's, and goes into public
 * constants: SGD's step is lr·gradScale·g (one truncation), and AMSgrad's
 * lr·m/(√v̂ + ε) is invariant to the gradient's scale except for ε, which
 * is taken as ε/gradScale.
 */
import * as ring from '../../ring/index.js';
import { describe } from '../errors.js';
import type { ABY3 } from '../protocols/aby3.js';
import { invSqrt, invSqrtPlan, scalePublic } from '../protocols/aby3-invsqrt.js';
import { ReplicatedTensor } from '../tensor.js';

/** One flat tensor [Σ sizes] of same-encoding tensors (local: each server copies its own parts). */
export function flatConcat(ts: readonly ReplicatedTensor[]): ReplicatedTensor {
  if (ts.length === 0) throw new TypeError(`flatConcat: argument 'ts' must be a non-empty array of tensors`);
  const first = ts[0]!;
  const size = ts.reduce((a, t) => a + t.size, 0);
  const parts = first.parts.map((p, s) => {
    if (p === undefined) return undefined;
    const out = new ring.RingTensor(p.bits, [size]);
    let off = 0;
    for (const t of ts) {
      const q = t.parts[s]!;
      out.data.set(q.data, off);
      off += q.data.length;
    }
    return out;
  });
  return new ReplicatedTensor(first.protocol, first.placement, parts, [size], first.encoding, first.sensitivity);
}

/** The inverse of flatConcat: views (no copy) of a flat tensor as tensors of `shapes`. */
export function flatSplit(flat: ReplicatedTensor, shapes: readonly (readonly number[])[]): ReplicatedTensor[] {
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== flat.size) throw new RangeError(`flatSplit: the shapes hold ${total} elements, 'flat' has ${flat.size}`);
  let off = 0;
  return shapes.map((shape, i) => {
    const n = sizes[i]!;
    const parts = flat.parts.map((p) => {
      if (p === undefined) return undefined;
      const L = p.bits / 64;
      return new ring.RingTensor(p.bits, shape, p.data.subarray(off * L, (off + n) * L));
    });
    off += n;
    return new ReplicatedTensor(flat.protocol, flat.placement, parts, shape, flat.encoding, flat.sensitivity);
  });
}

export interface StepInfo {
  /** The public factor from the gradient given to the gradient of the mean loss (1/B). */
  gradScale: number;
  /** The number of this step, from 1. */
  step: number;
}

/** An optimizer over a flat encrypted parameter tensor; keeps its state (encrypted) between steps. */
export interface EncryptedOptimizer {
  readonly name: string;
  /** The new parameters from `params` and `grad` (same shape, fixed point). */
  update(prot: ABY3, params: ReplicatedTensor, grad: ReplicatedTensor, info: StepInfo): Promise<ReplicatedTensor>;
}

function positive(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${fn}: option '${name}' must be a finite number > 0, got ${describe(v)}`);
  return v;
}

function beta(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0 && v < 1)) throw new RangeError(`${fn}: option '${name}' must be in (0, 1), got ${describe(v)}`);
  return v;
}

function checkInfo(fn: string, info: StepInfo): void {
  positive(fn, 'gradScale', info?.gradScale);
  if (!Number.isSafeInteger(info.step) || info.step < 1) throw new RangeError(`${fn}: 'info.step' must be an integer >= 1, got ${describe(info.step)}`);
}

/** Plain SGD: w ← w − lr·gradScale·g (one public scaling: one truncation). */
export function sgd(options: { lr?: number } = {}): EncryptedOptimizer {
  const lr = positive('sgd', 'lr', options.lr ?? 0.1);
  return {
    name: 'sgd',
    async update(prot, params, grad, info) {
      checkInfo('sgd.update', info);
      return prot.sub(params, await scalePublic(prot, grad, lr * info.gradScale));
    },
  };
}

export interface AmsgradOptions {
  /** Learning rate (default 0.001). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  /**
   * ε, in the units of the mean loss's gradient (default 1e-4). The step is
   * lr·m/√(v̂ + ε²) (≈ Keras' lr·m/(√v̂ + ε)): ε² is the low end of the
   * inverse square root's range, so it must be at least 2^-f/gradScale²
   * (a few ulps), which is why the default is above Keras' 1e-7.
   */
  epsilon?: number;
  /**
   * A bound on v̂ (mean-loss gradient² units; default 0.0625, i.e. a root
   * mean square of the gradient up to 0.25): the high end of the inverse
   * square root's range. Above about 3× it, the inverse square root diverges.
   */
  maxSecondMoment?: number;
  /** Keras' bias correction lr·√(1 − β2^t)/(1 − β1^t), public (default true). */
  biasCorrection?: boolean;
}

/**
 * AMSgrad (Reddi et al. 2018, as Keras' Adam with amsgrad):
 *   m ← m + (1 − β1)(g − m),  v ← v + (1 − β2)(g² − v),
 *   v̂ ← max(v̂, v)  (one comparison and one int × fixed mul),
 *   w ← w − lr_t · m · invSqrt(v̂ + ε²)  (aby3-invsqrt.ts, range [ε², maxSecondMoment + ε²]).
 * Per step over P parameters: 4 muls, 3 public scalings, one comparison and
 * the inverse square root's iterations (3 muls and a scaling each): about 40
 * truncations of values near 1 per parameter, so at 'low' precision (each
 * failing with probability |value|·2^-31) a long run meets a failed one (a
 * 2^32 error in a step): network_a at 'low' did at step 81. Use 'high'.
 */
export function amsgrad(options: AmsgradOptions = {}): EncryptedOptimizer {
  const fn = 'amsgrad';
  const lr = positive(fn, 'lr', options.lr ?? 0.001);
  const b1 = beta(fn, 'beta1', options.beta1 ?? 0.9);
  const b2 = beta(fn, 'beta2', options.beta2 ?? 0.999);
  const eps = positive(fn, 'epsilon', options.epsilon ?? 1e-4);
  const vmax = positive(fn, 'maxSecondMoment', options.maxSecondMoment ?? 0.0625);
  const correct = options.biasCorrection ?? true;
  let state: { m: ReplicatedTensor; v: ReplicatedTensor; vhat: ReplicatedTensor } | undefined;
  return {
    name: 'amsgrad',
    async update(prot, params, grad, info) {
      checkInfo(`${fn}.update`, info);
      // in the units of the gradient received (the summed loss's): ε/gradScale, v̂ ≤ vmax/gradScale²
      const lo = (eps / info.gradScale) ** 2;
      const hi = vmax / info.gradScale ** 2 + lo;
      if (lo < 4 * 2 ** -prot.fixed.frac) throw new RangeError(`${fn}: epsilon ${eps} is too small for ${prot.precision} precision at gradScale ${info.gradScale}: (ε/gradScale)² = ${lo} is below 4 ulps (2^-${prot.fixed.frac - 2})`);
      // [v1 > v̂] compares second moments up to hi: their difference must be within the comparisons' range (option comparisonBits)
      const cmpRange = 2 ** (prot.comparisonBits - 1 - prot.fixed.frac);
      if (hi >= cmpRange) throw new RangeError(`${fn}: the second moments reach ${hi} (maxSecondMoment ${vmax} / gradScale² ${info.gradScale ** 2}), beyond the comparisons' range 2^${prot.comparisonBits - 1 - prot.fixed.frac} of option comparisonBits ${prot.comparisonBits}: raise it to at least ${Math.ceil(Math.log2(hi)) + 2 + prot.fixed.frac}`);
      if (state === undefined) {
        const zero = await prot.mulPublic(params, 0);
        state = { m: zero, v: zero, vhat: zero };
      }
      const { m, v, vhat } = state;
      const [m1, g2] = await Promise.all([
        scalePublic(prot, prot.sub(grad, m), 1 - b1).then((d) => prot.add(m, d)),
        prot.mul(grad, grad),
      ]);
      const v1 = prot.add(v, await scalePublic(prot, prot.sub(g2, v), 1 - b2));
      const up = await prot.greater(v1, vhat);
      const vhat1 = prot.add(vhat, await prot.mul(up, prot.sub(v1, vhat)));
      state = { m: m1, v: v1, vhat: vhat1 };
      const t = info.step;
      const lrT = correct ? (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t) : lr;
      const r = await invSqrt(prot, prot.addPublic(vhat1, lo), { range: [lo, hi] });
      return prot.sub(params, await scalePublic(prot, await prot.mul(m1, r), lrT));
    },
  };
}

/** Iterations of AMSgrad's inverse square root for these options at gradScale and f fractional bits. */
export function amsgradIterations(options: AmsgradOptions, gradScale: number, frac: number): number {
  const eps = options.epsilon ?? 1e-4;
  const lo = (eps / gradScale) ** 2;
  return invSqrtPlan(lo, (options.maxSecondMoment ?? 0.0625) / gradScale ** 2 + lo, frac).length;
}
