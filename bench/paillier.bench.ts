// Paillier benchmark: 2048-bit encryption/decryption against the textbook BigInt
// baseline and paillier-bigint (same run), and a packed secure sum of 100,000
// int32 values from 10 clients. Writes bench/results/paillier.json.
//   node --import tsx bench/paillier.bench.ts            (full)
//   PAILLIER_BENCH_QUICK=1 node --import tsx bench/paillier.bench.ts   (fewer values)
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import * as pb from 'paillier-bigint';
import {
  addVectors,
  decrypt,
  decryptTextbook,
  encrypt,
  encryptTextbook,
  encryptedVectorToBytes,
  generateKeyPair,
  montStatus,
  PaillierPacking,
  PaillierPublicKey,
  publicKeyFromBytes,
  publicKeyToBytes,
  PaillierWorkerPool,
  type EncryptedVector,
} from '../src/paillier/index.js';
import { modPow, randomPrime } from '../src/paillier/bigint.js';

const quick = process.env.PAILLIER_BENCH_QUICK === '1';
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
function timeEach<T>(items: T[], f: (x: T) => unknown): number[] {
  return items.map((x) => {
    const t = performance.now();
    f(x);
    return performance.now() - t;
  });
}
async function timeEachAsync<T>(items: T[], f: (x: T) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (const x of items) {
    const t = performance.now();
    await f(x);
    out.push(performance.now() - t);
  }
  return out;
}
const r2 = (x: number) => Math.round(x * 100) / 100;

const load0 = loadavg()[0]!;
console.log(`wasm kernel: ${JSON.stringify(montStatus())}; load average ${load0.toFixed(2)} on ${availableParallelism()} cores`);

let t = performance.now();
const { publicKey: pk, privateKey: sk } = generateKeyPair(2048);
const keygenMs = performance.now() - t;
t = performance.now();
encrypt(pk, 0n); // the first encryption builds the fixed-base noise table
const tableMs = performance.now() - t;
console.log(`keygen 2048: ${keygenMs.toFixed(0)} ms; noise table (first encryption): ${tableMs.toFixed(0)} ms; fixed base in wasm: ${pk.noiseTable.wasm}`);

// what a client pays to accept a key it did not generate: the checks on n and the derivation of the
// noise base (once per modulus; later parses of the same key hit the cache)
const foreignN = randomPrime(1024) * randomPrime(1024);
t = performance.now();
const foreign = new PaillierPublicKey(foreignN);
const keyAcceptMs = performance.now() - t;
t = performance.now();
publicKeyFromBytes(publicKeyToBytes(foreign));
const keyAcceptCachedMs = performance.now() - t;
console.log(`accepting a foreign 2048-bit key (check n, derive hs): ${keyAcceptMs.toFixed(1)} ms first, ${keyAcceptCachedMs.toFixed(2)} ms cached`);

const { n, n2 } = pk;
const ms = Array.from({ length: 31 }, (_, i) => (BigInt(i) * 0x9e3779b97f4a7c15n) % n);
const few = ms.slice(0, quick ? 3 : 7);

// warm-up
decrypt(sk, encrypt(pk, 1n));

const encOurs = timeEach(ms, (m) => encrypt(pk, m));
const encTextbook = timeEach(few, (m) => encryptTextbook(pk, m));
const theirPk = new pb.PublicKey(n, n + 1n);
const theirSk = new pb.PrivateKey(sk.lambda, sk.mu, theirPk, sk.p, sk.q);
const encTheirs = timeEach(few, (m) => theirPk.encrypt(m));

const cs = ms.map((m) => encrypt(pk, m));
const decOurs = timeEach(cs, (c) => decrypt(sk, c));
const decTextbook = timeEach(cs.slice(0, few.length), (c) => decryptTextbook(sk, c));
const decTheirs = timeEach(cs.slice(0, few.length), (c) => theirSk.decrypt(c));
// CRT with plain BigInt modPow (what the wasm kernel replaces)
const p2 = sk.p * sk.p;
const q2 = sk.q * sk.q;
const decCrtBigint = timeEach(cs.slice(0, few.length), (c) => {
  modPow(c % p2, sk.p - 1n, p2);
  modPow(c % q2, sk.q - 1n, q2);
});

const pool = new PaillierWorkerPool(2);
await pool.warm(pk);
const decSplit = await timeEachAsync(cs, (c) => pool.decrypt(sk, c));
// every result checked once
for (let i = 0; i < cs.length; i++) if (decrypt(sk, cs[i]!) !== ms[i]) throw new Error('decryption mismatch');

