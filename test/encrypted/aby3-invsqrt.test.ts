/**
 * ABY3 inverse square root (src/encrypted/protocols/aby3-invsqrt.ts):
 * against c/√x of the encoded input on random log-uniform inputs and the
 * range's edges, both precisions, with the asserted bound; the minimax
 * step's equioscillation and the plan's iteration counts; lock-step rounds
 * and bytes per server equal to the formula; argument checks before any
 * message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player } from '../../src/encrypted/index.js';
import { invSqrt, invSqrtPlan, invSqrtStep } from '../../src/encrypted/protocols/aby3-invsqrt.js';
import { MemoryTransport, type Transport } from '../../src/transport/index.js';

const SERVERS = ['server0', 'server1', 'server2'];
const [s0, s1, s2, alice] = [...SERVERS, 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];

/** Each message one round after the deepest message received anywhere before it (all servers in one process: lock-step rounds). */
class LockstepTransport implements Transport {
  readonly kind = 'recording';
  log: { from: string; bytes: number; round: number }[] = [];
  #deepest = 0;
  #sent = new Map<string, number>();
  constructor(readonly inner: MemoryTransport = new MemoryTransport()) {}
  isLocal(p: string) { return this.inner.isLocal(p); }
  send(from: string, to: string, key: string, payload: Uint8Array) {
    const round = this.#deepest + 1;
    this.#sent.set(`${from}>${to}>${key}`, round);
    this.log.push({ from, bytes: payload.length, round });
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
  sent(): number[] { return SERVERS.map((s) => this.log.filter((m) => m.from === s).reduce((a, m) => a + m.bytes, 0)); }
}

/** Log-uniform points in [lo, hi] from a fixed LCG, with lo, hi and √(lo·hi) first. */
function points(lo: number, hi: number, n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, (_, i) => {
    if (i < 3) return [lo, hi, Math.sqrt(lo * hi)][i]!;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo * Math.exp((s / 2 ** 32) * Math.log(hi / lo));
  });
}

const RANGES: [number, number, number][] = [[1, 2, 1], [0.25, 4, 3], [2 ** -12, 2 ** 10, 1], [1e-3, 1e3, 0.01]];

describe('invSqrt plan: the minimax linear step and the iteration counts', () => {
  it('each step equioscillates: max |1 − e·p(e)²| on [a, b] is err, reached at a, K/3 and b', () => {
    for (const [a, b] of [[2 ** -12, 2 ** 10], [1e-6, 1], [0.5, 1.5], [0.9, 1.1]] as [number, number][]) {
      const { beta, K, err } = invSqrtStep(a, b);
      const g = (e: number) => 1 - e * (beta * (K - e)) ** 2;
      let worst = 0;
      for (let i = 0; i <= 20000; i++) worst = Math.max(worst, Math.abs(g(a + ((b - a) * i) / 20000)));
      assert.ok(Math.abs(worst - err) <= 1e-9 + 1e-6 * err, `[${a}, ${b}]: grid max ${worst}, err ${err}`);
      for (const e of [a, K / 3, b]) assert.ok(Math.abs(Math.abs(g(e)) - err) <= 1e-9, `[${a}, ${b}]: |1 − e p²| at ${e} is ${Math.abs(g(e))}, err ${err}`);
      assert.ok(K > b, 'p stays positive on the interval');
    }
  });

  it('iterations: as docs/encrypted-ml.md\'s table (the error ends at or below 2^-f)', () => {
    const want: [number, number, number, number][] = [[1, 2, 3, 4], [0.25, 4, 5, 5], [2 ** -12, 2 ** 10, 11, 12], [1e-3, 1e3, 10, 11], [1.64e-4, 1024, 11, 12]];
    for (const [lo, hi, low, high] of want) {
      const pl = invSqrtPlan(lo, hi, 16);
      const ph = invSqrtPlan(lo, hi, 32);
      assert.deepEqual([pl.length, ph.length], [low, high], `[${lo}, ${hi}]`);
      assert.ok(pl[pl.length - 1]!.err <= 2 ** -16 && pl[pl.length - 2]!.err > 2 ** -16);
    }
  });
});

