/**
 * The IR of a computation: a list of nodes in program order over value ids
 * (inputs are ids 0..n-1, then each node's results in node order: a node has
 * one result, or `results` of them, e.g. maxPool2x2WithMask's [y, mask];
 * `nodeIds`), produced by tracing a function
 * over symbolic tensors. No protocol, shape or type is needed to trace: the
 * types are inferred, and checked, when a protocol and an input signature make
 * the computation concrete.
 */
import { describe } from '../errors.js';

/** Attributes of a node: JSON values only (players by name, public constants as numbers). */
export type Attrs = Readonly<Record<string, unknown>>;

export interface Node {
  readonly op: string;
  readonly args: readonly number[];
  readonly attrs: Attrs;
  /** How many values the node gives (absent: one); its results take consecutive ids. */
  readonly results?: number;
}

/** The id of each node's first result (the ids of `graph`'s nodes' results: nodeIds[k] .. nodeIds[k] + results - 1), and the next free id. */
export function nodeIds(inputs: number, nodes: readonly Node[]): { first: number[]; next: number } {
  const first: number[] = [];
  let next = inputs;
  for (const nd of nodes) {
    first.push(next);
    next += nd.results ?? 1;
  }
  return { first, next };
}

/** How the traced function returned: one tensor, an array of them, or nothing. */
export type OutputForm = 'single' | 'array' | 'none';

export interface Graph {
  readonly inputNames: readonly string[];
  readonly nodes: readonly Node[];
  readonly outputs: readonly number[];
  readonly outputForm: OutputForm;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** A value inside a traced function: it has no data, only its place in the graph. */
export class Symbolic {
  readonly #trace: Trace;
  readonly id: number;

  /** @internal */
  constructor(trace: Trace, id: number) {
    this.#trace = trace;
    this.id = id;
  }

  /** @internal */
  belongsTo(t: Trace): boolean {
    return this.#trace === t;
  }

  #refuse(how: string): never {
    throw new TypeError(`Symbolic tensor: a traced computation cannot convert a value ${how} (it has no value while tracing; values may be secret): use ops only`);
  }
  valueOf(): never { return this.#refuse('to a number'); }
  toString(): string { return `Symbolic(%${this.id})`; }
  toJSON(): never { return this.#refuse('to JSON'); }
  [Symbol.toPrimitive](hint: string): never { return this.#refuse(`to a primitive (hint '${hint}')`); }
  [INSPECT](): string { return this.toString(); }
}

export class Trace {
  readonly nodes: Node[] = [];
  #next: number;
  constructor(readonly name: string, readonly inputs: number, readonly check?: (op: string, attrs: Attrs) => void) {
    this.#next = inputs;
  }

  add(op: string, args: readonly number[], attrs: Attrs): Symbolic {
    return this.addMulti(op, args, attrs, 1)[0]!;
  }

  /** A node with `results` results (consecutive ids). */
  addMulti(op: string, args: readonly number[], attrs: Attrs, results: number): Symbolic[] {
    this.check?.(op, attrs);
    this.nodes.push({ op, args: Object.freeze([...args]), attrs: Object.freeze({ ...attrs }), ...(results === 1 ? {} : { results }) });
    const first = this.#next;
    this.#next += results;
    return Array.from({ length: results }, (_, i) => new Symbolic(this, first + i));
  }
}

let current: Trace | undefined;

/** The trace being recorded (ops called outside a computation throw). */
export function activeTrace(fn: string): Trace {
  if (current === undefined) throw new TypeError(`ops.${fn}: called outside a computation; wrap the code in computation(...) (ops record into a traced computation)`);
  return current;
}

/** Trace `fn` on `inputNames.length` symbolic inputs (synchronously). */
export function trace(name: string, fn: (...xs: Symbolic[]) => unknown, inputNames: readonly string[], check?: Trace['check']): Graph {
  if (current !== undefined) throw new TypeError(`${name}: computations are traced one at a time (a computation defined inside another's function)`);
  const t = new Trace(name, inputNames.length, check);
  current = t;
  let ret: unknown;
  try {
    ret = fn(...inputNames.map((_, i) => new Symbolic(t, i)));
  } finally {
    current = undefined;
  }
  if (ret !== null && typeof ret === 'object' && typeof (ret as { then?: unknown }).then === 'function') {
    throw new TypeError(`${name}: the function returned a Promise; a computation's function is traced, not run: make it synchronous (ops record, they do not wait)`);
  }
  const out = (v: unknown, i?: number): number => {
    if (!(v instanceof Symbolic) || !v.belongsTo(t)) {
      throw new TypeError(`${name}: the function must return a tensor of the computation (an op's result or an input), an array of them, or nothing; got ${describe(v)}${i === undefined ? '' : ` at index ${i}`}`);
    }
    return v.id;
  };
  let outputs: number[];
  let outputForm: OutputForm;
  if (ret === undefined) [outputs, outputForm] = [[], 'none'];
  else if (Array.isArray(ret)) [outputs, outputForm] = [ret.map(out), 'array'];
  else [outputs, outputForm] = [[out(ret)], 'single'];
  return Object.freeze({ inputNames: Object.freeze([...inputNames]), nodes: Object.freeze(t.nodes), outputs: Object.freeze(outputs), outputForm });
}

/** Parameter names of a plain function (for messages); `args[i]` where they cannot be read. */
export function parameterNames(fn: (...a: never[]) => unknown): string[] {
  const src = Function.prototype.toString.call(fn);
  const m = /^(?:async\s+)?(?:function\b[^(]*)?\(([^)]*)\)/.exec(src) ?? /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  const list = m?.[1]?.split(',').map((s) => s.trim()).filter((s) => s.length > 0) ?? [];
  const ok = list.every((s) => /^[A-Za-z_$][\w$]*$/.test(s));
  const n = fn.length;
  return Array.from({ length: n }, (_, i) => (ok && list[i] !== undefined ? list[i]! : `args[${i}]`));
}
