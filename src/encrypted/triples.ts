/**
 * Sources of Beaver triples for Pond, behind one interface (as CrypTen's
 * providers): a trusted dealer today, other sources (OT, HE) later.
 *
 * The trusted dealer shares a PRF key with each server (sent once per protocol
 * instance). For a triple (a, b, c = a*b or a@b): server0 derives a0, b0, c0
 * and server1 derives a1, b1 from their keys; the dealer derives all of them,
 * and sends only c1 = c - c0 to server1. Cost: |c| ring elements from the
 * dealer to server1 per triple, nothing else. A 'matmul' triple may carry a
 * public linear map of a (`mapA`, e.g. im2col): c = mapA(a) · b with a dealt
 * in its own (smaller) shape, so the servers open x − a before the map (`mapB`
 * likewise for b); and
 * one of the product (`mapC`, e.g. col2im), c dealt after it.
 *
 * Other correlated randomness (Pond's boolean ops: AND triples over bits,
 * random bits shared both ways) goes through `deal`: each server's material
 * comes from its own key's stream for the request, and the dealer, which can
 * run both streams, sends server1 one message, the correction that makes the
 * material correlated (docs/encrypted-ml.md, "Pond comparison"). Same
 * security model: the dealer is trusted not to collude with either server.
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
  /**
   * 'matmul' only: a public linear map applied to a before the product
   * (c = mapA(a) · b; a, dealt in shapeA, is what the servers get). A source
   * must honour it (TrustedDealer does).
   */
  mapA?: (a: RingTensor) => RingTensor;
  /**
   * 'matmul' only: a public linear map applied to b before the product
   * (c = mapA(a) · mapB(b); b, dealt in shapeB, is what the servers get).
   * A source must honour it.
   */
  mapB?: (b: RingTensor) => RingTensor;
  /**
   * 'matmul' only: a public linear map of the product (c = mapC(mapA(a) · mapB(b)),
   * shapeC its shape; e.g. col2im). A source must honour it.
   */
  mapC?: (c: RingTensor) => RingTensor;
}

/** What the dealing of correlated randomness needs (a TripleRequest without the triple's shapes). */
export interface DealRequest {
  session: string;
  /** Unique rendezvous prefix of this dealing. */
  key: string;
  servers: readonly [Player, Player];
  transport: Transport;
  timeoutMs?: number;
  /** Length of the correction server1 receives (checked there). */
  bytes: number;
  /**
   * Runs where the dealer executes: the correction for server1 from the two
   * servers' streams for this request (fresh, at their start).
   */
  correction(s0: Prg, s1: Prg): Uint8Array;
}

export interface Dealt {
  /** Server i's stream for the request (fresh, at its start), where server i executes. */
  streams: [Prg | undefined, Prg | undefined];
  /** The dealer's correction, where server1 executes. */
  correction: Uint8Array | undefined;
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
  /** Correlated randomness other than triples (Pond's comparisons need it; see the header). Optional. */
  deal?(req: DealRequest): Promise<Dealt>;
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

  #keys(req: Omit<DealRequest, 'bytes' | 'correction'>): Promise<(Uint8Array | undefined)[]> {
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
      const c = product(req.mapA === undefined ? a : req.mapA(a), req.mapB === undefined ? b : req.mapB(b));
      const c1 = ring.subInPlace(req.mapC === undefined ? c : req.mapC(c), prfRing(bits, k0!, `${key}/c`, shapeC));
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

  async deal(req: DealRequest): Promise<Dealt> {
    const [k0, k1] = await this.#keys(req);
    const t = req.transport;
    const [s0, s1] = req.servers;
    const nonce = `${req.key}/deal`;
    const key = `${req.key}/correction`;
    const streams: [Prg | undefined, Prg | undefined] = [t.isLocal(s0.name) ? Prg.derive(k0!, nonce) : undefined, t.isLocal(s1.name) ? Prg.derive(k1!, nonce) : undefined];
    const tasks: Promise<unknown>[] = [];
    let correction: Uint8Array | undefined;
    if (t.isLocal(this.player.name)) {
      const c = req.correction(Prg.derive(k0!, nonce), Prg.derive(k1!, nonce));
      if (c.byteLength !== req.bytes) throw new Error(`TrustedDealer: internal error: correction '${req.key}' has ${c.byteLength} bytes, expected ${req.bytes}`);
      tasks.push(t.send(this.player.name, s1.name, key, c));
    }
    if (t.isLocal(s1.name)) {
      tasks.push(t.receive(s1.name, this.player.name, key, req.timeoutMs === undefined ? undefined : { timeoutMs: req.timeoutMs }).then((p) => {
        if (p.byteLength !== req.bytes) throw new TransportError(`TrustedDealer: correction '${req.key}' has ${p.byteLength} bytes, expected ${req.bytes}`);
        correction = p;
      }));
    }
    await Promise.all(tasks);
    return { streams, correction };
  }
}
