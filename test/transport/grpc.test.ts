import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { generateIdentity, exportPrivateKey, encodePublicKey } from '../../src/crypto/identity.js';
import { parseConfig, ConfigError } from '../../src/transport/config.js';
import { GrpcTransport, PeerError, type GrpcTransportOptions, type TransportEvent } from '../../src/transport/grpc.js';
import type { LinkFrame } from '../../src/transport/grpc-schema.js';
import { TransportError } from '../../src/transport/errors.js';
import { deployment, HANG_GUARD_MS, LINK_MODES, peerSecrets, waitFor, type Deployment } from './helpers.js';

const MiB = 1 << 20;
const root = new URL('../..', import.meta.url).pathname;

function rand(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** Start one transport per name (each its own "process"), with event logs. */
async function start(d: Deployment, names: string[], extra: Partial<GrpcTransportOptions> | ((name: string) => Partial<GrpcTransportOptions>) = {}) {
  const logs = new Map<string, TransportEvent[]>();
  const ts = new Map<string, GrpcTransport>();
  for (const name of names) {
    const log: TransportEvent[] = [];
    logs.set(name, log);
    const opts = typeof extra === 'function' ? extra(name) : extra;
    const t = new GrpcTransport({ config: d.config, local: d.parties.get(name)!, runId: 'test', connectTimeoutMs: 3000, logger: (e) => log.push(e), ...opts });
    await t.start();
    ts.set(name, t);
  }
  const closeAll = () => Promise.all([...ts.values()].map((t) => t.close()));
  return { ts, logs, closeAll };
}

/** Concatenate a sealed frame's pieces. */
const frameBytes = (f: LinkFrame): Uint8Array => (f.sealed?.pieces ? Buffer.concat(f.sealed.pieces) : f.sealed!.frame!);

for (const links of LINK_MODES) {
  test(`grpc ${links}: payloads of every size cross bit for bit, both ways, in any receive order; stats count them`, async () => {
    const d = await deployment(['a', 'b'], links);
    const { ts, closeAll } = await start(d, ['a', 'b']);
    const a = ts.get('a')!;
    const b = ts.get('b')!;
    try {
      const C = MiB; // the default chunk size: test its boundaries
      const sizes = [0, 1, 1000, C - 1, C, C + 1, 9 * MiB + 7];
      const payloads = sizes.map(rand);
      // all sent concurrently, received in reverse order
      const sends = payloads.map((p, i) => a.send('a', 'b', `m/${i}`, p));
      for (let i = sizes.length - 1; i >= 0; i--) {
        const got = await b.receive('b', 'a', `m/${i}`, { timeoutMs: HANG_GUARD_MS });
        assert.equal(got.length, sizes[i]);
        assert.ok(Buffer.from(got).equals(Buffer.from(payloads[i]!)), `payload ${i} (${sizes[i]} bytes) differs`);
      }
      await Promise.all(sends);
      const back = rand(3 * MiB);
      await b.send('b', 'a', 'back', back);
      assert.deepEqual(await a.receive('a', 'b', 'back', { timeoutMs: HANG_GUARD_MS }), back);
      const total = sizes.reduce((x, y) => x + y, 0);
      assert.deepEqual(a.stats()['a'], { bytesSent: total, bytesReceived: back.length, messagesSent: sizes.length, messagesReceived: 1, rounds: 1 });
      assert.deepEqual(b.stats()['b'], { bytesSent: back.length, bytesReceived: total, messagesSent: 1, messagesReceived: sizes.length, rounds: 1 });
      a.resetStats();
      assert.deepEqual(a.stats(), {});
      assert.equal(a.dropped + b.dropped, 0);
    } finally {
      await closeAll();
    }
  });
}

for (const links of LINK_MODES) {
  test(`grpc ${links}: several local players in one process; local pairs skip the network`, async () => {
    const d = await deployment(['a', 'b', 'c'], links);
    const ab = new GrpcTransport({ config: d.config, local: [d.parties.get('a')!, d.parties.get('b')!], runId: 'test', logger: () => {} });
    const c = new GrpcTransport({ config: d.config, local: d.parties.get('c')!, runId: 'test', logger: () => {} });
    await ab.start();
    await c.start();
    try {
      assert.ok(ab.isLocal('a') && ab.isLocal('b') && !ab.isLocal('c'));
      // it reaches the config's players only (an encrypted protocol refuses an input from, or a reveal to, any other name)
      assert.ok(ab.reaches('a') && ab.reaches('c') && !ab.reaches('mallory'));
      const p = rand(100);
      await ab.send('a', 'b', 'k', p);
      assert.equal(await ab.receive('b', 'a', 'k'), p); // same object: no copy, like the memory transport
      await Promise.all([ab.send('a', 'c', 'k', p), ab.send('b', 'c', 'k', rand(5)), c.send('c', 'b', 'k2', p)]);
      assert.deepEqual(await c.receive('c', 'a', 'k', { timeoutMs: HANG_GUARD_MS }), p);
      assert.equal((await c.receive('c', 'b', 'k', { timeoutMs: HANG_GUARD_MS })).length, 5);
      assert.deepEqual(await ab.receive('b', 'c', 'k2', { timeoutMs: HANG_GUARD_MS }), p);
    } finally {
      await ab.close();
      await c.close();
    }
  });
}

for (const links of LINK_MODES) {
  test(`grpc ${links}: a payload to a remote player may be overwritten once its send resolves (deploy pools its working memory on this)`, async () => {
    const d = await deployment(['a', 'b'], links);
    // a small chunk size: the message crosses in several chunks, each sent after the event loop ran
    const { ts, closeAll } = await start(d, ['a', 'b'], { chunkBytes: 64 * 1024 });
    const a = ts.get('a')!;
    const b = ts.get('b')!;
    try {
      const buf = rand(5 * 64 * 1024 + 3);
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        sent.push(buf.slice());
        await a.send('a', 'b', `m/${i}`, buf);
        buf.fill(0xa5 + i); // reuse the buffer for the next message
        buf[i] = i;
      }
      for (let i = 0; i < 3; i++) assert.deepEqual(await b.receive('b', 'a', `m/${i}`, { timeoutMs: HANG_GUARD_MS }), sent[i]);
    } finally {
      await closeAll();
    }
  });
}

