/** fedcrypt/transport: the channel interface and its in-memory implementation. */
export type { Transport, PlayerStats, ReceiveOptions } from './channel.js';
export { TransportError } from './errors.js';
export { MemoryHub, MemoryTransport, getDefaultTransport, type MemoryTransportOptions } from './memory.js';
