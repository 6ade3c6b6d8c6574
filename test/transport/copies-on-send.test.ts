import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcTransport } from '../../src/transport/grpc.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { partyTransport } from '../../src/transport/view.js';
import { deployment } from './helpers.js';

// ABY3.aggregateInto reuses a sent share's memory only where the transport says the send copied it
test('copiesOnSend: gRPC to a remote player yes, to a local one (handed over as is) no; hosting and party views ask the transport under them', async () => {
  const d = await deployment(['a', 'b', 'c']);
  const t = new GrpcTransport({ config: d.config, local: [d.parties.get('a')!, d.parties.get('b')!], runId: 'test' });
  try {
    assert.equal(t.copiesOnSend('c'), true);
    assert.equal(t.copiesOnSend('b'), false);
    // a local send hands the very payload over: its memory must not be reused
    const payload = new Uint8Array([1, 2, 3]);
    await t.send('a', 'b', 'k', payload);
    assert.equal(await t.receive('b', 'a', 'k'), payload);
    const hosting = new HostingTransport(t);
    assert.equal(hosting.copiesOnSend('c'), true);
    assert.equal(hosting.copiesOnSend('c:3'), true, "client 'c:3' is hosted by the remote player c");
    assert.equal(hosting.copiesOnSend('b:0'), false, "client 'b:0' is hosted by the local player b");
    const view = partyTransport(hosting, 'a:1');
    assert.equal(view.copiesOnSend('c'), true);
    assert.equal(view.copiesOnSend('b'), false, 'a party view does not make a local player remote');
  } finally {
    await t.close();
  }
  // the in-memory transport never copies
  const m = new MemoryTransport({ hub: new MemoryHub(), local: ['a'] });
  assert.equal(partyTransport(m, 'a').copiesOnSend('b'), false);
  assert.equal(new HostingTransport(m).copiesOnSend('b'), false);
});
