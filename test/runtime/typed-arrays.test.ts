/**
 * `typedArrays` local computations get their tensor arguments as typed
 * arrays (the same numbers as the number[] form, without the element-by-
 * element conversion); `toJsTyped` is `toJs` with rank >= 1 tensors as typed
 * arrays, and nothing else changes (scalars, bools, structs, sequences).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENTS, federated, federatedComputation, federatedMap, localComputation, struct, tensor, withContext } from '../../src/core/index.js';
import { fromJs, toJs, toJsTyped } from '../../src/core/values.js';
import { localContext } from '../../src/runtime/index.js';

const V = tensor('float32', [3]);

describe('typed arrays for model-sized tensors', () => {
  it('a local computation asks for typed arrays: it gets a Float32Array, the default gets number[]; the results agree', async () => {
    const seen: string[] = [];
    const typed = localComputation([V], (x: Float32Array) => (seen.push(x.constructor.name), Float32Array.from(x, (v) => v * 2)), { name: 'twice_typed', result: V, typedArrays: true });
    const plain = localComputation([V], (x: number[]) => (seen.push(x.constructor.name), x.map((v) => v * 2)), { name: 'twice_plain', result: V });
    const data = [[1.5, -2, 3], [0.25, 0, -1]];
    const a = federatedComputation([federated(V, CLIENTS)], (x) => federatedMap(typed, x));
    const b = federatedComputation([federated(V, CLIENTS)], (x) => federatedMap(plain, x));
    const ctx = localContext();
    const ra = await withContext(ctx, () => a(data));
    const rb = await withContext(ctx, () => b(data));
    assert.deepEqual(ra, rb);
    assert.deepEqual(seen, ['Float32Array', 'Float32Array', 'Array', 'Array']);
  });

  it('toJsTyped: rank >= 1 tensors as their typed arrays; scalars, bools and the containers as toJs', () => {
    const T = struct([['w', tensor('float32', [2])], ['n', tensor('int32')], ['b', tensor('bool', [2])]]);
    const v = fromJs({ w: [0.5, -1], n: 7, b: [true, false] }, T, 'v');
    const t = toJsTyped(v) as { w: unknown; n: unknown; b: unknown };
    assert.ok(t.w instanceof Float32Array);
    assert.deepEqual(Array.from(t.w as Float32Array), (toJs(v) as { w: number[] }).w);
    assert.equal(t.n, 7);
    assert.deepEqual(t.b, [true, false]);
  });
});
