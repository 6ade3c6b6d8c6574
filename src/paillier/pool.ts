/**
 * A small pool of worker threads (node:worker_threads) for batches: encryption
 * split across workers, decryption split across workers, and a single
 * decryption whose two CRT halves (mod p^2 and mod q^2) run on two workers at
 * once. Each worker builds its own fixed-base noise table per public key on
 * first use (~0.3 s for 2048-bit keys); call warm() ahead of time to hide it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { exportPrivateKey, PaillierPrivateKey, PaillierPublicKey } from './keys.js';
import { InvalidCiphertextError, EncodingLengthError, ValueOutOfRangeError, describe } from './errors.js';
import { checkCiphertextRange } from './paillier.js';
import { PaillierPacking, type IntegerVector } from './packing.js';
import { checkEncryptedVector, type EncryptedVector } from './vector.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

type Pending = { resolve: (r: string[]) => void; reject: (e: Error) => void };
type Req = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const ERRORS: Record<string, new (m: string) => Error> = {
  InvalidCiphertextError,
  EncodingLengthError,
  ValueOutOfRangeError,
  RangeError,
  TypeError,
};

function spawn(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url));
  // Running from sources under tsx: register tsx in the worker before loading worker.ts.
  const url = new URL('./worker.ts', import.meta.url).href;
  // resolved from this module, not from the worker's eval scope (which resolves from the working directory)
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(boot, { eval: true });
}

export class PaillierWorkerPool {
  readonly threads: number;
  #workers: Worker[] = [];
  #busy: number[] = [];
  #pending = new Map<number, Pending & { w: number }>();
  #next = 1;
  #closed = false;

  constructor(threads = Math.max(1, Math.min(2, availableParallelism()))) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RangeError(`PaillierWorkerPool: "threads" expected integer in [1, 64], got ${describe(threads)}`);
    this.threads = threads;
    for (let i = 0; i < threads; i++) {
      const w = spawn();
      w.unref();
      w.on('message', (r: WorkerReply) => this.#onReply(i, r));
      w.on('error', (e) => this.#failAll(i, e));
      this.#workers.push(w);
      this.#busy.push(0);
    }
  }

  #onReply(i: number, r: WorkerReply): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    if (--this.#busy[i]! === 0) this.#workers[i]!.unref();
    if (r.ok) p.resolve(r.result);
    else {
      const E = ERRORS[r.name] ?? Error;
      const e = new E(r.message);
      p.reject(e);
    }
  }

  #failAll(i: number, e: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.w === i) {
        this.#pending.delete(id);
        p.reject(e);
      }
    }
  }

  #call(i: number, req: Req): Promise<string[]> {
    if (this.#closed) return Promise.reject(new Error('PaillierWorkerPool: closed'));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, w: i });
      if (this.#busy[i]!++ === 0) this.#workers[i]!.ref();
      this.#workers[i]!.postMessage({ ...req, id });
    });
  }

  /** Split `xs` into one contiguous chunk per worker. */
  #split<T>(xs: readonly T[]): T[][] {
    const k = Math.min(this.threads, Math.max(1, xs.length));
    const size = Math.ceil(xs.length / k);
    return Array.from({ length: k }, (_, i) => xs.slice(i * size, (i + 1) * size));
  }

  /** Build the noise table for `publicKey` in every worker. */
  async warm(publicKey: PaillierPublicKey): Promise<void> {
    await Promise.all(this.#workers.map((_, i) => this.#call(i, { op: 'warm', pk: publicKey.toJSON() })));
  }

  async encryptMany(publicKey: PaillierPublicKey, ms: readonly bigint[]): Promise<bigint[]> {
    if (!(publicKey instanceof PaillierPublicKey)) throw new TypeError(`encryptMany: "publicKey" expected PaillierPublicKey, got ${describe(publicKey)}`);
    ms.forEach((m, i) => {
      if (typeof m !== 'bigint') throw new TypeError(`encryptMany: "ms[${i}]" expected bigint, got ${describe(m)}`);
      if (m < 0n || m >= publicKey.n) throw new ValueOutOfRangeError(`encryptMany: "ms[${i}]" expected bigint in [0, n)`);
    });
    const pk = publicKey.toJSON();
    const parts = await Promise.all(this.#split(ms).map((chunk, i) => this.#call(i, { op: 'encrypt', pk, ms: chunk.map((m) => m.toString(16)) })));
    return parts.flat().map((h) => BigInt('0x' + h));
  }

  async rerandomizeMany(publicKey: PaillierPublicKey, cs: readonly bigint[]): Promise<bigint[]> {
    if (!(publicKey instanceof PaillierPublicKey)) throw new TypeError(`rerandomizeMany: "publicKey" expected PaillierPublicKey, got ${describe(publicKey)}`);
    cs.forEach((c, i) => checkCiphertextRange('rerandomizeMany', publicKey, c, `cs[${i}]`));
    const pk = publicKey.toJSON();
    const parts = await Promise.all(this.#split(cs).map((chunk, i) => this.#call(i, { op: 'rerandomize', pk, cs: chunk.map((c) => c.toString(16)) })));
    return parts.flat().map((h) => BigInt('0x' + h));
  }

  /** Encode, pack and encrypt one vector on the workers (contributions = 1). */
  async encryptVector(publicKey: PaillierPublicKey, packing: PaillierPacking, values: IntegerVector): Promise<EncryptedVector> {
    if (!(packing instanceof PaillierPacking)) throw new TypeError(`encryptVector: "packing" expected PaillierPacking, got ${describe(packing)}`);
    const ms = packing.encode(values);
    return { length: values.length, contributions: 1, ciphertexts: await this.encryptMany(publicKey, ms) };
  }

  /** Decrypt on the workers, then unpack. */
  async decryptVector(privateKey: PaillierPrivateKey, packing: PaillierPacking, v: EncryptedVector): Promise<bigint[]> {
    checkEncryptedVector('decryptVector', privateKey.publicKey, packing, v);
    return packing.decode(await this.decryptMany(privateKey, v.ciphertexts), v.length, v.contributions);
  }

  /** Re-randomize every ciphertext of a vector on the workers. */
  async rerandomizeVector(publicKey: PaillierPublicKey, v: EncryptedVector): Promise<EncryptedVector> {
    return { length: v.length, contributions: v.contributions, ciphertexts: await this.rerandomizeMany(publicKey, v.ciphertexts) };
  }

  async decryptMany(privateKey: PaillierPrivateKey, cs: readonly bigint[]): Promise<bigint[]> {
    if (!(privateKey instanceof PaillierPrivateKey)) throw new TypeError(`decryptMany: "privateKey" expected PaillierPrivateKey, got ${describe(privateKey)}`);
    cs.forEach((c, i) => checkCiphertextRange('decryptMany', privateKey.publicKey, c, `cs[${i}]`));
    const sk = exportPrivateKey(privateKey);
    if (cs.length === 1) return [await this.decrypt(privateKey, cs[0]!)];
    const parts = await Promise.all(this.#split(cs).map((chunk, i) => this.#call(i, { op: 'decrypt', sk, cs: chunk.map((c) => c.toString(16)) })));
    return parts.flat().map((h) => BigInt('0x' + h));
  }

  /** One decryption with its two CRT halves on two workers. */
  async decrypt(privateKey: PaillierPrivateKey, c: bigint): Promise<bigint> {
    if (!(privateKey instanceof PaillierPrivateKey)) throw new TypeError(`decrypt: "privateKey" expected PaillierPrivateKey, got ${describe(privateKey)}`);
    checkCiphertextRange('decrypt', privateKey.publicKey, c);
    if (c % privateKey.p === 0n || c % privateKey.q === 0n) throw new InvalidCiphertextError('decrypt: "c" is not a unit modulo n^2 (gcd(c, n) != 1)');
    const sk = exportPrivateKey(privateKey);
    const h = c.toString(16);
    const [mp, mq] = await Promise.all([
      this.#call(0, { op: 'decryptHalf', sk, half: 'p', cs: [h] }),
      this.#call(this.threads > 1 ? 1 : 0, { op: 'decryptHalf', sk, half: 'q', cs: [h] }),
    ]);
    return privateKey.combine(BigInt('0x' + mp[0]!), BigInt('0x' + mq[0]!));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
    for (const p of this.#pending.values()) p.reject(new Error('PaillierWorkerPool: closed'));
    this.#pending.clear();
  }
}

let shared: PaillierWorkerPool | undefined;

/** A process-wide pool (workers are unref'd while idle, so it never keeps the process alive). */
export function sharedPaillierPool(): PaillierWorkerPool {
  if (!shared) shared = new PaillierWorkerPool();
  return shared;
}
