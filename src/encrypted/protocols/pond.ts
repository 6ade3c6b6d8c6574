/**
 * Pond (TF Encrypted): 2-party additive secret sharing x = x0 + x1 mod 2^l
 * between server0 and server1, multiplication with Beaver triples from a
 * `TripleSource` (a trusted dealer, the "crypto producer", by default), and
 * SecureML-style local truncation (each server shifts its own share; off by at
 * most one unit in the last place, except with probability about
 * |x| / 2^(l-1) per element, see docs/encrypted.md).
 *
 * Communication (elements of Z_2^l):
 * - encrypt: owner -> server0 a 16-byte seed, owner -> server1 x - PRG(seed).
 * - mul of n elements: each server sends 2n (its shares of x-a and y-b); the dealer sends n.
 * - matmul [m,k]@[k,n]: each server sends mk + kn; the dealer sends mn.
 * - reveal: each server sends its share to the target (none to itself).
 */
import { Prg, SEED_BYTES } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { TransportError } from '../../transport/errors.js';
import { DuplicatePlayerError, describe } from '../errors.js';
import { Player } from '../player.js';
import { AdditiveTensor, type Encoding, type ProtocolTensor, type Sensitivity } from '../tensor.js';
import { TrustedDealer, type TripleShares, type TripleSource } from '../triples.js';
import { checkOptions, checkRoster, Protocol, type Parts, type ProtocolOptions } from './base.js';

export class Pond extends Protocol<AdditiveTensor> {
  readonly kind = 'pond';
  readonly server0: Player;
  readonly server1: Player;
  readonly triples: TripleSource;

  constructor(server0: Player, server1: Player, cryptoProducer: Player | TripleSource, options?: ProtocolOptions) {
    const opts = checkOptions('Pond', options);
    super('pond', 'Pond', opts);
    const isSource = cryptoProducer !== null && typeof cryptoProducer === 'object' && !(cryptoProducer instanceof Player) && typeof (cryptoProducer as TripleSource).triple === 'function';
    if (cryptoProducer === undefined || cryptoProducer === null) throw new TypeError(`Pond: argument 'cryptoProducer' is missing (expected a Player or a TripleSource)`);
    if (!isSource && !(cryptoProducer instanceof Player)) throw new TypeError(`Pond: argument 'cryptoProducer' must be a Player or a TripleSource, got ${describe(cryptoProducer)}`);
    const producer = isSource ? (cryptoProducer as TripleSource).player : (cryptoProducer as Player);
    const roster = producer === undefined ? checkRoster('Pond', ['server0', 'server1'], [server0, server1]) : checkRoster('Pond', ['server0', 'server1', 'cryptoProducer'], [server0, server1, producer]);
    [this.server0, this.server1] = roster as [Player, Player];
    if (producer !== undefined && (producer.name === this.server0.name || producer.name === this.server1.name)) {
      throw new DuplicatePlayerError(`Pond: the crypto producer must differ from the servers`);
    }
    this.triples = isSource ? (cryptoProducer as TripleSource) : new TrustedDealer(cryptoProducer as Player);
    roster.forEach((p) => this.register(p));
  }

  get players(): readonly Player[] {
    return this.triples.player === undefined ? [this.server0, this.server1] : [this.server0, this.server1, this.triples.player];
  }
  protected get partHolders(): readonly Player[] { return [this.server0, this.server1]; }
  protected get constantSlots(): readonly number[] { return [0]; }

  protected makeTensor(parts: Parts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): AdditiveTensor {
    return new AdditiveTensor(this, [this.server0, this.server1], parts, shape, encoding, sensitivity);
  }

  protected ownsTensor(x: ProtocolTensor): x is AdditiveTensor {
    return x instanceof AdditiveTensor;
  }

  protected async setup(): Promise<void> {}

  protected async shareRing(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string): Promise<Parts> {
    const [s, x1] = await this.#shareMessages(owner, value, shape, key);
    return [s === undefined ? undefined : this.randomRing(shape, new Prg(s)), x1];
  }

  /** As shareRing, each part added into `acc` where it arrives (the seed expands through the scratch buffer). */
  protected override async shareAddInto(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string, acc: Parts, accept: () => boolean = () => true): Promise<void> {
    const [s, x1] = await this.#shareMessages(owner, value, shape, key, true);
    if ((s !== undefined || x1 !== undefined) && !accept()) return;
    if (s !== undefined) ring.addInPlace(this.must(acc[0], this.server0, 'running sum'), new Prg(s).ringTensorInto(this.scratch(shape)));
    if (x1 !== undefined) ring.addInPlace(this.must(acc[1], this.server1, 'running sum'), x1);
  }

