/**
 * Tensor types of computations and the subtyping rule of the TFE-on-TF2
 * design: a value of type `a` fits a declared type `d` when
 *
 *   - same kind (public, private, encrypted),
 *   - same placement (the players holding (parts of) the value),
 *   - sensitivity no wider: a.sensitivity ⊑ d.sensitivity in the order
 *     public (null: anyone may see) ⊑ ... ⊑ a set S of viewers ⊑ a subset of S,
 *     i.e. the value's viewers include every viewer the declaration grants
 *     (a computation may reveal a `d` to anyone in d.sensitivity, so the
 *     argument must allow each of them),
 *   - shape and dtype equal where declared.
 *
 * A `TensorType` is resolved (every field known); a `TensorSpec` is a
 * declaration (shape, dtype, sensitivity, and an encrypted placement may be
 * left open).
 */
import { describe, fmtShape } from '../errors.js';
import { checkPlayer, Player } from '../player.js';
import type { Sensitivity } from '../tensor.js';
import { SignatureError } from './errors.js';

export type Kind = 'public' | 'private' | 'encrypted';
/** 'fixed': fixed-point floats; 'int': integers (exact ring integers when encrypted). */
export type Dtype = 'fixed' | 'int';

export interface TensorType {
  readonly kind: Kind;
  readonly shape: readonly number[];
  readonly dtype: Dtype;
  /** public: []; private: [owner]; encrypted: the protocol's share holders. */
  readonly placement: readonly Player[];
  readonly sensitivity: Sensitivity;
  /** Passed as a Variable (assignable by `ops.assign`). */
  readonly variable?: boolean;
}

/** A declared placement of an encrypted value: 'protocol' is whatever holders the concretizing protocol has. */
export type SpecPlacement = readonly Player[] | 'protocol';

const KINDS: readonly Kind[] = ['public', 'private', 'encrypted'];
const DTYPES: readonly Dtype[] = ['fixed', 'int'];

export const names = (ps: readonly Player[] | null): string => (ps === null ? 'public' : `{${ps.map((p) => p.name).join(', ')}}`);
const nameSet = (ps: readonly Player[]): Set<string> => new Set(ps.map((p) => p.name));

export function samePlayers(a: readonly Player[], b: readonly Player[]): boolean {
  const sa = nameSet(a);
  const sb = nameSet(b);
  return sa.size === sb.size && [...sa].every((n) => sb.has(n));
}

/**
 * `a ⊑ d`: a value of sensitivity `a` may be used where sensitivity `d` is
 * declared (its viewers include d's; public is the bottom).
 */
export function sensitivityFits(a: Sensitivity, d: Sensitivity): boolean {
  if (a === null) return true;
  if (d === null) return false;
  const viewers = nameSet(a);
  return d.every((p) => viewers.has(p.name));
}

/** The sensitivity of a value computed from values of sensitivities `xs` (the join: viewers allowed by all). */
export function joinSensitivity(xs: readonly Sensitivity[]): Sensitivity {
  let acc: Sensitivity = null;
  for (const s of xs) {
    if (s === null) continue;
    acc = acc === null ? [...s] : acc.filter((p) => s.some((q) => q.name === p.name));
  }
  return acc;
}

export function describeType(t: TensorType | TensorSpec): string {
  const shape = t.shape === undefined ? 'any shape' : fmtShape(t.shape);
  const dtype = t.dtype ?? 'any dtype';
  const placement = t.placement === undefined ? 'anywhere' : t.placement === 'protocol' ? "the protocol's holders" : names(t.placement);
  const sens = t.sensitivity === undefined ? 'any sensitivity' : `sensitivity ${names(t.sensitivity)}`;
  return `${t.kind} ${dtype} ${shape} at ${placement}, ${sens}`;
}

function checkSensitivityArg(fn: string, s: unknown): Sensitivity | undefined {
  if (s === undefined) return undefined;
  if (s === null) return null;
  if (!Array.isArray(s)) throw new TypeError(`${fn}: option 'sensitivity' must be an array of Player, null (public) or undefined (any), got ${describe(s)}`);
  s.forEach((p, i) => checkPlayer(fn, `sensitivity[${i}]`, p));
  return Object.freeze([...(s as Player[])]);
}