for (const precision of ['low', 'high'] as const) {
  describe(`ABY3 invSqrt (precision ${precision})`, () => {
    const t = new LockstepTransport();
    const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [alice] });
    const f = p.fixed.frac;
    const ulp = 2 ** -f;

    for (const [ri, [lo, hi, c]] of RANGES.entries()) {
      it(`c/√x on [${lo}, ${hi}], c = ${c}: within (|c|(2/x + 4) + 4/√x + 2) ulps of c/√x̃ (x̃ the encoded x)`, async () => {
        const xs = points(lo, hi, 600, 17 + ri);
        const y = await invSqrt(p, await p.encrypt(alice, xs), { range: [lo, hi], scale: c });
        const got = (await p.reveal(y, alice)).read();
        for (let i = 0; i < xs.length; i++) {
          const x = Math.round(xs[i]! * 2 ** f) / 2 ** f;
          const err = Math.abs(got[i]! - c / Math.sqrt(x));
          // e = (x·y)·y carries y·ulp from the truncation of x·y: y's relative error y·ulp/2, i.e. ulp/(2x) absolute (times c)
          const bound = (Math.abs(c) * (2 / x + 4) + 4 / Math.sqrt(x) + 2) * ulp;
          assert.ok(err <= bound, `x = ${xs[i]}: got ${got[i]}, want ${c / Math.sqrt(x)}, error ${err} above ${bound}`);
        }
      });
    }

    it('lock-step rounds 1 + 7(t − 1); bytes per element per server (1 + 4(t − 1))E, (1 + 4(t − 1))E, 3(t − 1)E', async () => {
      const E = p.bits / 8;
      for (const [lo, hi] of [[1, 2], [2 ** -12, 2 ** 10]] as [number, number][]) {
        for (const n of [1, 45]) {
          const x = await p.encrypt(alice, points(lo, hi, n, 3));
          const tt = invSqrtPlan(lo, hi, f).length;
          t.reset();
          await invSqrt(p, x, { range: [lo, hi] });
          assert.equal(t.rounds(), 1 + 7 * (tt - 1), `[${lo}, ${hi}] n = ${n}: rounds`);
          assert.deepEqual(t.sent(), [(1 + 4 * (tt - 1)) * n * E, (1 + 4 * (tt - 1)) * n * E, 3 * (tt - 1) * n * E], `[${lo}, ${hi}] n = ${n}: bytes`);
        }
      }
    });

    it('argument checks name the option, before any message', async () => {
      const x = await p.encrypt(alice, [1, 2, 3]);
      const xi = await p.encryptInts(alice, [1, 2, 3]);
      t.reset();
      await assert.rejects(invSqrt(p, x, { range: [0, 2] }), /ABY3\.invSqrt: option 'range' must have 0 < lo < hi, got \[0, 2\]/);
      await assert.rejects(invSqrt(p, x, { range: [2, 1] }), /option 'range' must have 0 < lo < hi/);
      await assert.rejects(invSqrt(p, x, { range: [1e-6, 1e9] }), /option 'range' spans a ratio hi\/lo = .* above 2\^40/);
      await assert.rejects(invSqrt(p, x, { range: [2 ** -(f + 2), 1] }), new RegExp(`option 'range' has lo = .* below the encoding's resolution 2\\^-${f}`));
      await assert.rejects(invSqrt(p, x, { range: 'wide' as unknown as [number, number] }), /option 'range' must be \[lo, hi\]/);
      await assert.rejects(invSqrt(p, x, { range: [1, 4], scale: 0 }), /option 'scale' must be a finite non-zero number/);
      await assert.rejects(invSqrt(p, xi, { range: [1, 4] }), /argument 'x' must be fixed point, got encoding 'int'/);
      await assert.rejects(invSqrt(p, [1, 2] as unknown as typeof x, { range: [1, 4] }), /argument 'x' must be a ReplicatedTensor of this protocol/);
      assert.equal(t.log.length, 0, 'nothing sent');
    });
  });
}
