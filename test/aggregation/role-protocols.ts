/**
 * The protocols the cross-process role tests run (roles-processes.test.ts and
 * its child role-party.ts): adding one to the suite is one entry here.
 */
import type { AggregationPlan } from '../../src/aggregation/plan.js';
import type { AggregationResult } from '../../src/aggregation/protocol.js';
import type { AggregationRoles } from '../../src/aggregation/roles.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { paillierRoles } from '../../src/aggregation/paillier-roles.js';
import type { Identity } from '../../src/crypto/identity.js';

/** What a process knows of the deployment when it builds its role sets. */
export interface PartyEnv {
  /** The X25519 identities of the parties it runs (a child: its own; the simulation: all). */
  readonly identities: ReadonlyMap<string, Identity>;
  /** Every party's pinned X25519 public key (config.json). */
  readonly pinnedKeys: ReadonlyMap<string, Uint8Array>;
}

export interface RoleProtocol {
  /** `AggregationRoles.name` (plans name it; a child is told the names it runs). */
  readonly name: string;
  /** A role set, as each process (or the simulation) builds it. */
  readonly make: (env: PartyEnv) => AggregationRoles;
  /**
   * The SERVER party routes each client's box, sealed to the aggregator, unchanged (Paillier);
   * otherwise it receives from aggregator parties only.
   */
  readonly serverRelays?: boolean;
}

export const ROLE_PROTOCOLS: readonly RoleProtocol[] = [
  { name: 'insecure-reference', make: () => referenceRoles() },
  { name: 'mpc-aby3', make: () => mpcRoles({ protocol: 'aby3' }) },
  { name: 'mpc-pond', make: () => mpcRoles({ protocol: 'pond' }) },
  // 512-bit keys: a test size; each party runs its own X25519 identity and pins every player's key from config.json
  { name: 'paillier', make: (env) => paillierRoles({ maxClients: 8, keyBits: 512, workers: false, identities: env.identities, pinnedKeys: env.pinnedKeys }), serverRelays: true },
];

export function protocolByName(name: string): RoleProtocol {
  const p = ROLE_PROTOCOLS.find((x) => x.name === name);
  if (p === undefined) throw new RangeError(`unknown protocol '${name}' (known: ${ROLE_PROTOCOLS.map((x) => x.name).join(', ')})`);
  return p;
}

/** What `watched` reports: each aggregator role's aggregate, each server role as it runs. */
export interface RoleWatch {
  aggregator?: (plan: AggregationPlan, result: AggregationResult | undefined) => void;
  server?: (plan: AggregationPlan, running: Promise<AggregationResult | undefined>) => void;
}

/** `roles`, reporting to `watch` (the role code is `roles`' own; role sets are frozen, so this is a new one). */
export function watched(roles: AggregationRoles, watch: RoleWatch): AggregationRoles {
  return Object.freeze({
    name: roles.name,
    secure: roles.secure,
    intrinsics: roles.intrinsics,
    aggregatorCount: roles.aggregatorCount,
    aggregatorNames: roles.aggregatorNames,
    params: roles.params,
    client: (...a: Parameters<AggregationRoles['client']>) => roles.client(...a),
    async aggregator(...a: Parameters<AggregationRoles['aggregator']>) {
      const r = await roles.aggregator(...a);
      watch.aggregator?.(a[1], r);
      return r;
    },
    server(...a: Parameters<AggregationRoles['server']>) {
      const running = roles.server(...a);
      watch.server?.(a[1], running);
      return running;
    },
  });
}
