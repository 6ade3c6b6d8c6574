/**
 * The comparisons and the conv and pool ops SPMD, over every protocol that
 * has them (Pond, ABY3):
 * each group of players runs in its own simulated process (one MemoryHub),
 * and the values revealed to the input owner equal the plaintext reference
 * whatever the grouping; only the owner's group gets them, and no message is
 * left unclaimed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player, Pond } from '../../src/encrypted/index.js';
import { geometry } from '../../src/encrypted/protocols/im2col.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { backFilterRef, backInputRef, convRef, data, poolRef, reduceRef, tied } from '../encrypted/conv-ref.js';

const [s0, s1, s2, dealer, alice] = ['server0', 'server1', 'server2', 'dealer', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
type Any = ABY3 | Pond;

interface SpmdProtocol {
  name: string;
  make: (t: MemoryTransport, id: string) => Any;
  groupings: string[][][];
  /** Extra groupings of the comparison test. */
  cmpGroupings: string[][][];
  /** The server that inputs the second boolean operand (the first is server0). */
  second: Player;
  backInputUlps: number;
}
const PROTOCOLS: SpmdProtocol[] = [
  {
    name: 'ABY3',
    make: (transport, id) => new ABY3(s0, s1, s2, { transport, players: [alice], id, timeoutMs: 10000 }),
    groupings: [[['server0'], ['server1'], ['server2'], ['alice']], [['server0', 'alice'], ['server1', 'server2']], [['server0', 'server1', 'server2', 'alice']]],
    cmpGroupings: [],
    second: s2,
    // the gradient's truncation after col2im: within a few ulps of the float reference on these inputs
    backInputUlps: 6,
  },
  {
    name: 'Pond',
    make: (transport, id) => new Pond(s0, s1, dealer, { transport, players: [alice], id, timeoutMs: 10000 }),
    groupings: [[['server0'], ['server1'], ['dealer'], ['alice']], [['server0', 'dealer', 'alice'], ['server1']]],
    cmpGroupings: [[['server0', 'alice'], ['server1', 'dealer']], [['server0', 'dealer'], ['server1', 'alice']], [['server0', 'server1', 'dealer', 'alice']]],
    second: s1,
    backInputUlps: 1,
  },
];

