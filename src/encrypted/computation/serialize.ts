/**
 * Computations to and from JSON: the IR (registered ops by name, their
 * attributes, public constants), the flavor, the declared signatures, and for
 * a concrete computation its protocol's description and input types. No
 * source code. Reading checks everything again: ops must be registered,
 * references must point backwards, attributes pass the op's own check, and a
 * concrete computation is re-typed from its input types on the protocol it is
 * bound to (the JSON's types are never trusted).
 */
import { describe, ProtocolMismatchError } from '../errors.js';
import { Player } from '../player.js';
import { Protocol } from '../protocols/base.js';
import { Computation, ConcreteComputation, fromGraph, holdersOf, setSerializer, type CallableComputation, type Flavor } from './computation.js';
import { SerializationError, UnknownOpError } from './errors.js';
import type { Graph, Node, OutputForm } from './ir.js';
import { OP_NAMES, opRule, type AnyProtocol } from './rules.js';
import { TensorSpec, type SpecJSON, type TensorType } from './types.js';

export const FORMAT = 'fedcrypt.computation';
export const VERSION = 1;

interface TypeJSON extends SpecJSON {
  shape: number[];
  dtype: 'fixed' | 'int';
  variable?: boolean;
}

export interface ComputationJSON {
  format: typeof FORMAT;
  version: number;
  name: string;
  flavor: Flavor;
  player?: string;
  inputs: string[];
  inputSignature?: (SpecJSON | null)[];
  outputSignature?: (SpecJSON | null)[];
  /** `results` only on a node of several results (its ids are consecutive: inputs first, then each node's results in order). */
  nodes: { op: string; args: number[]; attrs: Record<string, unknown>; results?: number }[];
  outputs: number[];
  outputForm: OutputForm;
  /**
   * `truncation` only for an ABY3 or Pond instance with option truncation: 'deterministic' (absent: probabilistic);
   * `comparisonBits` only for an ABY3 instance whose option comparisonBits is below the ring's bits (absent: the ring's).
   */
  concrete?: { protocol: { kind: string; precision: string; holders: string[]; truncation?: string; comparisonBits?: number }; inputTypes: TypeJSON[] };
}

const typeJSON = (t: TensorType): TypeJSON => ({
  ...(TensorSpec.of(t).toJSON() as TypeJSON),
  ...(t.variable ? { variable: true } : {}),
});

function toJSON(c: Computation, concrete: ConcreteComputation | undefined): ComputationJSON {
  const g = c.graph;
  const sig = (s: readonly (TensorSpec | undefined)[] | undefined): (SpecJSON | null)[] | undefined => s?.map((x) => x?.toJSON() ?? null);
  const out: ComputationJSON = {
    format: FORMAT,
    version: VERSION,
    name: c.name,
    flavor: c.flavor,
    ...(c.player === undefined ? {} : { player: c.player.name }),
    inputs: [...g.inputNames],
    nodes: g.nodes.map((n) => ({ op: n.op, args: [...n.args], attrs: JSON.parse(JSON.stringify(n.attrs)) as Record<string, unknown>, ...((n.results ?? 1) === 1 ? {} : { results: n.results! }) })),
    outputs: [...g.outputs],
    outputForm: g.outputForm,
  };
  const is = sig(c.inputSignature);
  const os = sig(c.outputSignature);
  if (is !== undefined) out.inputSignature = is;
  if (os !== undefined) out.outputSignature = os;
  if (concrete !== undefined) {
    const p = concrete.protocol;
    out.concrete = {
      protocol: p === undefined ? { kind: 'none', precision: 'none', holders: [] } : { kind: p.kind, precision: p.precision, holders: holdersOf(p).map((q) => q.name), ...(truncationOf(p) === 'deterministic' ? { truncation: 'deterministic' } : {}), ...(cmpBitsOf(p) < p.bits ? { comparisonBits: cmpBitsOf(p) } : {}) },
      inputTypes: concrete.inputTypes.map(typeJSON),
    };
  }
  return out;
}
setSerializer(toJSON);

