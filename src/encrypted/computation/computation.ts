/**
 * Computations after the TFE-on-TF2 design. `computation(fn)` traces `fn`
 * into an abstract `Computation` (the what, no protocol); a protocol and an
 * input signature make it a `ConcreteComputation` (the how), whose types are
 * inferred and checked node by node before anything runs; running it calls
 * the engine's ops in program order (SPMD: every process runs the same calls).
 *
 * Flavors: `encryptedComputation` refuses plaintext (public or private)
 * arguments not declared in its input signature and the Plaintext protocol;
 * `privateComputation(player)` keeps every value on `player` (no encrypt, no
 * reveal elsewhere: refused when traced) and needs no protocol.
 */
import { describe, fmtShape, ProtocolMismatchError } from '../errors.js';
import { checkPlayer, type Player } from '../player.js';
import { ABY3 } from '../protocols/aby3.js';
import { Protocol } from '../protocols/base.js';
import { Plaintext } from '../protocols/plaintext.js';
import { Pond } from '../protocols/pond.js';
import { PrivateTensor, ProtocolTensor, PublicTensor } from '../tensor.js';
import { currentProtocol } from './context.js';
import { NoProtocolError, PlacementError, SignatureError } from './errors.js';
import { parameterNames, trace, type Attrs, type Graph, type Node, type Symbolic } from './ir.js';
import { opRule, type AnyProtocol, type RunEnv, type Value } from './rules.js';
import { checkSubtype, describeType, names, TensorSpec, type TensorType } from './types.js';
import { Variable } from './variable.js';

export type Flavor = 'computation' | 'encrypted' | 'private';
/** An argument: a tensor of the engine, a Variable, or a public value (number, nested arrays). */
export type Arg = Value | Variable | number | readonly unknown[];
/** What a run returns: as the traced function returned (one value, an array, or nothing). */
export type Result = Value | Value[] | undefined;

export interface ComputationOptions {
  /** For messages and JSON; default the function's name. */
  name?: string;
  /** Declared argument types, by position (undefined: not constrained). */
  inputSignature?: readonly (TensorSpec | undefined)[];
  /** Declared result types, by position. */
  outputSignature?: readonly (TensorSpec | undefined)[];
  /** A fixed protocol (else the current context's when called). */
  protocol?: AnyProtocol;
  /** The arguments' names in messages and JSON; default the function's parameter names as its source shows them (a bundler may rename them), else `args[i]`. */
  inputNames?: readonly string[];
}

/** The share holders of a protocol's tensors (their placement). */
export function holdersOf(p: AnyProtocol): readonly Player[] {
  if (p instanceof ABY3) return p.servers;
  if (p instanceof Pond) return [p.server0, p.server1];
  if (p instanceof Plaintext) return [p.evaluator];
  return p.players;
}

/** The type of an argument (TypeError naming it if it is not a tensor, Variable or public value). */
export function typeOf(what: string, a: unknown): TensorType {
  if (a instanceof Variable) return { ...typeOf(what, a.value), variable: true };
  if (a instanceof PublicTensor) return { kind: 'public', shape: a.shape, dtype: 'fixed', placement: [], sensitivity: null };
  if (a instanceof PrivateTensor) return { kind: 'private', shape: a.shape, dtype: 'fixed', placement: [a.owner], sensitivity: a.sensitivity };
  if (a instanceof ProtocolTensor) return { kind: 'encrypted', shape: a.shape, dtype: a.encoding, placement: a.placement, sensitivity: a.sensitivity };
  if (typeof a === 'number' || Array.isArray(a)) return typeOf(what, new PublicTensor(a as number));
  throw new TypeError(`${what}: must be a tensor (PublicTensor, PrivateTensor, an encrypted tensor), a Variable, or a public number / array, got ${describe(a)}`);
}

/** A declared spec as a resolved type (shape required; dtype default fixed; an open encrypted sensitivity is public). */
function resolveSpec(what: string, s: unknown, holders: readonly Player[] | undefined): TensorType {
  if (!(s instanceof TensorSpec)) throw new TypeError(`${what}: must be a TensorSpec, got ${describe(s)}`);
  if (s.shape === undefined) throw new SignatureError(`${what}: a concrete signature needs every shape, got ${describeType(s)}`);
  const placement = s.placement === 'protocol' ? holders : s.placement;
  if (placement === undefined) throw new NoProtocolError(`${what}: an encrypted type needs a protocol to place it`);
  return { kind: s.kind, shape: s.shape, dtype: s.dtype ?? 'fixed', placement, sensitivity: s.sensitivity ?? null };
}

