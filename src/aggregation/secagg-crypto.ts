/**
 * The key agreement and encryption of SecAgg's rounds (docs/secagg.md,
 * "Protocol"):
 *
 *   session id  = SHA-256("fedcrypt/secagg/session/v1" || 0x00 || plan digest
 *                 || u32 |U1| || for each client of U1, ascending: u32 index || c_pk || s_pk)
 *                 where plan digest = SHA-256 of the plan's bytes (params in
 *                 key order): it binds the invocation id (the round id), the
 *                 roster, the protocol parameters and every advertised key.
 *                 It seeds the Harary graph and labels every mask.
 *   share key   = HKDF-SHA256(ikm = X25519(c_sk_u, c_pk_v), salt = "fedcrypt/secagg/share/v1",
 *                 info = session id || u32 u || u32 v, 32 bytes): one key per
 *                 direction of a pair and per session, used for one message,
 *                 so the AES-256-GCM nonce is 0^96;
 *   associated data = "fedcrypt/secagg/share/v1" || session id || u32 u || u32 v || lp(invocation id);
 *   plaintext   = u32 u || u32 v || share of s_sk_u || share of b_u (44 bytes each).
 *
 * A ciphertext from another round, session, sender or receiver does not
 * open (tag check); the plaintext's indices are checked again after opening.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { hkdfSha256 } from '../crypto/mask-prg.js';
import { SHAMIR_SHARE_BYTES } from '../crypto/shamir.js';
import { planToBytes, type AggregationPlan } from './plan.js';
import { SHARES_CIPHERTEXT_BYTES, SHARES_PLAINTEXT_BYTES, type KeyEntry } from './secagg-wire.js';

export const SESSION_LABEL = 'fedcrypt/secagg/session/v1';
export const SHARE_LABEL = 'fedcrypt/secagg/share/v1';
const NONCE = Buffer.alloc(12);

function u32(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(x, 0);
  return b;
}

/** SHA-256 of the plan's bytes with its parameters in key order (every party computes the same). */
export function planDigest(plan: AggregationPlan): Buffer {
  const params = Object.fromEntries(Object.entries(plan.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(planToBytes({ ...plan, params })).digest();
}

/** The session id of a round from its plan digest and the advertised keys of U1 (any order; sorted here by index). */
export function sessionId(digest: Uint8Array, entries: readonly KeyEntry[]): Uint8Array {
  const h = createHash('sha256').update(SESSION_LABEL).update(Buffer.from([0])).update(digest).update(u32(entries.length));
  // the list written into one buffer and hashed at once (the same bytes as an update per field, 3n fewer calls)
  const list = Buffer.alloc(68 * entries.length);
  [...entries].sort((a, b) => a.index - b.index).forEach((e, j) => {
    list.writeUInt32BE(e.index, 68 * j);
    list.set(e.cpk, 68 * j + 4);
    list.set(e.spk, 68 * j + 36);
  });
  return new Uint8Array(h.update(list).digest());
}

function shareKey(shared: Uint8Array, session: Uint8Array, from: number, to: number): Buffer {
  return hkdfSha256(shared, SHARE_LABEL, Buffer.concat([session, u32(from), u32(to)]), 32);
}

function shareAd(session: Uint8Array, from: number, to: number, invocationId: string): Buffer {
  const inv = Buffer.from(invocationId, 'utf8');
  return Buffer.concat([Buffer.from(SHARE_LABEL), session, u32(from), u32(to), u32(inv.length), inv]);
}

/** Encrypt client `from`'s two shares for client `to` (`shared`: X25519(c_sk_from, c_pk_to)). */
export function sealShares(shared: Uint8Array, session: Uint8Array, invocationId: string, from: number, to: number, keyShare: Uint8Array, seedShare: Uint8Array): Uint8Array {
  const pt = Buffer.alloc(SHARES_PLAINTEXT_BYTES);
  pt.writeUInt32BE(from, 0);
  pt.writeUInt32BE(to, 4);
  pt.set(keyShare, 8);
  pt.set(seedShare, 8 + SHAMIR_SHARE_BYTES);
  const c = createCipheriv('aes-256-gcm', shareKey(shared, session, from, to), NONCE);
  c.setAAD(shareAd(session, from, to, invocationId));
  const out = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  pt.fill(0);
  return new Uint8Array(out);
}

/** Open the shares `from` sent to `to`; undefined when the ciphertext does not open or names other clients. */
export function openShares(shared: Uint8Array, session: Uint8Array, invocationId: string, from: number, to: number, ct: Uint8Array): { keyShare: Uint8Array; seedShare: Uint8Array } | undefined {
  if (ct.length !== SHARES_CIPHERTEXT_BYTES) return undefined;
  const d = createDecipheriv('aes-256-gcm', shareKey(shared, session, from, to), NONCE);
  d.setAAD(shareAd(session, from, to, invocationId));
  d.setAuthTag(ct.subarray(SHARES_PLAINTEXT_BYTES));
  let pt: Buffer;
  try {
    pt = Buffer.concat([d.update(ct.subarray(0, SHARES_PLAINTEXT_BYTES)), d.final()]);
  } catch {
    return undefined;
  }
  if (pt.readUInt32BE(0) !== from || pt.readUInt32BE(4) !== to) return undefined;
  return { keyShare: new Uint8Array(pt.subarray(8, 8 + SHAMIR_SHARE_BYTES)), seedShare: new Uint8Array(pt.subarray(8 + SHAMIR_SHARE_BYTES)) };
}
