/** fedcrypt/encrypted: players, fixed point, tensor kinds, and the Plaintext, Pond and ABY3 protocols. */
export { Player, checkPlayer } from './player.js';
export {
  ShapeMismatchError, PrecisionMismatchError, ProtocolMismatchError, UnknownPlayerError, SensitivityError,
  EncodingRangeError, DuplicatePlayerError, NotLocalError,
} from './errors.js';
export {
  FIXED_LOW, FIXED_HIGH, fixedConfig, encode, decode, encodeScalar, checkEncodable, flattenFloats,
  encodeSubInto, decodeSumInto, checkScaledEncodable,
  type Precision, type FixedPointConfig, type FloatInput, type FlatFloats,
} from './fixed.js';
export {
  Tensor, PublicTensor, SecretTensor, PrivateTensor, ProtocolTensor, PlaintextTensor, EncryptedTensor, AdditiveTensor, ReplicatedTensor, BinaryReplicatedTensor, BinaryAdditiveTensor,
  type Encoding, type Sensitivity, type ProtocolRef,
} from './tensor.js';
export { RingArena, type RingArenaOptions } from './arena.js';
export { TrustedDealer, type TripleSource, type TripleRequest, type TripleShares, type DealRequest, type Dealt } from './triples.js';
export { Protocol, type ProtocolOptions, type EncryptOptions, type PublicValue } from './protocols/base.js';
export { Plaintext, type PlaintextOptions } from './protocols/plaintext.js';
export { Pond, type PondOptions } from './protocols/pond.js';
export { ABY3 } from './protocols/aby3.js';
export type { ABY3Options } from './protocols/aby3-core.js';
export type { Truncation } from './protocols/aby3-trunc.js';
export {
  computation, encryptedComputation, privateComputation, Computation, ConcreteComputation, withProtocol, setProtocol, currentProtocol,
  SignatureError, PlacementError, NoProtocolError, UnknownOpError, SerializationError, Symbolic, ops, OP_NAMES, computationFromJSON,
  TensorSpec, specs, checkSubtype, sensitivityFits, joinSensitivity, Variable, localComputation, LocalComputation,
  type LocalOptions, type LocalResult, type Plain,
  type CallableComputation, type ComputationOptions, type Flavor, type Arg, type Result, type AnyProtocol, type Value, type ComputationJSON,
  type TensorType, type Kind, type Dtype, type SpecOptions, type SpecPlacement,
} from './computation/index.js';
export {
  convertModel, encryptModel, EncryptedModel, LayerError, forwardLayer, inferencePlan, modelShapes, paramShapes, outputShape, saveModel, loadModel, modelToJSON, modelFromJSON,
  SUPPORTED_LAYERS, type ConvertedModel, type LayerSpec, type LayerKind, type ModelSpec, type EncryptModelOptions, type PredictForOptions,
} from './nn/index.js';
