/**
 * The protocols the cross-process role tests run (roles-processes.test.ts and
 * its child role-party.ts): adding one to the suite is one entry here.
 */
import type { AggregationRoles } from '../../src/aggregation/roles.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';

export interface RoleProtocol {
  /** `AggregationRoles.name` (plans name it; a child is told the names it runs). */
  readonly name: string;
  /** A fresh role set, as every party (each process) builds it. */
  readonly make: () => AggregationRoles;
}

export const ROLE_PROTOCOLS: readonly RoleProtocol[] = [
  { name: 'insecure-reference', make: referenceRoles },
  { name: 'mpc-aby3', make: () => mpcRoles({ protocol: 'aby3' }) },
  { name: 'mpc-pond', make: () => mpcRoles({ protocol: 'pond' }) },
];

export function protocolByName(name: string): RoleProtocol {
  const p = ROLE_PROTOCOLS.find((x) => x.name === name);
  if (p === undefined) throw new RangeError(`unknown protocol '${name}' (known: ${ROLE_PROTOCOLS.map((x) => x.name).join(', ')})`);
  return p;
}
