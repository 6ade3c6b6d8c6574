/**
 * SecAgg / SecAgg+ roles end to end in simulation (test/aggregation/
 * secagg-harness.ts): the server's aggregate is the plaintext reference
 * over the survivors (random inputs) for dropouts at every round, in any
 * number the graph tolerates; one more than n - t dropped is a typed abort
 * with nothing revealed; an exhaustive sweep at n = 5, t = 3; a seeded
 * property test over mixed schedules; SecAgg+ with a dropped client's
 * neighbours dropping too.
 *
 * Rounds: 0 advertise, 1 share keys, 2 masked input, 3 consistency (the
 * malicious-server variant's; here a client dropping "at 3" is gone before
 * the unmasking round, as at 4), 4 unmasking. A client dropped at 0, 1 or 2
 * is not in the sum; at 3 or 4 it is (its masked input arrived).
 *
 * Tolerance: the complete graph stands any n - t dropouts. On H(n, k) a
 * client's secrets are held by itself and its k neighbours, so adversarial
 * dropouts are stood up to D = k + 1 - t (the same formula, k = n - 1, on the
 * complete graph); beyond, a run gives the exact sum or a typed abort
 * (property test), never anything else.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SecAggAbortError } from '../../src/aggregation/secagg-errors.js';
import { makeRoles, names, referenceOver, revealedShares, rng, runSecAgg, sumInputs, sumPlan, type RunOutcome, type Setting } from './secagg-harness.js';

const ROUNDS = [0, 1, 2, 3, 4];
const inSum = (round: number) => round >= 3;

const SETTINGS: readonly Setting[] = [
  { label: 'complete n=7 t=4', graph: 'complete', n: 7, t: 4, tolerance: 3 },
  { label: 'harary n=10 k=6 t=3', graph: { harary: { k: 6, t: 3 } }, n: 10, t: 3, tolerance: 4 },
];

function rolesOf(s: Setting) {
  return s.graph === 'complete' ? makeRoles('complete', { threshold: s.t }) : makeRoles(s.graph);
}

/** The survivors a schedule leaves (clients not dropped, or dropped at 3 or 4). */
function survivorsOf(n: number, dropAt: ReadonlyMap<string, number>): string[] {
  return names(n).filter((c) => !dropAt.has(c) || inSum(dropAt.get(c)!));
}

function assertExact(o: RunOutcome, plan: ReturnType<typeof sumPlan>, inputs: ReturnType<typeof sumInputs>, what: string): void {
  if (o.error !== undefined) throw new Error(`${what}: ${String(o.error)}`, { cause: o.error });
  const survivors = survivorsOf(plan.clients.length, o.dropAt);
  assert.deepEqual(o.result!.survivors, survivors, `${what}: survivors`);
  assert.deepEqual(o.result!.leaves, referenceOver(plan, inputs, survivors), `${what}: the sum of the survivors`);
  const dropped = [...o.dropAt].map(([id, round]) => ({ id, round: round === 3 ? 4 : round })).sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual([...o.result!.dropped].sort((a, b) => a.id.localeCompare(b.id)), dropped, `${what}: dropped`);
}

describe('secagg: exact sum of the survivors for dropouts at every round', () => {
  for (const s of SETTINGS) {
    const counts = [...new Set([1, Math.floor(s.tolerance / 2), s.tolerance])].filter((d) => d >= 1);
    for (const round of ROUNDS) {
      it(`${s.label}: ${counts.join(' / ')} dropped at round ${round}`, async () => {
        for (const d of counts) {
          const random = rng(1000 * round + d + (s.graph === 'complete' ? 0 : 77));
          const roles = rolesOf(s);
          const plan = sumPlan(roles, s.n, `drop/${round}/${d}`);
          const inputs = sumInputs(plan, random);
          const chosen = names(s.n).sort(() => random() - 0.5).slice(0, d);
          const o = await runSecAgg({ roles, plan, inputs, dropAt: new Map(chosen.map((c) => [c, round])) });
          assertExact(o, plan, inputs, `${d} dropped at round ${round}`);
        }
      });
    }
  }
});

