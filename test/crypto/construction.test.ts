/**
 * The secure channel against its documented construction
 * (docs/secure-channel.md), re-implemented here from node:crypto alone: the
 * test plays one side of the handshake by hand (its own ephemeral key) and
 * checks every byte the other side sends (transcript hash, key confirmation,
 * data frames, sealed boxes) against the construction, and that the other
 * side accepts what the construction produces. Labels, transcript order,
 * nonce and header layout cannot drift without these failing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import {
  HandshakeInitiator,
  HandshakeResponder,
  SealedBoxReceiver,
  SealedBoxSender,
  generateIdentity,
  type CipherSuite,
  type LocalParty,
} from '../../src/crypto/secure-channel.js';

const party = (name: string): LocalParty => ({ name, identity: generateIdentity() });
const SUITE_ID: Record<CipherSuite, number> = { 'aes-256-gcm': 1, 'chacha20-poly1305': 2 };
const te = new TextEncoder();

const sha256 = (...parts: Uint8Array[]) => createHash('sha256').update(lp(...parts)).digest();
const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string, n: number) => Buffer.from(hkdfSync('sha256', ikm, salt, info, n));
const name = (s: string) => Buffer.concat([Buffer.of(Buffer.byteLength(s)), Buffer.from(s)]);
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const nonce = (seq: number) => Buffer.concat([Buffer.alloc(4), u64(seq)]);
/** Length-prefixed (u32 BE) concatenation. */
const lp = (...parts: Uint8Array[]) => Buffer.concat(parts.flatMap((p) => [u32(p.length), Buffer.from(p)]));

function seal(suite: CipherSuite, key: Uint8Array, iv: Uint8Array, aad: Uint8Array, pt: Uint8Array): Buffer {
  const c = createCipheriv(suite as 'aes-256-gcm', key, iv, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}
function open(suite: CipherSuite, key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ctTag: Uint8Array): Buffer {
  const d = createDecipheriv(suite as 'aes-256-gcm', key, iv, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: ctTag.length - 16 });
  d.setAuthTag(ctTag.subarray(ctTag.length - 16));
  return Buffer.concat([d.update(ctTag.subarray(0, ctTag.length - 16)), d.final()]);
}

/** h and the four outputs of HKDF(ikm, salt = h, info = label + " keys"). */
function derive(suite: CipherSuite, context: string, iName: string, sI: Uint8Array, rName: string, sR: Uint8Array, eI: Uint8Array, eR: Uint8Array, ikm: Uint8Array) {
  const h = sha256(te.encode('fedcrypt/secure-channel/v1'), Uint8Array.of(SUITE_ID[suite]), te.encode(context), te.encode(iName), sI, te.encode(rName), sR, eI, eR);
  const okm = hkdf(ikm, h, 'fedcrypt/secure-channel/v1 keys', 128);
  return { h, i2r: okm.subarray(0, 32), r2i: okm.subarray(32, 64), confirmR: okm.subarray(64, 96), confirmI: okm.subarray(96, 128) };
}

/** A data frame: 01 | 10 | seq | adLen | ad | AEAD(key, 0^32 | seq, header, pt). */
function frame(suite: CipherSuite, key: Uint8Array, seq: number, ad: Uint8Array, pt: Uint8Array): Buffer {
  const header = Buffer.concat([Buffer.of(1, 0x10), u64(seq), u32(ad.length), ad]);
  return Buffer.concat([header, seal(suite, key, nonce(seq), header, pt)]);
}

