// The ring matmul thread (src/ring/threads.ts): the same products as ring.matmul, both rings; shape errors rejected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableParallelism } from 'node:os';
import * as ring from '../../src/ring/index.js';
import { RingThread, ringThread } from '../../src/ring/threads.js';

const rand = (bits: 64 | 128, shape: number[], seed: number): ring.RingTensor => {
  const t = ring.RingTensor.zeros(bits, shape);
  let s = BigInt(seed);
  for (let i = 0; i < t.data.length; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    t.data[i] = s;
  }
  return t;
};

test('ringThread().matmul equals ring.matmul (Z_2^64 and Z_2^128, odd sizes)', async () => {
  const th = new RingThread();
  for (const bits of [64, 128] as const) {
    for (const [m, k, n] of [[1, 1, 1], [7, 33, 9], [64, 300, 80]]) {
      const a = rand(bits, [m!, k!], m! * 7 + k!), b = rand(bits, [k!, n!], n! * 13 + 1);
      const got = await th.matmul(a, b);
      assert.deepEqual(got.shape, [m, n]);
      assert.ok(ring.equals(got, ring.matmul(a, b)), `Z_2^${bits} ${m}x${k}x${n}`);
      assert.equal(a.data[0], rand(bits, [m!, k!], m! * 7 + k!).data[0], 'the operands are left as they were');
    }
  }
  await assert.rejects(th.matmul(rand(64, [2, 3], 1), rand(64, [4, 2], 2)), /matmulOffThread: expected \[m, k\] · \[k, n\]/);
  await assert.rejects(th.matmul(rand(64, [2, 3], 1), rand(128, [3, 2], 2)), /one ring/);
});

test('ringThread() is one worker per process, or null with FEDCRYPT_RING_THREADS=0 / one core', () => {
  const t = ringThread();
  if (process.env['FEDCRYPT_RING_THREADS'] === '0' || availableParallelism() < 2) assert.equal(t, null);
  else assert.ok(t instanceof RingThread && ringThread() === t);
});
