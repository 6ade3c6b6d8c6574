/**
 * The protocols on the wire: every op with one simulated process per player
 * (each holds only its own parts), operands left untouched by the ops that
 * communicate, who receives what in a reveal to a server, the rendezvous keys
 * (the cross-process contract), and peers that misbehave on the wire: a
 * malicious server or owner sending messages of the wrong size, a transport
 * delivering payloads at unaligned offsets, one keeping payloads by reference.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RingArena } from '../../src/encrypted/arena.js';
import { ABY3, Plaintext, Player, Pond } from '../../src/encrypted/index.js';
import { MemoryHub, MemoryTransport, type Transport } from '../../src/transport/index.js';
import { RecordingTransport } from './recording.js';

const [s0, s1, s2, alice, bob, carol] = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];
type Any = any; // the protocol classes through their common surface
type Kind = 'aby3' | 'pond' | 'plaintext';
const make = (kind: Kind, opts: object): Any => (kind === 'aby3' ? new ABY3(s0, s1, s2, opts) : kind === 'pond' ? new Pond(s0, s1, s2, opts) : new Plaintext(opts));
const KINDS: Kind[] = ['aby3', 'pond', 'plaintext'];

const X = [[1.5, -2, 0.25], [3, 4, -1]];
const Y = [[0.5, 1, -3], [-1, 2, 0.75]];
const I = [[2, -3, 5], [7, 0, -1]];
const flat = (m: number[][]): number[] => m.flat();
const zip = (a: number[], b: number[], f: (x: number, y: number) => number): number[] => a.map((v, i) => f(v, b[i]!));

/** The same op sequence in every process; reveals go to carol. Returns [name, result] where carol executes. */
async function program(p: Any, me: string | undefined): Promise<[string, Float64Array | undefined][]> {
  const here = (who: string) => me === undefined || me === who;
  const x = await p.encrypt(alice, here('alice') ? X : undefined, { shape: [2, 3] });
  const y = await p.encrypt(bob, here('bob') ? Y : undefined, { shape: [2, 3] });
  const n = await p.encryptInts(bob, here('bob') ? flat(I) : undefined, { shape: [2, 3] });
  const ops: [string, Any][] = [
    ['add', p.add(x, y)], ['sub', p.sub(x, y)], ['neg', p.neg(x)], ['mul', await p.mul(x, y)], ['mul int', await p.mul(x, n)],
    ['matmul', await p.matmul(x, p.transpose(y))], ['truncate', await p.truncate(p.mulPublic ? await p.mulPublic(x, 2 ** 16) : x)],
    ['mulPublic frac', await p.mulPublic(x, 0.5)], ['mulPublic ints', await p.mulPublic(x, [2, -1, 3])], ['divPublic', await p.divPublic(x, [2, -4, 8])],
    ['addPublic', p.addPublic(x, [1, 2, 3])], ['sum', p.sum(x)], ['sum keepDims', p.sum(x, 1, true)], ['reshape', p.reshape(x, [3, 2])], ['addN', p.addN([x, y, x])],
  ];
  const out: [string, Float64Array | undefined][] = [];
  for (const t of [x, y, n]) assertPlacement(t, me, 'input');
  for (const [name, t] of ops) {
    assertPlacement(t, me, name);
    const r = await p.reveal(t, carol);
    out.push([name, r.isLocal ? r.read() : undefined]);
  }
  return out;
}

/** A part of a tensor exists exactly where its holder executes (everywhere when `me` is undefined). */
function assertPlacement(t: Any, me: string | undefined, what: string): void {
  const holders: Player[] = t.kind === 'replicated' ? t.placement.flatMap((q: Player) => [q, q]) : t.placement;
  assert.equal(t.parts.length, holders.length, `${what}: one part per holder`);
  assert.deepEqual(t.parts.map((q: unknown) => q !== undefined), holders.map((h) => me === undefined || h.name === me), `${what}: parts present at ${me ?? 'every player'}`);
}

