/**
 * ABY3's first nonlinear ops on the boolean sharing of aby3-binary.ts: bit
 * injection (a boolean-shared bit times an arithmetic sharing), and from it
 * the sign, comparisons, select, ReLU and its derivative (called by ABY3's
 * public methods in aby3.ts; costs in docs/encrypted-ml.md).
 *
 * Bit injection of b = b0 ^ b1 ^ b2 (one bit per element, plane layout) into
 * w = w0 + w1 + w2 (arithmetic) gives an arithmetic sharing of b * w in two
 * rounds, with two three-party oblivious transfers in parallel (after ABY3,
 * section 5.4), k_i being the key of servers i and i+1:
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
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { type Aby3Net, type BitParts, type RingParts, msbShares, notShares, planeWords, u32 } from './aby3-binary.js';
import { Prg } from '../../crypto/prg.js';

const prf = (net: Aby3Net, k: number, nonce: string, n: number): RingTensor => Prg.derive(net.key(k), nonce).ringTensor(net.bits, [n]);

/** Per element: (bit(e) ^ flip) ? w : 0 (a fresh tensor; w may be undefined for the constant 1). */
function gate(bit: Uint32Array, flip: number, w: RingTensor | undefined, n: number, bits: 64 | 128): RingTensor {
  const out = new RingTensor(bits, [n]);
  const d = u32(out);
  const L = bits / 32;
  const s = w === undefined ? undefined : u32(w);
  for (let e = 0; e < n; e++) {
    if ((((bit[e >>> 5]! >>> (e & 31)) & 1) ^ flip) === 0) continue;
    if (s === undefined) d[e * L] = 1;
    else for (let q = 0; q < L; q++) d[e * L + q] = s[e * L + q]!;
  }
  return out;
}

/** Per element: bit(e) ? p1 : p0 (a fresh tensor). */
function pick(bit: Uint32Array, p0: RingTensor, p1: RingTensor, n: number, bits: 64 | 128): RingTensor {
  const out = new RingTensor(bits, [n]);
  const d = u32(out);
  const a = u32(p0);
  const b = u32(p1);
  const L = bits / 32;
  for (let e = 0; e < n; e++) {
    const src = ((bit[e >>> 5]! >>> (e & 31)) & 1) === 1 ? b : a;
    for (let q = 0; q < L; q++) d[e * L + q] = src[e * L + q]!;
  }
  return out;
}

const xor = (a: Uint32Array, b: Uint32Array): Uint32Array => {
  const out = new Uint32Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = a[k]! ^ b[k]!;
  return out;
};

/**
 * b * w as an arithmetic sharing (flat, n elements) from a boolean-shared bit
 * plane `b` and an arithmetic sharing `w` (flat; undefined for the public 1
 * in the ring's integer encoding). Two rounds (see the header).
 */
