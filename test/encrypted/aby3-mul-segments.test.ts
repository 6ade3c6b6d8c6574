/**
 * ABY3's segmented multiplication (aby3-mul.ts `mulProducts` with several
 * segments, what max pooling's selections use through NNHost.mulCat): every
 * server's 3-out-of-3 product z_i, hence every message of the mul, is the
 * same, bit for bit, as for one segment holding the concatenated operands
 * (differences y - ySub and the upsampling map formed outside), with
 * recurring factors, at both precisions; and the product opens to the
 * plaintext reference. Pool values, rounds and bytes: test/conformance.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player } from '../../src/encrypted/index.js';
import type { RingParts } from '../../src/encrypted/protocols/aby3-binary.js';
import { mulProducts } from '../../src/encrypted/protocols/aby3-mul.js';
import { geometry } from '../../src/encrypted/protocols/im2col.js';
import { scatterTaps, upsampleMap } from '../../src/encrypted/protocols/pool-layout.js';
import * as ring from '../../src/ring/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryTransport } from '../../src/transport/index.js';

const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];

class Exposed extends ABY3 {
  net() {
    return this.aby3Context().net;
  }
}

/** Small signed integers, deterministic. */
const ints = (seed: number, n: number): number[] => Array.from({ length: n }, (_, i) => ((seed * 7919 + i * 104729) % 201) - 100);
const slotwise = (xs: RingParts[], f: (...ps: RingTensor[]) => RingTensor): RingParts => xs[0]!.map((_, s) => (xs.some((x) => x[s] === undefined) ? undefined : f(...xs.map((x) => x[s]!))));
const sameZ = (a: (RingTensor | undefined)[], b: (RingTensor | undefined)[], what: string) => {
  assert.equal(a.length, b.length);
  a.forEach((z, i) => {
    assert.equal(z === undefined, b[i] === undefined, `${what}: z${i} presence`);
    if (z !== undefined) assert.deepEqual(z.data, b[i]!.data, `${what}: z${i}`);
  });
};

for (const precision of ['low', 'high'] as const) {
  describe(`ABY3 segmented mul products (precision ${precision})`, () => {
    it('segments (a difference, a factor recurring, a plain term) give the z_i of the concatenated operands, and open to the reference', async () => {
      const p = new Exposed(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] });
      const n = 37;
      const enc = (seed: number) => p.encryptInts(alice, ints(seed, n));
      const [c, d, A, B, m] = await Promise.all([enc(1), enc(2), enc(3), enc(4), enc(5)]);
      const segs = [
        { x: [...c.parts], y: [...B.parts], ySub: [...A.parts], n },
        { x: [...c.parts], y: [...m.parts], n },
        { x: [...d.parts], y: [...m.parts], n },
        { x: [...c.parts], y: [...A.parts], n },
      ];
      const cat = (ps: RingParts[]) => slotwise(ps, (...ts) => ring.concat(ts, 0));
      const X = cat(segs.map((s) => s.x));
      const Y = cat(segs.map((s) => (s.ySub === undefined ? s.y : slotwise([s.y, s.ySub], (a, b) => ring.sub(a, b)))));
      const net = p.net();
      const got = await mulProducts(net, segs, [4 * n], 'seg-test');
      const want = await mulProducts(net, [{ x: X, y: Y }], [4 * n], 'seg-test');
      sameZ(got, want, 'segments');
      // the 3-out-of-3 shares sum to the product of the opened operands
      const vals = await Promise.all([c, d, A, B, m].map(async (t) => (await p.revealRing(t, alice))!.toSignedBigInts()));
      const [vc, vd, vA, vB, vm] = vals as [bigint[], bigint[], bigint[], bigint[], bigint[]];
      const ref = [...vc.map((v, i) => v * (vB[i]! - vA[i]!)), ...vc.map((v, i) => v * vm[i]!), ...vd.map((v, i) => v * vm[i]!), ...vc.map((v, i) => v * vA[i]!)];
      const sum = ring.add(ring.add(got[0]!, got[1]!), got[2]!).toSignedBigInts();
      assert.deepEqual(sum, ref);
    });

    it('a segment upsampled in the workspace (PartMap) gives the z_i of the upsampled operand', async () => {
      const p = new Exposed(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] });
      const g = geometry('test', [2, 5, 4, 3], 2, 2, 2, 'valid');
      const nIn = g.B * g.OH * g.OW * g.C;
      const nOut = g.B * g.H * g.W * g.C;
      const [x, dy] = await Promise.all([p.encryptInts(alice, ints(6, nOut)), p.encryptInts(alice, ints(7, nIn))]);
      const net = p.net();
      const got = await mulProducts(net, [{ x: [...x.parts], y: [...dy.parts], yMap: upsampleMap(g), n: nOut }], [nOut], 'up-test');
      const up = slotwise([[...dy.parts]], (t) => new RingTensor(t.bits, [nOut], scatterTaps(t, g, true).data));
      const want = await mulProducts(net, [{ x: [...x.parts], y: up }], [nOut], 'up-test');
      sameZ(got, want, 'upsampled');
    });
  });
}
