// Each bad input gets a typed error whose message names the function and the argument.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as R from '../../src/ring/index.js';
import { RingBackendError, RingMismatchError, RingShapeError, RingTensor } from '../../src/ring/index.js';
import { selectKernels } from '../../src/ring/backend.js';
import { loadWasmKernels } from '../../src/ring/wasm.js';

const t64 = (shape: number[]): RingTensor => new RingTensor(64, shape);
const t128 = (shape: number[]): RingTensor => new RingTensor(128, shape);
const bad = (v: unknown): never => v as never;

function throwsWith(f: () => unknown, cls: new (...a: never[]) => Error, msg: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.match((e as Error).message, msg);
    return true;
  });
}

test('error classes: shape errors are RangeErrors, ring mismatches are TypeErrors', () => {
  assert.ok(new RingShapeError('x') instanceof RangeError);
  assert.ok(new RingMismatchError('x') instanceof TypeError);
  assert.equal(new RingShapeError('x').name, 'RingShapeError');
  assert.equal(new RingMismatchError('x').name, 'RingMismatchError');
});

test('constructor: bad bits, shape, data', () => {
  throwsWith(() => new RingTensor(bad(32), [1]), RangeError, /RingTensor: argument 'bits' must be 64 or 128, got 32/);
  throwsWith(() => new RingTensor(bad('64'), [1]), TypeError, /argument 'bits'/);
  throwsWith(() => new RingTensor(64, bad(3)), TypeError, /RingTensor: argument 'shape' must be an array/);
  throwsWith(() => new RingTensor(64, [2, -1]), RangeError, /argument 'shape' must contain non-negative integers, got \[2,-1\]/);
  throwsWith(() => new RingTensor(64, [1.5]), RangeError, /argument 'shape'/);
  throwsWith(() => new RingTensor(64, [2], bad(new Float64Array(2))), TypeError, /argument 'data' must be a BigUint64Array, got Float64Array/);
  throwsWith(() => new RingTensor(128, [2], new BigUint64Array(2)), RingShapeError, /argument 'data' has 2 limbs, expected 4 for shape \[2\] in Z_2\^128/);
});

test('fromBigInts, get, fromBytes, fromRandomBytes: bad arguments', () => {
  throwsWith(() => RingTensor.fromBigInts(64, [3], [1n, 2n]), RingShapeError, /fromBigInts: argument 'values' has 2 elements, expected 3/);
  throwsWith(() => RingTensor.fromBigInts(64, [2], bad([1n, 2])), TypeError, /fromBigInts: argument 'values' must contain only bigint, got number at index 1/);
  throwsWith(() => RingTensor.fromBigInts(64, [2], bad('12')), TypeError, /argument 'values'/);
  throwsWith(() => RingTensor.fromBigInts(bad(65), [2], [1n, 2n]), RangeError, /fromBigInts: argument 'bits'/);
  throwsWith(() => t64([3]).get(3), RangeError, /get: argument 'i' expected integer in \[0, 3\), got 3/);
  throwsWith(() => t64([3]).get(bad('0')), TypeError, /get: argument 'i'/);
  throwsWith(() => RingTensor.fromBytes(64, [2], new Uint8Array(15)), RingShapeError, /fromBytes: argument 'bytes' has 15 bytes, expected 16/);
  throwsWith(() => RingTensor.fromBytes(64, [2], new Uint8Array(17)), RingShapeError, /fromBytes: argument 'bytes'/);
  throwsWith(() => RingTensor.fromBytes(64, [2], bad([0, 1])), TypeError, /fromBytes: argument 'bytes' must be a Uint8Array/);
  throwsWith(() => RingTensor.fromRandomBytes(128, [2], new Uint8Array(31)), RingShapeError, /fromRandomBytes: argument 'bytes' has 31 bytes, expected at least 32/);
});