test('grpc noise: what crosses the wire is ciphertext only (no payload, no rendezvous key)', async () => {
  const d = await deployment(['a', 'b']);
  const wire: Uint8Array[] = [];
  const { ts, closeAll } = await start(d, ['a', 'b'], (n) => (n === 'a' ? { tapOutgoing: (_p, f) => (wire.push(f.sealed ? frameBytes(f) : Buffer.from(JSON.stringify(f))), [f]) } : {}));
  try {
    const secret = Buffer.from('gradient of data-owner-0, round 7: 0123456789abcdefghijklmnopqrstuvwxyz'.repeat(4));
    await ts.get('a')!.send('a', 'b', 'secret-rendezvous-key/42', new Uint8Array(secret));
    assert.deepEqual(await ts.get('b')!.receive('b', 'a', 'secret-rendezvous-key/42', { timeoutMs: HANG_GUARD_MS }), new Uint8Array(secret));
    const all = Buffer.concat(wire);
    assert.ok(wire.length >= 1);
    for (let i = 0; i + 12 <= secret.length; i++) assert.equal(all.indexOf(secret.subarray(i, i + 12)), -1);
    assert.equal(all.indexOf(Buffer.from('secret-rendezvous-key')), -1);
  } finally {
    await closeAll();
  }
});

test('grpc noise: a peer whose key is not in the config is refused', async () => {
  const d = await deployment(['a', 'b']);
  const { logs, closeAll } = await start(d, ['b']);
  // mallory's own config lists b (with b's real key) and herself; b's config does not list mallory.
  const m = generateIdentity();
  const cfg = parseConfig(JSON.stringify({ players: {
    b: { address: d.config.players[1]!.address, role: 'compute-server', publicKey: encodePublicKey(d.parties.get('b')!.identity.publicKey) },
    mallory: { address: `127.0.0.1:${d.config.players[0]!.port}`, role: 'data-owner', publicKey: encodePublicKey(m.publicKey) },
  } }));
  const mt = new GrpcTransport({ config: cfg, local: { name: 'mallory', identity: m }, runId: 'test', logger: () => {}, connectTimeoutMs: 3000 });
  await mt.start();
  try {
    await assert.rejects(mt.send('mallory', 'b', 'k', rand(10)), (e: Error) => e instanceof PeerError && e.peer === 'b' && /refused the link from 'mallory'.*no pinned public key/.test(e.message));
    await waitFor(() => logs.get('b')!.some((e) => e.type === 'refused' && e.peer === 'mallory' && /no pinned public key/.test(e.reason)), 'the refusal on b');
  } finally {
    await mt.close();
    await closeAll();
  }
});

