/**
 * The chunk framing of GrpcTransport under attack at chunk boundaries
 * (tampering, reordering, truncation, duplication), and the reuse of wire
 * buffers on the sending side (WirePool) that must never let a frame be
 * overwritten before grpc-js has copied it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { GrpcTransport, PeerError, type GrpcTransportOptions, type TransportEvent } from '../../src/transport/grpc.js';
import { encodeSealedPieces, linkService, loadSchema, releaseWire, SERVICE_PATH, WirePool, type LinkFrame } from '../../src/transport/grpc-schema.js';
import { deployment, HANG_GUARD_MS, waitFor, type Deployment } from './helpers.js';

const KiB = 1024;
const rand = (n: number) => new Uint8Array(randomBytes(n));

async function pair(d: Deployment, a: Partial<GrpcTransportOptions>) {
  const logB: TransportEvent[] = [];
  const ta = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, runId: 'framing', connectTimeoutMs: 3000, logger: () => {}, ...a });
  const tb = new GrpcTransport({ config: d.config, local: d.parties.get('b')!, runId: 'framing', connectTimeoutMs: 3000, logger: (e) => logB.push(e) });
  await ta.start();
  await tb.start();
  return { ta, tb, logB, close: () => Promise.all([ta.close(), tb.close()]) };
}

const frameBytes = (f: LinkFrame): Buffer => (f.sealed?.pieces ? Buffer.concat(f.sealed.pieces) : Buffer.from(f.sealed!.frame!));

// ------------------------------------------------------------------ WirePool

test('WirePool: a released buffer is reused; sizes above the buffer size get fresh buffers; the pool is bounded', () => {
  const pool = new WirePool(1000, 2000);
  const a = pool.take(900);
  assert.equal(a.length, 900);
  assert.equal(pool.size, 0);
  pool.give(a);
  assert.equal(pool.size, 1);
  const b = pool.take(10);
  assert.equal(b.length, 10);
  assert.equal(b.buffer, a.buffer, 'the released buffer is reused');
  assert.equal(pool.size, 0);
  const big = pool.take(1001);
  assert.equal(big.length, 1001);
  pool.give(big); // not of the pool's size: left to the GC
  assert.equal(pool.size, 0);
  pool.give(Buffer.alloc(1000).subarray(1)); // a view at an offset is not a pool buffer
  assert.equal(pool.size, 0);
  const [x, y, z] = [pool.take(1000), pool.take(1000), pool.take(1000)];
  pool.give(x);
  pool.give(y);
  pool.give(z); // beyond maxBytes (2000)
  assert.equal(pool.size, 2);
});

test('serializer with a pool: bytes equal protobufjs; a frame serialized twice before release gets a fresh buffer; releaseWire returns the pooled one once', () => {
  const svc = linkService()['Link']!;
  const slow = (loadSchema()[SERVICE_PATH] as unknown as Record<string, { requestSerialize: (v: LinkFrame) => Buffer }>)['Link']!;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }), (parts) => {
      const pool = new WirePool(2048);
      const frame: LinkFrame = { sealed: { pieces: parts, pool } };
      const first = svc.requestSerialize(frame) as Buffer;
      const second = svc.requestSerialize(frame) as Buffer; // a tap that writes the same frame twice
      const expected = slow.requestSerialize({ sealed: { frame: Buffer.concat(parts) } });
      assert.deepEqual(first, expected);
      assert.deepEqual(second, expected);
      assert.notEqual(first.buffer, second.buffer, 'two in-flight serializations never share a buffer');
      assert.equal(frame.sealed!.wire, first);
      releaseWire(frame);
      assert.equal(frame.sealed!.wire, undefined);
      assert.equal(pool.size, 1);
      releaseWire(frame); // the second write's callback: nothing left to release
      assert.equal(pool.size, 1);
      assert.equal(pool.take(1).buffer, first.buffer);
    }),
    { numRuns: 50 },
  );
  assert.deepEqual(encodeSealedPieces([Buffer.from('ab')], new WirePool(64)), encodeSealedPieces([Buffer.from('ab')]));
});

test('grpc: many multi-chunk messages in flight at once on two links sharing the wire pool, all bit for bit (buffers reused only after grpc-js copied them)', async () => {
  const d = await deployment(['a', 'b', 'c']);
  const mk = (n: string, extra: Partial<GrpcTransportOptions> = {}) =>
    new GrpcTransport({ config: d.config, local: d.parties.get(n)!, runId: 'framing', connectTimeoutMs: 3000, logger: () => {}, ...extra });
  const ta = mk('a', { chunkBytes: 16 * KiB });
  const tb = mk('b');
  const tc = mk('c');
  await Promise.all([ta.start(), tb.start(), tc.start()]);
  try {
    const payloads = Array.from({ length: 16 }, (_, i) => rand(5 * 16 * KiB + i * 1000));
    for (let rep = 0; rep < 2; rep++) {
      const sends = payloads.flatMap((p, i) => [ta.send('a', 'b', `m/${rep}/${i}`, p), ta.send('a', 'c', `m/${rep}/${i}`, p)]);
      const got = await Promise.all(
        payloads.flatMap((_, i) => [tb.receive('b', 'a', `m/${rep}/${i}`, { timeoutMs: HANG_GUARD_MS }), tc.receive('c', 'a', `m/${rep}/${i}`, { timeoutMs: HANG_GUARD_MS })]),
      );
      await Promise.all(sends);
      got.forEach((g, j) => assert.ok(Buffer.from(g).equals(Buffer.from(payloads[j >> 1]!)), `message ${rep}/${j >> 1} to ${j & 1 ? 'c' : 'b'} differs`));
    }
    assert.equal(tb.dropped + tc.dropped, 0);
  } finally {
    await Promise.all([ta.close(), tb.close(), tc.close()]);
  }
});

// ------------------------------------------------------------------ attacks at chunk boundaries

/**
 * Send a 4-chunk message 'x' through a tap that rewrites its frames, then a
 * clean message 'next'. 'x' must never be delivered (not even altered);
 * 'next' must arrive intact; the receiver logs each drop.
 */