function checkShape(fn: string, s: unknown): readonly number[] | undefined {
  if (s === undefined) return undefined;
  if (!Array.isArray(s) || !s.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(`${fn}: option 'shape' must be an array of non-negative integers, got ${describe(s)}`);
  }
  return Object.freeze([...s]);
}

function checkDtype(fn: string, d: unknown): Dtype | undefined {
  if (d === undefined) return undefined;
  if (!DTYPES.includes(d as Dtype)) throw new RangeError(`${fn}: option 'dtype' must be 'fixed' or 'int', got ${describe(d)}`);
  return d as Dtype;
}

export interface SpecOptions {
  shape?: readonly number[];
  dtype?: Dtype;
  /** Viewers the computation may reveal the value to; null = public; undefined = not constrained. */
  sensitivity?: Sensitivity;
}

/** A declared tensor type (input or output signature entry). */
export class TensorSpec {
  readonly kind: Kind;
  readonly shape: readonly number[] | undefined;
  readonly dtype: Dtype | undefined;
  readonly placement: SpecPlacement | undefined;
  readonly sensitivity: Sensitivity | undefined;

  constructor(kind: Kind, placement: SpecPlacement | undefined, options: SpecOptions = {}) {
    const fn = 'TensorSpec';
    if (!KINDS.includes(kind)) throw new RangeError(`${fn}: argument 'kind' must be one of ${KINDS.join(', ')}, got ${describe(kind)}`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object, got ${describe(options)}`);
    this.kind = kind;
    this.shape = checkShape(fn, options.shape);
    this.dtype = checkDtype(fn, options.dtype);
    this.sensitivity = checkSensitivityArg(fn, options.sensitivity);
    if (kind === 'public') {
      if (placement !== undefined && !(Array.isArray(placement) && placement.length === 0)) throw new TypeError(`${fn}: a public spec has no placement`);
      if (this.sensitivity !== undefined && this.sensitivity !== null) throw new TypeError(`${fn}: a public spec has sensitivity null (public), got ${names(this.sensitivity)}`);
      this.placement = [];
      this.sensitivity = null;
    } else if (kind === 'private') {
      if (!Array.isArray(placement) || placement.length !== 1) throw new TypeError(`${fn}: a private spec is placed on exactly one Player, got ${describe(placement)}`);
      this.placement = Object.freeze([checkPlayer(fn, 'placement', placement[0])]);
      // (the seed: a private value may be seen by its player only, unless declared wider)
      if (options.sensitivity === undefined) this.sensitivity = this.placement;
    } else {
      if (placement !== undefined && placement !== 'protocol') {
        if (!Array.isArray(placement) || placement.length === 0) throw new TypeError(`${fn}: an encrypted spec's placement must be 'protocol' or a non-empty array of Player, got ${describe(placement)}`);
        placement.forEach((p, i) => checkPlayer(fn, `placement[${i}]`, p));
      }
      this.placement = placement === undefined || placement === 'protocol' ? 'protocol' : Object.freeze([...placement]);
    }
    Object.freeze(this);
  }

  static public(options: Omit<SpecOptions, 'sensitivity'> = {}): TensorSpec {
    return new TensorSpec('public', [], options);
  }

  /** A plaintext value of `owner` (sensitivity default: the owner only). */
  static private(owner: Player, options: SpecOptions = {}): TensorSpec {
    return new TensorSpec('private', [checkPlayer('TensorSpec.private', 'owner', owner)], options);
  }

  /** An encrypted value; placement default: the concretizing protocol's holders. */
  static encrypted(options: SpecOptions & { placement?: SpecPlacement } = {}): TensorSpec {
    return new TensorSpec('encrypted', options.placement ?? 'protocol', options);
  }

  /** The exact type `t` as a spec. */
  static of(t: TensorType): TensorSpec {
    return new TensorSpec(t.kind, t.placement, { shape: t.shape, dtype: t.dtype, sensitivity: t.sensitivity });
  }

  withShape(shape: readonly number[]): TensorSpec {
    return new TensorSpec(this.kind, this.placement, { shape, dtype: this.dtype, sensitivity: this.sensitivity });
  }

  withDtype(dtype: Dtype): TensorSpec {
    return new TensorSpec(this.kind, this.placement, { shape: this.shape, dtype, sensitivity: this.sensitivity });
  }

  withSensitivity(sensitivity: Sensitivity | undefined): TensorSpec {
    return new TensorSpec(this.kind, this.placement, { shape: this.shape, dtype: this.dtype, sensitivity });
  }

  toJSON(): SpecJSON {
    const out: SpecJSON = { kind: this.kind };
    if (this.shape !== undefined) out.shape = [...this.shape];
    if (this.dtype !== undefined) out.dtype = this.dtype;
    if (this.kind !== 'public') out.placement = this.placement === 'protocol' ? 'protocol' : this.placement!.map((p) => p.name);
    if (this.sensitivity !== undefined && this.kind !== 'public') out.sensitivity = this.sensitivity === null ? null : this.sensitivity.map((p) => p.name);
    return out;
  }

  static fromJSON(j: unknown, where = 'TensorSpec.fromJSON'): TensorSpec {
    if (j === null || typeof j !== 'object') throw new TypeError(`${where}: a spec must be an object, got ${describe(j)}`);
    const o = j as SpecJSON;
    const players = (xs: unknown, what: string): Player[] => {
      if (!Array.isArray(xs)) throw new TypeError(`${where}: '${what}' must be an array of player names, got ${describe(xs)}`);
      return xs.map((n) => new Player(n as string));
    };
    const placement = o.placement === undefined || o.placement === 'protocol' ? (o.kind === 'public' ? [] : o.placement) : players(o.placement, 'placement');
    const sensitivity = o.sensitivity === undefined ? undefined : o.sensitivity === null ? null : players(o.sensitivity, 'sensitivity');
    return new TensorSpec(o.kind, placement, { ...(o.shape === undefined ? {} : { shape: o.shape }), ...(o.dtype === undefined ? {} : { dtype: o.dtype }), sensitivity });
  }
}

