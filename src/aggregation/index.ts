/** fedcrypt/aggregation: the secure-aggregation plug-in interface and its implementations. */
export * from './protocol.js';
export { PolicyError, DEFAULT_MIN_CONTRIBUTORS, type PolicyErrorDetails, type RejectedContribution } from './policy.js';
export { insecureReferenceAggregation, referenceAggregate, exactSum, floatSum, type InsecureReferenceOptions } from './reference.js';
export { mpcAggregation, secureMean, type MpcAggregationOptions, type MpcProtocolName, type SecureMeanOptions, type SecureMeanResult } from './mpc.js';
export { mpcRoles, type MpcRolesOptions } from './mpc-roles.js';
export {
  PaillierAggregation,
  paillierAggregation,
  paillierRoles,
  paillierBoxAd,
  paillierSecureMean,
  PAILLIER_CHANNEL_GRID,
  channelFor,
  MisroutedMessageError,
  StageMachine as PaillierStageMachine,
  STAGES as PAILLIER_STAGES,
  type PaillierAggregationOptions,
  type PaillierRoles,
  type PaillierRolesOptions,
  type PaillierSecureMeanOptions,
  type PaillierSecureMeanResult,
  type PaillierReport,
  type ChannelGridEntry,
  type ChannelKind,
  type RelayEvent,
  type ObservedMessage,
} from './paillier.js';
export { completeGraph, hararyGraph, hararyRing, type SecAggGraph } from './secagg-graph.js';
export { secAgg, secAggRoles, type SecAggRoles } from './secagg-roles.js';
export { SecAggAbortError, SecAggSharesError, SecAggViolationError, SECAGG_RULES, type SecAggRule } from './secagg-errors.js';
export { SECAGG_INTRINSICS, secAggOptionsFromParams, type SecAggOptions, type SecAggParams } from './secagg-setup.js';
export type { SecAggResult } from './secagg-server.js';
export {
  SecAggParameterError,
  autoSecAggParameters,
  checkCompleteParameters,
  checkHararyParameters,
  findHararyParameters,
  type SecAggAdversary,
  type SecAggGraphChoice,
  type SecAggRequirements,
} from './secagg-params.js';
