/**
 * What a peer can make a receiving player hold: the receive limits of a
 * player's links, with their defaults and the one place their values are
 * checked (config.json's "limits" through config.ts, GrpcTransportOptions
 * and MemoryHubOptions through `resolveLimits`).
 *
 * A link is one (sending peer -> local player) pair, across every stream the
 * peer opens to that player. Every message held for a link is charged its
 * payload bytes (for a message being reassembled: the buffer allocated so
 * far), its key's length and MESSAGE_OVERHEAD bytes of bookkeeping.
 */
const MiB = 1 << 20;

export interface ReceiveLimits {
  /** Largest message sent or accepted, in bytes. */
  maxMessageBytes: number;
  /** Per link: bytes held for messages being reassembled and for completed messages nobody has claimed yet. */
  maxBufferedBytes: number;
  /** Per link: messages begun but not complete (abandoned ones included, until the link closes). */
  maxIncompleteMessages: number;
  /** A completed message nobody has asked for is dropped after this long (ms). */
  unclaimedMessageTtlMs: number;
}

export type LimitName = keyof ReceiveLimits;

export const DEFAULT_LIMITS: Readonly<ReceiveLimits> = Object.freeze({
  maxMessageBytes: 256 * MiB,
  maxBufferedBytes: 512 * MiB,
  maxIncompleteMessages: 256,
  unclaimedMessageTtlMs: 600_000,
});

/** Bookkeeping bytes charged per held message, on top of its payload and key. */
export const MESSAGE_OVERHEAD = 256;
/** Most a key and the bookkeeping add to a message's charge (keys have at most 65535 bytes). */
export const MAX_MESSAGE_EXTRA = 65_535 + MESSAGE_OVERHEAD;

/** Inclusive ranges of each limit. */
export const LIMIT_RANGES: Readonly<Record<LimitName, readonly [number, number]>> = Object.freeze({
  maxMessageBytes: [0, 2 ** 40],
  maxBufferedBytes: [MAX_MESSAGE_EXTRA, 2 ** 41],
  maxIncompleteMessages: [1, 1 << 20],
  unclaimedMessageTtlMs: [1, 2 ** 31 - 1],
} as const);

export const LIMIT_NAMES = Object.keys(LIMIT_RANGES) as readonly LimitName[];

/** What `charge` counts for one held message. */
export function messageCharge(payloadBytes: number, key: string): number {
  return payloadBytes + key.length + MESSAGE_OVERHEAD;
}

/** Why `value` is not a valid `name`, with the error class to throw; undefined if it is valid. */
export function limitProblem(name: LimitName, value: unknown): { type: 'type' | 'range'; message: string } | undefined {
  const [lo, hi] = LIMIT_RANGES[name];
  if (typeof value !== 'number' || !Number.isInteger(value)) return { type: 'type', message: `expected an integer, got ${value === null ? 'null' : typeof value === 'number' ? value : typeof value}` };
  if (value < lo || value > hi) return { type: 'range', message: `expected an integer in [${lo}, ${hi}], got ${value}` };
  return undefined;
}

/** Why the limits do not fit together (a largest message must fit in the buffer), or undefined. */
export function limitsConflict(l: Pick<ReceiveLimits, 'maxMessageBytes' | 'maxBufferedBytes'>): string | undefined {
  if (l.maxBufferedBytes >= l.maxMessageBytes + MAX_MESSAGE_EXTRA) return undefined;
  return `${l.maxBufferedBytes} is below maxMessageBytes (${l.maxMessageBytes}) plus ${MAX_MESSAGE_EXTRA} bytes of key and bookkeeping: a largest message could never be received`;
}

/**
 * The limits in force: the defaults, overridden by each layer in turn (e.g.
 * the config's, then the caller's). A bad value is a TypeError or RangeError
 * naming `${fn}: "limits.<name>"`.
 */
export function resolveLimits(fn: string, ...layers: readonly (Partial<ReceiveLimits> | undefined)[]): ReceiveLimits {
  const out: ReceiveLimits = { ...DEFAULT_LIMITS };
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (typeof layer !== 'object' || layer === null) throw new TypeError(`${fn}: "limits" expected an object, got ${layer === null ? 'null' : typeof layer}`);
    for (const [k, v] of Object.entries(layer)) {
      if (!(LIMIT_NAMES as readonly string[]).includes(k)) throw new RangeError(`${fn}: "limits.${k}" is not a limit (expected ${LIMIT_NAMES.join(', ')})`);
      if (v === undefined) continue;
      const p = limitProblem(k as LimitName, v);
      if (p) throw new (p.type === 'type' ? TypeError : RangeError)(`${fn}: "limits.${k}" ${p.message}`);
      out[k as LimitName] = v as number;
    }
  }
  const conflict = limitsConflict(out);
  if (conflict) throw new RangeError(`${fn}: "limits.maxBufferedBytes" ${conflict}`);
  return out;
}