test('elementwise ops: wrong types, ring mismatch, shape mismatch', () => {
  throwsWith(() => R.add(t64([2, 3]), t64([3, 4])), RingShapeError, /^add: argument 'b' has shape \[3,4\], expected shape broadcastable to \[2,3\]$/);
  throwsWith(() => R.mul(t64([2]), t64([3])), RingShapeError, /^mul: argument 'b' has shape \[3\]/);
  throwsWith(() => R.sub(t64([2]), t128([2])), RingMismatchError, /^sub: argument 'b' is in Z_2\^128, expected Z_2\^64/);
  throwsWith(() => R.add(bad(1), t64([2])), TypeError, /^add: argument 'a' must be a RingTensor, got number/);
  throwsWith(() => R.mul(t64([2]), bad(null)), TypeError, /^mul: argument 'b' must be a RingTensor, got null/);
  throwsWith(() => R.neg(bad({})), TypeError, /^neg: argument 'a' must be a RingTensor/);
  throwsWith(() => R.addScalar(t64([2]), bad(1)), TypeError, /^addScalar: argument 's' must be a bigint, got number/);
  throwsWith(() => R.mulScalar(t64([2]), bad('2')), TypeError, /^mulScalar: argument 's' must be a bigint/);
});

test('in-place ops: b must broadcast to dst without changing its shape', () => {
  throwsWith(() => R.addInPlace(t64([3]), t64([2, 3])), RingShapeError, /^addInPlace: argument 'b' has shape \[2,3\], expected shape broadcastable to \[3\]/);
  throwsWith(() => R.subInPlace(t64([3]), t64([4])), RingShapeError, /^subInPlace: argument 'b'/);
  throwsWith(() => R.mulInPlace(t64([3]), t128([3])), RingMismatchError, /^mulInPlace: argument 'b' is in Z_2\^128/);
  throwsWith(() => R.addInPlace(bad([]), t64([3])), TypeError, /^addInPlace: argument 'dst' must be a RingTensor/);
  throwsWith(() => R.negInPlace(bad(0)), TypeError, /^negInPlace: argument 'dst'/);
  throwsWith(() => R.mulScalarInPlace(t64([1]), bad(2)), TypeError, /^mulScalarInPlace: argument 's'/);
});

test('shifts: k must be an integer in [0, bits)', () => {
  throwsWith(() => R.shl(t64([2]), 64), RangeError, /^shl: argument 'k' expected integer in \[0, 63\], got 64/);
  throwsWith(() => R.shrArith(t128([2]), 128), RangeError, /^shrArith: argument 'k' expected integer in \[0, 127\], got 128/);
  throwsWith(() => R.shrLogical(t64([2]), -1), RangeError, /^shrLogical: argument 'k'/);
  throwsWith(() => R.shrLogical(t64([2]), 1.5), TypeError, /^shrLogical: argument 'k' must be an integer/);
  throwsWith(() => R.shrArithInPlace(t64([2]), bad(1n)), TypeError, /^shrArithInPlace: argument 'k'/);
});

test('sum and matmul: bad axis, keepDims, shapes, rings', () => {
  throwsWith(() => R.sum(t64([2, 3]), 2), RingShapeError, /^sum: argument 'axis' expected integer in \[-2, 2\), got 2/);
  throwsWith(() => R.sum(t64([2, 3]), -3), RingShapeError, /^sum: argument 'axis'/);
  throwsWith(() => R.sum(t64([2, 3]), 0.5), TypeError, /^sum: argument 'axis' must be an integer/);
  throwsWith(() => R.sum(t64([2]), 0, bad(1)), TypeError, /^sum: argument 'keepDims' must be a boolean/);
  throwsWith(() => R.matmul(t64([2, 3, 1]), t64([3, 2])), RingShapeError, /^matmul: argument 'a' has shape \[2,3,1\], expected a 2-D shape/);
  throwsWith(() => R.matmul(t64([2, 3]), t64([4, 2])), RingShapeError, /^matmul: argument 'b' has shape \[4,2\], expected a 2-D shape \[3,n\]/);
  throwsWith(() => R.matmul(t64([2, 3]), t64([3])), RingShapeError, /^matmul: argument 'b'/);
  throwsWith(() => R.matmul(t128([2, 3]), t64([3, 2])), RingMismatchError, /^matmul: argument 'b' is in Z_2\^64, expected Z_2\^128/);
});

