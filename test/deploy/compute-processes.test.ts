/**
 * A serialized encrypted computation run across separate OS processes
 * (`fedcrypt player`: three compute servers and a data owner serving its own
 * values with --data; mutual TLS on 127.0.0.1), driven from this process (the
 * model owner) by the `fedcrypt compute` command (its commander definition,
 * parsed here: a child process would load the whole CLI again) with the
 * abstract computation's JSON and by `runComputation` with the concrete
 * one's; compared with the same computation run in one process on random
 * inputs.
 *
 * The computation mixes ABY3's exact ops (add, addPublic, relu,
 * maxPool2x2WithMask and its backward pass, greater + select, transpose,
 * reshape, argmax, sum, int x fixed products): their results are functions
 * of the inputs' encodings alone, so the run across processes must equal the
 * in-process run bit for bit. One fixed-point product (randomized share
 * truncation) is compared within its bound. One result is revealed to the
 * data owner (its player's --data module receives it), the rest to the model
 * owner. Then a computation that would reveal owner0's input to server0 is
 * refused by owner0's player before it sends anything ('revealTo').
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError } from '../../src/core/errors.js';
import { ABY3, computation, ops, Player, PrivateTensor, TensorSpec } from '../../src/encrypted/index.js';
import { runComputation } from '../../src/deploy/compute-driver.js';
import { rng } from '../encrypted/computation-data.js';
import { startCli, stop, waitFor, writeTlsDeployment, type Proc } from './helpers.js';
import { Command } from 'commander';
import { registerComputeCommand } from '../../src/cli/compute-command.js';

const ROLES: [string, string][] = [
  ['model-owner', 'model-owner'], ['server0', 'compute-server'], ['server1', 'compute-server'], ['server2', 'compute-server'], ['owner0', 'data-owner'],
];
const [mo, owner0] = ['model-owner', 'owner0'].map((n) => new Player(n)) as [Player, Player];
const IMG = [1, 4, 4, 2];
const r = rng(20240);
const values = (n: number) => Float64Array.from({ length: n }, () => Math.round((8 * r() - 4) * 2 ** 20) / 2 ** 20);
const [X, Y, W] = [values(32), values(32), values(32)];

const mixed = computation(function mixed(x, y, w) {
  const X_ = ops.encrypt(x, { sensitivity: [owner0, mo] });
  const Y_ = ops.encrypt(y, { sensitivity: [mo, owner0] });
  const W_ = ops.encrypt(w, { sensitivity: [mo, owner0] });
  const s = ops.add(X_, Y_);
  const { y: pooled, mask } = ops.maxPool2x2WithMask(ops.relu(ops.sub(s, 0.5)));
  const larger = ops.select(ops.greater(X_, Y_), X_, Y_);
  const am = ops.argmax(ops.reshape(ops.transpose(s, [0, 3, 1, 2]), [2, 16]), 1);
  return [
    ops.reveal(pooled, mo), ops.reveal(mask, mo), ops.reveal(ops.maxPool2x2Backward(mask, pooled), mo), ops.reveal(am, mo),
    ops.reveal(ops.sum(ops.add(larger, W_), 3), mo), ops.reveal(ops.mul(ops.greater(X_, Y_), W_), mo),
    ops.reveal(larger, owner0),
    ops.reveal(ops.mul(X_, Y_), mo),
  ];
});
const EXACT = 7; // results 0..6 exact; 7 the truncated product

/** The same computation in one process (every party local). */
async function inProcess(): Promise<Float64Array[]> {
  const [s0, s1, s2] = ['server0', 'server1', 'server2'].map((n) => new Player(n)) as [Player, Player, Player];
  const c = mixed.concrete(new ABY3(s0, s1, s2, { id: 'compute-reference', players: [mo, owner0] }), [owner0, mo, mo].map((p) => TensorSpec.private(p, { shape: IMG })));
  const outs = (await c.run(new PrivateTensor(owner0, IMG, X), new PrivateTensor(mo, IMG, Y), new PrivateTensor(mo, IMG, W))) as PrivateTensor[];
  return outs.map((o) => o.read());
}

