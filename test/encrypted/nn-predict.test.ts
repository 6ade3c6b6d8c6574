/**
 * Private prediction (src/encrypted/nn/model.ts), as an attacker would look
 * at it: what each party receives (messages and bytes per sender -> receiver
 * pair, recorded by RoundTransport), equal to what the protocol must send
 * and nothing more; the servers' views do not depend on the input; the
 * prediction cannot be revealed to the model owner (sensitivity); argument
 * errors before any message; each layer's rounds and bytes equal the op
 * table's; SPMD (each party in its own simulated process).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initTf, tf } from '../../src/learning/tf.js';
import { ABY3, EncodingRangeError, Player, SensitivityError, ShapeMismatchError, type Precision } from '../../src/encrypted/index.js';
import { argmaxByPairs, convertModel, encryptModel, forwardLayer, inferencePlan, type ConvertedModel, type LayerSpec } from '../../src/encrypted/nn/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { client, owner, randomize, s0, s1, s2, tfPredict, uniform } from './nn-helpers.js';
import { RoundTransport, type DepthMsg } from './rounds.js';
import { assertSameFrequencies, assertUniformBits } from './uniform.js';

let model: tf.LayersModel;
let converted: ConvertedModel;
const IN = [8, 8, 1];
const PER = 64;

before(async () => {
  await initTf();
  const L = tf.layers;
  model = tf.sequential({ layers: [
    L.conv2d({ inputShape: IN, filters: 4, kernelSize: 3, activation: 'relu' }), L.maxPooling2d({ poolSize: 2 }), L.flatten(),
    L.dense({ units: 16, activation: 'relu' }), L.dense({ units: 5, activation: 'softmax' }),
  ] });
  randomize(model, 21);
  converted = convertModel(model);
});

const argmaxRows = (v: Float32Array, c: number): number[] => Array.from({ length: v.length / c }, (_, i) => {
  let a = 0;
  for (let j = 1; j < c; j++) if (v[i * c + j]! > v[i * c + a]!) a = j;
  return a;
});

/** Bytes per (from -> to) pair of `log`, and the pairs' message counts. */
function pairs(log: DepthMsg[]): Map<string, { bytes: number; messages: number }> {
  const m = new Map<string, { bytes: number; messages: number }>();
  for (const x of log) {
    const k = `${x.from}->${x.to}`;
    const e = m.get(k) ?? { bytes: 0, messages: 0 };
    e.bytes += x.bytes;
    e.messages++;
    m.set(k, e);
  }
  return m;
}
const isServer = (n: string) => /^server[012]$/.test(n);