function makeCallable<T extends object>(obj: T, call: (...a: Arg[]) => Promise<Result>): T & ((...a: Arg[]) => Promise<Result>) {
  const target = (() => undefined) as unknown as object;
  return new Proxy(target, {
    get: (_t, k) => {
      const v = Reflect.get(obj, k, obj) as unknown;
      return typeof v === 'function' && k !== 'constructor' ? (v as (...x: unknown[]) => unknown).bind(obj) : v;
    },
    has: (_t, k) => Reflect.has(obj, k),
    getPrototypeOf: () => Object.getPrototypeOf(obj) as object,
    apply: (_t, _this, a) => call(...(a as Arg[])),
  }) as T & ((...a: Arg[]) => Promise<Result>);
}

export class Computation {
  readonly name: string;
  readonly flavor: Flavor;
  readonly graph: Graph;
  /** privateComputation's player. */
  readonly player: Player | undefined;
  readonly inputSignature: readonly (TensorSpec | undefined)[] | undefined;
  readonly outputSignature: readonly (TensorSpec | undefined)[] | undefined;
  readonly #protocol: AnyProtocol | undefined;
  // per protocol instance (SPMD processes in one test share a computation but not a protocol), then by input types
  readonly #cache = new WeakMap<object, Map<string, ConcreteComputation>>();
  static readonly #NONE = {};