const WANT: Record<string, number[]> = {
  add: zip(flat(X), flat(Y), (a, b) => a + b), sub: zip(flat(X), flat(Y), (a, b) => a - b), neg: flat(X).map((v) => -v),
  mul: zip(flat(X), flat(Y), (a, b) => a * b), 'mul int': zip(flat(X), flat(I), (a, b) => a * b),
  matmul: [0, 1].flatMap((i) => [0, 1].map((j) => X[i]!.reduce((s, v, k) => s + v * Y[j]![k]!, 0))),
  truncate: flat(X), 'mulPublic frac': flat(X).map((v) => v / 2), 'mulPublic ints': flat(X).map((v, i) => v * [2, -1, 3][i % 3]!),
  divPublic: flat(X).map((v, i) => v / [2, -4, 8][i % 3]!), addPublic: flat(X).map((v, i) => v + [1, 2, 3][i % 3]!),
  sum: [flat(X).reduce((a, b) => a + b, 0)], 'sum keepDims': X.map((r) => r.reduce((a, b) => a + b, 0)), reshape: flat(X), addN: zip(flat(X), flat(Y), (a, b) => 2 * a + b),
};

function check(results: [string, Float64Array | undefined][], what: string): void {
  for (const [name, got] of results) {
    assert.ok(got !== undefined, `${what}: ${name} revealed at carol`);
    assert.equal(got.length, WANT[name]!.length, `${what}: ${name} size`);
    got.forEach((v, i) => assert.ok(Math.abs(v - WANT[name]![i]!) < 2 ** -12, `${what}: ${name} element ${i}: ${v} vs ${WANT[name]![i]}`));
  }
}

describe('every op, one simulated process per player', () => {
  for (const kind of KINDS) {
    it(`${kind}: each process holds its own parts only; carol alone gets each result`, async () => {
      const hub = new MemoryHub();
      const everyone = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol', 'evaluator'];
      const results = await Promise.all(everyone.map((me) => program(make(kind, { transport: new MemoryTransport({ hub, local: [me] }), id: `ops-${kind}`, players: [carol] }), me)));
      everyone.forEach((who, i) => {
        if (who === 'carol') check(results[i]!, `${kind} (SPMD)`);
        else assert.ok(results[i]!.every(([, r]) => r === undefined), `${who} gets nothing`);
      });
      assert.equal(hub.pending(), 0, 'no message left undelivered');
      check(await program(make(kind, { transport: new MemoryTransport(), players: [carol] }), undefined), `${kind} (one process)`);
    });
  }
});

describe('ABY3 fused aggregation, one simulated process per server', () => {
  it('encryptSum: each server holds exactly its two components of the sum; revealInto gives the sum to the target only', async () => {
    const owners = ['o0', 'o1', 'o2'].map((n) => new Player(n));
    const xs = owners.map((_, k) => Float64Array.from({ length: 16 }, (_, i) => (k + 1) * i - 7.25));
    const hub = new MemoryHub();
    const groups = [['server0'], ['server1'], ['server2'], ['o0', 'o1', 'o2', 'carol']];
    const results = await Promise.all(groups.map(async (local) => {
      const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local }), id: 'sum-spmd', players: [...owners, carol] });
      const sum = await p.encryptSum(owners, owners.map((o, k) => (local.includes(o.name) ? xs[k] : undefined)), [1, -1, 0.5], { size: 16 });
      if (local.length === 1) assertPlacement(sum, local[0], `encryptSum at ${local[0]}`);
      else assert.ok(sum.parts.every((q) => q === undefined), 'owners and target hold no part');
      return p.revealInto(sum, carol, new Float64Array(16));
    }));
    assert.deepEqual(results.slice(0, 3), [undefined, undefined, undefined]);
    results[3]!.forEach((v, i) => assert.ok(Math.abs(v - (xs[0]![i]! - xs[1]![i]! + 0.5 * xs[2]![i]!)) < 2 ** -13, `element ${i}`));
    assert.equal(hub.pending(), 0);
  });
});

describe('operands of the ops that communicate are left untouched', () => {
  for (const kind of KINDS) {
    it(`${kind}: truncate, mul, matmul, mulPublic and reveal do not modify their operands`, async () => {
      const p = make(kind, { transport: new MemoryTransport(), players: [carol] });
      const x = await p.encrypt(alice, X);
      const y = await p.encrypt(bob, Y);
      const parts = (t: Any) => t.parts.map((q: Any) => (q === undefined ? undefined : Array.from(q.data as BigUint64Array)));
      const before = [parts(x), parts(y)];
      await p.truncate(x);
      await p.mul(x, y);
      await p.matmul(x, p.transpose(y));
      await p.mulPublic(x, 0.25);
      await p.divPublic(y, 3);
      await p.reveal(x, carol);
      await p.revealRing(y, carol);
      assert.deepEqual([parts(x), parts(y)], before);
    });
  }
});

