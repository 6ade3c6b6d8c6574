/**
 * The wasm client pipeline (src/dp/pipeline-wasm.ts, behind `encodeUpdate` for the Hadamard
 * rotation) against the TypeScript reference `encodeUpdateTs`: equal residues, noised values,
 * clip flag, wrap count and rounding tries for the same noise source stream, on random
 * updates, dimensions, parameters (fast-check); the same errors. Needs `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ddpParams } from '../../src/dp/ddp-params.js';
import { encodeUpdate, encodeUpdateTs } from '../../src/dp/distributed.js';
import { dpPipelineWasmAvailable, encodeUpdateWasm } from '../../src/dp/pipeline-wasm.js';
import { rotationSeed } from '../../src/dp/rotation.js';
import { CryptoRandom } from '../../src/dp/random.js';
import { exactNoise } from '../../src/dp/exact-noise.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 7 + 1) & 255);
const noiseFor = (label: string) => exactNoise(CryptoRandom.fromKey(KEY, label));

test('the wasm pipeline is built and used by encodeUpdate for the Hadamard rotation', () => {
  assert.ok(dpPipelineWasmAvailable(), 'dist/wasm/dp-pipeline.wasm is missing');
  const p = ddpParams({ mechanism: 'dgauss', rotation: 'hadamard', bits: 16, expectedClients: 10, clip: 1, noiseMultiplier: 1, dim: 5 });
  const x = Float64Array.of(0.1, -2, 3, 0.25, 1e-3), seed = rotationSeed('use');
  assert.deepEqual(encodeUpdate(p, x, seed, noiseFor('u')), encodeUpdateWasm(p, x, seed, noiseFor('u')));
});

test('wasm = TypeScript on random updates, dimensions and parameters (fast-check)', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 5000 }),
    fc.constantFrom('dgauss', 'skellam') as fc.Arbitrary<'dgauss' | 'skellam'>,
    fc.integer({ min: 8, max: 24 }),
    fc.double({ min: 1e-3, max: 10, noNaN: true }),
    fc.constantFrom(0, 0.5, 1, 3),
    fc.constantFrom(0, 0, 1e-3),
    fc.double({ min: 1e-4, max: 100, noNaN: true }),
    fc.integer({ min: 0, max: 1e9 }),
    (dim, mechanism, bits, clip, z, beta, amp, s) => {
      const p = ddpParams({ mechanism, rotation: 'hadamard', bits, expectedClients: 8, clip, noiseMultiplier: z, beta, dim });
      const x = Float64Array.from({ length: dim }, (_, i) => amp * Math.sin(i * 1.7 + s) * (i % 5 === 0 ? 3 : 1));
      const seed = rotationSeed(`fc ${s}`);
      const want = encodeUpdateTs(p, x, seed, noiseFor(`n ${s}`));
      const got = encodeUpdateWasm(p, x, seed, noiseFor(`n ${s}`));
      assert.deepEqual(got, want);
    },
  ), { numRuns: 60 });
});

test('network_a size (d = 118,282, D = 131,072), both mechanisms, bits 16 and 20: wasm = TypeScript', () => {
  const dim = 118_282;
  const x = Float64Array.from({ length: dim }, (_, i) => 1e-3 * Math.cos(i * 0.37) + (i % 97 === 0 ? 0.02 : 0));
  for (const [bits, clip] of [[16, 0.1], [20, 1]] as const) {
    for (const mechanism of ['dgauss', 'skellam'] as const) {
      const p = ddpParams({ mechanism, rotation: 'hadamard', bits, expectedClients: 100, clip, noiseMultiplier: 1, dim });
      const seed = rotationSeed(`big ${bits}`);
      assert.deepEqual(encodeUpdateWasm(p, x, seed, noiseFor('big')), encodeUpdateTs(p, x, seed, noiseFor('big')), `${mechanism} bits ${bits}`);
    }
  }
});

test('the same errors: a non-finite update', () => {
  const p = ddpParams({ mechanism: 'dgauss', rotation: 'hadamard', bits: 16, expectedClients: 10, clip: 1, noiseMultiplier: 1, dim: 4 });
  const seed = rotationSeed('err');
  for (const f of [encodeUpdateTs, encodeUpdateWasm]) {
    assert.throws(() => f(p, Float64Array.of(1, NaN, 0, 0), seed, noiseFor('e')), /"x" has a non-finite value/);
    assert.throws(() => f(p, Float64Array.of(1, Infinity, 0, 0), seed, noiseFor('e')), /"x" has a non-finite value/);
  }
});
