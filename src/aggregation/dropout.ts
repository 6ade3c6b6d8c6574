/**
 * Dropout tolerance of the role sets (roles.ts `PartyContext.collectMs`).
 *
 * A collecting party (an aggregator; Paillier's router at SERVER) takes each
 * client's contribution as it arrives, until every client's is in or its
 * collection deadline passes (`collectContributions`). A client whose
 * contribution is not complete then has dropped out; one that arrives later
 * is ignored (its effect is never applied: `Collection.open` is false by
 * then). Before anything is revealed:
 *
 *   - with several aggregators, each sends the set it collected to every
 *     other and compares (`agreeOnContributors`): they go on only if every
 *     aggregator holds the same set of complete contributions; a sum over
 *     different sets would open as garbage, or let one aggregator's view
 *     decide what the others release;
 *   - every collecting party checks the survivors against its own policy
 *     (`checkSurvivors`: at least `minContributors` distinct contributors);
 *   - the receiving party learns the survivors with the aggregate, and
 *     checks that every aggregator names the same ones.
 *
 * Nothing here trusts the driver: which clients dropped is what each
 * collecting party saw on its own links.
 */
import { PolicyError } from '../core/errors.js';
import type { AggregationPlan } from './plan.js';
import { checkContributors, type PartyContext } from './roles.js';

/** While a collection is open, a client's contribution that completes is applied; after it, ignored. */
export interface Collection {
  /** True until the collection closes (every client in, or the deadline passed). Check it right before applying a contribution. */
  readonly open: boolean;
  /** Mark client i's contribution as applied (call it where it is applied, while open). */
  applied(i: number): void;
}

/** Bitmap of a set of the plan's clients (bit i: plan.clients[i]). */
export function contributorBits(n: number, applied: Iterable<number>): Uint8Array {
  const bits = new Uint8Array(Math.ceil(n / 8));
  for (const i of applied) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

/** The client indices of a bitmap (length checked against the plan). */
export function contributorsFromBits(plan: AggregationPlan, bits: Uint8Array, from: string): number[] {
  const n = plan.clients.length;
  if (!(bits instanceof Uint8Array) || bits.length !== Math.ceil(n / 8)) throw new RangeError(`contributor set from ${from}: expected ${Math.ceil(n / 8)} bytes, got ${bits?.length}`);
  const out: number[] = [];
  for (let i = 0; i < bits.length * 8; i++) {
    if (((bits[i >> 3]! >> (i & 7)) & 1) === 0) continue;
    if (i >= n) throw new RangeError(`contributor set from ${from}: names client ${i} of a plan of ${n}`);
    out.push(i);
  }
  return out;
}

/**
 * Run `each(i, collection)` for every client of the plan and wait until all
 * complete or, with `ctx.collectMs`, until that deadline (counted from this
 * call). Without `collectMs`, any client's failure fails the collection (as
 * `Promise.all`). With it, a client whose `each` has not called `applied(i)`
 * by the deadline, or failed, has dropped out. Resolves with the indices of
 * the applied clients, in plan order.
 */
export async function collectContributions(ctx: PartyContext, plan: AggregationPlan, each: (i: number, c: Collection) => Promise<void>): Promise<number[]> {
  const n = plan.clients.length;
  const done = new Set<number>();
  let open = true;
  const collection: Collection = {
    get open() {
      return open;
    },
    applied(i: number) {
      if (!open) throw new Error(`collectContributions: internal error: client ${i} applied after the collection closed`);
      done.add(i);
    },
  };
  const runs = Array.from({ length: n }, (_, i) => each(i, collection));
  if (ctx.collectMs === undefined) {
    await Promise.all(runs);
    open = false;
    return [...done].sort((a, b) => a - b);
  }
  const window = collectionWindow(ctx);
  // a failed client is a dropped one (its link closed, its message did not parse): never the collector's failure
  const settled = Promise.all(runs.map((r) => r.catch(() => undefined)));
  try {
    await Promise.race([settled, window.until]);
  } finally {
    window.clear();
    open = false;
  }
  return [...done].sort((a, b) => a - b);
}

/** The survivors of a collection, checked against this party's policy (distinct hosts, no sybils): PolicyError 'minContributors'. */
export function checkSurvivors(ctx: PartyContext, plan: AggregationPlan, survivors: readonly number[]): void {
  if (survivors.length === plan.clients.length) return;
  if (survivors.length === 0) throw new PolicyError('minContributors', 'every client dropped out: no aggregate', { party: ctx.me, count: 0, minimum: ctx.policy.minContributors });
  checkContributors({ ...plan, clients: survivors.map((i) => plan.clients[i]!) }, ctx.policy, ctx.me);
}

/**
 * A collecting party (one of `collectors`): send its set of collected
 * contributions to every other collector and check theirs; throws
 * (PolicyError 'dropout') unless all are equal. Then every party of
 * `informed` that is not a collector is sent the set (`learnSurvivors`).
 */
export async function agreeOnContributors(ctx: PartyContext, plan: AggregationPlan, collectors: readonly string[], informed: readonly string[], survivors: readonly number[]): Promise<void> {
  const others = collectors.filter((c) => c !== ctx.me);
  const mine = contributorBits(plan.clients.length, survivors);
  const key = `${plan.invocationId}/dropout/set`;
  const opts = ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs };
  const [theirs] = await Promise.all([Promise.all(others.map((o) => ctx.transport.receive(ctx.me, o, key, opts))), Promise.all(others.map((o) => ctx.transport.send(ctx.me, o, key, mine)))]);
  theirs.forEach((t, k) => {
    if (t.length !== mine.length || t.some((b, j) => b !== mine[j])) {
      throw new PolicyError('dropout', `aggregator '${others[k]!}' collected a different set of complete contributions than this one: nothing is revealed`, { party: ctx.me });
    }
  });
  checkSurvivors(ctx, plan, survivors);
  await informSurvivors(ctx, plan, informed.filter((p) => !collectors.includes(p)), survivors);
}

