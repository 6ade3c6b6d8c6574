/**
 * The smooth ops (approx.ts) under ABY3 and under Pond: exp, reciprocal, div,
 * sigmoid, softmax, logSoftmax against Math.exp etc. on random inputs in each
 * stated range and on edge inputs, at both precisions, with the error bounds
 * of docs/encrypted-ml.md's op table (the same for both protocols); lock-step
 * rounds and bytes per party against the formulas (composed from each
 * protocol's primitives); softmax's properties; SPMD runs; argument checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, Player, Pond, PrecisionMismatchError, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { FIXED_HIGH, FIXED_LOW } from '../../src/encrypted/fixed.js';
import { expSquarings, logIterations, logSoftmaxRange, reciprocalGuess, reciprocalIterations, softmaxRange } from '../../src/encrypted/protocols/approx.js';
import { msbAndPlanes, msbRounds, planeWords } from '../../src/encrypted/protocols/aby3-binary.js';
import { MemoryHub, MemoryTransport, type Transport } from '../../src/transport/index.js';
import { RoundTransport } from './rounds.js';

const [s0, s1, s2, alice, dealer] = ['server0', 'server1', 'server2', 'alice', 'dealer'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const SERVERS = ['server0', 'server1', 'server2'];
const cfgOf = (precision: 'low' | 'high') => (precision === 'low' ? FIXED_LOW : FIXED_HIGH);

/**
 * The error bounds asserted here and stated in docs/encrypted-ml.md (absolute
 * unless named rel; u = 2^-f). Measured maxima are in the doc; each bound is
 * about 1.5-3x the measured maximum over many runs.
 */
const BOUNDS = {
  low: { expNeg: 2e-3, expPosRel: 1.6e-2, recipUlps: 8, sigmoid: 6e-4, softmax: 3e-3, softmaxRowSum: 4e-4, logSoftmax: 6e-3 },
  high: { expNeg: 4e-6, expPosRel: 2e-4, recipUlps: 8, sigmoid: 4e-6, softmax: 3e-5, softmaxRowSum: 2e-8, logSoftmax: 8e-5 },
} as const;

/** exp's and sigmoid's largest |x| tested: truncation failure probability at most |x| 2^(2f+1-l) / (2^k √2) per element there (2^-20 'low', 2^-31 'high'). */
const LIMIT = { low: 2 ** 16, high: 2 ** 40 } as const;

/** The reciprocal ranges tested (softmax's for rows of 10 and 128, sigmoid's [1, 2], a user range). */
const RECIP_RANGES: [number, number][] = [[1, 2], softmaxRange(10), softmaxRange(128), [0.25, 4]];

const maxAbs = (got: ArrayLike<number>, want: readonly number[]): number => want.reduce((m, w, i) => Math.max(m, Math.abs(got[i]! - w)), 0);
const maxRel = (got: ArrayLike<number>, want: readonly number[]): number => want.reduce((m, w, i) => Math.max(m, Math.abs(got[i]! - w) / Math.abs(w)), 0);
const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));

function softmaxRef(xs: readonly number[], rows: number, c: number): { sm: number[]; lsm: number[] } {
  const sm: number[] = [];
  const lsm: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = xs.slice(r * c, (r + 1) * c);
    const m = Math.max(...row);
    const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
    for (const v of row) {
      sm.push(Math.exp(v - m) / s);
      lsm.push(v - m - Math.log(s));
    }
  }
  return { sm, lsm };
}

/** Values exactly representable in the encoding (so that the reference sees what the protocol sees). */
const enc = (f: number) => (v: number) => Math.round(v * 2 ** f) / 2 ** f;
const doubles = (lo: number, hi: number, n: number) => fc.array(fc.double({ min: lo, max: hi, noNaN: true }), { minLength: 1, maxLength: n });

