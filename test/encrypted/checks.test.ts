/**
 * Every check of the protocol layer names the protocol, the operation and the
 * argument or option it refuses, with its error type, before any data moves;
 * the same for the three protocols (one code path in base.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ABY3, DuplicatePlayerError, Plaintext, Player, Pond, PrecisionMismatchError, PublicTensor, SensitivityError, ShapeMismatchError, UnknownPlayerError,
} from '../../src/encrypted/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryTransport, TransportError } from '../../src/transport/index.js';

/** `t`, saying it cannot reach the players named `unreachable` (as a gRPC transport says of a name outside its config). */
function limitedTransport<T extends { isLocal(p: string): boolean }>(t: T, unreachable: readonly string[]): T & { reaches(p: string): boolean } {
  return new Proxy(t, {
    get(target, prop) {
      if (prop === 'reaches') return (p: string) => !unreachable.includes(p);
      // (nor do they execute in this process)
      if (prop === 'isLocal') return (p: string) => !unreachable.includes(p) && target.isLocal(p);
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as T & { reaches(p: string): boolean };
}

const [s0, s1, s2, alice, bob, carol] = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];

type Any = any; // the three protocol classes, used through their common surface
const PROTOCOLS: { name: string; kind: string; make: (o?: object) => Any }[] = [
  { name: 'ABY3', kind: 'aby3', make: (o = {}) => new ABY3(s0, s1, s2, o) },
  { name: 'Pond', kind: 'pond', make: (o = {}) => new Pond(s0, s1, s2, o) },
  { name: 'Plaintext', kind: 'plaintext', make: (o = {}) => new Plaintext(o) },
];

/** `f` throws an error of `type` whose message starts with `prefix` (and contains each of `parts`), and nothing was sent. */
function refuses(t: MemoryTransport, f: () => unknown, type: new (...a: never[]) => Error, prefix: string, ...parts: string[]): void {
  const before = JSON.stringify(t.stats());
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof type, `${prefix}: expected ${type.name}, got ${String(e)}`);
    assert.ok(e.message.startsWith(prefix), `message ${JSON.stringify(e.message)} should start with ${JSON.stringify(prefix)}`);
    for (const p of parts) assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} should contain ${JSON.stringify(p)}`);
    return true;
  });
  assert.equal(JSON.stringify(t.stats()), before, `${prefix}: nothing was sent`);
}

for (const P of PROTOCOLS) {
  describe(`${P.name}: checks name the operation and the argument`, () => {
    it('a non-tensor operand, in each position of each operation', async () => {
      const t = new MemoryTransport();
      const p = P.make({ transport: t, players: [carol] });
      const x = await p.encrypt(alice, [1, 2]);
      const X = [[1, 2], [3, 4]];
      const m = await p.encrypt(alice, X);
      const cases: [string, string, (bad: unknown) => unknown][] = [
        ['add', 'x', (b) => p.add(b, x)], ['add', 'y', (b) => p.add(x, b)],
        ['sub', 'x', (b) => p.sub(b, x)], ['sub', 'y', (b) => p.sub(x, b)],
        ['neg', 'x', (b) => p.neg(b)],
        ['mul', 'x', (b) => p.mul(b, x)], ['mul', 'y', (b) => p.mul(x, b)],
        ['matmul', 'x', (b) => p.matmul(b, m)], ['matmul', 'y', (b) => p.matmul(m, b)],
        ['truncate', 'x', (b) => p.truncate(b)],
        ['reveal', 'x', (b) => p.reveal(b, carol)], ['revealRing', 'x', (b) => p.revealRing(b, carol)],
        ['addN', 'xs[1]', (b) => p.addN([x, b])],
        ['sum', 'x', (b) => p.sum(b)], ['reshape', 'x', (b) => p.reshape(b, [2])], ['transpose', 'x', (b) => p.transpose(b)],
        ['addPublic', 'x', (b) => p.addPublic(b, 1)], ['mulPublic', 'x', (b) => p.mulPublic(b, 2)], ['divPublic', 'x', (b) => p.divPublic(b, 2)],
      ];
      for (const [op, arg, f] of cases) {
        refuses(t, () => f(3), TypeError, `${P.name}.${op}: argument '${arg}' must be a tensor of this protocol, got number`);
        refuses(t, () => f(new PublicTensor([1, 2])), TypeError, `${P.name}.${op}: argument '${arg}'`, 'got PublicTensor (use mulPublic/addPublic for public values)');
      }
      // a secret where a public value is expected
      for (const op of ['addPublic', 'mulPublic', 'divPublic']) refuses(t, () => p[op](x, x), TypeError, `${P.name}.${op}: argument 'c' must be a public value, got a ${x.constructor.name}`);
      refuses(t, () => p.addN([]), TypeError, `${P.name}.addN: argument 'xs' must be a non-empty array`);
      refuses(t, () => p.addN(x), TypeError, `${P.name}.addN: argument 'xs'`);
      const xi = await p.encryptInts(alice, [1, 2]);
      refuses(t, () => p.addN([x, xi]), TypeError, `${P.name}.addN: 'xs[1]' has encoding 'int', 'xs[0]' has 'fixed'`);
      const x3 = await p.encrypt(alice, [1, 2, 3]);
      refuses(t, () => p.sub(x, x3), ShapeMismatchError, `${P.name}.sub: shapes of 'x' [2] and 'y' [3] do not broadcast`);
      refuses(t, () => p.add(m, x3), ShapeMismatchError, `${P.name}.add: shapes of 'x' [2, 2] and 'y' [3] do not broadcast`);
      refuses(t, () => p.addPublic(m, [1, 2, 3]), ShapeMismatchError, `${P.name}.addPublic: shapes of 'x' [2, 2] and 'c' [3]`);
      refuses(t, () => p.sum(m, '0'), TypeError, `${P.name}.sum: argument 'axis' must be an integer, got string`);
      refuses(t, () => p.sum(m, -3), RangeError, `${P.name}.sum: argument 'axis' expected integer in [-2, 1], got -3`);
      refuses(t, () => p.reshape(m, [3]), ShapeMismatchError, `${P.name}.reshape: cannot reshape [2, 2] to [3]`);
      refuses(t, () => p.reshape(m, 4), ShapeMismatchError, `${P.name}.reshape: cannot reshape [2, 2] to number`);
      const r13 = await p.encrypt(alice, [[1, 2, 3]]);
      for (const [a, b, sa, sb] of [[x, m, '[2]', '[2, 2]'], [m, x, '[2, 2]', '[2]'], [r13, m, '[1, 3]', '[2, 2]']] as const) {
        refuses(t, () => p.matmul(a, b), ShapeMismatchError, `${P.name}.matmul: expected shapes [m, k] and [k, n], got 'x' ${sa} and 'y' ${sb}`);
      }
      refuses(t, () => p.divPublic(x, 0), RangeError, `${P.name}.divPublic: argument 'c' element 0 is 0`);
      for (const op of ['addPublic', 'mulPublic', 'divPublic']) {
        refuses(t, () => p[op](x, 'two'), TypeError, `${P.name}.${op}: argument 'c' must be a number`);
        refuses(t, () => p[op](x, [NaN, 1]), RangeError, `${P.name}.${op}: argument 'c' element 0 is NaN`);
      }
    });

    it('owners, players and sensitivity options', async () => {
      const t = new MemoryTransport();
      const p = P.make({ transport: t, players: [carol] });
      for (const op of ['encrypt', 'encryptInts']) {
        refuses(t, () => p[op]('alice', [1]), TypeError, `${P.name}.${op}: argument 'owner' must be a Player, got string`);
        refuses(t, () => p[op](alice, [1], { sensitivity: carol }), TypeError, `${P.name}.${op}: option 'sensitivity' must be an array of Player or null, got Player`);
        refuses(t, () => p[op](alice, [1], { sensitivity: [carol, 'bob'] }), TypeError, `${P.name}.${op}: argument 'sensitivity[1]' must be a Player, got string`);
      }
      refuses(t, () => p.encryptEncoded('alice', () => undefined, [1]), TypeError, `${P.name}.encryptEncoded: argument 'owner' must be a Player`);
      refuses(t, () => p.encryptEncoded(alice, () => undefined, [1], { sensitivity: 'carol' }), TypeError, `${P.name}.encryptEncoded: option 'sensitivity'`);
      refuses(t, () => p.encryptEncoded(alice, () => undefined, [1]), TypeError, `${P.name}.encryptEncoded: 'encodeFn' must return a RingTensor in Z_2^64 of shape [1]`);
      refuses(t, () => p.encryptEncoded(alice, () => RingTensor.zeros(128, [1]), [1]), TypeError, `${P.name}.encryptEncoded: 'encodeFn'`);
      refuses(t, () => p.encryptEncoded(alice, () => RingTensor.zeros(64, [2]), [1]), TypeError, `${P.name}.encryptEncoded: 'encodeFn'`);
      refuses(t, () => p.encrypt(alice, 'one'), TypeError, `${P.name}.encrypt: argument 'value'`);
      refuses(t, () => p.encrypt(alice, [1, NaN]), RangeError, `${P.name}.encrypt: argument 'value' element 1 is NaN`);
      // a sensitivity set registers its players: they may receive a reveal afterwards
      const x = await p.encrypt(alice, [5], { sensitivity: [bob] });
      assert.ok(p.knownPlayers.some((q: Player) => q.name === 'bob'));
      assert.deepEqual(Array.from((await p.reveal(x, bob)).read()), [5]);
      // a null sensitivity is unrestricted
      assert.equal((await p.encrypt(alice, [1], { sensitivity: null })).sensitivity, null);
      // a player not declared before may receive a reveal (sensitivity decides who may), as it may give an input
      const dave = new Player('dave');
      const open = await p.encrypt(alice, [7]);
      assert.deepEqual(Array.from((await p.reveal(open, dave)).read()), [7]);
      assert.ok(p.knownPlayers.some((q: Player) => q.name === 'dave'));
      refuses(t, () => p.reveal(x, new Player('erin')), SensitivityError, `${P.name}.reveal: player 'erin' is outside the sensitivity set {bob} of argument 'x'`);
      // a player the transport says it cannot reach is refused, for an input and for a reveal, and the message lists who is known
      const lt = limitedTransport(new MemoryTransport(), ['mallory']);
      const q = P.make({ transport: lt, players: [carol], precision: 'low' });
      const y = await q.encrypt(alice, [1]);
      const mallory = new Player('mallory');
      refuses(lt, () => q.reveal(y, mallory), UnknownPlayerError, `${P.name}.reveal: argument 'player' is player 'mallory', which protocol '${q.id}' cannot reach over its transport (known: ${q.knownPlayers.map((w: Player) => w.name).join(', ')})`, 'alice', 'carol');
      refuses(lt, () => q.revealRing(y, mallory), UnknownPlayerError, `${P.name}.revealRing: argument 'player'`);
      refuses(lt, () => q.encrypt(mallory, [1]), UnknownPlayerError, `${P.name}.encrypt: argument 'owner' is player 'mallory', which protocol`);
    });

    it('integer inputs: every accepted form, and each refusal names the value', async () => {
      for (const precision of ['low', 'high'] as const) {
        const t = new MemoryTransport();
        const p = P.make({ transport: t, players: [carol], precision });
        const bits = precision === 'low' ? 64 : 128;
        const want = [3, -4, 0, 2 ** 40, -(2 ** 40), 7];
        for (const [form, v, shape] of [
          ['array', want, undefined], ['Int32Array', Int32Array.from([3, -4, 0, 5, -6, 7]), [2, 3]], ['BigInt64Array', BigInt64Array.from(want.map(BigInt)), [3, 2]],
          ['RingTensor', RingTensor.fromBigInts(bits, [6], want.map(BigInt)), [6]],
        ] as const) {
          const x = await p.encryptInts(alice, v, shape === undefined ? {} : { shape });
          assert.deepEqual(x.shape, shape ?? [6], `${form}: shape`);
          assert.equal(x.encoding, 'int');
          const got = Array.from((await p.reveal(x, carol)).read());
          assert.deepEqual(got, v instanceof RingTensor ? want : Array.from(v as ArrayLike<number | bigint>, Number), `${form} (${precision})`);
        }
        const other = bits === 64 ? 128 : 64;
        refuses(t, () => p.encryptInts(alice, RingTensor.zeros(other, [2])), PrecisionMismatchError, `${P.name}.encryptInts: argument 'value' is in Z_2^${other}, protocol '${p.id}' computes in Z_2^${bits}`);
        refuses(t, () => p.encryptInts(alice, RingTensor.zeros(bits, [2]), { shape: [1, 2] }), ShapeMismatchError, `${P.name}.encryptInts: argument 'value' has shape [2], option 'shape' is [1, 2]`);
        refuses(t, () => p.encryptInts(alice, BigInt64Array.of(1n, 2n, 3n), { shape: [2, 2] }), ShapeMismatchError, `${P.name}.encryptInts: argument 'value' has 3 elements, option 'shape' [2, 2] needs 4`);
        refuses(t, () => p.encryptInts(alice, [1, 0.5]), TypeError, `${P.name}.encryptInts: argument 'value' element 1 must be a safe integer, got 0.5`);
        refuses(t, () => p.encryptInts(alice, [1, 2 ** 53]), TypeError, `${P.name}.encryptInts: argument 'value' element 1 must be a safe integer, got ${2 ** 53}`);
        refuses(t, () => p.encryptInts(alice, [1, '2']), TypeError, `${P.name}.encryptInts: argument 'value' element 1 must be a safe integer, got string`);
        refuses(t, () => p.encryptInts(alice, Float64Array.of(1)), TypeError, `${P.name}.encryptInts: argument 'value' must be a RingTensor, BigInt64Array, Int32Array or array of safe integers, got Float64Array`);
        // an owner elsewhere: the shape is required, and taken from the option
        const remote = P.make({ transport: new MemoryTransport({ local: ['server0', 'evaluator'] }) });
        refuses(t, () => remote.encryptInts(alice, undefined), TypeError, `${P.name}.encryptInts: owner 'alice' does not execute in this process; pass option 'shape'`);
      }
    });

    it('options of the constructor: transport, timeoutMs, id, players; the default id counts instances of a kind', () => {
      refuses(new MemoryTransport(), () => P.make({ transport: {} }), TypeError, `${P.name}: option 'transport' must be a Transport, got Object`);
      refuses(new MemoryTransport(), () => P.make({ transport: null }), TypeError, `${P.name}: option 'transport' must be a Transport, got null`);
      refuses(new MemoryTransport(), () => P.make({ transport: 'memory' }), TypeError, `${P.name}: option 'transport'`);
      for (const bad of [0, -5, '5', NaN]) refuses(new MemoryTransport(), () => P.make({ timeoutMs: bad }), RangeError, `${P.name}: option 'timeoutMs' must be a positive number, got ${String(bad)}`);
      for (const bad of ['a b', '!ok', 'ok!', '', 'x'.repeat(65), 7]) refuses(new MemoryTransport(), () => P.make({ id: bad }), RangeError, `${P.name}: option 'id' must match`, `got ${String(bad)}`);
      for (const good of ['a', 'run-1.x_2', 'x'.repeat(64)]) assert.equal(P.make({ id: good }).id, good);
      refuses(new MemoryTransport(), () => P.make({ players: carol }), TypeError, `${P.name}: option 'players' must be an array of Player, got Player`);
      refuses(new MemoryTransport(), () => P.make({ players: [carol, 'bob'] }), TypeError, `${P.name}: argument 'players[1]' must be a Player, got string`);
      for (const bad of [null, 'high', 3, s0]) refuses(new MemoryTransport(), () => (P.name === 'Plaintext' ? new Plaintext(bad as never) : P.name === 'Pond' ? new Pond(s0, s1, s2, bad as never) : new ABY3(s0, s1, s2, bad as never)), TypeError, `${P.name}: argument 'options' must be an options object`);
      const a = P.make();
      const b = P.make();
      assert.equal(a.kind, P.kind);
      const [, na] = /^(.*)-(\d+)$/.exec(a.id)!.slice(1);
      assert.ok(a.id.startsWith(`${P.kind}-`) && b.id === `${P.kind}-${Number(na) + 1}`, `consecutive default ids: ${a.id}, ${b.id}`);
      assert.ok(P.make({ timeoutMs: 0.5 }).timeoutMs === 0.5);
    });
  });
}

describe('rosters', () => {
  it('a missing or null server, a repeated one, a crypto producer that is a server', () => {
    for (const [args, role] of [[[null, s1, s2], 'server0'], [[s0, undefined, s2], 'server1'], [[s0, s1, null], 'server2']] as const) {
      assert.throws(() => new ABY3(...(args as unknown as [Player, Player, Player])), (e: unknown) => e instanceof TypeError && (e as Error).message === `ABY3: argument '${role}' is missing (expected a Player)`);
    }
    assert.throws(() => new Pond(null as never, s1, s2), (e: unknown) => e instanceof TypeError && (e as Error).message === `Pond: argument 'server0' is missing (expected a Player)`);
    assert.throws(() => new Pond(s0, s1, null as never), (e: unknown) => e instanceof TypeError && (e as Error).message === `Pond: argument 'cryptoProducer' is missing (expected a Player or a TripleSource)`);
    assert.throws(() => new Pond(s0, s1, { player: s0, triple: async () => [undefined, undefined] }), (e: unknown) => e instanceof DuplicatePlayerError && /'server0' is given as both 'server0' and 'cryptoProducer'/.test((e as Error).message));
    assert.throws(() => new Plaintext({ evaluator: 'evaluator' as never }), (e: unknown) => e instanceof TypeError && (e as Error).message.startsWith(`Plaintext: argument 'options.evaluator' must be a Player`));
  });

  it('players of each protocol; a triple source without a player adds none', () => {
    assert.deepEqual(new ABY3(s0, s1, s2).players.map((p) => p.name), ['server0', 'server1', 'server2']);
    assert.deepEqual(new Pond(s0, s1, s2).players.map((p) => p.name), ['server0', 'server1', 'server2']);
    const pond = new Pond(s0, s1, { triple: async () => [undefined, undefined] });
    assert.deepEqual(pond.players.map((p) => p.name), ['server0', 'server1']);
    assert.deepEqual(pond.knownPlayers.map((p) => p.name), ['server0', 'server1']);
    assert.deepEqual(new Plaintext().players.map((p) => p.name), ['evaluator']);
    assert.deepEqual(new Plaintext({ evaluator: carol }).players.map((p) => p.name), ['carol']);
    assert.deepEqual(new ABY3(s0, s1, s2, { players: [carol, alice] }).knownPlayers.map((p) => p.name), ['carol', 'alice', 'server0', 'server1', 'server2']);
  });
});

describe('ABY3 fused aggregation: checks name the operation and the argument', () => {
  const owners = ['o0', 'o1'].map((n) => new Player(n));
  const ok = owners.map(() => new Float64Array(4));
  for (const op of ['encryptSum', 'aggregateInto'] as const) {
    it(`${op}: options, size, inputs and out`, () => {
      const t = new MemoryTransport();
      const p = new ABY3(s0, s1, s2, { transport: t, players: [...owners, carol] });
      const call = (inputs: unknown[], options: unknown, out: unknown = new Float64Array(4)) => (op === 'encryptSum'
        ? p.encryptSum(owners, inputs as never, [1, 1], options as never)
        : p.aggregateInto(owners, inputs as never, [1, 1], carol, out as never, options as never));
      const rejects = (f: () => Promise<unknown>, type: new (...a: never[]) => Error, message: string) => assert.rejects(f, (e: unknown) => e instanceof type && (e as Error).message === message);
      return (async () => {
        await rejects(() => call(ok, null), TypeError, `ABY3.${op}: argument 'options' must be an object`);
        await rejects(() => call(ok, 'x'), TypeError, `ABY3.${op}: argument 'options' must be an object`);
        for (const bad of [1.5, '4', -1]) await rejects(() => call(ok, { size: bad }), RangeError, `ABY3.${op}: option 'size' must be a non-negative integer, got ${String(bad)}`);
        await rejects(() => call([ok[0], null], {}), TypeError, `ABY3.${op}: argument 'inputs[1]' (owner 'o1') must be a Float32Array or Float64Array, got null`);
        await rejects(() => call([ok[0], [0, 0, 0, 0]], {}), TypeError, `ABY3.${op}: argument 'inputs[1]' (owner 'o1') must be a Float32Array or Float64Array, got object`);
        if (op === 'aggregateInto') await rejects(() => call(ok, {}, null), TypeError, `ABY3.aggregateInto: argument 'out' must be a Float32Array or Float64Array where 'carol' executes, got null`);
        else await rejects(() => call(ok, { sensitivity: 'carol' }), TypeError, `ABY3.encryptSum: option 'sensitivity' must be an array of Player or null, got string`);
        assert.deepEqual(t.stats(), {}, 'nothing was sent');
      })();
    });
  }
});

describe('Pond: the crypto producer', () => {
  it('an object that is not a TripleSource is refused', () => {
    assert.throws(() => new Pond(s0, s1, {} as never), (e: unknown) => e instanceof TypeError && (e as Error).message === `Pond: argument 'cryptoProducer' must be a Player or a TripleSource, got Object`);
    assert.throws(() => new Pond(s0, s1, { triple: 1 } as never), (e: unknown) => e instanceof TypeError && /'cryptoProducer' must be a Player or a TripleSource/.test((e as Error).message));
  });

  it('a dealer that never answers: the triple times out naming it (option timeoutMs)', { timeout: 20_000 /* hang guard only */ }, async () => {
    // the dealer (server2) runs nowhere: its key and c1 never arrive
    const t = new MemoryTransport({ local: ['server0', 'server1', 'alice'] });
    const pond = new Pond(s0, s1, s2, { transport: t, timeoutMs: 30 });
    const x = await pond.encrypt(alice, [1, 2]);
    await assert.rejects(pond.mul(x, x), (e: unknown) => e instanceof TransportError && /'server2'/.test((e as Error).message));
  });
});
