/**
 * Running a protocol's roles in one process, and binding them to the core.
 *
 * `simulateRoles` runs every party's role concurrently, each on its own
 * transport view of a fresh MemoryHub: client i gets only its own input, and
 * every value moves between parties as bytes, as it would across processes.
 * `rolesAsProtocol` makes an `AggregationProtocol` of a role set (what
 * `localContext({ aggregation })` takes): the runtime's request becomes a
 * plan, each client's values its own input, and the simulation's aggregate
 * the result. There is no other code path of a protocol: deployed, the same
 * role functions run in separate processes.
 */
import { MemoryHub, MemoryTransport } from '../transport/memory.js';
import type { ReceiveOptions, Transport } from '../transport/channel.js';
import { checkPlan, type AggregationPlan } from './plan.js';
import type { AggregationProtocol, AggregationRequest, AggregationResult } from './protocol.js';
import type { AggregationRoles, ClientInput, PartyContext, RolePolicy } from './roles.js';

/** A message as the receiving party got it. */
export interface ReceivedMessage {
  readonly to: string;
  readonly from: string;
  readonly key: string;
  readonly payload: Uint8Array;
}

export interface SimulationOptions {
  /** Each party's policy (default: `policy` for every party). */
  policyOf?: (party: string) => RolePolicy;
  policy?: RolePolicy;
  /** Sees every message each party receives (tests: what each party holds). */
  observe?: (m: ReceivedMessage) => void;
  /** Deadline of every receive, ms (default 10 minutes). */
  timeoutMs?: number;
  /** Dropout tolerance of the collecting parties (`PartyContext.collectMs`). */
  collectMs?: number;
  /** Clients whose role does not run (they dropped out before sending anything); their inputs are ignored. */
  absent?: readonly string[];
  /** Each party's transport as its role sees it (tests: a client that dies half-way through its sends). */
  transportOf?: (party: string, transport: Transport) => Transport;
}

export interface SimulationResult {
  /** The aggregate, as the target received it (SERVER, or aggregator 0). */
  readonly result: AggregationResult;
  /** Target AGGREGATORS: what each aggregator party received. */
  readonly atAggregators?: readonly AggregationResult[];
  /** Bytes each party sent. */
  readonly bytesSent: Readonly<Record<string, number>>;
}

/** A transport that reports what its party receives. */
function observed(t: Transport, observe: (m: ReceivedMessage) => void): Transport {
  return new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'receive') {
        return async (to: string, from: string, key: string, o?: ReceiveOptions) => {
          const payload = await target.receive(to, from, key, o);
          observe({ to, from, key, payload });
          return payload;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const DEFAULT_POLICY: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: false });

/**
 * Run every role of `plan` in this process (one MemoryHub, one transport view
 * per party). `inputs[i]` is client i's own input. The first failure of any
 * party fails the run with that party's error (the hub is closed, so no party
 * waits on one that failed).
 */
