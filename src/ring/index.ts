/** fedcrypt/ring: tensors over Z_2^64 and Z_2^128 with WebAssembly kernels and a TypeScript reference. */
export { RingTensor, emptyTensor, type RingBits } from './tensor.js';
export { ringScope, ringHeapStats, type RingHeapStats } from './heap.js';
export { RingShapeError, RingMismatchError, RingBackendError, RingDisposedError } from './errors.js';
export { setRingBackend, getRingBackend, wasmAvailable, type RingBackendName } from './backend.js';
export { referenceKernels, type RingKernels } from './reference.js';
export {
  add, sub, mul, neg, addScalar, mulScalar,
  addInPlace, subInPlace, mulInPlace, negInPlace, addScalarInPlace, mulScalarInPlace,
  shl, shrLogical, shrArith, shlInPlace, shrLogicalInPlace, shrArithInPlace,
  sum, matmul, transpose, reshape, slice, concat, broadcastTo, expandDims, squeeze, equals,
} from './ops.js';