describe('private prediction: what each party receives', () => {
  it('encryptModel: the owner sends each weight tensor once (seeds + two components), receives nothing; the client takes no part', async () => {
    const t = new RoundTransport();
    const p = new ABY3(s0, s1, s2, { transport: t, players: [owner, client] });
    await encryptModel(converted, p, { owner });
    const got = pairs(t.log);
    const sizes = converted.weights.flat().map((w) => w.length);
    assert.deepEqual(got.get('owner->server0'), { bytes: 32 * sizes.length, messages: sizes.length });
    for (const s of ['server1', 'server2']) assert.deepEqual(got.get(`owner->${s}`), { bytes: sizes.reduce((a, n) => a + 16 + 8 * n, 0), messages: 2 * sizes.length });
    assert.deepEqual([...got.keys()].filter((k) => !k.startsWith('owner->') && !(isServer(k.split('->')[0]!) && isServer(k.split('->')[1]!))), []);
    // the components each server receives are uniform (the weights minus two PRG streams)
    assertUniformBits(t.log.filter((m) => m.from === 'owner' && m.bytes > 16).map((m) => m.payload), 'owner -> server1/2 weight components');
  });

  for (const output of ['class', 'logits'] as const) {
    it(`predictFor (${output}): the client sends its input's shares and receives exactly the two reveal messages of its result; the owner receives nothing`, async () => {
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { transport: t, players: [owner, client] });
      const em = await encryptModel(converted, p, { owner });
      t.reset();
      const B = 4;
      const x = uniform(3, B * PER, 0, 1);
      const y = (await em.predictFor(client, x, { output, batchSize: B }))!;
      const want = tfPredict(model, x, [B, ...IN]);
      if (output === 'class') assert.deepEqual(Array.from(y), argmaxRows(want, 5));
      else assert.ok(y.every((v, i) => Math.abs(v - want[i]!) < 3e-3));
      const got = pairs(t.log);
      const outElems = output === 'class' ? B : B * 5;
      assert.deepEqual(got.get('client->server0'), { bytes: 32, messages: 1 });
      for (const s of ['server1', 'server2']) assert.deepEqual(got.get(`client->${s}`), { bytes: 16 + 8 * B * PER, messages: 2 });
      assert.deepEqual(got.get('server0->client'), { bytes: 8 * outElems, messages: 1 });
      assert.deepEqual(got.get('server2->client'), { bytes: 8 * outElems, messages: 1 });
      assert.equal(got.get('server1->client'), undefined);
      // nothing to or from the owner; everything else is between servers
      assert.deepEqual(t.log.filter((m) => m.from === 'owner' || m.to === 'owner'), []);
      assert.deepEqual([...got.keys()].filter((k) => k.includes('client') === false && !k.split('->').every(isServer)), []);
      if (output === 'class') assert.deepEqual(Array.from((await em.predictFor(client, x, { output, batchSize: B, argmax: 'tree' }))!), argmaxRows(want, 5));
    });
  }

  it('the servers\' views do not depend on the input, the client\'s reveal shares are uniform', async () => {
    const views = async (x: Float32Array) => {
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { transport: t, players: [owner, client] });
      const em = await encryptModel(converted, p, { owner });
      t.reset();
      await em.predictFor(client, x, { output: 'class', batchSize: 256 });
      return t.log;
    };
    const a = await views(uniform(5, 256 * PER, 0, 1));
    const b = await views(new Float32Array(256 * PER).fill(0.5)); // a constant image: every server message must still look the same
    for (const s of ['server0', 'server1', 'server2']) {
      const pick = (log: DepthMsg[]) => log.filter((m) => m.to === s && m.bytes >= 64).map((m) => m.payload);
      assertSameFrequencies(pick(a), pick(b), `what ${s} receives`);
    }
    // server2's reveal message is its uniform component; server0's is the class minus it
    assertUniformBits(a.filter((m) => m.from === 'server2' && m.to === 'client').map((m) => m.payload), 'server2 -> client');
    assertUniformBits(a.filter((m) => m.from === 'client' && m.to === 'server1').map((m) => m.payload).filter((q) => q.length > 16), 'client -> server1');
  });

  it('a client-sensitive prediction cannot be revealed to the owner; a client outside the model\'s clients gets nothing (before any message)', async () => {
    const t = new RoundTransport();
    const p = new ABY3(s0, s1, s2, { transport: t, players: [owner, client] });
    const em = await encryptModel(converted, p, { owner });
    const x = await p.encrypt(client, uniform(4, 2 * PER, 0, 1), { shape: [2, ...IN], sensitivity: [client] });
    const y = await em.predict(x);
    assert.deepEqual(y.sensitivity?.map((q) => q.name), ['client']);
    t.reset();
    assert.throws(() => p.reveal(y, owner), SensitivityError);
    assert.throws(() => p.revealInto(y, owner, new Float32Array(10)), SensitivityError);
    const c = await em.predictClass(x);
    t.reset();
    assert.throws(() => p.reveal(c, owner), SensitivityError);
    assert.deepEqual(t.log, []);
    // weights restricted to {owner, client}: another client is refused before sending its input
    const mallory = new Player('mallory');
    const p2 = new ABY3(s0, s1, s2, { transport: t, players: [owner, client, mallory] });
    const em2 = await encryptModel(converted, p2, { owner, clients: [client] });
    t.reset();
    await assert.rejects(em2.predictFor(mallory, uniform(4, PER, 0, 1)), (e: Error) => e instanceof SensitivityError && /client 'mallory' is outside the model's sensitivity set \{owner, client\}/.test(e.message));
    assert.deepEqual(t.log, []);
  });

  it('predictFor shares each batch from the client with sensitivity {client} and reveals to the client only', async () => {
    const calls: string[] = [];
    class Spy extends ABY3 {
      override encrypt(...a: Parameters<ABY3['encrypt']>) {
        calls.push(`encrypt ${a[0].name} {${a[2]?.sensitivity?.map((q) => q.name).join(', ')}}`);
        return super.encrypt(...a);
      }
      override revealInto<O extends Float32Array | Float64Array>(x: Parameters<ABY3['revealInto']>[0], player: Player, out: O) {
        calls.push(`reveal to ${player.name} {${x.sensitivity?.map((q) => q.name).join(', ')}}`);
        return super.revealInto(x, player, out);
      }
    }
    const p = new Spy(s0, s1, s2, { players: [owner, client] });
    const em = await encryptModel(converted, p, { owner });
    calls.length = 0;
    await em.predictFor(client, uniform(6, 3 * PER, 0, 1), { batchSize: 2 });
    assert.deepEqual(calls, ['encrypt client {client}', 'reveal to client {client}', 'encrypt client {client}', 'reveal to client {client}']);
  });

  it('argument errors name the argument, before any message', async () => {
    const t = new RoundTransport();
    const p = new ABY3(s0, s1, s2, { transport: t, players: [owner, client] });
    const em = await encryptModel(converted, p, { owner });
    t.reset();
    await assert.rejects(em.predictFor(s1, uniform(1, PER)), /argument 'client' must not be a compute server/);
    await assert.rejects(em.predictFor(client, uniform(1, PER + 1)), (e: Error) => e instanceof ShapeMismatchError && /argument 'images' has 65 values, not a multiple of the input size 64/.test(e.message));
    await assert.rejects(em.predictFor(client, uniform(1, PER), { batchSize: 0 }), /option 'batchSize' must be a positive integer/);
    await assert.rejects(em.predictFor(client, uniform(1, PER), { output: 'probs' as never }), /option 'output' must be 'class' or 'logits'/);
    await assert.rejects(encryptModel(converted, p, { owner: s0 }), /option 'owner' must not be a compute server/);
    const bad = { spec: converted.spec, weights: converted.weights.map((ws, i) => (i === 0 ? [ws[0]!.subarray(1), ws[1]!] : ws)) };
    await assert.rejects(encryptModel(bad, p, { owner }), /layer 0 'conv2d_Conv2D\d+': weight 0 has 35 values, expected shape \[3, 3, 1, 4\]/);
    const huge = { spec: converted.spec, weights: converted.weights.map((ws, i) => (i === 4 ? [ws[0]!.map((v, k) => (k === 7 ? 1e15 : v)), ws[1]!] : ws)) };
    await assert.rejects(encryptModel(huge, p, { owner }), (e: Error) => e instanceof EncodingRangeError && /encryptModel: layer 3 'dense_Dense\d+': argument 'weight 0' element 7 is 9\d+; fixed-point values must be finite/.test(e.message));
    const wrong = await p.encrypt(client, uniform(2, 2 * 63), { shape: [2, 63] });
    t.reset();
    assert.throws(() => em.predict(wrong), (e: Error) => e instanceof ShapeMismatchError && /argument 'x' has shape \[2, 63\], expected \[batch, 8, 8, 1\]/.test(e.message));
    assert.throws(() => em.predictClass(wrong), (e: Error) => e instanceof ShapeMismatchError && /EncryptedModel.predictClass: argument 'x'/.test(e.message));
    assert.throws(() => em.predict(uniform(1, PER) as never), /argument 'x' must be a ReplicatedTensor of the model's protocol, got Float32Array/);
    const other = new ABY3(s0, s1, s2, { transport: new MemoryTransport(), players: [owner, client] });
    const xo = await other.encrypt(client, uniform(1, PER), { shape: [1, ...IN] });
    assert.throws(() => em.predict(xo), /argument 'x' belongs to protocol 'aby3-\d+', the model to 'aby3-\d+'/);
    assert.deepEqual(t.log, []);
  });
});