  /** @internal Use computation(), encryptedComputation(), privateComputation() or computationFromJSON(). */
  constructor(graph: Graph, flavor: Flavor, name: string, options: ComputationOptions, player?: Player) {
    this.graph = graph;
    this.flavor = flavor;
    this.name = name;
    this.player = player;
    const n = graph.inputNames.length;
    const sig = (k: 'inputSignature' | 'outputSignature', len: number | undefined): readonly (TensorSpec | undefined)[] | undefined => {
      const s = options[k];
      if (s === undefined) return undefined;
      if (!Array.isArray(s) || (len !== undefined && s.length !== len)) throw new TypeError(`${name}: option '${k}' must be an array${len === undefined ? '' : ` of ${len}`} (TensorSpec or undefined), got ${describe(s)}${Array.isArray(s) ? ` of ${s.length}` : ''}`);
      s.forEach((x, i) => {
        if (x !== undefined && !(x instanceof TensorSpec)) throw new TypeError(`${name}: option '${k}[${i}]' must be a TensorSpec or undefined, got ${describe(x)}`);
      });
      return Object.freeze([...s]);
    };
    this.inputSignature = sig('inputSignature', n);
    this.outputSignature = sig('outputSignature', graph.outputs.length);
    if (options.protocol !== undefined && !(options.protocol instanceof Protocol)) throw new TypeError(`${name}: option 'protocol' must be a Protocol, got ${describe(options.protocol)}`);
    this.#protocol = options.protocol;
    // a declared signature is checked against the flavor now, not at the first call
    if (flavor === 'private') {
      this.inputSignature?.forEach((s, i) => s && this.#checkPrivatePlacement(`argument '${graph.inputNames[i]}'`, s.kind, s.placement === 'protocol' ? undefined : s.placement));
      this.outputSignature?.forEach((s, i) => s && this.#checkPrivatePlacement(`result ${i}`, s.kind, s.placement === 'protocol' ? undefined : s.placement));
    }
  }

  /** The fixed protocol (undefined for an abstract computation: the seed's `forward.protocol is None`). */
  get protocol(): AnyProtocol | undefined {
    return this.#protocol;
  }

  #checkPrivatePlacement(what: string, kind: string, placement: readonly Player[] | undefined): void {
    if (kind === 'public') return;
    if (kind !== 'private' || placement === undefined || placement.length !== 1 || placement[0]!.name !== this.player!.name) {
      throw new PlacementError(`${this.name}: ${what} of the private computation of '${this.player!.name}' must be public or private to '${this.player!.name}', got ${kind} at ${placement === undefined ? "the protocol's holders" : names(placement)}`);
    }
  }

  /**
   * Make the computation concrete for `protocol` (undefined: none; a private
   * computation never uses one) and `signature` (one TensorSpec with a shape
   * per argument). Every type is inferred and checked here: nothing runs.
   */
  concrete(protocol: AnyProtocol | undefined, signature: readonly TensorSpec[]): ConcreteComputation {
    if (protocol !== undefined && !(protocol instanceof Protocol)) throw new TypeError(`${this.name}.concrete: argument 'protocol' must be a Protocol or undefined, got ${describe(protocol)}`);
    if (!Array.isArray(signature)) throw new TypeError(`${this.name}.concrete: argument 'signature' must be an array of TensorSpec, got ${describe(signature)}`);
    const p = this.flavor === 'private' ? undefined : (this.#protocol ?? protocol);
    const holders = p === undefined ? undefined : holdersOf(p);
    return this.concreteFor(p, signature.map((s, i) => resolveSpec(`${this.name}.concrete: signature[${i}]`, s, holders)));
  }

  /** @internal Concrete for resolved input types (cached by protocol and types). */
  concreteFor(protocol: AnyProtocol | undefined, types: readonly TensorType[]): ConcreteComputation {
    const key = JSON.stringify(types.map((t) => [t.kind, t.shape, t.dtype, t.placement.map((q) => q.name), t.sensitivity?.map((q) => q.name) ?? null, t.variable ?? false]));
    const slot = protocol ?? Computation.#NONE;
    let byTypes = this.#cache.get(slot);
    if (byTypes === undefined) this.#cache.set(slot, (byTypes = new Map()));
    let c = byTypes.get(key);
    if (c === undefined) {
      c = new ConcreteComputation(this, protocol, types);
      byTypes.set(key, c);
    }
    return c;
  }

  /** Run with the current protocol (withProtocol / setProtocol; the fixed one if given). */
  call(...args: Arg[]): Promise<Result> {
    const n = this.graph.inputNames.length;
    if (args.length !== n) return Promise.reject(new TypeError(`${this.name}: expected ${n} argument(s) (${this.graph.inputNames.join(', ')}), got ${args.length}`));
    try {
      const protocol = this.flavor === 'private' ? undefined : (this.#protocol ?? currentProtocol());
      const c = this.concreteFor(protocol, args.map((a, i) => typeOf(`${this.name}: argument '${this.graph.inputNames[i]}'`, a)));
      return c.run(...args);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  toJSON(): unknown {
    return computationToJSON(this, undefined);
  }
}

export class ConcreteComputation {
  readonly computation: Computation;
  readonly protocol: AnyProtocol | undefined;
  readonly inputTypes: readonly TensorType[];
  /** The type of every value id (undefined for an `assign`). */
  readonly types: readonly (TensorType | undefined)[];
  readonly outputTypes: readonly TensorType[];
  readonly #holders: readonly Player[] | undefined;

  /** @internal Use Computation.concrete. Infers and checks every type (throws before anything runs). */
  constructor(comp: Computation, protocol: AnyProtocol | undefined, inputTypes: readonly TensorType[]) {
    const { graph, name, flavor } = comp;
    this.computation = comp;
    this.protocol = protocol;
    this.#holders = protocol === undefined ? undefined : holdersOf(protocol);
    const n = graph.inputNames.length;
    if (inputTypes.length !== n) throw new TypeError(`${name}: expected ${n} argument type(s) (${graph.inputNames.join(', ')}), got ${inputTypes.length}`);
    if (flavor === 'encrypted') {
      if (protocol === undefined) throw new NoProtocolError(`${name}: an encrypted computation needs a protocol (withProtocol, setProtocol, or concrete(protocol, signature))`);
      if (protocol instanceof Plaintext) throw new ProtocolMismatchError(`${name}: an encrypted computation cannot run under the Plaintext protocol '${protocol.id}' (it holds values in the clear); use Pond or ABY3`);
    }
    inputTypes.forEach((t, i) => {
      const what = `${name}: argument '${graph.inputNames[i]}'`;
      const declared = comp.inputSignature?.[i];
      if (declared !== undefined) checkSubtype(what, t, declared, this.#holders);
      if (flavor === 'private') this.#privateCheck(comp, what, t);
      if (t.kind === 'encrypted') {
        if (this.#holders === undefined) throw new NoProtocolError(`${what} is encrypted; the computation needs a protocol to compute on it`);
        if (!this.#samePlayers(t.placement, this.#holders)) throw new SignatureError(`${what}: expected a value held by the protocol's holders ${names(this.#holders)}, got ${describeType(t)}`);
      }
      if (flavor === 'encrypted' && declared === undefined && t.kind !== 'encrypted') {
        throw new SignatureError(`${what}: an encrypted computation refuses the plaintext ${describeType(t)}; encrypt it first, or declare the argument in 'inputSignature'`);
      }
    });
    const types: (TensorType | undefined)[] = [...inputTypes];
    // the node that gives each value id (a constant's values are known when the computation is made concrete)
    const producer = new Map<number, Node>();
    const known = new Set((protocol?.knownPlayers ?? []).map((q) => q.name));
    graph.nodes.forEach((node, k) => {
      const where = `${name}: node ${k} (${node.op})`;
      const rule = opRule(node.op)!;
      const ts = node.args.map((id, j) => {
        const t = types[id];
        if (t === undefined) throw new SignatureError(`${where}: argument '${rule.argNames[j]}' is the result of an assign (it has no value)`);
        return t;
      });
      if (node.op === 'assign' && node.args[0]! >= n) throw new SignatureError(`${where}: argument 'variable' must be an argument of the computation passed as a Variable`);
      const constant = (j: number): readonly number[] | undefined => {
        const id = node.args[j];
        const src = id === undefined ? undefined : producer.get(id);
        return src?.op === 'constant' ? (src.attrs['values'] as number[]) : undefined;
      };
      const inferred = rule.infer({ where, protocol, holders: this.#holders, known, inputs: inputTypes, constant }, ts, node.attrs);
      const outs = Array.isArray(inferred) ? (inferred as readonly TensorType[]) : [inferred as TensorType | undefined];
      const count = rule.results ?? 1;
      if (outs.length !== count || (node.results ?? 1) !== count) throw new SignatureError(`${where}: the op gives ${count} result(s), the node has ${node.results ?? 1}`);
      for (const out of outs) {
        if (flavor === 'private' && out !== undefined) this.#privateCheck(comp, where, out);
        producer.set(types.length, node);
        types.push(out);
      }
    });
    this.types = Object.freeze(types);
    this.outputTypes = Object.freeze(graph.outputs.map((id, i) => {
      const t = types[id];
      if (t === undefined) throw new SignatureError(`${name}: result ${i} is the result of an assign (it has no value)`);
      const declared = comp.outputSignature?.[i];
      if (declared !== undefined) checkSubtype(`${name}: result ${i}`, t, declared, this.#holders);
      return t;
    }));
    this.inputTypes = Object.freeze([...inputTypes]);
  }

  #samePlayers(a: readonly Player[], b: readonly Player[]): boolean {
    return a.length === b.length && a.every((p, i) => p.name === b[i]!.name);
  }

  #privateCheck(comp: Computation, what: string, t: TensorType): void {
    if (t.kind === 'public') return;
    const p = comp.player!;
    if (t.kind !== 'private' || t.placement[0]!.name !== p.name) throw new PlacementError(`${what}: the private computation of '${p.name}' keeps every value on '${p.name}', got ${describeType(t)}`);
  }

  /** Check the arguments against the input types, then run (each op's checks are done: only data moves). */
  async run(...args: Arg[]): Promise<Result> {
    const { graph, name } = this.computation;
    const n = graph.inputNames.length;
    if (args.length !== n) throw new TypeError(`${name}: expected ${n} argument(s) (${graph.inputNames.join(', ')}), got ${args.length}`);
    const values: (Value | undefined)[] = args.map((a, i) => {
      const what = `${name}: argument '${graph.inputNames[i]}'`;
      const t = typeOf(what, a);
      const want = this.inputTypes[i]!;
      checkSubtype(what, t, TensorSpec.of(want), this.#holders);
      if (fmtShape(t.shape) !== fmtShape(want.shape)) throw new SignatureError(`${what}: expected shape ${fmtShape(want.shape)}, got ${fmtShape(t.shape)}`);
      if (want.variable && !(a instanceof Variable)) throw new SignatureError(`${what}: expected a Variable (the computation assigns it), got ${describe(a)}`);
      const v = a instanceof Variable ? a.value : typeof a === 'number' || Array.isArray(a) ? new PublicTensor(a as number) : (a as Value);
      if (v instanceof ProtocolTensor && v.protocol !== this.protocol) throw new ProtocolMismatchError(`${what}: belongs to protocol '${v.protocol.id}', the computation runs under '${this.protocol?.id ?? 'none'}'`);
      return v;
    });
    const env: RunEnv = { protocol: this.protocol, assigns: [] };
    for (const node of graph.nodes) {
      const vs = node.args.map((id) => values[id]!);
      const ts = node.args.map((id) => this.types[id]!);
      // (the node's results take the next ids)
      const outs = this.types.slice(values.length, values.length + (node.results ?? 1)) as TensorType[];
      const r = await opRule(node.op)!.run(env, vs, ts, node.attrs as Attrs, outs[0]!, node.args, outs);
      if ((node.results ?? 1) === 1) values.push(r as Value | undefined);
      else values.push(...(r as readonly Value[]));
    }
    for (const [i, v] of env.assigns) (args[i] as Variable).assign(v as ProtocolTensor);
    const outs = graph.outputs.map((id) => values[id]!);
    return graph.outputForm === 'none' ? undefined : graph.outputForm === 'single' ? outs[0] : outs;
  }

  toJSON(): unknown {
    return computationToJSON(this.computation, this);
  }
}

/** Set by serialize.ts (avoids an import cycle). */
let computationToJSON: (c: Computation, concrete: ConcreteComputation | undefined) => unknown = () => {
  throw new Error('serialization is not loaded');
};
/** @internal */
export function setSerializer(f: typeof computationToJSON): void {
  computationToJSON = f;
}

export type CallableComputation = Computation & ((...args: Arg[]) => Promise<Result>);

function build(fn: unknown, flavor: Flavor, options: ComputationOptions | undefined, player?: Player): CallableComputation {
  const what = flavor === 'computation' ? 'computation' : flavor === 'encrypted' ? 'encryptedComputation' : 'privateComputation';
  if (typeof fn !== 'function') throw new TypeError(`${what}: argument 'fn' must be a function, got ${describe(fn)}`);
  const opts = options ?? {};
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${what}: argument 'options' must be an object, got ${describe(opts)}`);
  const name = opts.name ?? (fn.name || what);
  const inputNames = opts.inputNames ?? parameterNames(fn as (...a: never[]) => unknown);
  if (!Array.isArray(inputNames) || !inputNames.every((s) => typeof s === 'string') || (opts.inputNames !== undefined && inputNames.length < (fn as (...a: never[]) => unknown).length)) {
    throw new TypeError(`${what}: option 'inputNames' must be an array of strings, one per parameter of 'fn', got ${describe(opts.inputNames)}`);
  }
  const check = flavor !== 'private' ? undefined : (op: string, attrs: Attrs): void => {
    if (op === 'encrypt') throw new PlacementError(`${name}: ops.encrypt would share a value of the private computation of '${player!.name}' with the protocol's holders; a private computation keeps every value on '${player!.name}'`);
    if (op === 'reveal' && attrs['player'] !== player!.name) throw new PlacementError(`${name}: ops.reveal to '${String(attrs['player'])}' would move a value of the private computation of '${player!.name}' off '${player!.name}'`);
  };
  const graph = trace(name, fn as (...xs: Symbolic[]) => unknown, inputNames, check);
  const c = new Computation(graph, flavor, name, opts, player);
  return makeCallable(c, (...args) => c.call(...args));
}

/** @internal A callable Computation over an existing graph (deserialization). */
export function fromGraph(graph: Graph, flavor: Flavor, name: string, options: ComputationOptions, player?: Player): CallableComputation {
  const c = new Computation(graph, flavor, name, options, player);
  return makeCallable(c, (...args) => c.call(...args));
}

/** Trace `fn` into an abstract computation (no protocol needed). */
export function computation(fn: (...xs: Symbolic[]) => Symbolic | Symbolic[] | void, options?: ComputationOptions): CallableComputation {
  return build(fn, 'computation', options);
}

/** As `computation`, refusing plaintext arguments (unless declared in `inputSignature`) and the Plaintext protocol. */
export function encryptedComputation(fn: (...xs: Symbolic[]) => Symbolic | Symbolic[] | void, options?: Omit<ComputationOptions, 'protocol'> & { protocol?: AnyProtocol }): CallableComputation {
  return build(fn, 'encrypted', options);
}

/** A computation that keeps every value on `player` (public or private to it); no protocol. */
export function privateComputation(player: Player, fn: (...xs: Symbolic[]) => Symbolic | Symbolic[] | void, options?: Omit<ComputationOptions, 'protocol'>): CallableComputation {
  checkPlayer('privateComputation', 'player', player);
  if ((options as ComputationOptions | undefined)?.protocol !== undefined) throw new TypeError(`privateComputation: a private computation takes no protocol (option 'protocol')`);
  return build(fn, 'private', options, player);
}
