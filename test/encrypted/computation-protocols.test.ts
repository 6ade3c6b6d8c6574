/**
 * Computations across protocols and processes: one abstract computation made
 * concrete under ABY3 and under Pond gives the plaintext result within the
 * fixed-point bound; SPMD runs (one MemoryTransport per party on a MemoryHub);
 * JSON round trips (abstract and concrete) run in a second simulated process
 * set with the same result; malformed or tampered JSON is refused by name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ABY3, computation, computationFromJSON, ConcreteComputation, ops, PlacementError, Player, Pond, PrivateTensor, privateComputation, ProtocolMismatchError,
  SensitivityError, SerializationError, TensorSpec, UnknownOpError, withProtocol, type AnyProtocol, type ComputationJSON, type Result,
} from '../../src/encrypted/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { randn, rng } from './computation-data.js';

const [s0, s1, s2, client, owner, carol] = ['server0', 'server1', 'server2', 'client', 'owner', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];
const everyone = [s0, s1, s2, client, owner, carol].map((p) => p.name);


const [m, k, n] = [4, 5, 3];

/** h = x @ w + b; returns [sum over rows of h∘h - h/2, -h], both revealed to carol. */
const model = computation(function model(x, w, b) {
  const h = ops.add(ops.matmul(ops.encrypt(x, { sensitivity: null }), ops.encrypt(w, { sensitivity: null })), ops.encrypt(b, { sensitivity: null }));
  const y = ops.sub(ops.mul(h, h), ops.mul(h, 0.5));
  return [ops.reveal(ops.sum(y, 0), carol), ops.reveal(ops.neg(h), carol)];
}, { inputNames: ['x', 'w', 'b'] });

function reference(x: Float64Array, w: Float64Array, b: Float64Array): [Float64Array, Float64Array] {
  const h = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let acc = b[j]!;
    for (let l = 0; l < k; l++) acc += x[i * k + l]! * w[l * n + j]!;
    h[i * n + j] = acc;
  }
  const s = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) s[j] += h[i * n + j]! ** 2 - h[i * n + j]! / 2;
  return [s, h.map((v) => -v)];
}

/** The bound of docs/encrypted.md, composed: h = x@w + b with |x|, |w|, |b| <= 1 (|h| <= H = k + 1). */
function bounds(u: number): [number, number] {
  const H = k + 1;
  const eh = k * (u + (u * u) / 4) + u + u / 2 + u; // matmul, encoding of b, add
  const eMul = 2 * H * eh + eh * eh + H * u + (u * u) / 4 + u; // h∘h from an h off by eh
  const eHalf = 0.5 * eh + (H + 0.5) * (u / 2) + (u * u) / 4 + u; // mulPublic 0.5
  return [m * (eMul + eHalf + u), eh];
}

const signature = [TensorSpec.private(client, { shape: [m, k] }), TensorSpec.private(owner, { shape: [k, n] }), TensorSpec.private(owner, { shape: [n] })];

const close = (got: ArrayLike<number>, want: ArrayLike<number>, bound: number, what: string): void => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= bound, `${what}: element ${i}: ${got[i]} vs ${want[i]} (bound ${bound})`);
};

type Make = (me: string | undefined, hub: MemoryHub | undefined) => AnyProtocol;
const makers = (precision: 'low' | 'high', id: string): Record<string, Make> => ({
  aby3: (me, hub) => new ABY3(s0, s1, s2, { precision, id: `${id}-aby3-${precision}`, players: [carol], ...(hub ? { transport: new MemoryTransport({ hub, local: [me!] }) } : {}) }),
  pond: (me, hub) => new Pond(s0, s1, s2, { precision, id: `${id}-pond-${precision}`, players: [carol], ...(hub ? { transport: new MemoryTransport({ hub, local: [me!] }) } : {}) }),
});

/** The parties' arguments as each process holds them: values only at their owner. */
function argsAt(me: string | undefined, x: Float64Array, w: Float64Array, b: Float64Array): PrivateTensor[] {
  const at = (p: Player, shape: number[], v: Float64Array): PrivateTensor => new PrivateTensor(p, shape, me === undefined || me === p.name ? v : undefined);
  return [at(client, [m, k], x), at(owner, [k, n], w), at(owner, [n], b)];
}

/** Run `program` once per party, each in its own "process" on a fresh hub; resolves with carol's result. */
async function spmd(program: (me: string, hub: MemoryHub) => Promise<Result>): Promise<PrivateTensor[]> {
  const hub = new MemoryHub();
  const results = await Promise.all(everyone.map((me) => program(me, hub)));
  assert.equal(hub.pending(), 0, 'no message left unclaimed');
  everyone.forEach((who, i) => {
    if (who !== 'carol') for (const r of results[i] as PrivateTensor[]) assert.equal(r.isLocal, false, `${who} does not get the result`);
  });
  return results[everyone.indexOf('carol')] as PrivateTensor[];
}

