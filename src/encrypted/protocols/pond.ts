/**
 * Pond (TF Encrypted): 2-party additive secret sharing x = x0 + x1 mod 2^l
 * between server0 and server1, multiplication with Beaver triples from a
 * `TripleSource` (a trusted dealer, the "crypto producer", by default), and
 * SecureML-style local truncation (each server shifts its own share; off by at
 * most one unit in the last place, except with probability about
 * |x| / 2^(l-1) per element, see docs/encrypted.md), or with option
 * truncation: 'deterministic' an exact one on dealt material (pond-trunc.ts).
 *
 * Communication (elements of Z_2^l):
 * - encrypt: owner -> server0 a 16-byte seed, owner -> server1 x - PRG(seed).
 * - mul of n elements: each server sends 2n (its shares of x-a and y-b); the dealer sends n.
 * - matmul [m,k]@[k,n]: each server sends mk + kn; the dealer sends mn.
 * - reveal: each server sends its share to the target (none to itself).
 *
 * Nonlinear ops under ABY3's names (docs/encrypted-ml.md, "Pond"):
 * comparisons, relu and select on a 2-party boolean sharing with AND triples
 * and random bits dealt by the crypto producer (pond-binary.ts,
 * pond-nonlinear.ts, pond-boolean.ts); conv2d, its gradients, avgPool, max,
 * argmax and maxPool2x2 through the protocol-independent conv.ts / pool.ts,
 * conv2d's matmul opening x − a in x's own shape (`matmulMapped`).
 */
import { Prg, SEED_BYTES } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { TransportError } from '../../transport/errors.js';
import { DuplicatePlayerError, describe, ShapeMismatchError } from '../errors.js';
import { Player } from '../player.js';
import { AdditiveTensor, BinaryAdditiveTensor, type Encoding, type ProtocolTensor, type PublicTensor, type Sensitivity } from '../tensor.js';
import { TrustedDealer, type TripleShares, type TripleSource } from '../triples.js';
import { checkOptions, checkRoster, intersectSensitivity, Protocol, type Parts, type ProtocolOptions } from './base.js';
import { ApproxOps, type ApproxOptions } from './approx.js';
import { ConvOps, type MatmulMaps, type NNHost } from './conv.js';
import type { ConvOptions } from './im2col.js';
import type { PondNet, Ring2 } from './pond-binary.js';
import { PondBoolean } from './pond-boolean.js';
import { PoolOps } from './pool.js';
import { checkTruncation, type Truncation } from './aby3-trunc.js';
import { pondExactTruncate } from './pond-trunc.js';

/** Pond's options: the protocol options and how fixed-point products are truncated. */
export interface PondOptions extends ProtocolOptions {
  /**
   * 'probabilistic' (default): each server shifts its share (SecureML);
   * 'deterministic': exact (rounded to nearest, ties up) for every value in
   * the ring by a carry circuit on dealt material (pond-trunc.ts; 2 + log2 l rounds instead of
   * none). Needs a crypto producer that deals (a TrustedDealer).
   */
  truncation?: Truncation;
}

export class Pond extends Protocol<AdditiveTensor> {
  readonly kind = 'pond';
  readonly server0: Player;
  readonly server1: Player;
  readonly triples: TripleSource;
  /** How fixed-point products are truncated (option 'truncation'). */
  readonly truncation: Truncation;

