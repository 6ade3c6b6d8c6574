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
} from './config.js';
export { keygen, keyPaths, loadIdentity, type KeygenResult } from './keys.js';
export { parseJsonStrict, JsonSyntaxError, DuplicateKeyError } from './json.js';
export { startPlayer, type PlayerOptions } from './player.js';
