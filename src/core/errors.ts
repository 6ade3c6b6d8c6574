/**
 * Error classes of the Federated Core.
 *
 * - `FedTypeError` (a `TypeError`): type and placement errors, raised while a
 *   computation is BUILT (traced), naming the intrinsic, the argument, and the
 *   expected and actual types.
 * - `FedArgumentError` (a `TypeError`): a computation was CALLED with the wrong
 *   number of arguments or with a value that does not have the declared form.
 * - `FedValueError` (a `RangeError`): a value has the right form but is out of
 *   range at run time (client value outside [0, 2^bitwidth), NaN in a mean,
 *   sum not representable in the result dtype, wrong number of client values).
 * - `FedSerializationError` (an `Error`): a serialized computation is not valid
 *   (unknown node kind, wrong type, wrong version, bad JSON).
 * - `PolicyError` (an `Error`): a party refused, by a policy it holds locally,
 *   to take part in something (a job, an aggregation, a reveal), naming the
 *   rule broken. Every layer that enforces a party's policy throws it (the
 *   deploy layer's job checks, the Paillier aggregator's minimum of
 *   contributors, the learning layer's plaintext opt-in).
 */

/** A contribution a party left out before applying a rule, and why. */
export interface RejectedContribution {
  readonly client: number;
  /** Error class and message, e.g. "ChannelAuthError: ...". */
  readonly reason: string;
}

export interface PolicyErrorDetails {
  /** The party that refused (e.g. 'owner0', 'aggregator'), when known. */
  readonly party?: string;
  /** What the rule counted (e.g. valid contributions). */
  readonly count?: number;
  /** The rule's minimum. */
  readonly minimum?: number;
  /** Contributions left out before the rule was applied. */
  readonly rejected?: readonly RejectedContribution[];
}

export class PolicyError extends Error {
  override name = 'PolicyError';
  readonly code = 'POLICY_REFUSED';
  /** The rule broken, e.g. 'minContributors', 'protocol', 'roster'. */
  readonly rule: string;
  /** The party that refused, when known. */
  readonly party: string | undefined;
  readonly count: number | undefined;
  readonly minimum: number | undefined;
  readonly rejected: readonly RejectedContribution[];
  constructor(rule: string, message: string, details: PolicyErrorDetails = {}) {
    const rejected = details.rejected ?? [];
    const why = rejected.length === 0 ? '' : `; rejected: ${rejected.map((r) => `client ${r.client} (${r.reason})`).join(', ')}`;
    super(`${details.party !== undefined ? `${details.party}: ` : ''}policy "${rule}" refuses: ${message}${why}`);
    this.rule = rule;
    this.party = details.party;
    this.count = details.count;
    this.minimum = details.minimum;
    this.rejected = rejected;
  }
}

export interface FedTypeErrorDetails {
  /** The intrinsic (e.g. 'federatedSum') or API function being built. */
  intrinsic: string;
  /** The argument (e.g. 'value', 'bitwidth', 'arg[0]'). */
  argument: string;
  /** What was expected (a type in TFF notation, or a description). */
  expected: string;
  /** What was given. */
  actual: string;
  /** Optional extra explanation appended to the message. */
  hint?: string;
}

export class FedTypeError extends TypeError {
  readonly intrinsic: string;
  readonly argument: string;
  readonly expected: string;
  readonly actual: string;
  constructor(d: FedTypeErrorDetails) {
    super(
      `${d.intrinsic}: argument '${d.argument}' expected ${d.expected}, got ${d.actual}` +
        (d.hint ? ` (${d.hint})` : ''),
    );
    this.name = 'FedTypeError';
    this.intrinsic = d.intrinsic;
    this.argument = d.argument;
    this.expected = d.expected;
    this.actual = d.actual;
  }
}

export type FedArgumentCode = 'ARG_COUNT' | 'VALUE_FORM' | 'DTYPE' | 'SHAPE' | 'NO_CONTEXT';

export class FedArgumentError extends TypeError {
  readonly code: FedArgumentCode;
  /** Where in the argument the problem is, e.g. 'arg[0][client 3].a'. */
  readonly path: string;
  constructor(code: FedArgumentCode, path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'FedArgumentError';
    this.code = code;
    this.path = path;
  }
}

export type FedValueCode =
  | 'OUT_OF_RANGE'
  | 'NAN'
  | 'OVERFLOW'
  | 'CLIENT_COUNT'
  | 'EMPTY'
  | 'BAD_WEIGHTS'
  | 'BAD_OPTION'
  | 'PROTOCOL_RESULT';

export class FedValueError extends RangeError {
  readonly code: FedValueCode;
  readonly path: string;
  constructor(code: FedValueCode, path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'FedValueError';
    this.code = code;
    this.path = path;
  }
}

export type FedSerializationCode =
  | 'JSON'
  | 'FORMAT'
  | 'VERSION'
  | 'NODE_KIND'
  | 'TYPE'
  | 'FIELD'
  | 'SCOPE'
  | 'INTRINSIC'
  | 'LOCAL'
  | 'CLOSURE';

export class FedSerializationError extends Error {
  readonly code: FedSerializationCode;
  /** JSON path of the offending node, e.g. '$.ir.body.result'. */
  readonly path: string;
  constructor(code: FedSerializationCode, path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'FedSerializationError';
    this.code = code;
    this.path = path;
  }
}