/** ABY3 or Pond, through the methods the tests call (the same names and signatures). */
type AnyP = ABY3;
for (const [kind, precision] of [['ABY3', 'low'], ['ABY3', 'high'], ['Pond', 'low'], ['Pond', 'high']] as const) {
  const cfg = cfgOf(precision);
  const f = cfg.frac;
  const u = 2 ** -f;
  const B = BOUNDS[precision];
  const k = expSquarings(cfg.bits);
  const mk = (): AnyP => (kind === 'ABY3' ? new ABY3(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] }) : new Pond(s0, s1, dealer, { precision, transport: new MemoryTransport(), players: [alice] }) as unknown as AnyP);
  const open = async (p: AnyP, t: ReplicatedTensor) => (await p.reveal(t, alice)).read();

  describe(`${kind} smooth ops against the plaintext reference (precision ${precision})`, () => {
    it(`exp: |err| <= ${B.expNeg} for x <= 0 (clipped below -2^${k} to 0), rel err <= ${B.expPosRel} on [0, 4]`, async () => {
      const p = mk();
      const edges = [0, -u, u, -1, -3, -(2 ** k), -(2 ** k) + u, -(2 ** k) - u, -(2 ** k) * 1.5, -1000, -1e6, 4, 4 - u];
      await fc.assert(fc.asyncProperty(doubles(-80, 0, 60), doubles(0, 4, 30), async (neg, pos) => {
        const xs = [...edges, ...neg, ...pos].map(enc(f));
        const got = await open(p, await p.exp(await p.encrypt(alice, xs)));
        const isNeg = xs.map((v) => v <= 0);
        const want = xs.map(Math.exp);
        assert.ok(maxAbs(got.filter((_, i) => isNeg[i]), want.filter((_, i) => isNeg[i])) <= B.expNeg, `x <= 0: ${maxAbs(got.filter((_, i) => isNeg[i]), want.filter((_, i) => isNeg[i]))}`);
        assert.ok(maxRel(got.filter((_, i) => !isNeg[i]), want.filter((_, i) => !isNeg[i])) <= B.expPosRel, `x in [0, 4]: rel ${maxRel(got.filter((_, i) => !isNeg[i]), want.filter((_, i) => !isNeg[i]))}`);
      }), { numRuns: 20 });
      // without the clip, below -2^k the base is negative before it is squared: a wrong value, as documented
      const far = await open(p, await p.exp(await p.encrypt(alice, [-3 * 2 ** k]), { clip: false }));
      assert.ok(Math.abs(far[0]!) > 1, `unclipped exp(-3·2^k) = ${far[0]}`);
    });

    it(`reciprocal: |err| <= ${B.recipUlps} u on its range (the range's ends and its midpoint included); div = x · reciprocal(y)`, async () => {
      const p = mk();
      for (const [lo, hi] of RECIP_RANGES) {
        await fc.assert(fc.asyncProperty(doubles(lo, hi, 60), async (rand) => {
          const xs = [lo, hi, (lo + hi) / 2, lo + u, hi - u, ...rand].map(enc(f)).map((v) => Math.min(Math.max(v, lo), hi));
          const got = await open(p, await p.reciprocal(await p.encrypt(alice, xs), { range: [lo, hi] }));
          const e = maxAbs(got, xs.map((v) => 1 / v));
          assert.ok(e <= B.recipUlps * u, `range [${lo}, ${hi}]: ${e / u} ulps`);
        }), { numRuns: 8 });
      }
      // div: the reciprocal's error times |x|, plus the product's
      const ys = [0.25, 1, 3.5, 4].map(enc(f));
      const xs = [-5, 2.5, 7, 0].map(enc(f));
      const q = await open(p, await p.div(await p.encrypt(alice, xs), await p.encrypt(alice, ys), { range: [0.25, 4] }));
      const e = maxAbs(q, xs.map((x, i) => x / ys[i]!));
      assert.ok(e <= (5 * B.recipUlps + 4) * u, `div: ${e / u} ulps`);
    });

    it(`sigmoid: |err| <= ${B.sigmoid} for every x (0, +-ulp, +-2^k, +-1000, the range's ends)`, async () => {
      const p = mk();
      const edges = [0, u, -u, 1, -1, 2 ** k, -(2 ** k), 2 ** k + u, -(2 ** k) - u, 1000, -1000, LIMIT[precision], -LIMIT[precision]];
      await fc.assert(fc.asyncProperty(doubles(-12, 12, 60), doubles(-200, 200, 20), async (mid, wide) => {
        const xs = [...edges, ...mid, ...wide].map(enc(f));
        const got = await open(p, await p.sigmoid(await p.encrypt(alice, xs)));
        const e = maxAbs(got, xs.map(sigmoidRef));
        assert.ok(e <= B.sigmoid, `sigmoid: ${e}`);
      }), { numRuns: 20 });
    });

    it(`softmax and logSoftmax (rows of 10 and 128, one of equal entries): |err| <= ${B.softmax} and ${B.logSoftmax} + 2(log 1.01c)³/(6·4^k); rows sum to 1 within ${B.softmaxRowSum} + 8cu`, async () => {
      const p = mk();
      for (const c of [10, 128]) {
        const rows = 4;
        // log s is computed through exp(−y) with y ≈ log s: exp's relative error there, about (log s)³/(6·4^k), is
        // log-softmax's; it is largest for a row of equal entries (s = c), which the last row is
        const lsmBound = B.logSoftmax + (2 * Math.log(1.01 * c) ** 3) / (6 * 4 ** k);
        // every entry of a row carries the row's reciprocal error: the row sum c times it
        const sumBound = B.softmaxRowSum + c * B.recipUlps * u;
        await fc.assert(fc.asyncProperty(fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: (rows - 1) * c, maxLength: (rows - 1) * c }), fc.double({ min: -20, max: 20, noNaN: true }), async (rand, same) => {
          const xs = [...rand, ...new Array<number>(c).fill(same)].map(enc(f));
          const x = await p.encrypt(alice, xs, { shape: [rows, c] });
          const { sm, lsm } = softmaxRef(xs, rows, c);
          const got = await open(p, await p.softmax(x));
          assert.ok(maxAbs(got, sm) <= B.softmax, `softmax c = ${c}: ${maxAbs(got, sm)}`);
          for (let r = 0; r < rows; r++) {
            const sum = got.slice(r * c, (r + 1) * c).reduce((a, v) => a + v, 0);
            assert.ok(Math.abs(sum - 1) <= sumBound, `row ${r} sums to ${sum}`);
          }
          const lgot = await open(p, await p.logSoftmax(x));
          assert.ok(maxAbs(lgot, lsm) <= lsmBound, `logSoftmax c = ${c}: ${maxAbs(lgot, lsm)}`);
        }), { numRuns: 5 });
      }
    });

    it('softmax: invariant to a constant added to a row; a dominant entry; equal entries; a spread beyond 2^k (clipped); another axis', async () => {
      const p = mk();
      const c = 10;
      const base = Array.from({ length: c }, (_, i) => enc(f)(Math.sin(i * 1.7) * 3));
      const rows = [base, base.map((v) => v + 37.5), base.map((v, i) => (i === 4 ? 30 : v)), new Array<number>(c).fill(-2.5), base.map((v, i) => (i === 0 ? 3 * 2 ** k : v))];
      const xs = rows.flat();
      const got = await open(p, await p.softmax(await p.encrypt(alice, xs, { shape: [rows.length, c] })));
      const { sm } = softmaxRef(xs, rows.length, c);
      assert.ok(maxAbs(got, sm) <= B.softmax, `${maxAbs(got, sm)}`);
      const row = (r: number) => Array.from(got.slice(r * c, (r + 1) * c));
      assert.ok(maxAbs(row(1), row(0)) <= B.softmax, 'shifted row');
      assert.ok(Math.abs(row(2)[4]! - 1) <= B.softmax && row(2).every((v, i) => i === 4 || Math.abs(v) <= B.softmax), 'dominant entry');
      assert.ok(row(3).every((v) => Math.abs(v - 0.1) <= B.softmax), 'equal entries');
      assert.ok(Math.abs(row(4)[0]! - 1) <= B.softmax && row(4).slice(1).every((v) => Math.abs(v) <= B.softmax), 'spread beyond 2^k');
      // axis 0 of a [c, 3] tensor equals axis -1 of its transpose
      const t = await p.encrypt(alice, xs.slice(0, 3 * c), { shape: [c, 3] });
      const a0 = await open(p, await p.softmax(t, 0));
      const want = softmaxRef(Array.from({ length: 3 * c }, (_, j) => xs[(j % c) * 3 + Math.floor(j / c)]!), 3, c).sm;
      const a0t = Array.from({ length: 3 * c }, (_, j) => a0[(j % c) * 3 + Math.floor(j / c)]!);
      assert.ok(maxAbs(a0t, want) <= B.softmax, `axis 0: ${maxAbs(a0t, want)}`);
    });
  });
}

