/**
 * Placements: where a federated value lives. Three frozen singletons.
 *
 * - SERVER: one party (the coordinator); values there are all-equal by default.
 * - CLIENTS: the data owners; values there differ per client by default.
 * - AGGREGATORS: one or several parties that carry out aggregations (per the
 *   TFF AGGREGATORS placement RFC); values there are all-equal by default
 *   (every aggregator agrees on the aggregate).
 */
export type PlacementName = 'CLIENTS' | 'SERVER' | 'AGGREGATORS';

export class Placement {
  readonly name: PlacementName;
  /** TFF's placement uri ('clients', 'server', 'aggregators'). */
  readonly uri: string;
  /** Whether a FederatedType at this placement is all-equal when not said. */
  readonly defaultAllEqual: boolean;
  constructor(name: PlacementName, uri: string, defaultAllEqual: boolean) {
    this.name = name;
    this.uri = uri;
    this.defaultAllEqual = defaultAllEqual;
  }
  toString(): string {
    return this.name;
  }
  toJSON(): string {
    return this.name;
  }
}

export const CLIENTS: Placement = Object.freeze(new Placement('CLIENTS', 'clients', false));
export const SERVER: Placement = Object.freeze(new Placement('SERVER', 'server', true));
export const AGGREGATORS: Placement = Object.freeze(new Placement('AGGREGATORS', 'aggregators', true));

export const PLACEMENTS: readonly Placement[] = Object.freeze([CLIENTS, SERVER, AGGREGATORS]);

export function isPlacement(x: unknown): x is Placement {
  return x === CLIENTS || x === SERVER || x === AGGREGATORS;
}

export function placementByName(name: string): Placement | undefined {
  return PLACEMENTS.find((p) => p.name === name);
}
