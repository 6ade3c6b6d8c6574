/**
 * `localComputation(player, fn)`: ordinary code run in the clear on one
 * player (the seed's LocalComputation: "lifts" plain results into tensor
 * types). `fn` gets the arguments' plain values ({ values, shape }) and
 * returns Float64Arrays / number arrays / { values, shape }; the results are
 * PrivateTensors of `player`. It runs only where `player` executes (per the
 * transport); elsewhere the results are placeholders of the declared shapes.
 * Independent of any protocol context. It holds code, so it is not
 * serializable (SerializationError).
 */
import type { Transport } from '../../transport/channel.js';
import { getDefaultTransport } from '../../transport/memory.js';
import { describe, fmtShape, ShapeMismatchError } from '../errors.js';
import { checkPlayer, type Player } from '../player.js';
import { PrivateTensor, PublicTensor } from '../tensor.js';
import { PlacementError, SerializationError } from './errors.js';
import type { Plain } from './plain.js';

export interface LocalOptions {
  /** The shape of each result (every process must know them). */
  outputShapes: readonly (readonly number[])[];
  /** Which players execute here; default the process-wide MemoryTransport. */
  transport?: Transport;
  name?: string;
}

export type LocalResult = Float64Array | readonly number[] | Plain;

export class LocalComputation {
  readonly player: Player;
  readonly name: string;
  readonly outputShapes: readonly (readonly number[])[];
  readonly #fn: (...xs: Plain[]) => LocalResult | LocalResult[];
  readonly #transport: Transport;

  constructor(player: Player, fn: (...xs: Plain[]) => LocalResult | LocalResult[], options: LocalOptions) {
    checkPlayer('localComputation', 'player', player);
    if (typeof fn !== 'function') throw new TypeError(`localComputation: argument 'fn' must be a function, got ${describe(fn)}`);
    if (options === null || typeof options !== 'object' || !Array.isArray(options.outputShapes)) throw new TypeError(`localComputation: option 'outputShapes' must be an array of shapes, got ${describe(options?.outputShapes)}`);
    this.player = player;
    this.name = options.name ?? (fn.name || 'localComputation');
    this.outputShapes = options.outputShapes.map((s) => Object.freeze([...s]));
    this.#fn = fn;
    this.#transport = options.transport ?? getDefaultTransport();
  }

  /** Run (a Promise, as every computation's call). One result: a PrivateTensor; several: an array. */
  async run(...args: (PublicTensor | PrivateTensor)[]): Promise<PrivateTensor | PrivateTensor[]> {
    const here = this.#transport.isLocal(this.player.name);
    const plains = args.map((a, i): Plain | undefined => {
      if (a instanceof PublicTensor) return { values: a.values, shape: a.shape };
      if (a instanceof PrivateTensor) {
        if (a.owner.name !== this.player.name) throw new PlacementError(`${this.name}: argument ${i} is private to '${a.owner.name}'; the local computation of '${this.player.name}' takes its own values and public ones`);
        return here ? { values: a.read(), shape: a.shape } : undefined;
      }
      throw new PlacementError(`${this.name}: argument ${i} must be a PublicTensor or a PrivateTensor of '${this.player.name}', got ${describe(a)}`);
    });
    const single = this.outputShapes.length === 1;
    if (!here) {
      const outs = this.outputShapes.map((s) => new PrivateTensor(this.player, s));
      return single ? outs[0]! : outs;
    }
    const ret = this.#fn(...(plains as Plain[]));
    // one declared result: fn returns it; several: an array of them
    const list = single ? [ret as LocalResult] : (ret as LocalResult[]);
    if (!Array.isArray(list) || list.length !== this.outputShapes.length) throw new TypeError(`${this.name}: the function returned ${Array.isArray(list) ? list.length : describe(list)} result(s), option 'outputShapes' declares ${this.outputShapes.length}`);
    const outs = list.map((r, i) => {
      const shape = this.outputShapes[i]!;
      const values = r instanceof Float64Array ? r : Array.isArray(r) ? Float64Array.from(r as number[]) : Float64Array.from((r as Plain).values);
      const size = shape.reduce((a, b) => a * b, 1);
      if (values.length !== size) throw new ShapeMismatchError(`${this.name}: result ${i} has ${values.length} elements, its declared shape ${fmtShape(shape)} needs ${size}`);
      return new PrivateTensor(this.player, shape, values);
    });
    return single ? outs[0]! : outs;
  }

  toJSON(): never {
    throw new SerializationError(`${this.name}: a local computation holds code and does not serialize; use privateComputation (traced ops) to ship it`);
  }
}

/** The seed's `tfe.local_computation`: ordinary code on `player`'s plain values. */
export function localComputation(player: Player, fn: (...xs: Plain[]) => LocalResult | LocalResult[], options: LocalOptions): LocalComputation {
  return new LocalComputation(player, fn, options);
}