/**
 * Lock-step rounds: in one process the three servers' code advances together
 * (every await of a message is a barrier for all of them), so a message's round
 * is one more than the deepest message received anywhere before it was sent.
 */
class LockstepTransport implements Transport {
  readonly kind = 'recording';
  log: { from: string; to: string; bytes: number; round: number }[] = [];
  #deepest = 0;
  #sent = new Map<string, number>();
  constructor(readonly inner: MemoryTransport = new MemoryTransport()) {}
  isLocal(p: string) { return this.inner.isLocal(p); }
  send(from: string, to: string, key: string, payload: Uint8Array) {
    const round = this.#deepest + 1;
    this.#sent.set(`${from}>${to}>${key}`, round);
    this.log.push({ from, to, bytes: payload.length, round });
    return this.inner.send(from, to, key, payload);
  }
  async receive(to: string, from: string, key: string, o?: { timeoutMs?: number }) {
    const p = await this.inner.receive(to, from, key, o);
    this.#deepest = Math.max(this.#deepest, this.#sent.get(`${from}>${to}>${key}`) ?? 0);
    return p;
  }
  stats() { return this.inner.stats(); }
  resetStats() { this.inner.resetStats(); }
  close() { return this.inner.close(); }
  reset() { this.log = []; this.#deepest = 0; this.#sent.clear(); }
  rounds() { return Math.max(0, ...this.log.map((m) => m.round)); }
}

type Cost = { rounds: number; bytes: number[] };
const add = (...cs: Cost[]): Cost => ({ rounds: cs.reduce((a, c) => a + c.rounds, 0), bytes: [0, 1, 2].map((i) => cs.reduce((a, c) => a + c.bytes[i]!, 0)) });
const times = (m: number, c: Cost): Cost => ({ rounds: m * c.rounds, bytes: c.bytes.map((b) => m * b) });
/** The same round: bytes add, rounds do not. */
const parallel = (...cs: Cost[]): Cost => ({ rounds: Math.max(...cs.map((c) => c.rounds)), bytes: add(...cs).bytes });
const NONE: Cost = { rounds: 0, bytes: [0, 0, 0] };

/** A protocol's primitive costs for n elements (bytes per party: ABY3's three servers; Pond's two servers and the producer). */
interface Prims { mul(n: number): Cost; mulInt(n: number): Cost; trunc(n: number): Cost; sign(n: number): Cost; isNegative(n: number): Cost; relu(n: number): Cost; selectBit(n: number): Cost }
const W = (n: number) => 4 * planeWords(n);

/** ABY3's rows of docs/encrypted-ml.md's op table. */
function aby3Prims(l: 64 | 128): Prims {
  const E = l / 8;
  const S = msbRounds(l);
  const P = msbAndPlanes(l);
  const sign = (n: number): Cost => ({ rounds: S, bytes: [(l + P) * W(n), P * W(n), P * W(n)] });
  const inject = (n: number, one: boolean): Cost => ({ rounds: 2, bytes: one ? [2 * n * E, n * E, n * E] : [3 * n * E, 2 * n * E, 3 * n * E] });
  return {
    mul: (n) => ({ rounds: 2, bytes: [n * E, n * E, n * E] }), // fixed × fixed (truncation fused)
    mulInt: (n) => ({ rounds: 1, bytes: [n * E, n * E, n * E] }), // int × fixed
    trunc: (n) => ({ rounds: 1, bytes: [n * E, n * E, 0] }),
    sign,
    isNegative: (n) => add(sign(n), inject(n, true)),
    relu: (n) => add(sign(n), inject(n, false)),
    selectBit: (n) => inject(n, false),
  };
}

/** Pond's rows ("Pond: comparisons, ..."): online rounds (the producer's messages offline), bytes (server0, server1, producer). */
function pondPrims(l: 64 | 128): Prims {
  const E = l / 8;
  const m = l - 1;
  const L = Math.ceil(Math.log2(m));
  const sign = (n: number): Cost => ({ rounds: 1 + L, bytes: [(4 * m - 3 - L) * W(n), (4 * m - 3 - L) * W(n), (3 * m - 2 - L) * W(n)] });
  const mul = (n: number): Cost => ({ rounds: 1, bytes: [2 * n * E, 2 * n * E, n * E] });
  return {
    mul, mulInt: mul,
    trunc: () => NONE, // local
    sign,
    isNegative: (n) => add(sign(n), { rounds: 1, bytes: [W(n), W(n), n * E] }),
    relu: (n) => add(sign(n), { rounds: 1, bytes: [W(n) + n * E, W(n) + n * E, 2 * n * E] }),
    selectBit: (n) => ({ rounds: 1, bytes: [W(n) + n * E, W(n) + n * E, 2 * n * E] }),
  };
}

/** The smooth ops' costs composed from a protocol's primitives (docs/encrypted-ml.md), for n elements at ring width l. */
function costs(l: 64 | 128, P: Prims) {
  const { mul, mulInt, trunc, sign, isNegative, relu, selectBit } = P;
  const k = expSquarings(l);
  const exp = (n: number, clip: boolean) => add(trunc(n), clip ? relu(n) : NONE, times(k + 1, mul(n)));
  const f = l === 64 ? 16 : 32;
  const reciprocal = (n: number, lo: number, hi: number) => add(trunc(n), times(2 * reciprocalIterations(lo, hi, f), mul(n)));
  const sigmoid = (n: number) => add(isNegative(n), mulInt(n), exp(n, true), reciprocal(n, 1, 2), mulInt(n));
  const rowMax = (rows: number, c: number): Cost => {
    let cost: Cost = NONE;
    for (let w = c; w > 1; w = Math.ceil(w / 2)) cost = add(cost, sign(rows * Math.floor(w / 2)), selectBit(rows * Math.floor(w / 2)));
    return cost;
  };
  const log = (n: number, lo: number, hi: number) => add(trunc(n), times(logIterations(lo, hi, f), add(exp(n, false), mul(n), mul(n), parallel(mul(n), mul(n)), parallel(trunc(n), trunc(n), trunc(n)))));
  const softmax = (rows: number, c: number) => add(rowMax(rows, c), exp(rows * c, true), reciprocal(rows, ...softmaxRange(c)), mul(rows * c));
  const logSoftmax = (rows: number, c: number) => add(rowMax(rows, c), exp(rows * c, true), log(rows, ...logSoftmaxRange(c)));
  return { exp, reciprocal, div: (n: number, lo: number, hi: number) => add(reciprocal(n, lo, hi), mul(n)), sigmoid, softmax, logSoftmax, isNegative };
}

describe('smooth ops: lock-step rounds and bytes per party equal the formulas', () => {
  for (const [kind, precision] of [['ABY3', 'low'], ['ABY3', 'high'], ['Pond', 'low'], ['Pond', 'high']] as const) {
    it(`${kind}, precision ${precision}: exp, reciprocal, div, sigmoid, softmax, logSoftmax for n = 1, 45, 320 (softmax rows of 10 and 45)`, async () => {
      const l = cfgOf(precision).bits;
      const C = costs(l, kind === 'ABY3' ? aby3Prims(l) : pondPrims(l));
      // Pond: every round is an exchange between the two servers, so its online depth (the producer's messages at depth 0) is its lock-step count
      const t = kind === 'ABY3' ? new LockstepTransport() : new RoundTransport(new MemoryTransport(), { offline: ['dealer'] });
      const parties = kind === 'ABY3' ? SERVERS : ['server0', 'server1', 'dealer'];
      const p = kind === 'ABY3' ? new ABY3(s0, s1, s2, { precision, transport: t, players: [alice] }) : new Pond(s0, s1, dealer, { precision, transport: t, players: [alice] }) as unknown as AnyP;
      const check = async (label: string, run: () => Promise<unknown>, want: Cost) => {
        t.reset();
        await run();
        assert.equal(t instanceof RoundTransport ? t.onlineRounds() : t.rounds(), want.rounds, `${label}: lock-step rounds`);
        assert.deepEqual(parties.map((q) => t.log.filter((m) => m.from === q).reduce((a, m) => a + m.bytes, 0)), want.bytes, `${label}: bytes sent by ${parties.join(', ')}`);
        assert.ok(t.log.every((m) => parties.includes(m.from) && parties.includes(m.to) && m.to !== 'dealer'), `${label}: only the parties talk (the producer receives nothing)`);
      };
      await p.mul(await p.encrypt(alice, [1]), await p.encrypt(alice, [1])); // set-up (Pond: the producer's keys)
      const n0 = await p.encrypt(alice, [0]);
      await check('isNegative (the counting itself)', () => p.isNegative(n0), C.isNegative(1));
      for (const n of [1, 45, 320]) {
        const x = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => -Math.abs(Math.sin(i)) * 5));
        const y = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => 1 + Math.abs(Math.cos(i))));
        await check(`exp (n = ${n})`, () => p.exp(x), C.exp(n, true));
        await check(`exp, no clip (n = ${n})`, () => p.exp(x, { clip: false }), C.exp(n, false));
        for (const [lo, hi] of [[1, 2], [0.5, 130]] as const) await check(`reciprocal [${lo}, ${hi}] (n = ${n})`, () => p.reciprocal(y, { range: [lo, hi] }), C.reciprocal(n, lo, hi));
        await check(`div (n = ${n})`, () => p.div(x, y, { range: [1, 2] }), C.div(n, 1, 2));
        await check(`sigmoid (n = ${n})`, () => p.sigmoid(x), C.sigmoid(n));
      }
      for (const [rows, c] of [[3, 10], [4, 45]] as const) {
        const x = await p.encrypt(alice, Float64Array.from({ length: rows * c }, (_, i) => Math.sin(i) * 4), { shape: [rows, c] });
        await check(`softmax [${rows}, ${c}]`, () => p.softmax(x), C.softmax(rows, c));
        await check(`logSoftmax [${rows}, ${c}]`, () => p.logSoftmax(x), C.logSoftmax(rows, c));
      }
    });
  }

  it('iteration counts: reciprocal on [1, 2] takes 2 (low) / 3 (high) Newton steps; the guess error on the range is as derived', () => {
    assert.equal(reciprocalIterations(1, 2, 16), 2);
    assert.equal(reciprocalIterations(1, 2, 32), 3);
    assert.equal(reciprocalGuess(1, 2).err, 1 / 17);
    for (const [lo, hi] of RECIP_RANGES) {
      const { alpha, beta, err } = reciprocalGuess(lo, hi);
      let worst = 0;
      for (let i = 0; i <= 1000; i++) {
        const x = lo + ((hi - lo) * i) / 1000;
        worst = Math.max(worst, Math.abs(1 - x * (alpha - beta * x)));
      }
      assert.ok(Math.abs(worst - err) < 1e-9, `[${lo}, ${hi}]: ${worst} vs ${err}`);
    }
  });
});

