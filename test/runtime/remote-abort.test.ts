/**
 * The abortable view a player's roles receive through (runtime/remote/player.ts):
 * every pending receive fails once the driver aborts the session, naming the
 * peer; and a payload that has been received is not kept reachable from the
 * session's abort signal (a session of many rounds would otherwise hold
 * every message it ever received until it ends).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { abortable as abortableTransport } from '../../src/runtime/remote/player.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { TransportError } from '../../src/transport/errors.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collect garbage until `ref` is cleared (or give up after a few full collections, each in a later task). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  await new Promise((r) => setImmediate(r));
  return ref.deref() === undefined;
}

describe('a player\'s abortable view of its transport', () => {
  it('a received payload is not retained while the session goes on', async () => {
    const hub = new MemoryHub();
    const a = new MemoryTransport({ hub, local: ['server1'] });
    const b = new MemoryTransport({ hub, local: ['owner0'] });
    const session = new Promise<void>(() => undefined); // never aborted: the session goes on
    const view = abortableTransport(a, session);
    // (in a function of its own, so that no frame of the test keeps a payload)
    const roundTrip = async (i: number): Promise<WeakRef<Uint8Array>> => {
      const waiting = view.receive('server1', 'owner0', `k${i}`);
      await b.send('owner0', 'server1', `k${i}`, new Uint8Array(1 << 20).fill(i));
      const got = await waiting;
      assert.equal(got[0], i);
      return new WeakRef(got);
    };
    const refs: WeakRef<Uint8Array>[] = [];
    for (let i = 0; i < 3; i++) refs.push(await roundTrip(i));
    for (const [i, r] of refs.entries()) assert.ok(await collected(r), `payload ${i} was collected while the session is open`);
    hub.close();
  });

  it('an abort fails every pending receive, naming the peer; a later receive fails at once; received messages are unaffected', async () => {
    const hub = new MemoryHub();
    const a = new MemoryTransport({ hub, local: ['server1'] });
    const b = new MemoryTransport({ hub, local: ['owner0', 'owner1'] });
    let abort: () => void = () => undefined;
    const view = abortableTransport(a, new Promise<void>((r) => (abort = r)));
    const first = view.receive('server1', 'owner0', 'a');
    await b.send('owner0', 'server1', 'a', Uint8Array.of(7));
    assert.deepEqual(await first, Uint8Array.of(7));
    const p0 = view.receive('server1', 'owner0', 'b');
    const p1 = view.receive('server1', 'owner1', 'c');
    abort();
    await assert.rejects(p0, (e: unknown) => e instanceof TransportError && /receive from 'owner0': the driver aborted the session/.test((e as Error).message));
    await assert.rejects(p1, (e: unknown) => e instanceof TransportError && /'owner1'/.test((e as Error).message));
    await assert.rejects(view.receive('server1', 'owner1', 'd'), (e: unknown) => e instanceof TransportError && /aborted/.test((e as Error).message));
    // sends go through as before
    const direct = a.receive('server1', 'owner1', 'e');
    await b.send('owner1', 'server1', 'e', Uint8Array.of(1));
    assert.deepEqual(await direct, Uint8Array.of(1));
    hub.close();
  });
});
