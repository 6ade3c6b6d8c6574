/**
 * ProtocolOptions.setup 'on-demand': an ABY3 instance that only shares and
 * opens sends no set-up message (the servers' pairwise keys are made at the
 * first multiplication), and the values are those of an eager instance.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player } from '../../src/encrypted/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';

const servers = [new Player('s0'), new Player('s1'), new Player('s2')] as const;
const owner = new Player('owner');
const reader = new Player('reader');

/** Every party in its own transport of one hub, running the same program; the keys of every message sent. */
async function run(setup: 'eager' | 'on-demand', program: (p: ABY3) => Promise<Float64Array | undefined>): Promise<{ value: Float64Array; keys: string[] }> {
  const hub = new MemoryHub();
  const keys: string[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    keys.push(key);
    return deliver(from, to, key, payload);
  };
  const parties = [...servers, owner, reader];
  const results = await Promise.all(parties.map((me) => program(new ABY3(...servers, { transport: new MemoryTransport({ hub, local: [me.name] }), id: `od-${setup}`, players: [owner, reader], setup }))));
  hub.close();
  return { value: results[parties.indexOf(reader)]!, keys };
}

describe("ABY3 setup: 'on-demand'", () => {
  const x = Float64Array.from({ length: 5 }, () => Math.round((Math.random() * 200 - 100) * 1024) / 1024);

  it('encrypt and reveal: the same value as eager, and no set-up message', async () => {
    const prog = async (p: ABY3) => {
      const t = await p.encrypt(owner, p.transport.isLocal('owner') ? x : undefined, { shape: [5] });
      const r = await p.reveal(t, reader);
      return r.isLocal ? r.read() : undefined;
    };
    const lazy = await run('on-demand', prog);
    const eager = await run('eager', prog);
    assert.deepEqual([...lazy.value], [...x]);
    assert.deepEqual([...eager.value], [...x]);
    assert.ok(eager.keys.some((k) => /key/.test(k)), eager.keys.join(' '));
    assert.ok(!lazy.keys.some((k) => /key/.test(k)), lazy.keys.join(' '));
    assert.ok(lazy.keys.length < eager.keys.length);
  });

  it('a multiplication makes the keys first: the product is right', async () => {
    const prog = async (p: ABY3) => {
      const t = await p.encrypt(owner, p.transport.isLocal('owner') ? x : undefined, { shape: [5] });
      const sq = await p.mul(t, t);
      const r = await p.reveal(sq, reader);
      return r.isLocal ? r.read() : undefined;
    };
    const lazy = await run('on-demand', prog);
    assert.ok(lazy.keys.some((k) => /key/.test(k)));
    lazy.value.forEach((v, i) => assert.ok(Math.abs(v - x[i]! * x[i]!) < 1e-2, `${v} vs ${x[i]! * x[i]!}`));
  });

  it('refuses another value, naming the option', () => {
    assert.throws(() => new ABY3(...servers, { setup: 'lazy' as 'eager' }), (e: unknown) => e instanceof RangeError && /option 'setup'/.test((e as Error).message));
  });
});