  constructor(server0: Player, server1: Player, cryptoProducer: Player | TripleSource, options?: PondOptions) {
    const opts = checkOptions('Pond', options) as PondOptions;
    super('pond', 'Pond', opts);
    this.truncation = checkTruncation('Pond', opts.truncation);
    if ((opts as { comparisonBits?: unknown }).comparisonBits !== undefined) throw new RangeError(`Pond: option 'comparisonBits' is ABY3's (Pond's comparisons take the ring's ${this.bits} bits)`);
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
    if (this.truncation === 'deterministic' && typeof this.triples.deal !== 'function') throw new TypeError(`Pond: option truncation: 'deterministic' needs boolean AND triples and random bits from the crypto producer; argument 'cryptoProducer' is a TripleSource without 'deal' (use a TrustedDealer)`);
    roster.forEach((p) => this.register(p));
    const servers = [this.server0, this.server1] as const;
    this.boolean = new PondBoolean({
      net: this.#net(),
      self: this,
      servers,
      nextOp: () => this.nextOp(),
      checkArith: (fn, arg, x) => this.checkOperand(fn, arg, x),
      checkPlayer: (fn, arg, p) => this.checkReachablePlayer(fn, arg, p),
      sensitivityOption: (fn, s) => this.checkSensitivityOption(fn, s),
      arith: (parts, shape, enc, sens) => this.makeTensor(parts, shape, enc, sens),
      binary: (parts, shape, sens) => new BinaryAdditiveTensor(this, [this.server0, this.server1], parts, shape, 'int', sens),
      sub: (x, y) => this.sub(x, y),
      mul: (x, y) => this.mul(x, y),
      moveTo: (from, to, key, t, shape) => this.move(servers[from], to, key, t, shape),
      checkDealer: (fn) => {
        if (typeof this.triples.deal !== 'function') throw new TypeError(`Pond.${fn}: the crypto producer (argument 'cryptoProducer' of Pond) is a TripleSource without 'deal'; comparisons need boolean AND triples and random bits from it (use a TrustedDealer)`);
      },
    });
    const host: NNHost<AdditiveTensor> = {
      name: 'Pond',
      fixed: this.fixed,
      arith: (parts, shape, enc, sens) => this.makeTensor(parts, shape, enc, sens),
      checkArith: (fn, arg, x) => this.checkOperand(fn, arg, x),
      matmul: (x, y) => this.matmul(x, y),
      matmulMapped: (x, y, maps) => this.#matmulMapped(x, y, maps),
      mul: (x, y) => this.mul(x, y),
      truncate: (x) => this.truncate(x),
      divPublic: (x, c) => this.divPublic(x, c),
      greater: (x, y) => this.greater(x, y),
      addPublic: (x, c) => this.addPublic(x, c),
    };
    this.#conv = new ConvOps(host);
    this.#pool = new PoolOps(host);
    this.#approx = new ApproxOps<AdditiveTensor, BinaryAdditiveTensor>({
      name: 'Pond', bits: this.bits, fixed: this.fixed,
      checkArith: host.checkArith, arith: host.arith,
      mul: (x, y) => this.mul(x, y), mulPublic: (x, c) => this.mulPublic(x, c), divPublic: (x, c) => this.divPublic(x, c),
      addPublic: (x, c) => this.addPublic(x, c), add: (x, y) => this.add(x, y), sub: (x, y) => this.sub(x, y), neg: (x) => this.neg(x),
      addN: (xs) => this.addN(xs), sum: (x, axis, keep) => this.sum(x, axis, keep), reshape: (x, shape) => this.reshape(x, shape), transpose: (x, perm) => this.transpose(x, perm),
      relu: (x) => this.relu(x), isNegative: (x) => this.isNegative(x), signBit: (x) => this.boolean.signBit(x), select: (b, x, y) => this.select(b, x, y),
    });
  }

  /** The gates' view of this instance (pond-binary.ts). */
  #net(): PondNet {
    const servers = [this.server0, this.server1] as const;
    return {
      id: this.id,
      bits: this.bits,
      local: (i) => this.isLocal(servers[i]),
      moveBytes: (from, to, key, bytes) => this.moveBytes(servers[from], servers[to], key, bytes),
      deal: (key, bytes, correction) => this.triples.deal!({ session: this.id, key, servers, transport: this.transport, bytes, correction, ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }) }),
    };
  }

  protected override checkOperand(fn: string, arg: string, x: unknown): AdditiveTensor {
    if (x instanceof BinaryAdditiveTensor) throw new TypeError(`Pond.${fn}: argument '${arg}' is a boolean-shared tensor; this op takes an arithmetic sharing (AdditiveTensor)`);
    return super.checkOperand(fn, arg, x);
  }

  /**
   * Boolean (XOR) sharing of ring words between the two servers: input, xor,
   * not, and (one round, dealt triples), signBit, reveal (pond-boolean.ts).
   */
  readonly boolean: PondBoolean;
  readonly #conv: ConvOps<AdditiveTensor>;
  readonly #pool: PoolOps<AdditiveTensor>;
  readonly #approx: ApproxOps<AdditiveTensor, BinaryAdditiveTensor>;

  // ------------------------------------------------------------ nonlinear ops (pond-boolean.ts, pond-nonlinear.ts; docs/encrypted-ml.md)

  /** [x < 0] as 0/1 integers (encoding 'int'): the sign bit of the encoding, B2A. */
  isNegative(x: AdditiveTensor): Promise<AdditiveTensor> { return this.boolean.isNegative(x); }
  /** [x > y] as 0/1 integers (exact while |x − y| is in the encoding's range). */
  greater(x: AdditiveTensor, y: AdditiveTensor): Promise<AdditiveTensor> { return this.boolean.greater(x, y); }
  /** [x < y] as 0/1 integers. */
  less(x: AdditiveTensor, y: AdditiveTensor): Promise<AdditiveTensor> { return this.boolean.less(x, y); }
  /** max(x, 0), exact on the encoding. */
  relu(x: AdditiveTensor): Promise<AdditiveTensor> { return this.boolean.relu(x); }
  /** [x >= 0] as 0/1 integers (ReLU's derivative; 1 at 0). */
  reluDerivative(x: AdditiveTensor): Promise<AdditiveTensor> { return this.boolean.reluDerivative(x); }
  /** b ? x : y for a boolean-shared bit (bit injection, 1 round) or a 0/1 integer sharing (one mul). */
  select(b: BinaryAdditiveTensor | AdditiveTensor, x: AdditiveTensor, y: AdditiveTensor): Promise<AdditiveTensor> { return this.boolean.select(b, x, y); }

  // ------------------------------------------------------------ conv and pooling, NHWC (conv.ts, pool.ts, im2col.ts; docs/encrypted-ml.md)

  /** x [B, H, W, C] * w [KH, KW, C, F] (encrypted or public): im2col + one Beaver matmul opening x − a in x's shape. */
  conv2d(x: AdditiveTensor, w: AdditiveTensor | PublicTensor, options?: ConvOptions): Promise<AdditiveTensor> { return this.#conv.conv2d(x, w, options); }
  /** conv2d's gradient for its input [B, H, W, C]: col2im(dy · wᵀ), one matmul (c dealt after col2im, truncated after it). */
  conv2dBackpropInput(inputShape: readonly number[], dy: AdditiveTensor, w: AdditiveTensor | PublicTensor, options?: ConvOptions): Promise<AdditiveTensor> { return this.#conv.conv2dBackpropInput(inputShape, dy, w, options); }
  /** conv2d's gradient for its filter [KH, KW, C, F]: im2col(x)ᵀ · dy, one matmul (x − a opened in x's shape). */
  conv2dBackpropFilter(x: AdditiveTensor, dy: AdditiveTensor, filterShape: readonly number[], options?: ConvOptions): Promise<AdditiveTensor> { return this.#conv.conv2dBackpropFilter(x, dy, filterShape, options); }
  /** Average pooling (valid): local window sums, divPublic (local truncation: no message). */
  avgPool(x: AdditiveTensor, options: { size: number | readonly [number, number]; strides?: number | readonly [number, number] }): Promise<AdditiveTensor> { return this.#conv.avgPool(x, options); }
  /** Maximum along `axis` (tree of greater + mul). */
  max(x: AdditiveTensor, axis: number): Promise<AdditiveTensor> { return this.#pool.max(x, axis); }
  /** Index of the maximum along `axis` ('int'; ties: the lowest index). */
  argmax(x: AdditiveTensor, axis: number): Promise<AdditiveTensor> { return this.#pool.argmax(x, axis); }
  /** 2x2 max pooling, stride 2, valid, NHWC. */
  maxPool2x2(x: AdditiveTensor): Promise<AdditiveTensor> { return this.#pool.maxPool2x2(x); }
  /** maxPool2x2 and its backward mask (0/1 at each window's argmax, input-shaped). */
  maxPool2x2WithMask(x: AdditiveTensor): Promise<{ y: AdditiveTensor; mask: AdditiveTensor }> { return this.#pool.maxPool2x2WithMask(x); }
  /** maxPool2x2's backward pass: mask · upsample(dy), one mul. */
  maxPool2x2Backward(mask: AdditiveTensor, dy: AdditiveTensor): Promise<AdditiveTensor> { return this.#pool.maxPool2x2Backward(mask, dy); }

  // ------------------------------------------------------------ smooth ops (approx.ts, ABY3's algorithms and iteration counts; docs/encrypted-ml.md)

  /** exp(x): (1 + z + z²/2)^(2^k), z = x/2^k (k = 5 'low', 8 'high'); `clip` (default) makes x ≤ -2^k give 0. */
  exp(x: AdditiveTensor, options?: ApproxOptions): Promise<AdditiveTensor> { return this.#approx.exp(x, options); }
  /** 1/x for x in the public range [lo, hi]: Newton–Raphson from the minimax linear guess. */
  reciprocal(x: AdditiveTensor, options: { range: [number, number] }): Promise<AdditiveTensor> { return this.#approx.reciprocal(x, options); }
  /** x / y for y in the public range [lo, hi]. */
  div(x: AdditiveTensor, y: AdditiveTensor, options: { range: [number, number] }): Promise<AdditiveTensor> { return this.#approx.div(x, y, options); }
  /** 1/(1 + exp(-x)), any x in range. */
  sigmoid(x: AdditiveTensor): Promise<AdditiveTensor> { return this.#approx.sigmoid(x); }
  /** softmax along `axis` (default the last), the maximum subtracted first. */
  softmax(x: AdditiveTensor, axis = -1, options?: ApproxOptions): Promise<AdditiveTensor> { return this.#approx.softmax(x, axis, options); }
  /** log(softmax(x)) along `axis`. */
  logSoftmax(x: AdditiveTensor, axis = -1, options?: ApproxOptions): Promise<AdditiveTensor> { return this.#approx.logSoftmax(x, axis, options); }

  /**
   * out(mapX(x) · mapY(y)) for public linear maps (conv.ts: im2col of x or
   * of y, col2im of the product): a Beaver matmul whose triple is dealt in
   * the operands' and the output's own shapes (a in x's shape, b in y's,
   * c = out(mapX(a) · mapY(b))), so each server opens x − a and y − b (|x|
   * and |y| elements, not |mapX(x)|), applies the maps to what it holds, and
   * truncates after `out` (one truncation per output element).
   */
  #matmulMapped(x: AdditiveTensor, y: AdditiveTensor, maps: MatmulMaps): Promise<AdditiveTensor> {
    const sx = maps.x?.shape ?? x.shape;
    const sy = maps.y?.shape ?? y.shape;
    if (sx.length !== 2 || sy.length !== 2 || sx[1] !== sy[0]) throw new ShapeMismatchError(`Pond.matmulMapped: expected shapes [m, k] and [k, n] (after the maps), got 'x' [${sx.join(', ')}] and 'y' [${sy.join(', ')}]`);
    const shape = maps.out?.shape ?? [sx[0]!, sy[1]!];
    const trunc = x.encoding === 'fixed' && y.encoding === 'fixed';
    const enc: Encoding = x.encoding === 'int' && y.encoding === 'int' ? 'int' : 'fixed';
    const key = this.nextOp();
    return this.ready().then(async () => this.makeTensor(await this.#beaver([...x.parts], [...y.parts], 'matmul', x.shape, y.shape, shape, key, trunc, { a: maps.x?.f, b: maps.y?.f, c: maps.out?.f }), shape, enc, intersectSensitivity([x.sensitivity, y.sensitivity])));
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

  /**
   * A Beaver product of x and y. Matmul only: `maps.a`, `maps.b`, public
   * linear maps applied to x and y (and the triple's a and b) after the
   * opening; `maps.c`, one applied to the product before the triple's c
   * (dealt in shapeZ, the mapped shape) is added.
   */
  async #beaver(x: Parts, y: Parts, kind: 'mul' | 'matmul', shapeX: readonly number[], shapeY: readonly number[], shapeZ: readonly number[], key: string, trunc: boolean, maps: { a?: (p: RingTensor) => RingTensor; b?: (p: RingTensor) => RingTensor; c?: (p: RingTensor) => RingTensor } = {}): Promise<Parts> {
    const servers = [this.server0, this.server1] as const;
    const { a: mapA, b: mapB, c: mapC } = maps;
    const triple = await this.triples.triple({ kind, bits: this.bits, shapeA: shapeX, shapeB: shapeY, shapeC: shapeZ, session: this.id, key: `${key}/triple`, servers, transport: this.transport, ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }), ...(mapA === undefined ? {} : { mapA }), ...(mapB === undefined ? {} : { mapB }), ...(mapC === undefined ? {} : { mapC }) });
    const id = (p: RingTensor): RingTensor => p;
    const mapped = mapA ?? id;
    const mappedB = mapB ?? id;
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
      const E = mapped(ring.add(e, eo));
      const D = mappedB(ring.add(d, doo));
      let z = ring.addInPlace(product(E, mappedB(t.b)), product(mapped(t.a), D));
      if (i === 0) ring.addInPlace(z, product(E, D));
      if (mapC !== undefined) z = mapC(z);
      ring.addInPlace(z, t.c);
      return trunc && this.truncation === 'probabilistic' ? this.#truncShare(i, z, this.fixed.frac, true) : z;
    };
    const z = await Promise.all([step(0), step(1)]);
    return trunc && this.truncation === 'deterministic' ? pondExactTruncate(this.#net(), z as Ring2, shapeZ, this.fixed.frac, `${key}/trunc`) : z;
  }

  protected mulParts(x: Parts, y: Parts, shape: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    return this.#beaver(x, y, 'mul', shape, shape, shape, key, trunc);
  }

  protected matmulParts(x: Parts, y: Parts, sx: readonly number[], sy: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    return this.#beaver(x, y, 'matmul', sx, sy, [sx[0]!, sy[1]!], key, trunc);
  }

  protected async truncParts(x: Parts, shape: readonly number[], key: string, shift?: number): Promise<Parts> {
    if (this.truncation === 'deterministic') return pondExactTruncate(this.#net(), x as Ring2, shape, shift ?? this.fixed.frac, key);
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
