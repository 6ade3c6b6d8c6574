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
 * - truncate: the same second half, with a = x0 and b = x1 + x2 (no first message);
 *   option truncation 'deterministic': exact instead, by a carry circuit over a and b (aby3-trunc.ts).
 * - reveal: the target receives the components it lacks (one message if it is a server, three if not).
 */
import { Prg } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { ringThread, worthRingThread as worthThread } from '../../ring/threads.js';
import type { Player } from '../player.js';
import { ShapeMismatchError } from '../errors.js';
import { decodeSumInto } from '../fixed.js';
import { BinaryReplicatedTensor, ReplicatedTensor, type Encoding, type ProtocolTensor, type Sensitivity } from '../tensor.js';
import { checkOptions, checkRoster, Protocol, type Parts } from './base.js';
import type { Aby3Context } from './aby3-boolean.js';
import { mulProducts, type MulSegment } from './aby3-mul.js';
import { checkTruncation, exactTruncate, type Truncation } from './aby3-trunc.js';
import { checkComparisonBits } from './aby3-binary.js';
import type { ABY3Options } from './aby3-options.js';
import type { LinearMap, MatmulMaps } from './im2col.js';

export type { ABY3Options } from './aby3-options.js';

const I3 = [0, 1, 2] as const;


/**
 * ABY3's replicated sharing and its arithmetic (above); `ABY3` (aby3.ts)
 * adds the secure-aggregation fast paths and the nonlinear ops.
 */
export abstract class ABY3Core extends Protocol<ReplicatedTensor> {
  readonly kind = 'aby3';
  readonly servers: readonly [Player, Player, Player];
  /** How fixed-point products are truncated (option 'truncation'). */
  readonly truncation: Truncation;
  /** The comparisons' bit length (option 'comparisonBits'). */
  readonly comparisonBits: number;

  constructor(server0: Player, server1: Player, server2: Player, options?: ABY3Options) {
    const opts = checkOptions('ABY3', options) as ABY3Options;
    super('aby3', 'ABY3', opts);
    this.truncation = checkTruncation('ABY3', opts.truncation);
    this.comparisonBits = checkComparisonBits('ABY3', opts.comparisonBits, this.bits, this.fixed.frac);
    this.servers = checkRoster('ABY3', ['server0', 'server1', 'server2'], [server0, server1, server2]) as [Player, Player, Player];
    this.servers.forEach((p) => this.register(p));
  }

