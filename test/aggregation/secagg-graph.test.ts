/**
 * SecAgg graphs: the complete graph; the Harary graph H(n, k) with a
 * permutation from a public seed (its layout re-derived here with raw
 * node:crypto), regular of degree k, symmetric, no self loops, the same for
 * the same seed, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { completeGraph, hararyGraph, hararyRing } from '../../src/aggregation/secagg-graph.js';

const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
const seedOf = (tag: string) => new Uint8Array(createHash('sha256').update(tag).digest());

/** The documented permutation, written out with raw node:crypto. */
function expectedRing(n: number, k: number, seed: Uint8Array): number[] {
  const info = Buffer.concat([Buffer.from('permutation'), Buffer.alloc(8)]);
  info.writeUInt32BE(n, 11);
  info.writeUInt32BE(k, 15);
  const key = Buffer.from(hkdfSync('sha256', seed, Buffer.from('fedcrypt/secagg/harary/v1'), info, 16));
  const stream = createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(4 * 4 * n + 64));
  let at = 0;
  const ring = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i >= 1; i--) {
    const m = i + 1;
    let w;
    do { w = stream.readUInt32LE(at); at += 4; } while (w >= 2 ** 32 - (2 ** 32 % m));
    const j = w % m;
    [ring[i], ring[j]] = [ring[j]!, ring[i]!];
  }
  return ring;
}

test('harary: the ring order follows the documented HKDF / AES-CTR / Fisher-Yates layout (known answer)', () => {
  for (const [n, k] of [[3, 2], [10, 4], [1000, 30]] as const) {
    assert.deepEqual([...hararyRing(n, k, seedOf(`ring${n}`))], expectedRing(n, k, seedOf(`ring${n}`)));
  }
  assert.deepEqual([...hararyRing(8, 2, seedOf('kat'))], KAT_RING_8);
});
// computed independently (Python hmac HKDF, openssl enc -aes-128-ctr)
const KAT_RING_8 = [2, 0, 3, 4, 1, 5, 7, 6];

test('harary: regular of degree k, symmetric, no self loops, neighbours are the k/2 ring positions on either side (random n, k, seeds)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 60 }), fc.integer({ min: 1, max: 30 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (n, h, seed) => {
      const k = Math.min(2 * h, n - 1 - ((n - 1) % 2));
      fc.pre(k >= 2);
      const g = hararyGraph(n, k, seed);
      const ring = hararyRing(n, k, seed);
      assert.equal(g.degree, k);
      for (let i = 0; i < n; i++) {
        const nb = g.neighbours(i);
        assert.equal(new Set(nb).size, k);
        assert.ok(!nb.includes(i));
        for (let j = 0; j < n; j++) assert.equal(g.isNeighbour(i, j), nb.includes(j));
        for (const j of nb) assert.ok(g.neighbours(j).includes(i));
      }
      // ring neighbours
      const p = 0;
      assert.ok(g.isNeighbour(ring[p]!, ring[(p + k / 2) % n]!));
      if (k / 2 + 1 < n - k / 2 - 1 + 1 && k < n - 1) assert.ok(!g.isNeighbour(ring[p]!, ring[(p + k / 2 + 1) % n]!));
    }),
    { numRuns: 100 },
  );
});

test('harary: the same seed gives the same graph, another seed another one; k = n - 1 is the complete graph', () => {
  const a = hararyGraph(200, 10, seedOf('a'));
  const b = hararyGraph(200, 10, seedOf('a'));
  const c = hararyGraph(200, 10, seedOf('c'));
  let same = true;
  for (let i = 0; i < 200; i++) {
    assert.deepEqual(a.neighbours(i), b.neighbours(i));
    if (a.neighbours(i).join() !== c.neighbours(i).join()) same = false;
  }
  assert.ok(!same);
  const full = hararyGraph(9, 8, seedOf('x'));
  const cg = completeGraph(9);
  for (let i = 0; i < 9; i++) assert.deepEqual(full.neighbours(i), cg.neighbours(i));
});

test('complete graph: every other client, and the refusals of both graphs', () => {
  const g = completeGraph(4);
  assert.deepEqual(g.neighbours(2), [0, 1, 3]);
  assert.equal(g.isNeighbour(1, 1), false);
  assert.equal(g.degree, 3);
  assert.throws(() => completeGraph(1), is(RangeError, /^completeGraph: "n" expected an integer in \[2, 67108864\], got 1$/));
  assert.throws(() => g.neighbours(4), is(RangeError, /^completeGraph\.neighbours: "i" expected a client number in \[0, 3\], got 4$/));
  assert.throws(() => g.isNeighbour(0, '1' as never), is(TypeError, /^completeGraph\.isNeighbour: "j" expected a client number, got string$/));
  const s = seedOf('s');
  assert.throws(() => hararyGraph(10, 3, s), is(RangeError, /^hararyGraph: "k" expected an even integer in \[2, 9\], got 3$/));
  assert.throws(() => hararyGraph(10, 10, s), is(RangeError, /"k" expected an even integer in \[2, 9\], got 10$/));
  assert.throws(() => hararyGraph(10, 0, s), is(RangeError, /got 0$/));
  assert.throws(() => hararyGraph(10, '4' as never, s), is(TypeError, /^hararyGraph: "k" expected an even integer, got string$/));
  assert.throws(() => hararyGraph(2, 2, s), is(RangeError, /^hararyGraph: "n" expected an integer in \[3, /));
  assert.throws(() => hararyGraph(10, 4, new Uint8Array(16)), is(RangeError, /^hararyGraph: "seed" expected 32 bytes, got 16$/));
  assert.throws(() => hararyGraph(10, 4, 'seed' as never), is(TypeError, /^hararyGraph: "seed" expected Uint8Array of 32 bytes, got string$/));
  assert.throws(() => hararyGraph(10, 4, s).neighbours(-1), is(RangeError, /^hararyGraph\.neighbours: "i" expected a client number in \[0, 9\], got -1$/));
});
