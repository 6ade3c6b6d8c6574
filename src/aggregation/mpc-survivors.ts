/**
 * mpcRoles' dropout tolerance at one party of a plan (dropout.ts has the
 * protocol; this is how the MPC program uses it):
 *
 *   collectors   the aggregators that receive the clients' parts (ABY3: all
 *                three; Pond and ABY3's fused path: server0 and server1);
 *                each stops at its `collectMs`, and they agree on the set of
 *                complete contributions before anything is opened;
 *   told         the other aggregators learn the survivors right after the
 *                agreement (they take part in what follows: Pond's dealer, a
 *                division by their number); SERVER only once each
 *                collector's release gate holds, so it learns nothing of a
 *                round a gate refuses.
 *
 * `gate()` is what an aggregator awaits before its first opening (the
 * survivors agreed, then its party's release gate with them); `finish(r)`
 * is the receiving party's result: an unweighted mean whose 1/n the owners
 * folded in rescaled to the survivors, and the contributors named.
 * Without dropout tolerance `gate()` is the party's release gate alone and
 * `finish` the identity.
 */
import type { AddNCollection } from '../encrypted/protocols/base.js';
import { agreeOnContributors, checkSurvivors, collectionWindow, contributorsField, informSurvivors, learnSurvivors, survivorsOfSums } from './dropout.js';
import type { AggregationPlan } from './plan.js';
import type { AggregationResult } from './protocol.js';
import type { PartyContext } from './roles.js';

export interface MpcSurvivors {
  /** An encryptAddN / aggregateInto collection where this party collects, else undefined. */
  collect(): AddNCollection | undefined;
  /** Note a sum under way (the survivors are taken once every sum is in). */
  track<T>(p: Promise<T>): Promise<T>;
  /** The clients the sums hold (undefined: no dropout tolerance, or a party that is not told). */
  survivors(): Promise<number[] | undefined>;
  /** Await before an aggregator's first opening (once). */
  gate(): Promise<void>;
  /** Whether `gate` does anything at this party (a release gate, or dropout tolerance). */
  readonly gated: boolean;
  /** The receiving party's result over the survivors. */
  finish(r: AggregationResult | undefined, meanScaledByOwners: boolean): Promise<AggregationResult | undefined>;
  /** Stop the collection deadline's timer. */
  close(): void;
}

export function mpcSurvivors(ctx: PartyContext, plan: AggregationPlan, dropout: boolean, collectors: readonly string[], participants: readonly string[]): MpcSurvivors {
  const informedAggs = dropout ? participants.filter((a) => !collectors.includes(a)) : [];
  const informedServer = dropout && plan.target === 'SERVER' ? [plan.server] : [];
  const informed = [...informedAggs, ...informedServer];
  const window = dropout && collectors.includes(ctx.me) ? collectionWindow(ctx) : undefined;
  const sets: Set<number>[] = [];
  const sums: Promise<unknown>[] = [];
  let survivorsP: Promise<number[] | undefined> | undefined;
  const survivors = (): Promise<number[] | undefined> =>
    (survivorsP ??= (async () => {
      if (!dropout) return undefined;
      if (window !== undefined) {
        await Promise.all(sums);
        window.clear();
        const got = survivorsOfSums(ctx, plan, sets);
        await agreeOnContributors(ctx, plan, collectors, informedAggs, got);
        return got;
      }
      if (!informed.includes(ctx.me)) return undefined;
      const got = await learnSurvivors(ctx, plan, collectors);
      checkSurvivors(ctx, plan, got);
      return got;
    })());
  const names = (got: number[] | undefined): readonly string[] | undefined => (got === undefined || got.length === plan.clients.length ? undefined : got.map((i) => plan.clients[i]!));
  const gatedHere = ctx.releaseGate !== undefined || dropout;
  let passed = !gatedHere;
  return {
    gated: gatedHere,
    collect() {
      if (window === undefined) return undefined;
      const set = new Set<number>();
      sets.push(set);
      return { until: window.until, applied: (i) => void set.add(i) };
    },
    track<T>(p: Promise<T>): Promise<T> {
      sums.push(p);
      return p;
    },
    survivors,
    async gate() {
      if (passed) return;
      const got = await survivors();
      await ctx.releaseGate?.(names(got));
      if (window !== undefined && got !== undefined) await informSurvivors(ctx, plan, informedServer, got);
      passed = true;
    },
    async finish(r, meanScaledByOwners) {
      const got = await survivors();
      if (r === undefined || got === undefined || got.length === plan.clients.length) return r;
      if (meanScaledByOwners) {
        const f = plan.clients.length / got.length;
        for (const v of r.leaves) if (v instanceof Float64Array || v instanceof Float32Array) for (let i = 0; i < v.length; i++) v[i]! *= f;
      }
      return { ...r, ...contributorsField(plan, got) };
    },
    close() {
      window?.clear();
    },
  };
}
