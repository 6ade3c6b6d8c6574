/**
 * The plan of one aggregation: what every party must agree on before any
 * value moves. It is public (no client value, no weight, no key material),
 * the same at every party, and what each party checks against its own policy
 * (`enforcePlan` in roles.ts). Deployed, the driver sends it to every player
 * (`planToBytes`); a player parses it with `planFromBytes`, which refuses
 * anything malformed before a role sees it.
 */
import { DTYPES, TensorType, type DType } from '../core/types.js';
import { AGGREGATION_URIS, type AggregationLeaf, type AggregationUri } from './protocol.js';

export type TargetPlacement = 'SERVER' | 'AGGREGATORS';

export interface AggregationPlan {
  /** The role set's name (`AggregationRoles.name`). */
  readonly protocol: string;
  /** Unique per aggregation; rendezvous keys and channel labels derive from it. */
  readonly invocationId: string;
  readonly uri: AggregationUri;
  /**
   * Where the aggregate goes: the SERVER party, or every aggregator party.
   * The `_at_aggregators` uris may go to SERVER (a federatedSum or
   * federatedMean at SERVER run by the protocol, in a remote context).
   */
  readonly target: TargetPlacement;
  /** Member type of the client values, leaf by leaf (concrete shapes). */
  readonly leaves: readonly AggregationLeaf[];
  /** Secure sums: every element lies in [0, bound). */
  readonly bound?: bigint;
  /** The contributing clients, in order (party names). */
  readonly clients: readonly string[];
  /** The protocol's aggregator parties, in the protocol's order. */
  readonly aggregators: readonly string[];
  /** The SERVER party. */
  readonly server: string;
  /** Public protocol parameters (precision, key size, ...), equal to each party's own. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

export const PLAN_VERSION = 1;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const INVOCATION = /^[A-Za-z0-9][A-Za-z0-9_.:/#-]{0,159}$/;
/** Limits of a plan a party accepts from the network. */
export const PLAN_LIMITS = Object.freeze({ maxClients: 100_000, maxLeaves: 4096, maxElements: 2 ** 31, maxBytes: 8 << 20 });

function fail(what: string, msg: string): never {
  throw new RangeError(`aggregation plan: ${what} ${msg}`);
}

function checkName(what: string, x: unknown): string {
  if (typeof x !== 'string' || !NAME.test(x)) fail(what, `expected a party name ([A-Za-z0-9_.:-], at most 128 characters), got ${JSON.stringify(x)?.slice(0, 80)}`);
  return x;
}

/** Validate a plan (types, names, sizes); returns it frozen. */
export function checkPlan(p: AggregationPlan): AggregationPlan {
  if (p === null || typeof p !== 'object') fail('', `expected an object, got ${p === null ? 'null' : typeof p}`);
  if (typeof p.protocol !== 'string' || !NAME.test(p.protocol)) fail('"protocol"', `expected a protocol name, got ${JSON.stringify(p.protocol)?.slice(0, 80)}`);
  if (typeof p.invocationId !== 'string' || !INVOCATION.test(p.invocationId)) fail('"invocationId"', `expected [A-Za-z0-9_.:/#-], at most 160 characters, got ${JSON.stringify(p.invocationId)?.slice(0, 80)}`);
  if (!(AGGREGATION_URIS as readonly string[]).includes(p.uri)) fail('"uri"', `expected one of ${AGGREGATION_URIS.join(', ')}, got ${JSON.stringify(p.uri)?.slice(0, 80)}`);
  if (p.target !== 'SERVER' && p.target !== 'AGGREGATORS') fail('"target"', `expected 'SERVER' or 'AGGREGATORS', got ${JSON.stringify(p.target)?.slice(0, 80)}`);
  // AGGREGATORS only for the _at_aggregators uris; SERVER for any (a sum or mean at SERVER is carried out by the protocol too)
  if (p.target === 'AGGREGATORS' && !p.uri.endsWith('_at_aggregators')) fail('"target"', `AGGREGATORS does not match ${p.uri}`);
  if (!Array.isArray(p.leaves) || p.leaves.length === 0 || p.leaves.length > PLAN_LIMITS.maxLeaves) fail('"leaves"', `expected 1 to ${PLAN_LIMITS.maxLeaves} leaves`);
  let elements = 0;
  p.leaves.forEach((l, j) => {
    if (l === null || typeof l !== 'object' || typeof l.path !== 'string' || l.path.length > 256) fail(`"leaves[${j}]"`, 'expected { path, type, size }');
    if (!(l.type instanceof TensorType)) fail(`"leaves[${j}].type"`, 'expected a TensorType');
    if (l.type.shape.some((d: number | null) => d === null) || l.type.size !== l.size || !Number.isInteger(l.size) || l.size < 1) {
      fail(`"leaves[${j}]"`, `has size ${String(l.size)} and shape [${l.type.shape.join(', ')}]: expected a known shape of that many elements (>= 1)`);
    }
    elements += l.size;
  });
  if (elements > PLAN_LIMITS.maxElements) fail('"leaves"', `hold ${elements} elements, above ${PLAN_LIMITS.maxElements}`);
  const secureSum = p.uri === 'federated_secure_sum' || p.uri === 'federated_secure_sum_at_aggregators';
  if (secureSum) {
    if (typeof p.bound !== 'bigint' || p.bound < 2n || p.bound > 1n << 64n) fail('"bound"', `expected a bigint in [2, 2^64] for a secure sum, got ${String(p.bound)}`);
  } else if (p.bound !== undefined) fail('"bound"', `is only for secure sums, not ${p.uri}`);
  if (!Array.isArray(p.clients) || p.clients.length < 1 || p.clients.length > PLAN_LIMITS.maxClients) fail('"clients"', `expected 1 to ${PLAN_LIMITS.maxClients} party names`);
  p.clients.forEach((c, i) => checkName(`"clients[${i}]"`, c));
  if (!Array.isArray(p.aggregators) || p.aggregators.length > 16) fail('"aggregators"', 'expected at most 16 party names');
  p.aggregators.forEach((c, i) => checkName(`"aggregators[${i}]"`, c));
  checkName('"server"', p.server);
  if (p.params === null || typeof p.params !== 'object' || Array.isArray(p.params)) fail('"params"', 'expected an object');
  const keys = Object.keys(p.params);
  if (keys.length > 32) fail('"params"', 'has more than 32 entries');
  for (const k of keys) {
    const v = p.params[k];
    if (!/^[A-Za-z][A-Za-z0-9]{0,31}$/.test(k) || !(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) || (typeof v === 'string' && v.length > 256)) {
      fail(`"params.${k.slice(0, 40)}"`, 'expected a short name with a string, finite number or boolean value');
    }
  }
  const all = [p.server, ...p.aggregators, ...p.clients];
  if (new Set(all).size !== all.length) fail('', 'names a party twice');
  return Object.freeze({ ...p, leaves: Object.freeze([...p.leaves]), clients: Object.freeze([...p.clients]), aggregators: Object.freeze([...p.aggregators]), params: Object.freeze({ ...p.params }) });
}

/** A plan as bytes (versioned JSON; bigints as decimal strings). */
export function planToBytes(p: AggregationPlan): Uint8Array {
  checkPlan(p);
  const json = {
    v: PLAN_VERSION,
    protocol: p.protocol,
    invocationId: p.invocationId,
    uri: p.uri,
    target: p.target,
    leaves: p.leaves.map((l) => ({ path: l.path, dtype: l.type.dtype, shape: l.type.shape })),
    ...(p.bound === undefined ? {} : { bound: p.bound.toString() }),
    clients: p.clients,
    aggregators: p.aggregators,
    server: p.server,
    params: p.params,
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** Parse and check a plan received from another party. */
export function planFromBytes(bytes: Uint8Array): AggregationPlan {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`planFromBytes: argument 'bytes' must be a Uint8Array`);
  if (bytes.length > PLAN_LIMITS.maxBytes) fail('', `has ${bytes.length} bytes, above ${PLAN_LIMITS.maxBytes}`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    fail('', `is not JSON (${(e as Error).message.slice(0, 80)})`);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) fail('', 'expected a JSON object');
  const known = ['v', 'protocol', 'invocationId', 'uri', 'target', 'leaves', 'bound', 'clients', 'aggregators', 'server', 'params'];
  for (const k of Object.keys(j)) if (!known.includes(k)) fail(`"${k.slice(0, 40)}"`, 'is not a plan field');
  if (j['v'] !== PLAN_VERSION) fail('"v"', `expected ${PLAN_VERSION}, got ${JSON.stringify(j['v'])?.slice(0, 20)}`);
  const rawLeaves = j['leaves'];
  if (!Array.isArray(rawLeaves) || rawLeaves.length > PLAN_LIMITS.maxLeaves) fail('"leaves"', `expected at most ${PLAN_LIMITS.maxLeaves} leaves`);
  const leaves: AggregationLeaf[] = rawLeaves.map((l: unknown, i: number) => {
    const o = l as { path?: unknown; dtype?: unknown; shape?: unknown };
    if (o === null || typeof o !== 'object' || typeof o.path !== 'string' || !(DTYPES as readonly unknown[]).includes(o.dtype) || !Array.isArray(o.shape) || o.shape.length > 16) {
      fail(`"leaves[${i}]"`, 'expected { path, dtype, shape }');
    }
    if (!o.shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 2 ** 31)) fail(`"leaves[${i}].shape"`, 'expected integers in [0, 2^31]');
    const type = new TensorType(o.dtype as DType, o.shape as number[]);
    return { path: o.path, type, size: type.size ?? 0 };
  });
  const bound = j['bound'];
  if (bound !== undefined && (typeof bound !== 'string' || !/^[0-9]{1,25}$/.test(bound))) fail('"bound"', 'expected a decimal string');
  return checkPlan({
    protocol: j['protocol'] as string,
    invocationId: j['invocationId'] as string,
    uri: j['uri'] as AggregationUri,
    target: j['target'] as 'SERVER',
    leaves,
    ...(bound === undefined ? {} : { bound: BigInt(bound) }),
    clients: j['clients'] as string[],
    aggregators: j['aggregators'] as string[],
    server: j['server'] as string,
    params: j['params'] as Record<string, string>,
  });
}

/** The weighted-mean flag and element count of a plan. */
export function planShape(p: AggregationPlan): { weighted: boolean; elements: number } {
  return { weighted: p.uri === 'federated_weighted_mean_at_aggregators', elements: p.leaves.reduce((a, l) => a + l.size, 0) };
}
