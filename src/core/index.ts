/** fedcrypt/core: the Federated Core language (types, placements, IR, intrinsics, tracing, serialization). */
export * from './errors.js';
export * from './placements.js';
export * from './types.js';
export {
  TensorValue,
  StructValue,
  SequenceValue,
  FederatedValue,
  FunctionValue,
  PlacementValue,
  fromJs,
  toJs,
  tensorToJs,
  leavesOf,
  fromLeaves,
  allocate,
  isTensorLike,
  type RtValue,
  type NumericArray,
  type FromJsOptions,
} from './values.js';
export * as ir from './ir.js';
export { printIR, formatIR, NODE_KINDS, type Node, type LocalDef, type IntrinsicParams } from './ir.js';
export {
  INTRINSICS,
  PROTOCOL_URIS,
  getIntrinsic,
  intrinsicByUri,
  registerIntrinsicImpl,
  getIntrinsicImpl,
  unboundIntrinsics,
  unpackArgs,
  variantTarget,
  meanResultType,
  secureSumParams,
  secureSumBound,
  SECURE_SUM_MAX_BITWIDTH,
  type IntrinsicDef,
  type IntrinsicVariant,
  type IntrinsicImpl,
  type InferOptions,
  type Inferred,
} from './intrinsics.js';
export { federatedComputation, isComputation, isSymbolic, type Computation, type Symbolic, type FederatedComputationOptions } from './tracing.js';
export {
  localComputation,
  registerLocalComputation,
  registerLocalComputationFactory,
  registeredLocal,
  unregisterLocalComputation,
  FreeNameError,
  type LocalComputationOptions,
} from './local.js';
export * from './api.js';
export { setDefaultContext, getDefaultContext, setDefaultContextFactory, withContext, currentContext, type ExecutionContext } from './context.js';
export { serializeComputation, deserializeComputation, typeFromJson, FORMAT, FORMAT_VERSION, type DeserializeOptions } from './serialize.js';
export { checkIR } from './typecheck.js';
