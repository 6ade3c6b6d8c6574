/**
 * encryptAddN: one sharing per owner, added into a running sum per part as
 * each arrives. Against the reference (encryptEncoded per owner + addN): the
 * same ring value bit for bit; the messages of each owner (ABY3: one full
 * component, to server1, which forwards the sum once); with each player
 * on its own transport view and the owners' messages arriving in any order;
 * argument checks before anything is sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encode, type FixedPointConfig } from '../../src/encrypted/fixed.js';
import { ABY3, Plaintext, Player, Pond, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryHub, MemoryTransport, type Transport } from '../../src/transport/index.js';
import { RecordingTransport } from './recording.js';

type Kind = 'aby3' | 'pond' | 'plaintext';
type P = ABY3 | Pond | Plaintext;
const servers = [new Player('server0'), new Player('server1'), new Player('server2')] as const;
const target = new Player('mo');
function make(kind: Kind, precision: 'low' | 'high', transport: Transport, owners: readonly Player[], id = `s-${kind}-${precision}`): P {
  const o = { transport, precision, id, players: [...owners, target] };
  if (kind === 'aby3') return new ABY3(...servers, o);
  return kind === 'pond' ? new Pond(...servers, o) : new Plaintext({ ...o, evaluator: servers[0] });
}

/** Owner k's leaf: fixed point (with a multiplier folded in) or ring integers (full words). */
function encoder(xs: readonly Float64Array[], ints: readonly BigInt64Array[], mult: readonly number[], encoding: 'fixed' | 'int') {
  return (k: number, cfg: FixedPointConfig): RingTensor => {
    if (encoding === 'fixed') return encode(xs[k]!, [xs[k]!.length], cfg, 't', mult[k]);
    const t = new RingTensor(cfg.bits, [ints[k]!.length]);
    const limbs = cfg.bits / 64;
    ints[k]!.forEach((v, i) => {
      t.data[i * limbs] = BigInt.asUintN(64, v);
      if (limbs === 2) t.data[i * 2 + 1] = v < 0n ? 0xffffffffffffffffn : 0n;
    });
    return t;
  };
}

/** The exact ring sum of the owners' encodings (BigInt). */
function ringSum(enc: (k: number, cfg: FixedPointConfig) => RingTensor, owners: number, cfg: FixedPointConfig, n: number): bigint[] {
  const out = new Array<bigint>(n).fill(0n);
  for (let k = 0; k < owners; k++) {
    const t = enc(k, cfg);
    for (let i = 0; i < n; i++) out[i] = BigInt.asUintN(cfg.bits, out[i]! + t.get(i));
  }
  return out;
}

const words = (t: RingTensor): bigint[] => Array.from({ length: t.size }, (_, i) => t.get(i));

const arb = fc.record({
  owners: fc.integer({ min: 1, max: 6 }),
  n: fc.integer({ min: 1, max: 9 }),
  seed: fc.integer(),
});

function inputs(owners: number, n: number, seed: number) {
  let s = seed >>> 0;
  const r = () => ((s = (Math.imul(s ^ (s >>> 15), 2246822519) + 0x9e3779b9) >>> 0) / 2 ** 32);
  const xs = Array.from({ length: owners }, () => Float64Array.from({ length: n }, () => (r() * 2 - 1) * 1000));
  const ints = Array.from({ length: owners }, () => BigInt64Array.from({ length: n }, () => BigInt.asIntN(64, BigInt(Math.floor(r() * 2 ** 32)) * BigInt(Math.floor(r() * 2 ** 32)) - (1n << 62n))));
  const mult = Array.from({ length: owners }, (_, k) => [1, 0.25, 1 / 3, -2][k % 4]!);
  return { xs, ints, mult };
}

