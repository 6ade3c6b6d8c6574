/**
 * What each party receives on the paths training uses, read as a curious
 * party would read it: ABY3's fused aggregation (encryptSum, aggregateInto)
 * and Pond's multiplication. Each server takes the payloads addressed to it
 * (recorded by the transport), rebuilds what it can from them (PRG
 * expansions of the seeds it got, sums), and the test asserts that for an
 * all-zero input the component it lacks is uniform and independent of what it
 * holds, that two seeds meant to be independent are, and that its view of a
 * large input has the same bit frequencies as its view of zeros.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prg } from '../../src/crypto/prg.js';
import { ABY3, Player, Pond } from '../../src/encrypted/index.js';
import * as ring from '../../src/ring/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { RecordingTransport, type Msg } from './recording.js';
import { assertIndependentBits, assertSameFrequencies, assertUniformBits } from './uniform.js';

const servers = ['server0', 'server1', 'server2'].map((n) => new Player(n)) as [Player, Player, Player];
const owners = ['o0', 'o1', 'o2'].map((n) => new Player(n));
const target = new Player('mo');
const N = 4096;
const MULT = [1, 0.5, 3];
const INPUTS = { zeros: 0, large: 12345.678 } as const;

const last = (m: Msg): string => m.key.split('/').pop()!;
/** The one message from `from` to `to` whose key ends with `/suffix` (exactly one must exist). */
function one(log: Msg[], from: string, to: string, suffix: string): Uint8Array {
  const ms = log.filter((m) => m.from === from && m.to === to && last(m) === suffix);
  assert.equal(ms.length, 1, `exactly one '${suffix}' message ${from} -> ${to}, got ${ms.length}`);
  return ms[0]!.bytes;
}
const ringOf = (bits: 64 | 128, bytes: Uint8Array): RingTensor => RingTensor.fromBytes(bits, [bytes.length / (bits / 8)], bytes);
const expand = (bits: 64 | 128, seed: Uint8Array): RingTensor => new Prg(seed.slice()).ringTensor(bits, [N]);
const sumOf = (ts: RingTensor[]): RingTensor => ts.reduce((a, b) => ring.add(a, b));

/** Seeds of 16 bytes meant to be drawn independently: pairwise distinct, and their expansions independent. */
function assertIndependentSeeds(bits: 64 | 128, seeds: Uint8Array[], what: string): void {
  for (const s of seeds) assert.equal(s.length, 16, `${what}: 16-byte seeds`);
  const hex = seeds.map((s) => Buffer.from(s).toString('hex'));
  assert.equal(new Set(hex).size, seeds.length, `${what}: ${seeds.length} distinct seeds (got ${hex.join(', ')})`);
  for (let i = 1; i < seeds.length; i++) assertIndependentBits(expand(bits, seeds[0]!).toBytes(), expand(bits, seeds[i]!).toBytes(), `${what}: PRG(seed 0) and PRG(seed ${i})`);
}

async function aby3Run(precision: 'low' | 'high', value: number, op: 'encryptSum' | 'aggregateInto'): Promise<Msg[]> {
  const t = new RecordingTransport();
  const p = new ABY3(...servers, { precision, transport: t, players: [...owners, target] });
  const xs = owners.map(() => new Float64Array(N).fill(value));
  if (op === 'encryptSum') await p.encryptSum(owners, xs, MULT);
  else await p.aggregateInto(owners, xs, MULT, target, new Float64Array(N));
  await t.close();
  return t.log.filter((m) => !m.key.includes('/setup/'));
}

