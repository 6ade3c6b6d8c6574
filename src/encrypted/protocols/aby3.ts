/**
 * ABY3 (Mohassel & Rindal 2018) arithmetic sharing among three servers:
 * x = x0 + x1 + x2 mod 2^l, server i holds the pair (x_i, x_(i+1)).
 *
 * Set-up: server i draws a PRF key k_i from the CSPRNG and sends it to server
 * i+1 (16 bytes, once), so each pair of servers shares one key. Zero-sharings
 * alpha_i = F(k_i, nonce) - F(k_(i-1), nonce) then cost no communication.
 *
 * - encrypt: the owner sends server0 two seeds (for x0, x1), server1 the seed
 *   of x1 and x2 = x - x0 - x1 in full, server2 x2 in full and the seed of x0.
 * - mul (integers): z_i = x_i y_i + x_i y_(i+1) + x_(i+1) y_i + alpha_i, and
 *   server i sends z_i to server i-1: one element per product per server.
 * - mul (fixed point, fused with truncation, after ABY3's Pi_trunc1):
 *   server2 sends z_2 to server1, so server0 holds a = z_0 and server1 holds
 *   b = z_1 + z_2 (a 2-out-of-2 sharing); each truncates its share locally
 *   (SecureML); then with r, m = F(k_0, .) known to servers 0 and 1 the new
 *   sharing is (a' - m, r, b' + m - r): server0 sends a' - m and server1 sends
 *   b' + m - r to server2. Again one element per product per server, two rounds.
 * - truncate: the same second half, with a = x0 and b = x1 + x2 (no first message).
 * - reveal: the target receives the components it lacks (one message if it is
 *   a server, three if not), from the servers holding them as first part.
 */
import { Prg } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { RingArena } from '../arena.js';
import { ShapeMismatchError } from '../errors.js';
import { checkScaledEncodable, decodeSumInto, encodeSubInto } from '../fixed.js';
import { checkPlayer, type Player } from '../player.js';
import { BinaryReplicatedTensor, ReplicatedTensor, type Encoding, type ProtocolTensor, type Sensitivity } from '../tensor.js';
import { checkOptions, checkRoster, Protocol, type AddNCollection, type Parts, type ProtocolOptions } from './base.js';
import { ABY3Boolean, type Aby3Context } from './aby3-boolean.js';
import { ABY3Conv, type ConvOptions, type NNHost } from './aby3-conv.js';
import { ABY3Pool } from './aby3-pool.js';
import type { PublicTensor } from '../tensor.js';
import { ABY3Approx, type ApproxOptions } from './aby3-approx.js';

const I3 = [0, 1, 2] as const;

export class ABY3 extends Protocol<ReplicatedTensor> {
  readonly kind = 'aby3';
  readonly servers: readonly [Player, Player, Player];