async function attack(rewrite: (frames: LinkFrame[]) => LinkFrame[], expectDrop: RegExp) {
  const d = await deployment(['a', 'b']);
  let armed = false;
  let held: LinkFrame[] = [];
  const CH = 16 * KiB;
  const { ta, tb, logB, close } = await pair(d, {
    chunkBytes: CH,
    tapOutgoing: (_p, f) => {
      if (!armed || !f.sealed) return [f];
      held.push(f);
      if (held.length < 4) return [];
      armed = false;
      const out = rewrite(held);
      held = [];
      return out;
    },
  });
  try {
    await ta.send('a', 'b', 'warmup', rand(10));
    await tb.receive('b', 'a', 'warmup', { timeoutMs: HANG_GUARD_MS });
    armed = true;
    const x = rand(4 * CH - 100); // exactly 4 chunks
    await ta.send('a', 'b', 'x', x);
    assert.equal(armed, false, 'the tap saw the 4 chunks');
    await waitFor(() => logB.some((e) => e.type === 'dropped' && expectDrop.test(e.reason)), `a drop matching ${expectDrop}`);
    // 'next' follows every frame of 'x' on the link: once it is here, 'x' is known not to be
    const next = rand(3 * CH + 5);
    await ta.send('a', 'b', 'next', next);
    assert.deepEqual(await tb.receive('b', 'a', 'next', { timeoutMs: HANG_GUARD_MS }), next);
    assert.equal(tb.pending(), 0);
    await assert.rejects(tb.receive('b', 'a', 'x', { timeoutMs: 1 }), (e: Error) => e instanceof PeerError && e.peer === 'a');
    assert.equal(tb.stats()['b']!.messagesReceived, 2, 'only the warmup and next were delivered');
    return logB.filter((e) => e.type === 'dropped');
  } finally {
    await close();
  }
}