describe('inference plan', () => {
  it('relu / sigmoid before a 2x2 max pool run after it; identities dropped; trailing softmax/sigmoid dropped for the class', () => {
    const l = (kind: string): LayerSpec => ({ kind, name: kind } as LayerSpec);
    const layers = ['identity', 'conv2d', 'relu', 'identity', 'maxPool2x2', 'conv2d', 'sigmoid', 'maxPool2x2', 'maxPool2x2', 'flatten', 'dense', 'relu', 'dense', 'softmax'].map(l);
    assert.deepEqual(inferencePlan(layers), [1, 4, 2, 5, 7, 8, 6, 9, 10, 11, 12, 13]);
    assert.deepEqual(inferencePlan(layers, true), [1, 4, 2, 5, 7, 8, 6, 9, 10, 11, 12]);
    assert.deepEqual(inferencePlan([l('dense'), l('relu'), l('dense')], true), [0, 1, 2]); // relu is not strictly increasing: kept
    assert.deepEqual(inferencePlan([l('dense'), l('sigmoid'), l('relu')], true), [0, 1, 2]); // a trailing relu changes the argmax (ties at 0): kept
    assert.deepEqual(inferencePlan([l('softmax'), l('maxPool2x2'), l('batchNorm'), l('maxPool2x2')]), [0, 1, 2, 3]); // not elementwise / not monotone: kept
  });
});

