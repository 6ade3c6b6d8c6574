/**
 * Machinery shared by the protocols: operand checks, op counters and
 * rendezvous keys, moving ring tensors between players, pairwise PRF keys, and
 * the linear operations that every share representation supports locally.
 *
 * SPMD: every process runs the same calls in the same order. Each op takes the
 * next op number synchronously when called, so rendezvous keys
 * `${protocol id}/${op}/${label}` agree across processes. A part of a tensor
 * exists only where its holder executes (`transport.isLocal(holder)`).
 *
 * Local ops (add, sub, neg, addN, sum, reshape, transpose, addPublic) return a
 * tensor directly; ops that communicate (encrypt, mul, matmul, mulPublic,
 * divPublic, truncate, reveal) return promises. Every check (types, protocol,
 * precision, shapes, players, sensitivity) runs synchronously before any data
 * moves, so a bad call throws at once.
 */
import { Prg } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import type { Transport } from '../../transport/channel.js';
import { TransportError } from '../../transport/errors.js';
import { getDefaultTransport } from '../../transport/memory.js';
import {
  describe, DuplicatePlayerError, fmtShape, PrecisionMismatchError, ProtocolMismatchError, SensitivityError, ShapeMismatchError, UnknownPlayerError,
} from '../errors.js';
import {
  checkEncodable, checkShapeArg, decode, encode, encodeScalar, fixedConfig, flattenFloats, type FixedPointConfig, type FloatInput, type Precision,
} from '../fixed.js';
import { checkPlayer, Player } from '../player.js';
import { PrivateTensor, ProtocolTensor, PublicTensor, type Encoding, type ProtocolRef, type Sensitivity } from '../tensor.js';

export interface ProtocolOptions {
  /** 'low' (Z_2^64, 16 fractional bits; default) or 'high' (Z_2^128, 32 fractional bits). */
  precision?: Precision;
  /** Where messages go; default: the process-wide MemoryTransport. */
  transport?: Transport;
  /** Protocol instance id used in rendezvous keys; default `${kind}-${n}` (n counts instances per kind in this process). */
  id?: string;
  /** Further players that may own inputs or receive reveals (owners are also registered by `encrypt`). */
  players?: readonly Player[];
  /** Reject a receive with a TransportError naming the peer after this many ms (default: wait forever). */
  timeoutMs?: number;
  /**
   * When the set-up (ABY3: the servers' pairwise keys) runs: 'eager'
   * (default) before the first op; 'on-demand' before the first op that
   * needs it (multiplication, truncation), so an instance that only shares
   * and opens (a secure aggregation) sends no set-up messages. Every party of
   * an instance must use the same.
   */
  setup?: 'eager' | 'on-demand';
}

export interface EncryptOptions {
  /** Shape of the value; required where the owner does not execute (SPMD), optional otherwise. */
  shape?: readonly number[];
  /** Players allowed to see the value (and anything computed from it); default null = unrestricted. */
  sensitivity?: readonly Player[] | null;
}

export type Parts = (RingTensor | undefined)[];
/** A public operand: a number, nested arrays, typed array, or PublicTensor. */
export type PublicValue = FloatInput | PublicTensor;

const instanceCounters = new Map<string, number>();
const KEY_BYTES = 16;

export function checkOptions(fn: string, options: unknown): ProtocolOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || options instanceof Player) {
    throw new TypeError(`${fn}: argument 'options' must be an options object, got ${describe(options)}`);
  }
  return options as ProtocolOptions;
}

/** encryptAddN's dropout tolerance (see there). */
export interface AddNCollection {
  readonly until: Promise<void>;
  applied(index: number): void;
}

/** Check a protocol's players: TypeError for a missing one, DuplicatePlayerError for a repeat. */
export function checkRoster(fn: string, roles: readonly string[], players: readonly unknown[]): Player[] {
  const out: Player[] = [];
  const seen = new Map<string, string>();
  roles.forEach((role, i) => {
    const p = players[i];
    if (p === undefined || p === null) throw new TypeError(`${fn}: argument '${role}' is missing (expected a Player)`);
    checkPlayer(fn, role, p);
    const prev = seen.get((p as Player).name);
    if (prev !== undefined) {
      throw new DuplicatePlayerError(`${fn}: player '${(p as Player).name}' is given as both '${prev}' and '${role}'; each role needs a distinct player`);
    }
    seen.set((p as Player).name, role);
    out.push(p as Player);
  });
  return out;
}

