import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import {
  ChannelAuthError,
  HandshakeError,
  HandshakeInitiator,
  HandshakeResponder,
  ReplayError,
  ReplayWindow,
  SealedBoxReceiver,
  SealedBoxSender,
  UnknownPeerError,
  WrongContextError,
  connectPair,
  decodeKey,
  encodePublicKey,
  exportPrivateKey,
  generateIdentity,
  identityFromPrivateKey,
  type CipherSuite,
  type LocalParty,
} from '../../src/crypto/secure-channel.js';

const party = (name: string): LocalParty => ({ name, identity: generateIdentity() });
const alice = party('alice');
const bob = party('bob');
const mallory = party('mallory');
const SUITES: CipherSuite[] = ['aes-256-gcm', 'chacha20-poly1305'];

/** True if any `w`-byte window of `needle` occurs in `hay`. */
function leaks(hay: Uint8Array, needle: Uint8Array, w = 8): boolean {
  const h = Buffer.from(hay);
  for (let i = 0; i + w <= needle.length; i++) if (h.indexOf(needle.subarray(i, i + w)) >= 0) return true;
  return false;
}

test('identity: 32-byte keys, raw export round trip, base64 encoding', () => {
  const id = generateIdentity();
  assert.equal(id.publicKey.length, 32);
  const raw = exportPrivateKey(id.privateKey);
  assert.equal(raw.length, 32);
  const back = identityFromPrivateKey(raw);
  assert.deepEqual(back.publicKey, id.publicKey);
  assert.deepEqual(decodeKey(encodePublicKey(id.publicKey)), id.publicKey);
  assert.notDeepEqual(generateIdentity().publicKey, id.publicKey);
});

test('identity: private key refuses coercion and is redacted in inspect', () => {
  const { privateKey } = generateIdentity();
  assert.throws(() => JSON.stringify({ k: privateKey }), TypeError);
  assert.throws(() => `${privateKey as unknown as string}`, TypeError);
  assert.throws(() => +(privateKey as unknown as number), TypeError);
  assert.throws(() => privateKey.valueOf(), TypeError);
  assert.throws(() => String(privateKey), TypeError);
  assert.doesNotMatch(inspect(privateKey), /[A-Za-z0-9+/]{40}/);
});

test('identity: bad inputs name the argument', () => {
  assert.throws(() => identityFromPrivateKey(new Uint8Array(31)), (e: Error) => e instanceof RangeError && /"raw"/.test(e.message));
  assert.throws(() => identityFromPrivateKey('x' as unknown as Uint8Array), (e: Error) => e instanceof TypeError && /"raw"/.test(e.message));
  assert.throws(() => decodeKey('abc', 'players.a.publicKey'), (e: Error) => e instanceof RangeError && /players\.a\.publicKey/.test(e.message));
  assert.throws(() => decodeKey(42, 'k'), TypeError);
  assert.throws(() => encodePublicKey(new Uint8Array(33)), (e: Error) => e instanceof RangeError && /"publicKey"/.test(e.message));
  assert.throws(() => exportPrivateKey({} as never), (e: Error) => e instanceof TypeError && /"privateKey"/.test(e.message));
});

test('session: random payloads and associated data round-trip both ways, both suites', () => {
  for (const suite of SUITES) {
    const [a, b] = connectPair(alice, bob, 'run-1', suite);
    assert.deepEqual(a.sessionId, b.sessionId);
    assert.equal(a.peerName, 'bob');
    assert.equal(b.peerName, 'alice');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.string(), fc.boolean(), (pt, ad, dir) => {
        const [s, r] = dir ? [a, b] : [b, a];
        const frame = s.seal(pt, ad);
        assert.deepEqual(r.open(frame, ad), pt);
      }),
      { numRuns: 100 },
    );
  }
});

test('session: tampering with any byte of a frame is rejected, and does not disturb the session', () => {
  const [a, b] = connectPair(alice, bob, 'run-1');
  const pt = new Uint8Array(randomBytes(40));
  const frame = a.seal(pt, 'round-7');
  for (let i = 0; i < frame.length; i++) {
    for (const flip of [0x01, 0x80]) {
      const t = frame.slice();
      t[i]! ^= flip;
      assert.throws(() => b.open(t, 'round-7'), ChannelAuthError, `byte ${i}`);
    }
  }
  assert.throws(() => b.open(frame.subarray(0, frame.length - 1)), ChannelAuthError);
  assert.throws(() => b.open(new Uint8Array([...frame, 0])), ChannelAuthError);
  assert.deepEqual(b.open(frame, 'round-7'), pt);
});