for (const precision of ['low', 'high'] as Precision[]) {
  describe(`the class by pairwise comparisons (precision ${precision})`, () => {
    it('equals ABY3\'s tree argmax (ties: the lowest index) on random tied inputs; 2 comparisons deep; 55 comparisons per row of 10', async () => {
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [owner] });
      for (const shape of [[128, 10], [7, 3], [2, 3, 5], [4, 2], [3, 17]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const xs = Float64Array.from(uniform(n + shape.length, n, 0, 1), (v) => Math.floor(v * 5) / 4 - 0.5); // 5 values: many ties
        const x = await p.encrypt(owner, xs, { shape });
        t.reset();
        const a = await argmaxByPairs(p, x);
        const [rounds, bytes] = [t.rounds(), t.bytes()];
        const b = await p.argmax(x, -1);
        assert.equal(a.encoding, 'int');
        assert.deepEqual(a.shape, shape.slice(0, -1));
        assert.deepEqual(Array.from((await p.reveal(a, owner)).read()), Array.from((await p.reveal(b, owner)).read()), `shape ${JSON.stringify(shape)}`);
        if (shape[1] === 10) {
          assert.equal(rounds, precision === 'low' ? 17 : 21);
          const per = precision === 'low' ? [46.625, 30.625, 30.625] : [94.5, 62.5, 62.5];
          assert.deepEqual(bytes, per.map((v) => v * 128 * 55));
        }
      }
    });
  });
}

/**
 * Each layer's cost under ABY3 (the docs' layer table): critical-path rounds
 * and bytes per element per server from the op table, on shapes whose element
 * counts are multiples of 32 (exact bit-plane counts).
 */