  /** What the boolean / nonlinear ops need of the protocol (aby3-boolean.ts). */
  protected aby3Context(): Aby3Context {
    return {
      net: {
        id: this.id,
        bits: this.bits,
        cmpBits: this.comparisonBits,
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

  /** Server i (of the three). */
  protected serverAt(i: number): Player {
    return this.#s(i);
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

  /** z_i += F(k_i) − F(k_(i−1)) at each local server i; F(k_j) computed once where servers j and j+1 both execute here. */
  #alpha(zs: (RingTensor | undefined)[], scratch: RingTensor, key: string): (RingTensor | undefined)[] {
    for (const j of I3) {
      const [plus, minus] = [zs[j], zs[(j + 1) % 3]];
      if (plus === undefined && minus === undefined) continue;
      this.#prfInto(scratch, this.#k(j), `${key}/alpha`);
      if (plus !== undefined) ring.addInPlace(plus, scratch);
      if (minus !== undefined) ring.subInPlace(minus, scratch);
    }
    return zs;
  }

  /**
   * Each local server's share of x·y before its re-randomisation,
   * xi·(yi + yj) + xj·yi, and then + F(k_i) − F(k_(i−1)) (#alpha):
   * two ring matmuls per server. With the process's ring thread (src/ring/threads.ts),
   * at least 2^20 multiply-adds per product and 32 per word copied to and
   * from the thread, every second one of the local servers' matmuls runs
   * there while this thread computes the others. With `fused` (matmulMapped's
   * maps.product: the conv kernels) each server's two products, their sum and
   * the maps are one call on the unmapped parts (x, y as they are).
   */
  async #matmulProducts(x: Parts, y: Parts, shape: readonly number[], key: string, map?: (z: RingTensor) => RingTensor, fused?: { f: NonNullable<MatmulMaps['product']>; mnk: [number, number, number] }): Promise<(RingTensor | undefined)[]> {
    const jobs: { a: RingTensor; b: RingTensor }[] = [];
    for (const i of I3) {
      const me = this.#s(i);
      if (!this.isLocal(me)) continue;
      const yi = this.must(y[2 * i], me, 'y');
      jobs.push({ a: this.must(x[2 * i], me, 'x'), b: ring.add(yi, this.must(y[2 * i + 1], me, 'y')) }, { a: this.must(x[2 * i + 1], me, 'x'), b: yi });
    }
    if (fused !== undefined) {
      // the mapped products of each server's pair of jobs in one fused pass (matmulMapped's maps.product); all started before any is awaited,
      // overlapped with other ops where the plain products would go to the ring thread (the same interleaving of the ops' messages)
      const overlap = jobs.length > 1 && worthThread(...fused.mnk) && ringThread() !== null;
      const zs = await Promise.all(jobs.filter((_, q) => q % 2 === 0).map((j, s) => fused.f([[j.a, j.b], [jobs[2 * s + 1]!.a, jobs[2 * s + 1]!.b]], { overlap })));
      return this.#mask(zs, shape, key);
    }
    const [m, k] = jobs[0]?.a.shape ?? [0, 0];
    const n = jobs[0]?.b.shape[1] ?? 0;
    const th = jobs.length > 1 && worthThread(m!, k!, n) ? ringThread() : null;
    const off = jobs.map((j, q) => (th !== null && q % 2 === 1 ? th.matmul(j.a, j.b) : undefined));
    const here = jobs.map((j, q) => (off[q] === undefined ? ring.matmul(j.a, j.b) : undefined));
    const there = await Promise.all(off);
    const prods = jobs.map((_, q) => here[q] ?? there[q]!);
    // a local linear map (matmulMapped) before the zero-sharing, which then has the size of what is sent
    const zs = prods.filter((_, q) => q % 2 === 0).map((p, s) => {
      const z = ring.addInPlace(p, prods[2 * s + 1]!);
      return map === undefined ? z : map(z);
    });
    return this.#mask(zs, shape, key);
  }

  /** The local servers' products zs (in server order) + F(k_i) − F(k_(i−1)), placed at their servers' indices. */
  #mask(zs: RingTensor[], shape: readonly number[], key: string): (RingTensor | undefined)[] {
    let q = 0;
    const placed = I3.map((i) => (this.isLocal(this.#s(i)) ? zs[q++]! : undefined));
    return this.#alpha(placed, this.scratch(shape), key);
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
    let mask: RingTensor | undefined;
    if (this.isLocal(p0)) {
      const a0 = this.must(a, p0, 'a');
      s0 = ownA ? ring.shrLogicalInPlace(a0, f) : ring.shrLogical(a0, f);
      mask = this.#prfInto(this.scratch(shape), this.#k(0), `${key}/m`);
      ring.subInPlace(s0, mask);
      s1 = this.prfRing(this.#k(0), `${key}/r`, shape);
    }
    if (this.isLocal(p1)) {
      // F(k0, r) and F(k0, m): the streams server0 computed above where it executes here (both hold k0)
      const r = s1 ?? this.prfRing(this.#k(0), `${key}/r`, shape);
      const bt = ring.negInPlace(ring.shrLogicalInPlace(ring.negInPlace(this.must(b, p1, 'b')), f));
      ring.addInPlace(bt, mask ?? this.#prfInto(this.scratch(shape), this.#k(0), `${key}/m`));
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
    if (this.truncation === 'deterministic') {
      // a = z0 (server0), b = z1 + z2 at servers 1 and 2, which swap z1 and z2 in the circuit's first round
      const [g2, g1] = [this.move(p2, p1, `${key}/z2`, z[2], shape), this.move(p1, p2, `${key}/z1`, z[1], shape)];
      const b = Promise.all([g2, g1]).then(([z2, z1]): [RingTensor | undefined, RingTensor | undefined] => [
        this.isLocal(p1) ? ring.add(this.must(z[1], p1, 'z1'), this.must(z2, p1, 'z2')) : undefined,
        this.isLocal(p2) ? ring.add(this.must(z1, p2, 'z1'), this.must(z[2], p2, 'z2')) : undefined,
      ]);
      return exactTruncate(this.aby3Context().net, this.isLocal(p0) ? z[0] : undefined, b, shape, this.fixed.frac, key);
    }
    const z2 = await this.move(p2, p1, `${key}/z2`, z[2], shape);
    // z1 is fresh and never sent: accumulate into it (z2 was received: not mutated)
    const b = this.isLocal(p1) ? ring.addInPlace(this.must(z[1], p1, 'z1'), this.must(z2, p1, 'z2')) : undefined;
    return this.#truncate2of2(this.isLocal(p0) ? z[0] : undefined, b, shape, key, this.fixed.frac, true);
  }

  protected mulParts(x: Parts, y: Parts, shape: readonly number[], key: string, trunc: boolean, segs?: readonly MulSegment[]): Promise<Parts> {
    // z_i = x_i y_i + x_i y_(i+1) + x_(i+1) y_i + alpha_i, in one kernel pass (aby3-mul.ts); `segs`: the operands in segments instead
    return mulProducts(this.aby3Context().net, segs ?? [{ x, y }], shape, key).then((z) => this.#finish(z, shape, key, trunc));
  }

  protected matmulParts(x: Parts, y: Parts, sx: readonly number[], sy: readonly number[], key: string, trunc: boolean): Promise<Parts> {
    const shape = [sx[0]!, sy[1]!];
    return this.#matmulProducts(x, y, shape, key).then((z) => this.#finish(z, shape, key, trunc));
  }

  /**
   * out(mapX(x) · mapY(y)) (conv.ts's NNHost.matmulMapped; maps optional):
   * `x` and `y`, public linear maps of ring tensors, applied by each server
   * to its parts of the operands (local); then the matmul's local products
   * (each server's xi·(yi + yj) + xj·yi), then `out`, a linear map from
   * [m, n] to out.shape, applied by each server to its own product, then the
   * zero-sharing F(k_i) − F(k_(i−1)) at out.shape's size (what server i
   * sends is masked by it exactly as a product's share is), and the
   * truncation (fixed · fixed) and the resharing on out.shape's elements: the
   * messages, the PRF streams and the truncation are those of a product of
   * out.shape's size, and the truncation error one unit of out's output
   * instead of out's sum of them. conv2d's input gradient uses it with
   * out = col2im, its filter gradient with y = im2col.
   */
  matmulMapped(x: ReplicatedTensor, y: ReplicatedTensor, maps: MatmulMaps = {}): Promise<ReplicatedTensor> {
    const fn = 'matmulMapped';
    this.checkOperand(fn, 'x', x);
    this.checkOperand(fn, 'y', y);
    if (maps === null || typeof maps !== 'object') throw new TypeError(`ABY3.${fn}: argument 'maps' must be an object { x?, y?, out? }`);
    for (const k of ['x', 'y', 'out'] as const) {
      const m = maps[k];
      if (m !== undefined && (m === null || typeof m.f !== 'function' || !Array.isArray(m.shape))) throw new TypeError(`ABY3.${fn}: option 'maps.${k}' must be { f: function, shape: number[] }`);
    }
    if (maps.product !== undefined && typeof maps.product !== 'function') throw new TypeError(`ABY3.${fn}: option 'maps.product' must be a function`);
    const fused = maps.product;
    const operand = (t: ReplicatedTensor, m: LinearMap | undefined, arg: string): { parts: Parts; shape: readonly number[] } => {
      if (m === undefined) return { parts: [...t.parts], shape: t.shape };
      // the fused product maps the parts itself
      if (fused !== undefined) return { parts: [...t.parts], shape: m.shape };
      const size = m.shape.reduce((a, b) => a * b, 1);
      return {
        parts: t.parts.map((p) => {
          if (p === undefined) return undefined;
          const o = m.f(p);
          if (!(o instanceof RingTensor) || o.size !== size) throw new TypeError(`ABY3.${fn}: 'maps.${arg}.f' must return a ring tensor of shape [${m.shape.join(', ')}]`);
          return new RingTensor(o.bits, m.shape, o.data); // o is the map's fresh result: a view under the shape
        }),
        shape: m.shape,
      };
    };
    const X = operand(x, maps.x, 'x');
    const Y = operand(y, maps.y, 'y');
    if (X.shape.length !== 2 || Y.shape.length !== 2 || X.shape[1] !== Y.shape[0]) {
      throw new ShapeMismatchError(`ABY3.${fn}: expected shapes [m, k] and [k, n] (after the maps), got 'x' [${X.shape.join(', ')}] and 'y' [${Y.shape.join(', ')}]`);
    }
    const trunc = x.encoding === 'fixed' && y.encoding === 'fixed';
    const enc = x.encoding === 'int' && y.encoding === 'int' ? 'int' : 'fixed';
    const sens = x.sensitivity === null ? y.sensitivity : y.sensitivity === null ? x.sensitivity : x.sensitivity.filter((p) => y.sensitivity!.some((q) => q.name === p.name));
    const out = maps.out;
    const outShape = out?.shape ?? [X.shape[0]!, Y.shape[1]!];
    const key = this.nextOp();
    return this.ready().then(async () => {
      const size = outShape.reduce((a, b) => a * b, 1);
      const check = (o: unknown, what: string): RingTensor => {
        if (!(o instanceof RingTensor) || o.size !== size) throw new TypeError(`ABY3.${fn}: '${what}' must return a ring tensor of shape [${outShape.join(', ')}]`);
        return new RingTensor(o.bits, outShape, o.data); // a fresh result: a view under the shape
      };
      const mapped = await this.#matmulProducts(X.parts, Y.parts, outShape, key, out === undefined ? undefined : (t) => check(out.f(t), 'maps.out.f'),
        fused === undefined ? undefined : { f: (pairs, o) => fused(pairs, o).then((r) => check(r, 'maps.product')), mnk: [X.shape[0]!, X.shape[1]!, Y.shape[1]!] });
      return this.makeTensor(await this.#finish(mapped, outShape, key, trunc), outShape, enc, sens);
    });
  }

  protected truncParts(x: Parts, shape: readonly number[], key: string, shift?: number): Promise<Parts> {
    const [p0, p1, p2] = this.servers;
    if (this.truncation === 'deterministic') {
      // a = x0 + x1 (server0), b = x2 (servers 1 and 2)
      const a = this.isLocal(p0) ? ring.add(this.must(x[0], p0, 'x0'), this.must(x[1], p0, 'x1')) : undefined;
      const b: [RingTensor | undefined, RingTensor | undefined] = [this.isLocal(p1) ? this.must(x[3], p1, 'x2') : undefined, this.isLocal(p2) ? this.must(x[4], p2, 'x2') : undefined];
      return exactTruncate(this.aby3Context().net, a, Promise.resolve(b), shape, shift ?? this.fixed.frac, key);
    }
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
}