test('session: replay is rejected; reordering within the window accepted, beyond it rejected', () => {
  const [a, b] = connectPair(alice, bob, 'run-1', undefined);
  const f = Array.from({ length: 6 }, (_, i) => a.seal(Uint8Array.of(i)));
  assert.deepEqual(b.open(f[0]!), Uint8Array.of(0));
  assert.throws(() => b.open(f[0]!), ReplayError);
  assert.deepEqual(b.open(f[3]!), Uint8Array.of(3));
  assert.deepEqual(b.open(f[1]!), Uint8Array.of(1));
  assert.throws(() => b.open(f[3]!), ReplayError);
  assert.throws(() => b.open(f[1]!), ReplayError);

  // window 2: reordering beyond it is refused.
  const i = new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context: 'w', window: 2 });
  const r = new HandshakeResponder({ self: bob, peers: new Map([['alice', alice.identity.publicKey]]), context: 'w', window: 2 });
  const { message, session: sa } = i.finish(r.respond(i.start()));
  const sb = r.finish(message);
  const g = Array.from({ length: 6 }, (_, k) => sa.seal(Uint8Array.of(k)));
  sb.open(g[5]!);
  sb.open(g[4]!);
  assert.throws(() => sb.open(g[3]!), (e: Error) => e instanceof ReplayError && /window/.test(e.message));
  // window 0 = strictly increasing
  const w0 = new ReplayWindow(0);
  assert.equal(w0.check(0), null);
  w0.mark(0);
  w0.mark(5);
  assert.notEqual(w0.check(3), null);
  assert.equal(w0.check(6), null);
  assert.throws(() => new ReplayWindow(-1), RangeError);
  assert.throws(() => new ReplayWindow(1.5), TypeError);
});

test('session: wrong round id (associated data) is refused with WrongContextError and consumes the seq', () => {
  const [a, b] = connectPair(alice, bob, 'run-1');
  const f = a.seal(Uint8Array.of(1, 2, 3), 'round-1');
  assert.throws(() => b.open(f, 'round-2'), (e: Error) => e instanceof WrongContextError && (e as WrongContextError).peer === 'alice');
  assert.throws(() => b.open(f, 'round-1'), ReplayError);
  const m = b.openMessage(a.seal(Uint8Array.of(9), 'round-3'));
  assert.equal(Buffer.from(m.ad).toString(), 'round-3');
  assert.equal(m.seq, 1);
});

test('session: a frame from another session (other keys) is a forgery', () => {
  const [a] = connectPair(alice, bob, 'run-1');
  const [, b2] = connectPair(alice, bob, 'run-1');
  assert.throws(() => b2.open(a.seal(Uint8Array.of(1))), ChannelAuthError);
  // reflection: a frame sent by bob cannot be opened by bob as if from alice
  const [x, y] = connectPair(alice, bob, 'run-1');
  assert.throws(() => y.open(y.seal(Uint8Array.of(1))), ChannelAuthError);
  assert.throws(() => x.open(x.seal(Uint8Array.of(1))), ChannelAuthError);
});

test('handshake: an initiator without the pinned private key is refused (mallory claims to be alice)', () => {
  const fake = new HandshakeInitiator({ self: { name: 'alice', identity: mallory.identity }, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context: 'c' });
  const r = new HandshakeResponder({ self: bob, peers: new Map([['alice', alice.identity.publicKey]]), context: 'c' });
  const m2 = r.respond(fake.start());
  assert.throws(() => fake.finish(m2), ChannelAuthError);
  assert.throws(() => r.finish(Uint8Array.of(1, 3, ...randomBytes(32))), (e: Error) => e instanceof ChannelAuthError && (e as ChannelAuthError).peer === 'alice');
});

test('handshake: a responder without the pinned private key is refused (mallory answers for bob)', () => {
  const i = new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context: 'c' });
  const fake = new HandshakeResponder({ self: { name: 'bob', identity: mallory.identity }, peers: new Map([['alice', alice.identity.publicKey]]), context: 'c' });
  assert.throws(() => i.finish(fake.respond(i.start())), (e: Error) => e instanceof ChannelAuthError && (e as ChannelAuthError).peer === 'bob');
});