const mutate = (f: LinkFrame, edit: (b: Buffer) => Buffer): LinkFrame => ({ sealed: { frame: edit(frameBytes(f)) } });

test('framing: a flipped bit at the end of a chunk (its tag) or at the start of the next chunk (its header) drops those frames; the message is abandoned', async () => {
  const drops = await attack(
    (fs) => [
      fs[0]!,
      mutate(fs[1]!, (b) => ((b[b.length - 1]! ^= 1), b)), // last byte of chunk 1's frame: the tag
      mutate(fs[2]!, (b) => ((b[0]! ^= 0x80), b)), // first byte of chunk 2's frame
      fs[3]!,
    ],
    /chunk is missing; message abandoned/,
  );
  assert.ok(drops.some((e) => /bad authentication tag|unknown version|malformed/.test(e.reason)), JSON.stringify(drops));
});

test('framing: the boundary bytes between chunk data and tag, tampered in every chunk, never deliver the message', async () => {
  const drops = await attack((fs) => fs.map((f) => mutate(f, (b) => ((b[b.length - 17]! ^= 0x01), b))), /bad authentication tag/); // last ciphertext byte
  assert.equal(drops.length, 4);
});

test('framing: reordered chunks (2nd and 3rd swapped) are authentic but abandon the message instead of delivering it shuffled', async () => {
  await attack((fs) => [fs[0]!, fs[2]!, fs[1]!, fs[3]!], /chunk at offset \d+, expected \d+/);
});

test('framing: a message whose first chunk comes last is abandoned', async () => {
  await attack((fs) => [fs[1]!, fs[2]!, fs[3]!, fs[0]!], /first chunk at offset \d+, expected 0/);
});

test('framing: a truncated frame (cut inside its data) and a frame cut to its header are dropped; the message is abandoned', async () => {
  const drops = await attack(
    (fs) => [fs[0]!, mutate(fs[1]!, (b) => b.subarray(0, b.length - 1000)), mutate(fs[2]!, (b) => b.subarray(0, 10)), fs[3]!],
    /chunk is missing; message abandoned/,
  );
  assert.ok(drops.filter((e) => /bad authentication tag|malformed/.test(e.reason)).length >= 2, JSON.stringify(drops));
});

test('framing: the last chunk missing (message truncated) never delivers the message', async () => {
  const d = await deployment(['a', 'b']);
  let armed = false;
  let n = 0;
  const { ta, tb, close } = await pair(d, { chunkBytes: 16 * KiB, tapOutgoing: (_p, f) => (armed && f.sealed && ++n === 3 ? [] : [f]) });
  try {
    armed = true;
    await ta.send('a', 'b', 'x', rand(3 * 16 * KiB)); // 3 chunks, the 3rd never arrives
    armed = false;
    const next = rand(20 * KiB);
    await ta.send('a', 'b', 'next', next);
    assert.deepEqual(await tb.receive('b', 'a', 'next', { timeoutMs: HANG_GUARD_MS }), next);
    assert.equal(tb.stats()['b']!.messagesReceived, 1);
    assert.equal(tb.pending(), 0);
    assert.equal(tb.linkUsage('a', 'b').incompleteMessages, 1); // x waits for a last chunk that never comes
    await assert.rejects(tb.receive('b', 'a', 'x', { timeoutMs: 1 }), PeerError);
  } finally {
    await close();
  }
});

