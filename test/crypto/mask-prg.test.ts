/**
 * The mask PRG: its key derivation and stream layout pinned by known-answer
 * tests derived here with raw node:crypto (hkdfSync, createCipheriv), masks
 * of other rounds / purposes / pairs / widths differ, u->v and v->u masks
 * cancel, accumulation modulo 2^bits on random inputs, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import {
  addMask,
  maskAccumulator,
  maskInfo,
  pairwiseMaskKey,
  pairwiseSign,
  reduceMasked,
  selfMaskKey,
} from '../../src/crypto/mask-prg.js';

const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
const secretOf = (tag: string) => new Uint8Array(createHash('sha256').update(tag).digest());
const u32be = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const lp = (s: string) => Buffer.concat([u32be(Buffer.byteLength(s)), Buffer.from(s)]);

/** The documented layout, written out independently of the module. */
function expectedKey(secret: Uint8Array, purposeByte: number, bits: number, round: string, ids: string[]): Buffer {
  const info = Buffer.concat([Buffer.from('fedcrypt/secagg/mask/v1'), Buffer.from([0, purposeByte, bits]), lp(round), ...ids.map(lp)]);
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from('fedcrypt/secagg/mask/v1'), info, 16));
}
const keystream = (key: Uint8Array, bytes: number) => createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytes));

test('mask PRG: keys follow the documented HKDF layout (known answers)', () => {
  const s = secretOf('pair');
  const label = { round: 'round-7', bits: 32 };
  const k = pairwiseMaskKey(s, label, 'client-2', 'client-10');
  // canonical order is UTF-8 byte order: "client-10" < "client-2"
  assert.deepEqual(Buffer.from(k), expectedKey(s, 1, 32, 'round-7', ['client-10', 'client-2']));
  assert.deepEqual(pairwiseMaskKey(s, label, 'client-10', 'client-2'), k);
  assert.deepEqual(Buffer.from(selfMaskKey(s, { round: 'round-7', bits: 64 }, 'client-2')), expectedKey(s, 2, 64, 'round-7', ['client-2']));
  assert.deepEqual(Buffer.from(maskInfo('self', { round: 'r', bits: 20 }, ['a'])).toString('hex'),
    Buffer.concat([Buffer.from('fedcrypt/secagg/mask/v1'), Buffer.from([0, 2, 20]), lp('r'), lp('a')]).toString('hex'));
  // pinned bytes (hex), so that a change of HKDF or label layout is seen even if both sides above changed alike
  assert.equal(Buffer.from(pairwiseMaskKey(secretOf('kat'), { round: 'r1', bits: 32 }, 'a', 'b')).toString('hex'),
    expectedKey(secretOf('kat'), 1, 32, 'r1', ['a', 'b']).toString('hex'));
  assert.equal(Buffer.from(pairwiseMaskKey(secretOf('kat'), { round: 'r1', bits: 32 }, 'a', 'b')).toString('hex'), PINNED_PAIR_KEY);
});
// computed independently (Python hmac HKDF, openssl enc -aes-128-ctr), docs/secagg.md
const PINNED_PAIR_KEY = 'adca23a7de5bbde19d18b442c23f51b7';

test('mask PRG: the stream is AES-128-CTR(key, 0) read little-endian, added or subtracted entry by entry (known answers)', () => {
  const key = pairwiseMaskKey(secretOf('kat'), { round: 'r1', bits: 32 }, 'a', 'b');
  for (const m of [1, 5, 16384, 16385, 40000]) {
    const ks = keystream(key, 4 * m);
    const acc = new Uint32Array(m).fill(7);
    addMask(acc, key, 1, 32);
    for (const i of [0, m >> 1, m - 1]) assert.equal(acc[i], (ks.readUInt32LE(4 * i) + 7) >>> 0);
    addMask(acc, key, -1, 32);
    assert.ok(acc.every((x) => x === 7));
  }
  const key64 = selfMaskKey(secretOf('seed'), { round: 'r1', bits: 64 }, 'a');
  const m = 20000;
  const ks = keystream(key64, 8 * m);
  const acc = new BigUint64Array(m).fill(2n ** 64n - 1n);
  addMask(acc, key64, 1, 64);
  for (const i of [0, 1, 8191, 8192, m - 1]) assert.equal(acc[i], (ks.readBigUInt64LE(8 * i) + 2n ** 64n - 1n) % 2n ** 64n);
  assert.deepEqual([...acc.slice(0, 2)].map((x) => x.toString(16)), PINNED_SELF64);
});
const PINNED_SELF64 = ['8bc2cc9b5f4cecf7', 'b5fe8232402ecabf'];

test('mask PRG: masks of other rounds, purposes, pairs, widths and secrets differ', () => {
  const s = secretOf('x');
  const keys = [
    pairwiseMaskKey(s, { round: 'r1', bits: 32 }, 'a', 'b'),
    pairwiseMaskKey(s, { round: 'r2', bits: 32 }, 'a', 'b'),
    pairwiseMaskKey(s, { round: 'r1', bits: 31 }, 'a', 'b'),
    pairwiseMaskKey(s, { round: 'r1', bits: 32 }, 'a', 'c'),
    pairwiseMaskKey(s, { round: 'r1', bits: 32 }, 'ab', 'c'),
    pairwiseMaskKey(s, { round: 'r1', bits: 32 }, 'a', 'bc'),
    pairwiseMaskKey(secretOf('y'), { round: 'r1', bits: 32 }, 'a', 'b'),
    selfMaskKey(s, { round: 'r1', bits: 32 }, 'a'),
    selfMaskKey(s, { round: 'r1', bits: 32 }, 'b'),
    selfMaskKey(s, { round: new Uint8Array([0x72, 0x31]), bits: 33 }, 'a'),
  ].map((k) => Buffer.from(k).toString('hex'));
  assert.equal(new Set(keys).size, keys.length);
  // a bytes round equal to the string's UTF-8 is the same label
  assert.deepEqual(selfMaskKey(s, { round: new Uint8Array([0x72, 0x31]), bits: 32 }, 'a'), selfMaskKey(s, { round: 'r1', bits: 32 }, 'a'));
});

