/**
 * The protocols run unchanged over the gRPC transport: the SPMD program of
 * test/encrypted/security.test.ts, once with one MemoryTransport per player
 * on a shared hub and once with one GrpcTransport per player (each its own
 * server on 127.0.0.1, authenticated links): same revealed result (within the
 * fixed-point tolerance; shares are random), the value reaches carol only, and
 * the traffic per player (bytes, messages, rounds) is identical.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player, Pond } from '../../src/encrypted/index.js';
import { MemoryHub, MemoryTransport, type PlayerStats, type Transport } from '../../src/transport/index.js';
import { GrpcTransport } from '../../src/transport/grpc.js';
import { deployment } from './helpers.js';

const names = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol'];
const [s0, s1, s2, alice, bob, carol] = names.map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];
const X = [[1.5, -2, 0.25], [3, 4, -1]];
const Y = [[0.5, 1], [-1, 2], [4, -0.5]];
const want = [3.75, -2.625, -6.5, 11.5];

async function program(kind: 'aby3' | 'pond', me: string, transport: Transport) {
  const opts = { transport, id: `grpc-${kind}`, players: [carol] };
  const p = kind === 'aby3' ? new ABY3(s0, s1, s2, opts) : new Pond(s0, s1, s2, opts);
  const x = await p.encrypt(alice, me === 'alice' ? X : undefined, { shape: [2, 3] });
  const y = await p.encrypt(bob, me === 'bob' ? Y : undefined, { shape: [3, 2] });
  const z = await (p as ABY3).matmul(x as never, y as never);
  return (p as ABY3).reveal(z, carol);
}

function check(results: Awaited<ReturnType<typeof program>>[]) {
  names.forEach((who, i) => {
    const r = results[i]!;
    if (who === 'carol') r.read().forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 2 ** -12, `element ${j}: ${v} vs ${want[j]}`));
    else assert.equal(r.isLocal, false, `${who} does not get the value`);
  });
}

describe('protocols over GrpcTransport, one transport per player', () => {
  for (const [kind, links] of [['aby3', 'tls'], ['pond', 'tls'], ['aby3', 'noise'], ['pond', 'noise']] as const) {
    it(`${kind} over ${links} links: same result and same traffic as over the memory transport`, async () => {
      const hub = new MemoryHub();
      check(await Promise.all(names.map((me) => program(kind, me, new MemoryTransport({ hub, local: [me] })))));
      const memStats = hub.stats();

      const d = await deployment(names, links);
      const ts = names.map((me) => new GrpcTransport({ config: d.config, local: d.parties.get(me)!, runId: `t-${kind}`, receiveTimeoutMs: 20_000, logger: () => {} }));
      await Promise.all(ts.map((t) => t.start()));
      try {
        check(await Promise.all(names.map((me, i) => program(kind, me, ts[i]!))));
        const grpcStats: Record<string, PlayerStats> = {};
        ts.forEach((t) => Object.assign(grpcStats, t.stats()));
        assert.deepEqual(grpcStats, memStats);
        assert.equal(ts.reduce((n, t) => n + t.dropped, 0), 0);
      } finally {
        await Promise.all(ts.map((t) => t.close()));
      }
    });
  }
});