describe('ABY3 smooth ops, SPMD (one simulated process per group of players)', () => {
  it('sigmoid, softmax and reciprocal give the same values whatever the grouping', async () => {
    const n = 20;
    const xs = Float64Array.from({ length: n }, (_, i) => enc(16)((i - 10) * 1.3));
    const ys = Float64Array.from({ length: n }, (_, i) => enc(16)(1 + i / 20));
    const groupings = [[['server0'], ['server1'], ['server2'], ['alice']], [['server0', 'alice'], ['server1', 'server2']], [['server0', 'server1', 'server2', 'alice']]];
    const out: number[][] = [];
    for (const groups of groupings) {
      const hub = new MemoryHub();
      const results = await Promise.all(groups.map(async (local) => {
        const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'spmd-approx', timeoutMs: 20000 });
        const here = local.includes('alice');
        const x = await p.encrypt(alice, here ? xs : undefined, { shape: [2, 10] });
        const y = await p.encrypt(alice, here ? ys : undefined, { shape: [2, 10] });
        const outs = [await p.sigmoid(x), await p.softmax(x), await p.reciprocal(y, { range: [1, 2] })];
        const vals = await Promise.all(outs.map((o) => p.reveal(o, alice)));
        return here ? vals.flatMap((v) => Array.from(v.read())) : undefined;
      }));
      groups.forEach((g, i) => assert.equal(results[i] === undefined, !g.includes('alice')));
      out.push(results.find((r) => r !== undefined)!);
    }
    // the values depend on the PRF streams (truncation), which differ per run only through the keys: compare to the reference
    const want = [Array.from(xs, sigmoidRef), softmaxRef(Array.from(xs), 2, 10).sm, Array.from(ys, (v) => 1 / v)];
    const bound = [BOUNDS.low.sigmoid, BOUNDS.low.softmax, BOUNDS.low.recipUlps * 2 ** -16];
    for (const o of out) want.forEach((w, j) => assert.ok(maxAbs(o.slice(j * n, (j + 1) * n), w) <= bound[j]!, `${['sigmoid', 'softmax', 'reciprocal'][j]}: ${maxAbs(o.slice(j * n, (j + 1) * n), w)}`));
  });
});