for (const precision of ['low', 'high'] as const) {
  const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
  const [bs, bh] = bounds(u);

  describe(`abstract vs concrete (precision ${precision})`, () => {
    it('one abstract computation, concrete under ABY3 and under Pond: the plaintext result within the fixed-point bound', async () => {
      const r = rng(precision === 'low' ? 11 : 12);
      for (let trial = 0; trial < 3; trial++) {
        const [x, w, b] = [randn(r, m * k), randn(r, k * n), randn(r, n)];
        const [ws, wh] = reference(x, w, b);
        for (const [kind, make] of Object.entries(makers(precision, `cmp-t${trial}`))) {
          const p = make(undefined, undefined);
          const c = model.concrete(p, signature);
          assert.ok(c instanceof ConcreteComputation);
          assert.equal(c.protocol, p);
          assert.deepEqual(c.outputTypes.map((t) => `${t.kind}@${t.placement.map((q) => q.name).join(',')}`), ['private@carol', 'private@carol']);
          const [s, negH] = (await c.run(...argsAt(undefined, x, w, b))) as PrivateTensor[];
          close(s!.read(), ws, bs, `${kind} trial ${trial}: sum`);
          close(negH!.read(), wh, bh, `${kind} trial ${trial}: -h`);
          // and the same, abstract, called in the protocol's context
          const [s2v] = (await withProtocol(p, () => model(...argsAt(undefined, x, w, b)))) as PrivateTensor[];
          close(s2v!.read(), ws, bs, `${kind} trial ${trial}: in context`);
        }
      }
    });

    it('truncate, as the engine does it: (x · 2^f) / 2^f = x within one unit', async () => {
      const f = precision === 'low' ? 16 : 32;
      const scaleBack = computation((x) => ops.reveal(ops.truncate(ops.mul(ops.encrypt(x, { sensitivity: null }), 2 ** f)), carol));
      const x = randn(rng(13), 10);
      for (const make of Object.values(makers(precision, 'trunc'))) {
        const out = (await withProtocol(make(undefined, undefined), () => scaleBack(new PrivateTensor(client, [10], x)))) as PrivateTensor;
        close(out.read(), x, 2 * u, 'truncate');
      }
    });
  });

  describe(`serialization (precision ${precision})`, () => {
    for (const kind of ['aby3', 'pond'] as const) {
      it(`${kind}: a concrete computation's JSON runs in a second process set with the same result; the abstract one too`, async () => {
        const r = rng(precision === 'low' ? 21 : 22);
        const [x, w, b] = [randn(r, m * k), randn(r, k * n), randn(r, n)];
        const [ws, wh] = reference(x, w, b);
        const make = makers(precision, `ser-${kind}`)[kind]!;
        let json = '';
        const first = await spmd(async (me, hub) => {
          const c = model.concrete(make(me, hub), signature);
          json = JSON.stringify(c);
          return c.run(...argsAt(me, x, w, b));
        });
        const parsed = JSON.parse(json) as ComputationJSON;
        assert.equal(parsed.concrete?.protocol.kind, kind);
        assert.ok(!json.includes('=>') && !json.includes('function') && !json.includes('ops.'), 'no source code in the JSON');
        // a second, separate set of processes: each reads the JSON and binds it to its own protocol instance
        const second = await spmd(async (me, hub) => {
          const c = computationFromJSON(json, { protocol: make(me, hub) });
          assert.ok(c instanceof ConcreteComputation);
          return c.run(...argsAt(me, x, w, b));
        });
        const abstractJson = JSON.stringify(model);
        assert.equal((JSON.parse(abstractJson) as ComputationJSON).concrete, undefined);
        const third = await spmd(async (me, hub) => {
          const c = computationFromJSON(abstractJson) as typeof model;
          return withProtocol(make(me, hub), () => c(...argsAt(me, x, w, b)));
        });
        for (const [label, res] of [['first', first], ['second', second], ['third', third]] as const) {
          close(res[0]!.read(), ws, bs, `${label}: sum`);
          close(res[1]!.read(), wh, bh, `${label}: -h`);
        }
        // the two runs agree with each other within twice the bound (share truncation is randomized)
        close(second[0]!.read(), first[0]!.read(), 2 * bs, 'second vs first');
      });
    }

    it('a JSON naming an unknown op is refused by name; a bad reference, a tampered reveal and another protocol are refused', () => {
      const json = JSON.parse(JSON.stringify(model.concrete(new ABY3(s0, s1, s2, { precision, players: [carol] }), signature))) as ComputationJSON;
      const edit = (f: (j: ComputationJSON) => void): ComputationJSON => {
        const j = structuredClone(json);
        f(j);
        return j;
      };
      const aby3 = new ABY3(s0, s1, s2, { precision, players: [carol] });
      assert.throws(() => computationFromJSON(edit((j) => (j.nodes[3]!.op = 'exfiltrate')), { protocol: aby3 }), (e: Error) => e instanceof UnknownOpError && /node 3/.test(e.message) && /"exfiltrate"/.test(e.message));
      assert.throws(() => computationFromJSON(edit((j) => (j.nodes[0]!.args = [999])), { protocol: aby3 }), (e: Error) => e instanceof SerializationError && /node 0/.test(e.message));
      // the encrypted inputs keep their owner's sensitivity: revealing to carol is then refused when the JSON is read
      assert.throws(() => computationFromJSON(edit((j) => j.nodes.forEach((nd) => nd.op === 'encrypt' && delete nd.attrs['sensitivity'])), { protocol: aby3 }), SensitivityError);
      assert.throws(() => computationFromJSON(json, { protocol: new Pond(s0, s1, s2, { precision }) }), ProtocolMismatchError);
      assert.throws(() => computationFromJSON(json), /needs option 'protocol'/);
      assert.throws(() => computationFromJSON(edit((j) => (j.format = 'x' as never))), SerializationError);
    });

    it("ABY3's option truncation: 'deterministic' is carried in the JSON; a protocol with the other truncation is refused", () => {
      const det = new ABY3(s0, s1, s2, { precision, players: [carol], truncation: 'deterministic' });
      const json = JSON.parse(JSON.stringify(model.concrete(det, signature))) as ComputationJSON;
      assert.equal(json.concrete?.protocol.truncation, 'deterministic');
      assert.ok(computationFromJSON(json, { protocol: new ABY3(s0, s1, s2, { precision, players: [carol], truncation: 'deterministic' }) }) instanceof ConcreteComputation);
      const mismatch = (e: Error) => e instanceof ProtocolMismatchError && /deterministic truncation/.test(e.message) && /option truncation 'probabilistic'/.test(e.message);
      assert.throws(() => computationFromJSON(json, { protocol: new ABY3(s0, s1, s2, { precision, players: [carol] }) }), mismatch);
      const prob = JSON.parse(JSON.stringify(model.concrete(new ABY3(s0, s1, s2, { precision, players: [carol] }), signature))) as ComputationJSON;
      assert.equal(prob.concrete?.protocol.truncation, undefined);
      assert.throws(() => computationFromJSON(prob, { protocol: det }), ProtocolMismatchError);
      assert.throws(() => computationFromJSON({ ...json, concrete: { ...json.concrete!, protocol: { ...json.concrete!.protocol, truncation: 'exact' } } }, { protocol: det }), (e: Error) => e instanceof SerializationError && /truncation/.test(e.message));
    });

    it("ABY3's option comparisonBits below the ring's bits is carried in the JSON; a protocol comparing on other bits is refused", () => {
      const k = precision === 'low' ? 32 : 64;
      const short = new ABY3(s0, s1, s2, { precision, players: [carol], comparisonBits: k });
      const json = JSON.parse(JSON.stringify(model.concrete(short, signature))) as ComputationJSON;
      assert.equal(json.concrete?.protocol.comparisonBits, k);
      assert.ok(computationFromJSON(json, { protocol: new ABY3(s0, s1, s2, { precision, players: [carol], comparisonBits: k }) }) instanceof ConcreteComputation);
      const mismatch = (e: Error) => e instanceof ProtocolMismatchError && new RegExp(`comparisons on ${k} bits`).test(e.message) && /option comparisonBits/.test(e.message);
      assert.throws(() => computationFromJSON(json, { protocol: new ABY3(s0, s1, s2, { precision, players: [carol] }) }), mismatch);
      assert.throws(() => computationFromJSON(json, { protocol: new ABY3(s0, s1, s2, { precision, players: [carol], comparisonBits: k + 1 }) }), mismatch);
      const full = JSON.parse(JSON.stringify(model.concrete(new ABY3(s0, s1, s2, { precision, players: [carol] }), signature))) as ComputationJSON;
      assert.equal(full.concrete?.protocol.comparisonBits, undefined, 'the default (the ring\'s bits) is not written');
      assert.throws(() => computationFromJSON(full, { protocol: short }), ProtocolMismatchError);
      for (const bad of [1.5, 'x', precision === 'low' ? 64 : 128]) {
        assert.throws(() => computationFromJSON({ ...json, concrete: { ...json.concrete!, protocol: { ...json.concrete!.protocol, comparisonBits: bad as number } } }, { protocol: short }), (e: Error) => e instanceof SerializationError && /comparisonBits/.test(e.message));
      }
    });
  });
}

describe('serialization of a private computation', () => {
  it('round trips and keeps its checks: a tampered reveal elsewhere is refused when the JSON is read and typed', async () => {
    const rescale = privateComputation(client, (raw) => ops.mul(ops.sub(raw, 0.5), 2), { inputNames: ['raw'] });
    const j = JSON.parse(JSON.stringify(rescale)) as ComputationJSON;
    const back = computationFromJSON(j) as typeof rescale;
    const v = Float64Array.of(0, 0.25, 1);
    close(((await back(new PrivateTensor(client, [3], v))) as PrivateTensor).read(), [-1, -0.5, 1], 0, 'rescaled');
    j.nodes.push({ op: 'reveal', args: [j.nodes.length], attrs: { player: 'carol' } });
    j.outputs = [j.nodes.length];
    const tampered = computationFromJSON(j) as typeof rescale;
    await assert.rejects(tampered(new PrivateTensor(client, [3], v)), PlacementError);
  });
});
