/**
 * The Paillier aggregation's protocol data: which placements talk over which
 * kind of channel (the channel grid), the stages of one aggregation and the
 * stages each role goes through, and the typed error of a misrouted box.
 * The roles (`paillier-roles.ts`) route every message through the grid and
 * advance a stage machine per role.
 */
import { SecureChannelError } from '../crypto/secure-channel.js';
import type { TargetPlacement } from './plan.js';
import type { RoleName } from './roles.js';

export type Placement = 'SERVER' | 'CLIENTS' | 'AGGREGATORS';
export type ChannelKind = 'sealed-box' | 'sealed-box-relayed' | 'none';

export interface ChannelGridEntry {
  readonly from: Placement;
  readonly to: Placement;
  readonly kind: ChannelKind;
  /** The party that carries the bytes when they are relayed. */
  readonly via?: 'SERVER';
  readonly carries: string;
}

/** Which pair of placements talks over which kind of channel (as data). */
export const PAILLIER_CHANNEL_GRID: readonly ChannelGridEntry[] = Object.freeze([
  { from: 'SERVER', to: 'CLIENTS', kind: 'sealed-box', carries: 'Paillier public key (authenticated by the server key)' },
  {
    from: 'SERVER',
    to: 'AGGREGATORS',
    kind: 'sealed-box',
    carries:
      "Paillier public key (authenticated by the server key); with dropout tolerance, in a relay slot, the notice that that slot's client did not contribute; target AGGREGATORS: the decrypted aggregate (which the key holder therefore knows too)",
  },
  { from: 'CLIENTS', to: 'AGGREGATORS', kind: 'sealed-box-relayed', via: 'SERVER', carries: 'packed Paillier ciphertexts, end-to-end encrypted and authenticated' },
  { from: 'AGGREGATORS', to: 'SERVER', kind: 'sealed-box', carries: 'aggregate ciphertexts (re-randomized) and the rejected clients, or a refusal without ciphertexts' },
  { from: 'CLIENTS', to: 'CLIENTS', kind: 'none', carries: 'nothing' },
  { from: 'AGGREGATORS', to: 'CLIENTS', kind: 'none', carries: 'nothing' },
  { from: 'CLIENTS', to: 'SERVER', kind: 'none', carries: 'nothing of its own (only relays boxes for AGGREGATORS)' },
].map((e) => Object.freeze(e)) as ChannelGridEntry[]);

export function channelFor(from: ChannelGridEntry['from'], to: ChannelGridEntry['to']): ChannelGridEntry {
  const e = PAILLIER_CHANNEL_GRID.find((x) => x.from === from && x.to === to);
  if (!e) throw new RangeError(`channelFor: no channel from ${from} to ${to}`);
  return e;
}

/** An authentic box that arrived in another party's slot (a router swapping or duplicating messages). */
export class MisroutedMessageError extends SecureChannelError {}

export const STAGES = ['KEYS', 'PUBLISH', 'SUBMIT', 'RELAY', 'AGGREGATE', 'DECRYPT', 'DONE'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * The stages each role goes through, in order (a subsequence of STAGES):
 *   server      KEYS (holds or generates the key pair), PUBLISH (seals the public key to every
 *               client and the aggregator), RELAY (forwards the clients' boxes), DECRYPT (and,
 *               target AGGREGATORS, seals the aggregate to the aggregator), DONE;
 *   client      KEYS (nothing yet), PUBLISH (receives and checks the key), SUBMIT, DONE;
 *   aggregator  KEYS, PUBLISH (receives and checks the key), AGGREGATE, DECRYPT (target
 *               AGGREGATORS only: receives the decrypted aggregate), DONE.
 */
export function stagesOf(role: RoleName, target: TargetPlacement): readonly Stage[] {
  if (role === 'server') return ['KEYS', 'PUBLISH', 'RELAY', 'DECRYPT', 'DONE'];
  if (role === 'client') return ['KEYS', 'PUBLISH', 'SUBMIT', 'DONE'];
  return target === 'AGGREGATORS' ? ['KEYS', 'PUBLISH', 'AGGREGATE', 'DECRYPT', 'DONE'] : ['KEYS', 'PUBLISH', 'AGGREGATE', 'DONE'];
}

/** Stage machine of one role in one aggregation (default: every stage); advancing out of order throws. */
export class StageMachine {
  readonly stages: readonly Stage[];
  #i = 0;
  constructor(stages: readonly Stage[] = STAGES) {
    const idx = stages.map((s) => STAGES.indexOf(s));
    if (stages[0] !== 'KEYS' || stages[stages.length - 1] !== 'DONE' || idx.some((j, k) => j < 0 || (k > 0 && j <= idx[k - 1]!))) {
      throw new RangeError(`StageMachine: stages must run from KEYS to DONE in protocol order, got ${stages.join(', ')}`);
    }
    this.stages = Object.freeze([...stages]);
  }
  get stage(): Stage {
    return this.stages[this.#i]!;
  }
  advance(to: Stage): void {
    if (this.stages[this.#i + 1] !== to) throw new Error(`paillier protocol: invalid stage transition ${this.stage} -> ${to}`);
    this.#i++;
  }
}

export interface RelayEvent {
  readonly invocationId: string;
  /** Slot (client index) the box is relayed for. */
  readonly client: number;
  readonly box: Uint8Array;
}

export interface ObservedMessage {
  readonly from: string;
  readonly to: string;
  readonly key: string;
  readonly payload: Uint8Array;
}

export interface PaillierReport {
  invocationId: string;
  /** Contributions in the decrypted aggregate (0 when refused: nothing was decrypted). */
  contributions: number;
  /** Clients left out and why; `error` is the typed error where the aggregator ran in this process. */
  rejected: { client: number; reason: string; error?: Error }[];
  /** Clients SERVER marked absent (they did not contribute by its collection deadline); set only when there are any. */
  absent?: number[];
  /** Set when the aggregator refused to release the aggregate. */
  refused?: { rule: string; count: number; minimum: number };
  ciphertextsPerClient: number;
  bytesPerClient: number;
}