describe('secagg: n - t + 1 dropped is a typed abort, nothing revealed', () => {
  for (const s of SETTINGS) {
    for (const round of ROUNDS) {
      it(`${s.label}: ${s.n - s.t + 1} dropped at round ${round}`, async () => {
        const random = rng(31 * round + s.n);
        const roles = rolesOf(s);
        const plan = sumPlan(roles, s.n, `abort/${round}`);
        const inputs = sumInputs(plan, random);
        const chosen = names(s.n).sort(() => random() - 0.5).slice(0, s.n - s.t + 1);
        const o = await runSecAgg({ roles, plan, inputs, dropAt: new Map(chosen.map((c) => [c, round])) });
        assert.ok(o.error instanceof SecAggAbortError, `expected SecAggAbortError, got ${String(o.error)}`);
        assert.equal(o.error.round, round === 3 ? 4 : round);
        assert.equal(o.error.survivors, s.t - 1);
        assert.equal(o.result, undefined);
        const { seed, key } = revealedShares(o, s.n);
        if (round < 3) assert.equal(seed.size + key.size, 0, 'no share was revealed');
        for (const [owner, from] of [...seed, ...key]) assert.ok(from.size < s.t, `client ${owner}: ${from.size} shares of one kind reached the server`);
      });
    }
  }
});

describe('secagg: exhaustive sweep at n = 5, t = 3 (complete graph)', () => {
  it('every multiset of drop rounds (up to the symmetry of the complete graph): exact sum or the predicted abort', async () => {
    const n = 5;
    const t = 3;
    const options = [-1, 0, 1, 2, 4];
    const schedules: number[][] = [];
    const build = (from: number, acc: number[]) => {
      if (acc.length === n) return void schedules.push(acc);
      for (let j = from; j < options.length; j++) build(j, [...acc, options[j]!]);
    };
    build(0, []);
    assert.equal(schedules.length, 126);
    const roles = makeRoles('complete', { threshold: t });
    let k = 0;
    for (const sched of schedules) {
      const random = rng(k);
      const plan = sumPlan(roles, n, `sweep/${k++}`, 2);
      const inputs = sumInputs(plan, random);
      const order = names(n).sort(() => random() - 0.5);
      const dropAt = new Map(sched.flatMap((r, j) => (r < 0 ? [] : [[order[j]!, r] as [string, number]])));
      const o = await runSecAgg({ roles, plan, inputs, dropAt });
      const left = (r: number) => n - sched.filter((x) => x >= 0 && x <= r).length;
      const abortAt = [0, 1, 2, 4].find((r) => left(r) < t);
      if (abortAt === undefined) assertExact(o, plan, inputs, `schedule ${sched.join(',')}`);
      else {
        assert.ok(o.error instanceof SecAggAbortError, `schedule ${sched.join(',')}: expected an abort at round ${abortAt}, got ${String(o.error ?? 'a result')}`);
        assert.equal(o.error.round, abortAt);
      }
    }
  });
});