test('handshake: unknown peer, peer not hosted here, wrong context, other suite, low-order key', () => {
  const carol = party('carol');
  const r = () => new HandshakeResponder({ self: bob, peers: new Map([['alice', alice.identity.publicKey]]), context: 'c' });
  const ini = (self: LocalParty, to = 'bob', context = 'c', suite?: CipherSuite) =>
    new HandshakeInitiator({ self, peer: { name: to, publicKey: bob.identity.publicKey }, context, ...(suite ? { suite } : {}) });
  assert.throws(() => r().respond(ini(carol).start()), (e: Error) => e instanceof UnknownPeerError && (e as UnknownPeerError).peer === 'carol');
  assert.throws(() => r().respond(ini(alice, 'dave').start()), UnknownPeerError);
  const i = ini(alice, 'bob', 'other-run');
  assert.throws(() => i.finish(r().respond(i.start())), ChannelAuthError);
  assert.throws(() => r().respond(ini(alice, 'bob', 'c', 'chacha20-poly1305').start()), HandshakeError);
  const hello = ini(alice).start();
  hello.fill(0, hello.length - 32);
  assert.throws(() => r().respond(hello), ChannelAuthError);
  assert.throws(() => r().respond(hello.subarray(0, 10)), HandshakeError);
  assert.throws(() => r().respond(Uint8Array.of(9, 9, 9)), HandshakeError);
});

test('handshake: every invalid stage transition throws HandshakeError', () => {
  const mk = () => ({
    i: new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context: 'c' }),
    r: new HandshakeResponder({ self: bob, peers: new Map([['alice', alice.identity.publicKey]]), context: 'c' }),
  });
  let { i, r } = mk();
  assert.throws(() => i.finish(new Uint8Array(66)), HandshakeError); // finish before start
  assert.throws(() => r.finish(new Uint8Array(34)), HandshakeError); // finish before respond
  const m1 = i.start();
  assert.throws(() => i.start(), HandshakeError);
  const m2 = r.respond(m1);
  assert.throws(() => r.respond(m1), HandshakeError);
  const { message } = i.finish(m2);
  assert.throws(() => i.finish(m2), HandshakeError);
  const s = r.finish(message);
  assert.throws(() => r.finish(message), HandshakeError);
  assert.equal(i.stage, 'done');
  assert.equal(r.stage, 'done');
  s.close();
  assert.throws(() => s.seal(Uint8Array.of(1)), HandshakeError);
  assert.throws(() => s.open(Uint8Array.of(1)), HandshakeError);
  // a failed handshake cannot be continued
  ({ i, r } = mk());
  i.start();
  assert.throws(() => i.finish(Uint8Array.of(1, 2)), HandshakeError);
  assert.equal(i.stage, 'failed');
  assert.throws(() => i.finish(r.respond(mk().i.start())), HandshakeError);
});

test('handshake and session: bad inputs name the argument', () => {
  const pk = bob.identity.publicKey;
  const named = (cls: typeof TypeError, name: string) => (e: Error) => e instanceof cls && e.message.includes(`"${name}"`);
  assert.throws(() => new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: pk.subarray(1) }, context: 'c' }), named(RangeError, 'peer.publicKey'));
  assert.throws(() => new HandshakeInitiator({ self: alice, peer: { name: '', publicKey: pk }, context: 'c' }), named(RangeError, 'peer.name'));
  assert.throws(() => new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: pk }, context: 5 as never }), named(TypeError, 'context'));
  assert.throws(() => new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: pk }, context: 'c', suite: 'des' as never }), named(RangeError, 'suite'));
  assert.throws(() => new HandshakeInitiator({ self: { name: 'alice', identity: { publicKey: pk, privateKey: alice.identity.privateKey } }, peer: { name: 'bob', publicKey: pk }, context: 'c' }), named(RangeError, 'self.identity.publicKey'));
  assert.throws(() => new HandshakeInitiator({ self: { name: 'alice', identity: { publicKey: pk, privateKey: 'secret' as never } }, peer: { name: 'bob', publicKey: pk }, context: 'c' }), named(TypeError, 'self.identity'));
  assert.throws(() => new HandshakeResponder({ self: bob, peers: { alice: pk } as never, context: 'c' }), named(TypeError, 'peers'));
  assert.throws(() => new HandshakeResponder({ self: bob, peers: new Map([['alice', new Uint8Array(3)]]), context: 'c' }), RangeError);
  assert.throws(() => new HandshakeResponder({ self: [], peers: new Map(), context: 'c' }), RangeError);
  const [a] = connectPair(alice, bob, 'c');
  assert.throws(() => a.seal('text' as never), named(TypeError, 'plaintext'));
  assert.throws(() => a.seal(Uint8Array.of(1), 7 as never), named(TypeError, 'ad'));
  assert.throws(() => a.open([1, 2] as never), named(TypeError, 'frame'));
});

