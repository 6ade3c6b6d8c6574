/**
 * The kernels behind ABY3's sign circuit, bit injection, product and pooling
 * (src/encrypted/assembly/bitplanes.ts, built to dist/wasm/bitplanes.wasm)
 * against their JS versions (src/encrypted/protocols/bit-kernels.ts) on
 * random inputs and edge sizes; the JS kernels against direct references;
 * the PRF worker's streams against Prg.derive; and the nonlinear ops run on
 * the JS kernels (the fallback) against the plaintext reference, with the
 * same bytes as on the wasm kernels.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player } from '../../src/encrypted/index.js';
import { Prg } from '../../src/crypto/prg.js';
import { prfStream } from '../../src/crypto/prf-worker.js';
import { BitHeap, loadBitWasm, setBitBackend } from '../../src/encrypted/protocols/bit-memory.js';
import type { BitKernelSet } from '../../src/encrypted/protocols/bit-kernels.js';
import { RoundTransport } from './rounds.js';

const wasm = loadBitWasm();
const heaps = (): [string, BitHeap][] => [['js', new BitHeap()], ...(wasm.exports === null ? [] : [['wasm', new BitHeap(wasm.exports)] as [string, BitHeap]])];

/** Deterministic pseudo-random words (a fixed PRG stream). */
const words = (len: number, tag: string): Uint32Array => Prg.derive(new Uint8Array(16).fill(5), tag).fill(new Uint32Array(len));

/** Run `f` on each heap with the same inputs; the output blocks must agree. */
function agree(label: string, inputs: Uint32Array[], outWords: number[], f: (k: BitKernelSet, ins: number[], outs: number[]) => void): Uint32Array[][] {
  const results = heaps().map(([name, h]) => {
    const put = (a: Uint32Array): number => {
      const [p] = h.alloc(a.byteLength);
      h.bytes().set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
      return p;
    };
    const ins = inputs.map(put);
    const outs = outWords.map((w) => put(words(w, 'garbage'))); // outputs start as garbage: a kernel must write every word
    f(h.kernels, ins, outs);
    return { name, out: outs.map((p, i) => new Uint32Array(h.bytes().slice(p, p + 4 * outWords[i]!).buffer)) };
  });
  for (const r of results.slice(1)) assert.deepEqual(r.out, results[0]!.out, `${label}: ${r.name} differs from ${results[0]!.name}`);
  return results.map((r) => r.out);
}

const big = (a: Uint32Array, e: number, L: number): bigint => {
  let v = 0n;
  for (let q = 2 * L - 1; q >= 0; q--) v = (v << 32n) | BigInt(a[e * 2 * L + q]!);
  return v;
};

