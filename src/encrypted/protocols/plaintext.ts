/**
 * Plaintext: the insecure reference protocol. Inputs are sent in the clear to
 * one evaluator player, which computes on fixed-point ring values exactly as
 * the secure protocols do (deterministic truncation: arithmetic shift), and
 * sends results to the reveal target. Use it as the semantics and the
 * performance baseline, never for secrets.
 */
import * as ring from '../../ring/index.js';
import type { RingTensor } from '../../ring/index.js';
import { checkPlayer, Player } from '../player.js';
import { PlaintextTensor, type Encoding, type ProtocolTensor, type Sensitivity } from '../tensor.js';
import { checkOptions, Protocol, type Parts, type ProtocolOptions } from './base.js';

export interface PlaintextOptions extends ProtocolOptions {
  /** The player that holds values and computes; default `new Player('evaluator')`. */
  evaluator?: Player;
}

export class Plaintext extends Protocol<PlaintextTensor> {
  readonly kind = 'plaintext';
  readonly evaluator: Player;

  constructor(options?: PlaintextOptions) {
    const opts = checkOptions('Plaintext', options) as PlaintextOptions;
    super('plaintext', 'Plaintext', opts);
    if ((opts as { comparisonBits?: unknown }).comparisonBits !== undefined) throw new RangeError(`Plaintext: option 'comparisonBits' is ABY3's (Plaintext compares the values themselves)`);
    this.evaluator = opts.evaluator === undefined ? new Player('evaluator') : checkPlayer('Plaintext', 'options.evaluator', opts.evaluator);
    this.register(this.evaluator);
  }

  get players(): readonly Player[] { return [this.evaluator]; }
  protected get partHolders(): readonly Player[] { return [this.evaluator]; }
  protected get constantSlots(): readonly number[] { return [0]; }

  protected makeTensor(parts: Parts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): PlaintextTensor {
    return new PlaintextTensor(this, [this.evaluator], parts, shape, encoding, sensitivity);
  }

  protected ownsTensor(x: ProtocolTensor): x is PlaintextTensor {
    return x instanceof PlaintextTensor;
  }

  protected async setup(): Promise<void> {}

  protected async shareRing(owner: Player, value: RingTensor | undefined, shape: readonly number[], key: string): Promise<Parts> {
    return [await this.move(owner, this.evaluator, `${key}/input`, value, shape)];
  }

  #trunc(p: RingTensor, shift = this.fixed.frac, own = false): RingTensor {
    return own ? ring.shrArithInPlace(p, shift) : ring.shrArith(p, shift);
  }

  protected async mulParts(x: Parts, y: Parts, _shape: readonly number[], _key: string, trunc: boolean): Promise<Parts> {
    if (x[0] === undefined || y[0] === undefined) return [undefined];
    const z = ring.mul(x[0], y[0]);
    return [trunc ? this.#trunc(z, this.fixed.frac, true) : z];
  }

  protected async matmulParts(x: Parts, y: Parts, _sx: readonly number[], _sy: readonly number[], _key: string, trunc: boolean): Promise<Parts> {
    if (x[0] === undefined || y[0] === undefined) return [undefined];
    const z = ring.matmul(x[0], y[0]);
    return [trunc ? this.#trunc(z, this.fixed.frac, true) : z];
  }

  protected async truncParts(x: Parts, _shape: readonly number[], _key: string, shift?: number): Promise<Parts> {
    return [x[0] === undefined ? undefined : this.#trunc(x[0], shift)];
  }

  protected revealParts(x: Parts, shape: readonly number[], to: Player, key: string): Promise<RingTensor | undefined> {
    return this.move(this.evaluator, to, `${key}/reveal`, x[0], shape);
  }
}
