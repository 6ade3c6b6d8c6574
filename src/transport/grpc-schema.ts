/**
 * The gRPC wire schema (src/transport/proto/fedcrypt.proto) as a protobufjs
 * JSON descriptor, so that the compiled package needs no .proto file at run
 * time. test/transport/schema.test.ts checks it against the .proto file.
 */
import { fromJSON, type PackageDefinition } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';

export const SCHEMA_VERSION = 1;
export const SERVICE_PATH = 'fedcrypt.transport.v1.PlayerLink';

const bytesField = (id: number) => ({ type: 'bytes', id });

export const SCHEMA_JSON = {
  nested: {
    fedcrypt: {
      nested: {
        transport: {
          nested: {
            v1: {
              nested: {
                PlayerLink: {
                  methods: {
                    Link: { requestType: 'LinkFrame', requestStream: true, responseType: 'LinkFrame', responseStream: true },
                  },
                },
                LinkFrame: {
                  oneofs: { body: { oneof: ['hello', 'reply', 'finish', 'ready', 'sealed', 'refusal', 'open', 'chunk'] } },
                  fields: {
                    hello: { type: 'Hello', id: 1 },
                    reply: { type: 'HandshakeReply', id: 2 },
                    finish: { type: 'HandshakeFinish', id: 3 },
                    ready: { type: 'Ready', id: 4 },
                    sealed: { type: 'Sealed', id: 5 },
                    refusal: { type: 'Refusal', id: 6 },
                    open: { type: 'Open', id: 7 },
                    chunk: { type: 'Chunk', id: 8 },
                  },
                },
                Hello: { fields: { schema_version: { type: 'uint32', id: 1 }, handshake: bytesField(2) } },
                HandshakeReply: { fields: { handshake: bytesField(1) } },
                HandshakeFinish: { fields: { handshake: bytesField(1) } },
                Ready: { fields: {} },
                Sealed: { fields: { frame: bytesField(1) } },
                Refusal: { fields: { reason: { type: 'string', id: 1 } } },
                Open: { fields: { schema_version: { type: 'uint32', id: 1 }, context: bytesField(2) } },
                Chunk: { fields: { frame: bytesField(1), round: { type: 'uint32', id: 2 } } },
              },
            },
          },
        },
      },
    },
  },
};

/** Options for proto-loader (the same for the JSON descriptor and the .proto file). */
export const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true } as const;

export function loadSchema(): PackageDefinition {
  return fromJSON(SCHEMA_JSON as Parameters<typeof fromJSON>[0], LOADER_OPTIONS);
}