test('grpc noise: a peer using a configured name without its private key is refused', async () => {
  const d = await deployment(['a', 'b']);
  const { logs, closeAll } = await start(d, ['b']);
  const m = generateIdentity();
  // mallory's config claims that 'a' has mallory's key; b pins a's real key.
  const text = JSON.parse(d.configText) as { players: Record<string, { publicKey: string }> };
  text.players['a']!.publicKey = encodePublicKey(m.publicKey);
  const mt = new GrpcTransport({ config: parseConfig(JSON.stringify(text)), local: { name: 'a', identity: m }, runId: 'test', logger: () => {}, connectTimeoutMs: 3000 });
  await mt.start();
  try {
    await assert.rejects(mt.send('a', 'b', 'k', rand(10)), (e: Error) => e instanceof PeerError && e.peer === 'b' && /failed authentication/.test(e.message));
    await waitFor(() => logs.get('b')!.some((e) => e.type === 'refused' && e.peer === 'a'), 'the refusal on b');
  } finally {
    await mt.close();
    await closeAll();
  }
});

for (const links of LINK_MODES) {
  test(`grpc ${links}: a process of another run (other run id) cannot connect`, async () => {
    const d = await deployment(['a', 'b'], links);
    const { closeAll } = await start(d, ['b']);
    const a = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, runId: 'another-run', logger: () => {}, connectTimeoutMs: 3000 });
    await a.start();
    try {
      await assert.rejects(a.send('a', 'b', 'k', rand(1)), (e: Error) => e instanceof PeerError && e.peer === 'b');
    } finally {
      await a.close();
      await closeAll();
    }
  });
}

test('grpc noise: a tampered frame is dropped and logged; the message fails at its deadline naming the peer; the link goes on', async () => {
  const d = await deployment(['a', 'b']);
  let tamper = false;
  const { ts, logs, closeAll } = await start(d, ['a', 'b'], (n) => (n === 'a' ? {
    tapOutgoing: (_p, f) => {
      if (!tamper || !f.sealed) return [f];
      tamper = false;
      const bytes = Buffer.from(frameBytes(f));
      bytes[bytes.length - 40]! ^= 0x10; // inside the ciphertext
      return [{ sealed: { frame: bytes } }];
    },
  } : {}));
  const a = ts.get('a')!;
  const b = ts.get('b')!;
  try {
    await a.send('a', 'b', 'warmup', rand(10));
    await b.receive('b', 'a', 'warmup', { timeoutMs: HANG_GUARD_MS });
    tamper = true;
    await a.send('a', 'b', 'x', rand(1000));
    await waitFor(() => b.dropped >= 1, 'the tampered frame');
    const ev = logs.get('b')!.find((e) => e.type === 'dropped');
    assert.ok(ev && ev.peer === 'a' && /bad authentication tag/.test(ev.reason), JSON.stringify(logs.get('b')));
    // the link goes on; y, sent after x on the same stream, arrives after it: x is not coming
    const y = rand(2000);
    await a.send('a', 'b', 'y', y);
    assert.deepEqual(await b.receive('b', 'a', 'y', { timeoutMs: HANG_GUARD_MS }), y);
    assert.equal(b.dropped, 1);
    assert.equal(b.pending(), 0);
    await assert.rejects(b.receive('b', 'a', 'x', { timeoutMs: 1 }), (e: Error) => e instanceof PeerError && e.peer === 'a' && /nothing from 'a'.*within 1 ms/.test(e.message));
  } finally {
    await closeAll();
  }
});

test('grpc noise: replayed frames are dropped and logged; each message is delivered once, intact', async () => {
  const d = await deployment(['a', 'b']);
  let replay = false;
  const { ts, logs, closeAll } = await start(d, ['a', 'b'], (n) => (n === 'a' ? {
    chunkBytes: 64 * 1024,
    tapOutgoing: (_p, f) => (replay && f.sealed ? [f, f] : [f]),
  } : {}));
  const a = ts.get('a')!;
  const b = ts.get('b')!;
  try {
    replay = true;
    const p = rand(200 * 1024); // 4 chunks, each sent twice
    await a.send('a', 'b', 'x', p);
    await a.send('a', 'b', 'z', Uint8Array.of(7));
    assert.deepEqual(await b.receive('b', 'a', 'x', { timeoutMs: HANG_GUARD_MS }), p);
    assert.deepEqual(await b.receive('b', 'a', 'z', { timeoutMs: HANG_GUARD_MS }), Uint8Array.of(7));
    await waitFor(() => b.dropped >= 5, 'the replayed frames');
    // a last message, not replayed, arrives after every frame written before it
    replay = false;
    await a.send('a', 'b', 'end', Uint8Array.of(8));
    assert.deepEqual(await b.receive('b', 'a', 'end', { timeoutMs: HANG_GUARD_MS }), Uint8Array.of(8));
    assert.equal(b.dropped, 5);
    assert.ok(logs.get('b')!.filter((e) => e.type === 'dropped').every((e) => /already received/.test(e.reason)));
    assert.equal(b.stats()['b']!.messagesReceived, 3);
  } finally {
    await closeAll();
  }
});