describe('local ops send nothing', () => {
  for (const kind of KINDS) {
    it(`${kind}: linear ops, integer constants, and a fraction times an integer tensor need no message`, async () => {
      const rec = new RecordingTransport();
      const p = make(kind, { transport: rec, players: [carol] });
      const x = await p.encrypt(alice, X);
      const n = await p.encryptInts(bob, flat(I), { shape: [2, 3] });
      rec.take();
      p.add(x, x); p.sub(x, x); p.neg(x); p.addN([x, x]); p.sum(x, 0); p.reshape(x, [6]); p.transpose(x); p.addPublic(x, 1.5);
      await p.mulPublic(x, 3);
      await p.mulPublic(x, [2, -1, 4]);
      const half = await p.mulPublic(n, 0.5);
      assert.deepEqual(rec.take().map((m) => m.key), [], 'no message');
      assert.deepEqual(Array.from((await p.reveal(half, carol)).read()), flat(I).map((v) => v / 2));
    });
  }
});

describe('a reveal to a compute server', () => {
  it('ABY3: the server receives its one missing component, from the server holding it first', async () => {
    for (const [j, from] of [[0, 'server2'], [1, 'server0'], [2, 'server1']] as const) {
      const rec = new RecordingTransport();
      const p = new ABY3(s0, s1, s2, { transport: rec });
      const x = await p.encrypt(alice, [1.5, -2.5]);
      rec.take();
      const to = [s0, s1, s2][j]!;
      const r = await p.reveal(x, to);
      assert.deepEqual(rec.take().map((m) => `${m.from}>${m.to}:${m.bytes.length}`), [`${from}>${to.name}:16`]);
      assert.deepEqual(Array.from(r.read()), [1.5, -2.5]);
      const out = await p.revealInto(x, to, new Float64Array(2));
      assert.deepEqual(rec.take().map((m) => `${m.from}>${m.to}`), [`${from}>${to.name}`]);
      assert.deepEqual(Array.from(out!), [1.5, -2.5]);
    }
  });

  it('Pond: the server receives the other share only; Plaintext: the evaluator receives nothing', async () => {
    for (const [to, from] of [[s0, 'server1'], [s1, 'server0']] as const) {
      const rec = new RecordingTransport();
      const p = new Pond(s0, s1, s2, { transport: rec });
      const x = await p.encrypt(alice, [4, -0.5]);
      rec.take();
      assert.deepEqual(Array.from((await p.reveal(x, to)).read()), [4, -0.5]);
      assert.deepEqual(rec.take().map((m) => `${m.from}>${m.to}`), [`${from}>${to.name}`]);
    }
    const rec = new RecordingTransport();
    const pt = new Plaintext({ transport: rec });
    const x = await pt.encrypt(alice, [4]);
    rec.take();
    assert.deepEqual(Array.from((await pt.reveal(x, pt.evaluator)).read()), [4]);
    assert.deepEqual(rec.take(), []);
  });

  it('ABY3.revealInto of an integer tensor decodes integers', async () => {
    const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport(), players: [carol] });
    const n = await p.encryptInts(alice, [3, -7, 2 ** 40]);
    assert.deepEqual(Array.from((await p.revealInto(n, carol, new Float64Array(3)))!), [3, -7, 2 ** 40]);
    assert.throws(() => p.revealInto(n, carol, null as never), (e: unknown) => e instanceof TypeError && (e as Error).message === `ABY3.revealInto: argument 'out' must be a Float32Array or Float64Array, got null`);
    assert.throws(() => p.revealInto(n, carol, [0, 0, 0] as never), (e: unknown) => e instanceof TypeError && /^ABY3\.revealInto: argument 'out' .* got object$/.test((e as Error).message));
    assert.throws(() => p.revealInto(3 as never, carol, new Float64Array(3)), (e: unknown) => e instanceof TypeError && (e as Error).message.startsWith(`ABY3.revealInto: argument 'x' must be a tensor`));
  });
});