/** What a LinkFrame decodes to (proto-loader with oneofs: true). */
export interface LinkFrame {
  body?: 'hello' | 'reply' | 'finish' | 'ready' | 'sealed' | 'refusal' | 'open' | 'chunk';
  hello?: { schema_version?: number; handshake?: Uint8Array };
  reply?: { handshake?: Uint8Array };
  finish?: { handshake?: Uint8Array };
  ready?: Record<string, never>;
  /**
   * On send, `pieces` (concatenated) may stand for `frame`: they are copied
   * straight into the wire buffer, taken from `pool` if given (see WirePool;
   * `wire` is then set by the serializer and must be released by the write's
   * callback with `releaseWire`).
   */
  sealed?: { frame?: Uint8Array; pieces?: readonly Uint8Array[]; pool?: WirePool; wire?: Buffer };
  refusal?: { reason?: string };
  open?: { schema_version?: number; context?: Uint8Array };
  /**
   * On send, `encoded` may stand for the whole frame: the serialized
   * LinkFrame (encodeSealedPieces with a round), passed through as is; if
   * `pool` is set it is also `wire`, released to the pool by the write's
   * callback (releaseWire). The sender encodes at once, so that the payload
   * may be reused as soon as `send` resolves even if grpc-js queues the frame.
   */
  chunk?: { frame?: Uint8Array; round?: number; encoded?: Buffer; pool?: WirePool; wire?: Buffer };
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/**
 * Protobuf encoding of LinkFrame { sealed { frame = concat(pieces) } }, or,
 * with a `round`, of LinkFrame { chunk { frame = concat(pieces), round } },
 * by hand: one allocation and one copy (protobufjs would need the frame
 * concatenated first). test/transport/schema.test.ts checks it against protobufjs.
 */
export function encodeSealedPieces(pieces: readonly Uint8Array[], pool?: WirePool, round?: number): Buffer {
  let n = 0;
  for (const p of pieces) n += p.length;
  const chunk = round !== undefined;
  // field 1 (frame), wire type 2; for a Chunk, field 2 (round), varint
  const inner = 1 + varintLength(n) + n + (chunk ? 1 + varintLength(round) : 0);
  const size = 1 + varintLength(inner) + inner;
  const out = pool ? pool.take(size) : Buffer.allocUnsafeSlow(size);
  out[0] = chunk ? (8 << 3) | 2 : (5 << 3) | 2; // LinkFrame.chunk or LinkFrame.sealed
  let at = writeVarint(out, 1, inner);
  out[at++] = (1 << 3) | 2; // .frame
  at = writeVarint(out, at, n);
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  if (chunk) {
    out[at++] = 2 << 3; // Chunk.round
    at = writeVarint(out, at, round);
  }
  return out;
}

/**
 * Reusable wire buffers for outgoing sealed frames. grpc-js copies every
 * serialized message into its own framed buffer before the write's callback
 * runs, so the serialized buffer can be reused from then on: the sender then
 * touches no fresh memory for it (on the project's VM a fresh page costs
 * ~15-20 us to fault in: 64 faults per 256 KiB chunk). A buffer goes back to
 * the pool only through `releaseWire`, called from the write's callback.
 */
export class WirePool {
  readonly #free: Buffer[] = [];
  #bytes = 0;
  /** @param maxBytes most bytes kept for reuse (beyond, released buffers are left to the GC). */
  constructor(readonly bufferBytes: number, readonly maxBytes = 32 * 1024 * 1024) {}

  /** A buffer of at least `size` bytes (a view of exactly `size` bytes). */
  take(size: number): Buffer {
    if (size > this.bufferBytes) return Buffer.allocUnsafeSlow(size);
    const b = this.#free.pop();
    if (b !== undefined) {
      this.#bytes -= b.length;
      return b.subarray(0, size);
    }
    return Buffer.allocUnsafeSlow(this.bufferBytes).subarray(0, size);
  }

  give(view: Buffer): void {
    if (view.buffer.byteLength !== this.bufferBytes || view.byteOffset !== 0) return;
    if (this.#bytes + this.bufferBytes > this.maxBytes) return;
    this.#bytes += this.bufferBytes;
    this.#free.push(Buffer.from(view.buffer, 0, this.bufferBytes));
  }

  /** Buffers waiting for reuse. */
  get size(): number {
    return this.#free.length;
  }
}

/** Call from the write callback of a frame: returns its wire buffer (if any) to its pool. */
export function releaseWire(frame: LinkFrame): void {
  const s = frame.sealed ?? frame.chunk;
  if (s?.wire === undefined) return;
  const w = s.wire;
  s.wire = undefined;
  s.pool?.give(w);
}

function serializePieces(s: NonNullable<LinkFrame['sealed']>): Buffer {
  // A frame object written twice (fault-injection taps) may be serialized
  // again before the first write's callback: only one pooled buffer per frame
  // object is in flight at a time; the other copies get fresh buffers.
  if (s.pool === undefined || s.wire !== undefined) return encodeSealedPieces(s.pieces!);
  const out = encodeSealedPieces(s.pieces!, s.pool);
  s.wire = out;
  return out;
}

/** The PlayerLink service definition with the fast path for sealed and chunk frames. */
export function linkService(): ServiceDefinition {
  const def = loadSchema()[SERVICE_PATH] as unknown as ServiceDefinition;
  const link = def['Link']!;
  const fast = (slow: (v: LinkFrame) => Buffer) => (v: LinkFrame): Buffer =>
    v.sealed?.pieces ? serializePieces(v.sealed) : v.chunk?.encoded ? v.chunk.encoded : slow(v);
  return {
    Link: {
      ...link,
      requestSerialize: fast(link.requestSerialize as (v: LinkFrame) => Buffer),
      responseSerialize: fast(link.responseSerialize as (v: LinkFrame) => Buffer),
    },
  } as ServiceDefinition;
}