// Plaintext takes the default shareAddInto (shareRing's parts added); ABY3 and Pond their own
for (const kind of ['aby3', 'pond', 'plaintext'] as const) {
  for (const precision of ['low', 'high'] as const) {
    describe(`${kind} (${precision}): encryptAddN`, { timeout: 120_000 }, () => {
      for (const encoding of ['fixed', 'int'] as const) {
        it(`${encoding}: the exact ring sum, bit for bit the reference (encryptEncoded per owner + addN), with the same messages from each owner`, async () => {
          await fc.assert(fc.asyncProperty(arb, async ({ owners: m, n, seed }) => {
            const owners = Array.from({ length: m }, (_, k) => new Player(`owner${k}`));
            const { xs, ints, mult } = inputs(m, n, seed);
            const enc = encoder(xs, ints, mult, encoding);
            const t = new RecordingTransport();
            const p = make(kind, precision, t, owners);
            const s = await (p as ABY3).encryptAddN(owners, enc, [n], { encoding });
            assert.equal(s.encoding, encoding);
            const streamed = t.take();
            const got = (await (p as ABY3).revealRing(s as ReplicatedTensor, target))!;
            assert.deepEqual(words(got), ringSum(enc, m, p.fixed, n), 'the exact ring sum');
            const parts = await Promise.all(owners.map((o, k) => (encoding === 'fixed' ? p.encryptEncoded(o, (cfg) => enc(k, cfg), [n]) : p.encryptInts(o, enc(k, p.fixed)))));
            const reference = t.take();
            const ref = (await (p as ABY3).revealRing((p as ABY3).addN(parts as ReplicatedTensor[]), target))!;
            assert.deepEqual(words(got), words(ref), 'bit for bit the reference');
            // each owner sends one sharing: seeds and ONE full component (ABY3: x2 to server1 only; server2 gets the sum of
            // the x2's from server1, once); Pond and Plaintext exactly what encryptEncoded sends
            const E = p.bits / 8;
            const shape = (log: typeof streamed, from: string) => log.filter((g) => g.from === from).map((g) => `${g.to}:${g.key.split('/').pop()}:${g.bytes.length}`).sort();
            const want = { aby3: [`server0:seeds01:32`, `server1:seed1:16`, `server1:x2:${n * E}`, `server2:seed0:16`], pond: [`server0:seed:16`, `server1:masked:${n * E}`], plaintext: [`server0:input:${n * E}`] }[kind];
            for (const o of owners) {
              assert.deepEqual(shape(streamed, o.name), want, `${o.name}'s messages`);
              if (kind !== 'aby3') assert.deepEqual(shape(streamed, o.name), shape(reference, o.name), `${o.name}: as encryptEncoded`);
            }
            const between = streamed.filter((g) => !g.from.startsWith('owner') && !/\/setup\//.test(g.key));
            assert.deepEqual(between.map((g) => `${g.from}>${g.to}:${g.key.split('/').pop()}:${g.bytes.length}`), kind === 'aby3' ? [`server1>server2:x2sum:${n * E}`] : [], 'between the servers: only the one forward of the sum');
            await t.close();
          }), { numRuns: 6 });
        });
      }

      it('each player on its own transport view, the owners\' messages delivered in reverse order: the same ring value, opened only at the target', async () => {
        const m = 5;
        const n = 7;
        const owners = Array.from({ length: m }, (_, k) => new Player(`owner${k}`));
        const { xs, ints, mult } = inputs(m, n, 42);
        const enc = encoder(xs, ints, mult, 'fixed');
        const hub = new MemoryHub();
        // every message of owner k is held back until owners k+1 .. m-1 have delivered theirs
        const perOwner = { aby3: 4, pond: 2, plaintext: 1 }[kind];
        const held: (() => void)[][] = owners.map(() => []);
        let allSent: () => void = () => undefined;
        const sent = new Promise<void>((r) => (allSent = r));
        const deliver = hub.deliver.bind(hub);
        hub.deliver = (from, to, key, payload) => {
          const k = owners.findIndex((o) => o.name === from);
          if (k < 0) return deliver(from, to, key, payload);
          held[k]!.push(() => deliver(from, to, key, payload));
          if (held.every((h) => h.length === perOwner)) allSent();
        };
        const parties = [...servers, target, ...owners];
        const runs = parties.map((party) => {
          const p = make(kind, precision, new MemoryTransport({ hub, local: [party.name] }), owners, 'views');
          return (async () => (p as ABY3).revealRing(await (p as ABY3).encryptAddN(owners, enc, [n]) as ReplicatedTensor, target))();
        });
        await sent;
        for (let k = m - 1; k >= 0; k--) held[k]!.splice(0).forEach((f) => f());
        const results = await Promise.all(runs);
        const at = new Map(parties.map((p, i) => [p.name, results[i]]));
        assert.deepEqual(words(at.get('mo')!), ringSum(enc, m, make(kind, precision, new MemoryTransport(), []).fixed, n));
        for (const [name, r] of at) if (name !== 'mo') assert.equal(r, undefined, `${name} learns nothing`);
        hub.close();
      });

      it('bad arguments are refused before anything is sent (names the argument)', async () => {
        const t = new RecordingTransport();
        const owners = [new Player('owner0'), new Player('owner1')];
        const p = make(kind, precision, t, owners) as ABY3;
        const ok = (_k: number, cfg: FixedPointConfig) => new RingTensor(cfg.bits, [2]);
        assert.throws(() => p.encryptAddN([], ok, [2]), (e: unknown) => e instanceof TypeError && /encryptAddN: argument 'owners'/.test((e as Error).message));
        assert.throws(() => p.encryptAddN(['owner0'] as never, ok, [2]), (e: unknown) => e instanceof TypeError && /'owners\[0\]'/.test((e as Error).message));
        assert.throws(() => p.encryptAddN(owners, 3 as never, [2]), (e: unknown) => e instanceof TypeError && /'encodeFn'/.test((e as Error).message));
        assert.throws(() => p.encryptAddN(owners, ok, [-1]), (e: unknown) => e instanceof RangeError && /'shape'/.test((e as Error).message));
        assert.throws(() => p.encryptAddN(owners, ok, [2], { encoding: 'float' as never }), (e: unknown) => e instanceof RangeError && /'encoding'/.test((e as Error).message));
        // owner1's encoding is wrong: nothing of owner0's is sent either
        const bad = (k: number, cfg: FixedPointConfig) => new RingTensor(cfg.bits, [k === 1 ? 3 : 2]);
        assert.throws(() => p.encryptAddN(owners, bad, [2]), (e: unknown) => e instanceof TypeError && /'encodeFn' must return .* \(owner 1\)/.test((e as Error).message));
        assert.throws(() => p.encryptAddN(owners, () => { throw new RangeError('owner 1: out of range'); }, [2]), RangeError);
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(t.take(), []);
        await t.close();
      });
    });
  }
}
