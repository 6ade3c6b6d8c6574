/**
 * Worker thread body for PaillierWorkerPool (pool.ts). Keys arrive once per
 * worker in JSON form and are cached by modulus; bigints travel as hex strings.
 * The private key is handed over only inside this process (worker threads
 * share the process; nothing leaves it).
 */
import { parentPort } from 'node:worker_threads';
import { importPrivateKey, publicKeyFromJSON, type PaillierPrivateKey, type PaillierPublicKey, type PrivateKeyJSON, type PublicKeyJSON } from './keys.js';
import { encrypt, decrypt, rerandomize } from './paillier.js';

export type WorkerRequest =
  | { id: number; op: 'encrypt'; pk: PublicKeyJSON; ms: string[] }
  | { id: number; op: 'decrypt'; sk: PrivateKeyJSON; cs: string[] }
  | { id: number; op: 'decryptHalf'; sk: PrivateKeyJSON; half: 'p' | 'q'; cs: string[] }
  | { id: number; op: 'rerandomize'; pk: PublicKeyJSON; cs: string[] }
  | { id: number; op: 'warm'; pk: PublicKeyJSON };

export type WorkerReply = { id: number; ok: true; result: string[] } | { id: number; ok: false; name: string; message: string };

const pubs = new Map<string, PaillierPublicKey>();
const privs = new Map<string, PaillierPrivateKey>();

function pub(j: PublicKeyJSON): PaillierPublicKey {
  let k = pubs.get(j.n + '/' + j.hs);
  if (!k) {
    k = publicKeyFromJSON(j);
    pubs.set(j.n + '/' + j.hs, k);
  }
  return k;
}

function priv(j: PrivateKeyJSON): PaillierPrivateKey {
  let k = privs.get(j.publicKey.n);
  if (!k) {
    k = importPrivateKey(j);
    privs.set(j.publicKey.n, k);
  }
  return k;
}

const hex = (x: bigint) => x.toString(16);
const big = (s: string) => BigInt('0x' + s);

parentPort!.on('message', (req: WorkerRequest) => {
  try {
    let result: string[];
    switch (req.op) {
      case 'encrypt': {
        const pk = pub(req.pk);
        result = req.ms.map((m) => hex(encrypt(pk, big(m))));
        break;
      }
      case 'decrypt': {
        const sk = priv(req.sk);
        result = req.cs.map((c) => hex(decrypt(sk, big(c))));
        break;
      }
      case 'decryptHalf': {
        const sk = priv(req.sk);
        result = req.cs.map((c) => hex(req.half === 'p' ? sk.decryptModP(big(c)) : sk.decryptModQ(big(c))));
        break;
      }
      case 'rerandomize': {
        const pk = pub(req.pk);
        result = req.cs.map((c) => hex(rerandomize(pk, big(c))));
        break;
      }
      case 'warm': {
        pub(req.pk).noiseTable.prepare();
        result = [];
        break;
      }
    }
    parentPort!.postMessage({ id: req.id, ok: true, result } satisfies WorkerReply);
  } catch (e) {
    const err = e as Error;
    parentPort!.postMessage({ id: req.id, ok: false, name: err.name, message: err.message } satisfies WorkerReply);
  }
});