export interface SpecJSON {
  kind: Kind;
  shape?: number[];
  dtype?: Dtype;
  placement?: string[] | 'protocol';
  sensitivity?: string[] | null;
}

/**
 * The seed's `tfe.tensors.*.with_placement(...)`, in TypeScript:
 * `specs.PrivateTensor.withPlacement(alice)`, `specs.EncryptedTensor.withPlacement([s0, s1, s2])`.
 */
export const specs = Object.freeze({
  PublicTensor: Object.freeze({ any: (options: Omit<SpecOptions, 'sensitivity'> = {}) => TensorSpec.public(options) }),
  PrivateTensor: Object.freeze({ withPlacement: (owner: Player, options: SpecOptions = {}) => TensorSpec.private(owner, options) }),
  EncryptedTensor: Object.freeze({
    any: (options: SpecOptions = {}) => TensorSpec.encrypted(options),
    withPlacement: (players: readonly Player[], options: SpecOptions = {}) => TensorSpec.encrypted({ ...options, placement: players }),
  }),
});

/**
 * Check `actual` ⊑ `declared` (see the module comment); throws a
 * SignatureError naming `what` (e.g. "forward: argument 'w'"), the expected
 * and the actual type. `protocolPlacement`: the holders a declared
 * 'protocol' placement stands for.
 */
export function checkSubtype(what: string, actual: TensorType, declared: TensorSpec, protocolPlacement: readonly Player[] | undefined): void {
  const fail = (why: string): never => {
    throw new SignatureError(`${what}: expected ${describeType(declared)}, got ${describeType(actual)} (${why})`);
  };
  if (actual.kind !== declared.kind) fail(`kind ${actual.kind} is not ${declared.kind}`);
  if (declared.shape !== undefined && fmtShape(declared.shape) !== fmtShape(actual.shape)) fail(`shape ${fmtShape(actual.shape)} is not ${fmtShape(declared.shape)}`);
  if (declared.dtype !== undefined && declared.dtype !== actual.dtype) fail(`dtype ${actual.dtype} is not ${declared.dtype}`);
  const placement = declared.placement === 'protocol' ? protocolPlacement : declared.placement;
  if (placement !== undefined && !samePlayers(actual.placement, placement)) fail(`placement ${names(actual.placement)} is not ${names(placement)}`);
  if (declared.sensitivity !== undefined && !sensitivityFits(actual.sensitivity, declared.sensitivity)) {
    fail(`sensitivity ${names(actual.sensitivity)} does not admit every viewer of ${names(declared.sensitivity)}, to whom the computation may reveal it`);
  }
}