const single = {
  encryptMs: {
    ours_djn_fixedbase: r2(median(encOurs)),
    textbook_bigint_rn: r2(median(encTextbook)),
    paillier_bigint: r2(median(encTheirs)),
  },
  decryptMs: {
    ours_crt_wasm: r2(median(decOurs)),
    ours_crt_wasm_two_workers: r2(median(decSplit)),
    crt_bigint_modpow: r2(median(decCrtBigint)),
    textbook_bigint_lambda: r2(median(decTextbook)),
    paillier_bigint: r2(median(decTheirs)),
  },
};
const ratios = {
  encrypt_textbook_over_ours: r2(median(encTextbook) / median(encOurs)),
  encrypt_paillier_bigint_over_ours: r2(median(encTheirs) / median(encOurs)),
  decrypt_textbook_over_ours: r2(median(decTextbook) / median(decOurs)),
  decrypt_crt_bigint_over_ours_wasm: r2(median(decCrtBigint) / median(decOurs)),
  decrypt_paillier_bigint_over_ours: r2(median(decTheirs) / median(decOurs)),
  decrypt_ours_over_two_workers: r2(median(decOurs) / median(decSplit)),
};
console.log('single operations (ms, medians):', JSON.stringify(single));
console.log('ratios:', JSON.stringify(ratios));

// ---- secure sum: 100,000 int32 values from 10 clients ----------------------
const CLIENTS = 10;
const VALUES = quick ? 10_000 : 100_000;
const packing = new PaillierPacking({ keyBits: 2048, bitwidth: 32, maxClients: CLIENTS });
const inputs = Array.from({ length: CLIENTS }, (_, c) => Int32Array.from({ length: VALUES }, (_, i) => Math.imul(i + 1, 2654435761 ^ (c * 40503)) | 0));
const clientMs: number[] = [];
const vectors: EncryptedVector[] = [];
for (const v of inputs) {
  t = performance.now();
  vectors.push(await pool.encryptVector(pk, packing, v));
  clientMs.push(performance.now() - t);
}
t = performance.now();
const summed = addVectors(pk, packing, vectors);
const addMs = performance.now() - t;
t = performance.now();
const aggregate = await pool.rerandomizeVector(pk, summed);
const rerandMs = performance.now() - t;
t = performance.now();
const sums = await pool.decryptVector(sk, packing, aggregate);
const decryptMs = performance.now() - t;
for (let i = 0; i < VALUES; i++) {
  let s = 0n;
  for (const v of inputs) s += BigInt(v[i]!);
  if (sums[i] !== s) throw new Error(`secure sum mismatch at ${i}`);
}
await pool.close();
const ctBytes = encryptedVectorToBytes(pk, vectors[0]!).length;
const ptBytes = VALUES * 4;
const secureSum = {
  clients: CLIENTS,
  values: VALUES,
  slotsPerCiphertext: packing.slotsPerCiphertext,
  ciphertextsPerClient: vectors[0]!.ciphertexts.length,
  clientEncryptMsMedian: Math.round(median(clientMs)),
  clientEncryptMsTotal: Math.round(clientMs.reduce((a, b) => a + b, 0)),
  aggregatorAddMs: Math.round(addMs),
  aggregatorRerandomizeMs: Math.round(rerandMs),
  serverDecryptMs: Math.round(decryptMs),
  ciphertextBytesPerClient: ctBytes,
  plaintextBytesPerClient: ptBytes,
  expansion: r2(ctBytes / ptBytes),
  expansionOneCiphertextPerValue_computed: r2((VALUES * pk.ciphertextByteLength) / ptBytes),
  workers: 2,
};
console.log('secure sum:', JSON.stringify(secureSum));

const result = {
  bench: 'paillier',
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  loadAverageAtStart: r2(load0),
  loadAverageAtEnd: r2(loadavg()[0]!),
  wasm: montStatus().wasm,
  fixedBaseWasm: pk.noiseTable.wasm,
  keyBits: 2048,
  noiseBits: pk.noiseBits,
  keygenMs: Math.round(keygenMs),
  noiseTableMs: Math.round(tableMs),
  keyAcceptMs: r2(keyAcceptMs),
  keyAcceptCachedMs: r2(keyAcceptCachedMs),
  samples: { ours: ms.length, baselines: few.length },
  single,
  ratios,
  targets: { encryptMs: 10, decryptMs: 5, expansion: 3 },
  secureSum,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/paillier.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
console.log('wrote bench/results/paillier.json');