export function broadcastShape(fn: string, a: readonly number[], b: readonly number[], argA = 'x', argB = 'y'): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeMismatchError(`${fn}: shapes of '${argA}' ${fmtShape(a)} and '${argB}' ${fmtShape(b)} do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export function intersectSensitivity(xs: readonly Sensitivity[]): Sensitivity {
  let acc: Sensitivity = null;
  for (const s of xs) {
    if (s === null) continue;
    acc = acc === null ? s : acc.filter((p) => s.some((q) => q.name === p.name));
  }
  return acc;
}

export abstract class Protocol<T extends ProtocolTensor> implements ProtocolRef {
  abstract readonly kind: string;
  readonly id: string;
  readonly precision: Precision;
  readonly fixed: FixedPointConfig;
  readonly transport: Transport;
  readonly timeoutMs: number | undefined;
  #op = 0;
  readonly #known = new Map<string, Player>();
  readonly #pairKeys = new Map<string, Uint8Array>();
  #ready: Promise<void> | undefined;
  readonly #onDemand: boolean;

  protected constructor(kind: string, fn: string, options: ProtocolOptions) {
    this.precision = fixedConfig(options.precision ?? 'low', fn).precision;
    this.fixed = fixedConfig(this.precision, fn);
    if (options.transport !== undefined && (options.transport === null || typeof options.transport !== 'object' || typeof options.transport.send !== 'function')) {
      throw new TypeError(`${fn}: option 'transport' must be a Transport, got ${describe(options.transport)}`);
    }
    this.transport = options.transport ?? getDefaultTransport();
    if (options.timeoutMs !== undefined && (typeof options.timeoutMs !== 'number' || !(options.timeoutMs > 0))) {
      throw new RangeError(`${fn}: option 'timeoutMs' must be a positive number, got ${String(options.timeoutMs)}`);
    }
    this.timeoutMs = options.timeoutMs;
    if (options.setup !== undefined && options.setup !== 'eager' && options.setup !== 'on-demand') throw new RangeError(`${fn}: option 'setup' must be 'eager' or 'on-demand', got ${describe(options.setup)}`);
    this.#onDemand = options.setup === 'on-demand';
    if (options.id !== undefined) {
      if (typeof options.id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(options.id)) throw new RangeError(`${fn}: option 'id' must match /^[A-Za-z0-9_.-]{1,64}$/, got ${String(options.id)}`);
      this.id = options.id;
    } else {
      const n = instanceCounters.get(kind) ?? 0;
      instanceCounters.set(kind, n + 1);
      this.id = `${kind}-${n}`;
    }
    if (options.players !== undefined) {
      if (!Array.isArray(options.players)) throw new TypeError(`${fn}: option 'players' must be an array of Player, got ${describe(options.players)}`);
      options.players.forEach((p, i) => this.register(checkPlayer(fn, `players[${i}]`, p)));
    }
  }

  // ------------------------------------------------------------ per-protocol primitives

  /** Holder of each part, in part order. */
  protected abstract get partHolders(): readonly Player[];
  /** Parts that receive a public constant (so that it is added exactly once). */
  protected abstract get constantSlots(): readonly number[];
  /** The players of the protocol itself (servers, dealer, evaluator). */
  abstract get players(): readonly Player[];
  protected abstract makeTensor(parts: Parts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): T;
  protected abstract ownsTensor(x: ProtocolTensor): x is T;
  /** One-time set-up (pairwise keys); run once before the first op that needs it. */
  protected abstract setup(): Promise<void>;
  /** Secret-share `value` (present where `owner` executes) among the holders. */
  protected abstract shareRing(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string): Promise<Parts>;
  /** Elementwise product of two same-shaped sharings; truncates by 2^f when `trunc`. */
  protected abstract mulParts(x: Parts, y: Parts, shape: readonly number[], key: string, trunc: boolean): Promise<Parts>;
  protected abstract matmulParts(x: Parts, y: Parts, shapeX: readonly number[], shapeY: readonly number[], key: string, trunc: boolean): Promise<Parts>;
  /** Divide the shared value by 2^shift (default f). */
  protected abstract truncParts(x: Parts, shape: readonly number[], key: string, shift?: number): Promise<Parts>;
  /** Open the value to `to`; resolves with it where `to` executes, undefined elsewhere. */
  protected abstract revealParts(x: Parts, shape: readonly number[], to: Player, key: string): Promise<RingTensor | undefined>;

  // ------------------------------------------------------------ players, keys, transport helpers

  protected register(p: Player): void {
    const prev = this.#known.get(p.name);
    if (prev === undefined) this.#known.set(p.name, p);
  }

  /** Every player this protocol knows: its own players, option `players`, and input owners seen so far. */
  get knownPlayers(): readonly Player[] {
    return [...this.#known.values()];
  }

  protected isLocal(p: Player): boolean {
    return this.transport.isLocal(p.name);
  }

  protected nextOp(): string {
    return `${this.id}/${++this.#op}`;
  }

  /** The protocol's set-up (ABY3: the servers' pairwise keys), run once, before the first op that needs it (multiplications, truncations). */
  protected ready(): Promise<void> {
    return (this.#ready ??= this.setup());
  }

  /**
   * Sharing an input and opening a value use no pairwise key (an owner's
   * fresh seeds are their only randomness): with `setup: 'on-demand'` they
   * do not wait for `ready()`, so an instance that only adds and opens (a
   * secure aggregation) costs its servers no set-up messages.
   */
  protected readyForSharing(): Promise<void> {
    return this.#onDemand ? Promise.resolve() : this.ready();
  }

  get bits(): 64 | 128 {
    return this.fixed.bits;
  }

  protected async sendRing(from: Player, to: Player, key: string, t: RingTensor): Promise<void> {
    await this.transport.send(from.name, to.name, key, t.toBytes());
  }

  protected async recvRing(to: Player, from: Player, key: string, shape: readonly number[]): Promise<RingTensor> {
    const p = await this.transport.receive(to.name, from.name, key, this.#recvOptions());
    const size = shape.reduce((a, b) => a * b, 1);
    const limbs = size * (this.bits / 64);
    if (p.byteLength !== limbs * 8) {
      throw new TransportError(`${this.id}: message '${key}' from '${from.name}' to '${to.name}' has ${p.byteLength} bytes, expected ${limbs * 8} (shape ${fmtShape(shape)}, Z_2^${this.bits})`);
    }
    const data = p.byteOffset % 8 === 0 ? new BigUint64Array(p.buffer, p.byteOffset, limbs) : new BigUint64Array(p.slice().buffer);
    return new RingTensor(this.bits, shape, data);
  }

  /**
   * Move a ring tensor from `from` (where it is present) to `to`. Resolves with
   * the tensor where `to` executes, undefined elsewhere. Not copied in memory:
   * neither side may mutate it afterwards (parts are immutable by convention).
   */
  protected move(from: Player, to: Player, key: string, value: RingTensor | undefined, shape: readonly number[]): Promise<RingTensor | undefined> {
    if (from.name === to.name) return Promise.resolve(value);
    const sending = this.isLocal(from) ? this.sendRing(from, to, key, this.must(value, from, key)) : undefined;
    const receiving = this.isLocal(to) ? this.recvRing(to, from, key, shape) : undefined;
    if (receiving === undefined) return (sending ?? Promise.resolve()).then(() => undefined);
    return sending === undefined ? receiving : Promise.all([sending, receiving]).then(([, r]) => r);
  }

  /** Move raw bytes (seeds, keys) the same way. */
  protected moveBytes(from: Player, to: Player, key: string, value: Uint8Array | undefined): Promise<Uint8Array | undefined> {
    if (from.name === to.name) return Promise.resolve(value);
    const sending = this.isLocal(from) ? this.transport.send(from.name, to.name, key, this.must(value, from, key)) : undefined;
    const receiving = this.isLocal(to) ? this.transport.receive(to.name, from.name, key, this.#recvOptions()) : undefined;
    if (receiving === undefined) return (sending ?? Promise.resolve()).then(() => undefined);
    return sending === undefined ? receiving : Promise.all([sending, receiving]).then(([, r]) => r);
  }

  #recvOptions(): { timeoutMs: number } | undefined {
    return this.timeoutMs === undefined ? undefined : { timeoutMs: this.timeoutMs };
  }

  protected must<V>(v: V | undefined, holder: Player, what: string): V {
    if (v === undefined) throw new Error(`${this.id}: internal error: '${what}' is missing at local player '${holder.name}'`);
    return v;
  }

  /**
   * Establish a PRF key between `a` and `b` (generated by `a` from the CSPRNG,
   * sent once to `b`). Stored where either executes.
   */
  protected async establishKey(a: Player, b: Player): Promise<void> {
    const k = this.isLocal(a) ? new Prg().seed : undefined;
    const got = await this.moveBytes(a, b, `${this.id}/setup/key/${a.name}/${b.name}`, k);
    const key = k ?? got;
    if (key !== undefined) {
      if (key.length !== KEY_BYTES) throw new TransportError(`${this.id}: pairwise key from '${a.name}' has ${key.length} bytes, expected ${KEY_BYTES}`);
      this.#pairKeys.set(`${a.name}/${b.name}`, new Uint8Array(key));
    }
  }

  /** The key between `a` and `b` (established by `a`), for use by a local `a` or `b`. */
  protected pairKey(a: Player, b: Player): Uint8Array {
    const k = this.#pairKeys.get(`${a.name}/${b.name}`);
    if (k === undefined) throw new Error(`${this.id}: internal error: no pairwise key ${a.name}/${b.name} in this process`);
    return k;
  }

  /** PRF(key, nonce) as a uniformly random ring tensor. */
  protected prfRing(key: Uint8Array, nonce: string, shape: readonly number[]): RingTensor {
    return Prg.derive(key, nonce).ringTensor(this.bits, shape);
  }

  /** The scratch memory, one for the process (a process may run many protocol instances: one per hosted client). */
  static #scratchBuf: BigUint64Array | undefined;

  /**
   * A scratch tensor over memory reused across ops and instances (first
   * touch of fresh memory is slow). Valid only until the next await: never
   * let it escape or live across a message (another instance may take it).
   */
  protected scratch(shape: readonly number[]): RingTensor {
    const limbs = shape.reduce((a, b) => a * b, 1) * (this.bits / 64);
    if (Protocol.#scratchBuf === undefined || Protocol.#scratchBuf.length < limbs) Protocol.#scratchBuf = new BigUint64Array(limbs);
    return new RingTensor(this.bits, shape, new BigUint64Array(Protocol.#scratchBuf.buffer, 0, limbs));
  }

  /** A fresh uniformly random ring tensor from a CSPRNG-seeded PRG. */
  protected randomRing(shape: readonly number[], prg: Prg = new Prg()): RingTensor {
    return prg.ringTensor(this.bits, shape);
  }

  // ------------------------------------------------------------ checks

  protected checkOperand(fn: string, arg: string, x: unknown): T {
    if (!(x instanceof ProtocolTensor)) {
      throw new TypeError(`${this.constructor.name}.${fn}: argument '${arg}' must be a tensor of this protocol, got ${describe(x)}${x instanceof PublicTensor ? ' (use mulPublic/addPublic for public values)' : ''}`);
    }
    if (x.precision !== this.precision) {
      throw new PrecisionMismatchError(`${this.constructor.name}.${fn}: argument '${arg}' has precision '${x.precision}', but protocol '${this.id}' uses '${this.precision}'`);
    }
    if (x.protocol !== this || !this.ownsTensor(x)) {
      throw new ProtocolMismatchError(`${this.constructor.name}.${fn}: argument '${arg}' belongs to protocol '${x.protocol.id}' (${x.protocol.kind}), not '${this.id}' (${this.kind})`);
    }
    return x;
  }

  protected checkKnownPlayer(fn: string, arg: string, p: unknown): Player {
    checkPlayer(`${this.constructor.name}.${fn}`, arg, p);
    const known = this.#known.get((p as Player).name);
    if (known === undefined) {
      throw new UnknownPlayerError(`${this.constructor.name}.${fn}: argument '${arg}' is player '${(p as Player).name}', unknown to protocol '${this.id}' (known: ${this.knownPlayers.map((q) => q.name).join(', ')}; add it with option 'players')`);
    }
    return p as Player;
  }

  /**
   * A player an input may come from or a value be revealed to: any player
   * the transport can reach (`Transport.reaches`; a transport that cannot
   * tell reaches every name), registered on first use. Sensitivity, not
   * this check, decides who may see a value.
   */
  protected checkReachablePlayer(fn: string, arg: string, p: unknown): Player {
    checkPlayer(`${this.constructor.name}.${fn}`, arg, p);
    const player = p as Player;
    const known = this.#known.get(player.name);
    if (known !== undefined) return player;
    const t = this.transport;
    if (!t.isLocal(player.name) && t.reaches !== undefined && !t.reaches(player.name)) {
      throw new UnknownPlayerError(`${this.constructor.name}.${fn}: argument '${arg}' is player '${player.name}', which protocol '${this.id}' cannot reach over its transport (known: ${this.knownPlayers.map((q) => q.name).join(', ')})`);
    }
    this.register(player);
    return player;
  }

  protected checkSensitivityOption(fn: string, s: unknown): Sensitivity {
    if (s === undefined || s === null) return null;
    if (!Array.isArray(s)) throw new TypeError(`${this.constructor.name}.${fn}: option 'sensitivity' must be an array of Player or null, got ${describe(s)}`);
    s.forEach((p, i) => checkPlayer(`${this.constructor.name}.${fn}`, `sensitivity[${i}]`, p));
    for (const p of s as Player[]) this.register(p);
    return [...(s as Player[])];
  }

  // ------------------------------------------------------------ input and output

  /**
   * Secret-share a private float input of `owner`. Where the owner does not
   * execute (another process), pass `undefined` as value and `options.shape`.
   */
  encrypt(owner: Player, value: FloatInput | undefined, options: EncryptOptions = {}): Promise<T> {
    const fn = 'encrypt';
    this.checkReachablePlayer(fn, 'owner', owner);
    const sens = this.checkSensitivityOption(fn, options.sensitivity);
    let encoded: RingTensor | undefined;
    let shape: readonly number[];
    if (this.isLocal(owner)) {
      const flat = flattenFloats(`${this.constructor.name}.${fn}`, 'value', value, options.shape);
      checkEncodable(`${this.constructor.name}.${fn}`, 'value', flat.values, this.fixed);
      encoded = encode(flat.values, flat.shape, this.fixed);
      shape = flat.shape;
    } else {
      if (options.shape === undefined) throw new TypeError(`${this.constructor.name}.${fn}: owner '${owner.name}' does not execute in this process; pass option 'shape'`);
      shape = checkShapeArg(`${this.constructor.name}.${fn}`, options.shape);
    }
    const key = this.nextOp();
    return this.readyForSharing().then(async () => this.makeTensor(await this.shareRing(owner, encoded, shape, key), shape, 'fixed', sens));
  }

  /**
   * Secret-share a private input of ring integers (exact; encoding 'int').
   * `value`: a RingTensor of this protocol's bit width, or safe integers.
   */
  encryptInts(owner: Player, value: RingTensor | readonly number[] | Int32Array | BigInt64Array | undefined, options: EncryptOptions = {}): Promise<T> {
    const fn = 'encryptInts';
    this.checkReachablePlayer(fn, 'owner', owner);
    const sens = this.checkSensitivityOption(fn, options.sensitivity);
    let r: RingTensor | undefined;
    let shape: readonly number[];
    if (this.isLocal(owner)) {
      r = this.toRing(fn, value, options.shape);
      shape = r.shape;
    } else {
      if (options.shape === undefined) throw new TypeError(`${this.constructor.name}.${fn}: owner '${owner.name}' does not execute in this process; pass option 'shape'`);
      shape = [...options.shape];
    }
    const key = this.nextOp();
    return this.readyForSharing().then(async () => this.makeTensor(await this.shareRing(owner, r, shape, key), shape, 'int', sens));
  }

  private toRing(fn: string, value: unknown, shape: readonly number[] | undefined): RingTensor {
    const name = `${this.constructor.name}.${fn}`;
    if (value instanceof RingTensor) {
      if (value.bits !== this.bits) throw new PrecisionMismatchError(`${name}: argument 'value' is in Z_2^${value.bits}, protocol '${this.id}' computes in Z_2^${this.bits}`);
      if (shape !== undefined && !sameShape(shape, value.shape)) throw new ShapeMismatchError(`${name}: argument 'value' has shape ${fmtShape(value.shape)}, option 'shape' is ${fmtShape(shape)}`);
      return value;
    }
    if (value instanceof BigInt64Array) {
      const sh = shape ?? [value.length];
      const t = new RingTensor(this.bits, sh);
      if (t.size !== value.length) throw new ShapeMismatchError(`${name}: argument 'value' has ${value.length} elements, option 'shape' ${fmtShape(sh)} needs ${t.size}`);
      const limbs = this.bits / 64;
      for (let i = 0; i < value.length; i++) {
        t.data[i * limbs] = BigInt.asUintN(64, value[i]!);
        if (limbs === 2) t.data[i * 2 + 1] = value[i]! < 0n ? 0xffffffffffffffffn : 0n;
      }
      return t;
    }
    if (value instanceof Int32Array || Array.isArray(value)) {
      const arr = value as ArrayLike<unknown>;
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i];
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`${name}: argument 'value' element ${i} must be a safe integer, got ${typeof v === 'number' ? v : describe(v)}`);
      }
      const sh = shape ?? [arr.length];
      const flat = flattenFloats(name, 'value', Float64Array.from(arr as ArrayLike<number>), sh);
      return encode(flat.values, flat.shape, { ...this.fixed, frac: 0, bound: 2 ** 53, boundLog2: 53 }, name);
    }
    throw new TypeError(`${name}: argument 'value' must be a RingTensor, BigInt64Array, Int32Array or array of safe integers, got ${describe(value)}`);
  }

  /**
   * Secret-share a fixed-point input whose encoding the owner produces itself
   * (`encodeFn` runs only where the owner executes; e.g. to fold a scale into
   * the encoding without materialising a scaled copy).
   */
  encryptEncoded(owner: Player, encodeFn: (cfg: FixedPointConfig) => RingTensor, shape: readonly number[], options: Omit<EncryptOptions, 'shape'> = {}): Promise<T> {
    const fn = 'encryptEncoded';
    this.checkReachablePlayer(fn, 'owner', owner);
    const sens = this.checkSensitivityOption(fn, options.sensitivity);
    // (no allocation of the value's size: this runs at every party for every owner)
    const sh = checkShapeArg(`${this.constructor.name}.${fn}`, shape);
    let encoded: RingTensor | undefined;
    if (this.isLocal(owner)) {
      encoded = encodeFn(this.fixed);
      if (!(encoded instanceof RingTensor) || encoded.bits !== this.bits || !sameShape(encoded.shape, sh)) {
        throw new TypeError(`${this.constructor.name}.${fn}: 'encodeFn' must return a RingTensor in Z_2^${this.bits} of shape ${fmtShape(sh)}`);
      }
    }
    const key = this.nextOp();
    return this.readyForSharing().then(async () => this.makeTensor(await this.shareRing(owner, encoded, sh, key), sh, 'fixed', sens));
  }

  /**
   * `addN` of one `encryptEncoded` per owner, streamed: each owner shares its
   * own input, and each holder adds an owner's sharing into one running sum
   * per part as soon as it arrives, in whatever order, then drops it. A
   * holder's memory is one sum (plus the message in hand), not one sharing
   * per owner; the sum is the same ring sum whatever the order, so the value
   * is bit for bit that of `addN` over `encryptEncoded`. The messages are
   * `encryptEncoded`'s, except where a protocol saves on them (ABY3: each
   * owner's full component goes to server1 only, which forwards the sum of
   * them to server2 once, as in `encryptSum`). One op number for all owners
   * (`${op}/${i}` per owner).
   * `encodeFn(i, cfg)` runs at call time where owner i executes (a throw
   * there stops the call before anything is sent); elsewhere nothing of
   * owner i is computed. It returns a fresh tensor, which becomes the
   * protocol's (it may mask it in place). `options.encoding`: 'fixed'
   * (default) or 'int'.
   * `options.collect` (dropout tolerance): the holders stop waiting once
   * `until` resolves; an owner whose sharing is not complete here by then
   * is left out of the sum (and one that completes later is ignored);
   * `applied(i)` is called where owner i's sharing is added (at a holder).
   * Without it, every owner's sharing is awaited.
   */
  encryptAddN(owners: readonly Player[], encodeFn: (index: number, cfg: FixedPointConfig) => RingTensor, shape: readonly number[], options: Omit<EncryptOptions, 'shape'> & { encoding?: Encoding; collect?: AddNCollection } = {}): Promise<T> {
    const fn = `${this.constructor.name}.encryptAddN`;
    if (!Array.isArray(owners) || owners.length === 0) throw new TypeError(`${fn}: argument 'owners' must be a non-empty array of Players`);
    // (this runs at every party for every owner: no work per valid owner beyond the check)
    for (let i = 0; i < owners.length; i++) if (!(owners[i] instanceof Player)) checkPlayer(fn, `owners[${i}]`, owners[i]);
    if (typeof encodeFn !== 'function') throw new TypeError(`${fn}: argument 'encodeFn' must be a function, got ${describe(encodeFn)}`);
    const sh = checkShapeArg(fn, shape);
    const encoding = options.encoding ?? 'fixed';
    if (encoding !== 'fixed' && encoding !== 'int') throw new RangeError(`${fn}: option 'encoding' must be 'fixed' or 'int', got ${describe(encoding)}`);
    const sens = this.checkSensitivityOption('encryptAddN', options.sensitivity);
    // (the owners are not registered as known players: a party of a sum over many owners keeps nothing per owner)
    // the owners that execute here encode now (a throw stops the call before anything is sent)
    const encoded = new Map<number, RingTensor>();
    for (let i = 0; i < owners.length; i++) {
      if (!this.isLocal(owners[i]!)) continue;
      const e = encodeFn(i, this.fixed);
      if (!(e instanceof RingTensor) || e.bits !== this.bits || !sameShape(e.shape, sh)) throw new TypeError(`${fn}: 'encodeFn' must return a RingTensor in Z_2^${this.bits} of shape ${fmtShape(sh)} (owner ${i})`);
      encoded.set(i, e);
    }
    const key = this.nextOp();
    return this.readyForSharing().then(async () => {
      const holders = this.partHolders;
      // the running sums, zero, where each part's holder executes (never a received buffer: those may be shared)
      const acc: Parts = holders.map((h) => (this.isLocal(h) ? new RingTensor(this.bits, sh) : undefined));
      // a holder takes every owner's sharing; a party that holds nothing only sends its own owners' (nothing per other owner)
      const collect = options.collect;
      let open = true;
      const accept = (i: number) => (): boolean => {
        if (!open) return false;
        collect?.applied(i);
        return true;
      };
      const shares = acc.some((a) => a !== undefined) ? owners.map((o, i) => this.shareAddInto(o, encoded.get(i), sh, `${key}/${i}`, acc, accept(i))) : [...encoded].map(([i, e]) => this.shareAddInto(owners[i]!, e, sh, `${key}/${i}`, acc, accept(i)));
      if (collect === undefined) await Promise.all(shares);
      else {
        // an owner that fails or is late has dropped out: the sum goes on without it
        await Promise.race([Promise.all(shares.map((p) => p.catch(() => undefined))), collect.until]);
        open = false;
      }
      return this.makeTensor(await this.finishAddN(acc, sh, key), sh, encoding, sens);
    });
  }

  /** The last step of `encryptAddN` once every owner's sharing is in: the running sums as they are, by default. */
  protected async finishAddN(acc: Parts, _shape: readonly number[], _key: string): Promise<Parts> {
    return acc;
  }

  /**
   * Share `value` (present where `owner` executes; the protocol's own, it
   * may be overwritten) as `shareRing` does, and add each part that arrives
   * here into `acc` (a running sum per part, present where its holder
   * executes). The default adds `shareRing`'s parts; a protocol may add
   * without materialising them.
   */
  protected async shareAddInto(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string, acc: Parts, accept: () => boolean = () => true): Promise<void> {
    const parts = await this.shareRing(owner, value, shape, key);
    if (parts.some((p, i) => p !== undefined && acc[i] !== undefined) && !accept()) return;
    parts.forEach((p, i) => {
      if (p !== undefined) ring.addInPlace(this.must(acc[i], this.partHolders[i]!, 'running sum'), p);
    });
  }

  /** Checks of a reveal to `player` (known, inside `x`'s sensitivity), for subclasses' reveal variants. */
  protected checkRevealTarget(fn: string, x: T, player: Player): Player {
    return this.#checkReveal(fn, x, player);
  }

  #checkReveal(fn: string, x: T, player: Player): Player {
    this.checkOperand(fn, 'x', x);
    const p = this.checkReachablePlayer(fn, 'player', player);
    if (x.sensitivity !== null && !x.sensitivity.some((q) => q.name === p.name)) {
      throw new SensitivityError(`${this.constructor.name}.${fn}: player '${p.name}' is outside the sensitivity set {${x.sensitivity.map((q) => q.name).join(', ')}} of argument 'x'`);
    }
    return p;
  }

  /**
   * Open `x` to `player` only. Resolves with a PrivateTensor of `player`
   * (its value is present only where `player` executes). Throws at once if the
   * player is unknown or outside `x.sensitivity`.
   */
  reveal(x: T, player: Player): Promise<PrivateTensor> {
    const p = this.#checkReveal('reveal', x, player);
    const key = this.nextOp();
    return this.readyForSharing().then(async () => {
      const r = await this.revealParts([...x.parts], x.shape, p, key);
      if (r === undefined) return new PrivateTensor(p, x.shape);
      const values = decode(r, this.fixed, x.encoding === 'fixed' ? this.fixed.frac : 0);
      return new PrivateTensor(p, x.shape, values, r);
    });
  }

  /** Like reveal, but resolves with the raw ring value (undefined where `player` does not execute); no decoding copy. */
  revealRing(x: T, player: Player): Promise<RingTensor | undefined> {
    const p = this.#checkReveal('revealRing', x, player);
    const key = this.nextOp();
    return this.readyForSharing().then(() => this.revealParts([...x.parts], x.shape, p, key));
  }

  // ------------------------------------------------------------ local (linear) ops

  protected mapParts(xs: readonly T[], f: (...ps: RingTensor[]) => RingTensor): Parts {
    const n = this.partHolders.length;
    const out: Parts = new Array(n);
    for (let i = 0; i < n; i++) {
      const ps = xs.map((x) => x.parts[i]);
      out[i] = ps.every((p) => p !== undefined) ? f(...(ps as RingTensor[])) : undefined;
    }
    return out;
  }

  private sameEncoding(fn: string, x: T, y: T): Encoding {
    if (x.encoding !== y.encoding) {
      throw new TypeError(`${this.constructor.name}.${fn}: arguments have encodings '${x.encoding}' and '${y.encoding}'; combine fixed-point and integer tensors by multiplication only`);
    }
    return x.encoding;
  }

  add(x: T, y: T): T {
    this.checkOperand('add', 'x', x);
    this.checkOperand('add', 'y', y);
    const shape = broadcastShape(`${this.constructor.name}.add`, x.shape, y.shape);
    const enc = this.sameEncoding('add', x, y);
    return this.makeTensor(this.mapParts([x, y], ring.add), shape, enc, intersectSensitivity([x.sensitivity, y.sensitivity]));
  }

  sub(x: T, y: T): T {
    this.checkOperand('sub', 'x', x);
    this.checkOperand('sub', 'y', y);
    const shape = broadcastShape(`${this.constructor.name}.sub`, x.shape, y.shape);
    const enc = this.sameEncoding('sub', x, y);
    return this.makeTensor(this.mapParts([x, y], ring.sub), shape, enc, intersectSensitivity([x.sensitivity, y.sensitivity]));
  }

  neg(x: T): T {
    this.checkOperand('neg', 'x', x);
    return this.makeTensor(this.mapParts([x], ring.neg), x.shape, x.encoding, x.sensitivity);
  }

  /** Sum of same-shaped tensors. */
  addN(xs: readonly T[]): T {
    const fn = 'addN';
    if (!Array.isArray(xs) || xs.length === 0) throw new TypeError(`${this.constructor.name}.${fn}: argument 'xs' must be a non-empty array of tensors`);
    xs.forEach((x, i) => this.checkOperand(fn, `xs[${i}]`, x));
    const first = xs[0]!;
    xs.forEach((x, i) => {
      if (!sameShape(x.shape, first.shape)) throw new ShapeMismatchError(`${this.constructor.name}.${fn}: 'xs[${i}]' has shape ${fmtShape(x.shape)}, 'xs[0]' has ${fmtShape(first.shape)}`);
      if (x.encoding !== first.encoding) throw new TypeError(`${this.constructor.name}.${fn}: 'xs[${i}]' has encoding '${x.encoding}', 'xs[0]' has '${first.encoding}'`);
    });
    const parts = this.mapParts(xs, (...ps) => {
      const acc = ps[0]!.clone();
      for (let i = 1; i < ps.length; i++) ring.addInPlace(acc, ps[i]!);
      return acc;
    });
    return this.makeTensor(parts, first.shape, first.encoding, intersectSensitivity(xs.map((x) => x.sensitivity)));
  }

  /** Sum over `axis` (all elements when omitted). */
  sum(x: T, axis?: number, keepDims = false): T {
    const fn = 'sum';
    this.checkOperand(fn, 'x', x);
    let shape: number[];
    if (axis === undefined) {
      shape = keepDims ? x.shape.map(() => 1) : [];
    } else {
      if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new TypeError(`${this.constructor.name}.${fn}: argument 'axis' must be an integer, got ${describe(axis)}`);
      const r = x.shape.length;
      if (axis < -r || axis >= r) throw new RangeError(`${this.constructor.name}.${fn}: argument 'axis' expected integer in [${-r}, ${r - 1}], got ${axis}`);
      const a = axis < 0 ? axis + r : axis;
      shape = keepDims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
    }
    const parts = this.mapParts([x], (p) => {
      if (axis !== undefined) return ring.sum(p, axis, keepDims);
      const s = ring.sum(ring.reshape(p, [p.size]), 0);
      return ring.reshape(s, shape);
    });
    return this.makeTensor(parts, shape, x.encoding, x.sensitivity);
  }

  reshape(x: T, shape: readonly number[]): T {
    this.checkOperand('reshape', 'x', x);
    const size = Array.isArray(shape) ? shape.reduce((a, b) => a * b, 1) : NaN;
    if (size !== x.size) throw new ShapeMismatchError(`${this.constructor.name}.reshape: cannot reshape ${fmtShape(x.shape)} to ${Array.isArray(shape) ? fmtShape(shape) : describe(shape)}`);
    return this.makeTensor(this.mapParts([x], (p) => ring.reshape(p, shape)), shape, x.encoding, x.sensitivity);
  }

  transpose(x: T, perm?: readonly number[]): T {
    this.checkOperand('transpose', 'x', x);
    const pm = perm ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    const shape = pm.map((i) => x.shape[i]!);
    return this.makeTensor(this.mapParts([x], (p) => ring.transpose(p, pm)), shape, x.encoding, x.sensitivity);
  }

  /** x + c for a public c (broadcast). */
  addPublic(x: T, c: PublicValue): T {
    const fn = 'addPublic';
    this.checkOperand(fn, 'x', x);
    const pub = this.publicOperand(fn, 'c', c);
    const shape = broadcastShape(`${this.constructor.name}.${fn}`, x.shape, pub.shape, 'x', 'c');
    if (x.encoding === 'int') {
      for (let i = 0; i < pub.values.length; i++) {
        if (!Number.isSafeInteger(pub.values[i]!)) throw new TypeError(`${this.constructor.name}.${fn}: argument 'x' holds integers; argument 'c' element ${i} must be a safe integer, got ${pub.values[i]}`);
      }
    }
    const enc = encode(pub.values, pub.shape, x.encoding === 'fixed' ? this.fixed : { ...this.fixed, frac: 0 }, `${this.constructor.name}.${fn}`);
    const slots = new Set(this.constantSlots);
    const parts = this.mapParts([x], (p) => p);
    parts.forEach((p, i) => {
      if (p !== undefined) parts[i] = slots.has(i) ? ring.add(p, enc) : sameShape(p.shape, shape) ? p : ring.broadcastTo(p, shape);
    });
    return this.makeTensor(parts, shape, x.encoding, x.sensitivity);
  }

  private publicOperand(fn: string, arg: string, c: unknown): { values: Float64Array | Float32Array; shape: number[] } {
    if (c instanceof PublicTensor) return { values: c.values, shape: [...c.shape] };
    if (c instanceof ProtocolTensor || c instanceof PrivateTensor) {
      throw new TypeError(`${this.constructor.name}.${fn}: argument '${arg}' must be a public value, got a ${c.constructor.name}`);
    }
    const flat = flattenFloats(`${this.constructor.name}.${fn}`, arg, c);
    checkEncodable(`${this.constructor.name}.${fn}`, arg, flat.values, this.fixed);
    return flat;
  }

  // ------------------------------------------------------------ ops that communicate

  /**
   * Elementwise product (broadcast). Two fixed-point operands are truncated
   * back to f fractional bits; an integer operand leaves the other's encoding.
   */
  mul(x: T, y: T): Promise<T> {
    const fn = 'mul';
    this.checkOperand(fn, 'x', x);
    this.checkOperand(fn, 'y', y);
    const shape = broadcastShape(`${this.constructor.name}.${fn}`, x.shape, y.shape);
    const trunc = x.encoding === 'fixed' && y.encoding === 'fixed';
    const enc: Encoding = x.encoding === 'int' && y.encoding === 'int' ? 'int' : 'fixed';
    const sens = intersectSensitivity([x.sensitivity, y.sensitivity]);
    const key = this.nextOp();
    const bx = this.broadcastParts(x, shape);
    const by = this.broadcastParts(y, shape);
    return this.ready().then(async () => this.makeTensor(await this.mulParts(bx, by, shape, key, trunc), shape, enc, sens));
  }

  private broadcastParts(x: T, shape: readonly number[]): Parts {
    if (sameShape(x.shape, shape)) return [...x.parts];
    return this.mapParts([x], (p) => ring.broadcastTo(p, shape));
  }

  /** Matrix product of [m, k] and [k, n]. */
  matmul(x: T, y: T): Promise<T> {
    const fn = 'matmul';
    this.checkOperand(fn, 'x', x);
    this.checkOperand(fn, 'y', y);
    if (x.shape.length !== 2 || y.shape.length !== 2 || x.shape[1] !== y.shape[0]) {
      throw new ShapeMismatchError(`${this.constructor.name}.${fn}: expected shapes [m, k] and [k, n], got 'x' ${fmtShape(x.shape)} and 'y' ${fmtShape(y.shape)}`);
    }
    const trunc = x.encoding === 'fixed' && y.encoding === 'fixed';
    const enc: Encoding = x.encoding === 'int' && y.encoding === 'int' ? 'int' : 'fixed';
    const sens = intersectSensitivity([x.sensitivity, y.sensitivity]);
    const shape = [x.shape[0]!, y.shape[1]!];
    const key = this.nextOp();
    return this.ready().then(async () => this.makeTensor(await this.matmulParts([...x.parts], [...y.parts], x.shape, y.shape, key, trunc), shape, enc, sens));
  }

  /** Divide the value by 2^f (the rescaling after a fixed-point product). */
  truncate(x: T): Promise<T> {
    this.checkOperand('truncate', 'x', x);
    const key = this.nextOp();
    return this.ready().then(async () => this.makeTensor(await this.truncParts([...x.parts], x.shape, key), x.shape, x.encoding, x.sensitivity));
  }

  /**
   * x * c for a public c (number, array, PublicTensor; broadcast). Integer
   * constants multiply exactly in the ring (no truncation, no communication);
   * fractional ones are encoded and the product truncated.
   */
  mulPublic(x: T, c: PublicValue): Promise<T> {
    const fn = 'mulPublic';
    this.checkOperand(fn, 'x', x);
    const pub = this.publicOperand(fn, 'c', c);
    return this.mulPublicChecked(fn, x, pub, false);
  }

  /**
   * x / c for a public non-zero c: multiplies by 1/c encoded with f + k
   * fractional bits, k = max(0, ceil(log2 max|c|)), and truncates by f + k, so
   * that 1/c keeps f significant bits (relative error <= 2^-(f+1)).
   */
  divPublic(x: T, c: PublicValue): Promise<T> {
    const fn = 'divPublic';
    this.checkOperand(fn, 'x', x);
    const pub = this.publicOperand(fn, 'c', c);
    const inv = new Float64Array(pub.values.length);
    let maxAbs = 0;
    for (let i = 0; i < inv.length; i++) {
      const v = pub.values[i]!;
      if (v === 0) throw new RangeError(`${this.constructor.name}.${fn}: argument 'c' element ${i} is 0`);
      inv[i] = 1 / v;
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
    checkEncodable(`${this.constructor.name}.${fn}`, '1/c', inv, this.fixed);
    const extra = Math.max(0, Math.min(Math.ceil(Math.log2(maxAbs)), this.bits - 2 - 3 * this.fixed.frac));
    return this.mulPublicChecked(fn, x, { values: inv, shape: pub.shape }, true, extra);
  }

  private mulPublicChecked(fn: string, x: T, pub: { values: Float64Array | Float32Array; shape: number[] }, forceFixed: boolean, extraBits = 0): Promise<T> {
    const shape = broadcastShape(`${this.constructor.name}.${fn}`, x.shape, pub.shape, 'x', 'c');
    let integral = !forceFixed;
    for (let i = 0; integral && i < pub.values.length; i++) integral = Number.isSafeInteger(pub.values[i]!);
    const key = this.nextOp();
    if (integral) {
      const c = pub.values.length === 1 && pub.shape.length === 0 ? undefined : encode(pub.values, pub.shape, { ...this.fixed, frac: 0 });
      const s = c === undefined ? BigInt(pub.values[0]!) : 0n;
      const parts = this.mapParts([x], (p) => (c === undefined ? ring.mulScalar(sameShape(p.shape, shape) ? p : ring.broadcastTo(p, shape), s) : ring.mul(p, c)));
      return Promise.resolve(this.makeTensor(parts, shape, x.encoding, x.sensitivity));
    }
    const scalar = pub.shape.length === 0;
    // x is int: the product carries f fractional bits already (shift by the extra bits only)
    const cfg = { ...this.fixed, frac: this.fixed.frac + extraBits, bound: this.fixed.bound / 2 ** extraBits };
    const enc = scalar ? undefined : encode(pub.values, pub.shape, cfg);
    const s = scalar ? encodeScalar(pub.values[0]!, cfg, `${this.constructor.name}.${fn}`, 'c') : 0n;
    const parts = this.mapParts([x], (p) => (enc === undefined ? ring.mulScalar(p, s) : ring.mul(p, enc)));
    const shift = (x.encoding === 'int' ? 0 : this.fixed.frac) + extraBits;
    if (shift === 0) return Promise.resolve(this.makeTensor(parts, shape, 'fixed', x.sensitivity));
    return this.ready().then(async () => this.makeTensor(await this.truncParts(parts, shape, key, shift), shape, 'fixed', x.sensitivity));
  }
}