describe('rendezvous keys: `${id}/${op}/${label}`, ops numbered from 1 in call order (the contract between processes)', () => {
  it('ABY3, Pond and Plaintext: the keys of encrypt, mul (fixed, int), truncate, matmul and reveal', async () => {
    const want: Record<Kind, string[]> = {
      aby3: ['server0>server1:k/setup/key/server0/server1', 'server1>server2:k/setup/key/server1/server2', 'server2>server0:k/setup/key/server2/server0',
        ...[['alice', 1], ['bob', 2], ['bob', 3]].flatMap(([o, i]) => [`${o}>server0:k/${i}/seeds01`, `${o}>server1:k/${i}/seed1`, `${o}>server2:k/${i}/seed0`, `${o}>server1:k/${i}/x2`, `${o}>server2:k/${i}/x2`]),
        'server2>server1:k/4/z2', 'server0>server2:k/4/t0', 'server1>server2:k/4/t2', 'server0>server2:k/5/z0', 'server1>server0:k/5/z1', 'server2>server1:k/5/z2',
        'server0>server2:k/6/t0', 'server1>server2:k/6/t2', 'server2>server1:k/7/z2', 'server0>server2:k/7/t0', 'server1>server2:k/7/t2',
        'server0>carol:k/8/reveal01', 'server2>carol:k/8/reveal2', 'server0>server1:k/9/reveal0'],
      pond: [...[['alice', 1], ['bob', 2], ['bob', 3]].flatMap(([o, i]) => [`${o}>server0:k/${i}/seed`, `${o}>server1:k/${i}/masked`]),
        'server2>server0:k/dealer/key0', 'server2>server1:k/dealer/key1',
        ...[4, 5, 7].flatMap((i) => [`server2>server1:k/${i}/triple/c1`, `server0>server1:k/${i}/e0`, `server0>server1:k/${i}/d0`, `server1>server0:k/${i}/e1`, `server1>server0:k/${i}/d1`]),
        'server0>carol:k/8/reveal0', 'server1>carol:k/8/reveal1', 'server0>server1:k/9/reveal0'],
      plaintext: ['alice>evaluator:k/1/input', 'bob>evaluator:k/2/input', 'bob>evaluator:k/3/input', 'evaluator>carol:k/8/reveal'],
    };
    for (const kind of KINDS) {
      const rec = new RecordingTransport();
      const p = make(kind, { transport: rec, id: 'k', players: [carol] });
      const x = await p.encrypt(alice, [1, 2]);
      const y = await p.encrypt(bob, [3, 4]);
      const n = await p.encryptInts(bob, [3, 4]);
      await p.mul(x, y);
      await p.mul(n, n);
      await p.truncate(x);
      await p.matmul(p.reshape(x, [1, 2]), p.reshape(y, [2, 1]));
      await p.reveal(x, carol);
      await p.reveal(x, kind === 'plaintext' ? p.evaluator : s1);
      assert.deepEqual(rec.log.map((m) => `${m.from}>${m.to}:${m.key}`), want[kind], kind);
    }
  });
});

describe('rendezvous keys of the fused aggregation', () => {
  it('encryptSum and aggregateInto: one key prefix per owner, then the sums', async () => {
    const owners = ['o0', 'o1'].map((n) => new Player(n));
    const rec = new RecordingTransport();
    const p = new ABY3(s0, s1, s2, { transport: rec, id: 'k', players: [...owners, carol] });
    const xs = owners.map(() => new Float64Array(2));
    await p.encryptSum(owners, xs, [1, 1]);
    await p.aggregateInto(owners, xs, [1, 1], carol, new Float64Array(2));
    assert.deepEqual(rec.log.filter((m) => !m.key.includes('/setup/')).map((m) => `${m.from}>${m.to}:${m.key}`), [
      ...[0, 1].flatMap((i) => [`o${i}>server0:k/1/${i}/seeds01`, `o${i}>server1:k/1/${i}/seed1`, `o${i}>server2:k/1/${i}/seed0`, `o${i}>server1:k/1/${i}/x2`]),
      'server1>server2:k/1/x2sum',
      ...[0, 1].flatMap((i) => [`o${i}>server0:k/2/${i}/seeds01`, `o${i}>server1:k/2/${i}/x2`]),
      'server0>carol:k/2/masks', 'server1>carol:k/2/rest',
    ]);
  });
});

