import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlayerCounters } from '../../src/transport/stats.js';

test('a round starts when a player sends after having received; consecutive sends stay in one round', () => {
  const c = new PlayerCounters();
  c.sent('a', 10); // round 1
  c.sent('a', 5); // still round 1
  c.received('b', 10);
  c.received('b', 5);
  c.sent('b', 7); // b: round 1
  c.received('a', 7);
  c.sent('a', 1); // a: round 2
  assert.deepEqual(c.snapshot(), {
    a: { bytesSent: 16, bytesReceived: 7, messagesSent: 3, messagesReceived: 1, rounds: 2 },
    b: { bytesSent: 7, bytesReceived: 15, messagesSent: 1, messagesReceived: 2, rounds: 1 },
  });
  c.reset();
  assert.deepEqual(c.snapshot(), {});
});
