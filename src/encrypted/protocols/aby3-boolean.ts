/**
 * The public side of ABY3's boolean sharing and nonlinear ops: argument
 * checks, op keys and tensor kinds around aby3-binary.ts (sharing, AND, sign
 * bit) and aby3-nonlinear.ts (bit injection). ABY3 (aby3.ts) exposes the word
 * ops as `aby3.boolean` and the nonlinear ops as its own methods.
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { describe, fmtShape, SensitivityError, ShapeMismatchError } from '../errors.js';
import { checkShapeArg } from '../fixed.js';
import type { Player } from '../player.js';
import { BinaryReplicatedTensor, ReplicatedTensor, type Encoding, type Sensitivity } from '../tensor.js';
import { type Aby3Net, type BitParts, inputShares, mapBits, notShares, planeToWords, type RingParts, u32, wordsToPlane, xorShares } from './aby3-binary.js';
import { andShares } from './aby3-and.js';
import { nonlinear, selectParts, signBit } from './aby3-nonlinear.js';
import { intersectSensitivity } from './base.js';

/** What the boolean API needs of its ABY3 instance. */
export interface Aby3Context {
  readonly net: Aby3Net;
  /** The ABY3 instance (tensors are checked to belong to it). */
  readonly self: object;
  readonly servers: readonly [Player, Player, Player];
  nextOp(): string;
  ready(): Promise<void>;
  /** ABY3's arithmetic operand check (TypeError, PrecisionMismatchError, ProtocolMismatchError naming the argument). */
  checkArith(fn: string, arg: string, x: unknown): ReplicatedTensor;
  checkPlayer(fn: string, arg: string, p: unknown): Player;
  sensitivityOption(fn: string, s: unknown): Sensitivity;
  arith(parts: RingParts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): ReplicatedTensor;
  binary(parts: RingParts, shape: readonly number[], sensitivity: Sensitivity): BinaryReplicatedTensor;
  sub(x: ReplicatedTensor, y: ReplicatedTensor): ReplicatedTensor;
  /** Move a ring tensor from server `from` to any known player. */
  moveTo(from: number, to: Player, key: string, t: RingTensor | undefined, shape: readonly number[]): Promise<RingTensor | undefined>;
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Ring-word parts <-> Uint32 bit strings (views, no copy). */
const wordsOf = (x: RingParts): BitParts => x.map((p) => (p === undefined ? undefined : u32(p)));
const ringOf = (b: BitParts, bits: 64 | 128, shape: readonly number[]): RingParts =>
  b.map((p) => (p === undefined ? undefined : new RingTensor(bits, shape, new BigUint64Array(p.buffer, p.byteOffset, p.length / 2))));

export class ABY3Boolean {
  readonly #c: Aby3Context;
  constructor(ctx: Aby3Context) {
    this.#c = ctx;
  }

  /** Check a boolean operand: a BinaryReplicatedTensor of this protocol instance. */
  check(fn: string, arg: string, x: unknown): BinaryReplicatedTensor {
    const net = this.#c.net;
    if (!(x instanceof BinaryReplicatedTensor)) {
      throw new TypeError(`ABY3.boolean.${fn}: argument '${arg}' must be a boolean-shared tensor (BinaryReplicatedTensor) of this protocol, got ${x instanceof ReplicatedTensor ? 'an arithmetic ReplicatedTensor' : describe(x)}`);
    }
    if (x.protocol !== this.#c.self || x.parts.length !== 6) throw new TypeError(`ABY3.boolean.${fn}: argument '${arg}' belongs to protocol '${x.protocol.id}', not '${net.id}'`);
    return x;
  }

  #pair(fn: string, x: unknown, y: unknown): [BinaryReplicatedTensor, BinaryReplicatedTensor] {
    const a = this.check(fn, 'x', x);
    const b = this.check(fn, 'y', y);
    if (!same(a.shape, b.shape)) throw new ShapeMismatchError(`ABY3.boolean.${fn}: shapes of 'x' ${fmtShape(a.shape)} and 'y' ${fmtShape(b.shape)} differ`);
    return [a, b];
  }

  #server(fn: string, arg: string, p: unknown): number {
    const q = this.#c.checkPlayer(`boolean.${fn}`, arg, p);
    const i = this.#c.servers.findIndex((s) => s.name === q.name);
    if (i < 0) throw new TypeError(`ABY3.boolean.${fn}: argument '${arg}' must be one of the servers (${this.#c.servers.map((s) => s.name).join(', ')}), got '${q.name}'`);
    return i;
  }