for (const suite of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
  test(`construction ${suite}: the responder's reply, its session id and its frames are the documented construction; it accepts a hand-made initiator`, () => {
    const alice = party('alice');
    const bob = party('bob');
    const context = 'run-42';
    const r = new HandshakeResponder({ self: bob, peers: new Map([['alice', alice.identity.publicKey]]), context, suite });
    const e = generateIdentity(); // the test's own ephemeral key
    const msg1 = Buffer.concat([Buffer.of(1, 1, SUITE_ID[suite]), name('alice'), name('bob'), e.publicKey]);
    const msg2 = r.respond(msg1);
    assert.equal(msg2.length, 2 + 32 + 32);
    assert.deepEqual([...msg2.subarray(0, 2)], [1, 2]);
    const eR = msg2.subarray(2, 34);
    assert.equal(r.peerName, 'alice');
    const ikm = Buffer.concat([e.privateKey.agree(eR), e.privateKey.agree(bob.identity.publicKey), alice.identity.privateKey.agree(eR), alice.identity.privateKey.agree(bob.identity.publicKey)]);
    const d = derive(suite, context, 'alice', alice.identity.publicKey, 'bob', bob.identity.publicKey, e.publicKey, eR, ikm);
    assert.deepEqual(Buffer.from(msg2.subarray(34)), d.confirmR, 'confirm_R');
    const session = r.finish(Buffer.concat([Buffer.of(1, 3), d.confirmI]));
    assert.deepEqual(Buffer.from(session.sessionId), d.h, 'session id = transcript hash');
    assert.equal(session.peerName, 'alice');
    assert.equal(session.localName, 'bob');
    assert.equal(session.suite, suite);
    // initiator -> responder frames under k_I->R; responder -> initiator under k_R->I, seq from 0
    const ad = te.encode('round-3');
    assert.deepEqual(session.open(frame(suite, d.i2r, 0, ad, te.encode('hello bob')), ad), te.encode('hello bob'));
    assert.deepEqual(session.open(frame(suite, d.i2r, 7, new Uint8Array(0), new Uint8Array(0))), new Uint8Array(0));
    for (let seq = 0; seq < 3; seq++) {
      assert.equal(session.nextSeq, seq);
      const out = session.seal(te.encode(`reply ${seq}`), ad);
      assert.deepEqual(Buffer.from(out), frame(suite, d.r2i, seq, ad, te.encode(`reply ${seq}`)), `frame ${seq} byte for byte`);
    }
    assert.equal(session.nextSeq, 3);
  });

  test(`construction ${suite}: the initiator's hello, confirmation and frames are the documented construction; it accepts a hand-made responder`, () => {
    const alice = party('alice');
    const bob = party('bob');
    const context = 'run-43';
    const i = new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context, suite });
    const msg1 = i.start();
    const head = Buffer.concat([Buffer.of(1, 1, SUITE_ID[suite]), name('alice'), name('bob')]);
    assert.deepEqual(Buffer.from(msg1.subarray(0, head.length)), head);
    assert.equal(msg1.length, head.length + 32);
    const eI = msg1.subarray(head.length);
    const e = generateIdentity();
    const ikm = Buffer.concat([e.privateKey.agree(eI), bob.identity.privateKey.agree(eI), e.privateKey.agree(alice.identity.publicKey), bob.identity.privateKey.agree(alice.identity.publicKey)]);
    const d = derive(suite, context, 'alice', alice.identity.publicKey, 'bob', bob.identity.publicKey, eI, e.publicKey, ikm);
    const { message, session } = i.finish(Buffer.concat([Buffer.of(1, 2), e.publicKey, d.confirmR]));
    assert.deepEqual(Buffer.from(message), Buffer.concat([Buffer.of(1, 3), d.confirmI]), 'msg3 = 01 | 03 | confirm_I');
    assert.deepEqual(Buffer.from(session.sessionId), d.h);
    const pt = te.encode('gradient');
    const f = session.seal(pt, 'r1');
    assert.deepEqual(Buffer.from(f), frame(suite, d.i2r, 0, te.encode('r1'), pt));
    assert.deepEqual(session.open(frame(suite, d.r2i, 0, te.encode('r1'), pt), 'r1'), pt);
    // the window the initiator was given applies to its own session too
    const j = new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context, suite, window: 2 });
    const m1 = j.start();
    const eJ = m1.subarray(head.length);
    const e2 = generateIdentity();
    const d2 = derive(suite, context, 'alice', alice.identity.publicKey, 'bob', bob.identity.publicKey, eJ, e2.publicKey, Buffer.concat([e2.privateKey.agree(eJ), bob.identity.privateKey.agree(eJ), e2.privateKey.agree(alice.identity.publicKey), bob.identity.privateKey.agree(alice.identity.publicKey)]));
    const s2 = j.finish(Buffer.concat([Buffer.of(1, 2), e2.publicKey, d2.confirmR])).session;
    s2.open(frame(suite, d2.r2i, 5, new Uint8Array(0), pt));
    assert.throws(() => s2.open(frame(suite, d2.r2i, 3, new Uint8Array(0), pt)), /outside the replay window \(highest seen 5, window 2\)/);
  });

  test(`construction ${suite}: sealed boxes are the documented construction both ways`, () => {
    const c0 = party('c0');
    const agg = party('aggregator');
    const context = 'round-9';
    const tx = new SealedBoxSender({ self: c0, recipients: new Map([['aggregator', agg.identity.publicKey]]), context, suite });
    const rx = new SealedBoxReceiver({ self: agg, senders: new Map([['c0', c0.identity.publicKey]]), context, suite });
    const boxKey = (e: Uint8Array, ikm: Uint8Array) => {
      const salt = sha256(te.encode('fedcrypt/sealed-box/v1'), Uint8Array.of(SUITE_ID[suite]), te.encode(context), te.encode('c0'), c0.identity.publicKey, te.encode('aggregator'), agg.identity.publicKey, e);
      return hkdf(ikm, salt, 'fedcrypt/sealed-box/v1 key', 32);
    };
    // the sender's box, opened by hand with the recipient's key
    const pt = te.encode('update of c0');
    for (let seq = 0; seq < 2; seq++) {
      const box = Buffer.from(tx.seal('aggregator', pt, 'ad-1'));
      const pre = Buffer.concat([Buffer.of(1, 0x20, SUITE_ID[suite]), name('c0'), name('aggregator')]);
      assert.deepEqual(box.subarray(0, pre.length), pre);
      const e = box.subarray(pre.length, pre.length + 32);
      const header = Buffer.concat([pre, e, u64(seq), u32(4), te.encode('ad-1')]);
      assert.deepEqual(box.subarray(0, header.length), header);
      const key = boxKey(e, Buffer.concat([agg.identity.privateKey.agree(e), agg.identity.privateKey.agree(c0.identity.publicKey)]));
      assert.deepEqual(open(suite, key, Buffer.alloc(12), header, box.subarray(header.length)), Buffer.from(pt));
    }
    // a box made by hand is opened by the receiver
    const e = generateIdentity();
    const header = Buffer.concat([Buffer.of(1, 0x20, SUITE_ID[suite]), name('c0'), name('aggregator'), e.publicKey, u64(4), u32(2), te.encode('r9')]);
    const key = boxKey(e.publicKey, Buffer.concat([e.privateKey.agree(agg.identity.publicKey), c0.identity.privateKey.agree(agg.identity.publicKey)]));
    const box = Buffer.concat([header, seal(suite, key, Buffer.alloc(12), header, pt)]);
    const got = rx.open(box, 'r9');
    assert.deepEqual([got.sender, got.seq, Buffer.from(got.plaintext), Buffer.from(got.ad)], ['c0', 4, Buffer.from(pt), Buffer.from('r9')]);
  });
}
