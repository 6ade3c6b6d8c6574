/**
 * Receive limits (src/transport/limits.ts) under attack: a configured but
 * malicious player drives its link to the victim by hand (attacker.ts: real
 * mutual TLS or the real pinned-key handshake, then chunks of its choosing)
 * and tries to make the victim hold memory: a message declaring 1 GiB, many
 * messages it never finishes, floods of messages nobody asked for, a size
 * that changes mid-message. The victim allocates only what arrives, closes
 * the link past a limit (logged, the attacker told why), fails the receives
 * waiting on it naming the attacker, drops unclaimed messages after the TTL,
 * and honest traffic within the limits still flows.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConfigError, formatConfig, parseConfig } from '../../src/transport/config.js';
import { GrpcTransport, PeerError, type GrpcTransportOptions } from '../../src/transport/grpc.js';
import { DEFAULT_LIMITS, MAX_MESSAGE_EXTRA, MESSAGE_OVERHEAD } from '../../src/transport/limits.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { SMALL_MESSAGE, WAITED_PREALLOC } from '../../src/transport/reassembly.js';
import { dialAs } from './attacker.js';
import { deployment, eventLog, HANG_GUARD_MS, LINK_MODES, waitFor, type Deployment } from './helpers.js';

const KiB = 1024;
const MiB = 1 << 20;
const GiB = 1 << 30;
const rand = (n: number) => new Uint8Array(randomBytes(n));
const RUN = 'limits';

/** Hang guard of a whole test (a test that fails still ends: every transport is closed after it). */
const T = { timeout: 4 * HANG_GUARD_MS };

/** The victim b (its own transport, with `extra` options) and its event log; closed after the test. */
async function victim(t: TestContext, d: Deployment, extra: Partial<GrpcTransportOptions> = {}) {
  const ev = eventLog();
  const b = new GrpcTransport({ config: d.config, local: d.parties.get('b')!, runId: RUN, connectTimeoutMs: 5000, logger: ev.logger, ...extra });
  t.after(() => b.close());
  await b.start();
  return { b, ev };
}

/** An honest player `name` of `d`; closed after the test. */
async function honest(t: TestContext, d: Deployment, name: string, extra: Partial<GrpcTransportOptions> = {}) {
  const h = new GrpcTransport({ config: d.config, local: d.parties.get(name)!, runId: RUN, connectTimeoutMs: 5000, logger: () => {}, ...extra });
  t.after(() => h.close());
  await h.start();
  return h;
}

/** The malicious `from` dialing `to` by hand; its stream cancelled after the test. */
async function attacker(t: TestContext, d: Deployment, from = 'a', to = 'b') {
  const m = await dialAs(d, from, to, RUN);
  t.after(() => m.close());
  return m;
}

const empty = { incompleteMessages: 0, incompleteBytes: 0, unclaimedBytes: 0, streams: 0 };

