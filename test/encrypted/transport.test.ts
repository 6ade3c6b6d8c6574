import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryHub, MemoryTransport, TransportError } from '../../src/transport/index.js';

describe('MemoryTransport', () => {
  it('delivers in either order without copying, and counts bytes, messages and rounds', async () => {
    const t = new MemoryTransport();
    const a = new Uint8Array([1, 2, 3]);
    await t.send('p', 'q', 'k1', a);
    assert.equal(await t.receive('q', 'p', 'k1'), a, 'same object: no copy');
    const pending = t.receive('p', 'q', 'k2');
    const b = new Uint8Array(10);
    await t.send('q', 'p', 'k2', b);
    assert.equal(await pending, b);
    await t.send('p', 'q', 'k3', new Uint8Array(5)); // p received since its last send: new round
    await t.receive('q', 'p', 'k3');
    const st = t.stats();
    assert.deepEqual(st['p'], { bytesSent: 8, bytesReceived: 10, messagesSent: 2, messagesReceived: 1, rounds: 2 });
    assert.deepEqual(st['q'], { bytesSent: 10, bytesReceived: 8, messagesSent: 1, messagesReceived: 2, rounds: 1 });
    t.resetStats();
    assert.deepEqual(t.stats(), {});
  });

  it('rejects duplicate keys, times out naming the peer, and refuses non-local players', async () => {
    const hub = new MemoryHub();
    const t = new MemoryTransport({ hub, local: ['p'] });
    await t.send('p', 'q', 'k', new Uint8Array(1));
    await assert.rejects(t.send('p', 'q', 'k', new Uint8Array(1)), (e: unknown) => e instanceof TransportError && /duplicate message from 'p' to 'q' under key 'k'/.test((e as Error).message));
    await assert.rejects(t.receive('p', 'q', 'never', { timeoutMs: 5 }), (e: unknown) => e instanceof TransportError && /nothing from 'q' to 'p'.*within 5 ms/.test((e as Error).message));
    await assert.rejects(t.send('q', 'p', 'x', new Uint8Array(1)), (e: unknown) => e instanceof TransportError && /'q' is not local/.test((e as Error).message));
    await assert.rejects(t.receive('q', 'p', 'k'), TransportError);
    assert.equal(t.isLocal('p'), true);
    assert.equal(t.isLocal('q'), false);
    // another "process" on the same hub receives it
    const other = new MemoryTransport({ hub, local: ['q'] });
    assert.equal((await other.receive('q', 'p', 'k')).length, 1);
    await assert.rejects(t.send('p', 'q', '', new Uint8Array(1)), TypeError);
    await assert.rejects(t.send('p', 'q', 'y', [1] as never), TypeError);
    const waiting = other.receive('q', 'p', 'late');
    await t.close();
    await assert.rejects(waiting, (e: unknown) => e instanceof TransportError && /closed/.test((e as Error).message));
  });
});