describe('bit kernels: wasm against JS, JS against direct references', () => {
  it('the wasm module is built (npm run build)', () => {
    assert.equal(wasm.error, '', wasm.error);
  });

  it('xor2, and4, and1 (with and without a product) on lengths around the SIMD width', () => {
    for (const len of [1, 3, 4, 5, 31, 64, 1027]) {
      const [m1, m2, xi, xj, yi, yj] = ['m1', 'm2', 'xi', 'xj', 'yi', 'yj'].map((t) => words(len, t + len));
      const [[x, a4, a1, a0]] = agree(`len ${len}`, [m1!, m2!, xi!, xj!, yi!, yj!], [len, len, len, len], (k, [M1, M2, XI, XJ, YI, YJ], [o0, o1, o2, o3]) => {
        k.xor2(o0!, M1!, M2!, len);
        k.and4(o1!, M1!, M2!, XI!, XJ!, YI!, YJ!, len);
        k.and1(o2!, M1!, M2!, XI!, YJ!, len);
        k.and1(o3!, M1!, M2!, 0, 0, len);
      });
      for (let w = 0; w < len; w++) {
        const m = m1![w]! ^ m2![w]!;
        assert.equal(x![w], m >>> 0);
        assert.equal(a4![w], (m ^ (xi![w]! & yi![w]!) ^ (xi![w]! & yj![w]!) ^ (xj![w]! & yi![w]!)) >>> 0, `and4 word ${w}`);
        assert.equal(a1![w], (m ^ (xi![w]! & yj![w]!)) >>> 0);
        assert.equal(a0![w], m >>> 0);
      }
    }
  });

  it('toPlanes: ring words to bit planes for n around the 64- and 128-element blocks, both widths, all or some planes', () => {
    for (const L of [1, 2]) {
      for (const n of [1, 31, 32, 63, 64, 65, 127, 128, 129, 300]) {
        const W = Math.ceil(n / 32);
        for (const planes of [64 * L, 64 * L - 1, 33]) {
          const src = words(2 * L * n, `planes${n}`);
          const [[out]] = agree(`L ${L} n ${n} planes ${planes}`, [src, new Uint32Array(256)], [planes * W], (k, [s, tmp], [o]) => k.toPlanes(s!, n, L, planes, W, o!, tmp!));
          for (let j = 0; j < planes; j++) {
            for (let e = 0; e < 32 * W; e++) {
              const want = e < n ? Number((big(src, e, L) >> BigInt(j)) & 1n) : 0;
              assert.equal((out![j * W + (e >>> 5)]! >>> (e & 31)) & 1, want, `L ${L} n ${n}: bit ${j} of element ${e}`);
            }
          }
        }
      }
    }
  });

  it('ring vectors: addRing, subRing, mulCross, otSend, otHelp, otRecv at both widths (absent operands included)', () => {
    for (const L of [1, 2]) {
      const M = (1n << BigInt(64 * L)) - 1n;
      for (const n of [1, 2, 3, 33, 100]) {
        const v = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((t) => words(2 * L * n, `${t}${L}${n}`));
        const bits = [words(Math.ceil(n / 32), `p${n}`), words(Math.ceil(n / 32), `q${n}`)];
        const outs = agree(`L ${L} n ${n}`, [...v, ...bits], Array(10).fill(2 * L * n), (k, [A, B, C, D, E, F, G, P, Q], o) => {
          k.addRing(o[0]!, A!, B!, n, L);
          k.subRing(o[1]!, A!, B!, n, L);
          k.mulCross(o[2]!, A!, B!, C!, D!, E!, F!, n, L);
          k.otSend(o[3]!, o[4]!, P!, Q!, A!, B!, C!, D!, E!, n, L);
          k.otSend(o[5]!, o[6]!, P!, 0, 0, 0, C!, D!, E!, n, L);
          k.otHelp(o[7]!, P!, A!, B!, n, L);
          k.otRecv(o[8]!, P!, A!, B!, C!, D!, E!, n, L);
          k.otRecv(o[9]!, Q!, A!, B!, C!, 0, 0, n, L);
        })[0]!;
        const [a, b, c, d, e, f] = v;
        const bit = (p: Uint32Array, i: number): number => (p[i >>> 5]! >>> (i & 31)) & 1;
        for (let i = 0; i < n; i++) {
          const [A, B, C, D, E, F] = [a, b, c, d, e, f].map((x) => big(x!, i, L)) as bigint[];
          const got = outs.map((o) => big(o, i, L));
          const ch = bit(bits[0]!, i) ^ bit(bits[1]!, i);
          assert.equal(got[0], (A! + B!) & M);
          assert.equal(got[1], (A! - B!) & M);
          assert.equal(got[2], (A! * (C! + D!) + B! * C! + E! - F!) & M, `mulCross element ${i}`);
          assert.equal(got[3], ((ch ? A! + B! : 0n) - C! + D!) & M);
          assert.equal(got[4], ((ch ? 0n : A! + B!) - C! + E!) & M);
          assert.equal(got[5], ((bit(bits[0]!, i) ? 1n : 0n) - C! + D!) & M, 'otSend with the constant 1');
          assert.equal(got[7], bit(bits[0]!, i) ? B : A);
          assert.equal(got[8], ((bit(bits[0]!, i) ? B! : A!) - C! + D! - E!) & M);
          assert.equal(got[9], ((bit(bits[1]!, i) ? B! : A!) - C!) & M);
        }
      }
    }
  });

  it('gather2x2 and scatter2x2: the window taps and back, odd sizes and an odd channel count (runs not a multiple of 16 bytes)', () => {
    for (const [B, H, W, C, L] of [[1, 2, 2, 1, 1], [2, 5, 3, 3, 1], [1, 4, 6, 2, 2], [2, 7, 7, 1, 2]] as const) {
      const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
      const n = B * OH * OW * C;
      const run = 8 * L * C;
      const x = words(2 * L * B * H * W * C, `x${B}${H}${W}${C}`);
      const order = 0b11011000; // taps 0, 2, 1, 3
      const [[g, back, up]] = agree(`${B}x${H}x${W}x${C}`, [x], [8 * L * n, 2 * L * B * H * W * C, 2 * L * B * H * W * C], (k, [X], [G, S, U]) => {
        k.gather2x2(X!, G!, B, H, W, OH, OW, run, order);
        k.scatter2x2(G!, S!, B, H, W, OH, OW, run, 0);
        k.scatter2x2(G!, U!, B, H, W, OH, OW, run, 1);
      });
      const at = (b: number, y: number, xx: number, c: number): bigint => big(x, ((b * H + y) * W + xx) * C + c, L);
      [0, 2, 1, 3].forEach((t, j) => {
        for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let c = 0; c < C; c++) {
          assert.equal(big(g!, j * n + ((b * OH + oy) * OW + ox) * C + c, L), at(b, 2 * oy + (t >> 1), 2 * ox + (t & 1), c), `tap ${t}`);
        }
      });
      for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) for (let c = 0; c < C; c++) {
        const inWindow = y < 2 * OH && xx < 2 * OW;
        const e = ((b * H + y) * W + xx) * C + c;
        // block j of g holds tap [0, 2, 1, 3][j]: scattering it as tap j puts taps 1 and 2 at each other's places
        const t = (y & 1) * 2 + (xx & 1);
        const src = ((b * OH + (y >> 1)) * OW + (xx >> 1)) * C + c;
        assert.equal(big(back!, e, L), inWindow ? big(g!, t * n + src, L) : 0n, `scatter at ${b},${y},${xx},${c}`);
        assert.equal(big(up!, e, L), inWindow ? big(g!, src, L) : 0n, `upsample at ${b},${y},${xx},${c}`);
      }
    }
  });
});

