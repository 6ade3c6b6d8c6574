/** Computations with protocols as context, tensor signatures and serialization (docs/encrypted-ml.md, "Computations"). */
export {
  computation, encryptedComputation, privateComputation, Computation, ConcreteComputation, typeOf, holdersOf,
  type CallableComputation, type ComputationOptions, type Flavor, type Arg, type Result,
} from './computation.js';
export { withProtocol, setProtocol, currentProtocol } from './context.js';
export { SignatureError, PlacementError, NoProtocolError, UnknownOpError, SerializationError } from './errors.js';
export { Symbolic, type Graph, type Node } from './ir.js';
export * as ops from './ops.js';
export { OP_NAMES, type AnyProtocol, type Value } from './rules.js';
export { computationFromJSON, type ComputationJSON } from './serialize.js';
export { TensorSpec, specs, checkSubtype, sensitivityFits, joinSensitivity, type TensorType, type Kind, type Dtype, type SpecOptions, type SpecPlacement } from './types.js';
export { Variable } from './variable.js';
export { localComputation, LocalComputation, type LocalOptions, type LocalResult } from './local.js';
export type { Plain } from './plain.js';