test('layout ops: bad perm, shape, begin/size, parts, axes', () => {
  throwsWith(() => R.transpose(t64([2, 3]), [0, 0]), RingShapeError, /^transpose: argument 'perm' is \[0,0\], expected a permutation of \[0..1\]/);
  throwsWith(() => R.transpose(t64([2, 3]), [1]), RingShapeError, /^transpose: argument 'perm'/);
  throwsWith(() => R.transpose(t64([2, 3]), [1, 2]), RingShapeError, /^transpose: argument 'perm'/);
  throwsWith(() => R.transpose(t64([2, 3]), bad('10')), TypeError, /^transpose: argument 'perm' must be an array/);
  throwsWith(() => R.reshape(t64([2, 3]), [4, 2]), RingShapeError, /^reshape: argument 'shape' is \[4,2\], incompatible with 6 elements of shape \[2,3\]/);
  throwsWith(() => R.reshape(t64([2, 3]), [-1, -1]), RingShapeError, /^reshape: argument 'shape'/);
  throwsWith(() => R.reshape(t64([2, 3]), [-1, 4]), RingShapeError, /^reshape: argument 'shape'/);
  throwsWith(() => R.reshape(t64([2, 3]), bad(6)), TypeError, /^reshape: argument 'shape' must be an array/);
  throwsWith(() => R.slice(t64([2, 3]), [0], [1, 1]), RingShapeError, /^slice: argument 'begin' has length 1, expected 2/);
  throwsWith(() => R.slice(t64([2, 3]), [0, 0], [1]), RingShapeError, /^slice: argument 'size' has length 1/);
  throwsWith(() => R.slice(t64([2, 3]), [3, 0], [0, 1]), RingShapeError, /^slice: argument 'begin' is \[3,0\], out of range for shape \[2,3\]/);
  throwsWith(() => R.slice(t64([2, 3]), [1, 1], [2, 1]), RingShapeError, /^slice: argument 'size' is \[2,1\], out of range/);
  throwsWith(() => R.slice(t64([2, 3]), bad(0), [1]), TypeError, /^slice: argument 'begin' must be an array/);
  throwsWith(() => R.concat([], 0), RangeError, /^concat: argument 'tensors' must not be empty/);
  throwsWith(() => R.concat(bad(t64([2])), 0), TypeError, /^concat: argument 'tensors' must be an array/);
  throwsWith(() => R.concat([t64([2, 3]), t64([2, 4])], 0), RingShapeError, /^concat: argument 'tensors\[1\]' has shape \[2,4\], expected \[-1,3\]/);
  throwsWith(() => R.concat([t64([2]), t128([2])], 0), RingMismatchError, /^concat: argument 'tensors\[1\]' is in Z_2\^128/);
  throwsWith(() => R.concat([t64([2]), bad(5)], 0), TypeError, /^concat: argument 'tensors\[1\]' must be a RingTensor/);
  throwsWith(() => R.concat([t64([2])], 1), RingShapeError, /^concat: argument 'axis'/);
  throwsWith(() => R.concat([t64([])], 0), RingShapeError, /^concat: argument 'tensors\[0\]' has shape \[\], expected rank >= 1/);
  throwsWith(() => R.broadcastTo(t64([2, 3]), [3, 3]), RingShapeError, /^broadcastTo: argument 'a' has shape \[2,3\], expected shape broadcastable to \[3,3\]/);
  throwsWith(() => R.broadcastTo(t64([2]), [-2]), RangeError, /^broadcastTo: argument 'shape'/);
  throwsWith(() => R.expandDims(t64([2]), 2), RingShapeError, /^expandDims: argument 'axis' expected integer in \[-2, 2\), got 2/);
  throwsWith(() => R.squeeze(t64([2, 1]), [0]), RingShapeError, /^squeeze: argument 'axes' names axis 0 of size 2/);
  throwsWith(() => R.squeeze(t64([2, 1]), [5]), RingShapeError, /^squeeze: argument 'axes'/);
  throwsWith(() => R.equals(t64([1]), bad(undefined)), TypeError, /^equals: argument 'b'/);
});

test('backend selection: bad names, and a missing wasm module is an error (no silent fallback)', () => {
  throwsWith(() => R.setRingBackend(bad('gpu')), RangeError, /^setRingBackend: argument 'name' must be 'wasm' or 'ts', got 'gpu'/);
  throwsWith(() => R.setRingBackend(bad(1)), TypeError, /^setRingBackend: argument 'name'/);
  const missing = loadWasmKernels('/nonexistent/dist/wasm/ring.wasm');
  assert.equal(missing.kernels, null);
  assert.match(missing.error, /ring\.wasm is missing/);
  throwsWith(() => selectKernels('wasm', missing), RingBackendError, /wasm ring kernels are not available .*missing.*run `npm run build`/);
  assert.equal(selectKernels('ts', missing).name, 'ts');
  assert.equal(R.getRingBackend(), R.wasmAvailable().available ? 'wasm' : 'ts');
});