export async function bitInject(net: Aby3Net, b: BitParts, w: RingParts | undefined, n: number, key: string): Promise<RingParts> {
  const bits = net.bits;
  const sh = [n];
  const [l0, l1, l2] = [net.local(0), net.local(1), net.local(2)];
  // OT1: sender server0, receiver server1, helper server2 (choice b2); masks from k2
  let m0: RingTensor | undefined;
  let m1: RingTensor | undefined;
  let help1: RingTensor | undefined;
  if (l0 || l2) {
    const rho = prf(net, 2, `${key}/rho`, n);
    const pad0 = prf(net, 2, `${key}/pad0`, n);
    const pad1 = prf(net, 2, `${key}/pad1`, n);
    if (l0) {
      const c = xor(b[0]!, b[1]!);
      const w01 = w === undefined ? undefined : ring.add(w[0]!, w[1]!);
      m0 = ring.addInPlace(ring.subInPlace(gate(c, 0, w01, n, bits), rho), pad0);
      m1 = ring.addInPlace(ring.subInPlace(gate(c, 1, w01, n, bits), rho), pad1);
    }
    if (l2) help1 = pick(b[4]!, pad0, pad1, n, bits);
  }
  // OT2: sender server2, receiver server0, helper server1 (choice b1); masks from k1
  const ot2 = w !== undefined;
  let n0: RingTensor | undefined;
  let n1: RingTensor | undefined;
  let help2: RingTensor | undefined;
  if (ot2 && (l1 || l2)) {
    const sigma = prf(net, 1, `${key}/sigma`, n);
    const pad0 = prf(net, 1, `${key}/pad0`, n);
    const pad1 = prf(net, 1, `${key}/pad1`, n);
    if (l2) {
      const d = xor(b[4]!, b[5]!);
      n0 = ring.addInPlace(ring.subInPlace(gate(d, 0, w[4]!, n, bits), sigma), pad0);
      n1 = ring.addInPlace(ring.subInPlace(gate(d, 1, w[4]!, n, bits), sigma), pad1);
    }
    if (l1) help2 = pick(b[2]!, pad0, pad1, n, bits);
  }
  const [r0, r1, rh1, q0, q1, qh2] = await Promise.all([
    net.moveRing(0, 1, `${key}/ot1m0`, m0, sh),
    net.moveRing(0, 1, `${key}/ot1m1`, m1, sh),
    net.moveRing(2, 1, `${key}/ot1h`, help1, sh),
    ot2 ? net.moveRing(2, 0, `${key}/ot2m0`, n0, sh) : undefined,
    ot2 ? net.moveRing(2, 0, `${key}/ot2m1`, n1, sh) : undefined,
    ot2 ? net.moveRing(1, 0, `${key}/ot2h`, help2, sh) : undefined,
  ]);
  // receivers: v1 at server1 (choice b2, slot 3), v2 at server0 (choice b1, slot 1)
  const v1 = l1 ? ring.subInPlace(pick(b[3]!, r0!, r1!, n, bits), rh1!) : undefined;
  const v2 = l0 && ot2 ? ring.subInPlace(pick(b[1]!, q0!, q1!, n, bits), qh2!) : undefined;
  // round 2: re-replicate with tau, tau' from k0
  const tau = l0 || l1 ? prf(net, 0, `${key}/tau`, n) : undefined;
  const tau2 = ot2 && (l0 || l1) ? prf(net, 0, `${key}/tau2`, n) : undefined;
  let e0: RingTensor | undefined;
  let e2: RingTensor | undefined;
  if (ot2) {
    if (l0) e0 = ring.subInPlace(ring.addInPlace(prf(net, 2, `${key}/rho`, n), v2!), tau!);
    if (l1) e2 = ring.subInPlace(ring.addInPlace(prf(net, 1, `${key}/sigma`, n), v1!), tau2!);
  } else {
    if (l0 || l2) e0 = prf(net, 2, `${key}/rho`, n);
    if (l1) e2 = ring.sub(v1!, tau!);
  }
  const e1 = tau === undefined ? undefined : tau2 === undefined ? tau : ring.add(tau, tau2);
  const [g0, g2] = await Promise.all([
    ot2 ? net.moveRing(0, 2, `${key}/e0`, e0, sh) : Promise.resolve(e0),
    net.moveRing(1, 2, `${key}/e2`, e2, sh),
  ]);
  const parts: RingParts = new Array(6).fill(undefined);
  if (l0) [parts[0], parts[1]] = [e0, e1];
  if (l1) [parts[2], parts[3]] = [e1, e2];
  if (l2) [parts[4], parts[5]] = [g2, g0];
  return parts;
}

/** Bytes each server sends in `bitInject` for n elements of E bytes (w = undefined: the constant 1). */
export function bitInjectBytes(n: number, E: number, one: boolean): [number, number, number] {
  return one ? [2 * n * E, n * E, n * E] : [3 * n * E, 2 * n * E, 3 * n * E];
}

const flat = (x: RingParts, n: number): RingParts => x.map((p) => (p === undefined ? undefined : ring.reshape(p, [n])));
const shaped = (x: RingParts, shape: readonly number[]): RingParts => x.map((p) => (p === undefined ? undefined : ring.reshape(p, shape)));

/** msb(x) (1 for a negative two's-complement encoding) as a boolean-shared plane. */
export function signBit(net: Aby3Net, x: RingParts, n: number, key: string): Promise<BitParts> {
  return msbShares(net, flat(x, n), n, `${key}/msb`);
}

/** NOT of a one-plane sharing of n bits (the padding bits of the last word stay zero). */
export function notBit(b: BitParts, n: number): BitParts {
  const W = planeWords(n);
  const mask = new Uint32Array(W).fill(0xffffffff);
  if (n % 32 !== 0) mask[W - 1] = (2 ** (n % 32) - 1) >>> 0;
  return notShares(b, mask);
}

/**
 * The nonlinear ops on flat arithmetic parts (n elements), reshaped to `shape`:
 * 'neg' = [x < 0], 'step' = [x >= 0], 'relu' = x [x >= 0] (0/1 results as ring integers).
 */
export async function nonlinear(net: Aby3Net, op: 'neg' | 'step' | 'relu', x: RingParts, shape: readonly number[], key: string): Promise<RingParts> {
  const n = shape.reduce((a, b) => a * b, 1);
  const msb = await signBit(net, x, n, key);
  const b = op === 'neg' ? msb : notBit(msb, n);
  return shaped(await bitInject(net, b, op === 'relu' ? flat(x, n) : undefined, n, `${key}/inj`), shape);
}

/** y + b (x - y) for a boolean-shared bit plane b (parts flat, reshaped to `shape`). */
export async function selectParts(net: Aby3Net, b: BitParts, x: RingParts, y: RingParts, shape: readonly number[], key: string): Promise<RingParts> {
  const n = shape.reduce((a, c) => a * c, 1);
  const d = flat(x, n).map((p, s) => (p === undefined ? undefined : ring.sub(p, ring.reshape(y[s]!, [n]))));
  const bd = await bitInject(net, b, d, n, `${key}/inj`);
  return shaped(bd.map((p, s) => (p === undefined ? undefined : ring.add(p, ring.reshape(y[s]!, [n])))), shape);
}
