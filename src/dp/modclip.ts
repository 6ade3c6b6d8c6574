/**
 * Modular clipping (TFF aggregators/modular_clipping.py; KLS21 §4.4): the
 * secure sum works in Z_{2^bits}, so each client's integer vector is reduced
 * into the signed range [-2^(bits-1), 2^(bits-1)), the residues are summed
 * mod 2^bits, and the target maps the sum back into the signed range. This
 * is exact (sum of residues ≡ true sum mod 2^bits) as long as the TRUE sum of
 * every coordinate lies in the signed range; a coordinate outside it "wraps"
 * (a large error). The scale is chosen so that a wrap has probability about
 * `modclipProb` per coordinate (ddp-params.ts).
 */

function checkBits(fn: string, bits: unknown): number {
  if (!(typeof bits === 'number' && Number.isInteger(bits) && bits >= 1 && bits <= 31)) throw new RangeError(`${fn}: "bits" expected an integer in [1, 31], got ${String(bits)}`);
  return bits;
}

/** x mod 2^bits in [-2^(bits-1), 2^(bits-1)) (a fresh Int32Array), and how many values were outside (`wraps`). */
export function modClip(x: Int32Array, bits: number): { values: Int32Array; wraps: number } {
  checkBits('modClip', bits);
  if (!(x instanceof Int32Array)) throw new TypeError('modClip: "x" expected an Int32Array');
  const m = 2 ** bits, lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1);
  const out = new Int32Array(x.length);
  let wraps = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v >= lo && v < hi) out[i] = v;
    else {
      wraps++;
      out[i] = ((((v - lo) % m) + m) % m) + lo;
    }
  }
  return { values: out, wraps };
}

/** `modClip` and `toResidues` in one pass: x mod 2^bits in [0, 2^bits), and the count of x outside the signed range. */
export function modResidues(x: Int32Array, bits: number): { residues: Int32Array; wraps: number } {
  checkBits('modResidues', bits);
  if (!(x instanceof Int32Array)) throw new TypeError('modResidues: "x" expected an Int32Array');
  const mask = 2 ** bits - 1, lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1);
  const out = new Int32Array(x.length);
  let wraps = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < lo || v >= hi) wraps++;
    // two's complement: v & (2^bits - 1) = v mod 2^bits in [0, 2^bits) for bits <= 31
    out[i] = v & mask;
  }
  return { residues: out, wraps };
}

/** Values of the signed range as residues in [0, 2^bits) (what the inner secure sum takes). */
export function toResidues(x: Int32Array, bits: number): Int32Array {
  checkBits('toResidues', bits);
  const m = 2 ** bits;
  const out = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    out[i] = v < 0 ? v + m : v;
    if (!(out[i]! >= 0 && out[i]! < m)) throw new RangeError(`toResidues: "x[${i}]" = ${v} is outside [-2^${bits - 1}, 2^${bits - 1})`);
  }
  return out;
}

/** An exact sum of residues, reduced mod 2^bits into the signed range [-2^(bits-1), 2^(bits-1)). */
export function signedSum(sums: readonly bigint[] | BigInt64Array, bits: number): Float64Array {
  checkBits('signedSum', bits);
  const m = 1n << BigInt(bits), half = m >> 1n;
  const out = new Float64Array(sums.length);
  for (let i = 0; i < sums.length; i++) {
    let r = sums[i]! % m;
    if (r < 0n) r += m;
    out[i] = Number(r >= half ? r - m : r);
  }
  return out;
}

/** How many of `sums` (true, unreduced integer sums) lie outside the signed range of `bits`: the wraps of an aggregate. */
export function countWraps(sums: ArrayLike<number>, bits: number): number {
  checkBits('countWraps', bits);
  const lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1);
  let w = 0;
  for (let i = 0; i < sums.length; i++) if (!(sums[i]! >= lo && sums[i]! < hi)) w++;
  return w;
}
