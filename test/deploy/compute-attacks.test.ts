/**
 * Encrypted computations across the players (deploy/compute-*.ts), each
 * player on its own transport of one MemoryHub (as in separate processes),
 * and a malicious model owner. Every message is recorded (hub.deliver): the
 * assertions say what each party sent and what the attacker received.
 *
 *  0. honest: a data owner that allows it (--reveal-to model-owner) has its
 *     input revealed to the model owner, bit for bit;
 *  1. the driver asks the data owner to reveal its input to the model owner
 *     (its sensitivity widened by ops.encrypt, or made public and hidden
 *     behind an add): the owner refuses ('revealTo') and sends nothing but
 *     its refusal; no protocol message is sent by anyone;
 *  2. an op the owner's policy does not run (--ops): refused ('ops');
 *  3. the driver shows the data owner a harmless computation (the reveal to
 *     itself) and the compute servers the leaking one: the owner accepts and
 *     shares its input, the servers see another digest and refuse
 *     ('agreement'): nothing is opened to the model owner.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolicyError } from '../../src/core/errors.js';
import { ABY3, computation, ops, Player, TensorSpec, type Symbolic } from '../../src/encrypted/index.js';
import { checkComputePolicy } from '../../src/deploy/compute-request.js';
import { runComputationOn, type ComputationSource } from '../../src/deploy/compute-driver.js';
import { parseConfigPolicy, resolvePolicy, type LocalPolicyOptions } from '../../src/deploy/policy.js';
import { SESSION_KEY, serveSessions } from '../../src/deploy/session.js';
import { parseConfig } from '../../src/transport/config.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/channel.js';
import { ROLES7 } from './helpers.js';

const [mo, owner0] = [new Player('model-owner'), new Player('owner0')];
const SERVERS = ['server0', 'server1', 'server2'];
const X = Float64Array.from({ length: 12 }, (_, i) => ((i * 37) % 23) / 8 - 1.4);

interface Sent { from: string; to: string; key: string }

/** Serve one session at every player but the model owner (owner0 serves X as source 'x'); the driver's transport, optionally rewritten. */
function deployment(policies: Record<string, LocalPolicyOptions>, tamper?: (to: string, key: string, payload: Uint8Array) => Uint8Array) {
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6100 + i}`, role: r }));
  const config = parseConfig(JSON.stringify({ version: 1, players }));
  const hub = new MemoryHub();
  const sent: Sent[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    sent.push({ from, to, key });
    deliver(from, to, key, payload);
  };
  const logs: string[] = [];
  const served = ROLES7.slice(1).map(([n]) => serveSessions(new MemoryTransport({ hub, local: [n] }), config, n, {
    policy: resolvePolicy({}, policies[n] ?? {}), maxSessions: 1, log: (l) => logs.push(l), timeoutMs: 10_000,
    data: (source) => (n === 'owner0' && source === 'x' ? X : undefined),
  }));
  const honest = new MemoryTransport({ hub, local: ['model-owner'] });
  const driver: Transport = tamper === undefined ? honest : new Proxy(honest, {
    get(target, prop, receiver) {
      if (prop === 'send') return (from: string, to: string, key: string, payload: Uint8Array) => target.send(from, to, key, tamper(to, key, payload));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const run = (c: ComputationSource) => runComputationOn(driver, config, c, { inputs: { x: { player: 'owner0', source: 'x', shape: [3, 4] } }, timeoutMs: 10_000 });
  return { config, hub, sent, logs, served, run };
}

const reveals = computation(function reveals(x) { return ops.reveal(ops.encrypt(x, { sensitivity: [owner0, mo] }), mo); });
const hidden = computation(function hidden(x) { return ops.reveal(ops.add(ops.encrypt(x, { sensitivity: null }), 0), mo); });
const toItself = computation(function reveals(x) { return ops.reveal(ops.encrypt(x, { sensitivity: [owner0, mo] }), owner0); });
const argmax = computation(function argmaxOf(x) { return ops.reveal(ops.argmax(ops.encrypt(x, { sensitivity: [owner0, mo] }), 1), mo); });

/** Protocol messages (keys under the computation's protocol instance id). */
const protocolMsgs = (sent: Sent[]) => sent.filter((m) => m.key.startsWith('compute-'));

describe('encrypted computations across the players: a malicious model owner', () => {
  it('0. honest: owner0 started with --reveal-to model-owner; its input reaches the model owner bit for bit, the session ends everywhere', async () => {
    const d = deployment({ owner0: { revealTo: ['model-owner'] } });
    const r = await d.run(reveals);
    assert.deepEqual(r.participants, ['model-owner', 'server0', 'server1', 'server2', 'owner0']);
    assert.deepEqual([...r.outputs[0]!.values], [...X].map((v) => Math.round(v * 2 ** 16) / 2 ** 16));
    assert.ok(protocolMsgs(d.sent).some((m) => m.from === 'owner0'), 'owner0 shared its input');
    // the players that take no part (owner1, owner2) were not asked
    assert.ok(!d.sent.some((m) => m.to === 'owner1' || m.to === 'owner2'));
    await Promise.all(d.served.filter((_, i) => i < 4));
    await new Promise((res) => setImmediate(res));
    assert.equal(d.hub.pending(), 0, 'no message left unclaimed');
  });

  for (const [label, comp] of [['its sensitivity widened to the model owner by ops.encrypt', reveals], ['made public by ops.encrypt and hidden behind an add', hidden]] as const) {
    it(`1. owner0's input revealed to the model owner (${label}): owner0 refuses ('revealTo') and sends only its refusal; no protocol message at all`, async () => {
      const d = deployment({});
      await assert.rejects(d.run(comp), (e: Error) => e instanceof PolicyError && e.rule === 'revealTo' && e.party === 'owner0' && /reveals a value computed from this player's input 'x' to 'model-owner'/.test(e.message));
      const fromOwner = d.sent.filter((m) => m.from === 'owner0');
      assert.equal(fromOwner.length, 1);
      assert.match(fromOwner[0]!.key, /^exec\/[0-9a-f]{16}\/open$/);
      assert.equal(fromOwner[0]!.to, 'model-owner');
      assert.deepEqual(protocolMsgs(d.sent), []);
      // what the attacker received: the participants' answers, nothing else
      assert.deepEqual(d.sent.filter((m) => m.to === 'model-owner').map((m) => m.key.replace(/[0-9a-f]{16}/, 'S')), ['exec/S/open', 'exec/S/open', 'exec/S/open', 'exec/S/open']);
      await Promise.all(d.served.slice(0, 4));
      assert.ok(SERVERS.every((s) => d.logs.some((l) => l.startsWith(`${s}: computation session`) && l.includes('aborted'))), 'the servers were told the session is over');
    });
  }

  it("2. an op outside owner0's policy (--ops add,reveal,relu): refused ('ops') naming the node; owner0 sends only its refusal", async () => {
    const d = deployment({ owner0: { revealTo: ['model-owner'], ops: ['encrypt', 'add', 'reveal', 'relu'] } });
    await assert.rejects(d.run(argmax), (e: Error) => e instanceof PolicyError && e.rule === 'ops' && e.party === 'owner0' && /node 1 is op 'argmax'/.test(e.message));
    assert.deepEqual(d.sent.filter((m) => m.from === 'owner0').map((m) => m.to), ['model-owner']);
    assert.deepEqual(protocolMsgs(d.sent), []);
  });

  it("3. owner0 shown the reveal to itself, the servers the reveal to the model owner: the servers refuse ('agreement'); nothing is opened to the model owner", async () => {
    // the harmless request owner0 sees instead, for the same session and arguments
    const benign = JSON.parse(JSON.stringify(toItself.concrete(new ABY3(...SERVERS.map((s) => new Player(s)) as [Player, Player, Player], { players: [mo, owner0] }), [TensorSpec.private(owner0, { shape: [3, 4] })])));
    const d = deployment({}, (to, key, payload) => {
      if (to !== 'owner0' || key !== SESSION_KEY) return payload;
      const open = JSON.parse(new TextDecoder().decode(payload)) as { computation: { program: unknown } };
      open.computation.program = benign;
      return new TextEncoder().encode(JSON.stringify(open));
    });
    await assert.rejects(d.run(reveals), (e: Error) => e instanceof PolicyError && e.rule === 'agreement' && SERVERS.includes(e.party!) && /'owner0' accepted another request/.test(e.message));
    // owner0 accepted (the harmless one) and shared its input with the servers only
    assert.ok(protocolMsgs(d.sent).some((m) => m.from === 'owner0'));
    assert.ok(protocolMsgs(d.sent).filter((m) => m.from === 'owner0').every((m) => SERVERS.includes(m.to)));
    // the servers ran nothing: no protocol message from a server, none to the model owner
    assert.deepEqual(protocolMsgs(d.sent).filter((m) => SERVERS.includes(m.from) || m.to === 'model-owner'), []);
    await Promise.all(d.served.slice(0, 4));
  });
});