  /**
   * A boolean sharing of ring words known to one server (`value` where it
   * executes, a RingTensor of the protocol's width; option 'shape' elsewhere):
   * one message, from that server to its predecessor (aby3-binary.ts inputShares).
   */
  input(server: Player, value: RingTensor | undefined, options: { shape?: readonly number[]; sensitivity?: readonly Player[] | null } = {}): Promise<BinaryReplicatedTensor> {
    const fn = 'input';
    const i = this.#server(fn, 'server', server);
    const sens = this.#c.sensitivityOption(`boolean.${fn}`, options.sensitivity);
    const net = this.#c.net;
    let shape: readonly number[];
    if (net.local(i)) {
      if (!(value instanceof RingTensor) || value.bits !== net.bits) throw new TypeError(`ABY3.boolean.${fn}: argument 'value' must be a RingTensor in Z_2^${net.bits} where '${server.name}' executes, got ${describe(value)}`);
      if (options.shape !== undefined && !same(checkShapeArg(`ABY3.boolean.${fn}`, options.shape), value.shape)) throw new ShapeMismatchError(`ABY3.boolean.${fn}: argument 'value' has shape ${fmtShape(value.shape)}, option 'shape' is ${fmtShape(options.shape)}`);
      shape = value.shape;
    } else {
      if (options.shape === undefined) throw new TypeError(`ABY3.boolean.${fn}: server '${server.name}' does not execute in this process; pass option 'shape'`);
      shape = checkShapeArg(`ABY3.boolean.${fn}`, options.shape);
    }
    const key = this.#c.nextOp();
    const len = size(shape) * (net.bits / 32);
    const v = value === undefined ? undefined : u32(value).slice();
    return this.#c.ready().then(async () => this.#c.binary(ringOf(await inputShares(net, i, v, len, key), net.bits, shape), shape, sens));
  }

  /** x ^ y (local). */
  xor(x: BinaryReplicatedTensor, y: BinaryReplicatedTensor): BinaryReplicatedTensor {
    const [a, b] = this.#pair('xor', x, y);
    return this.#c.binary(ringOf(xorShares(wordsOf([...a.parts]), wordsOf([...b.parts])), this.#c.net.bits, a.shape), a.shape, intersectSensitivity([a.sensitivity, b.sensitivity]));
  }

  /** ~x (local: component 0 complemented). */
  not(x: BinaryReplicatedTensor): BinaryReplicatedTensor {
    const a = this.check('not', 'x', x);
    return this.#c.binary(ringOf(notShares(wordsOf([...a.parts])), this.#c.net.bits, a.shape), a.shape, a.sensitivity);
  }

  /** x & mask for a public word `mask` (a bigint in [0, 2^l), applied to every element; local). */
  andPublic(x: BinaryReplicatedTensor, mask: bigint): BinaryReplicatedTensor {
    const a = this.check('andPublic', 'x', x);
    const bits = this.#c.net.bits;
    if (typeof mask !== 'bigint') throw new TypeError(`ABY3.boolean.andPublic: argument 'mask' must be a bigint, got ${describe(mask)}`);
    if (mask < 0n || mask >= 1n << BigInt(bits)) throw new RangeError(`ABY3.boolean.andPublic: argument 'mask' must be in [0, 2^${bits}), got ${mask}`);
    const L = bits / 32;
    const m = Uint32Array.from({ length: L }, (_, q) => Number((mask >> BigInt(32 * q)) & 0xffffffffn));
    const parts = mapBits([wordsOf([...a.parts])], (p) => {
      const out = new Uint32Array(p.length);
      for (let k = 0; k < p.length; k++) out[k] = p[k]! & m[k % L]!;
      return out;
    });
    return this.#c.binary(ringOf(parts, bits, a.shape), a.shape, a.sensitivity);
  }