  constructor(server0: Player, server1: Player, server2: Player, options?: ProtocolOptions) {
    const opts = checkOptions('ABY3', options);
    super('aby3', 'ABY3', opts);
    this.servers = checkRoster('ABY3', ['server0', 'server1', 'server2'], [server0, server1, server2]) as [Player, Player, Player];
    this.servers.forEach((p) => this.register(p));
    this.boolean = new ABY3Boolean(this.#context());
    const ctx = this.#context();
    const host: NNHost = {
      fixed: this.fixed,
      arith: ctx.arith,
      checkArith: ctx.checkArith,
      matmul: (x, y) => this.matmul(x, y),
      mul: (x, y) => this.mul(x, y),
      truncate: (x) => this.truncate(x),
      divPublic: (x, c) => this.divPublic(x, c),
      greater: (x, y) => this.greater(x, y),
      addPublic: (x, c) => this.addPublic(x, c),
    };
    this.#conv = new ABY3Conv(host);
    this.#pool = new ABY3Pool(host);
    this.#approx = new ABY3Approx(this, (fn, arg, x) => this.checkOperand(fn, arg, x));
  }

  readonly #conv: ABY3Conv;
  readonly #pool: ABY3Pool;

  // ------------------------------------------------------------ conv and pooling, NHWC (aby3-conv.ts, aby3-pool.ts; docs/encrypted-ml.md)

  /** x [B, H, W, C] * w [KH, KW, C, F] (encrypted or public): im2col (local) + one matmul with truncation. */
  conv2d(x: ReplicatedTensor, w: ReplicatedTensor | PublicTensor, options?: ConvOptions): Promise<ReplicatedTensor> { return this.#conv.conv2d(x, w, options); }
  /** conv2d's gradient for its input [B, H, W, C]: col2im(dy · wᵀ), one matmul. */
  conv2dBackpropInput(inputShape: readonly number[], dy: ReplicatedTensor, w: ReplicatedTensor | PublicTensor, options?: ConvOptions): Promise<ReplicatedTensor> { return this.#conv.conv2dBackpropInput(inputShape, dy, w, options); }
  /** conv2d's gradient for its filter [KH, KW, C, F]: im2col(x)ᵀ · dy, one matmul. */
  conv2dBackpropFilter(x: ReplicatedTensor, dy: ReplicatedTensor, filterShape: readonly number[], options?: ConvOptions): Promise<ReplicatedTensor> { return this.#conv.conv2dBackpropFilter(x, dy, filterShape, options); }
  /** Average pooling (valid): local window sums, one divPublic. */
  avgPool(x: ReplicatedTensor, options: { size: number | readonly [number, number]; strides?: number | readonly [number, number] }): Promise<ReplicatedTensor> { return this.#conv.avgPool(x, options); }
  /** Maximum along `axis` (tree of greater + select). */
  max(x: ReplicatedTensor, axis: number): Promise<ReplicatedTensor> { return this.#pool.max(x, axis); }
  /** Index of the maximum along `axis` ('int'; ties: the lowest index). */
  argmax(x: ReplicatedTensor, axis: number): Promise<ReplicatedTensor> { return this.#pool.argmax(x, axis); }
  /** 2x2 max pooling, stride 2, valid, NHWC. */
  maxPool2x2(x: ReplicatedTensor): Promise<ReplicatedTensor> { return this.#pool.maxPool2x2(x); }
  /** maxPool2x2 and its backward mask (0/1 at each window's argmax, input-shaped). */
  maxPool2x2WithMask(x: ReplicatedTensor): Promise<{ y: ReplicatedTensor; mask: ReplicatedTensor }> { return this.#pool.maxPool2x2WithMask(x); }
  /** maxPool2x2's backward pass: mask · upsample(dy), one mul. */
  maxPool2x2Backward(mask: ReplicatedTensor, dy: ReplicatedTensor): Promise<ReplicatedTensor> { return this.#pool.maxPool2x2Backward(mask, dy); }

  /**
   * Boolean (XOR) sharing of ring words: input, xor, not, andPublic, shifts,
   * and (one round), signBit, reveal (aby3-boolean.ts, aby3-binary.ts).
   */
  readonly boolean: ABY3Boolean;

  #context(): Aby3Context {
    return {
      net: {
        id: this.id,
        bits: this.bits,
        local: (i) => this.isLocal(this.#s(i)),
        key: (i) => this.#k(i),
        moveBytes: (f, t, key, b) => this.moveBytes(this.#s(f), this.#s(t), key, b),
        moveRing: (f, t, key, v, shape) => this.move(this.#s(f), this.#s(t), key, v, shape),
      },
      self: this,
      servers: this.servers,
      nextOp: () => this.nextOp(),
      ready: () => this.ready(),
      checkArith: (fn, arg, x) => this.checkOperand(fn, arg, x),
      checkPlayer: (fn, arg, p) => this.checkKnownPlayer(fn, arg, p),
      sensitivityOption: (fn, s) => this.checkSensitivityOption(fn, s),
      arith: (parts, shape, enc, sens) => this.makeTensor(parts, shape, enc, sens),
      binary: (parts, shape, sens) => new BinaryReplicatedTensor(this, this.servers, parts, shape, 'int', sens),
      sub: (x, y) => this.sub(x, y),
      moveTo: (f, to, key, t, shape) => this.move(this.#s(f), to, key, t, shape),
    };
  }

  protected override checkOperand(fn: string, arg: string, x: unknown): ReplicatedTensor {
    if (x instanceof BinaryReplicatedTensor) throw new TypeError(`ABY3.${fn}: argument '${arg}' is a boolean-shared tensor; this op takes an arithmetic sharing (ReplicatedTensor)`);
    return super.checkOperand(fn, arg, x);
  }

  // ------------------------------------------------------------ nonlinear ops (aby3-boolean.ts, aby3-nonlinear.ts; docs/encrypted-ml.md)

  /** [x < 0] as 0/1 integers (encoding 'int'): the sign bit of the encoding, bit-injected. */
  isNegative(x: ReplicatedTensor): Promise<ReplicatedTensor> { return this.boolean.isNegative(x); }
  /** [x > y] as 0/1 integers (exact while |x - y| is in the encoding's range). */
  greater(x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor> { return this.boolean.greater(x, y); }
  /** [x < y] as 0/1 integers. */
  less(x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor> { return this.boolean.less(x, y); }
  /** max(x, 0), exact on the encoding. */
  relu(x: ReplicatedTensor): Promise<ReplicatedTensor> { return this.boolean.relu(x); }
  /** [x >= 0] as 0/1 integers (ReLU's derivative; 1 at 0). */
  reluDerivative(x: ReplicatedTensor): Promise<ReplicatedTensor> { return this.boolean.reluDerivative(x); }
  /** b ? x : y for a boolean-shared bit (bit injection, 2 rounds) or a 0/1 integer sharing (one mul). */
  select(b: BinaryReplicatedTensor | ReplicatedTensor, x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor> {
    return this.boolean.select(b, x, y, (u, v) => this.mul(u, v));
  }

  // ------------------------------------------------------------ smooth ops (aby3-approx.ts; ranges, costs and errors in docs/encrypted-ml.md)

  readonly #approx: ABY3Approx;
  /** exp(x): (1 + z + z²/2)^(2^k), z = x/2^k (k = 5 'low', 8 'high'); `clip` (default) makes x ≤ -2^k give 0. */
  exp(x: ReplicatedTensor, options?: ApproxOptions): Promise<ReplicatedTensor> { return this.#approx.exp(x, options); }
  /** 1/x for x in the public range [lo, hi]: Newton–Raphson from the minimax linear guess. */
  reciprocal(x: ReplicatedTensor, options: { range: [number, number] }): Promise<ReplicatedTensor> { return this.#approx.reciprocal(x, options); }
  /** x / y for y in the public range [lo, hi]. */
  div(x: ReplicatedTensor, y: ReplicatedTensor, options: { range: [number, number] }): Promise<ReplicatedTensor> { return this.#approx.div(x, y, options); }
  /** 1/(1 + exp(-x)), any x in range. */
  sigmoid(x: ReplicatedTensor): Promise<ReplicatedTensor> { return this.#approx.sigmoid(x); }
  /** softmax along `axis` (default the last), the maximum subtracted first. */
  softmax(x: ReplicatedTensor, axis = -1, options?: ApproxOptions): Promise<ReplicatedTensor> { return this.#approx.softmax(x, axis, options); }
  /** log(softmax(x)) along `axis`. */
  logSoftmax(x: ReplicatedTensor, axis = -1, options?: ApproxOptions): Promise<ReplicatedTensor> { return this.#approx.logSoftmax(x, axis, options); }

  get players(): readonly Player[] { return this.servers; }
  protected get partHolders(): readonly Player[] {
    const [a, b, c] = this.servers;
    return [a, a, b, b, c, c];
  }
  /** x0 sits at server0's first part and server2's second part. */
  protected get constantSlots(): readonly number[] { return [0, 5]; }

  protected makeTensor(parts: Parts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): ReplicatedTensor {
    return new ReplicatedTensor(this, this.servers, parts, shape, encoding, sensitivity);
  }

  protected ownsTensor(x: ProtocolTensor): x is ReplicatedTensor {
    return x instanceof ReplicatedTensor;
  }

  #s(i: number): Player {
    return this.servers[((i % 3) + 3) % 3]!;
  }

  protected async setup(): Promise<void> {
    await Promise.all(I3.map((i) => this.establishKey(this.#s(i), this.#s(i + 1))));
  }

  /** Key shared by server i and server i+1. */
  #k(i: number): Uint8Array {
    return this.pairKey(this.#s(i), this.#s(i + 1));
  }

  protected async shareRing(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string): Promise<Parts> {
    const [s0, s1, s2, r1, r2] = await this.#shareMessages(owner, value, shape, key);
    const fromSeed = (s: Uint8Array): RingTensor => this.randomRing(shape, new Prg(new Uint8Array(s)));
    const parts: Parts = new Array(6).fill(undefined);
    if (s0 !== undefined) {
      parts[0] = fromSeed(s0.subarray(0, 16));
      parts[1] = fromSeed(s0.subarray(16, 32));
    }
    if (s1 !== undefined) {
      parts[2] = fromSeed(s1);
      parts[3] = r1;
    }
    if (s2 !== undefined) {
      parts[4] = r2;
      parts[5] = fromSeed(s2);
    }
    return parts;
  }

  /**
   * encryptAddN's sharing of one owner's input, added into `acc` where it
   * arrives; as shareRing, except that x2 goes to server1 only (server2's
   * copy of component 2 is the sum, forwarded once by `finishAddN`, as in
   * encryptSum): each owner uploads one full component, not two. Seeds
   * expand through the scratch buffer; nothing per owner is kept.
   */
  protected override async shareAddInto(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string, acc: Parts, accept: () => boolean = () => true): Promise<void> {
    const [s0, s1, s2, r1] = await this.#shareMessages(owner, value, shape, key, { aggregate: true });
    // (a holder adds all of the owner's parts it got, or none: accept() is asked once, synchronously before the adds)
    if ((s0 !== undefined || s1 !== undefined || s2 !== undefined) && !accept()) return;
    const add = (slot: number, t: RingTensor): void => void ring.addInPlace(this.must(acc[slot], this.partHolders[slot]!, 'running sum'), t);
    const addSeed = (slot: number, s: Uint8Array): void => add(slot, new Prg(new Uint8Array(s)).ringTensorInto(this.scratch(shape)));
    if (s0 !== undefined) {
      addSeed(0, s0.subarray(0, 16));
      addSeed(1, s0.subarray(16, 32));
    }
    if (s1 !== undefined) {
      addSeed(2, s1);
      add(3, this.must(r1, this.#s(1), 'x2'));
    }
    if (s2 !== undefined) addSeed(5, s2);
  }

  /**
   * server1 forwards the sum of the owners' x2 (component 2 of the sum) to
   * server2, once: server2 never sees an owner's x2, only its own replicated
   * share of the sum.
   */
  protected override async finishAddN(acc: Parts, shape: readonly number[], key: string): Promise<Parts> {
    const [, p1, p2] = this.servers;
    const fwd = await this.move(p1, p2, `${key}/x2sum`, this.isLocal(p1) ? this.must(acc[3], p1, 'x2 sum') : undefined, shape);
    if (this.isLocal(p2)) acc[4] = this.must(fwd, p2, 'x2 sum');
    return acc;
  }

  /**
   * The messages of sharing `value` (where `owner` executes): server0 gets
   * the seeds of x0 and x1, server1 the seed of x1 and x2 = x - x0 - x1,
   * server2 the seed of x0 and x2. For encryptAddN (`aggregate`), x2 goes
   * to server1 only and is computed in place in the owner's encoding (the
   * protocol's own: encodeFn's fresh tensor). Resolves with what arrived here:
   * [seeds01 (server0), seed1 (server1), seed0 (server2), x2 (server1), x2 (server2)].
   */
  async #shareMessages(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string, o: { aggregate?: boolean } = {}): Promise<[Uint8Array?, Uint8Array?, Uint8Array?, RingTensor?, RingTensor?]> {
    let seeds: Uint8Array | undefined;
    let x2: RingTensor | undefined;
    if (this.isLocal(owner)) {
      const pa = new Prg();
      const pb = new Prg();
      seeds = new Uint8Array(32);
      seeds.set(pa.seed, 0);
      seeds.set(pb.seed, 16);
      // x2 = x - PRG(a) - PRG(b), the expansions through the scratch buffer; in place in encryptAddN's encoding (its own)
      const x = this.must(value, owner, 'input');
      x2 = o.aggregate ? ring.subInPlace(x, pa.ringTensorInto(this.scratch(shape))) : ring.sub(x, pa.ringTensorInto(this.scratch(shape)));
      ring.subInPlace(x2, pb.ringTensorInto(this.scratch(shape)));
    }
    return Promise.all([
      this.moveBytes(owner, this.#s(0), `${key}/seeds01`, seeds),
      this.moveBytes(owner, this.#s(1), `${key}/seed1`, seeds?.subarray(16, 32)),
      this.moveBytes(owner, this.#s(2), `${key}/seed0`, seeds?.subarray(0, 16)),
      this.move(owner, this.#s(1), `${key}/x2`, x2, shape),
      o.aggregate ? undefined : this.move(owner, this.#s(2), `${key}/x2`, x2, shape),
    ]);
  }

  /** Fill `t` with PRF(key, nonce) (reusing its memory). */
  #prfInto(t: RingTensor, key: Uint8Array, nonce: string): RingTensor {
    Prg.derive(key, nonce).fill(t.data);
    return t;
  }

  /**
   * z_i (3-out-of-3, re-randomised by alpha_i = F(k_i) - F(k_(i-1))) from the
   * replicated operands, for each local server. `f` returns a fresh tensor and
   * its second argument is a fresh scratch tensor it may overwrite.
   */
  #localProducts(x: Parts, y: Parts, shape: readonly number[], key: string, f: (xi: RingTensor, xj: RingTensor, yi: RingTensor, yj: RingTensor) => [RingTensor, RingTensor]): (RingTensor | undefined)[] {
    return I3.map((i) => {
      const me = this.#s(i);
      if (!this.isLocal(me)) return undefined;
      const [z, scratch] = f(this.must(x[2 * i], me, 'x'), this.must(x[2 * i + 1], me, 'x'), this.must(y[2 * i], me, 'y'), this.must(y[2 * i + 1], me, 'y'));
      ring.addInPlace(z, this.#prfInto(scratch, this.#k(i), `${key}/alpha`));
      ring.subInPlace(z, this.#prfInto(scratch, this.#k(i - 1), `${key}/alpha`));
      return z;
    });
  }

  /** Re-replicate a 3-out-of-3 sharing: server i sends z_i to server i-1. */
  async #reshare(z: (RingTensor | undefined)[], shape: readonly number[], key: string): Promise<Parts> {
    const got = await Promise.all(I3.map((i) => this.move(this.#s(i), this.#s(i - 1), `${key}/z${i}`, z[i], shape)));
    // got[i] is z_i where server i-1 executes
    const parts: Parts = new Array(6).fill(undefined);
    for (const i of I3) {
      if (!this.isLocal(this.#s(i))) continue;
      parts[2 * i] = z[i];
      parts[2 * i + 1] = got[(i + 1) % 3];
    }
    return parts;
  }

  /**
   * From a 2-out-of-2 sharing a (server0) + b (server1) of a value scaled by
   * 2^(2f): truncate locally and re-replicate (server0 and server1 each send
   * one element to server2). `b` is always fresh (overwritten); `a` is
   * overwritten only when `ownA`.
   */
  async #truncate2of2(a: RingTensor | undefined, b: RingTensor | undefined, shape: readonly number[], key: string, f = this.fixed.frac, ownA = false): Promise<Parts> {
    const [p0, p1, p2] = this.servers;
    let s0: RingTensor | undefined;
    let s1: RingTensor | undefined;
    let s2: RingTensor | undefined;
    if (this.isLocal(p0)) {
      const a0 = this.must(a, p0, 'a');
      s0 = ownA ? ring.shrLogicalInPlace(a0, f) : ring.shrLogical(a0, f);
      ring.subInPlace(s0, this.#prfInto(this.scratch(shape), this.#k(0), `${key}/m`));
      s1 = this.prfRing(this.#k(0), `${key}/r`, shape);
    }
    if (this.isLocal(p1)) {
      const r = this.prfRing(this.#k(0), `${key}/r`, shape);
      const bt = ring.negInPlace(ring.shrLogicalInPlace(ring.negInPlace(this.must(b, p1, 'b')), f));
      ring.addInPlace(bt, this.#prfInto(this.scratch(shape), this.#k(0), `${key}/m`));
      ring.subInPlace(bt, r);
      s1 = r;
      s2 = bt;
    }
    const [g0, g2] = await Promise.all([
      this.move(p0, p2, `${key}/t0`, s0, shape),
      this.move(p1, p2, `${key}/t2`, s2, shape),
    ]);
    const parts: Parts = new Array(6).fill(undefined);
    if (this.isLocal(p0)) { parts[0] = s0; parts[1] = s1; }
    if (this.isLocal(p1)) { parts[2] = s1; parts[3] = s2; }
    if (this.isLocal(p2)) { parts[4] = g2; parts[5] = g0; }
    return parts;
  }

  async #finish(z: (RingTensor | undefined)[], shape: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    if (!trunc) return this.#reshare(z, shape, key);
    const [p0, p1, p2] = this.servers;
    const z2 = await this.move(p2, p1, `${key}/z2`, z[2], shape);
    // z1 is fresh and never sent: accumulate into it (z2 was received: not mutated)
    const b = this.isLocal(p1) ? ring.addInPlace(this.must(z[1], p1, 'z1'), this.must(z2, p1, 'z2')) : undefined;
    return this.#truncate2of2(this.isLocal(p0) ? z[0] : undefined, b, shape, key, this.fixed.frac, true);
  }

  protected mulParts(x: Parts, y: Parts, shape: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    const z = this.#localProducts(x, y, shape, key, (xi, xj, yi, yj) => {
      const t = ring.mulInPlace(ring.add(yi, yj), xi);
      const u = this.scratch(shape);
      u.data.set(xj.data);
      ring.mulInPlace(u, yi);
      ring.addInPlace(t, u);
      return [t, u];
    });
    return this.#finish(z, shape, key, trunc);
  }

  protected matmulParts(x: Parts, y: Parts, sx: readonly number[], sy: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    const shape = [sx[0]!, sy[1]!];
    const z = this.#localProducts(x, y, shape, key, (xi, xj, yi, yj) => {
      const t = ring.matmul(xi, ring.add(yi, yj));
      const u = ring.matmul(xj, yi);
      ring.addInPlace(t, u);
      return [t, u];
    });
    return this.#finish(z, shape, key, trunc);
  }

  protected truncParts(x: Parts, shape: readonly number[], key: string, shift?: number): Promise<Parts> {
    const [p0, p1] = this.servers;
    const a = this.isLocal(p0) ? x[0] : undefined;
    const b = this.isLocal(p1) ? ring.add(this.must(x[2], p1, 'x1'), this.must(x[3], p1, 'x2')) : undefined;
    return this.#truncate2of2(a, b, shape, key, shift);
  }

  protected async revealParts(x: Parts, shape: readonly number[], to: Player, key: string): Promise<RingTensor | undefined> {
    const c = await this.#revealComponents(x, shape, to, key);
    if (c === undefined) return undefined;
    const sum = ring.add(c[0]!, c[1]!);
    for (let i = 2; i < c.length; i++) ring.addInPlace(sum, c[i]!);
    return sum;
  }

  /**
   * Components of `x` summing to its value, where `to` executes (undefined
   * elsewhere). A server `to` holds two components and receives the third
   * from the server whose first part it is. An outside player receives two
   * messages: x0 + x1 from server0 (which holds both) and x2 from server2;
   * the first is the value minus the uniformly random x2, so the pair tells
   * it nothing beyond the value, and it costs 2n elements instead of 3n.
   */
  async #revealComponents(x: Parts, shape: readonly number[], to: Player, key: string): Promise<RingTensor[] | undefined> {
    const j = this.servers.findIndex((s) => s.name === to.name);
    if (j < 0) {
      const s0 = this.#s(0);
      const x01 = this.isLocal(s0) ? ring.add(this.must(x[0], s0, 'x0'), this.must(x[1], s0, 'x1')) : undefined;
      const got = await Promise.all([this.move(s0, to, `${key}/reveal01`, x01, shape), this.move(this.#s(2), to, `${key}/reveal2`, x[4], shape)]);
      return this.isLocal(to) ? (got as RingTensor[]) : undefined;
    }
    const k = (j + 2) % 3;
    const got = await this.move(this.#s(k), to, `${key}/reveal${k}`, x[2 * k], shape);
    if (!this.isLocal(to)) return undefined;
    return [this.must(x[2 * j], to, 'x'), this.must(x[2 * j + 1], to, 'x'), got!];
  }

  /**
   * Like `reveal`, but decodes straight into `out` where `player` executes
   * (no ring sum, no Float64Array): the same messages as `reveal`. Resolves
   * with `out` there, undefined elsewhere.
   */
  revealInto<O extends Float32Array | Float64Array>(x: ReplicatedTensor, player: Player, out: O): Promise<O | undefined> {
    const fn = 'revealInto';
    if (!(out instanceof Float32Array || out instanceof Float64Array)) throw new TypeError(`ABY3.${fn}: argument 'out' must be a Float32Array or Float64Array, got ${out === null ? 'null' : typeof out}`);
    this.checkOperand(fn, 'x', x);
    if (out.length !== x.size) throw new ShapeMismatchError(`ABY3.${fn}: argument 'out' has ${out.length} elements, 'x' has ${x.size}`);
    const p = this.checkRevealTarget(fn, x, player);
    const key = this.nextOp();
    return this.readyForSharing().then(async () => {
      const c = await this.#revealComponents([...x.parts], x.shape, p, key);
      if (c === undefined) return undefined;
      return decodeSumInto(c, this.fixed, x.encoding === 'fixed' ? this.fixed.frac : 0, out);
    });
  }

  /**
   * Secure aggregation's input step, fused: each owner secret-shares
   * `multipliers[i] * inputs[i]` (fixed point) and the servers add the
   * shares, giving one ReplicatedTensor of the sum. Messages: each owner
   * sends the seeds of components 0 and 1 (32 B to server0, 16 B each to
   * server1 and server2) and the full component 2 = x - x0 - x1 to server1
   * only; server1 adds the owners' components 2 and forwards that sum to
   * server2 once (n elements), so each owner uploads one full component (not
   * two, as `encryptEncoded` + `addN` would) and server2 sees only the sum,
   * i.e. exactly its replicated share of the result. Owners are handled
   * one after the other through a fixed working set (`options.arena`), with
   * the encoding, the masking and the sums done in place (no BigInt, no
   * clone), and each component sum computed once per process (where both of
   * its holders execute here they share it; where the owner executes here
   * too, its PRG expansion is reused instead of recomputed from the seed).
   *
   * `inputs[i]` is needed only where owner i executes (pass undefined
   * elsewhere, and `options.size`). Values are range-checked at each local
   * owner before anything is sent (EncodingRangeError naming the owner).
   */
  async encryptSum(owners: readonly Player[], inputs: readonly (Float32Array | Float64Array | undefined)[], multipliers: readonly number[], options: { size?: number; arena?: RingArena; sensitivity?: readonly Player[] | null } = {}): Promise<ReplicatedTensor> {
    const fn = 'ABY3.encryptSum';
    const { arena, n } = this.#checkSumArgs(fn, owners, inputs, multipliers, options);
    const sens = this.checkSensitivityOption('encryptSum', options.sensitivity);
    const shape = [n];
    const bits = this.bits;
    const key = this.nextOp();
    await this.readyForSharing();
    const [p0, p1, p2] = this.servers;
    const local = this.servers.map((s) => this.isLocal(s));
    // component c is held by server c (first part) and server c-1 (second part)
    // components 0 and 1 are summed where one of their holders executes; component 2 by server1 only (then forwarded)
    const holds = [local[0]! || local[2]!, local[0]! || local[1]!];
    const acc: (RingTensor | undefined)[] = [undefined, undefined, undefined];
    const addTo = (c: number, t: RingTensor): void => {
      const a = acc[c];
      if (a === undefined) {
        const fresh = arena.take(bits, shape);
        fresh.data.set(t.data);
        acc[c] = fresh;
      } else ring.addInPlace(a, t);
    };
    const expandInto = (c: number, seed: Uint8Array): void => {
      const prg = new Prg(new Uint8Array(seed));
      if (acc[c] === undefined) {
        acc[c] = prg.ringTensorInto(arena.take(bits, shape));
      } else {
        const t = prg.ringTensorInto(arena.take(bits, shape));
        ring.addInPlace(acc[c]!, t);
        arena.give(t);
      }
    };
    for (let i = 0; i < owners.length; i++) {
      const owner = owners[i]!;
      const k = `${key}/${i}`;
      const { seeds, r, x2 } = this.isLocal(owner) ? this.#ownerShare(fn, i, inputs[i]!, multipliers[i]!, arena, shape) : {};
      const [s0, s1, s2, y1] = await Promise.all([
        this.moveBytes(owner, p0, `${k}/seeds01`, seeds),
        this.moveBytes(owner, p1, `${k}/seed1`, seeds?.subarray(16, 32)),
        this.moveBytes(owner, p2, `${k}/seed0`, seeds?.subarray(0, 16)),
        this.move(owner, p1, `${k}/x2`, x2, shape),
      ]);
      // r (the owner's own expansion of the seeds) stands for PRG(seed) where the owner executes too
      if (holds[0]) {
        if (r !== undefined) addTo(0, r[0]);
        else expandInto(0, this.must(s0?.subarray(0, 16) ?? s2, local[0] ? p0 : p2, 'seed0'));
      }
      if (holds[1]) {
        if (r !== undefined) addTo(1, r[1]);
        else expandInto(1, this.must(s0?.subarray(16, 32) ?? s1, local[0] ? p0 : p1, 'seed1'));
      }
      if (local[1]) addTo(2, this.must(y1, p1, 'x2'));
      if (r !== undefined) {
        arena.give(r[0]);
        arena.give(r[1]);
      }
      // x2 may be reused only when its receiver is in this process and has consumed it
      // (an in-memory transport hands the same buffer over; others may keep the payload)
      if (x2 !== undefined && local[1] && this.transport.kind === 'memory') arena.give(x2);
    }
    // server1 forwards the sum of the x2's (component 2 of the sum) to server2, once
    const fwd = await this.move(p1, p2, `${key}/x2sum`, local[1] ? this.must(acc[2], p1, 'x2 sum') : undefined, shape);
    if (local[2] && !local[1]) acc[2] = fwd;
    const parts: Parts = [local[0] ? acc[0] : undefined, local[0] ? acc[1] : undefined, local[1] ? acc[1] : undefined, local[1] ? acc[2] : undefined, local[2] ? acc[2] : undefined, local[2] ? acc[0] : undefined];
    return this.makeTensor(parts, shape, 'fixed', sens);
  }

  /**
   * Owner i's side of the aggregation sharing: two fresh CSPRNG seeds, their
   * expansions r0 and r1, and x2 = encode(multiplier * x) - r0 - r1, written
   * into working memory from `arena`.
   */
  #ownerShare(fn: string, i: number, x: Float32Array | Float64Array, multiplier: number, arena: RingArena, shape: number[]): { seeds: Uint8Array; r: [RingTensor, RingTensor]; x2: RingTensor } {
    const bits = this.bits;
    const pa = new Prg();
    const pb = new Prg();
    const seeds = new Uint8Array(32);
    seeds.set(pa.seed, 0);
    seeds.set(pb.seed, 16);
    const r: [RingTensor, RingTensor] = [pa.ringTensorInto(arena.take(bits, shape)), pb.ringTensorInto(arena.take(bits, shape))];
    const x2 = encodeSubInto(x, multiplier, this.fixed, r[0], r[1], arena.take(bits, shape), fn, `inputs[${i}]`, true);
    return { seeds, r, x2 };
  }

  /** The argument checks shared by encryptSum and aggregateInto (values range-checked at each local owner). */
  #checkSumArgs(fn: string, owners: readonly Player[], inputs: readonly (Float32Array | Float64Array | undefined)[], multipliers: readonly number[], options: { size?: number; arena?: RingArena }): { arena: RingArena; n: number } {
    if (!Array.isArray(owners) || owners.length === 0) throw new TypeError(`${fn}: argument 'owners' must be a non-empty array of Players`);
    if (!Array.isArray(multipliers) || multipliers.length !== owners.length) throw new TypeError(`${fn}: argument 'multipliers' must be an array with one number per owner (${owners.length})`);
    multipliers.forEach((m, i) => {
      if (typeof m !== 'number') throw new TypeError(`${fn}: argument 'multipliers[${i}]' must be a number, got ${typeof m}`);
      if (!Number.isFinite(m)) throw new RangeError(`${fn}: argument 'multipliers[${i}]' must be finite, got ${m}`);
    });
    return this.#checkOwnersArgs(fn, owners, inputs, options, (x, i, o) => {
      if (!(x instanceof Float32Array || x instanceof Float64Array)) throw new TypeError(`${fn}: argument 'inputs[${i}]' (owner '${o.name}') must be a Float32Array or Float64Array, got ${x === null ? 'null' : typeof x}`);
      return x.length;
    }, (x, i, o) => checkScaledEncodable(`${fn}: owner '${o.name}'`, `inputs[${i}]`, x as Float32Array | Float64Array, multipliers[i]!, this.fixed));
  }

  /**
   * The owners' side of the fused sums' argument checks (encryptSum,
   * aggregateInto, aggregateRingInto): the owners and one input per owner;
   * at each local owner `length` checks the input's type and gives its
   * length (all equal, or `options.size`), then `values` checks its values
   * (a range check, before anything is sent).
   */
  #checkOwnersArgs(fn: string, owners: readonly Player[], inputs: readonly unknown[], options: { size?: number; arena?: RingArena }, length: (x: unknown, i: number, o: Player) => number, values?: (x: unknown, i: number, o: Player) => void): { arena: RingArena; n: number } {
    if (!Array.isArray(owners) || owners.length === 0) throw new TypeError(`${fn}: argument 'owners' must be a non-empty array of Players`);
    owners.forEach((o, i) => checkPlayer(fn, `owners[${i}]`, o));
    if (!Array.isArray(inputs) || inputs.length !== owners.length) throw new TypeError(`${fn}: argument 'inputs' must be an array with one entry per owner (${owners.length})`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object`);
    const arena = options.arena ?? new RingArena({ pooled: false });
    if (!(arena instanceof RingArena)) throw new TypeError(`${fn}: option 'arena' must be a RingArena`);
    let n = options.size;
    if (n !== undefined && (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)) throw new RangeError(`${fn}: option 'size' must be a non-negative integer, got ${String(n)}`);
    owners.forEach((o, i) => {
      this.register(o);
      if (!this.isLocal(o)) return;
      const len = length(inputs[i], i, o);
      if (n === undefined) n = len;
      else if (len !== n) throw new ShapeMismatchError(`${fn}: argument 'inputs[${i}]' (owner '${o.name}') has ${len} values, expected ${n}`);
      values?.(inputs[i], i, o);
    });
    if (n === undefined) throw new TypeError(`${fn}: no owner executes in this process; pass option 'size'`);
    return { arena, n };
  }

  /**
   * Secure aggregation revealed to one outside player, fused: the value of
   * `encryptSum(owners, inputs, multipliers)` decoded into `out` where
   * `player` executes, without forming the replicated sum no one computes on.
   * The owners share exactly as in encryptSum (x = r0 + r1 + x2, r0 and r1
   * from two fresh seeds); what the reveal needs is r0 + r1 at server0 and
   * x2 at server1, so each owner sends its 32 B of seeds to server0 and its
   * full component x2 = x - r0 - r1 to server1, server0 and server1 each add
   * what they received, and each sends that one sum to `player`, which
   * decodes the two. server2 takes no part. What each party sees: server0
   * seeds only (independent of the inputs), server1 the x2's (each uniform
   * given that it lacks r0), `player` the two sums (the value and a uniform
   * mask). Two messages of n elements reach `player`, against the three of
   * encryptSum's forward to server2 plus revealInto's two.
   *
   * `inputs[i]` only where owner i executes (elsewhere undefined, and
   * `options.size`); `out` where `player` executes. Resolves with `out`
   * there, undefined elsewhere. `options.releaseGate`: awaited where a
   * server executes, before it sends its sum to `player` (it throws to
   * refuse: nothing is sent then). `options.collect`: dropout tolerance, as
   * encryptAddN's (server0 and server1 stop waiting when `until` resolves;
   * the gate then decides whether the sums over what arrived are sent).
   * `options.divideByLast`: the last element of the sum divides the others
   * (a weighted mean's total weight, in the decoding's own multiplication):
   * `out` then has n - 1 elements, and the function is called with the
   * decoded divisor first (it throws to refuse; the divisor must be > 0).
   */
  async aggregateInto<O extends Float32Array | Float64Array>(owners: readonly Player[], inputs: readonly (Float32Array | Float64Array | undefined)[], multipliers: readonly number[], player: Player, out: O | undefined, options: { size?: number; arena?: RingArena; releaseGate?: () => Promise<void>; collect?: AddNCollection; divideByLast?: (divisor: number) => void } = {}): Promise<O | undefined> {
    const fn = 'ABY3.aggregateInto';
    const { arena, n } = this.#checkSumArgs(fn, owners, inputs, multipliers, options);
    const gate = options.releaseGate;
    if (gate !== undefined && typeof gate !== 'function') throw new TypeError(`${fn}: option 'releaseGate' must be a function`);
    const byLast = options.divideByLast;
    if (byLast !== undefined && typeof byLast !== 'function') throw new TypeError(`${fn}: option 'divideByLast' must be a function`);
    if (byLast !== undefined && n < 2) throw new RangeError(`${fn}: option 'divideByLast' needs at least 2 elements, got ${n}`);
    const to = this.checkKnownPlayer(fn, 'player', player);
    if (this.servers.some((s) => s.name === to.name)) throw new TypeError(`${fn}: argument 'player' must not be a compute server (got '${to.name}'); use encryptSum and revealInto`);
    if (this.isLocal(to)) {
      if (!(out instanceof Float32Array || out instanceof Float64Array)) throw new TypeError(`${fn}: argument 'out' must be a Float32Array or Float64Array where '${to.name}' executes, got ${out === null ? 'null' : typeof out}`);
      const want = byLast === undefined ? n : n - 1;
      if (out.length !== want) throw new ShapeMismatchError(`${fn}: argument 'out' has ${out.length} elements, expected ${want}${byLast === undefined ? '' : ' (the last of the ' + n + ' divides the others)'}`);
    }
    const sums = await this.#fusedSums(owners, (i, arena, shape) => this.#ownerShare(fn, i, inputs[i]!, multipliers[i]!, arena, shape), to, n, arena, gate, options.collect);
    if (sums === undefined) return undefined;
    const bits = this.bits;
    if (byLast === undefined) return decodeSumInto(sums, this.fixed, this.fixed.frac, out!);
    // the divisor first (its two ring elements alone), then the others divided by it as they are decoded
    const limbs = bits === 64 ? 1 : 2;
    const head = sums.map((t) => new RingTensor(bits, [n - 1], t.data.subarray(0, (n - 1) * limbs)));
    const last = sums.map((t) => new RingTensor(bits, [1], t.data.subarray((n - 1) * limbs)));
    const divisor = decodeSumInto(last, this.fixed, this.fixed.frac, new Float64Array(1))[0]!;
    byLast(divisor);
    return decodeSumInto(head, this.fixed, this.fixed.frac, out!, divisor);
  }

  /**
   * `aggregateInto` for values already in the ring (an exact integer sum):
   * owner i's `inputs[i]`, where it executes, a RingTensor of this
   * protocol's ring (undefined elsewhere; then `options.size`). The same
   * messages (its fresh seeds to server0, x2 = x - r0 - r1 to server1, the
   * two sums to `player` once the release gate holds; server2 takes no
   * part), and the exact ring sum of the inputs where `player` executes,
   * undefined elsewhere.
   */
  async aggregateRingInto(owners: readonly Player[], inputs: readonly (RingTensor | undefined)[], player: Player, options: { size?: number; arena?: RingArena; releaseGate?: () => Promise<void>; collect?: AddNCollection } = {}): Promise<RingTensor | undefined> {
    const fn = 'ABY3.aggregateRingInto';
    const { arena, n } = this.#checkOwnersArgs(fn, owners, inputs, options, (x, i, o) => {
      if (!(x instanceof RingTensor)) throw new TypeError(`${fn}: argument 'inputs[${i}]' (owner '${o.name}') must be a RingTensor, got ${x === null ? 'null' : typeof x}`);
      if (x.bits !== this.bits) throw new RangeError(`${fn}: argument 'inputs[${i}]' (owner '${o.name}') is in Z_2^${x.bits}, this protocol computes in Z_2^${this.bits}`);
      return x.size;
    });
    const gate = options.releaseGate;
    if (gate !== undefined && typeof gate !== 'function') throw new TypeError(`${fn}: option 'releaseGate' must be a function`);
    const to = this.checkKnownPlayer(fn, 'player', player);
    if (this.servers.some((s) => s.name === to.name)) throw new TypeError(`${fn}: argument 'player' must not be a compute server (got '${to.name}'); use encryptAddN and revealRing`);
    const bits = this.bits;
    const sums = await this.#fusedSums(owners, (i, ar, shape) => {
      const pa = new Prg();
      const pb = new Prg();
      const seeds = new Uint8Array(32);
      seeds.set(pa.seed, 0);
      seeds.set(pb.seed, 16);
      const r: [RingTensor, RingTensor] = [pa.ringTensorInto(ar.take(bits, shape)), pb.ringTensorInto(ar.take(bits, shape))];
      const x2 = ar.take(bits, shape);
      x2.data.set(inputs[i]!.data);
      ring.subInPlace(ring.subInPlace(x2, r[0]), r[1]);
      return { seeds, r, x2 };
    }, to, n, arena, gate, options.collect);
    // (the two sums are this call's own: received, or made here)
    return sums === undefined ? undefined : ring.addInPlace(sums[0], sums[1]);
  }

  /**
   * The fused aggregation's messages (aggregateInto, aggregateRingInto): each
   * owner's seeds to server0 and x2 to server1 (`shareOf`, where the owner
   * executes), server0's and server1's sums to `to` once `gate` holds. The two
   * sums where `to` executes, undefined elsewhere.
   */
  async #fusedSums(owners: readonly Player[], shareOf: (i: number, arena: RingArena, shape: number[]) => { seeds: Uint8Array; r: [RingTensor, RingTensor]; x2: RingTensor }, to: Player, n: number, arena: RingArena, gate: (() => Promise<void>) | undefined, collect: AddNCollection | undefined): Promise<[RingTensor, RingTensor] | undefined> {
    const shape = [n];
    const bits = this.bits;
    const key = this.nextOp();
    // no pairwise key is used here (the owners' fresh seeds are the only randomness): no key set-up waits,
    // so an instance made for one aggregation (mpc-fused.ts) costs its servers no messages of its own
    const [p0, p1] = this.servers;
    const [l0, l1] = [this.isLocal(p0), this.isLocal(p1)];
    let masks: RingTensor | undefined; // server0: sum of r0 + r1
    let rest: RingTensor | undefined; // server1: sum of x2
    const accumulate = (acc: RingTensor | undefined, t: RingTensor): RingTensor => {
      if (acc !== undefined) return ring.addInPlace(acc, t);
      const fresh = arena.take(bits, shape);
      fresh.data.set(t.data);
      return fresh;
    };
    // each owner's sharing is added as it arrives, in any order (the same ring sum)
    let open = true;
    const one = async (i: number): Promise<void> => {
      const owner = owners[i]!;
      const k = `${key}/${i}`;
      const { seeds, r, x2 } = this.isLocal(owner) ? shareOf(i, arena, shape) : {};
      const [sd, y] = await Promise.all([this.moveBytes(owner, p0, `${k}/seeds01`, seeds), this.move(owner, p1, `${k}/x2`, x2, shape)]);
      // (dropout tolerance: a holder adds the owner's part while the collection is open, or never)
      const adds = (l0 && sd !== undefined) || (l1 && y !== undefined);
      if (adds && !open) return;
      if (adds) collect?.applied(i);
      if (l0) {
        // the owner's own expansion stands for PRG(seed) where it executes here too
        const got = this.must(sd, p0, 'seeds');
        const pair = r ?? [new Prg(new Uint8Array(got.subarray(0, 16))), new Prg(new Uint8Array(got.subarray(16, 32)))].map((g) => g.ringTensorInto(arena.take(bits, shape)));
        masks = accumulate(masks, pair[0]!);
        ring.addInPlace(masks, pair[1]!);
        if (r === undefined) pair.forEach((t) => arena.give(t));
      }
      if (l1) rest = accumulate(rest, this.must(y, p1, 'x2'));
      if (r !== undefined) r.forEach((t) => arena.give(t));
      // x2 may be reused only when its receiver is in this process and has consumed it, or when the send,
      // now resolved, copied it (a remote receiver over gRPC)
      if (x2 !== undefined && ((l1 && this.transport.kind === 'memory') || this.transport.copiesOnSend?.(p1.name) === true)) arena.give(x2);
    };
    const runs = owners.map((_, i) => one(i));
    if (collect === undefined) await Promise.all(runs);
    else {
      // an owner that fails or is late has dropped out
      await Promise.race([Promise.all(runs.map((p) => p.catch(() => undefined))), collect.until]);
      open = false;
    }
    // no owner's part arrived (every one dropped out): a zero sum, never sent unless the gate allows it
    if (l0) masks ??= new RingTensor(bits, shape);
    if (l1) rest ??= new RingTensor(bits, shape);
    // a server sends its sum only once its release gate holds (server2 checks it too, though it sends nothing)
    if (gate !== undefined && this.servers.some((s) => this.isLocal(s))) await gate();
    const [a, b] = await Promise.all([this.move(p0, to, `${key}/masks`, masks, shape), this.move(p1, to, `${key}/rest`, rest, shape)]);
    if (!this.isLocal(to)) return undefined;
    return [this.must(a, to, 'masks'), this.must(b, to, 'rest')];
  }
}