describe('peers that misbehave on the wire', () => {
  it('ABY3: a pairwise key of the wrong size from a malicious server is refused, naming it', async () => {
    const hub = new MemoryHub();
    const honest = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local: ['server0', 'alice'] }), id: 'atk' });
    const evil = new MemoryTransport({ hub, local: ['server1', 'server2'] });
    await evil.send('server2', 'server0', 'atk/setup/key/server2/server0', new Uint8Array(8));
    await assert.rejects(honest.encrypt(alice, [1, 2]), (e: unknown) => e instanceof Error && e.name === 'TransportError' && (e as Error).message === `atk: pairwise key from 'server2' has 8 bytes, expected 16`);
  });

  it('a reveal component of the wrong size is refused, naming the message, the sender and the receiver', async () => {
    const hub = new MemoryHub();
    const honest = new Pond(s0, s1, s2, { transport: new MemoryTransport({ hub, local: ['carol'] }), id: 'atk', players: [carol] });
    const evil = new MemoryTransport({ hub, local: ['server0', 'server1'] });
    const x = await honest.encrypt(alice, undefined, { shape: [4] }); // op 1: carol takes no part
    await evil.send('server0', 'carol', 'atk/2/reveal0', new Uint8Array(3));
    await evil.send('server1', 'carol', 'atk/2/reveal1', new Uint8Array(32));
    await assert.rejects(honest.reveal(x, carol), (e: unknown) => e instanceof Error && e.name === 'TransportError'
      && (e as Error).message === `atk: message 'atk/2/reveal0' from 'server0' to 'carol' has 3 bytes, expected 32 (shape [4], Z_2^64)`);
  });

  it('Pond: an input seed of the wrong size from a malicious owner is refused', async () => {
    const hub = new MemoryHub();
    const honest = new Pond(s0, s1, s2, { transport: new MemoryTransport({ hub, local: ['server0', 'server1'] }), id: 'atk' });
    const evil = new MemoryTransport({ hub, local: ['alice'] });
    await evil.send('alice', 'server0', 'atk/1/seed', new Uint8Array(15));
    await evil.send('alice', 'server1', 'atk/1/masked', new Uint8Array(16));
    await assert.rejects(honest.encrypt(alice, undefined, { shape: [2] }), (e: unknown) => e instanceof Error && e.name === 'TransportError' && (e as Error).message === 'Pond: input seed has 15 bytes, expected 16');
  });

  it('payloads delivered at unaligned offsets (as a framing transport may) are read correctly', async () => {
    /** Hands each payload over as a view at byte offset 3 of a larger buffer. */
    class Unaligned implements Transport {
      readonly kind = 'unaligned';
      readonly inner = new MemoryTransport();
      isLocal(p: string) { return this.inner.isLocal(p); }
      send(from: string, to: string, key: string, payload: Uint8Array) {
        const buf = new Uint8Array(payload.length + 3);
        buf.set(payload, 3);
        return this.inner.send(from, to, key, buf.subarray(3));
      }
      receive(to: string, from: string, key: string) { return this.inner.receive(to, from, key); }
      stats() { return this.inner.stats(); }
      resetStats() { this.inner.resetStats(); }
      close() { return this.inner.close(); }
    }
    for (const kind of KINDS) check(await program(make(kind, { transport: new Unaligned(), players: [carol] }), undefined), `${kind} over unaligned payloads`);
  });

  it('ABY3 fused aggregation over a transport that keeps payloads by reference: no buffer is reused while the transport holds it', async () => {
    /** Delivers as the memory transport does, but is not one: keeps each payload and a copy made at send time. */
    class Keeping implements Transport {
      readonly kind = 'keeping';
      readonly inner = new MemoryTransport();
      readonly kept: { payload: Uint8Array; copy: Uint8Array; key: string }[] = [];
      isLocal(p: string) { return this.inner.isLocal(p); }
      send(from: string, to: string, key: string, payload: Uint8Array) {
        this.kept.push({ payload, copy: payload.slice(), key });
        return this.inner.send(from, to, key, payload);
      }
      receive(to: string, from: string, key: string) { return this.inner.receive(to, from, key); }
      stats() { return this.inner.stats(); }
      resetStats() { this.inner.resetStats(); }
      close() { return this.inner.close(); }
    }
    const owners = ['o0', 'o1', 'o2', 'o3'].map((n) => new Player(n));
    const xs = owners.map((_, k) => Float64Array.from({ length: 64 }, (_, i) => k * 100 + i));
    const want = xs[0]!.map((_, i) => xs.reduce((s, x) => s + x[i]!, 0));
    for (const op of ['encryptSum', 'aggregateInto'] as const) {
      const t = new Keeping();
      const p = new ABY3(s0, s1, s2, { transport: t, players: [...owners, carol] });
      const arena = new RingArena({ pooled: true });
      const out = op === 'encryptSum'
        ? await p.revealInto(await p.encryptSum(owners, xs, [1, 1, 1, 1], { arena }), carol, new Float64Array(64))
        : await p.aggregateInto(owners, xs, [1, 1, 1, 1], carol, new Float64Array(64), { arena });
      for (const k of t.kept) assert.deepEqual(k.payload, k.copy, `${op}: payload '${k.key}' changed after it was sent`);
      out!.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 2 ** -12, `${op}: element ${i}`));
      arena.dispose();
    }
    RingArena.clearPool();
  });
});
