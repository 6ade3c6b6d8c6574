/**
 * The PRG's checks and accessors, each by name (test/encrypted/prg.test.ts
 * has the stream itself): seeds, IVs, the nonce range of derive, sizes,
 * what fill and ringTensorInto accept, the seed copy, and the refusals to
 * print or coerce a seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { inspect } from 'node:util';
import { Prg, randomSeed } from '../../src/crypto/prg.js';
import { RingTensor } from '../../src/ring/index.js';

const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
const aesCtr = (key: Uint8Array, iv: Uint8Array, n: number) => new Uint8Array(createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(n)));

test('Prg: seeds, IVs and derive nonces are checked by name and range', () => {
  assert.throws(() => new Prg(null as never), is(TypeError, /^Prg: "seed" expected Uint8Array of 16 bytes, got null$/));
  assert.throws(() => new Prg(Object.create(null) as never), is(TypeError, /^Prg: "seed" expected Uint8Array of 16 bytes, got object$/));
  assert.throws(() => new Prg([1] as never), is(TypeError, /got Array$/));
  assert.throws(() => new Prg('seed' as never), is(TypeError, /^Prg: "seed" expected Uint8Array of 16 bytes, got string$/));
  assert.throws(() => new Prg(new Uint8Array(17)), is(RangeError, /^Prg: "seed" expected 16 bytes, got 17$/));
  assert.throws(() => Prg.derive(new Uint8Array(8), 1), is(RangeError, /^Prg\.derive: "seed" expected 16 bytes, got 8$/));
  const seed = randomSeed();
  assert.throws(() => new Prg(seed, new Uint8Array(15)), is(RangeError, /^Prg: "iv" expected 16 bytes, got 15$/));
  const iv = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual(new Prg(seed, iv).random(40), aesCtr(seed, iv, 40));
  // derive: nonce = 8 bytes big-endian, then a zero block counter; strings hashed
  for (const n of [0n, 1n, 2n ** 64n - 1n]) {
    const ivN = Buffer.alloc(16);
    ivN.writeBigUInt64BE(n);
    assert.deepEqual(Prg.derive(seed, n).random(24), aesCtr(seed, ivN, 24));
  }
  assert.deepEqual(Prg.derive(seed, 7).random(8), Prg.derive(seed, 7n).random(8));
  assert.throws(() => Prg.derive(seed, -1n), is(RangeError, /^Prg\.derive: "nonce" expected integer in \[0, 2\^64\), got -1$/));
  assert.throws(() => Prg.derive(seed, 2n ** 64n), is(RangeError, /got 18446744073709551616$/));
  assert.throws(() => Prg.derive(seed, -3), is(RangeError, /got -3$/));
});

test('Prg: sizes are non-negative safe integers; fill takes typed arrays only; the seed handed out is a copy', () => {
  const p = new Prg(randomSeed());
  assert.equal(p.random(0).length, 0);
  assert.equal(p.randomWords(0).length, 0);
  for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN]) {
    assert.throws(() => p.random(bad), is(RangeError, new RegExp(`^Prg\\.random: "bytes" expected a non-negative integer, got ${String(bad).replace('.', '\\.')}$`)));
    assert.throws(() => p.randomWords(bad), is(RangeError, new RegExp(`^Prg\\.randomWords: "count" expected a non-negative integer, got ${String(bad).replace('.', '\\.')}$`)));
  }
  assert.throws(() => p.fill(null as never), is(TypeError, /^Prg\.fill: "out" expected a typed array, got null$/));
  assert.throws(() => p.fill([0, 0] as never), is(TypeError, /got Array$/));
  assert.throws(() => p.fill(new ArrayBuffer(8) as never), is(TypeError, /got ArrayBuffer$/));
  const seed = randomSeed();
  const q = new Prg(seed);
  const s = q.seed;
  assert.deepEqual(s, seed);
  s.fill(0);
  assert.deepEqual(q.seed, seed);
  const given = Uint8Array.from(seed);
  const r = new Prg(given);
  given.fill(1);
  assert.deepEqual(r.random(16), aesCtr(seed, new Uint8Array(16), 16), 'the PRG keeps its own copy of the seed');
});

test('Prg: small reads served from what the last one left over continue the stream exactly', () => {
  const seed = randomSeed();
  const sizes = [10, 10, 1, 4000, 75, 0, 4096, 3, 5000, 1];
  const p = new Prg(seed);
  const got = Buffer.concat(sizes.map((n) => p.random(n)));
  assert.deepEqual(got, Buffer.from(aesCtr(seed, new Uint8Array(16), sizes.reduce((a, b) => a + b, 0))));
  const words = new Prg(seed).randomWords(3);
  assert.deepEqual(Buffer.from(words.buffer), got.subarray(0, 24));
});

test('Prg: ringTensorInto fills a ring tensor with the next bytes of the stream, and nothing else', () => {
  const seed = randomSeed();
  const t = new RingTensor(64, [2, 3]);
  const out = new Prg(seed).ringTensorInto(t);
  assert.equal(out, t);
  assert.deepEqual(Buffer.from(t.toBytes()), Buffer.from(aesCtr(seed, new Uint8Array(16), 48)));
  assert.throws(() => new Prg(seed).ringTensorInto(new Uint8Array(8) as never), is(TypeError, /^Prg\.ringTensorInto: "t" expected a RingTensor, got Uint8Array$/));
  assert.throws(() => new Prg(seed).ringTensorInto(null as never), is(TypeError, /got null$/));
});

test('Prg: never prints, serializes or coerces its seed', () => {
  const p = new Prg();
  const serialize = /^Prg: refusing to serialize a PRG \(it holds a secret seed\)$/;
  const coerce = /^Prg: refusing to coerce a PRG \(it holds a secret seed\)$/;
  assert.throws(() => JSON.stringify({ p }), is(TypeError, serialize));
  assert.throws(() => p.toJSON(), is(TypeError, serialize));
  assert.throws(() => p.valueOf(), is(TypeError, coerce));
  assert.throws(() => `${p}`, is(TypeError, coerce));
  assert.throws(() => +(p as unknown as number), is(TypeError, coerce));
  assert.equal(inspect(p), 'Prg { <secret> }');
});