describe('secagg: seeded property test over mixed schedules', () => {
  it('exact sum of the survivors or a typed abort; the predicted one on the complete graph and within tolerance', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 3, max: 9 }),
          harary: fc.boolean(),
          seed: fc.integer({ min: 0, max: 2 ** 30 }),
          drops: fc.array(fc.constantFrom(-1, -1, -1, 0, 1, 2, 3, 4), { minLength: 9, maxLength: 9 }),
          tPick: fc.integer({ min: 0, max: 100 }),
        }),
        async ({ n, harary, seed, drops, tPick }) => {
          const random = rng(seed);
          const useHarary = harary && n >= 5;
          const k = useHarary ? 2 * (1 + (tPick % Math.floor((n - 2) / 2))) : n - 1;
          const t = 2 + (tPick % (k - 1));
          const roles = useHarary ? makeRoles({ harary: { k, t } }) : makeRoles('complete', { threshold: t });
          const plan = sumPlan(roles, n, `prop/${k}/${seed}`);
          const inputs = sumInputs(plan, random);
          const dropAt = new Map(drops.slice(0, n).flatMap((r, j) => (r < 0 ? [] : [[`c${j}`, r] as [string, number]])));
          const o = await runSecAgg({ roles, plan, inputs, dropAt });
          const left = (r: number) => n - [...dropAt.values()].filter((x) => x <= r).length;
          const abortAt = [0, 1, 2, 4].find((r) => left(r === 4 ? 3 : r) < t || left(r) < t);
          const tolerated = dropAt.size <= k + 1 - t;
          if (o.error !== undefined) {
            assert.ok(o.error instanceof SecAggAbortError, `not a typed abort: ${String(o.error)}`);
            assert.ok(!tolerated || abortAt !== undefined, `aborted with ${dropAt.size} dropped, within the tolerance ${k + 1 - t}`);
            if (!useHarary) assert.equal(o.error.round, abortAt);
          } else {
            assert.ok(useHarary || abortAt === undefined, 'completed where the complete graph must abort');
            assertExact(o, plan, inputs, `n=${n} k=${k} t=${t} drops ${[...dropAt].join(' ')}`);
          }
        },
      ),
      { numRuns: 30, seed: 20261207 },
    );
    void k;
  });
});

describe('secagg+: a dropped client whose neighbours drop too', () => {
  it('H(10, 6), t = 3: client c0 drops before masking, two of its neighbours before unmasking, another neighbour before masking', async () => {
    const roles = makeRoles({ harary: { k: 6, t: 3 } });
    const plan = sumPlan(roles, 10, 'neighbours');
    const inputs = sumInputs(plan, rng(5));
    let chosen: string[] = [];
    const o = await runSecAgg({
      roles,
      plan,
      inputs,
      dropAt: (g) => {
        const nb = g.neighbours(0).map((u) => `c${u}`);
        chosen = nb.slice(0, 3);
        return new Map([['c0', 2], [nb[0]!, 4], [nb[1]!, 4], [nb[2]!, 2]]);
      },
    });
    assert.equal(chosen.length, 3);
    assertExact(o, plan, inputs, 'neighbours dropping');
    assert.ok(!o.result!.survivors.includes('c0'));
  });
});

describe('secagg: the server\'s whole view', () => {
  it('for every client the server never holds t seed shares and t key shares; no message carries both kinds for one client', async () => {
    for (const s of SETTINGS) {
      for (let run = 0; run < 4; run++) {
        const random = rng(900 + run);
        const roles = rolesOf(s);
        const plan = sumPlan(roles, s.n, `view/${run}`);
        const inputs = sumInputs(plan, random);
        const order = names(s.n).sort(() => random() - 0.5);
        const dropAt = new Map<string, number>([[order[0]!, 2], ...(run > 0 ? [[order[1]!, 4] as [string, number]] : []), ...(run > 1 ? [[order[2]!, 1] as [string, number]] : [])]);
        const o = await runSecAgg({ roles, plan, inputs, dropAt });
        // (the spy first: what the server received, whatever it made of it)
        const { seed, key } = revealedShares(o, s.n);
        for (let u = 0; u < s.n; u++) {
          const ns = seed.get(u)?.size ?? 0;
          const nk = key.get(u)?.size ?? 0;
          assert.ok(!(ns >= s.t && nk >= s.t), `${s.label}: client ${u}: ${ns} seed and ${nk} key shares at the server`);
          if (nk > 0) assert.equal(ns, 0, `client ${u}: both kinds revealed`);
        }
        assertExact(o, plan, inputs, `view run ${run}`);
        // the dropped-before-masking client's key was revealed, the alive clients' seeds
        assert.ok((key.get(Number(order[0]!.slice(1)))?.size ?? 0) >= s.t);
      }
    }
  });
});
