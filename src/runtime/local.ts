/**
 * `localContext(options)`: a simulation context that runs any computation in
 * this process. CLIENTS values are passed as arrays with one entry per client;
 * the number of clients is taken from them (all must agree), or from
 * `options.numClients` when no argument carries it. Secure intrinsics (and
 * sum/mean at AGGREGATORS) run through `options.aggregation`, by default the
 * insecure reference (which warns once).
 */
import { FedArgumentError, FedValueError } from '../core/errors.js';
import type { ExecutionContext } from '../core/context.js';
import type { Computation } from '../core/tracing.js';
import { packParameters, type Type } from '../core/types.js';
import { fromJs, StructValue, toJs, type RtValue } from '../core/values.js';
import { isAggregationProtocol, type AggregationProtocol } from '../aggregation/protocol.js';
import { insecureReferenceAggregation } from '../aggregation/reference.js';
import { EMPTY_SCOPE, evaluate, type LocalEnv } from './executor.js';
import './intrinsics.js';

export interface LocalContextOptions {
  /** The protocol for secure intrinsics and AGGREGATORS sums/means (default: insecureReferenceAggregation()). */
  aggregation?: AggregationProtocol;
  /** Number of clients when no {T}@CLIENTS argument gives it (e.g. federatedEval at CLIENTS). */
  numClients?: number;
  /** Number of aggregator parties simulated (default 1). */
  numAggregators?: number;
}

export interface LocalContext extends ExecutionContext {
  readonly aggregation: AggregationProtocol;
  readonly numAggregators: number;
  close(): Promise<void>;
}

/** Collect [path, length] of every {T}@CLIENTS array in an argument (type-directed). */
function clientCounts(t: Type, x: unknown, path: string, out: [string, number][]): void {
  if (t.kind === 'federated') {
    if (t.placement.name === 'CLIENTS' && !t.allEqual && Array.isArray(x)) out.push([path, x.length]);
    return;
  }
  if (t.kind === 'struct') {
    t.elements.forEach(([n, e], i) => {
      const v = Array.isArray(x) ? x[i] : x !== null && typeof x === 'object' && n !== undefined ? (x as Record<string, unknown>)[n] : undefined;
      clientCounts(e, v, n === undefined ? `${path}[${i}]` : `${path}.${n}`, out);
    });
  }
}

const OPTION_KEYS = ['aggregation', 'numClients', 'numAggregators'];

export function localContext(options: LocalContextOptions = {}): LocalContext {
  if (options === null || typeof options !== 'object') throw new TypeError(`localContext: "options" expected an object, got ${options === null ? 'null' : typeof options}`);
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.includes(k)) throw new TypeError(`localContext: unknown option '${k}' (expected ${OPTION_KEYS.join(', ')})`);
  }
  if (options.aggregation !== undefined && !isAggregationProtocol(options.aggregation)) {
    throw new TypeError('localContext: "aggregation" expected an AggregationProtocol { name, secure, intrinsics, aggregate() }');
  }
  const nc = options.numClients;
  if (nc !== undefined && !(Number.isInteger(nc) && nc >= 0)) throw new RangeError(`localContext: "numClients" expected an integer >= 0, got ${nc}`);
  const na = options.numAggregators ?? 1;
  if (!(Number.isInteger(na) && na >= 1)) throw new RangeError(`localContext: "numAggregators" expected an integer >= 1, got ${na}`);
  const aggregation = options.aggregation ?? insecureReferenceAggregation();
  let counter = 0;

  async function invoke(comp: Computation, args: readonly unknown[]): Promise<unknown> {
    const params = comp.parameterTypes;
    if (args.length !== params.length) {
      throw new FedArgumentError('ARG_COUNT', comp.computationName, `expected ${params.length} argument(s) (${params.map(String).join(', ')}), got ${args.length}`);
    }
    const counts: [string, number][] = [];
    params.forEach((t, i) => clientCounts(t, args[i], `arg[${i}]`, counts));
    for (const [p, c] of counts) {
      if (c !== counts[0]![1]) {
        throw new FedValueError('CLIENT_COUNT', p, `${c} client values, but ${counts[0]![0]} has ${counts[0]![1]} (every CLIENTS argument needs one value per client)`);
      }
      if (nc !== undefined && c !== nc) throw new FedValueError('CLIENT_COUNT', p, `${c} client values, but the context has numClients ${nc}`);
    }
    const clients = counts.length > 0 ? counts[0]![1] : nc;
    const values = params.map((t, i) => fromJs(args[i], t, `arg[${i}]`, { clients, aggregators: na }));
    const packed = packParameters(params);
    const arg: RtValue | null = packed === null ? null : params.length === 1 ? values[0]! : new StructValue(packed as never, values);
    const env: LocalEnv = {
      clients() {
        if (clients === undefined) {
          throw new FedValueError('CLIENT_COUNT', comp.computationName, 'the number of clients is unknown: pass a {T}@CLIENTS argument or localContext({ numClients })');
        }
        return clients;
      },
      numAggregators: na,
      aggregation,
      nextId: () => `agg/${++counter}`,
    };
    const fn = await evaluate(comp.ir, EMPTY_SCOPE, env);
    if (fn.kind !== 'function') throw new TypeError('computation IR is not a function');
    return toJs(await fn.apply(arg));
  }

  return Object.freeze({
    name: 'local',
    aggregation,
    numAggregators: na,
    invoke,
    async close() {
      await aggregation.close?.();
    },
  });
}