describe('ABY3 smooth ops: argument checks name the argument, before anything is sent', () => {
  it('types, encodings, precisions, ranges, axes, options', async () => {
    const t = new MemoryTransport();
    const p = new ABY3(s0, s1, s2, { transport: t, players: [alice] });
    const q = new ABY3(s0, s1, s2, { transport: t, precision: 'high', players: [alice] });
    const x = await p.encrypt(alice, [1, 2, 3]);
    const xh = await q.encrypt(alice, [1, 2, 3]);
    const xi = await p.encryptInts(alice, [1, 2, 3]);
    const b = await p.boolean.signBit(x);
    t.resetStats();
    const err = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
    assert.throws(() => p.exp(3 as never), err(TypeError, /ABY3\.exp: argument 'x'/));
    assert.throws(() => p.exp(xi), err(TypeError, /ABY3\.exp: argument 'x' must be a fixed-point tensor/));
    assert.throws(() => p.exp(x, { clip: 1 as never }), err(TypeError, /option 'clip'/));
    assert.throws(() => p.sigmoid(xh), err(PrecisionMismatchError, /ABY3\.sigmoid: argument 'x'/));
    assert.throws(() => p.sigmoid(b as never), err(TypeError, /boolean-shared/));
    assert.throws(() => p.reciprocal(x, {} as never), err(TypeError, /option 'range'/));
    assert.throws(() => p.reciprocal(x, { range: [0, 2] }), err(RangeError, /0 < lo < hi/));
    assert.throws(() => p.reciprocal(x, { range: [2, 1] }), err(RangeError, /0 < lo < hi/));
    assert.throws(() => p.reciprocal(x, { range: [1e-9, 1e9] }), err(RangeError, /too wide/));
    assert.throws(() => p.div(x, xh, { range: [1, 2] }), err(PrecisionMismatchError, /ABY3\.div: argument 'y'/));
    assert.throws(() => p.softmax(x, 1), err(RangeError, /argument 'axis'/));
    assert.throws(() => p.logSoftmax(x, 0.5), err(TypeError, /argument 'axis'/));
    assert.deepEqual(t.stats(), {}, 'nothing was sent');
  });
});
