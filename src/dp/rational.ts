/**
 * Exact rationals for the samplers: a JS number is a dyadic rational m·2^e, so it
 * converts exactly to a BigInt numerator/denominator (no rounding anywhere).
 */

export interface Rational {
  num: bigint;
  den: bigint;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return `object ${(v as object).constructor?.name ?? ''}`.trim();
  return `${typeof v} ${String(v)}`;
}

const gcd = (a: bigint, b: bigint): bigint => {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
};

/** The exact value of a finite number as num/den (den a power of two, fraction reduced). */
export function numberToRational(x: number): Rational {
  if (!Number.isFinite(x)) throw new RangeError(`numberToRational: expected a finite number, got ${x}`);
  if (Number.isInteger(x)) return { num: BigInt(x), den: 1n };
  // doubling is exact for finite non-integers (they are below 2^53 in magnitude); at most 1074 steps
  let m = x;
  let e = 0;
  while (!Number.isInteger(m)) {
    m *= 2;
    e++;
  }
  let num = BigInt(m);
  let den = 1n << BigInt(e);
  while ((num & 1n) === 0n && den > 1n) {
    num >>= 1n;
    den >>= 1n;
  }
  return { num, den };
}

/**
 * A positive rational parameter given as a JS number (converted exactly) or as
 * `{ num: bigint, den: bigint }` (reduced here). Errors name `fn` and `arg`.
 * `allowZero` admits 0 (Poisson / Skellam mean 0).
 */
export function parsePositiveRational(x: unknown, fn: string, arg: string, allowZero = false): Rational {
  const bound = allowZero ? '≥ 0' : '> 0';
  if (typeof x === 'number') {
    if (!Number.isFinite(x) || !(allowZero ? x >= 0 : x > 0)) {
      throw new RangeError(`${fn}: "${arg}" expected a finite number ${bound}, got ${x}`);
    }
    return numberToRational(x);
  }
  if (typeof x === 'object' && x !== null && 'num' in x && 'den' in x) {
    const { num, den } = x as { num: unknown; den: unknown };
    if (typeof num !== 'bigint' || typeof den !== 'bigint') {
      throw new TypeError(`${fn}: "${arg}" expected { num: bigint, den: bigint }, got num ${typeof num}, den ${typeof den}`);
    }
    if (den <= 0n) throw new RangeError(`${fn}: "${arg}.den" expected > 0, got ${den}`);
    if (allowZero ? num < 0n : num <= 0n) throw new RangeError(`${fn}: "${arg}" expected ${bound}, got ${num}/${den}`);
    if (num === 0n) return { num: 0n, den: 1n };
    const g = gcd(num, den);
    return { num: num / g, den: den / g };
  }
  throw new TypeError(`${fn}: "${arg}" expected a number or { num: bigint, den: bigint }, got ${describe(x)}`);
}

/** floor(sqrt(n)) for n ≥ 0 (Newton's method on BigInt from a start above the root). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError(`isqrt: "n" expected ≥ 0, got ${n}`);
  if (n < 2n) return n;
  // 2^⌈bits/2⌉ > √n; Newton's iterates then decrease monotonically to ⌊√n⌋
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** The product lo·(lo+1)·…·hi (1 when hi < lo), by a balanced product tree. */
export function rangeProduct(lo: bigint, hi: bigint): bigint {
  if (hi < lo) return 1n;
  if (hi - lo < 16n) {
    let p = 1n;
    for (let i = lo; i <= hi; i++) p *= i;
    return p;
  }
  const mid = (lo + hi) >> 1n;
  return rangeProduct(lo, mid) * rangeProduct(mid + 1n, hi);
}

/** The value as a float (for filters and error messages only). */
export function rationalToNumber(r: Rational): number {
  const n = Number(r.num), d = Number(r.den);
  if (Number.isFinite(n) && Number.isFinite(d)) return n / d;
  const shift = BigInt(Math.max(0, r.den.toString(2).length - 1000));
  return Number(r.num >> shift) / Number(r.den >> shift);
}
