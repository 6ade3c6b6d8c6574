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
                  oneofs: { body: { oneof: ['hello', 'reply', 'finish', 'ready', 'sealed', 'refusal'] } },
                  fields: {
                    hello: { type: 'Hello', id: 1 },
                    reply: { type: 'HandshakeReply', id: 2 },
                    finish: { type: 'HandshakeFinish', id: 3 },
                    ready: { type: 'Ready', id: 4 },
                    sealed: { type: 'Sealed', id: 5 },
                    refusal: { type: 'Refusal', id: 6 },
                  },
                },
                Hello: { fields: { schema_version: { type: 'uint32', id: 1 }, handshake: bytesField(2) } },
                HandshakeReply: { fields: { handshake: bytesField(1) } },
                HandshakeFinish: { fields: { handshake: bytesField(1) } },
                Ready: { fields: {} },
                Sealed: { fields: { frame: bytesField(1) } },
                Refusal: { fields: { reason: { type: 'string', id: 1 } } },
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
  body?: 'hello' | 'reply' | 'finish' | 'ready' | 'sealed' | 'refusal';
  hello?: { schema_version?: number; handshake?: Uint8Array };
  reply?: { handshake?: Uint8Array };
  finish?: { handshake?: Uint8Array };
  ready?: Record<string, never>;
  /** On send, `pieces` (concatenated) may stand for `frame`: they are copied straight into the wire buffer. */
  sealed?: { frame?: Uint8Array; pieces?: readonly Uint8Array[] };
  refusal?: { reason?: string };
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
 * Protobuf encoding of LinkFrame { sealed { frame = concat(pieces) } }, by
 * hand: one allocation and one copy (protobufjs would need the frame
 * concatenated first). test/transport/schema.test.ts checks it against protobufjs.
 */
export function encodeSealedPieces(pieces: readonly Uint8Array[]): Buffer {
  let n = 0;
  for (const p of pieces) n += p.length;
  const inner = 1 + varintLength(n) + n; // Sealed: field 1, wire type 2
  const out = Buffer.allocUnsafeSlow(1 + varintLength(inner) + inner);
  out[0] = (5 << 3) | 2; // LinkFrame.sealed
  let at = writeVarint(out, 1, inner);
  out[at++] = (1 << 3) | 2; // Sealed.frame
  at = writeVarint(out, at, n);
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The PlayerLink service definition with the fast path for sealed frames. */
export function linkService(): ServiceDefinition {
  const def = loadSchema()[SERVICE_PATH] as unknown as ServiceDefinition;
  const link = def['Link']!;
  const fast = (slow: (v: LinkFrame) => Buffer) => (v: LinkFrame): Buffer =>
    v.sealed?.pieces ? encodeSealedPieces(v.sealed.pieces) : slow(v);
  return {
    Link: {
      ...link,
      requestSerialize: fast(link.requestSerialize as (v: LinkFrame) => Buffer),
      responseSerialize: fast(link.responseSerialize as (v: LinkFrame) => Buffer),
    },
  } as ServiceDefinition;
}
