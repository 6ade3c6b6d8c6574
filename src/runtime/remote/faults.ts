/**
 * Which player a failed remote invocation is about.
 *
 * When a player dies mid-computation, the first failure the driver sees is
 * often not about it: another player's command fails because its receive
 * from the dead one failed, or a client's send to it did. The driver notes
 * every failure of the invocation (its own receives, the players' failure
 * replies, which carry the peer a player lost and whether by a deadline),
 * waits briefly for the rest to come in, and names the player by the best
 * evidence:
 *
 *   0  the driver's own link to a player was lost (or cannot be made);
 *   1  a player reports its link to another was lost;
 *   2  a player failed a command by itself (the player that answered);
 *   3  a deadline passed waiting for a player (the driver's or a player's).
 *
 * A policy refusal is never reclassified: it names its party and rule.
 */
import { PolicyError } from '../../core/errors.js';
import { PeerError } from '../../transport/errors.js';

/** A player failed a command (other than by a policy refusal). */
export class RemoteCommandError extends Error {
  constructor(
    readonly player: string,
    readonly op: string,
    detail: string,
    /** The peer the player's own failure concerns (a link it lost, a deadline waiting for it). */
    readonly peer?: string,
    /** How the player lost that peer. */
    readonly peerFailure?: 'lost' | 'deadline',
  ) {
    super(`player '${player}' failed '${op}': ${detail}`);
    this.name = 'RemoteCommandError';
  }
}

/** A remote invocation failed because of `player` (by the evidence `how`). */
export class RemotePlayerError extends Error {
  override name = 'RemotePlayerError';
  constructor(
    readonly player: string,
    readonly how: 'link lost' | 'reported' | 'failed' | 'deadline',
    message: string,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

export interface NotedFailure {
  /** Where it was seen: the driver (SERVER) or the player whose command failed. */
  readonly at: string;
  readonly error: unknown;
}

const isDeadline = (m: string): boolean => /within \d+ ?ms/.test(m);

interface Blame {
  readonly player: string | undefined;
  readonly rank: number;
  readonly how: RemotePlayerError['how'];
  readonly text: string;
}

function blame(f: NotedFailure): Blame {
  const e = f.error;
  if (e instanceof RemoteCommandError) {
    if (e.peer !== undefined && e.peerFailure === 'lost') return { player: e.peer, rank: 1, how: 'reported', text: `link lost (reported by '${e.player}': ${e.message})` };
    if (e.peer !== undefined && e.peerFailure === 'deadline') return { player: e.peer, rank: 3, how: 'deadline', text: `no answer in time (reported by '${e.player}': ${e.message})` };
    return { player: e.player, rank: 2, how: 'failed', text: e.message };
  }
  if (e instanceof PeerError) {
    const m = e.message;
    return isDeadline(m) ? { player: e.peer, rank: 3, how: 'deadline', text: `no answer in time (${m})` } : { player: e.peer, rank: 0, how: 'link lost', text: `link lost (${m})` };
  }
  return { player: undefined, rank: 4, how: 'failed', text: e instanceof Error ? e.message : String(e) };
}

/** Whether `e` alone settles the question (nothing better can come). */
export function decisive(e: unknown): boolean {
  return e instanceof PolicyError || (e instanceof PeerError && !isDeadline(e.message));
}

/**
 * The error a failed invocation reports: `first` (what failed it) when it
 * is a policy refusal or already the best evidence, else a
 * RemotePlayerError naming the player the noted failures point to.
 */
export function diagnose(first: unknown, noted: readonly NotedFailure[]): unknown {
  if (first instanceof PolicyError) return first;
  const refusal = noted.find((f) => f.error instanceof PolicyError);
  if (refusal !== undefined) return refusal.error;
  const all = noted.some((f) => f.error === first) ? noted : [{ at: '', error: first }, ...noted];
  let best: Blame | undefined;
  let bestError: unknown;
  for (const f of all) {
    const b = blame(f);
    if (best === undefined || b.rank < best.rank) {
      best = b;
      bestError = f.error;
    }
  }
  if (best === undefined || best.player === undefined) return first;
  // a player's own failure is reported as it came (it names the player)
  if (bestError instanceof RemoteCommandError && best.how === 'failed') return bestError;
  return new RemotePlayerError(best.player, best.how, `player '${best.player}': ${best.text}`, bestError);
}
