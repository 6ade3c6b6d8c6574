/**
 * `Variable`: a value (model state) held under one protocol. Passed to a
 * computation as an argument it is read like a tensor, and `ops.assign(v, x)`
 * gives it a new value when the run ends; the new value must have the
 * variable's type (same shape, dtype and placement, sensitivity no wider).
 */
import { describe, fmtShape, ProtocolMismatchError } from '../errors.js';
import type { FloatInput } from '../fixed.js';
import type { Player } from '../player.js';
import { Protocol, type EncryptOptions } from '../protocols/base.js';
import { ProtocolTensor } from '../tensor.js';
import { SignatureError } from './errors.js';
import { checkSubtype, TensorSpec, type TensorType } from './types.js';

const typeOfTensor = (x: ProtocolTensor): TensorType => ({ kind: 'encrypted', shape: x.shape, dtype: x.encoding, placement: x.placement, sensitivity: x.sensitivity });

export class Variable<T extends ProtocolTensor = ProtocolTensor> {
  readonly protocol: Protocol<T>;
  #value: T;

  constructor(protocol: Protocol<T>, initial: T) {
    if (!(protocol instanceof Protocol)) throw new TypeError(`Variable: argument 'protocol' must be a Protocol, got ${describe(protocol)}`);
    if (!(initial instanceof ProtocolTensor)) throw new TypeError(`Variable: argument 'initial' must be a tensor of the protocol (encrypt a value first, or use Variable.encrypt), got ${describe(initial)}`);
    if (initial.protocol !== protocol) throw new ProtocolMismatchError(`Variable: argument 'initial' belongs to protocol '${initial.protocol.id}', not '${protocol.id}'`);
    this.protocol = protocol;
    this.#value = initial;
  }

  /** The seed's `tfe.Variable(w_remote)` (an implicit encrypt): secret-share `owner`'s value and hold it. */
  static async encrypt<T extends ProtocolTensor>(protocol: Protocol<T>, owner: Player, value: FloatInput | undefined, options: EncryptOptions = {}): Promise<Variable<T>> {
    if (!(protocol instanceof Protocol)) throw new TypeError(`Variable.encrypt: argument 'protocol' must be a Protocol, got ${describe(protocol)}`);
    return new Variable(protocol, await protocol.encrypt(owner, value, options));
  }

  get value(): T {
    return this.#value;
  }

  get type(): TensorType {
    return typeOfTensor(this.#value);
  }

  /** Replace the value; it must have the variable's type (SignatureError otherwise). */
  assign(x: T): void {
    if (!(x instanceof ProtocolTensor)) throw new TypeError(`Variable.assign: argument 'x' must be a tensor of the protocol, got ${describe(x)}`);
    if (x.protocol !== this.protocol) throw new ProtocolMismatchError(`Variable.assign: argument 'x' belongs to protocol '${x.protocol.id}', not '${this.protocol.id}'`);
    const t = typeOfTensor(x);
    checkSubtype("Variable.assign: argument 'x'", t, TensorSpec.of(this.type), undefined);
    if (fmtShape(t.shape) !== fmtShape(this.#value.shape)) throw new SignatureError(`Variable.assign: argument 'x' has shape ${fmtShape(t.shape)}, the variable ${fmtShape(this.#value.shape)}`);
    this.#value = x;
  }
}