for (const links of LINK_MODES) {
  test(`receivers ${links}: a message declaring 1 GiB allocates only what has arrived (grown as chunks come), waited for or not`, T, async (t) => {
    const d = await deployment(['a', 'b'], links);
    // limits that let 1 GiB through: only the allocation policy stands between the declaration and 1 GiB of memory
    const { b } = await victim(t, d, { limits: { maxMessageBytes: GiB, maxBufferedBytes: 2 * GiB } });
    const waitedFails = assert.rejects(b.receive('b', 'a', 'waited'), (e: Error) => e instanceof PeerError && e.peer === 'a' && /link from 'a' closed/.test(e.message));
    const before = process.memoryUsage().arrayBuffers;
    const m = await attacker(t, d);
    try {
      await m.chunk(0, GiB, 0, 'unwaited', rand(MiB));
      await m.chunk(1, GiB, 0, 'waited', rand(MiB));
      await waitFor(() => b.linkUsage('a', 'b').incompleteMessages === 2, 'both messages begun on b');
      const charged = b.linkUsage('a', 'b').incompleteBytes;
      // the unwaited one: its first chunk's size (at least SMALL_MESSAGE); the waited one: WAITED_PREALLOC
      assert.equal(charged, Math.max(SMALL_MESSAGE, MiB) + WAITED_PREALLOC + 'unwaited'.length + 'waited'.length + 2 * MESSAGE_OVERHEAD);
      const grown = process.memoryUsage().arrayBuffers - before;
      assert.ok(grown < 160 * MiB, `arrayBuffers grew by ${(grown / MiB).toFixed(1)} MiB for two messages declaring 1 GiB each`);
      // further chunks grow the unwaited message by doubling, never past what is needed
      await m.chunk(0, GiB, MiB, 'unwaited', rand(MiB));
      await m.chunk(0, GiB, 2 * MiB, 'unwaited', rand(MiB));
      await waitFor(() => b.linkUsage('a', 'b').incompleteBytes === charged + 3 * MiB, 'the unwaited message grown to 4 MiB');
      // once a receive waits for it, the next growth goes to WAITED_PREALLOC at once
      const late = assert.rejects(b.receive('b', 'a', 'unwaited'), (e: Error) => e instanceof PeerError && e.peer === 'a');
      await m.chunk(0, GiB, 3 * MiB, 'unwaited', rand(MiB)); // fills the 4 MiB
      await m.chunk(0, GiB, 4 * MiB, 'unwaited', rand(MiB));
      await waitFor(() => b.linkUsage('a', 'b').incompleteBytes === charged - MiB + WAITED_PREALLOC, 'the now awaited message grown to WAITED_PREALLOC');
      assert.ok(process.memoryUsage().arrayBuffers - before < 260 * MiB);
      m.close();
      await late;
    } finally {
      m.close();
    }
    await waitedFails; // the attacker's link is gone: the receive waiting on it fails, naming it
    await waitFor(() => b.linkUsage('a', 'b').streams === 0, 'the link forgotten');
    assert.deepEqual(b.linkUsage('a', 'b'), empty);
    await b.close();
  });
}

for (const links of LINK_MODES) {
  test(`receivers ${links}: messages never finished close the link past maxIncompleteMessages: logged, the attacker told, waiting receives fail naming it; honest traffic goes on`, T, async (t) => {
    const d = await deployment(['a', 'b', 'c'], links);
    const { b, ev } = await victim(t, d, { limits: { maxIncompleteMessages: 8 } });
    const c = await honest(t, d, 'c');
    const waiting = assert.rejects(b.receive('b', 'a', 'x'), (e: Error) => e instanceof PeerError && e.peer === 'a' && /link from 'a' closed by 'b': more than 8 incomplete messages \(limits\.maxIncompleteMessages\) while 'b' waited for 'a' under key 'x'/.test(e.message));
    const m = await attacker(t, d);
    try {
      for (let i = 0; i < 8; i++) await m.chunk(i, 64 * KiB, 0, `k/${i}`, rand(16 * KiB));
      await waitFor(() => b.linkUsage('a', 'b').incompleteMessages === 8, '8 incomplete messages on b');
      assert.ok(!ev.log.some((e) => e.type === 'refused'), 'at the limit the link is still up');
      await m.chunk(8, 64 * KiB, 0, 'k/8', rand(16 * KiB));
      const refused = await ev.until((e) => e.type === 'refused' && e.peer === 'a', 'the link closed over the limit');
      assert.equal(refused.local, 'b');
      assert.match(refused.reason, /^link from 'a' closed by 'b': more than 8 incomplete messages \(limits\.maxIncompleteMessages\)$/);
      await waiting;
      await m.ended;
      const last = m.frames.at(-1)!;
      assert.equal(last.body, 'refusal');
      assert.match(last.refusal!.reason!, /more than 8 incomplete messages/);
      assert.deepEqual(b.linkUsage('a', 'b'), empty);
    } finally {
      m.close();
    }
    // other links were never affected, and the real 'a' can open a new link
    const p = rand(3 * MiB);
    await c.send('c', 'b', 'from-c', p);
    assert.deepEqual(await b.receive('b', 'c', 'from-c'), p);
    const a = await honest(t, d, 'a');
    await a.send('a', 'b', 'after', p);
    assert.deepEqual(await b.receive('b', 'a', 'after'), p);
    await Promise.all([a.close(), b.close(), c.close()]);
  });
}