const bits = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('an encrypted computation across player processes', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-compute-'));
  const procs: Proc[] = [];
  let reference: Float64Array[];

  before(async () => {
    await writeTlsDeployment(dir, ROLES);
    // the data owner's module serves its own values and keeps what a computation reveals to it
    writeFileSync(join(dir, 'data.mjs'), [
      `import { writeFileSync } from 'node:fs';`,
      `const V = ${JSON.stringify({ owner0: { x: Array.from(X) } })};`,
      'export function data(source, client) { return V[client.name]?.[source]; }',
      'export function output(o) { writeFileSync(`out-${o.computation}-${o.index}.json`, JSON.stringify({ shape: o.shape, values: Array.from(o.values) })); }',
    ].join('\n'));
    writeFileSync(join(dir, 'w.json'), JSON.stringify({ values: Array.from(W), shape: IMG }));
    writeFileSync(join(dir, 'y.json'), JSON.stringify(Array.from(Y)));
    writeFileSync(join(dir, 'mixed.json'), JSON.stringify(mixed));
    const extra: Record<string, string[]> = { owner0: ['--data', 'data.mjs', '--reveal-to', 'model-owner'] };
    await Promise.all(ROLES.slice(1).map(async ([name]) => {
      const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...(extra[name] ?? [])], dir);
      procs.push(p);
      await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
    }));
    reference = await inProcess();
  });

  after(async () => {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  it('fedcrypt compute (the model owner) with the abstract JSON, runComputation with the concrete one: every exact result equals the in-process run bit for bit; the product within 2 ulps; owner0 receives its result', async () => {
    const program = new Command().exitOverride();
    registerComputeCommand(program);
    const at = (f: string) => join(dir, f);
    await program.parseAsync([
      'compute', at('mixed.json'), '--config', at('config.json'), '--key', at('keys/model-owner.key'), '--input', 'x=owner0:x', '--input', `y=@${at('y.json')}`, '--input', `w=@${at('w.json')}`,
      '--shape', 'x=1,4,4,2', '--shape', 'y=1,4,4,2', '--timeout', '60', '--out', at('result.json'),
    ], { from: 'user' });
    const got = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { participants: string[]; outputs: ({ shape: number[]; values: number[] } | null)[] };
    assert.deepEqual(got.participants, ['model-owner', 'server0', 'server1', 'server2', 'owner0']);
    assert.equal(got.outputs.length, 8);
    for (let i = 0; i < 8; i++) {
      if (i === 6) {
        assert.equal(got.outputs[i], null, 'result 6 is revealed to owner0 only');
        continue;
      }
      const v = Float64Array.from(got.outputs[i]!.values);
      if (i < EXACT) assert.equal(bits(v), bits(reference[i]!), `result ${i}: bit for bit`);
      else v.forEach((e, j) => assert.ok(Math.abs(e - reference[i]![j]!) <= 2 * 2 ** -16, `result ${i} element ${j}: ${e} vs ${reference[i]![j]}`));
    }
    // the concrete computation's JSON (its protocol named: aby3 over the config's servers), from this process's API: the same bits
    const [s0, s1, s2] = ['server0', 'server1', 'server2'].map((n) => new Player(n)) as [Player, Player, Player];
    const concrete = JSON.stringify(mixed.concrete(new ABY3(s0, s1, s2, { id: 'compute-concrete', players: [mo, owner0] }), [owner0, mo, mo].map((p) => TensorSpec.private(p, { shape: IMG }))));
    const again = await runComputation(concrete, { config: at('config.json'), key: at('keys/model-owner.key'), inputs: { x: { player: 'owner0', source: 'x' }, y: { value: Y }, w: { value: W } }, timeoutMs: 60_000 });
    for (let i = 0; i < EXACT; i++) if (i !== 6) assert.equal(bits(again.outputs[i]!.values), bits(reference[i]!), `concrete JSON: result ${i}`);
    // owner0's player handed its result to its module's output() (written in its working folder)
    await waitFor(procs.find((p) => p.name === 'owner0')!, /owner0: computation session [0-9a-f]+ done/, 10_000);
    const mine = JSON.parse(readFileSync(join(dir, 'out-mixed-6.json'), 'utf8')) as { shape: number[]; values: number[] };
    assert.deepEqual(mine.shape, IMG);
    assert.equal(bits(Float64Array.from(mine.values)), bits(reference[6]!));
    assert.ok(!existsSync(join(dir, 'out-mixed-0.json')), 'nothing else reached the data owner');
  });

  it("runComputation from this process: owner0's input revealed to server0 is refused by owner0's player ('revealTo'), before it shares anything", async () => {
    const leak = computation(function leak(x) { return ops.reveal(ops.encrypt(x, { sensitivity: [owner0, new Player('server0')] }), new Player('server0')); });
    const owner0Proc = procs.find((p) => p.name === 'owner0')!;
    const before = owner0Proc.out.length;
    await assert.rejects(
      runComputation(leak, { config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), inputs: { x: { player: 'owner0', source: 'x', shape: IMG } }, timeoutMs: 30_000 }),
      (e: Error) => e instanceof PolicyError && e.rule === 'revealTo' && e.party === 'owner0' && /to 'server0'/.test(e.message),
    );
    await waitFor(owner0Proc, /owner0: refused computation session/, 10_000);
    assert.ok(!owner0Proc.out.slice(before).some((l) => /accepted/.test(l)), owner0Proc.out.slice(before).join('\n'));
  });
});
