/**
 * What the two halves of GrpcTransport share: the dialing side
 * (grpc-outgoing.ts) and the serving side (grpc-incoming.ts) of one process's
 * links, built once by the transport from its options and the config.
 */
import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { CipherSuite } from '../crypto/secure-channel.js';
import type { Identity } from '../crypto/identity.js';
import type { TlsIdentity } from '../crypto/tls-identity.js';
import type { DeployConfig, LinkMode, PlayerEntry } from './config.js';
import { SCHEMA_VERSION } from './grpc-schema.js';

export interface TransportEvent {
  /** link-up / link-down: a link was established or lost; refused: a link was refused (or closed over a limit); dropped: a frame or message was discarded. */
  type: 'link-up' | 'link-down' | 'refused' | 'dropped';
  /** The remote player (claimed name if not authenticated). */
  peer: string | undefined;
  /** The local player concerned. */
  local: string | undefined;
  reason: string;
}

/** A player hosted by this process: its X25519 identity ('noise' links) and/or its TLS identity ('tls' links). */
export interface LocalPlayer {
  name: string;
  identity?: Identity;
  tls?: TlsIdentity;
}

const MiB = 1 << 20;
export const MAX_CHUNK = 16 * MiB;
/** Room for a chunk's header and the frame's encoding above the chunk size. */
export const FRAME_MARGIN = 64 * 1024;
/** HTTP/2 flow-control window (per stream and per connection) on both ends. */
export const WINDOW = 16 * MiB;

export interface LinkContext {
  readonly mode: LinkMode;
  readonly entries: ReadonlyMap<string, PlayerEntry>;
  /** 'noise': pinned X25519 keys by player. */
  readonly pinned: ReadonlyMap<string, Uint8Array>;
  /** 'tls': pinned certificates (DER) by player, and the player of each certificate (base64 DER). */
  readonly certs: ReadonlyMap<string, Uint8Array>;
  readonly certOwner: ReadonlyMap<string, string>;
  readonly locals: ReadonlyMap<string, LocalPlayer>;
  /** deploymentContext(config, runId). */
  readonly context: Uint8Array;
  readonly connectTimeout: number;
  readonly suite: CipherSuite;
  readonly window: number | undefined;
  readonly log: (e: TransportEvent) => void;
  readonly ctor: grpc.ServiceClientConstructor;
  readonly grpcOptions: grpc.ChannelOptions;
  /** Whether the transport is closed. */
  closed(): boolean;
}

/** The context bound into every link: links mode, run id, and the players' names, roles and pinned credentials. */
export function deploymentContext(config: DeployConfig, runId: string): Uint8Array {
  const mode = config.links ?? 'noise';
  const h = createHash('sha256').update(`fedcrypt-grpc/v${SCHEMA_VERSION}\0${mode === 'tls' ? 'tls\0' : ''}${runId}\0`);
  for (const p of [...config.players].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(`${p.name}\0${p.role ?? ''}\0`).update(p.publicKey ?? new Uint8Array(0));
    if (mode === 'tls') h.update(`\0${p.certificate?.length ?? 0}\0`).update(p.certificate ?? new Uint8Array(0));
  }
  return new Uint8Array(h.digest());
}

/** The 4-byte round id carried by every 'noise' frame as associated data. */
export function roundAd(round: number): Uint8Array {
  const a = new Uint8Array(4);
  new DataView(a.buffer).setUint32(0, round);
  return a;
}