for (const links of LINK_MODES) {
  test(`receivers ${links}: unclaimed messages and a growing one past maxBufferedBytes close the link; the unclaimed ones are dropped and say so when asked for`, T, async (t) => {
    const d = await deployment(['a', 'b'], links);
    const limit = 8 * MiB;
    const { b, ev } = await victim(t, d, { limits: { maxMessageBytes: 4 * MiB, maxBufferedBytes: limit } });
    const waiting = assert.rejects(b.receive('b', 'a', 'x'), (e: Error) => e instanceof PeerError && e.peer === 'a' && /above 8388608 \(limits\.maxBufferedBytes\)/.test(e.message));
    const m = await attacker(t, d);
    try {
      for (let i = 0; i < 3; i++) await m.chunk(i, 2 * MiB, 0, `u/${i}`, rand(2 * MiB)); // complete, and nobody asks for them
      await waitFor(() => b.pending() === 3, 'three unclaimed messages on b');
      assert.equal(b.linkUsage('a', 'b').unclaimedBytes, 3 * (2 * MiB + 3 + MESSAGE_OVERHEAD));
      await m.chunk(3, 4 * MiB, 0, 'big', rand(MiB)); // 1 MiB allocated: 7 MiB held
      await waitFor(() => b.linkUsage('a', 'b').incompleteMessages === 1, 'the big message begun');
      assert.ok(!ev.log.some((e) => e.type === 'refused'));
      await m.chunk(3, 4 * MiB, MiB, 'big', rand(MiB)); // growing it to 2 MiB would hold more than 8 MiB
      const refused = await ev.until((e) => e.type === 'refused' && e.peer === 'a', 'the link closed over the limit');
      assert.match(refused.reason, /^link from 'a' closed by 'b': holding message 3 from 1048576 to 2097152 bytes would bring the link to \d+ bytes, above 8388608 \(limits\.maxBufferedBytes\); 3 unclaimed message\(s\) of the link dropped$/);
      await waiting;
      await m.ended;
      assert.equal(m.frames.at(-1)?.body, 'refusal');
    } finally {
      m.close();
    }
    assert.equal(b.pending(), 0);
    assert.deepEqual(b.linkUsage('a', 'b'), empty);
    // a receive for a dropped message fails at once, naming the peer and why (not at a deadline)
    await assert.rejects(b.receive('b', 'a', 'u/1', { timeoutMs: HANG_GUARD_MS }), (e: Error) => e instanceof PeerError && e.peer === 'a' && /under key 'u\/1' arrived but was dropped \(link from 'a' closed by 'b'/.test(e.message));
    await b.close();
  });
}

for (const links of LINK_MODES) {
  test(`receivers ${links}: a message nobody claims is dropped after unclaimedMessageTtlMs (logged); asking for it later fails at once; claimed ones are kept`, T, async (t) => {
    const d = await deployment(['a', 'b'], links);
    const { b, ev } = await victim(t, d, { limits: { unclaimedMessageTtlMs: 50 } });
    const a = await honest(t, d, 'a');
    try {
      const early = rand(5000);
      await a.send('a', 'b', 'early', early);
      const drop = await ev.until((e) => e.type === 'dropped' && e.peer === 'a', 'the unclaimed message dropped');
      assert.equal(drop.local, 'b');
      assert.match(drop.reason, /^message under key 'early' dropped: unclaimed for 50 ms \(limits\.unclaimedMessageTtlMs\)$/);
      assert.equal(b.pending(), 0);
      assert.equal(b.dropped, 1);
      assert.deepEqual(b.linkUsage('a', 'b').unclaimedBytes, 0);
      await assert.rejects(b.receive('b', 'a', 'early', { timeoutMs: HANG_GUARD_MS }), (e: Error) => e instanceof PeerError && e.peer === 'a' && /'early' arrived but was dropped \(unclaimed for 50 ms/.test(e.message));
      // claimed messages are not touched by the expiry that follows them
      const kept = rand(3000);
      const got = b.receive('b', 'a', 'kept');
      await a.send('a', 'b', 'kept', kept);
      assert.deepEqual(await got, kept);
      await a.send('a', 'b', 'later', rand(10));
      await ev.until((e) => e.type === 'dropped' && /'later'/.test(e.reason), 'the next unclaimed message dropped');
      assert.equal(ev.log.filter((e) => e.type === 'dropped').length, 2);
      // the sender may send under the dropped key again: delivered
      const again = rand(100);
      await a.send('a', 'b', 'early', again);
      assert.deepEqual(await b.receive('b', 'a', 'early'), again);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}

for (const links of LINK_MODES) {
  test(`receivers ${links}: honest traffic at the limits flows: concurrent multi-chunk messages, grown or preallocated, bit for bit`, T, async (t) => {
    const d = await deployment(['a', 'b'], links);
    const limits = { maxMessageBytes: 2 * MiB, maxBufferedBytes: 4 * (2 * MiB + MAX_MESSAGE_EXTRA), maxIncompleteMessages: 4 };
    const { b, ev } = await victim(t, d, { limits });
    const a = await honest(t, d, 'a', { chunkBytes: 64 * KiB, limits });
    try {
      for (const waitFirst of [false, true]) {
        const ps = Array.from({ length: 4 }, (_, i) => rand(2 * MiB - i));
        const early = waitFirst ? ps.map((_, i) => b.receive('b', 'a', `${waitFirst}/${i}`)) : [];
        await Promise.all(ps.map((p, i) => a.send('a', 'b', `${waitFirst}/${i}`, p))); // 4 messages of 32 chunks, interleaved
        if (!waitFirst) await waitFor(() => b.pending() === 4, 'the 4 messages held unclaimed');
        const got = waitFirst ? await Promise.all(early) : await Promise.all(ps.map((_, i) => b.receive('b', 'a', `${waitFirst}/${i}`)));
        got.forEach((g, i) => assert.ok(Buffer.from(g).equals(Buffer.from(ps[i]!)), `message ${i} (receive ${waitFirst ? 'first' : 'after'}) differs`));
      }
      await assert.rejects(a.send('a', 'b', 'too-big', rand(2 * MiB + 1)), (e: Error) => e instanceof RangeError && /maxMessageBytes/.test(e.message));
      assert.equal(b.dropped, 0);
      assert.deepEqual(ev.log.filter((e) => e.type === 'refused' || e.type === 'dropped'), []);
      assert.deepEqual(b.linkUsage('a', 'b'), { ...empty, streams: 1 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}

for (const links of LINK_MODES) {
  test(`receivers ${links}: a chunk that changes the declared size mid-message abandons it (never an overrun, never a short message with stale bytes); the link goes on`, T, async (t) => {
    const d = await deployment(['a', 'b'], links);
    const { b, ev } = await victim(t, d);
    const m = await attacker(t, d);
    try {
      await m.chunk(5, 64 * KiB, 0, 'grow', rand(16 * KiB));
      await m.chunk(5, MiB, 16 * KiB, 'grow', rand(128 * KiB)); // would write past the 64 KiB buffer
      await m.chunk(6, 64 * KiB, 0, 'shrink', rand(32 * KiB));
      await m.chunk(6, 48 * KiB, 32 * KiB, 'shrink', rand(16 * KiB)); // would "complete" a 64 KiB buffer holding 16 KiB never written
      const good = rand(10_000);
      await m.chunk(7, good.length, 0, 'good', good);
      assert.deepEqual(await b.receive('b', 'a', 'good'), good);
      const drops = ev.log.filter((e) => e.type === 'dropped').map((e) => e.reason);
      assert.deepEqual(drops, [
        'message 5: chunk declares 1048576 bytes, its first chunk 65536 (message abandoned)',
        'message 6: chunk declares 49152 bytes, its first chunk 65536 (message abandoned)',
      ]);
      assert.equal(b.pending(), 0);
      assert.equal(b.linkUsage('a', 'b').incompleteMessages, 2); // abandoned ids are remembered (their late chunks dropped silently)
      assert.equal(b.linkUsage('a', 'b').incompleteBytes, 0);
      await m.chunk(5, 64 * KiB, 16 * KiB, 'grow', rand(48 * KiB)); // the rest of message 5: silently ignored
      const next = rand(100);
      await m.chunk(8, next.length, 0, 'next', next);
      assert.deepEqual(await b.receive('b', 'a', 'next'), next);
      assert.equal(b.pending(), 0);
      assert.equal(ev.log.filter((e) => e.type === 'dropped').length, 2);
    } finally {
      m.close();
      await b.close();
    }
  });
}

test('MemoryHub: the same limits as a deployment: unclaimed messages expire, a link holding too much is closed, oversized messages refused', T, async (t) => {
  const events: { type: string; peer: string; local: string; reason: string }[] = [];
  let onEvent: (() => void) | undefined;
  const hub = new MemoryHub({ limits: { maxMessageBytes: 1000, maxBufferedBytes: 1000 + MAX_MESSAGE_EXTRA, unclaimedMessageTtlMs: 30 }, logger: (e) => (events.push(e), onEvent?.()) });
  const until = async (pred: () => boolean) => {
    const end = Date.now() + HANG_GUARD_MS;
    while (!pred()) {
      if (Date.now() > end) assert.fail(`hang: ${JSON.stringify(events)}`);
      await new Promise<void>((r) => {
        const guard = setTimeout(r, HANG_GUARD_MS);
        onEvent = () => (clearTimeout(guard), r());
      });
    }
  };
  t.after(() => hub.close());
  const p = new MemoryTransport({ hub, local: ['p'] });
  const q = new MemoryTransport({ hub, local: ['q'] });
  const r = new MemoryTransport({ hub, local: ['r'] });
  assert.deepEqual(hub.limits, { ...DEFAULT_LIMITS, maxMessageBytes: 1000, maxBufferedBytes: 1000 + MAX_MESSAGE_EXTRA, unclaimedMessageTtlMs: 30 });
  await assert.rejects(p.send('p', 'q', 'big', new Uint8Array(1001)), (e: Error) => e instanceof RangeError && /'payload' has 1001 bytes, above the limit of 1000 bytes \(maxMessageBytes\)/.test(e.message));
  // TTL: 'a' expires; 'b', claimed, does not (the later 'c' expiring shows the sweep passed it)
  await p.send('p', 'q', 'a', new Uint8Array(10));
  await p.send('p', 'q', 'b', new Uint8Array(10));
  assert.equal((await q.receive('q', 'p', 'b')).length, 10);
  await until(() => events.length >= 1);
  await p.send('p', 'q', 'c', new Uint8Array(10));
  await until(() => events.length >= 2);
  assert.deepEqual(events.map((e) => [e.type, e.peer, e.local, e.reason]), [
    ['dropped', 'p', 'q', "message under key 'a' dropped: unclaimed for 30 ms (limits.unclaimedMessageTtlMs)"],
    ['dropped', 'p', 'q', "message under key 'c' dropped: unclaimed for 30 ms (limits.unclaimedMessageTtlMs)"],
  ]);
  await assert.rejects(q.receive('q', 'p', 'a', { timeoutMs: HANG_GUARD_MS }), (e: Error) => e instanceof PeerError && e.peer === 'p' && /arrived but was dropped \(unclaimed/.test(e.message));
  // buffered bytes: each unclaimed 1000-byte message under a 5-character key is charged 1000 + 5 + MESSAGE_OVERHEAD
  const each = 1000 + 5 + MESSAGE_OVERHEAD;
  const fit = Math.floor((1000 + MAX_MESSAGE_EXTRA) / each);
  const waiting = assert.rejects(q.receive('q', 'p', 'never'), (e: Error) => e instanceof PeerError && e.peer === 'p' && /link from 'p' closed by 'q'.*limits\.maxBufferedBytes.*while 'q' waited for 'p' under key 'never'/.test(e.message));
  hub.resetStats();
  const sent: Promise<void>[] = [];
  for (let i = 0; i < fit; i++) sent.push(p.send('p', 'q', `k/${String(i).padStart(3, '0')}`, new Uint8Array(1000)));
  await Promise.all(sent);
  assert.equal(hub.pending(), fit);
  await r.send('r', 'q', 'other-link', new Uint8Array(1000)); // another link has its own budget
  await assert.rejects(p.send('p', 'q', 'k/one', new Uint8Array(1000)), (e: Error) => e instanceof PeerError && e.peer === 'q' && /limits\.maxBufferedBytes/.test(e.message));
  await waiting;
  assert.equal(hub.pending(), 1); // p's were dropped, r's kept
  assert.equal(events.at(-1)!.type, 'refused');
  assert.match(events.at(-1)!.reason, new RegExp(`; ${fit} unclaimed message\\(s\\) of the link dropped$`));
  await assert.rejects(q.receive('q', 'p', 'k/000', { timeoutMs: HANG_GUARD_MS }), /arrived but was dropped \(link from 'p' closed by 'q'/);
  assert.equal((await q.receive('q', 'r', 'other-link')).length, 1000);
  await p.send('p', 'q', 'k/again', new Uint8Array(1000)); // the link "reconnects"
  assert.equal((await q.receive('q', 'p', 'k/again')).length, 1000);
  assert.equal(hub.stats()['p']!.messagesSent, fit + 1);
  await p.close();
});

test('limits: bad values are refused naming the limit (options: TypeError/RangeError; config.json: ConfigError on limits.<field>)', () => {
  assert.throws(() => new MemoryHub({ limits: { maxIncompleteMessages: 0 } }), (e: Error) => e instanceof RangeError && /MemoryHub: "limits\.maxIncompleteMessages" expected an integer in \[1, 1048576\], got 0/.test(e.message));
  assert.throws(() => new MemoryHub({ limits: { maxBufferedBytes: '1' as never } }), (e: Error) => e instanceof TypeError && /"limits\.maxBufferedBytes" expected an integer, got string/.test(e.message));
  assert.throws(() => new MemoryHub({ limits: { unclaimedMessageTtlMs: 1.5 } }), (e: Error) => e instanceof TypeError && /"limits\.unclaimedMessageTtlMs"/.test(e.message));
  assert.throws(() => new MemoryHub({ limits: { maxMessageBytes: -1 } }), (e: Error) => e instanceof RangeError && /"limits\.maxMessageBytes"/.test(e.message));
  assert.throws(() => new MemoryHub({ limits: { bogus: 1 } as never }), (e: Error) => e instanceof RangeError && /"limits\.bogus" is not a limit/.test(e.message));
  assert.throws(() => new MemoryHub({ limits: { maxMessageBytes: 10 * MiB, maxBufferedBytes: 10 * MiB } }), (e: Error) => e instanceof RangeError && /"limits\.maxBufferedBytes" 10485760 is below maxMessageBytes \(10485760\) plus 65791 bytes/.test(e.message));
  assert.throws(() => new MemoryHub({ limits: 5 as never }), (e: Error) => e instanceof TypeError && /"limits"/.test(e.message));
  assert.doesNotThrow(() => new MemoryHub({ limits: { maxMessageBytes: 10 * MiB, maxBufferedBytes: 10 * MiB + MAX_MESSAGE_EXTRA } }));
  assert.equal(new MemoryTransport({ limits: { unclaimedMessageTtlMs: 5 } }).hub.limits.unclaimedMessageTtlMs, 5);
  assert.deepEqual(new MemoryTransport().hub.limits, DEFAULT_LIMITS);
  assert.throws(() => new MemoryTransport({ hub: new MemoryHub(), limits: { unclaimedMessageTtlMs: 5 } }), (e: Error) => e instanceof TypeError && /'limits'.*'hub'/.test(e.message));
  assert.throws(() => new MemoryTransport({ limits: { maxIncompleteMessages: -1 } }), (e: Error) => e instanceof RangeError && /MemoryHub: "limits\.maxIncompleteMessages"/.test(e.message));

  const base = { version: 1, players: { p: { address: '127.0.0.1:4440', role: 'aggregator' } } };
  const refuses = (limits: unknown, entry: string, re: RegExp) =>
    assert.throws(() => parseConfig(JSON.stringify({ ...base, limits })), (e: Error) => e instanceof ConfigError && e.entry === entry && re.test(e.message), `${JSON.stringify(limits)}`);
  refuses({ maxBufferedBytes: 0 }, 'limits.maxBufferedBytes', /^limits\.maxBufferedBytes: expected an integer in \[65791, 2199023255552\], got 0$/);
  refuses({ maxIncompleteMessages: '8' }, 'limits.maxIncompleteMessages', /expected an integer, got string/);
  refuses({ unclaimedMessageTtlMs: 2 ** 31 }, 'limits.unclaimedMessageTtlMs', /expected an integer in \[1, 2147483647\]/);
  refuses({ maxMessageBytes: 1.5 }, 'limits.maxMessageBytes', /expected an integer, got 1\.5/);
  refuses({ maxMessages: 3 }, 'limits.maxMessages', /^limits\.maxMessages: unknown field \(expected maxMessageBytes, maxBufferedBytes, maxIncompleteMessages, unclaimedMessageTtlMs\)$/);
  refuses([1], 'limits', /^limits: expected an object/);
  refuses(null, 'limits', /^limits: expected an object/);
  refuses({ maxBufferedBytes: 100 * MiB }, 'limits.maxBufferedBytes', /below maxMessageBytes \(268435456\)/); // against the default largest message
  refuses({ maxMessageBytes: 2 * MiB, maxBufferedBytes: 2 * MiB }, 'limits.maxBufferedBytes', /below maxMessageBytes \(2097152\)/);
});

test('limits: config.json "limits" reaches the transport, enters the config hash (formatConfig, in a fixed order), and options override it', T, async (t) => {
  const d = await deployment(['a', 'b']);
  const text = JSON.parse(d.configText) as Record<string, unknown>;
  const withLimits = parseConfig(JSON.stringify({ ...text, limits: { unclaimedMessageTtlMs: 5000, maxIncompleteMessages: 16 } }));
  assert.deepEqual(withLimits.limits, { maxIncompleteMessages: 16, unclaimedMessageTtlMs: 5000 });
  const reordered = parseConfig(JSON.stringify({ limits: { maxIncompleteMessages: 16, unclaimedMessageTtlMs: 5000 }, ...text }));
  assert.equal(formatConfig(withLimits), formatConfig(reordered));
  assert.notEqual(formatConfig(withLimits), formatConfig(d.config));
  assert.deepEqual(JSON.parse(formatConfig(withLimits)).limits, { maxIncompleteMessages: 16, unclaimedMessageTtlMs: 5000 });
  assert.deepEqual(parseConfig(formatConfig(withLimits)), withLimits);
  assert.equal(JSON.parse(formatConfig(d.config)).limits, undefined, 'a config without limits formats as before');
  const mk = (extra: Partial<GrpcTransportOptions>) => new GrpcTransport({ config: withLimits, local: d.parties.get('a')!, logger: () => {}, ...extra });
  assert.deepEqual(mk({}).limits, { ...DEFAULT_LIMITS, maxIncompleteMessages: 16, unclaimedMessageTtlMs: 5000 });
  assert.deepEqual(mk({ limits: { maxIncompleteMessages: 4 }, maxMessageBytes: 1000 }).limits, { ...DEFAULT_LIMITS, maxMessageBytes: 1000, maxIncompleteMessages: 4, unclaimedMessageTtlMs: 5000 });
  assert.throws(() => mk({ limits: { maxIncompleteMessages: 0 } }), (e: Error) => e instanceof RangeError && /GrpcTransport: "limits\.maxIncompleteMessages"/.test(e.message));
  assert.throws(() => mk({ maxMessageBytes: GiB }), (e: Error) => e instanceof RangeError && /"limits\.maxBufferedBytes" .* below maxMessageBytes \(1073741824\)/.test(e.message));
  // the config's limits are what a receiver enforces: a 17th incomplete message closes the link
  await victim(t, { ...d, config: withLimits });
  const m = await attacker(t, { ...d, config: withLimits });
  for (let i = 0; i < 17; i++) await m.chunk(i, 64 * KiB, 0, `k/${i}`, rand(KiB));
  await m.ended;
  assert.match(m.frames.at(-1)!.refusal!.reason!, /more than 16 incomplete messages/);
});
