/**
 * The replay window (src/crypto/secure-channel.ts ReplayWindow) past its
 * pruning: a session or a sealed-box receiver that has seen more messages
 * than the window holds (the set of seen numbers is pruned once it exceeds
 * 2 * window + 16) must still refuse every replay from inside the window,
 * and accept exactly the numbers it has not seen there; checked against a
 * model on random schedules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_WINDOW,
  ReplayError,
  ReplayWindow,
  SealedBoxReceiver,
  SealedBoxSender,
  connectPair,
  generateIdentity,
  type LocalParty,
} from '../../src/crypto/secure-channel.js';

const party = (name: string): LocalParty => ({ name, identity: generateIdentity() });
const alice = party('alice');
const bob = party('bob');

test('session: after 5000 messages (pruned several times), every frame inside the window is refused as a replay, every older one as outside it', () => {
  const [a, b] = connectPair(alice, bob, 'replay-prune');
  const W = DEFAULT_WINDOW;
  const n = 5000;
  const frames = Array.from({ length: n }, (_, i) => a.seal(Uint8Array.of(i & 0xff, i >> 8)));
  // two withheld frames at the window's lower edge, delivered at the end
  const edge = n - 1 - W; // = highest - window: outside once n - 1 has been seen
  const withheld = new Set([edge, edge + 1]);
  for (let i = 0; i < n; i++) if (!withheld.has(i)) assert.deepEqual(b.open(frames[i]!), Uint8Array.of(i & 0xff, i >> 8));
  for (let i = n - W + 1; i < n; i++) {
    if (withheld.has(i)) continue;
    assert.throws(() => b.open(frames[i]!), (e: Error) => e instanceof ReplayError && /sequence number \d+ was already received/.test(e.message), `replay of frame ${i} (inside the window) accepted`);
  }
  for (const i of [0, 1, 1000, 2064, 2065, edge - 1]) {
    assert.throws(() => b.open(frames[i]!), (e: Error) => e instanceof ReplayError && /outside the replay window/.test(e.message), `frame ${i}`);
  }
  assert.throws(() => b.open(frames[edge]!), (e: Error) => e instanceof ReplayError && /outside the replay window \(highest seen 4999, window 1024\)/.test(e.message));
  assert.deepEqual(b.open(frames[edge + 1]!), Uint8Array.of((edge + 1) & 0xff, (edge + 1) >> 8)); // the oldest number inside the window, never seen
  assert.throws(() => b.open(frames[edge + 1]!), ReplayError);
});

test('session: out-of-order delivery across many prunings: each frame accepted once, replays refused', () => {
  const [a, b] = connectPair(alice, bob, 'replay-shuffle', 'chacha20-poly1305');
  const n = 3000;
  const frames = Array.from({ length: n }, (_, i) => a.seal(Uint8Array.of(i & 0xff)));
  // blocks of 300 delivered backwards: reordering well within the 1024 window
  const order: number[] = [];
  for (let s = 0; s < n; s += 300) for (let i = Math.min(n, s + 300) - 1; i >= s; i--) order.push(i);
  order.forEach((i, k) => {
    b.open(frames[i]!);
    if (k % 7 === 0) assert.throws(() => b.open(frames[i]!), ReplayError, `immediate replay of ${i}`);
  });
  for (const i of order.slice(-1000)) assert.throws(() => b.open(frames[i]!), ReplayError, `late replay of ${i}`);
});

test('sealed box: a receiver that has opened more boxes than its window holds still refuses a replayed box from inside the window', () => {
  const agg = party('aggregator');
  const c0 = party('c0');
  const tx = new SealedBoxSender({ self: c0, recipients: new Map([['aggregator', agg.identity.publicKey]]), context: 'r' });
  const rx = new SealedBoxReceiver({ self: agg, senders: new Map([['c0', c0.identity.publicKey]]), context: 'r', window: 8 });
  const boxes = Array.from({ length: 100 }, (_, i) => tx.seal('aggregator', Uint8Array.of(i)));
  for (const box of boxes) rx.open(box);
  for (let i = 92; i < 100; i++) assert.throws(() => rx.open(boxes[i]!), (e: Error) => e instanceof ReplayError && /already received/.test(e.message), `box ${i}`);
  assert.throws(() => rx.open(boxes[91]!), (e: Error) => e instanceof ReplayError && /outside the replay window/.test(e.message));
});

/** The rule ReplayWindow implements, without pruning. */
class ModelWindow {
  highest = -1;
  seen = new Set<number>();
  constructor(readonly window: number) {}
  accepts(seq: number): boolean {
    if (seq > this.highest) return true;
    if (this.window === 0 || seq <= this.highest - this.window) return false;
    return !this.seen.has(seq);
  }
  mark(seq: number): void {
    this.highest = Math.max(this.highest, seq);
    this.seen.add(seq);
  }
}

test('ReplayWindow: agrees with the unpruned rule on random schedules (reordering, replays, jumps), for small windows pruned many times', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 12 }),
      fc.array(fc.oneof(fc.integer({ min: -20, max: 3 }), fc.integer({ min: 1, max: 40 })), { minLength: 50, maxLength: 400 }),
      (window, steps) => {
        const w = new ReplayWindow(window);
        const m = new ModelWindow(window);
        let next = 0;
        for (const step of steps) {
          // mostly near the front, sometimes far behind (replays and stale numbers) or ahead (gaps)
          const seq = Math.max(0, next + step);
          next = Math.max(next, seq + 1);
          const expected = m.accepts(seq);
          const why = w.check(seq);
          assert.equal(why === null, expected, `window ${window}, seq ${seq}, highest ${m.highest}: ${why}`);
          if (expected) {
            w.mark(seq);
            m.mark(seq);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