test('mask PRG: u->v and v->u pairwise masks cancel, with the self masks removed, at every width (random inputs)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 3000 }), fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 8 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
      (bits, m, u, v, secret) => {
        fc.pre(u !== v);
        const label = { round: 'r', bits };
        const x = maskAccumulator(bits, m);
        const y = maskAccumulator(bits, m);
        for (let i = 0; i < m; i++) { if (x instanceof Uint32Array) { x[i] = i * 7919; (y as Uint32Array)[i] = i; } else { x[i] = BigInt(i) * 7919n; (y as BigUint64Array)[i] = BigInt(i); } }
        const want = maskAccumulator(bits, m);
        for (let i = 0; i < m; i++) want[i] = (bits <= 32 ? (x[i] as number) + (y[i] as number) : (x[i] as bigint) + (y[i] as bigint)) as never;
        reduceMasked(want, bits);
        // u's masked input: x + sign(u,v) PRG(s_uv) + PRG(self_u); v's: y + sign(v,u) PRG(s_vu)
        addMask(x, pairwiseMaskKey(secret, label, u, v), pairwiseSign(u, v), bits);
        addMask(x, selfMaskKey(secret, label, u), 1, bits);
        addMask(y, pairwiseMaskKey(secret, label, v, u), pairwiseSign(v, u), bits);
        const sum = maskAccumulator(bits, m);
        for (let i = 0; i < m; i++) sum[i] = (bits <= 32 ? (x[i] as number) + (y[i] as number) : ((x[i] as bigint) + (y[i] as bigint)) % 2n ** 64n) as never;
        addMask(sum, selfMaskKey(secret, label, u), -1, bits); // the server removes u's self mask
        assert.deepEqual(reduceMasked(sum, bits), want);
      }),
    { numRuns: 60 },
  );
});

test('mask PRG: reduceMasked keeps the low bits; the sum modulo 2^bits is exact for bits not a multiple of 32', () => {
  const a = new Uint32Array([0xffffffff, 0x12345678]);
  assert.deepEqual([...reduceMasked(a, 20)], [0xfffff, 0x45678]);
  const b = new BigUint64Array([2n ** 64n - 1n, 0x123456789abcdefn]);
  assert.deepEqual([...reduceMasked(b, 40)], [2n ** 40n - 1n, 0x123456789abcdefn & (2n ** 40n - 1n)]);
  assert.deepEqual([...reduceMasked(new BigUint64Array([5n]), 64)], [5n]);
});

test('mask PRG: refusals name the function and the argument', () => {
  const s = secretOf('x');
  const key = new Uint8Array(16);
  assert.throws(() => pairwiseMaskKey(new Uint8Array(16), { round: 'r', bits: 32 }, 'a', 'b'), is(RangeError, /^pairwiseMaskKey: "sharedSecret" expected 32 bytes, got 16$/));
  assert.throws(() => pairwiseMaskKey(s, { round: 'r', bits: 32 }, 'a', 'a'), is(RangeError, /^pairwiseMaskKey: "b" must differ from "a"/));
  assert.throws(() => pairwiseMaskKey(s, { round: 'r', bits: 32 }, 'a', 5 as never), is(TypeError, /^pairwiseMaskKey: "b" expected string, got number$/));
  assert.throws(() => selfMaskKey(s, { round: '', bits: 32 }, 'a'), is(RangeError, /^maskInfo: "round" expected a non-empty id$/));
  assert.throws(() => selfMaskKey(s, { round: 3 as never, bits: 32 }, 'a'), is(TypeError, /^maskInfo: "round" expected string or Uint8Array, got number$/));
  assert.throws(() => selfMaskKey(s, { round: 'r', bits: 65 }, 'a'), is(RangeError, /^maskInfo: "bits" expected an integer in \[1, 64\], got 65$/));
  assert.throws(() => selfMaskKey(s, null as never, 'a'), is(TypeError, /^maskInfo: "label" expected \{ round, bits \}, got null$/));
  assert.throws(() => addMask(new BigUint64Array(2), key, 1, 32), is(TypeError, /^addMask: "acc" expected Uint32Array for bits <= 32, got BigUint64Array$/));
  assert.throws(() => addMask(new Uint32Array(2), key, 1, 33), is(TypeError, /^addMask: "acc" expected BigUint64Array for bits > 32, got Uint32Array$/));
  assert.throws(() => addMask(new Uint32Array(2), key, 0 as never, 32), is(RangeError, /^addMask: "sign" expected 1 or -1, got 0$/));
  assert.throws(() => addMask(new Uint32Array(2), new Uint8Array(32), 1, 32), is(RangeError, /^addMask: "key" expected 16 bytes, got 32$/));
  assert.throws(() => addMask(new Uint32Array(2), key, 1, 0), is(RangeError, /^addMask: "bits" expected an integer in \[1, 64\], got 0$/));
  assert.throws(() => pairwiseSign('a', 'a'), is(RangeError, /^pairwiseSign: "peer" must differ from "me"/));
  assert.throws(() => maskAccumulator(32, -1), is(RangeError, /^maskAccumulator: "length" expected a non-negative integer, got -1$/));
  assert.throws(() => reduceMasked(new Uint32Array(1), 33), is(TypeError, /^reduceMasked: "acc" expected BigUint64Array/));
});
