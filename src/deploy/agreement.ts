/**
 * Round agreement: the revealing compute servers check, before they take part
 * in a round's reveal, that every data owner of the round got the same job
 * and the same weights, and that the aggregate has as many contributors as
 * the strictest of them requires.
 *
 * Why: the model owner sends each data owner its own `go` message (the
 * weights) and its own job spec. Without this check it could send the
 * victim the real weights and every other owner all-zero weights (whose
 * gradients are zero but for the last bias), and "the mean" would be the
 * victim's update; or send the victim a spec listing five owners (passing
 * its local --min-contributors 5) and the others a spec listing three.
 *
 * Each data owner sends each revealing server (ABY3: server0 and server1,
 * whose two sums the model owner needs; Pond: server0 and server1, which hold
 * the shares) 68 bytes per round: sha256 of its canonical job spec, sha256 of
 * the weights it received, and its own minimum of contributors. A server
 * compares them with its own spec hash and with each other, and refuses
 * (PolicyError, rule 'agreement') before it sends anything for the round.
 * One honest revealing server is enough: the model owner needs both sums.
 */
import { createHash } from 'node:crypto';
import { PolicyError } from '../core/errors.js';
import type { JobSpec } from './job.js';

const SIZE = 32 + 32 + 4;

/** sha256 of the job spec with its keys sorted (the same bytes whatever order the fields came in). */
export function specHash(spec: JobSpec): Uint8Array {
  const keys = Object.keys(spec).sort();
  return new Uint8Array(createHash('sha256').update(JSON.stringify(spec, keys)).digest());
}

/** The servers that reveal (or hold) the round's aggregate and so check the agreement. */
export function revealingServers(spec: Pick<JobSpec, 'protocol' | 'servers'>): string[] {
  return spec.protocol === 'plaintext' ? [] : spec.servers.slice(0, 2);
}

/** A data owner's agreement message for a round: its spec hash, the digest of the weights it got, its minimum of contributors. */
export function encodeAgreement(spec: Uint8Array, weights: Uint8Array, minContributors: number): Uint8Array {
  if (spec.length !== 32) throw new RangeError(`encodeAgreement: "spec" expected 32 bytes, got ${spec.length}`);
  if (!Number.isInteger(minContributors) || minContributors < 1 || minContributors > 0xffffffff) throw new RangeError(`encodeAgreement: "minContributors" expected an integer in [1, 2^32), got ${minContributors}`);
  const out = new Uint8Array(SIZE);
  out.set(spec, 0);
  out.set(createHash('sha256').update(weights).digest(), 32);
  new DataView(out.buffer).setUint32(64, minContributors);
  return out;
}

/**
 * The server's check of the agreement messages of round `round`, one per data
 * owner (in spec order). Throws PolicyError('agreement') naming what differs.
 */
export function checkAgreement(own: Uint8Array, messages: readonly Uint8Array[], owners: readonly string[], round: number, me: string): void {
  if (messages.length !== owners.length) throw new RangeError(`checkAgreement: ${messages.length} messages for ${owners.length} data owners`);
  const eq = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
  let strictest = 0;
  let by = '';
  messages.forEach((m, i) => {
    const o = owners[i]!;
    if (m.length !== SIZE) throw new PolicyError('agreement', `round ${round}: ${me} got a ${m.length}-byte agreement from '${o}', expected ${SIZE}`);
    if (!eq(m.subarray(0, 32), own)) throw new PolicyError('agreement', `round ${round}: '${o}' was sent another job spec than ${me} under the same job id: ${me} takes no part`);
    if (!eq(m.subarray(32, 64), messages[0]!.subarray(32, 64))) {
      throw new PolicyError('agreement', `round ${round}: '${o}' and '${owners[0]!}' were sent different weights: ${me} reveals nothing (an owner sent weights of its own would stand alone in the mean)`);
    }
    const min = new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(64);
    if (min > strictest) [strictest, by] = [min, o];
  });
  if (owners.length < strictest) throw new PolicyError('minContributors', `round ${round}: '${by}' requires at least ${strictest} contributors, the job has ${owners.length}: ${me} reveals nothing`);
}