for (const precision of ['low', 'high'] as const) {
  const bits = precision === 'low' ? 64 : 128;
  describe(`ABY3 fused aggregation: what each party receives (${precision})`, () => {
    it('encryptSum: each owner draws two independent seeds; each server lacks one component, uniform and independent of what it holds', async () => {
      const views: Record<string, Record<string, Uint8Array[]>> = {};
      for (const [name, value] of Object.entries(INPUTS)) {
        const log = await aby3Run(precision, value, 'encryptSum');
        const v: Record<string, Uint8Array[]> = { server1: [], server2: [] };
        const held1: RingTensor[] = []; // server1: x1 = PRG(seed1), x2
        const x2s: RingTensor[] = [];
        const held2: RingTensor[] = []; // server2: x0 = PRG(seed0)
        for (const o of owners) {
          const s01 = one(log, o.name, 'server0', 'seeds01');
          const s1 = one(log, o.name, 'server1', 'seed1');
          const s0 = one(log, o.name, 'server2', 'seed0');
          const x2 = one(log, o.name, 'server1', 'x2');
          // server0 holds the two seeds of one owner: they must be independent draws
          assertIndependentSeeds(bits, [s01.subarray(0, 16), s01.subarray(16, 32)], `${name}: seeds to server0 from ${o.name}`);
          assert.deepEqual([s0, s1], [s01.subarray(0, 16), s01.subarray(16, 32)], 'server2 and server1 get the seeds of x0 and x1');
          v['server1']!.push(x2);
          held1.push(expand(bits, s1));
          x2s.push(ringOf(bits, x2));
          held2.push(expand(bits, s0));
          if (value === 0) {
            // server1 (seed1, x2) lacks x0 = 0 - x1 - x2: uniform and independent of x1
            const lacking = ring.neg(ring.add(ringOf(bits, x2), expand(bits, s1)));
            assertIndependentBits(lacking.toBytes(), expand(bits, s1).toBytes(), `server1's missing x0 of ${o.name} vs its x1`);
            assertIndependentBits(lacking.toBytes(), x2, `server1's missing x0 of ${o.name} vs its x2`);
          }
        }
        // owners' seeds: all six distinct (no owner reuses another's)
        assertIndependentSeeds(bits, owners.flatMap((o) => { const s = one(log, o.name, 'server0', 'seeds01'); return [s.subarray(0, 16), s.subarray(16, 32)]; }), `${name}: all owners' seeds`);
        const fwd = one(log, 'server1', 'server2', 'x2sum');
        v['server2']!.push(fwd);
        assert.deepEqual(ringOf(bits, fwd).toBytes(), sumOf(x2s).toBytes(), 'server2 gets the sum of the x2 only');
        if (value === 0) {
          // server2 (sum of x0, sum of x2) lacks the sum of x1: uniform and independent of its sum of x0
          const lacking = ring.neg(ring.add(ringOf(bits, fwd), sumOf(held2)));
          assertIndependentBits(lacking.toBytes(), sumOf(held2).toBytes(), "server2's missing sum of x1 vs its sum of x0");
          assertIndependentBits(ring.neg(ring.add(sumOf(x2s), sumOf(held1))).toBytes(), sumOf(held1).toBytes(), "server1's missing sum of x0 vs its sum of x1");
        }
        // nothing else reaches anyone: no owner receives, the target receives nothing
        assert.deepEqual([...new Set(log.map((m) => `${m.to}:${last(m)}`))].sort(), ['server0:seeds01', 'server1:seed1', 'server1:x2', 'server2:seed0', 'server2:x2sum']);
        views[name] = v;
      }
      for (const s of ['server1', 'server2']) {
        assertUniformBits(views['zeros']![s]!, `${s}'s full components (zeros)`);
        assertUniformBits(views['large']![s]!, `${s}'s full components (large)`);
        assertSameFrequencies(views['zeros']![s]!, views['large']![s]!, `${s}: zeros vs large`);
      }
    });

    it('aggregateInto: server0 gets two independent seeds per owner, server1 a uniform x2; the target only the masked sum', async () => {
      const views: Record<string, Uint8Array[]> = {};
      for (const [name, value] of Object.entries(INPUTS)) {
        const log = await aby3Run(precision, value, 'aggregateInto');
        const v: Uint8Array[] = [];
        const r: RingTensor[] = [];
        for (const o of owners) {
          const s01 = one(log, o.name, 'server0', 'seeds01');
          assertIndependentSeeds(bits, [s01.subarray(0, 16), s01.subarray(16, 32)], `${name}: seeds to server0 from ${o.name}`);
          const x2 = one(log, o.name, 'server1', 'x2');
          v.push(x2);
          const r0 = expand(bits, s01.subarray(0, 16));
          const r1 = expand(bits, s01.subarray(16, 32));
          r.push(ring.add(r0, r1));
          if (value === 0) {
            // what server1 lacks (r0 + r1 = -x2 for a zero input) is what masks the input: each of r0, r1 independent of x2
            assertIndependentBits(x2, r0.toBytes(), `x2 of ${o.name} vs r0`);
            assertIndependentBits(x2, r1.toBytes(), `x2 of ${o.name} vs r1`);
          }
        }
        assertIndependentSeeds(bits, owners.flatMap((o) => { const s = one(log, o.name, 'server0', 'seeds01'); return [s.subarray(0, 16), s.subarray(16, 32)]; }), `${name}: all owners' seeds`);
        // the target: the sum of the masks from server0, the sum of the x2 from server1
        const masks = one(log, 'server0', 'mo', 'masks');
        const rest = one(log, 'server1', 'mo', 'rest');
        assert.deepEqual(masks, sumOf(r).toBytes());
        // each alone is uniform (a mask, and the value under it); together they are the value, which the target is meant to get
        assertUniformBits([masks], `${name}: the target's sum of masks`);
        assertUniformBits([rest], `${name}: the target's masked sum`);
        assert.deepEqual([...new Set(log.map((m) => `${m.from}>${m.to}`))].sort(), [...owners.flatMap((o) => [`${o.name}>server0`, `${o.name}>server1`]), 'server0>mo', 'server1>mo'].sort());
        views[name] = v;
      }
      assertUniformBits(views['zeros']!, "server1's x2 (zeros)");
      assertUniformBits(views['large']!, "server1's x2 (large)");
      assertSameFrequencies(views['zeros']!, views['large']!, 'server1: zeros vs large');
    });
  });

  describe(`Pond mul: what each party receives (${precision})`, () => {
    for (const enc of ['fixed', 'int'] as const) {
      it(`${enc}: the masked differences each server receives are uniform; the opened e and d are uniform, independent and do not depend on the inputs`, async () => {
        const views: Record<string, Uint8Array[]> = {};
        for (const [name, value] of Object.entries(INPUTS)) {
          const t = new RecordingTransport();
          const pond = new Pond(...servers, { precision, transport: t });
          const vx = enc === 'int' ? Math.round(value) : value;
          const vy = enc === 'int' ? -3 * Math.round(value) : value / 7;
          const x = enc === 'int' ? await pond.encryptInts(owners[0]!, new Array(N).fill(vx)) : await pond.encrypt(owners[0]!, new Float64Array(N).fill(vx));
          const y = enc === 'int' ? await pond.encryptInts(owners[1]!, new Array(N).fill(vy)) : await pond.encrypt(owners[1]!, new Float64Array(N).fill(vy));
          t.take();
          await pond.mul(x, y);
          const log = t.take().filter((m) => !m.key.includes('/dealer/'));
          // server0 receives e1, d1 from server1; server1 receives e0, d0 from server0 and c1 from the dealer; nothing else
          assert.deepEqual(log.map((m) => `${m.from}>${m.to}:${last(m)}`).sort(), ['server0>server1:d0', 'server0>server1:e0', 'server1>server0:d1', 'server1>server0:e1', 'server2>server1:c1']);
          for (const m of log) assertUniformBits([m.bytes], `${name}: ${m.from}>${m.to} ${last(m)}`);
          // each server adds the share it received to its own: e = x - a and d = y - b are opened to both
          const get = (from: string, k: string) => ringOf(bits, one(log, from, from === 'server0' ? 'server1' : 'server0', k));
          const e = ring.add(get('server0', 'e0'), get('server1', 'e1'));
          const d = ring.add(get('server0', 'd0'), get('server1', 'd1'));
          assertIndependentBits(e.toBytes(), d.toBytes(), `${name}: opened e and d`);
          // the difference of the opened values must not be y - x (the same mask a = b would give it away)
          assertUniformBits([ring.sub(d, e).toBytes()], `${name}: d - e`);
          views[name] = [e.toBytes(), d.toBytes()];
          await t.close();
        }
        assertSameFrequencies(views['zeros']!, views['large']!, 'opened values: zeros vs large');
      });
    }
  });
}
