/**
 * ABY3 inverse square root, c/√x for x in a public range [lo, hi]
 * (0 < lo < hi, hi/lo ≤ 2^40): the AMSgrad step's 1/√v̂ (nn/optimizers.ts).
 *
 * Iteration: y ≈ 1/√x; with e = x·y² (e → 1),  y ← y·p(e),  p(e) = β (K − e),
 * where p is, for the interval [a, b] that e is known to lie in, the linear
 * polynomial minimising max |1 − e·p(e)²| over [a, b]. e·p(e)² is a cubic
 * with one interior maximum (at e = K/3), so the minimax equioscillates at
 * a, K/3 and b: K = a + b + √(ab), β² = 2 / (ab(√a + √b)² + 4K³/27), and
 * the new interval is [1 − E, 1 + E], E = 1 − β²·ab(√a + √b)². The first
 * iteration is the linear guess itself (y = 1, e = x: y = p(x)); every
 * constant depends only on (lo, hi) and the precision. Near 0 the map
 * multiplies e by about 13.5 per iteration (Newton's y(3 − e)/2 from below:
 * 2.25), so a range of ratio R needs about log(R)/log(6.75) + 3 iterations
 * instead of log(R)/log(2.25) + 4 (table in docs/encrypted-ml.md); near 1
 * the error squares, as Newton's.
 *
 * Iterations: the least t with E_t ≤ 2^-f (f the fractional bits), computed
 * by the recurrence above (`invSqrtPlan`). The first: one public scaling
 * (β: a truncation). Each further one: e = (x·y)·y (two muls, from x itself:
 * a running x·y would keep the few significant bits it had while small),
 * p(e) (a public scaling), y·p(e) (a mul; the last one's β times c: the
 * output scale is free). Rounds: 1 + 7(t − 1); elements multiplied: 3n per
 * iteration after the first, truncated: 4n.
 *
 * Range: below lo the result is too small (y under-converged, never
 * negative); above K₁ = lo + hi + √(lo·hi) the first guess is negative and
 * the result is wrong: hi is the caller's promise, as reciprocal's range.
 */
import { describe, ProtocolMismatchError } from '../errors.js';
import { ReplicatedTensor } from '../tensor.js';
import type { ABY3 } from './aby3.js';

/** One iteration's polynomial p(e) = beta·(K − e), and the error E after it. */
export interface InvSqrtStep { beta: number; K: number; err: number }

/** The minimax p(e) = β(K − e) for e ∈ [a, b]: max |1 − e p(e)²| = err. */
export function invSqrtStep(a: number, b: number): InvSqrtStep {
  const s = Math.sqrt(a);
  const t = Math.sqrt(b);
  const K = a + b + s * t;
  const low = a * b * (s + t) ** 2;
  const beta2 = 2 / (low + (4 * K ** 3) / 27);
  return { beta: Math.sqrt(beta2), K, err: 1 - beta2 * low };
}

/** The iterations for [lo, hi] at f fractional bits: until the relative error of e = x·y² is ≤ 2^-f. */
export function invSqrtPlan(lo: number, hi: number, frac: number): InvSqrtStep[] {
  const steps: InvSqrtStep[] = [];
  let [a, b] = [lo, hi];
  for (;;) {
    const st = invSqrtStep(a, b);
    steps.push(st);
    if (st.err <= 2 ** -frac || steps.length >= 64) return steps;
    [a, b] = [1 - st.err, 1 + st.err];
  }
}

export interface InvSqrtOptions {
  /** The public range [lo, hi] of x: 0 < lo < hi, hi/lo ≤ 2^40. */
  range: [number, number];
  /** Multiply the result by this public constant (folded into the last iteration; default 1). */
  scale?: number;
}

function checkRange(fn: string, range: unknown, frac: number): [number, number] {
  if (!Array.isArray(range) || range.length !== 2 || typeof range[0] !== 'number' || typeof range[1] !== 'number') {
    throw new TypeError(`ABY3.${fn}: option 'range' must be [lo, hi] (numbers), got ${describe(range)}`);
  }
  const [lo, hi] = range as [number, number];
  if (!(lo > 0 && hi > lo && Number.isFinite(hi))) throw new RangeError(`ABY3.${fn}: option 'range' must have 0 < lo < hi, got [${lo}, ${hi}]`);
  if (hi / lo > 2 ** 40) throw new RangeError(`ABY3.${fn}: option 'range' spans a ratio hi/lo = ${hi / lo}, above 2^40`);
  if (lo < 2 ** -frac) throw new RangeError(`ABY3.${fn}: option 'range' has lo = ${lo} below the encoding's resolution 2^-${frac}`);
  return [lo, hi];
}

/** x · c for a public c: divPublic when |c| < 1 (c keeps f significant bits), mulPublic otherwise. */
export function scalePublic(p: ABY3, x: ReplicatedTensor, c: number): Promise<ReplicatedTensor> {
  if (c === 1) return Promise.resolve(x);
  return Math.abs(c) < 1 ? p.divPublic(x, 1 / c) : p.mulPublic(x, c);
}

/** p(e) = β(K − e) = βK − β·e. */
async function poly(p: ABY3, e: ReplicatedTensor, st: InvSqrtStep, c = 1): Promise<ReplicatedTensor> {
  const b = st.beta * c;
  return p.addPublic(await scalePublic(p, p.neg(e), b), b * st.K);
}

/** c/√x for x (fixed point) in the public range [lo, hi] (see the file comment). */
export async function invSqrt(p: ABY3, x: ReplicatedTensor, options: InvSqrtOptions): Promise<ReplicatedTensor> {
  const fn = 'invSqrt';
  const kind = (p as { kind?: unknown } | null)?.kind;
  if (kind !== 'aby3') {
    const name = p === null || typeof p !== 'object' ? describe(p) : `'${String((p as { id?: unknown }).id)}' (${p.constructor.name})`;
    throw new ProtocolMismatchError(`ABY3.${fn}: argument 'p' must be an ABY3 protocol, got ${name}; invSqrt is implemented for ABY3 only (Pond and Plaintext do not have it)`);
  }
  if (!(x instanceof ReplicatedTensor) || x.protocol !== p) throw new TypeError(`ABY3.${fn}: argument 'x' must be a ReplicatedTensor of this protocol, got ${describe(x)}`);
  if (x.encoding !== 'fixed') throw new TypeError(`ABY3.${fn}: argument 'x' must be fixed point, got encoding '${x.encoding}'`);
  if (options === null || typeof options !== 'object') throw new TypeError(`ABY3.${fn}: argument 'options' must be an object with 'range'`);
  const [lo, hi] = checkRange(fn, options.range, p.fixed.frac);
  const c = options.scale ?? 1;
  if (typeof c !== 'number' || !Number.isFinite(c) || c === 0) throw new RangeError(`ABY3.${fn}: option 'scale' must be a finite non-zero number, got ${describe(c)}`);
  const plan = invSqrtPlan(lo, hi, p.fixed.frac);
  // iteration 1: the linear guess y = p(x)
  let y = await poly(p, x, plan[0]!, plan.length === 1 ? c : 1);
  for (let i = 1; i < plan.length; i++) {
    // e = (x·y)·y from x itself each time: x·y carried along would keep the few significant bits it had when small
    const e = await p.mul(await p.mul(x, y), y);
    y = await p.mul(y, await poly(p, e, plan[i]!, i === plan.length - 1 ? c : 1));
  }
  return y;
}
