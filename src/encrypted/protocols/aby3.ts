/**
 * ABY3: the replicated sharing and its arithmetic (aby3-core.ts), with the
 * secure-aggregation fast paths (encryptSum, aggregateInto,
 * aggregateRingInto: docs/encrypted.md, "MPC secure aggregation") and the
 * nonlinear ops (aby3-boolean.ts, aby3-nonlinear.ts, and the
 * protocol-independent approx.ts, conv.ts, pool.ts, im2col.ts: docs/encrypted-ml.md).
 */
import { Prg } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { RingArena } from '../arena.js';
import { ShapeMismatchError } from '../errors.js';
import { checkScaledEncodable, decodeSumInto, encodeSubInto } from '../fixed.js';
import { checkPlayer, type Player } from '../player.js';
import { BinaryReplicatedTensor, ReplicatedTensor, type Encoding } from '../tensor.js';
import { intersectSensitivity, type AddNCollection, type Parts } from './base.js';
import { ABY3Boolean } from './aby3-boolean.js';
import { ConvOps, type NNHost } from './conv.js';
import type { ConvOptions } from './im2col.js';
import { PoolOps } from './pool.js';
import type { PartMap } from './pool-layout.js';
import type { PublicTensor } from '../tensor.js';
import { ApproxOps, type ApproxOptions } from './approx.js';
import { ABY3Core, type ABY3Options } from './aby3-core.js';

export class ABY3 extends ABY3Core {
  constructor(server0: Player, server1: Player, server2: Player, options?: ABY3Options) {
    super(server0, server1, server2, options);
    this.boolean = new ABY3Boolean(this.aby3Context());
    const ctx = this.aby3Context();
    const host: NNHost<ReplicatedTensor> = {
      name: 'ABY3',
      fixed: this.fixed,
      arith: ctx.arith,
      checkArith: ctx.checkArith,
      matmul: (x, y) => this.matmul(x, y),
      matmulMapped: (x, y, maps) => this.matmulMapped(x, y, maps),
      mul: (x, y) => this.mul(x, y),
      mulCat: (segs) => this.#mulCat(segs),
      truncate: (x) => this.truncate(x),
      divPublic: (x, c) => this.divPublic(x, c),
      greater: (x, y) => this.greater(x, y),
      addPublic: (x, c) => this.addPublic(x, c),
    };
    this.#conv = new ConvOps(host);
    this.#pool = new PoolOps(host);
    this.#approx = new ApproxOps<ReplicatedTensor, BinaryReplicatedTensor>({
      name: 'ABY3', bits: this.bits, fixed: this.fixed,
      checkArith: ctx.checkArith, arith: ctx.arith,
      mul: (x, y) => this.mul(x, y), mulPublic: (x, c) => this.mulPublic(x, c), divPublic: (x, c) => this.divPublic(x, c),
      addPublic: (x, c) => this.addPublic(x, c), add: (x, y) => this.add(x, y), sub: (x, y) => this.sub(x, y), neg: (x) => this.neg(x),
      addN: (xs) => this.addN(xs), sum: (x, axis, keep) => this.sum(x, axis, keep), reshape: (x, shape) => this.reshape(x, shape), transpose: (x, perm) => this.transpose(x, perm),
      relu: (x) => this.relu(x), isNegative: (x) => this.isNegative(x), signBit: (x) => this.boolean.signBit(x), select: (b, x, y) => this.select(b, x, y),
    });
  }

  /**
   * NNHost.mulCat: mul of the concatenations [x^0, x^1, ...] and
   * [y^0 - s^0, ...] (flat), the segments multiplied in the workspace
   * (aby3-mul.ts): the messages of mul on the concatenated sharings.
   */
  #mulCat(segs: readonly { x: ReplicatedTensor; y: ReplicatedTensor; ySub?: ReplicatedTensor; yMap?: PartMap }[]): Promise<ReplicatedTensor> {
    const fn = 'mulCat';
    if (!Array.isArray(segs) || segs.length === 0) throw new TypeError(`ABY3.${fn}: argument 'segs' must be a non-empty array`);
    const all: ReplicatedTensor[] = [];
    segs.forEach((s, j) => {
      const ts = [this.checkOperand(fn, `segs[${j}].x`, s.x), this.checkOperand(fn, `segs[${j}].y`, s.y), ...(s.ySub === undefined ? [] : [this.checkOperand(fn, `segs[${j}].ySub`, s.ySub)])];
      if (s.yMap !== undefined && (s.ySub !== undefined || s.y.size !== s.yMap.inElems)) throw new ShapeMismatchError(`ABY3.${fn}: segment ${j}: 'y' has ${s.y.size} elements, expected yMap's ${s.yMap.inElems} (and no ySub)`);
      if (ts.some((t, i) => t.size !== s.x.size && !(i === 1 && s.yMap !== undefined))) throw new ShapeMismatchError(`ABY3.${fn}: segment ${j} has operands of ${ts.map((t) => t.size).join(', ')} elements, expected equal sizes`);
      if (s.x.encoding !== segs[0]!.x.encoding || ts.slice(1).some((t) => t.encoding !== segs[0]!.y.encoding)) throw new TypeError(`ABY3.${fn}: segment ${j} mixes encodings`);
      all.push(...ts);
    });
    const [ex, ey] = [segs[0]!.x.encoding, segs[0]!.y.encoding];
    const enc: Encoding = ex === 'int' && ey === 'int' ? 'int' : 'fixed';
    const shape = [segs.reduce((a, s) => a + s.x.size, 0)];
    const key = this.nextOp();
    const parts = segs.map((s) => ({ n: s.x.size, x: [...s.x.parts], y: [...s.y.parts], ySub: s.ySub === undefined ? undefined : [...s.ySub.parts], yMap: s.yMap }));
    return this.ready().then(async () => this.makeTensor(await this.mulParts([], [], shape, key, ex === 'fixed' && ey === 'fixed', parts), shape, enc, intersectSensitivity(all.map((t) => t.sensitivity))));
  }

  readonly #conv: ConvOps<ReplicatedTensor>;
  readonly #pool: PoolOps<ReplicatedTensor>;

  // ------------------------------------------------------------ conv and pooling, NHWC (conv.ts, pool.ts, im2col.ts; docs/encrypted-ml.md)

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

  // ------------------------------------------------------------ smooth ops (approx.ts; ranges, costs and errors in docs/encrypted-ml.md)

  readonly #approx: ApproxOps<ReplicatedTensor, BinaryReplicatedTensor>;
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
