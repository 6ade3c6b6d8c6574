/**
 * ABY3's option comparisonBits k (aby3-binary.ts checkComparisonBits): the
 * sign circuit on the low k bits of the shares. Against the plaintext
 * reference, exact, for every |x| < 2^(k-1) ring units, random and at the
 * ends of that range; the documented failure one beyond it; the rounds and
 * bytes of the op table with k planes; the option's checks. The ops at the
 * default k = l are the conformance suite's (test/conformance/nonlinear.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, Player, Pond, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { FIXED_HIGH, FIXED_LOW } from '../../src/encrypted/fixed.js';
import { MemoryHub, MemoryTransport, TransportError } from '../../src/transport/index.js';
import { amsgrad } from '../../src/encrypted/nn/optimizers.js';
import { aby3Costs } from '../conformance/nl-costs.js';
import { RoundTransport } from './rounds.js';

const [s0, s1, s2, alice, dealer] = ['server0', 'server1', 'server2', 'alice', 'dealer'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const SERVERS = ['server0', 'server1', 'server2'];

for (const precision of ['low', 'high'] as const) {
  const { bits: l, frac: f } = precision === 'low' ? FIXED_LOW : FIXED_HIGH;
  // k = 96 at 'high': the circuit's planes span both 64-bit limbs (values beyond 2^53: the edges are exact doubles near them)
  const KS = precision === 'low' ? [f + 2, 32, 40] : [f + 2, 48, 54, 96];
  describe(`ABY3 option comparisonBits (precision ${precision})`, () => {
    it(`is an integer in [f + 2, l] = [${f + 2}, ${l}]: anything else is refused naming the option; Pond refuses it`, () => {
      for (const bad of [f + 1, l + 1, 31.5, '32', -1]) {
        assert.throws(() => new ABY3(s0, s1, s2, { precision, comparisonBits: bad as number }), (e: Error) => e instanceof RangeError && /option 'comparisonBits'/.test(e.message) && new RegExp(`\\[${f + 2}, ${l}\\]`).test(e.message));
      }
      assert.equal(new ABY3(s0, s1, s2, { precision }).comparisonBits, l, 'default: the ring\'s bits');
      assert.throws(() => new Pond(s0, s1, dealer, { precision, comparisonBits: 32 } as never), (e: Error) => e instanceof RangeError && /comparisonBits/.test(e.message) && /ABY3/.test(e.message));
    });

    it('AMSgrad refuses, before its messages, a k whose range its second moments exceed (v̂ up to maxSecondMoment / gradScale²), naming the k it needs', async () => {
      const k = precision === 'low' ? 24 : 40; // ranges 2^7 and 2^7, below 0.0625 · 128² = 1024
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [alice], comparisonBits: k });
      const w = await p.encrypt(alice, [0.1, -0.2, 0.3, 0.05]);
      const g = await p.encrypt(alice, [1, -2, 0.5, 0.25]);
      t.reset();
      await assert.rejects(amsgrad().update(p, w, g, { gradScale: 1 / 128, step: 1 }), (e: Error) => e instanceof RangeError && new RegExp(`option comparisonBits ${k}: raise it to at least ${f + 13}`).test(e.message));
      assert.equal(t.log.length, 0, 'no message');
      const ok = new ABY3(s0, s1, s2, { precision, players: [alice], comparisonBits: f + 13 });
      const [w2, g2] = [await ok.encrypt(alice, [0.1, -0.2, 0.3, 0.05]), await ok.encrypt(alice, [1, -2, 0.5, 0.25])];
      assert.equal((await amsgrad().update(ok, w2, g2, { gradScale: 1 / 128, step: 1 })).size, 4);
    });

    for (const k of KS) {
      const half = 2 ** (k - 1); // |r| < half: in range
      const ulp = 2 ** Math.max(0, k - 54); // the step of exact doubles just below half
      const val = (r: number) => r * 2 ** -f;
      const make = (transport = new MemoryTransport()) => new ABY3(s0, s1, s2, { precision, transport, players: [alice], comparisonBits: k });
      const open = async (p: ABY3, t: ReplicatedTensor) => Array.from((await p.reveal(t, alice)).read());

      it(`k = ${k}: isNegative, relu, greater and maxPool2x2 are exact for |x| < 2^(k-1) ring units, random and at the ends of the range`, async () => {
        const p = make();
        const edges = [0, 1, -1, half - ulp, -half, -(half - ulp), half / 2, -half / 2];
        const ring = fc.integer({ min: -(2 ** Math.min(k - 1, 31)) + 1, max: 2 ** Math.min(k - 1, 31) - 1 }).map((r) => r * 2 ** Math.max(0, k - 32)); // spread over the range
        await fc.assert(fc.asyncProperty(fc.array(ring, { minLength: 32, maxLength: 32 }), fc.array(ring, { minLength: 32, maxLength: 32 }), async (rs, qs) => {
          const R = [...rs, ...edges];
          const xv = R.map(val);
          const x = await p.encrypt(alice, xv);
          assert.deepEqual(await open(p, await p.isNegative(x)), xv.map((v) => (v < 0 ? 1 : 0)), 'isNegative');
          assert.deepEqual(await open(p, await p.relu(x)), xv.map((v) => Math.max(0, v)), 'relu');
          // greater: x - y within range (both within half of it)
          const a = rs.map((r) => val(Math.trunc(r / 2)) + 0), b = qs.map((r) => val(Math.trunc(r / 2)) + 0); // (+ 0: no −0, which reveals as 0)
          const [ea, eb] = [await p.encrypt(alice, a), await p.encrypt(alice, b)];
          assert.deepEqual(await open(p, await p.greater(ea, eb)), a.map((v, i) => (v > b[i]! ? 1 : 0)), 'greater');
          const pool = await p.encrypt(alice, a, { shape: [1, 4, 4, 2] });
          const want: number[] = [];
          for (const [i, j] of [[0, 0], [0, 2], [2, 0], [2, 2]] as const) {
            for (let c = 0; c < 2; c++) want.push(Math.max(...[[0, 0], [0, 1], [1, 0], [1, 1]].map(([di, dj]) => a[((i + di!) * 4 + (j + dj!)) * 2 + c]!)));
          }
          assert.deepEqual(await open(p, await p.maxPool2x2(pool)), want, 'maxPool2x2');
        }), { numRuns: 3 });
      });

      it(`k = ${k}: one beyond the range the sign is wrong, as documented (2^(k-1) ring units reads as negative)`, async () => {
        const p = make();
        const x = await p.encrypt(alice, [val(half), val(half - ulp)]);
        assert.deepEqual(await open(p, await p.isNegative(x)), [1, 0]);
      });

      it(`k = ${k}: rounds and bytes of isNegative, relu and maxPool2x2 are the op table's with k planes; each message goes between servers`, async () => {
        const t = new RoundTransport();
        const p = make(t);
        const n = 2048;
        const x = await p.encrypt(alice, Array.from({ length: n }, (_, i) => val(i - 1000)), { shape: [8, 16, 8, 2] });
        await p.truncate(await p.mul(x, x)); // key set-up outside the counts
        const rows = aby3Costs(l, k), full = aby3Costs(l);
        const cases: [string, () => Promise<unknown>, { lockstep?: number; bytes: readonly number[] }, { bytes: readonly number[] }][] = [
          ['isNegative', () => p.isNegative(x), rows.compare(n), full.compare(n)],
          ['relu', () => p.relu(x), rows.relu(n), full.relu(n)],
          ['maxPool2x2', () => p.maxPool2x2(x), rows.tree(4, n / 4, 'none'), full.tree(4, n / 4, 'none')],
        ];
        for (const [name, run, want, atL] of cases) {
          t.reset();
          await run();
          assert.equal(t.lockstepRounds(), want.lockstep, `${name}: lock-step rounds`);
          assert.deepEqual(t.bytes(), want.bytes, `${name}: bytes sent by the servers`);
          assert.ok(t.log.every((m) => SERVERS.includes(m.from) && SERVERS.includes(m.to)), `${name}: only the servers talk`);
          if (k < l) assert.ok(want.bytes.every((b, i) => b < atL.bytes[i]!), `${name}: fewer bytes than on l bits`);
        }
      });
    }
  });
}

describe('ABY3 option comparisonBits across processes', () => {
  it('servers in separate processes on the same k compare correctly; a server configured with another k makes the sign circuit fail with a TransportError naming the message, never a wrong result', async () => {
    const run = async (ks: [number, number, number], timeoutMs: number) => {
      const hub = new MemoryHub();
      const groups = [['server0', 'alice'], ['server1'], ['server2']];
      return Promise.allSettled(groups.map(async (local, g) => {
        const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'cb-spmd', timeoutMs, comparisonBits: ks[g]! });
        const x = await p.encrypt(alice, local.includes('alice') ? [-3, 0, 2.5, -0.25] : undefined, { shape: [4] });
        const r = await p.reveal(await p.isNegative(x), alice);
        return r.isLocal ? Array.from(r.read()) : undefined;
      }));
    };
    const ok = await run([32, 32, 32], 60000);
    assert.deepEqual(ok.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled']);
    assert.deepEqual((ok[0] as PromiseFulfilledResult<number[] | undefined>).value, [1, 0, 0, 1]);
    const bad = await run([32, 64, 64], 3000); // (the servers left waiting for a message time out)
    const errors = bad.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
    assert.ok(errors.length > 0, 'a mismatch is an error somewhere');
    assert.ok(errors.some((e) => e instanceof TransportError && /has \d+ bytes, expected \d+/.test(e.message)), errors.map((e) => `${e.name}: ${e.message}`).join('; '));
    assert.ok(bad.every((r) => r.status === 'rejected' || r.value === undefined), 'nobody gets a result');
  });
});
