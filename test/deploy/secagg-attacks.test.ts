/**
 * SecAgg deployed (remote sessions over one MemoryHub, every player on its
 * own transport as in separate processes; three data owners hosting two
 * clients each, the model owner running SecAgg's SERVER role): an honest
 * FedSGD round equals the plaintext reference within the fixed point's
 * error; a data owner whose policy refuses secagg or its parameters refuses
 * before it sends a byte of the aggregation; a data owner lost after its
 * masked input is a dropout; and a malicious model owner gets nothing of a
 * victim's update:
 *
 *  1. the victim's player gets the real weights, the others zeros (the
 *     aggregate would isolate the victim's gradient): the client players'
 *     release gate (each checks the others' command digests, sent to it
 *     directly) refuses before any client sends its masked input;
 *  2. one player gets another plan than the others (another threshold);
 *  3. SERVER lists a client both alive and dead in the unmasking requests;
 *  4. (malicious-server variant, keys pinned from the config's
 *     certificates) SERVER tells some holders that a live client dropped
 *     (the split view that breaks the semi-honest variant).
 *
 * Every message between the parties is recorded at the hub: "what the
 * driver received" is checked there.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError } from '../../src/core/errors.js';
import { equalSlices, sliceDataset, type Dataset, type MnistData } from '../../src/learning/mnist.js';
import { mnistThirds } from '../learning/fixtures.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext } from '../../src/learning/stack.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { frame, frameBatch, unframe, unframeBatch } from '../../src/runtime/remote/wire.js';
import { planFromBytes, planToBytes } from '../../src/aggregation/plan.js';
import { revealFromBytes, signaturesFromBytes, signaturesToBytes, unmaskFromBytes, unmaskToBytes } from '../../src/aggregation/secagg-wire.js';
import { openSession, serveSessions } from '../../src/deploy/session.js';
import { parseConfigPolicy, resolvePolicy, type LocalPolicyOptions } from '../../src/deploy/policy.js';
import { secAggPlanParams } from '../../src/deploy/stack-training.js';
import { keygen, loadIdentity } from '../../src/deploy/keys.js';
import { parseConfig } from '../../src/transport/config.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { PeerError } from '../../src/transport/errors.js';
import type { Transport } from '../../src/transport/channel.js';
import { insecureReferenceAggregation, localContext } from '../../src/runtime/index.js';

const MODEL = 'logistic_regression';
const OWNERS = ['owner0', 'owner1', 'owner2'];
const PER = 2;
const HYPER = { seed: 3, batchSize: 32, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 };
let data: MnistData;
let halves: Dataset[][];
before(async () => {
  let parts: Dataset[];
  ({ data, parts } = await mnistThirds(200));
  halves = parts.map((p) => equalSlices(p.count, PER).map((s) => sliceDataset(p, s)));
});

interface Sent { from: string; to: string; key: string; bytes: Uint8Array }
type Tamper = (to: string, header: Record<string, unknown>, blobs: Uint8Array[]) => Uint8Array[] | undefined;
/** Rewrite a protocol message the driver's SERVER role sends (undefined: as it is). */
type TamperProto = (to: string, key: string, payload: Uint8Array) => Uint8Array | undefined;

interface Run {
  error: unknown;
  sent: Sent[];
  weights: Float32Array;
  logs: string[];
  dropouts: readonly { clients: readonly string[]; players: readonly string[] }[];
}

/**
 * One FedSGD round over honest players and a driver whose commands
 * (`tamper`) and SERVER messages (`tamperProto`) may be rewritten.
 * `local`: a player's own policy options; `crash`: a player whose links die
 * right after its clients sent their masked inputs.
 */
