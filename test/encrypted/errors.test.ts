/** Bad input: a clear typed error each, raised before any data moves. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ABY3, DuplicatePlayerError, EncodingRangeError, Plaintext, Player, Pond, PrecisionMismatchError, ProtocolMismatchError, PublicTensor,
  SensitivityError, ShapeMismatchError, UnknownPlayerError, encode, FIXED_LOW, FIXED_HIGH,
} from '../../src/encrypted/index.js';
import { MemoryTransport, PeerError } from '../../src/transport/index.js';

const [s0, s1, s2, alice, bob, carol, mallory] = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol', 'mallory'].map((n) => new Player(n)) as Player[] as [Player, Player, Player, Player, Player, Player, Player];

function setup(precision: 'low' | 'high' = 'low') {
  const transport = new MemoryTransport();
  return { transport, aby3: new ABY3(s0, s1, s2, { precision, transport, players: [carol] }) };
}

/** Run `f` and check that the transport counters did not move. */
function noTraffic(transport: MemoryTransport, f: () => unknown, check: (e: unknown) => boolean, msg: string) {
  const before = JSON.stringify(transport.stats());
  assert.throws(f, check as never, msg);
  assert.equal(JSON.stringify(transport.stats()), before, `${msg}: no data moved`);
}

describe('bad input', () => {
  it('shape mismatch in add, mul, matmul, addN, reshape and encrypt', async () => {
    const { transport, aby3 } = setup();
    const x = await aby3.encrypt(alice, [[1, 2, 3], [4, 5, 6]]);
    const y = await aby3.encrypt(bob, [1, 2]);
    const isShape = (name: string) => (e: unknown) => e instanceof ShapeMismatchError && e instanceof RangeError && /do not broadcast|expected shapes|cannot reshape|has shape|needs/.test((e as Error).message) && (e as Error).message.includes(name);
    noTraffic(transport, () => aby3.add(x, y), isShape('ABY3.add'), 'add');
    noTraffic(transport, () => aby3.mul(x, y), isShape('ABY3.mul'), 'mul');
    noTraffic(transport, () => aby3.matmul(x, x), isShape('ABY3.matmul'), 'matmul');
    noTraffic(transport, () => aby3.addN([x, y]), (e) => e instanceof ShapeMismatchError && /xs\[1\]/.test((e as Error).message), 'addN');
    noTraffic(transport, () => aby3.reshape(x, [4]), isShape('ABY3.reshape'), 'reshape');
    noTraffic(transport, () => aby3.encrypt(alice, new Float64Array(5), { shape: [2, 2] }), (e) => e instanceof ShapeMismatchError && /shape/.test((e as Error).message), 'encrypt shape option');
    noTraffic(transport, () => aby3.encrypt(alice, [[1, 2], [3]]), (e) => e instanceof ShapeMismatchError && /not rectangular/.test((e as Error).message), 'ragged input');
    noTraffic(transport, () => aby3.mulPublic(x, [1, 2]), isShape('ABY3.mulPublic'), 'mulPublic');
  });

  it('mixing precisions', async () => {
    const t = new MemoryTransport();
    const lo = new ABY3(s0, s1, s2, { transport: t });
    const hi = new ABY3(s0, s1, s2, { transport: t, precision: 'high' });
    const x = await lo.encrypt(alice, [1, 2]);
    const y = await hi.encrypt(alice, [1, 2]);
    noTraffic(t, () => lo.add(x, y as never), (e) => e instanceof PrecisionMismatchError && e instanceof TypeError && /argument 'y' has precision 'high'/.test((e as Error).message), 'add');
    noTraffic(t, () => hi.mul(x as never, y), (e) => e instanceof PrecisionMismatchError && /argument 'x' has precision 'low'/.test((e as Error).message), 'mul');
    noTraffic(t, () => hi.reveal(x as never, alice), (e) => e instanceof PrecisionMismatchError, 'reveal');
  });

  it('mixing protocols (kinds and instances)', async () => {
    const t = new MemoryTransport();
    const a = new ABY3(s0, s1, s2, { transport: t });
    const b = new ABY3(s0, s1, s2, { transport: t });
    const pond = new Pond(s0, s1, s2, { transport: t });
    const plain = new Plaintext({ transport: t });
    const x = await a.encrypt(alice, [1, 2]);
    const y = await b.encrypt(alice, [1, 2]);
    const z = await pond.encrypt(alice, [1, 2]);
    const w = await plain.encrypt(alice, [1, 2]);
    const isMix = (e: unknown) => e instanceof ProtocolMismatchError && e instanceof TypeError && /belongs to protocol/.test((e as Error).message);
    noTraffic(t, () => a.add(x, y), isMix, 'two ABY3 instances');
    noTraffic(t, () => a.mul(x, z as never), isMix, 'ABY3 with Pond');
    noTraffic(t, () => pond.matmul(z, w as never), isMix, 'Pond with Plaintext');
    noTraffic(t, () => a.add(x, new PublicTensor([1, 2]) as never), (e) => e instanceof TypeError && /mulPublic\/addPublic/.test((e as Error).message), 'public tensor where an encrypted one is expected');
    noTraffic(t, () => a.add(x, 3 as never), (e) => e instanceof TypeError && /argument 'y' must be a tensor/.test((e as Error).message), 'number');
  });

  it('mixing integer and fixed-point encodings in add', async () => {
    const { transport, aby3 } = setup();
    const x = await aby3.encrypt(alice, [1, 2]);
    const n = await aby3.encryptInts(alice, [1, 2]);
    noTraffic(transport, () => aby3.add(x, n), (e) => e instanceof TypeError && /encodings 'fixed' and 'int'/.test((e as Error).message), 'add');
  });

  it('reveal to an unknown player, a non-player, or one outside the sensitivity set', async () => {
    const { transport, aby3 } = setup();
    const x = await aby3.encrypt(alice, [1, 2], { sensitivity: [alice, carol] });
    // a player not declared before is outside x's sensitivity set: refused for that (any reachable player may receive an unrestricted value)
    noTraffic(transport, () => aby3.reveal(x, mallory), (e) => e instanceof SensitivityError && /player 'mallory' is outside the sensitivity set \{alice, carol\}/.test((e as Error).message), 'undeclared');
    noTraffic(transport, () => aby3.reveal(x, 'carol' as never), (e) => e instanceof TypeError && /argument 'player' must be a Player/.test((e as Error).message), 'string');
    noTraffic(transport, () => aby3.reveal(x, s0), (e) => e instanceof SensitivityError && /outside the sensitivity set \{alice, carol\}/.test((e as Error).message), 'server outside sensitivity');
    // sensitivity propagates: anything computed from x keeps it (intersection)
    const y = await aby3.encrypt(bob, [3, 4], { sensitivity: [bob, carol] });
    const z = await aby3.mul(x, y);
    assert.deepEqual(z.sensitivity!.map((p) => p.name), ['carol']);
    noTraffic(transport, () => aby3.reveal(z, alice), (e) => e instanceof SensitivityError && /\{carol\}/.test((e as Error).message), 'derived tensor');
    const r = await aby3.reveal(z, carol);
    assert.deepEqual(Array.from(r.read()), [3, 8]);
  });

  for (const [precision, cfg, range] of [['low', FIXED_LOW, '2^47'], ['high', FIXED_HIGH, '2^95']] as const) {
    it(`NaN, Infinity and out-of-range floats at encode name the range (${precision})`, () => {
      const { transport, aby3 } = setup(precision);
      for (const [bad, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [cfg.bound, String(cfg.bound)], [-cfg.bound * 4, String(-cfg.bound * 4)]] as const) {
        const check = (e: unknown) => e instanceof EncodingRangeError && e instanceof RangeError
          && (e as Error).message.includes(`(-${range}, ${range})`) && (e as Error).message.includes(`element 1 is ${shown}`) && (e as Error).message.includes(`'${precision}'`);
        noTraffic(transport, () => aby3.encrypt(alice, [1, bad, 3]), check, `encrypt ${shown}`);
        assert.throws(() => encode([1, bad], [2], cfg), check as never, `encode ${shown}`);
      }
      // the largest encodable magnitudes are accepted
      assert.doesNotThrow(() => encode([cfg.bound * (1 - 2 ** -20), -cfg.bound * (1 - 2 ** -20)], [2], cfg));
      noTraffic(transport, () => aby3.mulPublic(undefined as never, NaN), (e) => e instanceof TypeError, 'mulPublic on a non-tensor');
    });
  }

  it('public operands: NaN constant, division by zero', async () => {
    const { transport, aby3 } = setup();
    const x = await aby3.encrypt(alice, [1, 2]);
    noTraffic(transport, () => aby3.mulPublic(x, NaN), (e) => e instanceof EncodingRangeError && /argument 'c' element 0 is NaN/.test((e as Error).message), 'NaN');
    noTraffic(transport, () => aby3.divPublic(x, [1, 0]), (e) => e instanceof RangeError && /argument 'c' element 1 is 0/.test((e as Error).message), 'zero');
    noTraffic(transport, () => aby3.addPublic(x, Infinity), (e) => e instanceof EncodingRangeError, 'Infinity');
  });

  it('protocols built with a missing or repeated player', () => {
    assert.throws(() => new ABY3(s0, s1, undefined as never), (e: unknown) => e instanceof TypeError && /argument 'server2' is missing/.test((e as Error).message));
    assert.throws(() => new ABY3(s0, 'server1' as never, s2), (e: unknown) => e instanceof TypeError && /argument 'server1' must be a Player, got string/.test((e as Error).message));
    assert.throws(() => new ABY3(s0, s1, new Player('server0')), (e: unknown) => e instanceof DuplicatePlayerError && e instanceof RangeError && /'server0' is given as both 'server0' and 'server2'/.test((e as Error).message));
    assert.throws(() => new Pond(s0, s1, undefined as never), (e: unknown) => e instanceof TypeError && /'cryptoProducer' is missing/.test((e as Error).message));
    assert.throws(() => new Pond(s0, s0, s2), (e: unknown) => e instanceof DuplicatePlayerError && /both 'server0' and 'server1'/.test((e as Error).message));
    assert.throws(() => new Pond(s0, s1, s1), (e: unknown) => e instanceof DuplicatePlayerError && /'cryptoProducer'/.test((e as Error).message));
    assert.throws(() => new Pond(s0, s1, 42 as never), (e: unknown) => e instanceof TypeError && /'cryptoProducer' must be a Player or a TripleSource/.test((e as Error).message));
  });

  it('bad options and player names', () => {
    assert.throws(() => new ABY3(s0, s1, s2, { precision: 'medium' as never }), (e: unknown) => e instanceof RangeError && /'precision' must be 'low' or 'high', got "medium"/.test((e as Error).message));
    assert.throws(() => new ABY3(s0, s1, s2, { precision: 64 as never }), (e: unknown) => e instanceof TypeError && /'precision'/.test((e as Error).message));
    assert.throws(() => new ABY3(s0, s1, s2, 'high' as never), (e: unknown) => e instanceof TypeError && /argument 'options'/.test((e as Error).message));
    assert.throws(() => new Player(''), (e: unknown) => e instanceof RangeError && /argument 'name'/.test((e as Error).message));
    assert.throws(() => new Player('a b'), RangeError);
    assert.throws(() => new Player(7 as never), (e: unknown) => e instanceof TypeError && /must be a string, got number/.test((e as Error).message));
  });

  it('encrypt from an owner that does not execute here needs a shape', () => {
    const transport = new MemoryTransport({ local: ['server0'] });
    const aby3 = new ABY3(s0, s1, s2, { transport });
    assert.throws(() => aby3.encrypt(alice, undefined), (e: unknown) => e instanceof TypeError && /does not execute in this process; pass option 'shape'/.test((e as Error).message));
  });

  it('a peer that never answers: the receive times out naming it (option timeoutMs)', async () => {
    // only server0 runs here; nobody plays server1/server2, so the key set-up cannot complete
    const transport = new MemoryTransport({ local: ['server0', 'alice'] });
    const aby3 = new ABY3(s0, s1, s2, { transport, timeoutMs: 20 });
    await assert.rejects(aby3.encrypt(alice, [1, 2]), (e: unknown) => e instanceof PeerError && e.peer === 'server2' && /nothing from 'server2' to 'server0'/.test(e.message));
    assert.throws(() => new ABY3(s0, s1, s2, { timeoutMs: -1 }), RangeError);
  });

  it('sum over a bad axis', async () => {
    const { aby3 } = setup();
    const x = await aby3.encrypt(alice, [[1, 2], [3, 4]]);
    assert.throws(() => aby3.sum(x, 2), (e: unknown) => e instanceof RangeError && /'axis' expected integer in \[-2, 1\], got 2/.test((e as Error).message));
    assert.throws(() => aby3.sum(x, 0.5), TypeError);
  });
});
