// The aggregator's message to SERVER: aggregate or refusal; malformed bytes are typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregatorMessageFromBytes, aggregatorMessageToBytes } from '../../src/aggregation/paillier-wire.js';
import { DEFAULT_MIN_CONTRIBUTORS, PolicyError } from '../../src/aggregation/index.js';
import { minContributorsOption, requireMinContributors } from '../../src/aggregation/policy.js';

const rejected = [{ client: 2, reason: 'ChannelAuthError: bad tag' }];

test('aggregate and refusal round-trip; a refusal carries nothing after its report', () => {
  const vector = new Uint8Array([1, 2, 3, 4, 5]);
  const a = aggregatorMessageFromBytes(aggregatorMessageToBytes({ kind: 'aggregate', rejected, vector }));
  assert.equal(a.kind, 'aggregate');
  assert.deepEqual(a.kind === 'aggregate' && [...a.vector], [1, 2, 3, 4, 5]);
  assert.deepEqual(a.rejected, rejected);
  const rb = aggregatorMessageToBytes({ kind: 'refused', rule: 'minContributors', count: 1, minimum: 3, rejected });
  assert.equal(rb[0], 2);
  assert.deepEqual(aggregatorMessageFromBytes(rb), { kind: 'refused', rule: 'minContributors', count: 1, minimum: 3, rejected });
  assert.throws(() => aggregatorMessageFromBytes(new Uint8Array([...rb, 0])), (e: Error) => e instanceof RangeError && /carries nothing after its report/.test(e.message));
});

test('malformed aggregator messages are typed errors', () => {
  const good = aggregatorMessageToBytes({ kind: 'refused', rule: 'r', count: 0, minimum: 3, rejected: [] });
  assert.throws(() => aggregatorMessageFromBytes(new Uint8Array(4)), (e: Error) => e instanceof RangeError && /too short/.test(e.message));
  assert.throws(() => aggregatorMessageFromBytes(good.subarray(0, good.length - 1)), (e: Error) => e instanceof RangeError && /overruns/.test(e.message));
  const kind = good.slice();
  kind[0] = 9;
  assert.throws(() => aggregatorMessageFromBytes(kind), (e: Error) => e instanceof RangeError && /unknown kind 9/.test(e.message));
  const json = (o: unknown, k = 2) => {
    const j = new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
    const b = new Uint8Array(5 + j.length);
    b[0] = k;
    new DataView(b.buffer).setUint32(1, j.length);
    b.set(j, 5);
    return b;
  };
  assert.throws(() => aggregatorMessageFromBytes(json('{nope')), (e: Error) => e instanceof TypeError && /not UTF-8 JSON/.test(e.message));
  assert.throws(() => aggregatorMessageFromBytes(json('null')), (e: Error) => e instanceof TypeError && /report expected object/.test(e.message));
  assert.throws(() => aggregatorMessageFromBytes(json({ rejected: 5 })), (e: Error) => e instanceof TypeError && /"rejected" expected array/.test(e.message));
  assert.throws(() => aggregatorMessageFromBytes(json({ rejected: [{ client: 'x', reason: '' }] })), (e: Error) => e instanceof TypeError && /"rejected\[0\]"/.test(e.message));
  assert.throws(() => aggregatorMessageFromBytes(json({ rejected: [], rule: 'r', count: 1.5, minimum: 3 })), (e: Error) => e instanceof TypeError && /refusal expected/.test(e.message));
  assert.equal(aggregatorMessageFromBytes(json({ rejected: [] }, 1)).kind, 'aggregate');
});

test('policy helpers: the minContributors option and the refusal it makes', () => {
  assert.equal(DEFAULT_MIN_CONTRIBUTORS, 3);
  assert.equal(minContributorsOption('f', undefined), 3);
  assert.equal(minContributorsOption('f', 1), 1);
  assert.throws(() => minContributorsOption('f', 0), (e: Error) => e instanceof RangeError && /f: "minContributors" expected integer >= 1, got 0/.test(e.message));
  assert.throws(() => minContributorsOption('f', '3'), (e: Error) => e instanceof TypeError && /"minContributors"/.test(e.message));
  requireMinContributors('aggregator', 'valid contributions', 3, 3);
  assert.throws(
    () => requireMinContributors('aggregator', 'valid contributions', 2, 3, rejected),
    (e: unknown) =>
      e instanceof PolicyError &&
      e.name === 'PolicyError' &&
      e.rule === 'minContributors' &&
      e.count === 2 &&
      e.minimum === 3 &&
      e.message === 'aggregator: policy "minContributors" refuses: 2 valid contributions, fewer than the minimum of 3; rejected: client 2 (ChannelAuthError: bad tag)',
  );
});
