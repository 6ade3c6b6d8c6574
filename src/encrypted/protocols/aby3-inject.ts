/**
 * Bit injection: a boolean-shared bit b = b0 ^ b1 ^ b2 (one plane) times an
 * arithmetic sharing w = w0 + w1 + w2 gives an arithmetic sharing of b * w
 * in two rounds, with two three-party oblivious transfers in parallel (after
 * ABY3, section 5.4), k_i being the key of servers i and i+1:
 *
 *   OT1: server0 knows c = b0 ^ b1 and w0 + w1; servers 1 and 2 know b2, and
 *     b = c ^ b2. Server0 sends server1 m_t = (c ^ t)(w0 + w1) - rho + pad_t
 *     for t = 0, 1, with rho, pad_0, pad_1 = F(k2, .) (known to servers 2, 0);
 *     server2 sends server1 pad_(b2). Server1 gets v1 = b (w0 + w1) - rho.
 *   OT2: server2 knows d = b2 ^ b0 and w2; servers 0 and 1 know b1, and
 *     b = d ^ b1. Server2 sends server0 m'_t = (d ^ t) w2 - sigma + pad'_t,
 *     sigma, pad'_t = F(k1, .) (servers 1, 2); server1 sends server0 pad'_(b1).
 *     Server0 gets v2 = b w2 - sigma.
 *   Round 2: with tau, tau' = F(k0, .) (servers 0, 1) the result is the
 *     replicated sharing (e0, e1, e2) = (rho + v2 - tau, tau + tau', sigma + v1 - tau'):
 *     server0 sends e0 and server1 sends e2 to server2. e0 + e1 + e2 = b w.
 *
 * What each server receives is masked by a PRF output it does not know:
 * server1 gets v1 (masked by rho, from k2) and the other message (pad_(1-b2));
 * server0 likewise v2 (sigma, k1) and pad'_(1-b1); server2 gets e0 and e2
 * (tau and tau', from k0). Messages: round 1 server0 2n, server2 3n,
 * server1 n; round 2 server0 n, server1 n ring elements (8n in all).
 *
 * For w = 1 (B2A of the bit) OT2 is not needed (w2 = 0): e = (rho, tau, v1 - tau)
 * with server1 sending v1 - tau to server2: 4n elements in two rounds.
 *
 * The vectors live in a bit workspace (bit-memory.ts) for the op; each step
 * is one kernel (bit-kernels.ts / bitplanes.wasm: otSend, otHelp, otRecv).
 */
import { RingTensor } from '../../ring/index.js';
import { type Aby3Net, type BitParts, type RingParts, planeWords } from './aby3-binary.js';
import { type PrfRequest } from '../../crypto/prf-worker.js';
import { Streams } from './aby3-and.js';
import { BitSpace } from './bit-memory.js';

/** Bytes each server sends in `bitInject` for n elements of E bytes (w = undefined: the constant 1). */
export function bitInjectBytes(n: number, E: number, one: boolean): [number, number, number] {
  return one ? [2 * n * E, n * E, n * E] : [3 * n * E, 2 * n * E, 3 * n * E];
}

/**
 * b * w as an arithmetic sharing (flat, n elements) from a boolean-shared bit
 * plane `b` and an arithmetic sharing `w` (flat; undefined for the public 1
 * in the ring's integer encoding). Two rounds (see the header).
 */
export async function bitInject(net: Aby3Net, b: BitParts, w: RingParts | undefined, n: number, key: string): Promise<RingParts> {
  const sp = new BitSpace();
  const streams = new Streams();
  try {
    return await inject(net, sp, streams, b, w, n, key);
  } finally {
    streams.releaseAll();
    sp.release();
  }
}