describe('PRF streams from the worker thread', () => {
  it('equal Prg.derive for short (inline), long (worker) and taken-over requests; released and cancelled blocks serve later streams correctly', async () => {
    const key = new Uint8Array(16).map((_, i) => 3 * i + 1);
    const want = (nonce: string | bigint, n: number): Buffer => Buffer.from(Prg.derive(key, nonce).fill(new Uint8Array(n)));
    for (const [nonce, n] of [['a', 0], ['b', 100], ['op/g/and', 65536], ['op/t0/and', 3 * 65536 + 12], [7n, 200000]] as const) {
      const s = await prfStream(key, nonce, n).get();
      assert.deepEqual(Buffer.from(s.bytes), want(nonce, n), `nonce ${String(nonce)}, ${n} bytes`);
      s.release();
    }
    // many at once: the worker holds two, get() takes the later ones over (computed here), in any order
    const reqs = Array.from({ length: 8 }, (_, i) => prfStream(key, `again${i}`, 200000 + i));
    reqs[5]!.cancel();
    const got = await Promise.all([7, 0, 6, 1, 4, 2, 3].map(async (i) => [i, await reqs[i]!.get()] as const));
    for (const [i, s] of got) {
      assert.deepEqual(Buffer.from(s.bytes), want(`again${i}`, 200000 + i), `request ${i}`);
      s.release();
    }
  });
});

describe('ABY3 nonlinear ops on the JS bit kernels (the fallback)', () => {
  it('relu, greater and maxPool2x2 equal the plaintext reference, with the same bytes as on the wasm kernels', async () => {
    const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
    const xs = Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => Math.round((Math.sin(7 * i) * 40) * 256) / 256);
    const ys = xs.map((v, i) => (i % 5 === 0 ? v : -v / 2));
    const run = async (backend: 'js' | 'wasm') => {
      setBitBackend(backend);
      try {
        const t = new RoundTransport();
        const p = new ABY3(s0, s1, s2, { transport: t, players: [alice] });
        const x = await p.encrypt(alice, xs, { shape: [2, 4, 4, 3] });
        const y = await p.encrypt(alice, ys, { shape: [2, 4, 4, 3] });
        t.reset();
        const r = await p.relu(x);
        const g = await p.greater(x, y);
        const m = await p.maxPool2x2(x);
        const bytes = t.bytes();
        const open = async (v: typeof r) => [...(await p.reveal(v, alice)).read()];
        return { r: await open(r), g: await open(g), m: await open(m), bytes };
      } finally {
        setBitBackend(wasm.exports === null ? 'js' : 'wasm');
      }
    };
    const js = await run('js');
    assert.deepEqual(js.r, xs.map((v) => Math.max(v, 0)));
    assert.deepEqual(js.g, xs.map((v, i) => (v > ys[i]! ? 1 : 0)));
    const pool: number[] = [];
    for (let b = 0; b < 2; b++) for (let oy = 0; oy < 2; oy++) for (let ox = 0; ox < 2; ox++) for (let c = 0; c < 3; c++) {
      const v = (dy: number, dx: number) => xs[((b * 4 + 2 * oy + dy) * 4 + 2 * ox + dx) * 3 + c]!;
      pool.push(Math.max(v(0, 0), v(0, 1), v(1, 0), v(1, 1)));
    }
    assert.deepEqual(js.m, pool);
    if (wasm.exports !== null) assert.deepEqual(js.bytes, (await run('wasm')).bytes, 'bytes per server: JS kernels = wasm kernels');
  });
});

describe('ABY3 comparison tree: a level with several pairs carrying index terms (argmax over 7 and 8)', () => {
  it('max and argmax equal the reference (ties: the lowest index)', async () => {
    const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
    const p = new ABY3(s0, s1, s2, { transport: new RoundTransport(), players: [alice] });
    for (const k of [7, 8]) {
      const rows = 40;
      const xs = Array.from({ length: rows * k }, (_, i) => ((i * 7919 + k * 104729) % 23) - 11); // small integers: some ties
      const x = await p.encrypt(alice, xs, { shape: [rows, k] });
      const m = [...(await p.reveal(await p.max(x, 1), alice)).read()];
      const a = [...(await p.reveal(await p.argmax(x, 1), alice)).read()];
      for (let r = 0; r < rows; r++) {
        const row = xs.slice(r * k, (r + 1) * k);
        const best = Math.max(...row);
        assert.equal(m[r], best, `k ${k} row ${r}: max`);
        assert.equal(a[r], row.indexOf(best), `k ${k} row ${r}: argmax`);
      }
    }
  });
});
