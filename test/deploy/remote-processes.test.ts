/**
 * `remoteContext` across OS processes: six players (`fedcrypt player`, each
 * serving its own clients' data from its --data module) on 127.0.0.1 with
 * mutual TLS, this test process as the model owner. User-written federated
 * computations (the temperature example in its three forms, a secure sum, a
 * struct-valued weighted mean with private weights) print the same values
 * as in one process, for the insecure reference, ABY3, Pond and Paillier; a
 * player whose operator did not opt in refuses the plaintext reference, and
 * the driver's error names it and the rule.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteContext } from '../../src/deploy/remote.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { insecureReferenceAggregation, localContext, secureSumComputation, temperatureComputations } from '../../src/runtime/index.js';
import { CLIENTS as AT_CLIENTS, federated, federatedComputation, federatedMean, PolicyError, struct, tensor, withContext } from '../../src/core/index.js';
import { ROLES7, writeTlsDeployment, startCli, stop, waitFor, type Proc } from './helpers.js';

// the players' data: each client's value from its own name (the driver never reads this file)
const DATA_MODULE = `
const TEMPS = [68.5, 70, 69.5, 71.25, 72, 66, 67.5];
const owner = (n) => Number(/^owner(\\d)/.exec(n)[1]);
const index = (n) => (n.includes(':') ? Number(n.split(':')[1]) : 0);
export function data(source, client) {
  if (source === 'temps') return TEMPS[(3 * owner(client.name) + index(client.name)) % TEMPS.length];
  if (source === 'vecs') return [owner(client.name), 10 * index(client.name) + 1];
  // a struct-valued update and its (private) weight
  if (source === 'pairs') return { x: [owner(client.name) + 0.25, -index(client.name) - 0.5], s: 2 * owner(client.name) - 1.75 };
  if (source === 'weights') return 1 + owner(client.name) + 2 * index(client.name);
  throw new RangeError('no data source ' + source);
}
`;
const TEMPS = [68.5, 70, 69.5, 71.25, 72, 66, 67.5];
const ownerOf = (n: string) => Number(/^owner(\d)/.exec(n)![1]);
const indexOf = (n: string) => (n.includes(':') ? Number(n.split(':')[1]) : 0);
// owner2 hosts two clients
const CLIENTS = ['owner0', 'owner1', 'owner2:0', 'owner2:1'];
const PAIR = struct({ x: tensor('float32', [2]), s: tensor('float32') });
const weightedMean = federatedComputation([federated(PAIR, AT_CLIENTS), federated(tensor('float32'), AT_CLIENTS)], (pairs, w) => federatedMean(pairs, { weights: w }), { name: 'struct_weighted_mean' });
const pairOf = (n: string) => ({ x: [ownerOf(n) + 0.25, -indexOf(n) - 0.5], s: 2 * ownerOf(n) - 1.75 });
const weightOf = (n: string) => 1 + ownerOf(n) + 2 * indexOf(n);

describe('remoteContext across processes', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-remote-'));
  const procs = new Map<string, Proc>();
  const start = async (name: string, extra: string[]) => {
    const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...extra], dir);
    procs.set(name, p);
    await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
  };
  const ownerArgs = (name: string, optIn: boolean) => ['--data', 'data.mjs', ...(optIn ? ['--insecure-allow-plaintext'] : []), ...(name === 'owner2' ? ['--clients', '2'] : [])];

  before(async () => {
    // Paillier is not in the default policy: this config enables it for every player
    await writeTlsDeployment(dir, ROLES7, { policy: { protocols: ['aby3', 'pond', 'paillier'] } });
    writeFileSync(join(dir, 'data.mjs'), DATA_MODULE);
    await Promise.all(
      ROLES7.slice(1).map(([name, role]) => start(name, role === 'data-owner' ? ownerArgs(name, true) : ['--insecure-allow-plaintext'])),
    );
  });

  after(async () => {
    for (const p of procs.values()) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  const ctxOf = (protocol: 'plaintext' | 'aby3' | 'pond' | 'paillier' = 'plaintext') =>
    remoteContext({ config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), protocol, insecureAllowPlaintext: protocol === 'plaintext', timeoutMs: 60_000 });

  test('the temperature example (all three forms), the secure sum and a struct-valued weighted mean give the in-process values', async () => {
    const ctx = ctxOf();
    const local = localContext({ aggregation: insecureReferenceAggregation({ warn: () => {} }) });
    try {
      const t = temperatureComputations();
      const readings = CLIENTS.map((n) => TEMPS[(3 * ownerOf(n) + indexOf(n)) % TEMPS.length]!);
      // (the long form collects the readings at the aggregators in the clear: these players' operators opted in)
      for (const comp of [t.server, t.aggregatorsShort, t.aggregatorsLong]) {
        const want = await withContext(local, () => comp(readings));
        assert.equal(await withContext(ctx, () => comp(clientData('temps'))), want, comp.computationName);
      }
      assert.equal(ctx.numClients, 4);
      const s = secureSumComputation();
      const want = await withContext(local, () => s(CLIENTS.map((n) => [ownerOf(n), 10 * indexOf(n) + 1])));
      assert.deepEqual(await withContext(ctx, () => s(clientData('vecs'))), want);
      const wm = await withContext(local, () => weightedMean(CLIENTS.map(pairOf), CLIENTS.map(weightOf)));
      assert.deepEqual(await withContext(ctx, () => weightedMean(clientData('pairs'), clientData('weights'))), wm);
    } finally {
      await ctx.close();
    }
    // each data owner that took part says so in its own log
    for (const o of ['owner0', 'owner1', 'owner2']) await waitFor(procs.get(o)!, new RegExp(`${o}: WARNING: session [0-9a-f]{16} runs the INSECURE insecure-reference protocol \\(opted in locally`), 30_000);
  });

  // the weighted mean's exact value (float64 over the float32 inputs)
  const W = CLIENTS.reduce((a, n) => a + weightOf(n), 0);
  const wmExact = {
    x: [0, 1].map((j) => CLIENTS.reduce((a, n) => a + weightOf(n) * Math.fround(pairOf(n).x[j]!), 0) / W),
    s: CLIENTS.reduce((a, n) => a + weightOf(n) * Math.fround(pairOf(n).s), 0) / W,
  };
  for (const protocol of ['aby3', 'pond', 'paillier'] as const) {
    test(`${protocol} across the processes: the same values (secure sum exact, means within the encoding's bound)`, async () => {
      const ctx = ctxOf(protocol);
      try {
        const readings = CLIENTS.map((n) => Math.fround(TEMPS[(3 * ownerOf(n) + indexOf(n)) % TEMPS.length]!));
        const want = readings.reduce((a, b) => a + b, 0) / readings.length;
        const t = temperatureComputations();
        for (const comp of [t.server, t.aggregatorsShort]) {
          const r = (await withContext(ctx, () => comp(clientData('temps')))) as number;
          assert.ok(Math.abs(r - want) <= CLIENTS.length * 2 ** -17 + 1e-5, `${comp.computationName}: ${r} vs ${want}`);
        }
        assert.deepEqual(await withContext(ctx, () => secureSumComputation()(clientData('vecs'))), [0 + 1 + 2 + 2, 1 + 1 + 1 + 11]);
        const got = (await withContext(ctx, () => weightedMean(clientData('pairs'), clientData('weights')))) as { x: number[]; s: number };
        // fixed point (ABY3, Pond: 16 fractional bits; Paillier: its own) of values and weights, then one division: well within 1e-3
        for (const j of [0, 1]) assert.ok(Math.abs(got.x[j]! - wmExact.x[j]!) < 1e-3, `x[${j}]: ${got.x[j]} vs ${wmExact.x[j]}`);
        assert.ok(Math.abs(got.s - wmExact.s) < 1e-3, `s: ${got.s} vs ${wmExact.s}`);
      } finally {
        await ctx.close();
      }
    });
  }

  test('a data owner started without the opt-in refuses the plaintext reference; the error names it and the rule', async () => {
    await stop(procs.get('owner1')!);
    await start('owner1', ownerArgs('owner1', false));
    const ctx = ctxOf();
    try {
      await assert.rejects(
        withContext(ctx, () => temperatureComputations().server(clientData('temps'))),
        (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === 'owner1',
      );
    } catch (e) {
      if (process.env['DBG']) for (const p of procs.values()) console.error(p.out.join('\n'));
      throw e;
    } finally {
      await ctx.close();
    }
    await waitFor(procs.get('owner1')!, /owner1: command \d+ failed: PolicyError/, 30_000);
  });
});