async function round(o: { tamper?: Tamper; tamperProto?: TamperProto; local?: Record<string, LocalPolicyOptions>; adversary?: 'semi-honest' | 'malicious'; crash?: string; crashAt?: 'after-masked' | 'before-advertise'; threshold?: number } = {}): Promise<Run> {
  const adversary = o.adversary ?? 'semi-honest';
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-secagg-attacks-'));
  const players: Record<string, unknown> = {};
  const names = ['model-owner', ...OWNERS];
  names.forEach((n, i) => {
    const k = adversary === 'malicious' ? keygen(n, join(dir, 'keys')) : undefined;
    players[n] = { address: `127.0.0.1:${6100 + i}`, role: i === 0 ? 'model-owner' : 'data-owner', ...(k ? { certificate: k.certificate, publicKey: k.publicKey } : {}) };
  });
  const config = parseConfig(JSON.stringify({ version: 1, ...(adversary === 'malicious' ? { links: 'tls' } : {}), policy: { protocols: ['aby3', 'secagg'] }, players }));
  const floor = parseConfigPolicy(config.policy);
  const hub = new MemoryHub();
  const sent: Sent[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    sent.push({ from, to, key, bytes: payload.slice() });
    deliver(from, to, key, payload);
  };
  const logs: string[] = [];
  const crash = o.crash ? new Crash(o.crash, o.crashAt) : undefined;
  const serving = OWNERS.map((n, i) => {
    const ids = new Map<number, number>();
    let t: Transport = new MemoryTransport({ hub, local: [n, ...Array.from({ length: PER }, (_, j) => `${n}:${j}`)] });
    if (crash?.player === n) t = crash.wrap(t, true);
    return serveSessions(t, config, n, {
      policy: resolvePolicy(floor, o.local?.[n] ?? {}),
      clients: PER,
      data: (_source, c) => {
        let id = ids.get(c.index);
        if (id === undefined) ids.set(c.index, (id = hostLearningClients([{ name: c.name, data: halves[i]![c.index]!, shuffleIndex: i * PER + c.index }])[0]!));
        return id;
      },
      ...(adversary === 'malicious' ? { identity: loadIdentity(join(dir, 'keys', `${n}.key`)) } : {}),
      maxSessions: 1,
      log: (l) => logs.push(l),
      timeoutMs: 30_000,
    }).catch((e: unknown) => logs.push(`${n}: serving failed: ${(e as Error).message}`));
  });
  const honest = crash ? crash.wrap(new MemoryTransport({ hub, local: ['model-owner'] }), false) : new MemoryTransport({ hub, local: ['model-owner'] });
  const driver = new Proxy(honest, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return (from: string, to: string, key: string, payload: Uint8Array) => {
          if (o.tamper && /^exec\/[0-9a-f]+\/\d+$/.test(key)) {
            const f = unframe(payload, 'command');
            const items = f.header['op'] === 'batch' ? unframeBatch(f, 'batch') : [{ header: f.header, blobs: f.blobs }];
            let changed = false;
            const out = items.map((it) => {
              const blobs = o.tamper!(to, it.header, [...it.blobs]);
              if (blobs === undefined) return it;
              changed = true;
              return { header: it.header, blobs };
            });
            if (changed) return target.send(from, to, key, f.header['op'] === 'batch' ? frameBatch(out) : frame(out[0]!.header, out[0]!.blobs));
          }
          if (o.tamperProto && key.includes('/secagg/')) {
            const p = o.tamperProto(to, key, payload);
            if (p !== undefined) return target.send(from, to, key, p);
          }
          return target.send(from, to, key, payload);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Transport;
  const policy = resolvePolicy(floor);
  const params = secAggPlanParams({ graph: 'complete', threshold: o.threshold ?? null, adversary });
  const mo = new ModelOwner('model-owner', MODEL, data, { seed: 3, optimizer: sgd({ lr: 0.5 }) });
  let error: unknown;
  let dropouts: Run['dropouts'] = [];
  try {
    const ctx = await openSession(driver, config, { protocol: 'secagg', params, policy, timeoutMs: 30_000, ...(o.crash ? { dropout: true, collectMs: 3000 } : {}) });
    try {
      await trainOnContext(ctx, { mode: 'fedsgd', model: MODEL, modelOwner: mo, clients: clientData('fedcrypt/learning'), rounds: 1, hyper: HYPER });
    } catch (e) {
      error = e;
    }
    dropouts = ctx.dropouts;
    await ctx.close().catch(() => {});
  } catch (e) {
    error = e;
  }
  const weights = mo.shareWeights();
  mo.dispose();
  await Promise.all(serving);
  hub.close();
  rmSync(dir, { recursive: true, force: true });
  return { error, sent, weights, logs, dropouts };
}

/**
 * A player that crashes once its clients have all sent their masked inputs:
 * from then on it sends nothing, and every receive at it, or at any party
 * from it (the driver's included, pending ones too), fails as a lost link.
 */
class Crash {
  dead = false;
  private masked = 0;
  private readonly pending = new Set<(e: Error) => void>();
  constructor(readonly player: string, readonly at: 'after-masked' | 'before-advertise' = 'after-masked') {}
  private mine(name: string): boolean {
    return name === this.player || name.startsWith(`${this.player}:`);
  }
  private lost(peer: string): PeerError {
    return new PeerError(`receive: link from '${peer}' closed (peer ended the stream)`, peer);
  }
  private kill(): void {
    this.dead = true;
    for (const fail of this.pending) fail(this.lost(this.player));
    this.pending.clear();
  }
  /** `t` as seen by a party: the crashed player's own transport (`own`) or another party's. */
  wrap(t: Transport, own: boolean): Transport {
    return new Proxy(t, {
      get: (target, prop, receiver) => {
        if (prop === 'send') {
          return async (from: string, to: string, key: string, payload: Uint8Array) => {
            if (own && this.at === 'before-advertise' && key.endsWith('/secagg/r0/advertise')) this.kill();
            if (this.dead && (own || this.mine(to))) return;
            await target.send(from, to, key, payload);
            if (own && this.at === 'after-masked' && key.endsWith('/secagg/r2/masked') && ++this.masked === PER) this.kill();
          };
        }
        if (prop === 'receive') {
          return (to: string, from: string, key: string, opts?: object) => {
            if (!own && !this.mine(from)) return target.receive(to, from, key, opts);
            if (this.dead) return Promise.reject(this.lost(own ? from : this.player));
            return new Promise<Uint8Array>((resolve, reject) => {
              this.pending.add(reject);
              target.receive(to, from, key, opts).then(resolve, reject).finally(() => this.pending.delete(reject));
            });
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Transport;
  }
}

/** The same round in one process with the insecure reference: the exact weighted mean. */
async function reference(): Promise<Float32Array> {
  const ids = hostLearningClients(halves.flatMap((hs, i) => hs.map((d, j) => ({ name: `ref-${i}:${j}`, data: d, shuffleIndex: i * PER + j }))));
  const mo = new ModelOwner('model-owner', MODEL, data, { seed: 3, optimizer: sgd({ lr: 0.5 }) });
  try {
    await trainOnContext(localContext({ aggregation: insecureReferenceAggregation({ warn: () => {} }) }), { mode: 'fedsgd', model: MODEL, modelOwner: mo, clients: ids, rounds: 1, hyper: HYPER });
    return mo.shareWeights();
  } finally {
    mo.dispose();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
/** The party that sent `m` (a hosted client's messages travel over its player's link, keyed '@<client>><to>/...'). */
const sender = (m: Sent): string => /^@([^>]+)>/.exec(m.key)?.[1] ?? m.from;
const fromPlayer = (m: Sent, p: string) => m.from === p || m.from.startsWith(`${p}:`);
/** Messages of round `r`'s `what` sent by clients of `players`. */
const protocolSent = (r: Run, what: RegExp, players = OWNERS) => r.sent.filter((m) => players.some((p) => fromPlayer(m, p)) && what.test(m.key));

function refusedByAgreement(r: Run): void {
  const e = r.error;
  assert.ok(e instanceof PolicyError, `expected a refusal, got ${String(e)}\n${r.logs.join('\n')}`);
  assert.equal(e.rule, 'agreement');
  assert.ok(OWNERS.includes(e.party ?? ''), `refused by ${e.party}`);
  // nothing computed from an input left any client: no masked input, no share revealed
  assert.deepEqual(protocolSent(r, /\/secagg\/r[234]\//).map((m) => `${m.from} -> ${m.to} ${m.key}`), []);
  // the attack did reach the aggregation: the clients advertised keys and sent their (input-independent) shares
  assert.ok(protocolSent(r, /\/secagg\/r1\/shares$/).length > 0);
}

describe('secagg deployed: data owners hosting clients, SERVER at the model owner', { timeout: 240_000 }, () => {
  it('an honest FedSGD round equals the plaintext reference within the fixed point error', async () => {
    const [r, ref] = [await round(), await reference()];
    assert.equal(r.error, undefined, `${String(r.error)}\n${r.logs.join('\n')}`);
    // the update moved the model, and SecAgg's 24 fractional bits keep the mean within ~2^-24 of the exact one
    assert.ok(maxDiff(ref, new ModelOwnerWeights().initial()) > 1e-4);
    assert.ok(maxDiff(r.weights, ref) < 1e-5, `max |difference| ${maxDiff(r.weights, ref)}`);
    // the gate's agreements went player to player, never through the driver
    const agree = r.sent.filter((m) => /\/agree\//.test(m.key));
    assert.ok(agree.length >= OWNERS.length * (OWNERS.length - 1));
    assert.ok(agree.every((m) => OWNERS.includes(m.from) && OWNERS.includes(m.to)), agree.map((m) => `${m.from}->${m.to}`).join(' '));
    // every hosted client took part with its own keys (6 advertisements per aggregation)
    assert.equal(new Set(protocolSent(r, /\/secagg\/r0\/advertise$/).map(sender)).size, OWNERS.length * PER);
  });

  it('attack: the victim gets the real weights, the other data owners zeros', async () => {
    const r = await round({
      tamper: (to, h, blobs) => (h['op'] === 'broadcast' && h['placement'] === 'CLIENTS' && to !== 'owner0' && blobs[0]!.byteLength > 1000 ? [new Uint8Array(blobs[0]!.byteLength)] : undefined),
    });
    refusedByAgreement(r);
  });

  it('attack: only one data owner gets other weights than the rest (every other player must check it too)', async () => {
    const r = await round({
      tamper: (to, h, blobs) => (h['op'] === 'broadcast' && h['placement'] === 'CLIENTS' && to === 'owner2' && blobs[0]!.byteLength > 1000 ? [new Uint8Array(blobs[0]!.byteLength)] : undefined),
    });
    refusedByAgreement(r);
  });

  it('a data owner lost before its clients advertise leaves two data owners in U1: the others refuse at the gate (minContributors), nothing masked is sent', async () => {
    const r = await round({ crash: 'owner2', crashAt: 'before-advertise' });
    assert.ok(r.error instanceof PolicyError, `${String(r.error)}\n${r.logs.join('\n')}`);
    assert.equal(r.error.rule, 'minContributors');
    assert.deepEqual(protocolSent(r, /\/secagg\/r[234]\//).map((m) => `${sender(m)} ${m.key}`), []);
  });

  it('attack: one data owner gets another plan (another threshold) than the rest', async () => {
    const r = await round({
      tamper: (to, h, blobs) => {
        if (h['op'] !== 'aggregate' || to !== 'owner2') return undefined;
        const plan = planFromBytes(blobs[0]!);
        return [planToBytes({ ...plan, params: { ...plan.params, threshold: 3 } })];
      },
    });
    assert.ok(r.error !== undefined, 'the round failed');
    // owner2 runs the plan it was given (its role set is made from the plan's parameters): the plan digest is
    // bound into the session id, so the shares between its clients and the others do not open ('ciphertext'),
    // and the gate would refuse the digests after that ('agreement'); either way before any masked input
    assert.ok(r.logs.some((l) => /rule "ciphertext"|PolicyError: .*agreement/.test(l)), r.logs.join('\n'));
    assert.deepEqual(protocolSent(r, /\/secagg\/r[234]\//).map((m) => `${m.from} -> ${m.to} ${m.key}`), []);
  });

  it('attack: SERVER lists a client both alive and dead: no client reveals anything', async () => {
    const victim = 1; // owner0:1
    const r = await round({
      tamperProto: (_to, key, payload) => {
        if (!key.endsWith('/secagg/r4/unmask')) return undefined;
        const req = unmaskFromBytes(payload, OWNERS.length * PER);
        return unmaskToBytes({ alive: req.alive, dead: [...req.dead, victim] });
      },
    });
    assert.ok(r.error !== undefined, 'the round failed');
    // the masked inputs went out (the gate held: the commands agree), but no share of any kind came back
    assert.ok(protocolSent(r, /\/secagg\/r2\/masked$/).length > 0);
    assert.deepEqual(protocolSent(r, /\/secagg\/r4\/reveal$/).map(sender), []);
    assert.ok(r.logs.some((l) => /SecAggViolationError.*(alive-and-dead|self-dead)/.test(l)), r.logs.join('\n'));
  });

  for (const [label, local, rule] of [
    ['--protocols aby3 (secagg not among them)', { protocols: ['aby3'] }, 'protocol'],
    ['--secagg-adversary malicious (the plan is semi-honest)', { secaggAdversary: 'malicious' }, 'secagg'],
    ['--secagg-min-threshold 5 (the plan has t = 2)', { secaggMinThreshold: 5 }, 'secagg'],
  ] as const) {
    it(`a data owner whose policy refuses: ${label}, before it sends a byte`, async () => {
      const r = await round({ local: { owner2: local as LocalPolicyOptions } });
      assert.ok(r.error instanceof PolicyError, String(r.error));
      assert.equal(r.error.rule, rule);
      assert.equal(r.error.party, 'owner2');
      // owner2 and its clients sent nothing for the aggregation: no agreement, no protocol message
      assert.deepEqual(r.sent.filter((m) => fromPlayer(m, 'owner2') && /\/(agree|secagg)\//.test(m.key)).map((m) => m.key), []);
    });
  }

  it('a data owner lost after its masked inputs is a dropout: the round completes over the survivors', async () => {
    const r = await round({ crash: 'owner2' });
    assert.equal(r.error, undefined, `${String(r.error)}\n${r.logs.join('\n')}`);
    assert.equal(r.dropouts.length, 1);
    assert.deepEqual([...r.dropouts[0]!.players], ['owner2']);
    // owner2's clients' inputs are in the sum (U3); they only missed the unmasking round, which needs no one in particular
    assert.ok(protocolSent(r, /\/secagg\/r2\/masked$/, ['owner2']).length === PER);
    assert.deepEqual(protocolSent(r, /\/secagg\/r4\/reveal$/, ['owner2']), []);
    const ref = await reference();
    assert.ok(maxDiff(r.weights, ref) < 1e-5, `max |difference| ${maxDiff(r.weights, ref)}`);
  });

  it('malicious-server variant (keys pinned from the certificates): honest round, and the split view refused', async () => {
    const honest = await round({ adversary: 'malicious', threshold: 5 });
    assert.equal(honest.error, undefined, `${String(honest.error)}\n${honest.logs.join('\n')}`);
    assert.ok(maxDiff(honest.weights, await reference()) < 1e-5);
    // split view: the holders hosted by owner1 are told owner0:0 dropped, the others that it is alive
    const victim = 0;
    const r = await round({
      adversary: 'malicious',
      threshold: 5,
      tamperProto: (to, key, payload) => {
        // (a hosted client's messages travel over its player's link: '@model-owner>owner1:0/...')
        if (!key.endsWith('/secagg/r4/unmask') || to !== 'owner1') return undefined;
        const req = unmaskFromBytes(payload, OWNERS.length * PER);
        return unmaskToBytes({ alive: req.alive.filter((u) => u !== victim), dead: [...req.dead, victim] });
      },
    });
    assert.ok(r.error !== undefined, 'the round failed');
    // no key share of the victim reached the driver (owner1's clients refused; the others revealed its seed share only)
    const reveals = protocolSent(r, /\/secagg\/r4\/reveal$/);
    assert.ok(reveals.every((m) => !fromPlayer(m, 'owner1')), reveals.map(sender).join(' '));
    const keyShares = reveals.flatMap((m) => revealFromBytes(m.bytes, OWNERS.length * PER)).filter((x) => x.owner === victim && x.kind === 'key');
    assert.equal(keyShares.length, 0, 'a key share of the victim reached the driver');
    assert.ok(r.logs.some((l) => /inconsistent-survivors/.test(l)), r.logs.join('\n'));
  });

  it("malicious-server variant: a hosted client's signature does not stand for another client of the same player", async () => {
    // the clients of owner0 sign with owner0's one key; SERVER passes owner0:0's signature off as owner0:1's
    const r = await round({
      adversary: 'malicious',
      threshold: 5,
      tamperProto: (_to, key, payload) => {
        if (!key.endsWith('/secagg/r4/signatures')) return undefined;
        const sigs = signaturesFromBytes(payload, OWNERS.length * PER);
        const a = sigs.find((x) => x.index === 0);
        return a === undefined ? undefined : signaturesToBytes(sigs.map((x) => (x.index === 1 ? { index: 1, sig: a.sig } : x)));
      },
    });
    assert.ok(r.error !== undefined, 'the round failed');
    assert.deepEqual(protocolSent(r, /\/secagg\/r4\/reveal$/).map(sender), []);
    assert.ok(r.logs.some((l) => /inconsistent-survivors/.test(l)), r.logs.join('\n'));
  });
});

/** The model's initial weights (seed 3). */
class ModelOwnerWeights {
  initial(): Float32Array {
    const mo = new ModelOwner('model-owner', MODEL, data, { seed: 3, optimizer: sgd({ lr: 0.5 }) });
    const w = mo.shareWeights();
    mo.dispose();
    return w;
  }
}
