/**
 * What each party receives: payloads recorded through a wrapping transport,
 * byte counters against the protocols' theoretical communication, statistical
 * smoke tests that a server's view does not depend on the input, reveal only
 * reaching its target, and SPMD runs with one simulated process per player.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player, Plaintext, Pond } from '../../src/encrypted/index.js';
import { MemoryHub, MemoryTransport, type PlayerStats } from '../../src/transport/index.js';
import * as ring from '../../src/ring/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { RecordingTransport } from './recording.js';
import { assertUniformBits, bitFrequencies } from './uniform.js';

const [s0, s1, s2, alice, bob, carol] = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];

const sent = (st: Record<string, PlayerStats>, p: string) => st[p]?.bytesSent ?? 0;
const msgs = (st: Record<string, PlayerStats>, p: string) => st[p]?.messagesSent ?? 0;

for (const precision of ['low', 'high'] as const) {
  const E = precision === 'low' ? 8 : 16; // bytes per ring element
  describe(`ABY3 communication and views (precision ${precision})`, () => {
    it('set-up sends one 16-byte key per server pair; encrypt sends seeds for two components', async () => {
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision });
      const n = 1000;
      await aby3.encrypt(alice, new Float64Array(n).fill(1.5));
      const setup = rec.log.filter((m) => m.key.includes('/setup/'));
      assert.deepEqual(setup.map((m) => `${m.from}->${m.to}:${m.bytes.length}`).sort(), ['server0->server1:16', 'server1->server2:16', 'server2->server0:16']);
      const input = rec.log.filter((m) => !m.key.includes('/setup/'));
      const into = (p: string) => input.filter((m) => m.to === p).reduce((a, m) => a + m.bytes.length, 0);
      assert.ok(input.every((m) => m.from === 'alice'), 'only the owner sends');
      assert.equal(into('server0'), 32, 'server0 gets two seeds');
      assert.equal(into('server1'), 16 + n * E, 'server1 gets one seed and one full component');
      assert.equal(into('server2'), n * E + 16, 'server2 gets one full component and one seed');
      // no server ever receives enough for all three components: at most one full component each
      for (const p of ['server0', 'server1', 'server2']) assert.ok(into(p) < 2 * n * E, `${p} receives less than two full components`);
    });

    it('mul: each server sends exactly one ring element per product to one other server', async () => {
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision, players: [carol] });
      const n = 777;
      const x = await aby3.encrypt(alice, Float64Array.from({ length: n }, (_, i) => i / 70));
      const y = await aby3.encrypt(bob, Float64Array.from({ length: n }, (_, i) => 1 - i / 300));
      const xi = await aby3.encryptInts(alice, Array.from({ length: n }, (_, i) => i));
      const yi = await aby3.encryptInts(bob, Array.from({ length: n }, (_, i) => 3 - i));
      for (const [label, a, b] of [['fixed-point mul (fused truncation)', x, y], ['integer mul', xi, yi]] as const) {
        rec.resetStats();
        rec.take();
        const z = await aby3.mul(a, b);
        const st = rec.stats();
        for (const p of ['server0', 'server1', 'server2']) {
          assert.equal(sent(st, p), n * E, `${label}: ${p} sends n elements`);
          assert.equal(msgs(st, p), 1, `${label}: ${p} sends one message`);
        }
        const log = rec.take();
        assert.equal(new Set(log.map((m) => m.from)).size, 3, `${label}: three distinct senders`);
        for (const m of log) assert.notEqual(m.from, m.to);
        assert.ok(log.every((m) => !['alice', 'bob', 'carol'].includes(m.to)), `${label}: nothing leaves the servers`);
        const r = (await aby3.reveal(z, carol)).read();
        if (label === 'integer mul') r.forEach((v, i) => assert.equal(v, i * (3 - i)));
        else r.forEach((v, i) => assert.ok(Math.abs(v - (i / 70) * (1 - i / 300)) < 2 ** -8, `element ${i}`));
      }
    });

    it('matmul sends m*n elements per server; truncate: servers 0 and 1 send n each; reveal reaches only its target', async () => {
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision, players: [carol] });
      const [m, k, nn] = [5, 7, 3];
      const x = await aby3.encrypt(alice, new Float64Array(m * k).fill(0.5), { shape: [m, k] });
      const y = await aby3.encrypt(bob, new Float64Array(k * nn).fill(2), { shape: [k, nn] });
      rec.resetStats();
      const z = await aby3.matmul(x, y);
      let st = rec.stats();
      for (const p of ['server0', 'server1', 'server2']) assert.equal(sent(st, p), m * nn * E, `matmul: ${p}`);
      rec.resetStats();
      await aby3.truncate(x);
      st = rec.stats();
      assert.deepEqual([sent(st, 'server0'), sent(st, 'server1'), sent(st, 'server2')], [m * k * E, m * k * E, 0]);
      // reveal to an outside player: two messages, both to carol (x0 + x1 from server0, x2 from server2)
      rec.take();
      const r = await aby3.reveal(z, carol);
      let log = rec.take();
      assert.deepEqual(log.map((msg) => `${msg.from}->${msg.to}`).sort(), ['server0->carol', 'server2->carol']);
      assert.ok(log.every((msg) => msg.bytes.length === m * nn * E));
      assert.deepEqual(Array.from(r.read()), new Array(m * nn).fill(7));
      // reveal to a server: it lacks one component, which only it receives
      const r1 = await aby3.reveal(z, s1);
      log = rec.take();
      assert.deepEqual(log.map((msg) => `${msg.from}->${msg.to}`), ['server0->server1']);
      assert.deepEqual(Array.from(r1.read()), new Array(m * nn).fill(7));
    });

    it("a server's view of an input does not depend on the input (bit frequencies)", async () => {
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision });
      const views: Record<string, Uint8Array[]> = {};
      for (const [name, v] of [['zeros', 0], ['large', 123456.789]] as const) {
        rec.take();
        await aby3.encrypt(alice, new Float64Array(4096).fill(v));
        const full = rec.take().filter((m) => m.to === 'server1' && m.bytes.length > 16);
        assert.equal(full.length, 1);
        views[name] = full.map((m) => m.bytes);
      }
      const fa = assertUniformBits(views['zeros']!, 'view of zeros');
      const fb = assertUniformBits(views['large']!, 'view of 123456.789');
      const tol = 2 * 5 * 0.5 / Math.sqrt(bitFrequencies(views['zeros']!).count);
      fa.forEach((f, b) => assert.ok(Math.abs(f - fb[b]!) < tol, `bit ${b}: ${f} vs ${fb[b]}`));
    });

    it('resharing messages of a product of zeros are uniform (the zero-sharing masks are there)', async () => {
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision });
      const x = await aby3.encryptInts(alice, new Array(4096).fill(0));
      rec.take();
      await aby3.mul(x, x);
      const log = rec.take();
      assert.equal(log.length, 3);
      for (const m of log) assertUniformBits([m.bytes], `${m.from}->${m.to}`);
    });

    it('matmul of zeros, as the receiving server would attack it: it knows all three shares of x (x2 = -(x0 + x1)) and so the unmasked product share z_i; what it receives minus that is uniform (the zero-sharing mask it cannot remove)', async () => {
      const rec = new RecordingTransport();
      const aby3 = new ABY3(s0, s1, s2, { transport: rec, precision });
      const l = precision === 'low' ? 64 : 128;
      const x = await aby3.encryptInts(alice, new Array(64 * 64).fill(0), { shape: [64, 64] });
      await aby3.mul(x, x); // key set-up
      rec.take();
      await aby3.matmul(x, x);
      const log = rec.take();
      assert.equal(log.length, 3, 'one resharing message per server');
      const names = ['server0', 'server1', 'server2'];
      for (const m of log) {
        const i = names.indexOf(m.from);
        const r = (i + 2) % 3;
        assert.equal(m.to, names[r], 'server i sends z_i to server i-1');
        // the receiver holds (x_r, x_(r+1)) = (x_(i-1), x_i); x sums to 0, so it knows x_(i+1) too
        const [xr, xi] = [x.parts[2 * r]!, x.parts[2 * r + 1]!];
        const xj = ring.neg(ring.add(xr, xi));
        const z = ring.add(ring.matmul(xi, ring.add(xi, xj)), ring.matmul(xj, xi));
        const got = RingTensor.fromBytes(l, [64, 64], m.bytes);
        const rest = ring.sub(got, z);
        assertUniformBits([rest.toBytes()], `what ${m.to} receives from ${m.from}, less the product share it can compute`);
      }
    });
  });

  describe(`Pond communication and views (precision ${precision})`, () => {
    it('encrypt: a seed to server0, one masked full share to server1; mul: 2n per server, n from the dealer', async () => {
      const rec = new RecordingTransport();
      const pond = new Pond(s0, s1, s2, { transport: rec, precision, players: [carol] });
      const n = 500;
      const x = await pond.encrypt(alice, Float64Array.from({ length: n }, (_, i) => i / 10 - 20));
      let log = rec.take();
      assert.deepEqual(log.map((m) => `${m.from}->${m.to}:${m.bytes.length}`).sort(), [`alice->server0:16`, `alice->server1:${n * E}`]);
      assertUniformBits(log.filter((m) => m.to === 'server1').map((m) => m.bytes), 'masked share');
      const y = await pond.encrypt(bob, Float64Array.from({ length: n }, () => 0.25));
      await pond.mul(x, y); // warm-up: dealer keys
      rec.resetStats();
      rec.take();
      const z = await pond.mul(x, y);
      const st = rec.stats();
      assert.equal(sent(st, 'server0'), 2 * n * E);
      assert.equal(sent(st, 'server1'), 2 * n * E);
      assert.equal(sent(st, 'server2'), n * E, 'the dealer sends c1 only');
      log = rec.take();
      assert.ok(log.every((m) => m.to !== 'server2' && !['alice', 'bob', 'carol'].includes(m.to)), 'nothing reaches the dealer or outsiders');
      const r = (await pond.reveal(z, carol)).read();
      r.forEach((v, i) => assert.ok(Math.abs(v - (i / 10 - 20) * 0.25) < 2 ** -10));
      const revealLog = rec.take();
      assert.ok(revealLog.every((m) => m.to === 'carol') && revealLog.length === 2);
    });

    it('matmul: each server sends mk + kn elements, the dealer mn', async () => {
      const t = new MemoryTransport();
      const pond = new Pond(s0, s1, s2, { transport: t, precision });
      const [m, k, n] = [4, 6, 5];
      const x = await pond.encrypt(alice, new Float64Array(m * k).fill(1), { shape: [m, k] });
      const y = await pond.encrypt(bob, new Float64Array(k * n).fill(1), { shape: [k, n] });
      await pond.matmul(x, y);
      t.resetStats();
      await pond.matmul(x, y);
      const st = t.stats();
      assert.deepEqual([sent(st, 'server0'), sent(st, 'server1'), sent(st, 'server2')], [(m * k + k * n) * E, (m * k + k * n) * E, m * n * E]);
    });
  });
}

describe('SPMD: one simulated process per player on a shared hub', () => {
  const X = [[1.5, -2, 0.25], [3, 4, -1]];
  const Y = [[0.5, 1], [-1, 2], [4, -0.5]];
  const want = [3.75, -2.625, -6.5, 11.5];

  for (const kind of ['aby3', 'pond', 'plaintext'] as const) {
    it(`${kind}: the same program in six processes reveals the product to carol only`, async () => {
      const hub = new MemoryHub();
      const everyone = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol', 'evaluator'];
      const program = async (me: string) => {
        const transport = new MemoryTransport({ hub, local: [me] });
        const opts = { transport, id: `spmd-${kind}`, players: [carol] };
        const p = kind === 'aby3' ? new ABY3(s0, s1, s2, opts) : kind === 'pond' ? new Pond(s0, s1, s2, opts) : new Plaintext(opts);
        const x = await p.encrypt(alice, me === 'alice' ? X : undefined, { shape: [2, 3] });
        const y = await p.encrypt(bob, me === 'bob' ? Y : undefined, { shape: [3, 2] });
        const z = await (p as ABY3).matmul(x as never, y as never);
        const w = (p as ABY3).add(z, await (p as ABY3).mulPublic(z, 0));
        return (p as ABY3).reveal(w, carol);
      };
      const results = await Promise.all(everyone.map(program));
      everyone.forEach((who, i) => {
        const r = results[i]!;
        if (who === 'carol') r.read().forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 2 ** -12, `element ${j}: ${v} vs ${want[j]}`));
        else assert.equal(r.isLocal, false, `${who} does not get the value`);
      });
      assert.equal(hub.pending(), 0);
      const st = hub.stats();
      assert.equal(st['carol']?.bytesSent ?? 0, 0);
    });
  }
});
