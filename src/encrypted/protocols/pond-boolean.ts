/**
 * The public side of Pond's boolean sharing and comparisons: argument checks,
 * op keys and tensor kinds around pond-binary.ts (gates, dealing) and
 * pond-nonlinear.ts (sign, B2A, bit injection). Pond (pond.ts) exposes the
 * word ops as `pond.boolean` and the nonlinear ops as its own methods, under
 * ABY3's names. Every check runs before any message; errors name the argument.
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { describe, fmtShape, SensitivityError, ShapeMismatchError } from '../errors.js';
import { checkShapeArg } from '../fixed.js';
import type { Player } from '../player.js';
import { AdditiveTensor, BinaryAdditiveTensor, type Encoding, type Sensitivity } from '../tensor.js';
import { planeToWords, u32, wordsToPlane } from './aby3-binary.js';
import { intersectSensitivity, type Parts } from './base.js';
import { type Bits2, I2, type PondNet } from './pond-binary.js';
import { andWords, nonlinear, notBits, selectParts, signBit } from './pond-nonlinear.js';

/** What the boolean API needs of its Pond instance. */
export interface PondContext {
  readonly net: PondNet;
  /** The Pond instance (tensors are checked to belong to it). */
  readonly self: object;
  readonly servers: readonly [Player, Player];
  nextOp(): string;
  /** Pond's arithmetic operand check (TypeError, PrecisionMismatchError, ProtocolMismatchError naming the argument). */
  checkArith(fn: string, arg: string, x: unknown): AdditiveTensor;
  checkPlayer(fn: string, arg: string, p: unknown): Player;
  sensitivityOption(fn: string, s: unknown): Sensitivity;
  arith(parts: Parts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): AdditiveTensor;
  binary(parts: Parts, shape: readonly number[], sensitivity: Sensitivity): BinaryAdditiveTensor;
  sub(x: AdditiveTensor, y: AdditiveTensor): AdditiveTensor;
  mul(x: AdditiveTensor, y: AdditiveTensor): Promise<AdditiveTensor>;
  /** Move a ring tensor from server `from` to any player. */
  moveTo(from: 0 | 1, to: Player, key: string, t: RingTensor | undefined, shape: readonly number[]): Promise<RingTensor | undefined>;
  /** A TypeError naming 'cryptoProducer' when the triple source deals no boolean correlations. */
  checkDealer(fn: string): void;
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const wordsOf = (x: BinaryAdditiveTensor): Bits2 => [x.parts[0] && u32(x.parts[0]), x.parts[1] && u32(x.parts[1])];
const ringOf = (b: Bits2, bits: 64 | 128, shape: readonly number[]): Parts => b.map((p) => (p === undefined ? undefined : new RingTensor(bits, shape, new BigUint64Array(p.buffer, p.byteOffset, p.length / 2))));

export class PondBoolean {
  readonly #c: PondContext;
  constructor(ctx: PondContext) {
    this.#c = ctx;
  }

  /** Check a boolean operand: a BinaryAdditiveTensor of this protocol instance. */
  check(fn: string, arg: string, x: unknown): BinaryAdditiveTensor {
    if (!(x instanceof BinaryAdditiveTensor)) {
      throw new TypeError(`Pond.boolean.${fn}: argument '${arg}' must be a boolean-shared tensor (BinaryAdditiveTensor) of this protocol, got ${x instanceof AdditiveTensor ? 'an arithmetic AdditiveTensor' : describe(x)}`);
    }
    if (x.protocol !== this.#c.self || x.parts.length !== 2) throw new TypeError(`Pond.boolean.${fn}: argument '${arg}' belongs to protocol '${x.protocol.id}', not '${this.#c.net.id}'`);
    return x;
  }

  #pair(fn: string, x: unknown, y: unknown): [BinaryAdditiveTensor, BinaryAdditiveTensor] {
    const a = this.check(fn, 'x', x);
    const b = this.check(fn, 'y', y);
    if (!same(a.shape, b.shape)) throw new ShapeMismatchError(`Pond.boolean.${fn}: shapes of 'x' ${fmtShape(a.shape)} and 'y' ${fmtShape(b.shape)} differ`);
    return [a, b];
  }

  #server(fn: string, arg: string, p: unknown): 0 | 1 {
    const q = this.#c.checkPlayer(`boolean.${fn}`, arg, p);
    const i = this.#c.servers.findIndex((s) => s.name === q.name);
    if (i < 0) throw new TypeError(`Pond.boolean.${fn}: argument '${arg}' must be one of the servers (${this.#c.servers.map((s) => s.name).join(', ')}), got '${q.name}'`);
    return i as 0 | 1;
  }