test('router view: handshake and frames carry no plaintext and no private key bytes', () => {
  const wire: Uint8Array[] = [];
  const i = new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context: 'c' });
  const r = new HandshakeResponder({ self: bob, peers: new Map([['alice', alice.identity.publicKey]]), context: 'c' });
  const m1 = i.start();
  const m2 = r.respond(m1);
  const { message: m3, session: a } = i.finish(m2);
  const b = r.finish(m3);
  wire.push(m1, m2, m3);
  const secrets = [randomBytes(64), Buffer.from('the model weights of round seven, in clear text'), new Uint8Array(100).fill(0x5a)];
  for (const s of secrets) {
    const f = a.seal(s, 'round-7');
    wire.push(f);
    assert.deepEqual(b.open(f), new Uint8Array(s));
  }
  const all = Buffer.concat(wire);
  for (const s of secrets) assert.equal(leaks(all, s), false);
  assert.equal(leaks(all, exportPrivateKey(alice.identity.privateKey)), false);
  assert.equal(leaks(all, exportPrivateKey(bob.identity.privateKey)), false);
  // same plaintext twice gives different ciphertexts (fresh nonce per message)
  const z1 = a.seal(new Uint8Array(32));
  const z2 = a.seal(new Uint8Array(32));
  assert.notDeepEqual(z1.subarray(14), z2.subarray(14));
});

// ---------------------------------------------------------------- sealed boxes

const clients = ['c0', 'c1', 'c2'].map(party);
const agg = party('aggregator');
const senderOf = (c: LocalParty, context = 'round-1') => new SealedBoxSender({ self: c, recipients: new Map([['aggregator', agg.identity.publicKey]]), context });
const receiver = (context = 'round-1', window?: number) =>
  new SealedBoxReceiver({ self: agg, senders: new Map(clients.map((c) => [c.name, c.identity.publicKey])), context, ...(window !== undefined ? { window } : {}) });

test('sealed box: round trip through a relay, sender authenticated', () => {
  const rx = receiver();
  const senders = clients.map((c) => senderOf(c));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), fc.uint8Array({ maxLength: 1024 }), fc.string(), (k, pt, ad) => {
      const box = senders[k]!.seal('aggregator', pt, ad);
      const o = rx.open(box, ad);
      assert.equal(o.sender, clients[k]!.name);
      assert.deepEqual(o.plaintext, pt);
    }),
    { numRuns: 60 },
  );
});

test('sealed box: tampering with any byte is rejected', () => {
  const rx = receiver();
  const box = senderOf(clients[0]!).seal('aggregator', randomBytes(24), 'x');
  for (let i = 0; i < box.length; i++) {
    const t = box.slice();
    t[i]! ^= 0x04;
    assert.throws(() => rx.open(t), (e: Error) => e instanceof ChannelAuthError || e instanceof UnknownPeerError, `byte ${i}`);
  }
  assert.equal(rx.open(box).sender, 'c0');
});