async function inject(net: Aby3Net, sp: BitSpace, streams: Streams, b: BitParts, w: RingParts | undefined, n: number, key: string): Promise<RingParts> {
  const bits = net.bits;
  const L = bits / 64;
  const bytes = 8 * L * n;
  const k = sp.k;
  const [l0, l1, l2] = [net.local(0), net.local(1), net.local(2)];
  const ot2 = w !== undefined;
  // the PRF streams, requested at once (computed by the PRF worker), each where its key's servers execute
  const want = (j: number, nonce: string, cond: boolean): PrfRequest | undefined => (cond && (net.local(j) || net.local(j + 1)) ? streams.get(net.key(j), `${key}/${nonce}`, bytes) : undefined);
  const prfs = new Map<string, PrfRequest | undefined>([
    ['rho', want(2, 'rho', true)], ['pad0', want(2, 'pad0', true)], ['pad1', want(2, 'pad1', true)],
    ['sigma', want(1, 'sigma', ot2)], ['pad0\'', want(1, 'pad0', ot2)], ['pad1\'', want(1, 'pad1', ot2)],
    ['tau', want(0, 'tau', true)], ['tau2', want(0, 'tau2', ot2)],
  ]);
  const prf = async (name: string): Promise<number> => {
    const s = await prfs.get(name)!.get();
    const p = sp.put(s.bytes);
    s.release();
    return p;
  };
  const W = planeWords(n);
  const plane = (s: number): number => {
    const p = b[s];
    if (p === undefined || p.length !== W) throw new Error(`${net.id}: internal error: bit-injection slot ${s} missing or not ${W} words`);
    return sp.put(p);
  };
  const ring = (t: RingTensor | undefined): number => (t === undefined ? 0 : sp.put(t.data));
  // OT1: sender server0, receiver server1, helper server2 (choice b2); masks from k2
  let rho = 0;
  let [m0, m1, help1] = [0, 0, 0];
  if (l0 || l2) {
    rho = await prf('rho');
    const [pad0, pad1] = [await prf('pad0'), await prf('pad1')];
    if (l0) {
      [m0, m1] = [sp.alloc(bytes), sp.alloc(bytes)];
      k.otSend(m0, m1, plane(0), plane(1), ot2 ? ring(w[0]) : 0, ot2 ? ring(w[1]) : 0, rho, pad0, pad1, n, L);
    }
    if (l2) k.otHelp((help1 = sp.alloc(bytes)), plane(4), pad0, pad1, n, L);
  }
  // OT2: sender server2, receiver server0, helper server1 (choice b1); masks from k1
  let sigma = 0;
  let [n0, n1, help2] = [0, 0, 0];
  if (ot2 && (l1 || l2)) {
    sigma = await prf('sigma');
    const [pad0, pad1] = [await prf('pad0\''), await prf('pad1\'')];
    if (l2) {
      [n0, n1] = [sp.alloc(bytes), sp.alloc(bytes)];
      k.otSend(n0, n1, plane(4), plane(5), ring(w[4]), 0, sigma, pad0, pad1, n, L);
    }
    if (l1) k.otHelp((help2 = sp.alloc(bytes)), plane(2), pad0, pad1, n, L);
  }
  // the tensors sent, by block: a message that is also a result part is that part (no second copy)
  const taken = new Map<number, RingTensor>();
  const mv = (from: number, to: number, name: string, p: number): Promise<number> => moveRingBlock(net, sp, from, to, `${key}/${name}`, p, n, taken);
  const [r0, r1, rh1, q0, q1, qh2] = await Promise.all([
    mv(0, 1, 'ot1m0', m0),
    mv(0, 1, 'ot1m1', m1),
    mv(2, 1, 'ot1h', help1),
    ot2 ? mv(2, 0, 'ot2m0', n0) : 0,
    ot2 ? mv(2, 0, 'ot2m1', n1) : 0,
    ot2 ? mv(1, 0, 'ot2h', help2) : 0,
  ]);
  // round 2: the receivers' results re-randomised with tau, tau' from k0
  const tau = l0 || l1 ? await prf('tau') : 0;
  const tau2 = ot2 && (l0 || l1) ? await prf('tau2') : 0;
  let e0 = 0;
  let e2 = 0;
  // e2 = sigma + v1 - tau' (v1 - tau for w = 1), v1 = pick(b2: slot 3) - pad
  if (l1) k.otRecv((e2 = sp.alloc(bytes)), plane(3), r0, r1, rh1, sigma, ot2 ? tau2 : tau, n, L);
  if (ot2) {
    // e0 = rho + v2 - tau, v2 = pick(b1: slot 1) - pad'
    if (l0) k.otRecv((e0 = sp.alloc(bytes)), plane(1), q0, q1, qh2, rho, tau, n, L);
  } else e0 = rho;
  let e1 = tau;
  if (tau2 !== 0) k.addRing((e1 = sp.alloc(bytes)), tau, tau2, n, L);
  const [g0, g2] = await Promise.all([ot2 ? mv(0, 2, 'e0', e0) : e0, mv(1, 2, 'e2', e2)]);
  // out of the workspace: one tensor per distinct block
  const out = (p: number): RingTensor => {
    let t = taken.get(p);
    if (t === undefined) taken.set(p, (t = new RingTensor(bits, [n], new BigUint64Array(sp.take(p, bytes).buffer))));
    return t;
  };
  const parts: RingParts = new Array(6).fill(undefined);
  if (l0) [parts[0], parts[1]] = [out(e0), out(e1)];
  if (l1) [parts[2], parts[3]] = [out(e1), out(e2)];
  if (l2) [parts[4], parts[5]] = [out(g2), out(g0)];
  return parts;
}

/**
 * Move the ring vector of n elements at `ptr` (where `from` executes) to
 * `to` as a ring message (recorded in `sent` by its block); resolves with its
 * block at `to` (0 elsewhere): the sender's block itself when the transport
 * delivered the very words sent.
 */
async function moveRingBlock(net: Aby3Net, sp: BitSpace, from: number, to: number, key: string, ptr: number, n: number, sentBy: Map<number, RingTensor>): Promise<number> {
  const bytes = (net.bits / 8) * n;
  let sent: RingTensor | undefined;
  if (net.local(from)) {
    sent = sentBy.get(ptr) ?? new RingTensor(net.bits, [n], new BigUint64Array(sp.take(ptr, bytes).buffer));
    sentBy.set(ptr, sent);
  }
  const got = await net.moveRing(from, to, key, sent, [n]);
  if (!net.local(to)) return 0;
  if (sent !== undefined && (got === sent || (got!.data.buffer === sent.data.buffer && got!.data.byteOffset === sent.data.byteOffset))) return ptr;
  return sp.put(got!.data);
}