for (const precision of ['low', 'high'] as Precision[]) {
  describe(`layer costs (precision ${precision}): rounds and bytes equal the op table`, () => {
    const hi = precision === 'high';
    const E = hi ? 16 : 8;
    const cases: { layer: LayerSpec; in: number[]; params: number[][]; rounds: number; perServer: [number, number, number]; per: number }[] = [
      // matmul / conv2d: 2 rounds, one element per output element per server
      { layer: { kind: 'dense', name: 'd', units: 32, useBias: true }, in: [2, 16], params: [[16, 32], [32]], rounds: 2, perServer: [E, E, E], per: 64 },
      { layer: { kind: 'conv2d', name: 'c', filters: 8, kernel: [3, 3], strides: [1, 1], padding: 'same', useBias: true }, in: [2, 4, 4, 2], params: [[3, 3, 2, 8], [8]], rounds: 2, perServer: [E, E, E], per: 256 },
      { layer: { kind: 'relu', name: 'r' }, in: [2, 64], params: [], rounds: hi ? 11 : 10, perServer: hi ? [110.5, 78.5, 94.5] : [54.625, 38.625, 46.625], per: 128 },
      { layer: { kind: 'maxPool2x2', name: 'm' }, in: [2, 4, 4, 8], params: [], rounds: hi ? 23 : 20, perServer: hi ? [331.5, 235.5, 235.5] : [163.875, 115.875, 115.875], per: 64 },
      { layer: { kind: 'avgPool', name: 'a', size: [2, 2], strides: [2, 2] }, in: [2, 4, 4, 8], params: [], rounds: 1, perServer: [E, E, 0], per: 64 },
      { layer: { kind: 'globalAvgPool', name: 'g' }, in: [4, 2, 2, 8], params: [], rounds: 1, perServer: [E, E, 0], per: 32 },
      { layer: { kind: 'batchNorm', name: 'b' }, in: [2, 4, 8], params: [[8], [8]], rounds: 2, perServer: [E, E, E], per: 64 },
      { layer: { kind: 'flatten', name: 'f' }, in: [2, 4, 4], params: [], rounds: 0, perServer: [0, 0, 0], per: 32 },
      { layer: { kind: 'reshape', name: 'r', targetShape: [16] }, in: [2, 4, 4], params: [], rounds: 0, perServer: [0, 0, 0], per: 32 },
      { layer: { kind: 'identity', name: 'i' }, in: [2, 4, 4], params: [], rounds: 0, perServer: [0, 0, 0], per: 32 },
    ];
    for (const c of cases) {
      it(`${c.layer.kind}`, async () => {
        const t = new RoundTransport();
        const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [owner] });
        const n = c.in.reduce((a, b) => a * b, 1);
        const x = await p.encrypt(owner, uniform(1, n), { shape: c.in });
        const params = await Promise.all(c.params.map((s, i) => p.encrypt(owner, uniform(2 + i, s.reduce((a, b) => a * b, 1)), { shape: s })));
        t.reset();
        await forwardLayer(p, c.layer, 0, params, x);
        assert.equal(t.rounds(), c.rounds, 'rounds');
        assert.deepEqual(t.bytes(), c.perServer.map((b) => b * c.per), 'bytes per server');
      });
    }
  });
}

describe('SPMD: each party in its own simulated process', () => {
  it('the owner shares the weights, the client its images, the servers hold the spec only: the plaintext classes', async () => {
    const B = 3;
    const x = uniform(8, B * PER, 0, 1);
    const want = argmaxRows(tfPredict(model, x, [B, ...IN]), 5);
    for (const groups of [[['server0'], ['server1'], ['server2'], ['owner'], ['client']], [['server0', 'server1', 'server2'], ['owner', 'client']]]) {
      const hub = new MemoryHub();
      const results = await Promise.all(groups.map(async (local) => {
        const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local }), players: [owner, client], id: 'spmd-nn', timeoutMs: 20000 });
        const em = await encryptModel(local.includes('owner') ? converted : { spec: converted.spec }, p, { owner });
        return em.predictFor(client, local.includes('client') ? x : undefined, { count: B });
      }));
      groups.forEach((g, i) => {
        if (g.includes('client')) assert.deepEqual(Array.from(results[i]!), want, g.join('+'));
        else assert.equal(results[i], undefined);
      });
    }
  });
});
