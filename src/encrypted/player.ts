/** Named parties of a computation (`new Player('server0')`). */
import { describe } from './errors.js';

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export class Player {
  readonly name: string;

  constructor(name: string) {
    if (typeof name !== 'string') throw new TypeError(`Player: argument 'name' must be a string, got ${describe(name)}`);
    if (!NAME.test(name)) {
      throw new RangeError(`Player: argument 'name' must match ${NAME} (letter first, then up to 63 of letters, digits, '_', '.', '-'), got ${JSON.stringify(name)}`);
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