/** A protocol's truncation (ABY3's and Pond's option; the others truncate probabilistically or, Plaintext, floor in the clear). */
const truncationOf = (p: object): string => ('truncation' in p && typeof p.truncation === 'string' ? p.truncation : 'probabilistic');
/** A protocol's comparison bit length (ABY3's option comparisonBits; the others compare on the ring's bits). */
const cmpBitsOf = (p: { readonly bits: 64 | 128 }): number => ('comparisonBits' in p && typeof p.comparisonBits === 'number' ? p.comparisonBits : p.bits);

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * Read a computation from its JSON (an object or a string). An abstract one
 * comes back callable; a concrete one needs `options.protocol`, an instance
 * matching its description (kind, precision, holders), and comes back
 * concrete and checked.
 */
export function computationFromJSON(json: unknown, options: { protocol?: AnyProtocol } = {}): CallableComputation | ConcreteComputation {
  const fn = 'computationFromJSON';
  const o = (typeof json === 'string' ? JSON.parse(json) : json) as ComputationJSON;
  if (o === null || typeof o !== 'object') throw new SerializationError(`${fn}: argument 'json' must be an object or a JSON string, got ${describe(o)}`);
  if (o.format !== FORMAT || o.version !== VERSION) throw new SerializationError(`${fn}: expected format '${FORMAT}' version ${VERSION}, got ${JSON.stringify(o.format)} version ${JSON.stringify(o.version)}`);
  if (!['computation', 'encrypted', 'private'].includes(o.flavor)) throw new SerializationError(`${fn}: 'flavor' must be computation, encrypted or private, got ${JSON.stringify(o.flavor)}`);
  if (typeof o.name !== 'string') throw new SerializationError(`${fn}: 'name' must be a string`);
  if (!Array.isArray(o.inputs) || !o.inputs.every((s) => typeof s === 'string')) throw new SerializationError(`${fn}: 'inputs' must be an array of names`);
  if (!Array.isArray(o.nodes)) throw new SerializationError(`${fn}: 'nodes' must be an array`);
  const n = o.inputs.length;
  let next = n; // the next value id
  const nodes: Node[] = o.nodes.map((node, k) => {
    const where = `${fn}: node ${k}`;
    if (node === null || typeof node !== 'object') throw new SerializationError(`${where}: must be an object`);
    const rule = typeof node.op === 'string' ? opRule(node.op) : undefined;
    if (rule === undefined) throw new UnknownOpError(`${where}: op ${JSON.stringify(node.op)} is not a registered op (registered: ${OP_NAMES.join(', ')})`);
    if (!Array.isArray(node.args) || node.args.length !== rule.arity) throw new SerializationError(`${where} (${node.op}): expected ${rule.arity} argument(s), got ${describe(node.args)}`);
    node.args.forEach((a, j) => {
      if (!isInt(a) || a < 0 || a >= next) throw new SerializationError(`${where} (${node.op}): argument ${j} must refer to an input or an earlier node's result (0..${next - 1}), got ${JSON.stringify(a)}`);
    });
    const count = rule.results ?? 1;
    if (count === 1 ? node.results !== undefined && node.results !== 1 : node.results !== count) {
      throw new SerializationError(`${where} (${node.op}): 'results' must be ${count === 1 ? 'absent (one result)' : count}, got ${JSON.stringify(node.results)}`);
    }
    next += count;
    const attrs = node.attrs ?? {};
    if (typeof attrs !== 'object' || Array.isArray(attrs)) throw new SerializationError(`${where} (${node.op}): 'attrs' must be an object`);
    return { op: node.op, args: Object.freeze([...node.args]), attrs: Object.freeze(rule.attrs(attrs, `${where} (${node.op})`)), ...(count === 1 ? {} : { results: count }) };
  });
  if (!Array.isArray(o.outputs) || !o.outputs.every((a) => isInt(a) && a >= 0 && a < next)) throw new SerializationError(`${fn}: 'outputs' must refer to inputs or nodes' results`);
  if (!['single', 'array', 'none'].includes(o.outputForm) || (o.outputForm === 'single' && o.outputs.length !== 1) || (o.outputForm === 'none' && o.outputs.length !== 0)) {
    throw new SerializationError(`${fn}: 'outputForm' ${JSON.stringify(o.outputForm)} does not fit ${o.outputs.length} output(s)`);
  }
  const graph: Graph = Object.freeze({ inputNames: Object.freeze([...o.inputs]), nodes: Object.freeze(nodes), outputs: Object.freeze([...o.outputs]), outputForm: o.outputForm });
  const sig = (s: unknown, what: string): (TensorSpec | undefined)[] | undefined => {
    if (s === undefined) return undefined;
    if (!Array.isArray(s)) throw new SerializationError(`${fn}: '${what}' must be an array`);
    return s.map((x, i) => (x === null ? undefined : TensorSpec.fromJSON(x, `${fn}: ${what}[${i}]`)));
  };
  const player = o.player === undefined ? undefined : new Player(o.player);
  if ((o.flavor === 'private') !== (player !== undefined)) throw new SerializationError(`${fn}: 'player' is given exactly for a private computation`);
  const is = sig(o.inputSignature, 'inputSignature');
  const os = sig(o.outputSignature, 'outputSignature');
  const comp = fromGraph(graph, o.flavor, o.name, { ...(is === undefined ? {} : { inputSignature: is }), ...(os === undefined ? {} : { outputSignature: os }) }, player);
  if (o.concrete === undefined) return comp;

  const d = o.concrete.protocol;
  const p = options.protocol;
  if (d.kind === 'none') {
    if (p !== undefined) throw new ProtocolMismatchError(`${fn}: the computation was made concrete without a protocol; option 'protocol' must be omitted`);
    if (d.comparisonBits !== undefined) throw new SerializationError(`${fn}: 'concrete.protocol.comparisonBits' must be absent without a protocol, got ${JSON.stringify(d.comparisonBits)}`);
  } else {
    if (!(p instanceof Protocol)) throw new TypeError(`${fn}: a concrete computation needs option 'protocol' (a ${d.kind} protocol, precision '${d.precision}', holders ${d.holders.join(', ')}), got ${describe(p)}`);
    const holders = holdersOf(p).map((q) => q.name);
    if (p.kind !== d.kind || p.precision !== d.precision || holders.join(',') !== d.holders.join(',')) {
      throw new ProtocolMismatchError(`${fn}: the computation was made concrete for ${d.kind} (precision '${d.precision}', holders ${d.holders.join(', ')}), got ${p.kind} (precision '${p.precision}', holders ${holders.join(', ')})`);
    }
    if (d.truncation !== undefined && d.truncation !== 'deterministic') throw new SerializationError(`${fn}: 'concrete.protocol.truncation' must be 'deterministic' or absent, got ${JSON.stringify(d.truncation)}`);
    const want = d.truncation ?? 'probabilistic';
    if (truncationOf(p) !== want) throw new ProtocolMismatchError(`${fn}: the computation was made concrete for ${d.kind} with ${want} truncation, got a protocol with option truncation '${truncationOf(p)}'`);
    if (d.comparisonBits !== undefined && !(isInt(d.comparisonBits) && d.comparisonBits < p.bits)) throw new SerializationError(`${fn}: 'concrete.protocol.comparisonBits' must be an integer below the ring's ${p.bits} bits, or absent, got ${JSON.stringify(d.comparisonBits)}`);
    const k = d.comparisonBits ?? p.bits;
    if (cmpBitsOf(p) !== k) throw new ProtocolMismatchError(`${fn}: the computation was made concrete for ${d.kind} with comparisons on ${k} bits, got a protocol with option comparisonBits ${cmpBitsOf(p)}`);
  }
  if (!Array.isArray(o.concrete.inputTypes)) throw new SerializationError(`${fn}: 'concrete.inputTypes' must be an array`);
  const types = o.concrete.inputTypes.map((t, i): TensorType => {
    const s = TensorSpec.fromJSON(t, `${fn}: concrete.inputTypes[${i}]`);
    if (s.shape === undefined || s.dtype === undefined || s.sensitivity === undefined) throw new SerializationError(`${fn}: concrete.inputTypes[${i}] must give shape, dtype and sensitivity`);
    const placement = s.placement === 'protocol' || s.placement === undefined ? (p === undefined ? [] : holdersOf(p)) : s.placement;
    return { kind: s.kind, shape: s.shape, dtype: s.dtype, placement, sensitivity: s.sensitivity, ...(t.variable === true ? { variable: true } : {}) };
  });
  return (comp as Computation).concreteFor(d.kind === 'none' ? undefined : p, types);
}
