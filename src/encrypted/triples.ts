/**
 * Sources of Beaver triples for Pond, behind one interface (as CrypTen's
 * providers): a trusted dealer today, other sources (OT, HE) later.
 *
 * The trusted dealer shares a PRF key with each server (sent once per protocol
 * instance). For a triple (a, b, c = a*b or a@b): server0 derives a0, b0, c0
 * and server1 derives a1, b1 from their keys; the dealer derives all of them,
 * and sends only c1 = c - c0 to server1. Cost: |c| ring elements from the
 * dealer to server1 per triple, nothing else.
 */
import { Prg, SEED_BYTES } from '../crypto/prg.js';
import * as ring from '../ring/index.js';
import { RingTensor, type RingBits } from '../ring/index.js';
import type { Transport } from '../transport/channel.js';
import { TransportError } from '../transport/errors.js';
import { checkPlayer, type Player } from './player.js';

export interface TripleRequest {
  kind: 'mul' | 'matmul';
  bits: RingBits;
  /** Shapes of a, b and c (equal for 'mul'; [m,k], [k,n], [m,n] for 'matmul'). */
  shapeA: readonly number[];
  shapeB: readonly number[];
  shapeC: readonly number[];
  /** Protocol instance id (one set-up per session). */
  session: string;
  /** Unique rendezvous prefix of this triple. */
  key: string;
  servers: readonly [Player, Player];
  transport: Transport;
  /** Receive timeout (ms), if the protocol has one. */
  timeoutMs?: number;
}

export interface TripleShares {
  a: RingTensor;
  b: RingTensor;
  c: RingTensor;
}

export interface TripleSource {
  /** The player producing triples, if any (it must differ from the servers). */
  readonly player?: Player;
  /** SPMD: resolves with the shares of server0 and server1, each only where that server executes. */
  triple(req: TripleRequest): Promise<[TripleShares | undefined, TripleShares | undefined]>;
}

const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function prfRing(bits: RingBits, key: Uint8Array, nonce: string, shape: readonly number[]): RingTensor {
  return Prg.derive(key, nonce).ringTensor(bits, shape);
}

/** Triples from a trusted third party (the "crypto producer" of TFE's Pond). */
export class TrustedDealer implements TripleSource {
  readonly player: Player;
  readonly #sessions = new Map<string, Promise<(Uint8Array | undefined)[]>>();

  constructor(dealer: Player) {
    this.player = checkPlayer('TrustedDealer', 'dealer', dealer);
  }

  #keys(req: TripleRequest): Promise<(Uint8Array | undefined)[]> {
    let p = this.#sessions.get(req.session);
    if (p === undefined) {
      p = Promise.all(req.servers.map(async (s, i) => {
        const key = `${req.session}/dealer/key${i}`;
        const t = req.transport;
        let k: Uint8Array | undefined;
        if (t.isLocal(this.player.name)) {
          k = new Prg().seed;
          await t.send(this.player.name, s.name, key, k);
        }
        if (t.isLocal(s.name)) {
          const got = await t.receive(s.name, this.player.name, key, req.timeoutMs === undefined ? undefined : { timeoutMs: req.timeoutMs });
          if (got.length !== SEED_BYTES) throw new TransportError(`TrustedDealer: key from '${this.player.name}' has ${got.length} bytes, expected ${SEED_BYTES}`);
          k = got;
        }
        return k;
      }));
      this.#sessions.set(req.session, p);
    }
    return p;
  }

  async triple(req: TripleRequest): Promise<[TripleShares | undefined, TripleShares | undefined]> {
    const [k0, k1] = await this.#keys(req);
    const t = req.transport;
    const { bits, shapeA, shapeB, shapeC, key } = req;
    const [s0, s1] = req.servers;
    const product = (a: RingTensor, b: RingTensor): RingTensor => (req.kind === 'mul' ? ring.mul(a, b) : ring.matmul(a, b));
    const c1Key = `${key}/c1`;
    const tasks: Promise<unknown>[] = [];
    let out0: TripleShares | undefined;
    let out1: TripleShares | undefined;
    if (t.isLocal(this.player.name)) {
      const a = ring.addInPlace(prfRing(bits, k0!, `${key}/a`, shapeA), prfRing(bits, k1!, `${key}/a`, shapeA));
      const b = ring.addInPlace(prfRing(bits, k0!, `${key}/b`, shapeB), prfRing(bits, k1!, `${key}/b`, shapeB));
      const c1 = ring.subInPlace(product(a, b), prfRing(bits, k0!, `${key}/c`, shapeC));
      tasks.push(t.send(this.player.name, s1.name, c1Key, c1.toBytes()));
    }
    if (t.isLocal(s0.name)) {
      out0 = { a: prfRing(bits, k0!, `${key}/a`, shapeA), b: prfRing(bits, k0!, `${key}/b`, shapeB), c: prfRing(bits, k0!, `${key}/c`, shapeC) };
    }
    if (t.isLocal(s1.name)) {
      tasks.push(t.receive(s1.name, this.player.name, c1Key, req.timeoutMs === undefined ? undefined : { timeoutMs: req.timeoutMs }).then((p) => {
        const limbs = sizeOf(shapeC) * (bits / 64);
        if (p.byteLength !== limbs * 8) throw new TransportError(`TrustedDealer: triple '${key}' has ${p.byteLength} bytes, expected ${limbs * 8}`);
        const data = p.byteOffset % 8 === 0 ? new BigUint64Array(p.buffer, p.byteOffset, limbs) : new BigUint64Array(p.slice().buffer);
        out1 = { a: prfRing(bits, k1!, `${key}/a`, shapeA), b: prfRing(bits, k1!, `${key}/b`, shapeB), c: new RingTensor(bits, shapeC, data) };
      }));
    }
    await Promise.all(tasks);
    return [out0, out1];
  }
}