/** A collector tells `to` the survivors (`learnSurvivors` there): the other aggregators at once; SERVER only once this party's release gate holds. */
export async function informSurvivors(ctx: PartyContext, plan: AggregationPlan, to: readonly string[], survivors: readonly number[]): Promise<void> {
  const bits = contributorBits(plan.clients.length, survivors);
  await Promise.all(to.map((p) => ctx.transport.send(ctx.me, p, `${plan.invocationId}/dropout/survivors`, bits)));
}

/** A party told the survivors by the collectors: every collector must name the same set. Resolves with it. */
export async function learnSurvivors(ctx: PartyContext, plan: AggregationPlan, collectors: readonly string[]): Promise<number[]> {
  const opts = ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs };
  const sets = await Promise.all(collectors.map((c) => ctx.transport.receive(ctx.me, c, `${plan.invocationId}/dropout/survivors`, opts)));
  const first = contributorsFromBits(plan, sets[0]!, collectors[0]!);
  sets.forEach((s, k) => {
    const these = contributorsFromBits(plan, s, collectors[k]!);
    if (these.length !== first.length || these.some((x, j) => x !== first[j])) {
      throw new PolicyError('dropout', `the aggregators name different contributors ('${collectors[0]!}' and '${collectors[k]!}')`, { party: ctx.me });
    }
  });
  return first;
}

/**
 * A collector's survivors from the sets its sums took them from (one per
 * sum): a client in some but not all has an incomplete contribution here,
 * which cannot be taken out of the sums it is in (PolicyError 'dropout').
 */
export function survivorsOfSums(ctx: PartyContext, plan: AggregationPlan, sets: readonly ReadonlySet<number>[]): number[] {
  const all = new Set<number>();
  for (const s of sets) for (const i of s) all.add(i);
  for (const i of all) {
    if (sets.some((s) => !s.has(i))) throw new PolicyError('dropout', `client '${plan.clients[i]!}' dropped out half-way (part of its contribution arrived here): nothing is revealed`, { party: ctx.me });
  }
  return [...all].sort((a, b) => a - b);
}

/** A deadline for a collection: `until` resolves `ctx.collectMs` from now (never without it); `clear` stops the timer. */
export function collectionWindow(ctx: PartyContext): { until: Promise<void>; clear: () => void } {
  if (ctx.collectMs === undefined) return { until: new Promise<void>(() => undefined), clear: () => undefined };
  let timer: NodeJS.Timeout | undefined;
  const until = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ctx.collectMs);
  });
  return { until, clear: () => clearTimeout(timer) };
}

/** The `contributors` field of a result: the survivors' names when some client dropped out, else nothing. */
export function contributorsField(plan: AggregationPlan, survivors: readonly number[]): { contributors?: readonly string[] } {
  return survivors.length === plan.clients.length ? {} : { contributors: Object.freeze(survivors.map((i) => plan.clients[i]!)) };
}
