/**
 * fedcrypt/runtime: execution of federated computations. Importing it installs
 * a default context factory (a `localContext()` with the insecure reference
 * aggregation) so that `await comp(...)` works without further set-up.
 */
import { setDefaultContextFactory } from '../core/context.js';
import { localContext } from './local.js';

export { localContext, type LocalContext, type LocalContextOptions } from './local.js';
export { evaluate, runLocal, EMPTY_SCOPE, BACKEND, type LocalEnv } from './executor.js';
export { toResultLeaf } from './intrinsics.js';
export { paillierContext, mpcContext, type PaillierContextOptions } from './contexts.js';
export { runCoreDemo, temperatureComputations, secureSumComputation } from './demo.js';
export {
  AGGREGATION_URIS,
  isAggregationProtocol,
  type AggregationProtocol,
  type AggregationRequest,
  type AggregationResult,
  type AggregationLeaf,
  type AggregateLeafValue,
  type AggregationUri,
} from '../aggregation/protocol.js';
export { insecureReferenceAggregation, referenceAggregate, type InsecureReferenceOptions } from '../aggregation/reference.js';

setDefaultContextFactory(() => localContext());
export {
  clientData,
  ClientData,
  remoteExecutionContext,
  RemoteRef,
  RemoteCommandError,
  type RemoteContext,
  type RemoteExecutionOptions,
  type RemotePlayer,
} from './remote/context.js';
export { servePlayerExecutor, type DataSource, type PlayerExecutorOptions } from './remote/player.js';
