/**
 * The communication graphs of SecAgg (complete) and SecAgg+ (Harary).
 *
 * Clients are numbered 0..n-1 (the plan's client order); a client's Shamir
 * evaluation point is its number + 1 (index 0 is never a share).
 *
 * H(n, k), k even (Bell et al., CCS'20): the clients sit on a ring in the
 * order of a random permutation drawn from a PUBLIC seed (every party derives
 * the same graph; the server cannot choose positions after seeing who is
 * corrupt if the seed is fixed before, e.g. a hash of the round's public
 * keys), and each is joined to the k/2 clients on either side of it. Memory
 * is O(n): the permutation and its inverse; neighbour lists are computed on
 * demand.
 *
 * Permutation (docs/secagg.md): key = HKDF-SHA256(ikm = seed, salt =
 * "fedcrypt/secagg/harary/v1", info = "permutation" || u32be(n) || u32be(k), 16);
 * words = AES-128-CTR(key, IV = 0) read as u32 little-endian; Fisher-Yates:
 * for i = n-1 down to 1, j = uniform in [0, i] by rejection (draw w, accept if
 * w < 2^32 - (2^32 mod (i+1)), j = w mod (i+1)), swap ring[i], ring[j],
 * starting from ring = [0, 1, ..., n-1]. ring[p] is the client at position p.
 */
import { hkdfSync } from 'node:crypto';
import { Prg } from '../crypto/prg.js';

export const HARARY_LABEL = 'fedcrypt/secagg/harary/v1';
export const GRAPH_SEED_BYTES = 32;

export interface SecAggGraph {
  readonly kind: 'complete' | 'harary';
  /** Number of clients. */
  readonly n: number;
  /** Neighbours per client (n - 1 for the complete graph). */
  readonly degree: number;
  /** Client i's neighbours, ascending. */
  neighbours(i: number): number[];
  isNeighbour(i: number, j: number): boolean;
}

function checkN(n: unknown, fn: string, min: number): number {
  if (typeof n !== 'number') throw new TypeError(`${fn}: "n" expected an integer, got ${n === null ? 'null' : typeof n}`);
  if (!Number.isInteger(n) || n < min || n > 2 ** 26) throw new RangeError(`${fn}: "n" expected an integer in [${min}, ${2 ** 26}], got ${n}`);
  return n;
}

function checkClient(i: unknown, name: string, n: number, fn: string): number {
  if (typeof i !== 'number') throw new TypeError(`${fn}: "${name}" expected a client number, got ${i === null ? 'null' : typeof i}`);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`${fn}: "${name}" expected a client number in [0, ${n - 1}], got ${i}`);
  return i;
}

/** Every client is a neighbour of every other (SecAgg). */
export function completeGraph(n: number): SecAggGraph {
  checkN(n, 'completeGraph', 2);
  return {
    kind: 'complete',
    n,
    degree: n - 1,
    neighbours(i) {
      checkClient(i, 'i', n, 'completeGraph.neighbours');
      const out: number[] = [];
      for (let j = 0; j < n; j++) if (j !== i) out.push(j);
      return out;
    },
    isNeighbour(i, j) {
      checkClient(i, 'i', n, 'completeGraph.isNeighbour');
      checkClient(j, 'j', n, 'completeGraph.isNeighbour');
      return i !== j;
    },
  };
}

/** The ring order of H(n, k) for `seed` (ring[p] = client at position p), as documented above. */
export function hararyRing(n: number, k: number, seed: Uint8Array): Uint32Array {
  const info = Buffer.alloc(11 + 8);
  info.write('permutation', 0, 'latin1');
  info.writeUInt32BE(n, 11);
  info.writeUInt32BE(k, 15);
  const key = new Uint8Array(hkdfSync('sha256', seed, Buffer.from(HARARY_LABEL), info, 16));
  const prg = new Prg(key);
  const ring = new Uint32Array(n);
  for (let i = 0; i < n; i++) ring[i] = i;
  const words = new Uint32Array(4096);
  let pos = words.length;
  for (let i = n - 1; i >= 1; i--) {
    const m = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % m);
    let w: number;
    do {
      if (pos === words.length) { prg.fill(words); pos = 0; }
      w = words[pos++]!;
    } while (w >= limit);
    const j = w % m;
    const tmp = ring[i]!;
    ring[i] = ring[j]!;
    ring[j] = tmp;
  }
  return ring;
}

/**
 * H(n, k) with positions permuted by `seed` (32 public bytes): each client is
 * joined to the k/2 clients on either side of its ring position. k even,
 * 2 <= k <= n - 1.
 */
export function hararyGraph(n: number, k: number, seed: Uint8Array): SecAggGraph {
  const fn = 'hararyGraph';
  checkN(n, fn, 3);
  if (typeof k !== 'number') throw new TypeError(`${fn}: "k" expected an even integer, got ${k === null ? 'null' : typeof k}`);
  if (!Number.isInteger(k) || k < 2 || k > n - 1 || k % 2 !== 0) throw new RangeError(`${fn}: "k" expected an even integer in [2, ${n - 1}], got ${k}`);
  if (!(seed instanceof Uint8Array)) throw new TypeError(`${fn}: "seed" expected Uint8Array of ${GRAPH_SEED_BYTES} bytes, got ${seed === null ? 'null' : typeof seed}`);
  if (seed.length !== GRAPH_SEED_BYTES) throw new RangeError(`${fn}: "seed" expected ${GRAPH_SEED_BYTES} bytes, got ${seed.length}`);
  const ring = hararyRing(n, k, seed);
  const position = new Uint32Array(n);
  for (let p = 0; p < n; p++) position[ring[p]!] = p;
  const half = k / 2;
  return {
    kind: 'harary',
    n,
    degree: k,
    neighbours(i) {
      checkClient(i, 'i', n, 'hararyGraph.neighbours');
      const p = position[i]!;
      const out: number[] = [];
      for (let d = 1; d <= half; d++) out.push(ring[(p + d) % n]!, ring[(p - d + n) % n]!);
      return out.sort((a, b) => a - b);
    },
    isNeighbour(i, j) {
      checkClient(i, 'i', n, 'hararyGraph.isNeighbour');
      checkClient(j, 'j', n, 'hararyGraph.isNeighbour');
      const d = Math.abs(position[i]! - position[j]!);
      const ringDistance = Math.min(d, n - d);
      return ringDistance >= 1 && ringDistance <= half;
    },
  };
}