  /**
   * A boolean sharing of ring words known to one server (`value` where it
   * executes, a RingTensor of the protocol's width; option 'shape' elsewhere).
   * No message: that server's share is the value, the other's zero (the
   * value is the server's own; the gates never open a share unmasked).
   */
  input(server: Player, value: RingTensor | undefined, options: { shape?: readonly number[]; sensitivity?: readonly Player[] | null } = {}): Promise<BinaryAdditiveTensor> {
    const fn = 'input';
    const i = this.#server(fn, 'server', server);
    const sens = this.#c.sensitivityOption(`boolean.${fn}`, options.sensitivity);
    const net = this.#c.net;
    let shape: readonly number[];
    if (net.local(i)) {
      if (!(value instanceof RingTensor) || value.bits !== net.bits) throw new TypeError(`Pond.boolean.${fn}: argument 'value' must be a RingTensor in Z_2^${net.bits} where '${server.name}' executes, got ${describe(value)}`);
      if (options.shape !== undefined && !same(checkShapeArg(`Pond.boolean.${fn}`, options.shape), value.shape)) throw new ShapeMismatchError(`Pond.boolean.${fn}: argument 'value' has shape ${fmtShape(value.shape)}, option 'shape' is ${fmtShape(options.shape)}`);
      shape = value.shape;
    } else {
      if (options.shape === undefined) throw new TypeError(`Pond.boolean.${fn}: server '${server.name}' does not execute in this process; pass option 'shape'`);
      shape = checkShapeArg(`Pond.boolean.${fn}`, options.shape);
    }
    this.#c.nextOp();
    const parts: Parts = I2.map((j) => (!net.local(j) ? undefined : j === i ? value!.clone() : new RingTensor(net.bits, shape)));
    return Promise.resolve(this.#c.binary(parts, shape, sens));
  }

  /** x ^ y (local). */
  xor(x: BinaryAdditiveTensor, y: BinaryAdditiveTensor): BinaryAdditiveTensor {
    const [a, b] = this.#pair('xor', x, y);
    const [pa, pb] = [wordsOf(a), wordsOf(b)];
    const parts = I2.map((i) => (pa[i] === undefined ? undefined : pa[i].map((w, k) => w ^ pb[i]![k]!)));
    return this.#c.binary(ringOf(parts as Bits2, this.#c.net.bits, a.shape), a.shape, intersectSensitivity([a.sensitivity, b.sensitivity]));
  }

  /** ~x (local: server0 complements its share). */
  not(x: BinaryAdditiveTensor): BinaryAdditiveTensor {
    const a = this.check('not', 'x', x);
    return this.#c.binary(ringOf(notBits(wordsOf(a)), this.#c.net.bits, a.shape), a.shape, a.sensitivity);
  }

  /** x & y: one dealt AND triple per bit, one round, each server sends 2 bits per ANDed bit. */
  and(x: BinaryAdditiveTensor, y: BinaryAdditiveTensor): Promise<BinaryAdditiveTensor> {
    const [a, b] = this.#pair('and', x, y);
    this.#c.checkDealer('boolean.and');
    const key = this.#c.nextOp();
    const net = this.#c.net;
    return (async () => {
      const z = await andWords(net, wordsOf(a), wordsOf(b), a.size * (net.bits / 32), key);
      return this.#c.binary(ringOf(z, net.bits, a.shape), a.shape, intersectSensitivity([a.sensitivity, b.sensitivity]));
    })();
  }

  /** [x < 0] (the msb of the encoding) as a boolean sharing in bit 0 of each word (the other bits zero). */
  signBit(x: AdditiveTensor): Promise<BinaryAdditiveTensor> {
    const a = this.#c.checkArith('boolean.signBit', 'x', x);
    this.#c.checkDealer('boolean.signBit');
    const key = this.#c.nextOp();
    const net = this.#c.net;
    const n = a.size;
    return (async () => {
      const b = await signBit(net, [a.parts[0], a.parts[1]], n, key);
      return this.#c.binary(b.map((p) => (p === undefined ? undefined : ring.reshape(planeToWords(p, n, net.bits), a.shape))), a.shape, a.sensitivity);
    })();
  }

  /**
   * Open `x` to `player` (inside its sensitivity): a server receives the
   * other server's share; another player both. Resolves with the words
   * there, undefined elsewhere.
   */
  reveal(x: BinaryAdditiveTensor, player: Player): Promise<RingTensor | undefined> {
    const a = this.check('reveal', 'x', x);
    const p = this.#c.checkPlayer('boolean.reveal', 'player', player);
    if (a.sensitivity !== null && !a.sensitivity.some((q) => q.name === p.name)) throw new SensitivityError(`Pond.boolean.reveal: player '${p.name}' is outside the sensitivity set of argument 'x'`);
    const key = this.#c.nextOp();
    return (async () => {
      const got = await Promise.all(I2.map((i) => this.#c.moveTo(i, p, `${key}/breveal${i}`, a.parts[i], a.shape)));
      if (got[0] === undefined || got[1] === undefined) return undefined;
      const [w0, w1] = [u32(got[0]), u32(got[1])];
      return ringOf([w0.map((w, k) => w ^ w1[k]!), undefined], this.#c.net.bits, a.shape)[0];
    })();
  }

  // ------------------------------------------------------------ nonlinear ops on arithmetic sharings (Pond's methods)

  #unary(fn: string, x: unknown, op: 'neg' | 'step' | 'relu', arg = 'x'): Promise<AdditiveTensor> {
    const a = this.#c.checkArith(fn, arg, x);
    this.#c.checkDealer(fn);
    const key = this.#c.nextOp();
    return (async () => this.#c.arith(await nonlinear(this.#c.net, op, [a.parts[0], a.parts[1]], a.shape, key), a.shape, op === 'relu' ? a.encoding : 'int', a.sensitivity))();
  }

  /** [x < 0] as 0/1 ring integers (encoding 'int'). */
  isNegative(x: AdditiveTensor): Promise<AdditiveTensor> { return this.#unary('isNegative', x, 'neg'); }
  /** [x >= 0] (ReLU's derivative, 1 at 0) as 0/1 ring integers. */
  reluDerivative(x: AdditiveTensor): Promise<AdditiveTensor> { return this.#unary('reluDerivative', x, 'step'); }
  /** max(x, 0), exactly (the encoding times the step). */
  relu(x: AdditiveTensor): Promise<AdditiveTensor> { return this.#unary('relu', x, 'relu'); }

  #compare(fn: string, x: unknown, y: unknown, lessThan: boolean): Promise<AdditiveTensor> {
    const a = this.#c.checkArith(fn, 'x', x);
    const b = this.#c.checkArith(fn, 'y', y);
    if (!same(a.shape, b.shape)) throw new ShapeMismatchError(`Pond.${fn}: shapes of 'x' ${fmtShape(a.shape)} and 'y' ${fmtShape(b.shape)} differ`);
    return this.#unary(fn, lessThan ? this.#c.sub(a, b) : this.#c.sub(b, a), 'neg', lessThan ? 'x - y' : 'y - x');
  }

  /** [x > y] as 0/1 ring integers: the sign of y − x (exact while |x − y| < 2^(l−1) on the encoding). */
  greater(x: AdditiveTensor, y: AdditiveTensor): Promise<AdditiveTensor> { return this.#compare('greater', x, y, false); }
  /** [x < y] as 0/1 ring integers: the sign of x − y. */
  less(x: AdditiveTensor, y: AdditiveTensor): Promise<AdditiveTensor> { return this.#compare('less', x, y, true); }

  /**
   * b ? x : y, as y + b (x − y), for a boolean-shared bit b (bit 0 of each
   * word of a BinaryAdditiveTensor: bit injection, one round) or an
   * arithmetic 0/1 integer tensor (one multiplication). Same shapes.
   */
  select(b: BinaryAdditiveTensor | AdditiveTensor, x: AdditiveTensor, y: AdditiveTensor): Promise<AdditiveTensor> {
    const fn = 'select';
    const a = this.#c.checkArith(fn, 'x', x);
    const c = this.#c.checkArith(fn, 'y', y);
    if (!same(a.shape, c.shape)) throw new ShapeMismatchError(`Pond.${fn}: shapes of 'x' ${fmtShape(a.shape)} and 'y' ${fmtShape(c.shape)} differ`);
    if (a.encoding !== c.encoding) throw new TypeError(`Pond.${fn}: arguments 'x' and 'y' have encodings '${a.encoding}' and '${c.encoding}'`);
    if (b instanceof AdditiveTensor) {
      this.#c.checkArith(fn, 'b', b);
      if (b.encoding !== 'int') throw new TypeError(`Pond.${fn}: argument 'b' must hold 0/1 integers (encoding 'int', e.g. from isNegative), got encoding '${b.encoding}'`);
      if (!same(b.shape, a.shape)) throw new ShapeMismatchError(`Pond.${fn}: shapes of 'b' ${fmtShape(b.shape)} and 'x' ${fmtShape(a.shape)} differ`);
      return this.#c.mul(b, this.#c.sub(a, c)).then((m) => this.#c.arith(m.parts.map((p, s) => (p === undefined ? undefined : ring.add(p, c.parts[s]!))), a.shape, a.encoding, intersectSensitivity([b.sensitivity, a.sensitivity, c.sensitivity])));
    }
    const bb = this.check(fn, 'b', b);
    if (!same(bb.shape, a.shape)) throw new ShapeMismatchError(`Pond.${fn}: shapes of 'b' ${fmtShape(bb.shape)} and 'x' ${fmtShape(a.shape)} differ`);
    this.#c.checkDealer(fn);
    const key = this.#c.nextOp();
    const net = this.#c.net;
    const n = a.size;
    return (async () => {
      const plane = bb.parts.map((p) => (p === undefined ? undefined : wordsToPlane(ring.reshape(p, [n]), n, net.bits))) as Bits2;
      const parts = await selectParts(net, plane, [a.parts[0], a.parts[1]], [c.parts[0], c.parts[1]], a.shape, key);
      return this.#c.arith(parts, a.shape, a.encoding, intersectSensitivity([bb.sensitivity, a.sensitivity, c.sensitivity]));
    })();
  }
}
