/**
 * The typed errors of the SecAgg / SecAgg+ roles (docs/secagg.md, "Refusal
 * rules").
 *
 *   SecAggViolationError  a client refuses a message of the server: it sends
 *                         nothing more in this aggregation; `rule` names the
 *                         rule the message broke (the table in the docs);
 *   SecAggAbortError      the server stops: fewer than t clients are left at
 *                         some step (or a secret it must reconstruct has
 *                         fewer than t shares); `round` is the step, and
 *                         `survivors` how many clients were left there.
 *                         Nothing is revealed: the server asks for no share
 *                         after it aborts and outputs no aggregate.
 *   SecAggSharesError     (a SecAggAbortError at round 4) the shares of one
 *                         client's secret are inconsistent: its masking key
 *                         reconstructs to a key whose public key is not the
 *                         one it advertised (`verified`), or its self-mask
 *                         seed's shares do not decode (not `verified`: a
 *                         seed has no commitment, so wrong-but-decodable
 *                         seed shares go undetected). `owner` names that
 *                         client; the server outputs no aggregate.
 */

/** The rules a client refuses a server's message by (docs/secagg.md has the table). */
export const SECAGG_RULES = Object.freeze([
  'malformed', // a message that does not parse (length, type byte, count)
  'unknown-id', // an index that is not a client of the plan
  'repeated-id', // an index listed twice in one list (or the client itself where it is implicit)
  'non-neighbour', // an index that is not a neighbour of the client in the graph
  'alive-and-dead', // an index listed both alive and dead in the unmasking request
  'self-dead', // the client itself listed dead (or left out of the advertised keys)
  'too-few-alive', // fewer than t clients alive (among the client's neighbours and itself)
  'not-nested', // a survivor set that is not a subset of the previous one
  'repeated-round', // an aggregation (invocation id) this client already took part in
  'ciphertext', // an encrypted share that does not open: tampered, replayed or misrouted
  'duplicate-key', // two advertised public keys that are equal
  'own-keys', // the client's own advertised keys listed with other bytes
  'bad-key', // a public key with no shared secret (a low-order point)
  'both-shares', // a request that would make the client reveal both shares of one peer
  'bad-signature', // malicious-server variant: an advertised key whose signature does not verify
  'inconsistent-survivors', // malicious-server variant: fewer than t signatures of the client's U3, or an unmasking request that departs from it
] as const);
export type SecAggRule = (typeof SECAGG_RULES)[number];

/** A client's refusal of a message (it sends nothing more); `rule` names the broken rule. */
export class SecAggViolationError extends Error {
  override name = 'SecAggViolationError';
  readonly rule: SecAggRule;
  /** The refusing client. */
  readonly party: string;
  constructor(rule: SecAggRule, party: string, message: string) {
    super(`secagg: ${party} refuses (rule "${rule}"): ${message}`);
    this.rule = rule;
    this.party = party;
  }
}

/** The server's abort: fewer than t clients at `round`; nothing is revealed. */
export class SecAggAbortError extends Error {
  override name = 'SecAggAbortError';
  /** The round at which too few were left: 0 advertise, 1 share keys, 2 masked input, 3 consistency, 4 unmasking. */
  readonly round: number;
  /** Clients left at that round. */
  readonly survivors: number;
  /** The threshold. */
  readonly threshold: number;
  constructor(round: number, survivors: number, threshold: number, detail = '') {
    super(`secagg: aborted at round ${round}: ${survivors} client(s) left, fewer than the threshold t = ${threshold}${detail ? ` (${detail})` : ''}; nothing is revealed`);
    this.round = round;
    this.survivors = survivors;
    this.threshold = threshold;
  }
}

/**
 * The server's abort at the unmasking round (rule "inconsistent-shares"): the
 * shares of `owner`'s `secret` do not reconstruct to a valid secret. Either
 * `owner` dealt inconsistent shares in round 1 or a holder revealed wrong ones
 * in round 4; the server cannot tell which from t shares, so it names the
 * owner only. Nothing more is revealed: no mask is removed, no aggregate.
 */
export class SecAggSharesError extends SecAggAbortError {
  override name = 'SecAggSharesError';
  readonly rule = 'inconsistent-shares' as const;
  /** The client whose shares were inconsistent. */
  readonly owner: string;
  /** Which secret. */
  readonly secret: 'masking key' | 'self-mask seed';
  /** true: checked against the advertised masking public key; false: the seed's shares did not decode. */
  readonly verified: boolean;
  constructor(owner: string, secret: 'masking key' | 'self-mask seed', verified: boolean, survivors: number, threshold: number) {
    super(4, survivors, threshold);
    this.owner = owner;
    this.secret = secret;
    this.verified = verified;
    this.message = `secagg: aborted at round 4 (rule "inconsistent-shares"): the shares of ${owner}'s ${secret} are inconsistent (${verified ? 'the reconstructed key is not the one it advertised' : 'they do not decode to a secret'}); nothing is revealed`;
  }
}
