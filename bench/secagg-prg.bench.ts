// SecAgg primitives: the mask PRG (entries/s expanded and added into the
// accumulator, m = 100,000, bits 32 and 64; `addMask`: TypeScript loops over a
// typed array; `MaskSum`: wasm SIMD kernels over an accumulator resident in
// wasm memory) against raw AES-128-CTR keystream
// over the same bytes (node:crypto, 64 KiB chunks, nothing added), measured
// interleaved in the same run; and Shamir split / reconstruct rates.
// Medians of interleaved rounds. Writes bench/results/secagg-prg.json.
//   node --import tsx bench/secagg-prg.bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { createCipheriv, randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { addMask, maskAccumulator, pairwiseMaskKey } from '../src/crypto/mask-prg.js';
import { MaskSum } from '../src/crypto/mask-sum.js';
import { LagrangeCache, shamirReconstruct, shamirSplit } from '../src/crypto/shamir.js';

const M = 100_000;
const ROUNDS = Number(process.env.ROUNDS ?? 41);
const zero = new Uint8Array(64 * 1024);

/** Median wall time (ms) per contender over `rounds` interleaved rounds (one call each per round) after `warm` rounds. */
function race(contenders: Record<string, () => unknown>, rounds: number, warm = 5): Record<string, number> {
  const names = Object.keys(contenders);
  const t: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < warm + rounds; r++) {
    for (const n of names) {
      const s = process.hrtime.bigint();
      contenders[n]!();
      if (r >= warm) t[n]!.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  }
  return Object.fromEntries(names.map((n) => [n, t[n]!.sort((x, y) => x - y)[Math.floor(rounds / 2)]!]));
}

let sink = 0;
function rawKeystream(key: Uint8Array, bytes: number): void {
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  for (let off = 0; off < bytes; off += zero.length) {
    const b = c.update(off + zero.length <= bytes ? zero : zero.subarray(0, bytes - off));
    sink ^= b[0]!;
  }
}

const results: Record<string, unknown> = { m: M, rounds: ROUNDS, cpu: cpus()[0]?.model, loadStart: loadavg()[0] };
const key = pairwiseMaskKey(new Uint8Array(randomBytes(32)), { round: 'bench', bits: 32 }, 'a', 'b');
const acc32 = maskAccumulator(32, M);
const acc64 = maskAccumulator(64, M);
const sum32 = new MaskSum(32, M);
const sum64 = new MaskSum(64, M);
const ms = race({
  raw32: () => rawKeystream(key, 4 * M),
  mask32: () => addMask(acc32, key, 1, 32),
  wasm32: () => sum32.addMask(key, 1),
  raw64: () => rawKeystream(key, 8 * M),
  mask64: () => addMask(acc64, key, -1, 64),
  wasm64: () => sum64.addMask(key, -1),
}, ROUNDS);
const eps = (t: number) => M / t * 1e3;
for (const bits of [32, 64]) {
  const raw = ms[`raw${bits}`]!, mask = ms[`mask${bits}`]!, wasm = ms[`wasm${bits}`]!;
  const row = { rawMs: raw, tsMs: mask, wasmMs: wasm, rawEntriesPerS: eps(raw), tsEntriesPerS: eps(mask), wasmEntriesPerS: eps(wasm), tsOverRaw: mask / raw, wasmOverRaw: wasm / raw, tsOverWasm: mask / wasm };
  results[`prg${bits}`] = row;
  console.log(`bits=${bits}: MaskSum (wasm) ${(eps(wasm) / 1e6).toFixed(1)} M entries/s (${wasm.toFixed(3)} ms), addMask (TS) ${(eps(mask) / 1e6).toFixed(1)} M/s (${mask.toFixed(3)} ms), raw keystream ${(eps(raw) / 1e6).toFixed(1)} M/s (${raw.toFixed(3)} ms); time / raw: wasm ${row.wasmOverRaw.toFixed(2)}, TS ${row.tsOverRaw.toFixed(2)}`);
}

// Shamir: shares/s (one split of a 32-byte secret to n parties) and reconstructions/s
// (t shares, Lagrange coefficients cached for the survivor set, and uncached).
const secret = new Uint8Array(randomBytes(32));
for (const [n, t] of [[500, 251], [1000, 501], [62, 44]] as const) {
  const shares = shamirSplit(secret, t, n).map((share, i) => ({ index: i + 1, share }));
  const use = shares.filter((_, i) => i % 10 < 7).slice(0, t); // a 30%-dropped survivor set
  const cache = new LagrangeCache();
  const reps = t > 100 ? 5 : 200;
  const r = race({
    split: () => shamirSplit(secret, t, n),
    reconstructCached: () => { for (let i = 0; i < reps; i++) shamirReconstruct(use, t, cache); },
    reconstructCold: () => shamirReconstruct(use, t, new LagrangeCache()),
  }, t > 100 ? 15 : ROUNDS, 3);
  const row = { n, t, sharesPerS: n / r.split! * 1e3, splitMs: r.split, reconstructionsPerS: reps / r.reconstructCached! * 1e3, coldReconstructionsPerS: 1e3 / r.reconstructCold! };
  results[`shamir_n${n}_t${t}`] = row;
  console.log(`shamir n=${n} t=${t}: ${Math.round(row.sharesPerS)} shares/s (split ${row.splitMs!.toFixed(2)} ms), ${Math.round(row.reconstructionsPerS)} reconstructions/s cached, ${Math.round(row.coldReconstructionsPerS)}/s with fresh coefficients`);
}

// The server's Shamir work in the unmasking round: n = 1000 complete graph (t = 501),
// 30% dropped: 300 masking keys + 700 self-mask seeds, all from the same 700
// survivors (one coefficient set); SecAgg+ n = 10,000, k = 62, t = 44, 10% dropped:
// 10,000 secrets, each from its own neighbours' shares (its own coefficient set).
{
  const shares = shamirSplit(secret, 501, 1000).map((share, i) => ({ index: i + 1, share }));
  const survivors = shares.filter((_, i) => i % 10 < 7);
  const s0 = performance.now();
  const cache = new LagrangeCache();
  for (let i = 0; i < 1000; i++) shamirReconstruct(survivors, 501, cache);
  const completeMs = performance.now() - s0;
  const plus = shamirSplit(secret, 44, 62).map((share, i) => ({ index: i + 1, share }));
  const s1 = performance.now();
  const cache2 = new LagrangeCache(1); // consecutive clients have different sets: every coefficient set is computed
  for (let i = 0; i < 10_000; i++) {
    // a different surviving subset of the 62 neighbours each time (10% dropped), evaluation points shifted per client
    const alive = plus.filter((_, j) => (j + i) % 10 !== 0).slice(0, 44);
    shamirReconstruct(alive, 44, cache2);
  }
  const plusMs = performance.now() - s1;
  results.serverShamir = { complete_n1000_t501_dropped30_ms: completeMs, harary_n10000_k62_t44_dropped10_ms: plusMs };
  console.log(`server Shamir: n=1000 complete, 30% dropped (1000 reconstructions, t=501): ${completeMs.toFixed(0)} ms; SecAgg+ n=10,000 k=62 t=44 (10,000 reconstructions): ${plusMs.toFixed(0)} ms`);
}
results.loadEnd = loadavg()[0];
results.sink = sink & 1;
mkdirSync(new URL('results', import.meta.url), { recursive: true });
writeFileSync(new URL('results/secagg-prg.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