describe('comparisons, conv and pool ops, SPMD (one simulated process per group of players)', () => {
  for (const proto of PROTOCOLS) {
    it(`${proto.name}: relu, isNegative, greater, select and boolean and give the same results whatever the grouping`, async () => {
      const n = 50;
      const xs = Float64Array.from({ length: n }, (_, i) => (i - 25) * 1.25);
      const ys = Float64Array.from({ length: n }, (_, i) => Math.round(Math.cos(i) * 20 * 2 ** 16) / 2 ** 16); // exact in the encoding
      const want = [...xs.map((v) => Math.max(v, 0)), ...xs.map((v) => (v < 0 ? 1 : 0)), ...xs.map((v, i) => (v > ys[i]! ? 1 : 0)), ...xs.map((v, i) => (v < 0 ? v : ys[i]!))];
      for (const groups of [proto.groupings[0]!, ...proto.cmpGroupings, ...proto.groupings.slice(1)]) {
        const hub = new MemoryHub();
        const results = await Promise.all(groups.map(async (local) => {
          const p = proto.make(new MemoryTransport({ hub, local }), `spmd-nl-${proto.name}`) as ABY3;
          const here = local.includes('alice');
          const x = await p.encrypt(alice, here ? xs : undefined, { shape: [n] });
          const y = await p.encrypt(alice, here ? ys : undefined, { shape: [n] });
          const outs = [await p.relu(x), await p.isNegative(x), await p.greater(x, y), await p.select(await p.boolean.signBit(x), x, y)];
          const vals = await Promise.all(outs.map((o) => p.reveal(o, alice)));
          const b = await p.boolean.and(
            await p.boolean.input(s0, local.includes('server0') ? RingTensor.fromBigInts(64, [2], [0xf0n, 7n]) : undefined, { shape: [2] }),
            await p.boolean.input(proto.second, local.includes(proto.second.name) ? RingTensor.fromBigInts(64, [2], [0x3cn, 5n]) : undefined, { shape: [2] }),
          );
          const bv = await p.boolean.reveal(b, alice);
          return here ? [vals.flatMap((v) => Array.from(v.read())), bv!.toBigInts()] as const : undefined;
        }));
        groups.forEach((g, i) => {
          if (!g.includes('alice')) assert.equal(results[i], undefined);
          else {
            assert.deepEqual(results[i]![0], want, groups.map((q) => q.join('+')).join(' | '));
            assert.deepEqual(results[i]![1], [0x30n, 5n]);
          }
        });
      }
    });

    it(`${proto.name}: conv2d, both gradients, avgPool, max, argmax, maxPool2x2 with mask and backward: the reference values whatever the grouping`, async () => {
      const shape = [2, 5, 4, 2];
      const g = geometry('t', shape, 3, 2, 1, 'same');
      const xs = tied(9, 80, 3);
      const ws = data(10, 3 * 2 * 2 * 3);
      const dys = data(11, 2 * g.OH * g.OW * 3);
      const dps = data(12, 2 * 2 * 2 * 2);
      const ulp = 2 ** -16;
      for (const groups of proto.groupings) {
        const hub = new MemoryHub();
        const label = `${proto.name} ${groups.map((x) => x.join('+')).join(' | ')}`;
        const results = await Promise.all(groups.map(async (local) => {
          const p = proto.make(new MemoryTransport({ hub, local }), proto.name === 'ABY3' ? 'spmd-conv' : 'spmd-pond-conv');
          const here = local.includes('alice');
          const x = await p.encrypt(alice, here ? xs : undefined, { shape });
          const w = await p.encrypt(alice, here ? ws : undefined, { shape: [3, 2, 2, 3] });
          const dy = await p.encrypt(alice, here ? dys : undefined, { shape: [2, g.OH, g.OW, 3] });
          const dp = await p.encrypt(alice, here ? dps : undefined, { shape: [2, 2, 2, 2] });
          const o = { padding: 'same' as const };
          // one code path for both protocols' tensor kinds
          const q = p as ABY3;
          const pooled = await q.maxPool2x2WithMask(x as never);
          const outs = [
            await q.conv2d(x as never, w as never, o), await q.conv2dBackpropInput(shape, dy as never, w as never, o), await q.conv2dBackpropFilter(x as never, dy as never, [3, 2, 2, 3], o),
            await q.avgPool(x as never, { size: 2 }), await q.max(x as never, 2), await q.argmax(x as never, 1), pooled.y, pooled.mask, await q.maxPool2x2Backward(pooled.mask, dp as never),
          ];
          const vals = [];
          for (const t of outs) vals.push(await q.reveal(t, alice));
          return here ? vals.map((v) => Array.from(v.read())) : undefined;
        }));
        assert.equal(hub.pending(), 0, `${label}: no message left unclaimed`);
        groups.forEach((gr, i) => { if (!gr.includes('alice')) assert.equal(results[i], undefined, `${label}: only the owner's group reveals`); });
        const got = results.find((r) => r !== undefined)!;
        const close = (a: number[], b: ArrayLike<number>, bound: number, what: string) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= bound, `${label}: ${what} [${i}] ${v} vs ${b[i]}`));
        close(got[0]!, convRef(xs, ws, g, 3), ulp, 'conv2d');
        close(got[1]!, backInputRef(dys, ws, g, 3), proto.backInputUlps * ulp, 'backprop input');
        close(got[2]!, backFilterRef(xs, dys, g, 3), ulp, 'backprop filter');
        const gp = geometry('t', shape, 2, 2, 2, 'valid');
        close(got[3]!, convRef(xs, Float64Array.from({ length: 16 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 0.25 : 0)), gp, 2), 2 * ulp, 'avgPool');
        assert.deepEqual(got[4], reduceRef(xs, shape, 2).max, `${label}: max`);
        assert.deepEqual(got[5], reduceRef(xs, shape, 1).arg, `${label}: argmax`);
        const pr = poolRef(xs, shape, dps);
        assert.deepEqual([got[6], got[7], got[8]], [pr.y, pr.mask, pr.dx], `${label}: maxPool2x2, mask, backward`);
      }
    });
  }
});