  /**
   * The messages of sharing `value` (where `owner` executes): a seed to
   * server0, x - PRG(seed) to server1 (in place in `value` when `own`). Resolves with what arrived here: the
   * seed (checked) at server0, the masked share at server1.
   */
  async #shareMessages(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string, own = false): Promise<[Uint8Array | undefined, RingTensor | undefined]> {
    let seed: Uint8Array | undefined;
    let masked: RingTensor | undefined;
    if (this.isLocal(owner)) {
      const prg = new Prg();
      seed = prg.seed;
      // the mask expands through the scratch buffer; the value is overwritten only when it is the protocol's own (`own`: encryptAddN's encoding)
      const x = this.must(value, owner, 'input');
      masked = own ? ring.subInPlace(x, prg.ringTensorInto(this.scratch(shape))) : ring.sub(x, prg.ringTensorInto(this.scratch(shape)));
    }
    const [s, x1] = await Promise.all([
      this.moveBytes(owner, this.server0, `${key}/seed`, seed),
      this.move(owner, this.server1, `${key}/masked`, masked, shape),
    ]);
    if (s !== undefined && s.length !== SEED_BYTES) throw new TransportError(`Pond: input seed has ${s.length} bytes, expected ${SEED_BYTES}`);
    return [s === undefined ? undefined : new Uint8Array(s), x1];
  }

  /** SecureML local truncation of share i; overwrites `z` when `own`. */
  #truncShare(i: number, z: RingTensor, f = this.fixed.frac, own = false): RingTensor {
    if (i === 0) return own ? ring.shrLogicalInPlace(z, f) : ring.shrLogical(z, f);
    return ring.negInPlace(ring.shrLogicalInPlace(own ? ring.negInPlace(z) : ring.neg(z), f));
  }

  async #beaver(x: Parts, y: Parts, kind: 'mul' | 'matmul', shapeX: readonly number[], shapeY: readonly number[], shapeZ: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    const servers = [this.server0, this.server1] as const;
    const triple = await this.triples.triple({ kind, bits: this.bits, shapeA: shapeX, shapeB: shapeY, shapeC: shapeZ, session: this.id, key: `${key}/triple`, servers, transport: this.transport, ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }) });
    const product = kind === 'mul' ? ring.mul : ring.matmul;
    const step = async (i: 0 | 1): Promise<RingTensor | undefined> => {
      const me = servers[i];
      const other = servers[1 - i]!;
      if (!this.isLocal(me)) return undefined;
      const t = this.must<TripleShares>(triple[i], me, 'triple');
      const e = ring.sub(this.must(x[i], me, 'x'), t.a);
      const d = ring.sub(this.must(y[i], me, 'y'), t.b);
      const [, , eo, doo] = await Promise.all([
        this.sendRing(me, other, `${key}/e${i}`, e),
        this.sendRing(me, other, `${key}/d${i}`, d),
        this.recvRing(me, other, `${key}/e${1 - i}`, shapeX),
        this.recvRing(me, other, `${key}/d${1 - i}`, shapeY),
      ]);
      const E = ring.add(e, eo);
      const D = ring.add(d, doo);
      const z = ring.addInPlace(product(E, t.b), t.c);
      ring.addInPlace(z, product(t.a, D));
      if (i === 0) ring.addInPlace(z, product(E, D));
      return trunc ? this.#truncShare(i, z, this.fixed.frac, true) : z;
    };
    return Promise.all([step(0), step(1)]);
  }

  protected mulParts(x: Parts, y: Parts, shape: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    return this.#beaver(x, y, 'mul', shape, shape, shape, key, trunc);
  }

  protected matmulParts(x: Parts, y: Parts, sx: readonly number[], sy: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    return this.#beaver(x, y, 'matmul', sx, sy, [sx[0]!, sy[1]!], key, trunc);
  }

  protected async truncParts(x: Parts, _shape: readonly number[], _key: string, shift?: number): Promise<Parts> {
    return x.map((p, i) => (p === undefined ? undefined : this.#truncShare(i, p, shift)));
  }

  protected async revealParts(x: Parts, shape: readonly number[], to: Player, key: string): Promise<RingTensor | undefined> {
    const [a, b] = await Promise.all([
      this.move(this.server0, to, `${key}/reveal0`, x[0], shape),
      this.move(this.server1, to, `${key}/reveal1`, x[1], shape),
    ]);
    if (!this.isLocal(to)) return undefined;
    return ring.add(a!, b!);
  }
}
