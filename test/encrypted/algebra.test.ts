/**
 * Sharing algebra: every authorised subset reconstructs (ABY3: any two
 * servers; Pond: both), ops can run concurrently without cross-talk, and the
 * triple source is pluggable.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, decode, Player, Pond, TrustedDealer, type TripleRequest, type TripleSource } from '../../src/encrypted/index.js';
import * as ring from '../../src/ring/index.js';
import { MemoryTransport } from '../../src/transport/index.js';

const [s0, s1, s2, alice, carol] = ['server0', 'server1', 'server2', 'alice', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];

describe('sharing algebra', () => {
  for (const precision of ['low', 'high'] as const) {
    it(`ABY3 (${precision}): any two servers hold all three components and reconstruct x; the components of one server are not enough`, async () => {
      const aby3 = new ABY3(s0, s1, s2, { precision, transport: new MemoryTransport() });
      await fc.assert(fc.asyncProperty(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 20 }), async (xs) => {
        const x = await aby3.encrypt(alice, xs);
        const p = x.parts; // [x0, x1 | x1, x2 | x2, x0]
        for (const [i, j] of [[0, 1], [1, 2], [0, 2]] as const) {
          // components: server k holds x_k and x_(k+1)
          const comps = new Map<number, ring.RingTensor>();
          for (const k of [i, j]) { comps.set(k, p[2 * k]!); comps.set((k + 1) % 3, p[2 * k + 1]!); }
          assert.equal(comps.size, 3, `servers ${i} and ${j} together hold all components`);
          const sum = ring.add(ring.add(comps.get(0)!, comps.get(1)!), comps.get(2)!);
          decode(sum, aby3.fixed).forEach((v, t) => assert.ok(Math.abs(v - xs[t]!) <= 2 ** -(aby3.fixed.frac + 1) + Math.abs(xs[t]!) * 2 ** -52));
        }
        // replicated consistency: the copies of each component agree
        assert.ok(ring.equals(p[1]!, p[2]!) && ring.equals(p[3]!, p[4]!) && ring.equals(p[5]!, p[0]!));
      }), { numRuns: 15 });
    });

    it(`Pond (${precision}): the two shares add up to x`, async () => {
      const pond = new Pond(s0, s1, s2, { precision, transport: new MemoryTransport() });
      const xs = [1.5, -2.25, 1e5];
      const x = await pond.encrypt(alice, xs);
      decode(ring.add(x.parts[0]!, x.parts[1]!), pond.fixed).forEach((v, t) => assert.equal(v, xs[t]));
    });
  }

  it('many ops in flight at once (Promise.all) neither deadlock nor mix messages', async () => {
    const t = new MemoryTransport();
    const aby3 = new ABY3(s0, s1, s2, { transport: t, players: [carol] });
    const pond = new Pond(s0, s1, s2, { transport: t, players: [carol] });
    const vals = Array.from({ length: 8 }, (_, i) => [i, -i / 2, 3]);
    const run = async (p: ABY3 | Pond) => {
      const xs = await Promise.all(vals.map((v) => (p as ABY3).encrypt(alice, v)));
      const prods = await Promise.all(xs.map((x, i) => (p as ABY3).mul(x, xs[(i + 1) % xs.length]!)));
      const opened = await Promise.all(prods.map((z) => (p as ABY3).reveal(z, carol)));
      opened.forEach((r, i) => r.read().forEach((v, j) => assert.ok(Math.abs(v - vals[i]![j]! * vals[(i + 1) % vals.length]![j]!) < 2 ** -13)));
    };
    await Promise.all([run(aby3), run(pond)]);
    assert.equal(t.hub.pending(), 0);
  });

  it('Pond takes any TripleSource', async () => {
    const requests: TripleRequest[] = [];
    const dealer = new TrustedDealer(new Player('dealer'));
    const counting: TripleSource = { player: dealer.player, triple: (req) => { requests.push(req); return dealer.triple(req); } };
    const pond = new Pond(s0, s1, counting, { transport: new MemoryTransport(), players: [carol] });
    const x = await pond.encrypt(alice, [[1, 2], [3, 4]]);
    const y = await pond.matmul(x, await pond.mul(x, x));
    assert.deepEqual(requests.map((r) => [r.kind, r.shapeA, r.shapeB, r.shapeC]), [['mul', [2, 2], [2, 2], [2, 2]], ['matmul', [2, 2], [2, 2], [2, 2]]]);
    assert.deepEqual(Array.from((await pond.reveal(y, carol)).read()), [19, 36, 39, 76]);
    assert.ok(pond.players.some((p) => p.name === 'dealer'));
  });

  it('addPublic on integer tensors takes integers only', async () => {
    const aby3 = new ABY3(s0, s1, s2, { transport: new MemoryTransport(), players: [carol] });
    const n = await aby3.encryptInts(alice, [1, 2]);
    assert.throws(() => aby3.addPublic(n, 0.5), (e: unknown) => e instanceof TypeError && /must be a safe integer, got 0.5/.test((e as Error).message));
    assert.deepEqual(Array.from((await aby3.reveal(aby3.addPublic(n, [10, -20]), carol)).read()), [11, -18]);
  });
});

describe('a server as input owner', () => {
  for (const kind of ['aby3', 'pond'] as const) {
    it(`${kind}: server1 owns an input; nothing is sent to itself and the value round-trips`, async () => {
      const t = new MemoryTransport();
      const p = kind === 'aby3' ? new ABY3(s0, s1, s2, { transport: t, players: [carol] }) : new Pond(s0, s1, s2, { transport: t, players: [carol] });
      await (p as ABY3).encrypt(alice, [0]); // set-up keys first
      t.resetStats();
      const x = await (p as ABY3).encrypt(s1, [2.5, -1, 7]);
      const st = t.stats();
      assert.equal(st['server1']?.bytesReceived ?? 0, 0, 'the owner receives nothing');
      // ABY3: seeds to server0 (32 B), x2 + seed to server2; Pond: the seed to server0 only
      assert.equal(st['server1']?.bytesSent, kind === 'aby3' ? 32 + 3 * 8 + 16 : 16);
      assert.deepEqual(Array.from((await (p as ABY3).reveal(x, carol)).read()), [2.5, -1, 7]);
    });
  }
});