for (const links of LINK_MODES) {
  test(`grpc ${links}: a frame of an older round is dropped; the current round goes through`, async () => {
    const d = await deployment(['a', 'b'], links);
    const { ts, logs, closeAll } = await start(d, ['a', 'b']);
    const a = ts.get('a')!;
    const b = ts.get('b')!;
    try {
      b.setRound(3);
      a.setRound(2);
      await a.send('a', 'b', 'k', rand(10));
      await waitFor(() => logs.get('b')!.some((e) => e.type === 'dropped' && /round 2, current round is 3/.test(e.reason)), 'the stale-round drop');
      assert.equal(b.pending(), 0);
      a.setRound(3);
      const p = rand(10);
      await a.send('a', 'b', 'k', p); // had the stale one been kept, this one would be the duplicate
      assert.deepEqual(await b.receive('b', 'a', 'k', { timeoutMs: HANG_GUARD_MS }), p);
      assert.equal(b.dropped, 1);
      assert.throws(() => a.setRound(-1), (e: Error) => e instanceof RangeError && /"round"/.test(e.message));
    } finally {
      await closeAll();
    }
  });
}

for (const links of LINK_MODES) {
  test(`grpc ${links}: an oversized message is refused by the sender and by the receiver`, async () => {
    const d = await deployment(['a', 'b'], links);
    const { ts, logs, closeAll } = await start(d, ['a', 'b'], (n) => ({ maxMessageBytes: n === 'a' ? 4000 : 1000 }));
    const a = ts.get('a')!;
    const b = ts.get('b')!;
    try {
      await assert.rejects(a.send('a', 'b', 'big', rand(4001)), (e: Error) => e instanceof RangeError && /'payload'/.test(e.message) && /maxMessageBytes/.test(e.message));
      await a.send('a', 'b', 'mid', rand(2000)); // within a's limit, above b's
      await waitFor(() => logs.get('b')!.some((e) => e.type === 'dropped' && /exceeds the limit of 1000 bytes/.test(e.reason)), 'the oversize drop');
      const ok = rand(1000);
      await a.send('a', 'b', 'ok', ok);
      assert.deepEqual(await b.receive('b', 'a', 'ok', { timeoutMs: HANG_GUARD_MS }), ok);
      assert.equal(b.pending(), 0); // 'mid' came before 'ok' on the link, and was not kept
      await assert.rejects(b.receive('b', 'a', 'mid', { timeoutMs: 1 }), PeerError);
    } finally {
      await closeAll();
    }
  });
}

for (const links of LINK_MODES) {
  test(`grpc ${links}: a peer that is down makes send fail within the connect timeout, naming it; a dead link fails pending receives`, async () => {
    const d = await deployment(['a', 'b'], links);
    const a = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, runId: 'test', logger: () => {}, connectTimeoutMs: 500 });
    await a.start();
    try {
      await assert.rejects(a.send('a', 'b', 'k', rand(1)), (e: Error) => e instanceof PeerError && e.peer === 'b' && /'b' at 127\.0\.0\.1:\d+ is not reachable within 500 ms/.test(e.message));
      const b = new GrpcTransport({ config: d.config, local: d.parties.get('b')!, runId: 'test', logger: () => {} });
      await b.start();
      await b.send('b', 'a', 'hello', rand(1));
      await a.receive('a', 'b', 'hello', { timeoutMs: HANG_GUARD_MS });
      const pending = assert.rejects(a.receive('a', 'b', 'never'), (e: Error) => e instanceof PeerError && e.peer === 'b' && /link from 'b' closed/.test(e.message));
      await b.close(); // b goes away: a's receive from b fails now, not at some distant deadline
      await pending;
    } finally {
      await a.close();
    }
  });
}

