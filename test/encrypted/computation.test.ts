/**
 * Computations: the TFE-on-TF2 seed's examples translated to fedcrypt. Each
 * legal one runs and equals the plaintext result on random inputs; each
 * misuse of placement and sensitivity is a typed error before any message
 * (a recording transport stays empty).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ABY3, AdditiveTensor, computation, Computation, ConcreteComputation, encryptedComputation, NoProtocolError, ops, PlacementError, Plaintext, Player, Pond,
  PrivateTensor, ProtocolMismatchError, ReplicatedTensor, SensitivityError, setProtocol, SignatureError, specs, TensorSpec, Variable, withProtocol,
  privateComputation, sensitivityFits, localComputation, SerializationError, type Value,
} from '../../src/encrypted/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { RecordingTransport } from './recording.js';
import { randn, rng } from './computation-data.js';

const [s0, s1, s2, client, owner, carol] = ['server0', 'server1', 'server2', 'prediction_client', 'model_owner', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];

function matmulRef(x: Float64Array, y: Float64Array, m: number, k: number, n: number): Float64Array {
  const z = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) z[i * n + j] += x[i * k + l]! * y[l * n + j]!;
  return z;
}
const close = (got: ArrayLike<number>, want: ArrayLike<number>, bound: number, what: string): void => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= bound, `${what}: element ${i}: ${got[i]} vs ${want[i]} (bound ${bound})`);
};

for (const precision of ['low', 'high'] as const) {
  const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
  const [m, k, n] = [3, 4, 2];
  // matmul of values in [-1, 1] with inner dimension k (docs/encrypted.md): k·(2·u/2 + u²/4) + u, plus the encoding
  const bound = k * (u + u * u / 4) + 2 * u;

  describe(`seed "Simple Use" / "Defining Computations" (precision ${precision})`, () => {
    it('forward is abstract (no protocol, no signatures) until a protocol context makes it concrete; the prediction reaches the client only', async () => {
      const forward = computation((x, w) => ops.matmul(x, w));
      assert.ok(forward instanceof Computation);
      assert.equal(forward.protocol, undefined);
      assert.equal(forward.inputSignature, undefined);
      assert.equal(forward.outputSignature, undefined);
      const r = rng(precision === 'low' ? 1 : 2);
      const [xv, wv] = [randn(r, m * k), randn(r, k * n)];
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision });
      // the client's input: only the client may see it and what follows from it
      const x = await aby3.encrypt(client, xv, { shape: [m, k], sensitivity: [client] });
      // the model owner's weights (the seed's implicit encrypt of tfe.Variable): usable for the client's prediction
      const w = await Variable.encrypt(aby3, owner, wv, { shape: [k, n], sensitivity: [owner, client] });
      const y = (await withProtocol(aby3, () => forward(x, w))) as ReplicatedTensor;
      assert.ok(y instanceof ReplicatedTensor);
      assert.deepEqual(y.sensitivity?.map((p) => p.name), [client.name]);
      const decrypt = computation((t) => ops.reveal(t, client));
      const yRemote = (await withProtocol(aby3, () => decrypt(y))) as PrivateTensor;
      assert.ok(yRemote instanceof PrivateTensor);
      assert.deepEqual(yRemote.placement.map((p) => p.name), [client.name]);
      assert.deepEqual(yRemote.sensitivity?.map((p) => p.name), [client.name]);
      close(yRemote.read(), matmulRef(xv, wv, m, k, n), bound, 'prediction');
      // misuse: decrypting for the model owner, outside the result's sensitivity: refused before any message
      rec.take();
      const decryptForOwner = computation((t) => ops.reveal(t, owner));
      await assert.rejects(withProtocol(aby3, () => decryptForOwner(y)), (e: Error) => e instanceof SensitivityError && /model_owner/.test(e.message) && /prediction_client/.test(e.message));
      // the same through one computation on the plaintext inputs
      const predictForOwner = computation((xp, wt) => ops.reveal(ops.matmul(ops.encrypt(xp), wt), owner));
      await assert.rejects(withProtocol(aby3, () => predictForOwner(new PrivateTensor(client, [m, k], xv), w)), SensitivityError);
      assert.equal(rec.log.length, 0, 'no message was sent');
    });

    it('an abstract computation called with no protocol context is refused by name before any message', async () => {
      setProtocol(undefined);
      const forward = computation(function forward(x, w) {
        return ops.matmul(ops.encrypt(x), ops.encrypt(w));
      });
      await assert.rejects(forward(new PrivateTensor(client, [m, k], randn(rng(3), m * k)), new PrivateTensor(owner, [k, n], randn(rng(4), k * n))), (e: Error) => e instanceof NoProtocolError && /forward/.test(e.message));
    });

    it('setProtocol makes a default context; an inner withProtocol wins', async () => {
      const r = rng(5);
      const [xv, wv] = [randn(r, m * k), randn(r, k * n)];
      const aby3 = new ABY3(s0, s1, s2, { precision, players: [carol] });
      const pond = new Pond(s0, s1, s2, { precision, players: [carol] });
      const predict = computation((x, w) => ops.reveal(ops.matmul(ops.encrypt(x, { sensitivity: null }), ops.encrypt(w, { sensitivity: null })), carol));
      const args = [new PrivateTensor(client, [m, k], xv), new PrivateTensor(owner, [k, n], wv)] as const;
      setProtocol(pond);
      try {
        const a = (await predict(...args)) as PrivateTensor;
        const b = (await withProtocol(aby3, () => predict(...args))) as PrivateTensor;
        close(a.read(), matmulRef(xv, wv, m, k, n), bound, 'pond');
        close(b.read(), matmulRef(xv, wv, m, k, n), bound, 'aby3');
      } finally {
        setProtocol(undefined);
      }
    });
  });

  describe(`seed "Annotating Computations" (precision ${precision})`, () => {
    it('provide_input as a private computation: runs in the clear on the client, the result stays private to it', async () => {
      const provideInput = privateComputation(client, function provideInput(raw) {
        return ops.mul(ops.sub(raw, 0.5), 2); // "ordinary code": rescale [0, 1] to [-1, 1]
      });
      assert.ok(provideInput instanceof Computation);
      assert.equal(provideInput.protocol, undefined);
      const r = rng(6);
      const raw = Float64Array.from({ length: 6 }, () => r());
      const x = (await provideInput(new PrivateTensor(client, [2, 3], raw))) as PrivateTensor;
      assert.ok(x instanceof PrivateTensor);
      assert.deepEqual(x.placement.map((p) => p.name), [client.name]);
      close(x.read(), raw.map((v) => (v - 0.5) * 2), 1e-15, 'rescaled');
      // elsewhere (another process) the value is absent
      const there = (await provideInput(new PrivateTensor(client, [2, 3]))) as PrivateTensor;
      assert.equal(there.isLocal, false);
    });

    it('private computation misuses: reveal elsewhere and encrypt are refused when traced; another player\'s input when called', async () => {
      assert.throws(() => privateComputation(client, (x) => ops.reveal(x, s0)), (e: Error) => e instanceof PlacementError && /server0/.test(e.message) && /prediction_client/.test(e.message));
      assert.throws(() => privateComputation(client, (x) => ops.encrypt(x)), (e: Error) => e instanceof PlacementError && /encrypt/.test(e.message));
      const double = privateComputation(client, (x) => ops.mul(x, 2));
      await assert.rejects(double(new PrivateTensor(owner, [2], Float64Array.of(1, 2))), (e: Error) => e instanceof PlacementError && /model_owner/.test(e.message));
      // an encrypted value has no place in it either
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision });
      const enc = await aby3.encrypt(client, [1, 2]);
      rec.take();
      await assert.rejects(double(enc), PlacementError);
      assert.throws(() => privateComputation(client, (x) => x, { outputSignature: [specs.EncryptedTensor.any()] }), PlacementError);
      assert.equal(rec.log.length, 0);
    });

    it('the explicit form (output signature PrivateTensor.withPlacement(client)): an encrypted result is a SignatureError at concretization', () => {
      const aby3 = new ABY3(s0, s1, s2, { precision });
      const provide = computation((x) => ops.mul(x, 2), { outputSignature: [specs.PrivateTensor.withPlacement(client)] });
      const c = provide.concrete(aby3, [TensorSpec.private(client, { shape: [3] })]);
      assert.ok(c instanceof ConcreteComputation);
      assert.equal(c.outputTypes[0]!.kind, 'private');
      const leaky = computation((x) => ops.encrypt(x), { outputSignature: [specs.PrivateTensor.withPlacement(client)] });
      assert.throws(() => leaky.concrete(aby3, [TensorSpec.private(client, { shape: [3] })]), (e: Error) => e instanceof SignatureError && /result 0/.test(e.message) && /expected private/.test(e.message) && /got encrypted/.test(e.message));
    });

    it('forward as an encrypted computation: runs on encrypted values; plaintext arguments and the Plaintext protocol are refused before any message', async () => {
      const forward = encryptedComputation(function forward(x, w) {
        return ops.matmul(x, w);
      }, { inputNames: ['x', 'w'] });
      const r = rng(7);
      const [xv, wv] = [randn(r, m * k), randn(r, k * n)];
      const rec = new RecordingTransport();
      const pond = new Pond(s0, s1, s2, { transport: rec, precision, players: [carol] });
      const x = await pond.encrypt(client, xv, { shape: [m, k] });
      const w = await pond.encrypt(owner, wv, { shape: [k, n] });
      const y = (await withProtocol(pond, () => forward(x, w))) as AdditiveTensor;
      close((await pond.reveal(y, carol)).read(), matmulRef(xv, wv, m, k, n), bound, 'forward');
      rec.take();
      await assert.rejects(withProtocol(pond, () => forward(new PrivateTensor(client, [m, k], xv), w)), (e: Error) => e instanceof SignatureError && /argument 'x'/.test(e.message) && /refuses the plaintext private/.test(e.message));
      await assert.rejects(withProtocol(pond, () => forward(x, [[1, 2], [3, 4], [5, 6], [7, 8]])), (e: Error) => e instanceof SignatureError && /argument 'w'/.test(e.message) && /public/.test(e.message));
      const plain = new Plaintext({ transport: rec, precision });
      const px = await plain.encrypt(client, xv, { shape: [m, k] });
      const pw = await plain.encrypt(owner, wv, { shape: [k, n] });
      rec.take();
      await assert.rejects(withProtocol(plain, () => forward(px, pw)), ProtocolMismatchError);
      // a tensor of another protocol instance
      const pond2 = new Pond(s0, s1, s2, { transport: rec, precision });
      await assert.rejects(withProtocol(pond2, () => forward(x, w)), ProtocolMismatchError);
      assert.equal(rec.log.length, 0, 'no message was sent');
    });

    it('forward loosened to a private w of the model owner (input signature): accepted, encrypted where used; other placements and kinds refused', async () => {
      const forward = encryptedComputation((x, w) => ops.matmul(x, w), { inputSignature: [undefined, specs.PrivateTensor.withPlacement(owner, { sensitivity: [owner] })] });
      const r = rng(8);
      const [xv, wv] = [randn(r, m * k), randn(r, k * n)];
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision, players: [carol] });
      const x = await aby3.encrypt(client, xv, { shape: [m, k] });
      const y = (await withProtocol(aby3, () => forward(x, new PrivateTensor(owner, [k, n], wv)))) as ReplicatedTensor;
      assert.deepEqual(y.sensitivity?.map((p) => p.name), [owner.name], 'the owner\'s sensitivity follows its weights');
      close((await aby3.reveal(y, owner)).read(), matmulRef(xv, wv, m, k, n), bound, 'loosened forward');
      rec.take();
      await assert.rejects(withProtocol(aby3, () => forward(x, new PrivateTensor(client, [k, n], wv))), (e: Error) => e instanceof SignatureError && /argument 'w'/.test(e.message) && /placement \{prediction_client\} is not \{model_owner\}/.test(e.message));
      await assert.rejects(withProtocol(aby3, () => forward(x, x)), (e: Error) => e instanceof SignatureError && /kind encrypted is not private/.test(e.message));
      assert.equal(rec.log.length, 0, 'no message was sent');
    });

    it('tfe.encrypt in a protocol context: x_encrypted is the protocol\'s tensor, placed on its servers, with x\'s dtype', async () => {
      const encrypt = computation((t) => ops.encrypt(t));
      const pond = new Pond(s0, s1, s2, { precision });
      const xe = (await withProtocol(pond, () => encrypt(new PrivateTensor(client, [2], Float64Array.of(1.5, -2))))) as Value;
      assert.ok(xe instanceof AdditiveTensor);
      assert.deepEqual(xe.placement.map((p) => p.name), ['server0', 'server1']);
      assert.equal(xe.protocol, pond);
      assert.equal(xe.encoding, 'fixed');
    });
  });

  describe(`Variable (precision ${precision})`, () => {
    it('a computation assigns model state; a value of narrower sensitivity or a non-Variable target is refused before any message', async () => {
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision, players: [carol] });
      const r = rng(9);
      const [wv, gv] = [randn(r, k), randn(r, k)];
      const w = await Variable.encrypt(aby3, owner, wv, { sensitivity: [owner, client] });
      const step = computation((wt, g) => ops.assign(wt, ops.sub(wt, ops.mul(g, 0.25))));
      const g = await aby3.encrypt(client, gv, { sensitivity: [owner, client] });
      const before = w.value;
      assert.equal(await withProtocol(aby3, () => step(w, g)), undefined);
      assert.notEqual(w.value, before);
      close((await aby3.reveal(w.value, owner)).read(), wv.map((v, i) => v - 0.25 * gv[i]!), 4 * u, 'assigned');
      const gClientOnly = await aby3.encrypt(client, gv, { sensitivity: [client] });
      rec.take();
      await assert.rejects(withProtocol(aby3, () => step(w, gClientOnly)), (e: Error) => e instanceof SignatureError && /argument 'value'/.test(e.message) && /does not admit every viewer/.test(e.message));
      await assert.rejects(withProtocol(aby3, () => step(w.value, g)), (e: Error) => e instanceof SignatureError && /passed as a Variable/.test(e.message));
      assert.throws(() => w.assign(gClientOnly), SignatureError);
      assert.equal(rec.log.length, 0, 'no message was sent');
    });
  });
}

describe('seed "Executing Computations": provide_input as a local computation, then tfe.encrypt in the encrypted protocol\'s context', () => {
  it('ordinary code runs on the client only; x_local is a PrivateTensor of the client; encrypting it gives the protocol\'s tensor', async () => {
    const data = randn(rng(10), 6);
    const hub = new MemoryHub();
    const run = async (me: string) => {
      const transport = new MemoryTransport({ hub, local: [me] });
      const provideInput = localComputation(client, () => data.map((v) => v * 3), { outputShapes: [[2, 3]], transport });
      const xLocal = (await provideInput.run()) as PrivateTensor;
      assert.ok(xLocal instanceof PrivateTensor);
      assert.deepEqual(xLocal.placement.map((p) => p.name), [client.name]);
      const pond = new Pond(s0, s1, s2, { transport, id: 'local-then-encrypt', players: [carol] });
      const encryptThenOpen = computation((x) => ops.reveal(ops.encrypt(x, { sensitivity: [client, carol] }), carol));
      return [xLocal, (await withProtocol(pond, () => encryptThenOpen(xLocal))) as PrivateTensor] as const;
    };
    const names = [s0, s1, s2, client, carol].map((p) => p.name);
    const results = await Promise.all(names.map(run));
    const [atClient] = results[names.indexOf(client.name)]!;
    close(atClient.read(), data.map((v) => v * 3), 0, 'x_local at the client');
    assert.equal(results[names.indexOf('server0')]![0].isLocal, false, 'server0 has a placeholder only');
    close(results[names.indexOf('carol')]![1].read(), data.map((v) => v * 3), 2 ** -16, 'opened to carol');
    assert.equal(hub.pending(), 0);
  });

  it('refuses another player\'s private value, and serialization (it holds code)', async () => {
    const c = localComputation(client, (x) => x.values, { outputShapes: [[2]] });
    await assert.rejects(c.run(new PrivateTensor(owner, [2], Float64Array.of(1, 2))), (e: Error) => e instanceof PlacementError && /model_owner/.test(e.message));
    assert.throws(() => JSON.stringify(c), SerializationError);
    await assert.rejects(localComputation(client, () => [1, 2, 3], { outputShapes: [[2]] }).run(), /3 elements/);
  });
});

describe('the subtyping rule', () => {
  const [a, b] = [new Player('a'), new Player('b')];
  it('sensitivity: public fits everything, a wider viewer set fits a narrower one, never the reverse', () => {
    assert.equal(sensitivityFits(null, null), true);
    assert.equal(sensitivityFits(null, [a]), true);
    assert.equal(sensitivityFits([a, b], [a]), true);
    assert.equal(sensitivityFits([a], [a]), true);
    assert.equal(sensitivityFits([a], [a, b]), false);
    assert.equal(sensitivityFits([a], null), false);
    assert.equal(sensitivityFits([b], [a]), false);
  });

  it('an input signature\'s sensitivity: a value the computation may reveal to carol needs carol among its viewers', async () => {
    const rec = new RecordingTransport();
    const aby3 = new ABY3(s0, s1, s2, { transport: rec, players: [carol] });
    const share = computation((x) => ops.reveal(x, carol), { inputSignature: [specs.EncryptedTensor.any({ sensitivity: [carol] })] });
    const ok = await aby3.encrypt(client, [1, 2], { sensitivity: [client, carol] });
    const notCarol = await aby3.encrypt(client, [1, 2], { sensitivity: [client] });
    rec.take();
    await assert.rejects(withProtocol(aby3, () => share(notCarol)), (e: Error) => e instanceof SignatureError && /argument 'x'/.test(e.message) && /sensitivity \{prediction_client\}/.test(e.message));
    assert.equal(rec.log.length, 0);
    close(((await withProtocol(aby3, () => share(ok))) as PrivateTensor).read(), [1, 2], 2 ** -15, 'revealed');
  });

  it('placement: an encrypted spec placed on other servers, and shapes and dtypes, are checked', () => {
    const aby3 = new ABY3(s0, s1, s2);
    const id = computation((x) => ops.neg(x), { inputSignature: [specs.EncryptedTensor.withPlacement([s0, s1])] });
    assert.throws(() => id.concrete(aby3, [TensorSpec.encrypted({ shape: [2] })]), (e: Error) => e instanceof SignatureError && /placement \{server0, server1, server2\} is not \{server0, server1\}/.test(e.message));
    const shaped = computation((x) => ops.neg(x), { inputSignature: [TensorSpec.encrypted({ shape: [2], dtype: 'int' })] });
    assert.throws(() => shaped.concrete(aby3, [TensorSpec.encrypted({ shape: [3], dtype: 'int' })]), /shape \[3\] is not \[2\]/);
    assert.throws(() => shaped.concrete(aby3, [TensorSpec.encrypted({ shape: [2] })]), /dtype fixed is not int/);
    assert.throws(() => computation((x, y) => ops.add(x, y)).concrete(undefined, [TensorSpec.private(client, { shape: [2] }), TensorSpec.private(owner, { shape: [2] })]), (e: Error) => e instanceof PlacementError && /prediction_client/.test(e.message) && /model_owner/.test(e.message));
  });
});

describe('tracing', () => {
  it('refuses async functions, branching on values, secret tensors captured as constants, and ops outside a computation', () => {
    assert.throws(() => computation((async (x: never) => x) as never), /Promise/);
    assert.throws(() => computation((x) => (Number(x) > 0 ? x : ops.neg(x))), /cannot convert/);
    assert.throws(() => computation((x) => ops.add(x, new PrivateTensor(client, [1], Float64Array.of(1)) as never)), /PrivateTensor/);
    assert.throws(() => ops.add(1, 2), /outside a computation/);
  });
});
