export {
  ROLES,
  ConfigError,
  parseAddress,
  validateConfig,
  parseConfig,
  loadConfig,
  playerEntry,
  pinnedKeys,
  formatConfig,
  type Role,
  type PlayerEntry,
  type DeployConfig,
  type ConfigOptions,
} from '../transport/config.js';
export { keygen, keyPaths, loadIdentity, type KeygenResult } from './keys.js';
export { parseJsonStrict, JsonSyntaxError, DuplicateKeyError } from '../transport/config-json.js';
export { startPlayer, type PlayerOptions } from './player.js';
// the config's roster, checkpoints of networked training
export { configHash, configRoles, checkServersFor } from './roster.js';
export { NETWORK_PROTOCOLS, type NetworkProtocol } from './policy.js';
export { saveCheckpoint, loadCheckpoint, hasCheckpoint, CheckpointError, type Checkpoint } from './checkpoint.js';
export { launchPlayers, type LaunchOptions, type Launched } from './launch.js';
export { tuneHeapForRounds, HEAP_GROWING_PERCENT } from './heap.js';
// one execution stack: remote sessions over the config's players (issue 13)
export { remoteContext, type RemoteContextOptions, type DeployedContext } from './remote.js';
export { openSession, serveSessions, checkPlanAgainstConfig, ROLE_SETS, SESSION_KEY, type SessionServeOptions, type OpenSessionOptions } from './session.js';
export { runStackTraining, learningDataSource, LEARNING_SOURCE, type StackTrainingOptions, type StackTrainingResult } from './stack-training.js';
export { assembleConfig, describeConfig, type AssembleOptions, type Assembled } from './assemble.js';
export { resolvePolicy, parseConfigPolicy, DEFAULT_POLICY, type PartyPolicy } from './policy.js';
// encrypted computations across the players (issue 14): the driver's API, the request and each player's checks
export { runComputation, runComputationOn, type ComputeBinding, type ComputeOptions, type ComputeRun, type RunComputationOptions, type ComputationSource } from './compute-driver.js';
export { checkComputePolicy, parseComputeRequest, type ComputeRequest, type ComputeInput } from './compute-request.js';
export type { ComputeOutput } from './compute-player.js';