test('grpc: lifecycle and bad inputs', async () => {
  const d = await deployment(['a', 'b']);
  const a = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, logger: () => {} });
  await assert.rejects(a.send('a', 'b', 'k', rand(1)), /start\(\) first/);
  await a.start();
  await assert.rejects(a.start(), TransportError);
  await assert.rejects(a.send('a', 'b', 'k', 'text' as never), (e: Error) => e instanceof TypeError && /'payload'/.test(e.message));
  await assert.rejects(a.send('', 'b', 'k', rand(1)), (e: Error) => e instanceof TypeError && /'from'/.test(e.message));
  await assert.rejects(a.send('b', 'a', 'k', rand(1)), (e: Error) => e instanceof TransportError && /not local/.test(e.message));
  await assert.rejects(a.send('a', 'zed', 'k', rand(1)), (e: Error) => e instanceof PeerError && e.peer === 'zed');
  await assert.rejects(a.receive('b', 'a', 'k'), /not local/);
  await assert.rejects(a.receive('a', 'zed', 'k'), (e: Error) => e instanceof PeerError && e.peer === 'zed');
  await assert.rejects(a.receive('a', 'b', 'k', { timeoutMs: 20 }), (e: Error) => e instanceof PeerError && e.peer === 'b' && /within 20 ms/.test(e.message));
  const pending = assert.rejects(a.receive('a', 'b', 'later'), (e: Error) => e instanceof PeerError && /closed/.test(e.message));
  await assert.rejects(a.receive('a', 'b', 'later'), /already waiting/);
  await a.close();
  await a.close(); // idempotent
  await pending;
  await assert.rejects(a.send('a', 'b', 'k', rand(1)), /closed/);

  const other = generateIdentity();
  const mk = (o: Partial<GrpcTransportOptions>) => () => new GrpcTransport({ config: d.config, local: d.parties.get('a')!, ...o });
  assert.throws(mk({ local: { name: 'a', identity: other } }), (e: Error) => e instanceof RangeError && /"local\[0\]\.identity"/.test(e.message));
  assert.throws(mk({ local: { name: 'zed', identity: other } }), (e: Error) => e instanceof RangeError && /"local\[0\]\.name"/.test(e.message));
  assert.throws(mk({ local: [] }), (e: Error) => e instanceof RangeError && /"local"/.test(e.message));
  assert.throws(mk({ chunkBytes: 1 }), (e: Error) => e instanceof RangeError && /"chunkBytes"/.test(e.message));
  assert.throws(mk({ maxMessageBytes: 1.5 }), (e: Error) => e instanceof TypeError && /"maxMessageBytes"/.test(e.message));
  assert.throws(mk({ config: {} as never }), (e: Error) => e instanceof TypeError && /"config"/.test(e.message));
  const noKeys = parseConfig(JSON.stringify({ players: { a: { address: '127.0.0.1:1', role: 'aggregator' } } }));
  assert.throws(mk({ config: noKeys }), ConfigError);
  assert.throws(() => new GrpcTransport(null as never), TypeError);
});

