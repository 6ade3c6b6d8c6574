/** Named parties of a computation (`new Player('server0')`). */
import { describe } from './errors.js';

// the names of the aggregation plans (roles.ts / plan.ts): a config player name, or a client it hosts (`owner0:3`)
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export class Player {
  readonly name: string;

  constructor(name: string) {
    if (typeof name !== 'string') throw new TypeError(`Player: argument 'name' must be a string, got ${describe(name)}`);
    if (!NAME.test(name)) {
      throw new RangeError(`Player: argument 'name' must match ${NAME} (a letter or digit first, then up to 127 of letters, digits, '_', '.', ':', '-'), got ${JSON.stringify(name)}`);
    }
    this.name = name;
  }

  equals(other: Player): boolean {
    return other instanceof Player && other.name === this.name;
  }

  toString(): string {
    return `Player(${this.name})`;
  }

  toJSON(): string {
    return this.name;
  }
}

/** Validate a player argument: TypeError if it is not a Player. */
export function checkPlayer(fn: string, arg: string, p: unknown): Player {
  if (!(p instanceof Player)) throw new TypeError(`${fn}: argument '${arg}' must be a Player, got ${describe(p)}`);
  return p;
}
