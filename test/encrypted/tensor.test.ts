/** Tensor kinds: placement, sensitivity, and refusal of implicit conversions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ABY3, AdditiveTensor, EncryptedTensor, NotLocalError, Plaintext, PlaintextTensor, Player, Pond, PrivateTensor, PublicTensor, ReplicatedTensor } from '../../src/encrypted/index.js';
import { MemoryTransport } from '../../src/transport/index.js';

const [s0, s1, s2, alice, carol] = ['server0', 'server1', 'server2', 'alice', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const SECRET = 987654.321;

async function tensors() {
  const transport = new MemoryTransport();
  const aby3 = new ABY3(s0, s1, s2, { transport, players: [carol] });
  const pond = new Pond(s0, s1, s2, { transport });
  const plain = new Plaintext({ transport });
  const r = await aby3.encrypt(alice, [SECRET, 2], { sensitivity: [alice, carol] });
  const a = await pond.encrypt(alice, [SECRET, 2]);
  const p = await plain.encrypt(alice, [SECRET, 2]);
  const priv = await aby3.reveal(r, carol);
  return { r, a, p, priv };
}

describe('tensor kinds', () => {
  it('placement and sensitivity', async () => {
    const { r, a, p, priv } = await tensors();
    assert.ok(r instanceof ReplicatedTensor && r instanceof EncryptedTensor);
    assert.ok(a instanceof AdditiveTensor && a instanceof EncryptedTensor);
    assert.ok(p instanceof PlaintextTensor && !(p instanceof EncryptedTensor));
    assert.deepEqual(r.placement.map((x) => x.name), ['server0', 'server1', 'server2']);
    assert.deepEqual(r.sensitivity!.map((x) => x.name), ['alice', 'carol']);
    assert.deepEqual(a.placement.map((x) => x.name), ['server0', 'server1']);
    assert.equal(a.sensitivity, null);
    assert.deepEqual(p.placement.map((x) => x.name), ['evaluator']);
    assert.ok(priv instanceof PrivateTensor);
    assert.deepEqual(priv.placement.map((x) => x.name), ['carol']);
    assert.deepEqual(priv.sensitivity!.map((x) => x.name), ['carol']);
    assert.equal(r.precision, 'low');
    assert.deepEqual(r.shape, [2]);
    const pub = new PublicTensor([[1, 2]]);
    assert.equal(pub.sensitivity, null);
    assert.deepEqual(pub.shape, [1, 2]);
    assert.equal(Number(pub.values[1]), 2);
  });

  it('encrypted, plaintext-protocol and private tensors refuse numbers, strings and JSON; inspect shows no values', async () => {
    const { r, a, p, priv } = await tensors();
    for (const t of [r, a, p, priv]) {
      const name = t.constructor.name;
      assert.throws(() => +(t as unknown as number), (e: unknown) => e instanceof TypeError && /refusing/.test((e as Error).message), `${name} unary +`);
      assert.throws(() => `${t}`, TypeError, `${name} template`);
      assert.throws(() => String(t), TypeError, `${name} String()`);
      assert.throws(() => JSON.stringify(t), TypeError, `${name} JSON`);
      assert.throws(() => t.valueOf(), TypeError, `${name} valueOf`);
      assert.throws(() => t.toString(), TypeError, `${name} toString`);
      assert.throws(() => (t as unknown as number) * 2, TypeError, `${name} arithmetic`);
      const shown = inspect(t, { depth: 10, showHidden: true });
      assert.ok(shown.includes(name), shown);
      assert.ok(!shown.includes('987654') && !/BigUint64Array|\d{6,}n/.test(shown), `${name} inspect leaks nothing: ${shown}`);
    }
  });

  it('a private tensor is read explicitly, and only where its owner executes', async () => {
    const { priv } = await tensors();
    assert.ok(Math.abs(priv.read()[0]! - SECRET) < 2 ** -16);
    const absent = new PrivateTensor(carol, [2]);
    assert.equal(absent.isLocal, false);
    assert.throws(() => absent.read(), NotLocalError);
    assert.throws(() => absent.readRing(), NotLocalError);
  });
});