test('sealed box: replay, reordering window, unknown sender, forgery, wrong recipient, wrong context, wrong ad', () => {
  const rx = receiver('round-1', 2);
  const tx = senderOf(clients[1]!);
  const boxes = Array.from({ length: 5 }, (_, i) => tx.seal('aggregator', Uint8Array.of(i), 'r1'));
  assert.deepEqual(rx.open(boxes[1]!).plaintext, Uint8Array.of(1));
  assert.deepEqual(rx.open(boxes[0]!).plaintext, Uint8Array.of(0)); // reordered, within window
  assert.throws(() => rx.open(boxes[1]!), ReplayError);
  rx.open(boxes[4]!);
  assert.throws(() => rx.open(boxes[2]!), ReplayError); // beyond window 2
  // another sender's counter is independent
  assert.equal(rx.open(senderOf(clients[2]!).seal('aggregator', Uint8Array.of(1))).seq, 0);

  const stranger = party('stranger');
  const sx = new SealedBoxSender({ self: stranger, recipients: new Map([['aggregator', agg.identity.publicKey]]), context: 'round-1' });
  assert.throws(() => rx.open(sx.seal('aggregator', Uint8Array.of(1))), (e: Error) => e instanceof UnknownPeerError && (e as UnknownPeerError).peer === 'stranger');
  const forger = new SealedBoxSender({ self: { name: 'c0', identity: mallory.identity }, recipients: new Map([['aggregator', agg.identity.publicKey]]), context: 'round-1' });
  assert.throws(() => rx.open(forger.seal('aggregator', Uint8Array.of(1))), ChannelAuthError);
  // a box for someone else (the router re-addresses it) is refused
  const other = new SealedBoxSender({ self: clients[0]!, recipients: new Map([['server', mallory.identity.publicKey]]), context: 'round-1' });
  assert.throws(() => rx.open(other.seal('server', Uint8Array.of(1))), ChannelAuthError);
  assert.throws(() => tx.seal('server', Uint8Array.of(1)), UnknownPeerError);
  // context of another round
  assert.throws(() => rx.open(senderOf(clients[0]!, 'round-0').seal('aggregator', Uint8Array.of(1))), ChannelAuthError);
  // authentic box, other associated data than expected
  const rx2 = receiver();
  assert.throws(() => rx2.open(senderOf(clients[0]!).seal('aggregator', Uint8Array.of(1), 'round-9'), 'round-1'), WrongContextError);
});

test('sealed box: the relay sees only ciphertext; bad inputs name the argument', () => {
  const secret = Buffer.from('gradient update of client zero, 0123456789abcdef');
  const box = senderOf(clients[0]!).seal('aggregator', secret);
  assert.equal(leaks(box, secret), false);
  assert.deepEqual(receiver().open(box).plaintext, new Uint8Array(secret));
  const tx = senderOf(clients[0]!);
  assert.throws(() => tx.seal(3 as never, Uint8Array.of(1)), (e: Error) => e instanceof TypeError && /"to"/.test(e.message));
  assert.throws(() => tx.seal('aggregator', [1] as never), (e: Error) => e instanceof TypeError && /"plaintext"/.test(e.message));
  assert.throws(() => receiver().open('box' as never), (e: Error) => e instanceof TypeError && /"box"/.test(e.message));
  assert.throws(() => receiver('c', -3), RangeError);
  assert.throws(() => new SealedBoxSender({ self: clients[0]!, recipients: [] as never, context: 'c' }), (e: Error) => e instanceof TypeError && /"recipients"/.test(e.message));
});

test('session: vectored forms (sealParts, sealPieces, openPieces) agree with seal/open', () => {
  const [a, b] = connectPair(alice, bob, 'v');
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40_000 }), { maxLength: 4 }), fc.string(), fc.integer({ min: 0, max: 2 }), (parts, ad, how) => {
      const whole = Buffer.concat(parts);
      const frame = how === 0 ? a.sealParts(parts, ad) : how === 1 ? Buffer.concat(a.sealPieces(parts, ad)) : a.seal(new Uint8Array(whole), ad);
      const m = b.openPieces(frame);
      assert.deepEqual(Buffer.concat(m.pieces), whole);
      assert.equal(Buffer.from(m.ad).toString(), ad);
    }),
    { numRuns: 40 },
  );
  const f = Buffer.concat(a.sealPieces([randomBytes(50_000)]));
  f[f.length - 1]! ^= 1;
  assert.throws(() => b.openPieces(f), ChannelAuthError);
  assert.throws(() => a.sealPieces('x' as never), (e: Error) => e instanceof TypeError && /"parts"/.test(e.message));
  assert.throws(() => a.sealParts([Uint8Array.of(1), 2 as never]), (e: Error) => e instanceof TypeError && /"parts\[1\]"/.test(e.message));
});