describe('policy: revealTo and ops', () => {
  it("data flow, not declared types: a value computed from owner0's input through any op (a two-result node's second result included) is refused to the model owner; owner1's values are not owner0's concern", () => {
    const players: Record<string, unknown> = {};
    ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6200 + i}`, role: r }));
    const config = parseConfig(JSON.stringify({ version: 1, players }));
    const owner1 = new Player('owner1');
    const aby3 = new ABY3(...SERVERS.map((n) => new Player(n)) as [Player, Player, Player], { players: [mo, owner0, owner1] });
    const img = [TensorSpec.private(owner0, { shape: [1, 2, 2, 1] }), TensorSpec.private(owner1, { shape: [1, 2, 2, 1] })];
    const inputs = [{ kind: 'source', player: 'owner0', source: 'x' }, { kind: 'source', player: 'owner1', source: 'y' }] as const;
    const check = (f: (x: Symbolic, y: Symbolic) => Symbolic | Symbolic[], policy = resolvePolicy({})) => {
      const c = computation(f, { name: 'flow', inputNames: ['x', 'y'] }).concrete(aby3, img);
      checkComputePolicy(c, { v: 1, program: JSON.parse(JSON.stringify(c)), inputs }, policy, 'owner0', config);
    };
    const enc = (v: Symbolic) => ops.encrypt(v, { sensitivity: null });
    // the mask (second result of one node) of a pooling over x + y
    assert.throws(() => check((x, y) => ops.reveal(ops.maxPool2x2WithMask(ops.add(enc(x), enc(y))).mask, mo)), (e: Error) => e instanceof PolicyError && e.rule === 'revealTo' && /node 4 reveals/.test(e.message));
    assert.throws(() => check((x, y) => ops.reveal(ops.select(ops.greater(enc(y), enc(x)), enc(y), enc(y)), mo)), (e: Error) => e instanceof PolicyError && e.rule === 'revealTo');
    // only owner1's value to the model owner, owner0's to itself: owner0 accepts
    check((x, y) => [ops.reveal(ops.maxPool2x2WithMask(enc(y)).mask, mo), ops.reveal(ops.relu(enc(x)), owner0)]);
    // with --reveal-to model-owner it accepts the first
    check((x, y) => ops.reveal(ops.maxPool2x2WithMask(ops.add(enc(x), enc(y))).mask, mo), resolvePolicy({}, { revealTo: ['model-owner'] }));
    // a binding that does not match the type, an encrypted argument: 'inputs'
    const c = computation((x, y) => ops.add(enc(x), enc(y)), { inputNames: ['x', 'y'] }).concrete(aby3, img);
    assert.throws(() => checkComputePolicy(c, { v: 1, program: JSON.parse(JSON.stringify(c)), inputs: [inputs[1], inputs[0]] }, resolvePolicy({}), 'owner0', config), (e: Error) => e instanceof PolicyError && e.rule === 'inputs');
    const e2 = computation((x) => ops.relu(x)).concrete(aby3, [TensorSpec.encrypted({ shape: [2] })]);
    assert.throws(() => checkComputePolicy(e2, { v: 1, program: JSON.parse(JSON.stringify(e2)), inputs: [{ kind: 'driver' }] }, resolvePolicy({}), 'owner0', config), (e: Error) => e instanceof PolicyError && e.rule === 'inputs' && /encrypted/.test(e.message));
  });

  it("the config's policy bounds --reveal-to and --ops; without --reveal-to a player reveals its inputs' results to itself only", () => {
    const c = parseConfigPolicy({ revealTo: ['model-owner', 'owner1'], ops: ['matmul', 'add', 'reveal', 'encrypt'] });
    const none = resolvePolicy(c);
    assert.deepEqual(none.revealTo, []);
    assert.ok(none.warnings!.some((w) => /policy.revealTo lists model-owner, owner1/.test(w)));
    assert.deepEqual(none.ops, ['matmul', 'add', 'reveal', 'encrypt']);
    const mine = resolvePolicy(c, { revealTo: ['model-owner'], ops: ['matmul', 'reveal'] });
    assert.deepEqual([mine.revealTo, mine.ops], [['model-owner'], ['matmul', 'reveal']]);
    assert.throws(() => resolvePolicy(c, { revealTo: ['server0'] }), /"--reveal-to" server0 is not among the config's policy.revealTo/);
    assert.throws(() => resolvePolicy(c, { ops: ['relu'] }), /"--ops" relu is not among the config's policy.ops/);
    assert.throws(() => parseConfigPolicy({ revealTo: [] }), /policy.revealTo/);
    assert.throws(() => parseConfigPolicy({ ops: ['no such op!'] }), /policy.ops/);
    assert.deepEqual(resolvePolicy({}, { revealTo: ['anyone'] }).revealTo, ['anyone']);
  });
});
