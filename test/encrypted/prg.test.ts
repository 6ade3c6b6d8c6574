import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Prg, randomSeed, SEED_BYTES } from '../../src/crypto/prg.js';
import { createCipheriv } from 'node:crypto';

describe('Prg (AES-128-CTR)', () => {
  it('is AES-128-CTR with IV 0 for a seed', () => {
    const seed = randomSeed();
    const want = createCipheriv('aes-128-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(1000));
    assert.deepEqual(Buffer.from(new Prg(seed).random(1000)), want);
  });

  it('splitting the output into any chunks gives the same stream (across the 256 KiB chunk size)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 300_000 }), { minLength: 1, maxLength: 5 }), (sizes) => {
      const seed = new Uint8Array(SEED_BYTES).fill(7);
      const total = sizes.reduce((a, b) => a + b, 0);
      const whole = new Prg(seed).random(total);
      const prg = new Prg(seed);
      const parts = sizes.map((n) => prg.random(n));
      const joined = new Uint8Array(total);
      let off = 0;
      for (const p of parts) { joined.set(p, off); off += p.length; }
      assert.deepEqual(joined, whole);
    }), { numRuns: 15 });
  });

  it('fresh seeds differ; derive separates nonces and is deterministic', () => {
    assert.notDeepEqual(new Prg().random(32), new Prg().random(32));
    const k = randomSeed();
    assert.deepEqual(Prg.derive(k, 'a/1').random(64), Prg.derive(k, 'a/1').random(64));
    assert.notDeepEqual(Prg.derive(k, 'a/1').random(64), Prg.derive(k, 'a/2').random(64));
    assert.notDeepEqual(Prg.derive(k, 5n).random(64), Prg.derive(k, 6n).random(64));
    assert.equal(Prg.derive(k, 1).randomWords(3).length, 3);
  });

  it('ring tensors from the stream: the same bytes, in both rings', () => {
    const seed = randomSeed();
    for (const bits of [64, 128] as const) {
      const t = new Prg(seed).ringTensor(bits, [3, 5]);
      assert.deepEqual(t.shape, [3, 5]);
      assert.deepEqual(Buffer.from(t.toBytes()), Buffer.from(new Prg(seed).random(15 * bits / 8)));
    }
  });

  it('checks its arguments and refuses coercion', () => {
    assert.throws(() => new Prg(new Uint8Array(15)), (e: unknown) => e instanceof RangeError && /"seed" expected 16 bytes, got 15/.test((e as Error).message));
    assert.throws(() => new Prg('x' as never), (e: unknown) => e instanceof TypeError && /"seed"/.test((e as Error).message));
    assert.throws(() => Prg.derive(randomSeed(), -1n), RangeError);
    assert.throws(() => new Prg().random(-1), RangeError);
    const p = new Prg();
    assert.throws(() => JSON.stringify(p), TypeError);
    assert.throws(() => `${p}`, TypeError);
  });
});