for (const links of LINK_MODES) {
  test(`grpc ${links}: two OS processes exchange messages bit for bit (bounded in time)`, async () => {
    const d = await deployment(['a', 'b'], links);
    const sizes = [0, 5, 100_000, 3 * MiB + 3];
    const child = spawn(process.execPath, ['--import', 'tsx', `${root}test/transport/peer-process.ts`, 'grpc'], {
      cwd: root,
      env: { ...process.env, FEDCRYPT_PEER: JSON.stringify({ config: d.configText, name: 'b', ...peerSecrets(d, 'b'), count: sizes.length, runId: 'test', digest: true }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const lines = createInterface({ input: child.stdout! });
    const linesIt = lines[Symbol.asyncIterator]();
    const a = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, runId: 'test', logger: () => {}, connectTimeoutMs: 15_000 });
    await a.start();
    try {
      assert.equal((await linesIt.next()).value, 'ready', stderr);
      for (let i = 0; i < sizes.length; i++) {
        const p = rand(sizes[i]!);
        await a.send('a', 'b', `x/${i}`, p);
        const digest = await a.receive('a', 'b', `y/${i}`, { timeoutMs: HANG_GUARD_MS });
        assert.deepEqual(Buffer.from(digest), createHash('sha256').update(p).digest(), `message ${i} (${sizes[i]} bytes) altered`);
      }
      const stats = JSON.parse(String((await linesIt.next()).value)) as Record<string, { bytesReceived: number; messagesReceived: number }>;
      assert.equal(stats['b']!.bytesReceived, sizes.reduce((x, y) => x + y, 0));
      assert.equal(stats['b']!.messagesReceived, sizes.length);
      assert.equal(await exited, 0, stderr);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
      await a.close();
    }
  });
}

for (const links of LINK_MODES) {
  test(`grpc ${links}: a player process stops cleanly on SIGTERM, and its peer learns it at once`, async () => {
    const d = await deployment(['a', 'b'], links);
    const child = spawn(process.execPath, ['--import', 'tsx', `${root}test/transport/peer-process.ts`, 'grpc'], {
      cwd: root,
      env: { ...process.env, FEDCRYPT_PEER: JSON.stringify({ config: d.configText, name: 'b', ...peerSecrets(d, 'b'), count: 2, runId: 'test' }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const a = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, runId: 'test', logger: () => {}, connectTimeoutMs: 15_000 });
    await a.start();
    try {
      const it = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      assert.equal((await it.next()).value, 'ready');
      await a.send('a', 'b', 'x/0', rand(10));
      await a.receive('a', 'b', 'y/0', { timeoutMs: HANG_GUARD_MS });
      // b will never answer: it is stopped first
      const pending = assert.rejects(a.receive('a', 'b', 'y/1'), (e: Error) => e instanceof PeerError && e.peer === 'b' && /closed/.test(e.message));
      child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
      await pending;
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
      await a.close();
    }
  });
}

test('grpc noise: a dialer that never completes the handshake is refused after the connect timeout', async () => {
  const d = await deployment(['a', 'b']);
  const { logs, closeAll } = await start(d, ['b'], { connectTimeoutMs: 300 });
  const grpc = await import('@grpc/grpc-js');
  const { linkService } = await import('../../src/transport/grpc-schema.js');
  const Ctor = grpc.makeGenericClientConstructor(linkService(), 'PlayerLink');
  const client = new Ctor(d.config.players[1]!.address, grpc.credentials.createInsecure());
  const call = (client as unknown as { Link(): import('@grpc/grpc-js').ClientDuplexStream<LinkFrame, LinkFrame> }).Link();
  const frames: LinkFrame[] = [];
  call.on('data', (f: LinkFrame) => frames.push(f));
  call.on('error', () => {});
  try {
    call.write({ ready: {} }); // not a hello: refused at once
    await new Promise((r) => call.once('end', r));
    assert.equal(frames[0]?.body, 'refusal');
    const silent = (client as unknown as { Link(): import('@grpc/grpc-js').ClientDuplexStream<LinkFrame, LinkFrame> }).Link();
    const got: LinkFrame[] = [];
    silent.on('data', (f: LinkFrame) => got.push(f));
    silent.on('error', () => {});
    await new Promise((r) => silent.once('end', r)); // says nothing: refused after 300 ms
    assert.equal(got[0]?.body, 'refusal');
    assert.match(got[0]!.refusal!.reason!, /handshake not completed within 300 ms/);
    await waitFor(() => logs.get('b')!.filter((e) => e.type === 'refused').length >= 2, 'two refusals');
  } finally {
    client.close();
    await closeAll();
  }
});

for (const links of LINK_MODES) {
  test(`grpc ${links}: a message with a chunk missing is abandoned, never delivered with a hole`, async () => {
    const d = await deployment(['a', 'b'], links);
    let n = 0;
    let armed = false;
    const { ts, logs, closeAll } = await start(d, ['a', 'b'], (name) => (name === 'a' ? {
      chunkBytes: 16 * 1024,
      tapOutgoing: (_p, f) => (armed && (f.sealed || f.chunk) && n++ === 1 ? [] : [f]), // the second chunk never arrives
    } : {}));
    const a = ts.get('a')!;
    const b = ts.get('b')!;
    try {
      armed = true;
      await a.send('a', 'b', 'holey', rand(50_000)); // 4 chunks
      armed = false;
      await waitFor(() => logs.get('b')!.some((e) => e.type === 'dropped' && /chunk is missing; message abandoned/.test(e.reason)), 'the abandon');
      const ok = rand(40_000);
      await a.send('a', 'b', 'next', ok);
      assert.deepEqual(await b.receive('b', 'a', 'next', { timeoutMs: HANG_GUARD_MS }), ok);
      assert.equal(b.pending(), 0); // every chunk of 'holey' came before 'next', and it was not delivered
      await assert.rejects(b.receive('b', 'a', 'holey', { timeoutMs: 1 }), PeerError);
    } finally {
      await closeAll();
    }
  });
}