test('framing: a chunk spliced in from an earlier message of the link is refused as a replay; the message is abandoned, never mixed', async () => {
  const d = await deployment(['a', 'b']);
  const CH = 16 * KiB;
  const frames: LinkFrame[] = [];
  let phase = 0;
  const { ta, tb, logB, close } = await pair(d, {
    chunkBytes: CH,
    tapOutgoing: (_p, f) => {
      if (!f.sealed) return [f];
      if (phase === 1) {
        frames.push({ sealed: { frame: frameBytes(f) } }); // recorded, and delivered
        return [f];
      }
      if (phase === 2 && frames.length > 0) {
        // the second chunk of message y is replaced by the (already used) second chunk of x
        phase = 3;
        return [f];
      }
      if (phase === 3) {
        phase = 4;
        return [frames[1]!];
      }
      return [f];
    },
  });
  try {
    phase = 1;
    const x = rand(3 * CH);
    await ta.send('a', 'b', 'x', x);
    assert.deepEqual(await tb.receive('b', 'a', 'x', { timeoutMs: HANG_GUARD_MS }), x);
    phase = 2;
    await ta.send('a', 'b', 'y', rand(3 * CH));
    await waitFor(() => logB.some((e) => e.type === 'dropped' && /already received/.test(e.reason)), 'the replayed splice');
    const z = rand(100);
    await ta.send('a', 'b', 'z', z); // after every frame of y
    assert.deepEqual(await tb.receive('b', 'a', 'z', { timeoutMs: HANG_GUARD_MS }), z);
    assert.equal(tb.pending(), 0);
    await assert.rejects(tb.receive('b', 'a', 'y', { timeoutMs: 1 }), PeerError);
    assert.equal(tb.stats()['b']!.messagesReceived, 2);
  } finally {
    await close();
  }
});

test('GrpcTransport: "tuneAllocator" must be a boolean (TypeError naming it)', async () => {
  const d = await deployment(['a', 'b']);
  for (const bad of ['yes', 1, null]) {
    assert.throws(
      () => new GrpcTransport({ config: d.config, local: d.parties.get('a')!, tuneAllocator: bad as unknown as boolean }),
      (e: Error) => e instanceof TypeError && /"tuneAllocator"/.test(e.message),
    );
  }
  const t = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, tuneAllocator: false, logger: () => {} });
  await t.start();
  await t.close();
});

// ------------------------------------------------------------------ AEAD pieces (the cipher runs in 64 KiB pieces)

test('sealPieces/openPieces: frames spanning several cipher pieces round-trip bit for bit, for both suites; any flipped bit (at piece boundaries too) is refused', async () => {
  const { connectPair } = await import('../../src/crypto/secure-channel.js');
  const { generateIdentity } = await import('../../src/crypto/identity.js');
  const a = { name: 'a', identity: generateIdentity() };
  const b = { name: 'b', identity: generateIdentity() };
  const P = 64 * KiB;
  for (const suite of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    const [sa, sb] = connectPair(a, b, 'pieces', suite);
    for (const n of [0, 1, P - 1, P, P + 1, 3 * P + 17]) {
      // split into parts that do not line up with the pieces
      const pt = rand(n);
      const cut = [Math.floor(n / 3), Math.floor(n / 2)];
      const parts = [pt.subarray(0, cut[0]), pt.subarray(cut[0], cut[1]), pt.subarray(cut[1])];
      const frame = Buffer.concat(sa.sealPieces(parts, 'ad'));
      const m = sb.openPieces(frame);
      assert.ok(Buffer.concat(m.pieces).equals(Buffer.from(pt)), `${suite}, ${n} bytes`);
      if (n < P + 1) continue;
      const header = frame.length - n - 16;
      for (const at of [header, header + P - 1, header + P, header + n - 1, frame.length - 16, frame.length - 1]) {
        const bad = Buffer.from(sa.sealPieces(parts, 'ad').reduce((x, y) => Buffer.concat([x, y]), Buffer.alloc(0)));
        bad[at]! ^= 0x04;
        assert.throws(() => sb.openPieces(bad), /bad authentication tag/, `${suite}, ${n} bytes, byte ${at}`);
      }
    }
  }
});