  #shift(fn: 'shl' | 'shr', x: BinaryReplicatedTensor, k: number): BinaryReplicatedTensor {
    const a = this.check(fn, 'x', x);
    const bits = this.#c.net.bits;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= bits) throw new RangeError(`ABY3.boolean.${fn}: argument 'k' must be an integer in [0, ${bits}), got ${describe(k)}`);
    const parts = a.parts.map((p) => (p === undefined ? undefined : fn === 'shl' ? ring.shl(p, k) : ring.shrLogical(p, k)));
    return this.#c.binary(parts, a.shape, a.sensitivity);
  }

  /** x << k within each l-bit word (local). */
  shl(x: BinaryReplicatedTensor, k: number): BinaryReplicatedTensor { return this.#shift('shl', x, k); }
  /** x >> k within each l-bit word, zeros shifted in (local). */
  shr(x: BinaryReplicatedTensor, k: number): BinaryReplicatedTensor { return this.#shift('shr', x, k); }

  /** x & y: one round, each server sends l bits per element (aby3-binary.ts andShares). */
  and(x: BinaryReplicatedTensor, y: BinaryReplicatedTensor): Promise<BinaryReplicatedTensor> {
    const [a, b] = this.#pair('and', x, y);
    const key = this.#c.nextOp();
    const net = this.#c.net;
    return this.#c.ready().then(async () => {
      const z = await andShares(net, wordsOf([...a.parts]), wordsOf([...b.parts]), a.size * (net.bits / 32), key);
      return this.#c.binary(ringOf(z, net.bits, a.shape), a.shape, intersectSensitivity([a.sensitivity, b.sensitivity]));
    });
  }

  /**
   * The sign bit of an arithmetic sharing: [x < 0] (the two's complement msb
   * of the encoding mod 2^k, k the option comparisonBits: the sign for |x| <
   * 2^(k-1) ring units) as a boolean sharing in bit 0 of each word (the other
   * bits zero). Rounds and bytes: aby3-binary.ts msbShares.
   */
  signBit(x: ReplicatedTensor): Promise<BinaryReplicatedTensor> {
    const a = this.#c.checkArith('boolean.signBit', 'x', x);
    const key = this.#c.nextOp();
    const net = this.#c.net;
    const n = a.size;
    return this.#c.ready().then(async () => {
      const b = await signBit(net, [...a.parts], n, key);
      return this.#c.binary(b.map((p) => (p === undefined ? undefined : ring.reshape(planeToWords(p, n, net.bits), a.shape))), a.shape, a.sensitivity);
    });
  }

  /**
   * Open `x` to `player` (a known player inside its sensitivity): a server
   * receives the component it lacks from its successor; another player gets
   * x0 ^ x1 from server0 and x2 from server2. Resolves with the words there,
   * undefined elsewhere.
   */
  reveal(x: BinaryReplicatedTensor, player: Player): Promise<RingTensor | undefined> {
    const a = this.check('reveal', 'x', x);
    const p = this.#c.checkPlayer('boolean.reveal', 'player', player);
    if (a.sensitivity !== null && !a.sensitivity.some((q) => q.name === p.name)) throw new SensitivityError(`ABY3.boolean.reveal: player '${p.name}' is outside the sensitivity set of argument 'x'`);
    const key = this.#c.nextOp();
    return this.#revealWords(a, p, key);
  }

  async #revealWords(a: BinaryReplicatedTensor, p: Player, key: string): Promise<RingTensor | undefined> {
    const net = this.#c.net;
    const parts = wordsOf([...a.parts]);
    const j = this.#c.servers.findIndex((s) => s.name === p.name);
    let words: Uint32Array[] | undefined;
    const len = a.size * (net.bits / 32);
    const asRing = (w: Uint32Array | undefined): RingTensor | undefined => (w === undefined ? undefined : ringOf([w], net.bits, a.shape)[0]);
    if (j >= 0) {
      const k = (j + 2) % 3;
      const got = await net.moveRing(k, j, `${key}/breveal${k}`, asRing(parts[2 * k]), a.shape);
      if (net.local(j)) words = [parts[2 * j]!, parts[2 * j + 1]!, u32(got!)];
    } else {
      const x01 = net.local(0) ? xorShares([parts[0]], [parts[1]])[0] : undefined;
      // an outside player is not a server: moved through the protocol's transport by name (see ABY3's boolean context)
      const got = await Promise.all([this.#outside(0, p, `${key}/breveal01`, asRing(x01), a.shape), this.#outside(2, p, `${key}/breveal2`, asRing(parts[4]), a.shape)]);
      if (got[0] !== undefined) words = got.map((t) => u32(t!));
    }
    if (words === undefined) return undefined;
    const out = new Uint32Array(len);
    for (const w of words) for (let k = 0; k < len; k++) out[k] = out[k]! ^ w[k]!;
    return ringOf([out], net.bits, a.shape)[0];
  }

  #outside(from: number, to: Player, key: string, t: RingTensor | undefined, shape: readonly number[]): Promise<RingTensor | undefined> {
    return this.#c.moveTo(from, to, key, t, shape);
  }

  // ------------------------------------------------------------ nonlinear ops on arithmetic sharings (ABY3's methods)

  /** [x < 0] as 0/1 ring integers (encoding 'int'). */
  isNegative(x: ReplicatedTensor, fn = 'isNegative'): Promise<ReplicatedTensor> {
    return this.#unary(fn, x, 'neg');
  }

  #unary(fn: string, x: ReplicatedTensor, op: 'neg' | 'step' | 'relu', arg = 'x'): Promise<ReplicatedTensor> {
    const a = this.#c.checkArith(fn, arg, x);
    const key = this.#c.nextOp();
    return this.#c.ready().then(async () => this.#c.arith(await nonlinear(this.#c.net, op, [...a.parts], a.shape, key), a.shape, op === 'relu' ? a.encoding : 'int', a.sensitivity));
  }

  /** [x >= 0] (ReLU's derivative, 1 at 0) as 0/1 ring integers. */
  reluDerivative(x: ReplicatedTensor): Promise<ReplicatedTensor> { return this.#unary('reluDerivative', x, 'step'); }
  /** max(x, 0), exactly (the encoding times the step). */
  relu(x: ReplicatedTensor): Promise<ReplicatedTensor> { return this.#unary('relu', x, 'relu'); }

  /** [x > y] as 0/1 ring integers: the sign of y - x (exact while |x - y| < 2^(k-1) on the encoding, k the option comparisonBits). */
  greater(x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor> {
    return this.#compare('greater', x, y, true);
  }

  /** [x < y] as 0/1 ring integers: the sign of x - y. */
  less(x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor> {
    return this.#compare('less', x, y, false);
  }

  /**
   * The sign of u - v ((u, v) = (y, x) for greater, (x, y) for less): for
   * operands of one shape and encoding the difference is taken inside the
   * sign circuit (aby3-msb.ts), else (broadcasting) as ABY3's sub first;
   * the messages are the same.
   */
  #compare(fn: 'greater' | 'less', x: ReplicatedTensor, y: ReplicatedTensor, swap: boolean): Promise<ReplicatedTensor> {
    const a = this.#c.checkArith(fn, 'x', x);
    const b = this.#c.checkArith(fn, 'y', y);
    const [u, v] = swap ? [b, a] : [a, b];
    if (!same(a.shape, b.shape) || a.encoding !== b.encoding) return this.#unary(fn, this.#c.sub(u, v), 'neg', swap ? 'y - x' : 'x - y');
    const key = this.#c.nextOp();
    return this.#c.ready().then(async () => this.#c.arith(await nonlinear(this.#c.net, 'neg', [...u.parts], u.shape, key, [...v.parts]), u.shape, 'int', intersectSensitivity([a.sensitivity, b.sensitivity])));
  }

  /**
   * b ? x : y, as y + b (x - y), for a boolean-shared bit b (bit 0 of each
   * word of a BinaryReplicatedTensor: bit injection, two rounds) or an
   * arithmetic 0/1 integer tensor (one multiplication). Same shapes.
   */
  select(b: BinaryReplicatedTensor | ReplicatedTensor, x: ReplicatedTensor, y: ReplicatedTensor, mul: (u: ReplicatedTensor, v: ReplicatedTensor) => Promise<ReplicatedTensor>): Promise<ReplicatedTensor> {
    const fn = 'select';
    const a = this.#c.checkArith(fn, 'x', x);
    const c = this.#c.checkArith(fn, 'y', y);
    if (!same(a.shape, c.shape)) throw new ShapeMismatchError(`ABY3.${fn}: shapes of 'x' ${fmtShape(a.shape)} and 'y' ${fmtShape(c.shape)} differ`);
    if (a.encoding !== c.encoding) throw new TypeError(`ABY3.${fn}: arguments 'x' and 'y' have encodings '${a.encoding}' and '${c.encoding}'`);
    if (b instanceof ReplicatedTensor) {
      this.#c.checkArith(fn, 'b', b);
      if (b.encoding !== 'int') throw new TypeError(`ABY3.${fn}: argument 'b' must hold 0/1 integers (encoding 'int', e.g. from isNegative), got encoding '${b.encoding}'`);
      if (!same(b.shape, a.shape)) throw new ShapeMismatchError(`ABY3.${fn}: shapes of 'b' ${fmtShape(b.shape)} and 'x' ${fmtShape(a.shape)} differ`);
      return mul(b, this.#c.sub(a, c)).then((m) => this.#c.arith(m.parts.map((p, s) => (p === undefined ? undefined : ring.add(p, c.parts[s]!))), a.shape, a.encoding, intersectSensitivity([b.sensitivity, a.sensitivity, c.sensitivity])));
    }
    const bb = this.check(fn, 'b', b);
    if (!same(bb.shape, a.shape)) throw new ShapeMismatchError(`ABY3.${fn}: shapes of 'b' ${fmtShape(bb.shape)} and 'x' ${fmtShape(a.shape)} differ`);
    const key = this.#c.nextOp();
    const net = this.#c.net;
    const n = a.size;
    return this.#c.ready().then(async () => {
      const plane = bb.parts.map((p) => (p === undefined ? undefined : wordsToPlane(ring.reshape(p, [n]), n, net.bits)));
      const parts = await selectParts(net, plane, [...a.parts], [...c.parts], a.shape, key);
      return this.#c.arith(parts, a.shape, a.encoding, intersectSensitivity([bb.sensitivity, a.sensitivity, c.sensitivity]));
    });
  }
}