export async function simulateRoles(roles: AggregationRoles, plan: AggregationPlan, inputs: readonly ClientInput[], options: SimulationOptions = {}): Promise<SimulationResult> {
  plan = checkPlan(plan);
  if (!Array.isArray(inputs) || inputs.length !== plan.clients.length) {
    throw new RangeError(`simulateRoles: ${Array.isArray(inputs) ? inputs.length : typeof inputs} inputs for ${plan.clients.length} clients`);
  }
  const hub = new MemoryHub();
  const policyOf = options.policyOf ?? (() => options.policy ?? DEFAULT_POLICY);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const absent = new Set(options.absent ?? []);
  for (const a of absent) if (!plan.clients.includes(a)) throw new RangeError(`simulateRoles: "absent" names '${a}', not a client of the plan`);
  const ctx = (me: string): PartyContext => {
    let t: Transport = new MemoryTransport({ hub, local: [me] });
    if (options.observe) t = observed(t, options.observe);
    if (options.transportOf) t = options.transportOf(me, t);
    return { me, transport: t, policy: policyOf(me), timeoutMs, ...(options.collectMs === undefined ? {} : { collectMs: options.collectMs }) };
  };
  let failure: { error: unknown } | undefined;
  const guard = <T>(p: Promise<T>): Promise<T | undefined> =>
    p.catch((error: unknown) => {
      // the first failure is the cause; closing the hub makes every waiting party fail after it
      if (failure === undefined) {
        failure = { error };
        hub.close();
      }
      return undefined;
    });
  const server = guard(roles.server(ctx(plan.server), plan));
  const aggregators = plan.aggregators.map((a, i) => guard(roles.aggregator(ctx(a), plan, i)));
  // with dropout tolerance a client that fails has dropped out: the others go on without it
  const clients = plan.clients.map((c, i) => (absent.has(c) ? undefined : options.collectMs === undefined ? guard(roles.client(ctx(c), plan, inputs[i]!)) : roles.client(ctx(c), plan, inputs[i]!).catch(() => undefined)));
  const [atServer, atAggs] = await Promise.all([server, Promise.all(aggregators), Promise.all(clients)]);
  if (failure !== undefined) throw failure.error;
  const bytesSent: Record<string, number> = {};
  for (const [p, s] of Object.entries(hub.stats())) if (s.bytesSent > 0) bytesSent[p] = s.bytesSent;
  hub.close();
  if (plan.target === 'SERVER') {
    if (atServer === undefined) throw new Error(`simulateRoles: ${roles.name}'s server role returned no aggregate for target SERVER`);
    return { result: atServer, bytesSent };
  }
  if (atAggs.some((r) => r === undefined)) throw new Error(`simulateRoles: an aggregator role of ${roles.name} returned no aggregate for target AGGREGATORS`);
  return { result: atAggs[0]!, atAggregators: atAggs as AggregationResult[], bytesSent };
}

export interface RolesAsProtocolOptions {
  /** Minimum contributors every simulated party requires (default: 1). */
  minContributors?: number;
  /** Every simulated party allows a protocol that is not secure (the insecure reference sets it; it warns). */
  allowInsecure?: boolean;
  /** Names of the simulated parties (default 'server' and 'client-<i>'). */
  serverName?: string;
  clientName?: (i: number) => string;
  /** Receive deadline, ms. */
  timeoutMs?: number;
  /** Sees every message each party receives. */
  observe?: (m: ReceivedMessage) => void;
}

/** The plan of a runtime request for `roles` (the simulation's party names). */
export function planForRequest(roles: AggregationRoles, req: AggregationRequest, names: { server: string; client: (i: number) => string }): AggregationPlan {
  const target = req.target.name === 'AGGREGATORS' ? 'AGGREGATORS' : 'SERVER';
  return checkPlan({
    protocol: roles.name,
    invocationId: req.invocationId,
    uri: req.uri,
    target,
    leaves: req.leaves,
    ...(req.uri === 'federated_secure_sum' || req.uri === 'federated_secure_sum_at_aggregators' ? { bound: req.bound! } : {}),
    clients: Array.from({ length: req.numClients }, (_, i) => names.client(i)),
    aggregators: roles.aggregatorNames,
    server: names.server,
    params: roles.params,
  });
}

/** An AggregationProtocol that runs `roles` in this process (simulateRoles) for every request. */
export function rolesAsProtocol(roles: AggregationRoles, options: RolesAsProtocolOptions = {}): AggregationProtocol & { lastBytesSent?: Readonly<Record<string, number>> } {
  const names = { server: options.serverName ?? 'server', client: options.clientName ?? ((i: number) => `client-${i}`) };
  const policy: RolePolicy = Object.freeze({ minContributors: options.minContributors ?? 1, allowInsecure: options.allowInsecure ?? false });
  const self = {
    name: roles.name,
    secure: roles.secure,
    intrinsics: roles.intrinsics,
    lastBytesSent: undefined as Readonly<Record<string, number>> | undefined,
    async aggregate(req: AggregationRequest): Promise<AggregationResult> {
      const plan = planForRequest(roles, req, names);
      const inputs: ClientInput[] = req.clientValues.map((values, i) => (req.weights ? { values, weight: req.weights[i]! } : { values }));
      const r = await simulateRoles(roles, plan, inputs, { policy, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}), ...(options.observe ? { observe: options.observe } : {}) });
      self.lastBytesSent = r.bytesSent;
      return r.result;
    },
    async close(): Promise<void> {
      await roles.close?.();
    },
  };
  return self;
}
