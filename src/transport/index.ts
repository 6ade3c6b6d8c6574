/** fedcrypt/transport: the channel interface, the in-memory and the gRPC implementations. */
export type { Transport, PlayerStats, ReceiveOptions } from './channel.js';
export { TransportError, PeerError } from './errors.js';
export { DEFAULT_LIMITS, LIMIT_NAMES, type ReceiveLimits } from './limits.js';
export { CriticalPathTransport } from './critical-path.js';
export { MemoryHub, MemoryTransport, getDefaultTransport, type MemoryHubOptions, type MemoryTransportOptions } from './memory.js';
export { GrpcTransport, deploymentContext, type GrpcTransportOptions, type TransportEvent } from './grpc.js';
export { ROLES, LINK_MODES, ConfigError, parseAddress, validateConfig, parseConfig, loadConfig, playerEntry, pinnedKeys, pinnedCertificates, formatConfig, type Role, type LinkMode, type PlayerEntry, type DeployConfig, type ConfigOptions } from './config.js';
