/**
 * Every check of the secure channel and of the identities, one by one: each
 * malformed, truncated, misaddressed or ill-typed input is refused with the
 * error class and the message that names what is wrong (the function, the
 * argument or the peer), and what a check protects (copies, bounds, stages)
 * is observed directly. The companion of secure-channel.test.ts, written so
 * that removing or weakening any single check fails a test here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import {
  ChannelAuthError,
  HandshakeError,
  HandshakeInitiator,
  HandshakeResponder,
  PrivateKey,
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
  type LocalParty,
} from '../../src/crypto/secure-channel.js';
import { bytesEqual, checkName } from '../../src/crypto/identity.js';

const party = (name: string): LocalParty => ({ name, identity: generateIdentity() });
const alice = party('alice');
const bob = party('bob');
const pinnedAlice = new Map([['alice', alice.identity.publicKey]]);
const initiator = (o: Record<string, unknown> = {}) => new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: bob.identity.publicKey }, context: 'c', ...o });
const responder = (o: Record<string, unknown> = {}) => new HandshakeResponder({ self: bob, peers: pinnedAlice, context: 'c', ...o });
/** An error of class `cls` whose message matches `re` exactly where anchored. */
const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
/** A point of order 8 on Curve25519 (RFC 7748 section 6.1 test vectors): no shared secret with anyone. */
const LOW_ORDER = Uint8Array.from(Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'));

// ---------------------------------------------------------------- identities

test('identity checks: names by length in bytes, described types, keys of the right kind', () => {
  assert.equal(checkName('x'.repeat(255), 'n', 'f'), 'x'.repeat(255));
  assert.throws(() => checkName('x'.repeat(256), 'n', 'f'), is(RangeError, /^f: "n" expected a string of 1 to 255 bytes, got 256 bytes$/));
  assert.throws(() => checkName('é'.repeat(128), 'n', 'f'), is(RangeError, /got 256 bytes$/)); // UTF-8 bytes, not characters
  assert.throws(() => checkName('', 'n', 'f', 3), is(RangeError, /^f: "n" expected a string of 1 to 3 bytes, got 0 bytes$/));
  // what a bad argument was, said in the message
  const got = (v: unknown) => {
    try {
      identityFromPrivateKey(v as never);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  assert.equal(got(null), 'identityFromPrivateKey: "raw" expected Uint8Array, got null');
  assert.equal(got([1]), 'identityFromPrivateKey: "raw" expected Uint8Array, got array');
  assert.equal(got('k'), 'identityFromPrivateKey: "raw" expected Uint8Array, got string');
  assert.equal(got(new Map()), 'identityFromPrivateKey: "raw" expected Uint8Array, got Map');
  assert.equal(got(Object.create(null)), 'identityFromPrivateKey: "raw" expected Uint8Array, got object');
  assert.equal(got(new Uint8Array(3)), 'identityFromPrivateKey: "raw" expected 32 bytes, got 3');
  assert.throws(() => encodePublicKey(Buffer.alloc(31)), is(RangeError, /^encodePublicKey: "publicKey" expected 32 bytes, got 31$/));
  assert.throws(() => exportPrivateKey(new Uint16Array(2) as never), is(TypeError, /^exportPrivateKey: "privateKey" expected PrivateKey, got Uint16Array$/));
  // only an X25519 private KeyObject makes a PrivateKey
  const x = generateKeyPairSync('x25519');
  assert.throws(() => PrivateKey.fromKeyObject(x.publicKey), is(TypeError, /^PrivateKey: "key" expected an X25519 private KeyObject$/));
  assert.throws(() => PrivateKey.fromKeyObject(generateKeyPairSync('ed25519').privateKey), is(TypeError, /X25519 private KeyObject/));
  assert.deepEqual(PrivateKey.fromKeyObject(x.privateKey).publicKey, new Uint8Array(x.publicKey.export({ format: 'der', type: 'spki' }).subarray(12)));
});

test('identity: the public key handed out is a copy; the private key refuses every conversion by name and prints redacted', () => {
  const id = generateIdentity();
  const before = Uint8Array.from(id.publicKey);
  const pk = id.privateKey.publicKey;
  pk.fill(0);
  assert.deepEqual(id.privateKey.publicKey, before);
  const k = id.privateKey as unknown as Record<string | symbol, () => unknown>;
  for (const [what, call] of [
    ['valueOf', () => k['valueOf']!()],
    ['toJSON', () => k['toJSON']!()],
    ['toString', () => k['toString']!()],
    ['Symbol.toPrimitive', () => k[Symbol.toPrimitive]!()],
  ] as const) {
    assert.throws(call, is(TypeError, new RegExp(`^PrivateKey: a private key cannot be converted \\(${what.replace('.', '\\.')}\\); use exportPrivateKey\\(\\) explicitly$`)));
  }
  assert.equal(inspect(id.privateKey), 'PrivateKey(X25519, <redacted>)');
  assert.equal(inspect({ k: id.privateKey }), '{ k: PrivateKey(X25519, <redacted>) }');
});

test('identity: agree refuses low-order points and wrong sizes, naming the caller', () => {
  const id = generateIdentity();
  for (const p of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31)), LOW_ORDER]) {
    assert.throws(() => id.privateKey.agree(p), is(RangeError, /^agree: "peerPublicKey" is a low-order point \(no shared secret\)$/));
    assert.throws(() => id.privateKey.agree(p, 'Mine.fn'), is(RangeError, /^Mine\.fn: "peerPublicKey" is a low-order point/));
  }
  assert.throws(() => id.privateKey.agree(new Uint8Array(31)), is(RangeError, /^agree: "peerPublicKey" expected 32 bytes, got 31$/));
  const other = generateIdentity();
  assert.deepEqual(id.privateKey.agree(other.publicKey), other.privateKey.agree(id.publicKey));
});

test('identity: decodeKey takes exactly 44 base64 characters (trimmed), says which argument, and quotes at most 60 characters', () => {
  const k = encodePublicKey(generateIdentity().publicKey);
  assert.equal(decodeKey(`  ${k}\n`).length, 32);
  for (const bad of [`x${k}`, `${k}x`, k.slice(1), `${k.slice(0, 42)}==`, `${k.slice(0, 43)}-`]) {
    assert.throws(() => decodeKey(bad), is(RangeError, /^decodeKey: "text" expected 44 characters of base64 encoding 32 bytes, got "/), bad);
  }
  assert.throws(() => decodeKey(`${'A'.repeat(80)}`, 'players.x.publicKey', 'config'), (e: Error) => e instanceof RangeError && e.message === `config: "players.x.publicKey" expected 44 characters of base64 encoding 32 bytes, got "${'A'.repeat(60)}"`);
  assert.throws(() => decodeKey(5), is(TypeError, /^decodeKey: "text" expected base64 string, got number$/));
});

test('bytesEqual: equal only for the same length and bytes', () => {
  assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
  assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)), false);
  assert.equal(bytesEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2)), false);
  assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
  assert.equal(bytesEqual(new Uint8Array(0), new Uint8Array(0)), true);
});

// ---------------------------------------------------------------- arguments of the channel

test('channel arguments: options, parties, pinned keys and suites are checked by the constructor that takes them', () => {
  const ctors: [string, (o: unknown) => unknown][] = [
    ['HandshakeInitiator', (o) => new HandshakeInitiator(o as never)],
    ['HandshakeResponder', (o) => new HandshakeResponder(o as never)],
    ['SealedBoxSender', (o) => new SealedBoxSender(o as never)],
    ['SealedBoxReceiver', (o) => new SealedBoxReceiver(o as never)],
  ];
  for (const [fn, mk] of ctors) {
    assert.throws(() => mk(null), is(TypeError, new RegExp(`^${fn}: "options" expected object, got null$`)));
    assert.throws(() => mk(5), is(TypeError, new RegExp(`^${fn}: "options" expected object, got number$`)));
    assert.throws(() => mk({ self: null }), is(TypeError, new RegExp(`^${fn}: "self" expected \\{ name, identity \\}, got null$`)));
    assert.throws(() => mk({ self: 'alice' }), is(TypeError, new RegExp(`^${fn}: "self" expected \\{ name, identity \\}, got string$`)));
    assert.throws(() => mk({ self: { name: '', identity: alice.identity } }), is(RangeError, new RegExp(`^${fn}: "self\\.name" expected a string of 1 to 255 bytes`)));
    assert.throws(() => mk({ self: { name: 'a', identity: null } }), is(TypeError, new RegExp(`^${fn}: "self\\.identity" expected \\{ publicKey, privateKey: PrivateKey \\}$`)));
    assert.throws(() => mk({ self: { name: 'a', identity: 'k' } }), is(TypeError, /"self\.identity" expected/));
    assert.throws(() => mk({ self: { name: 'a', identity: { publicKey: alice.identity.publicKey, privateKey: {} } } }), is(TypeError, /"self\.identity" expected/));
    assert.throws(() => mk({ self: { name: 'a', identity: { publicKey: new Uint8Array(31), privateKey: alice.identity.privateKey } } }), is(RangeError, new RegExp(`^${fn}: "self\\.identity\\.publicKey" expected 32 bytes, got 31$`)));
  }
  assert.throws(() => initiator({ peer: null }), is(TypeError, /^HandshakeInitiator: "peer" expected \{ name, publicKey \}, got null$/));
  assert.throws(() => initiator({ peer: 7 }), is(TypeError, /^HandshakeInitiator: "peer" expected \{ name, publicKey \}, got number$/));
  assert.throws(() => initiator({ suite: 5 }), is(RangeError, /^HandshakeInitiator: "suite" expected 'aes-256-gcm' or 'chacha20-poly1305', got 5$/));
  assert.throws(() => initiator({ suite: 'toString' }), is(RangeError, /"suite" expected/));
  assert.throws(() => initiator({ suite: { toString: () => 'aes-256-gcm' } }), is(RangeError, /"suite" expected 'aes-256-gcm' or 'chacha20-poly1305', got \{\}$/));
  assert.throws(() => responder({ peers: new Map([['', alice.identity.publicKey]]) }), is(RangeError, /^HandshakeResponder: "peers key" expected a string of 1 to 255 bytes/));
  assert.throws(() => responder({ peers: new Map([['alice', new Uint8Array(3)]]) }), is(RangeError, /^HandshakeResponder: "peers\.get\("alice"\)" expected 32 bytes, got 3$/));
  assert.throws(() => responder({ self: [] }), is(RangeError, /^HandshakeResponder: "self" expected at least one local party$/));
  assert.throws(() => new SealedBoxReceiver({ self: bob, senders: [] as never, context: 'c' }), is(TypeError, /^SealedBoxReceiver: "senders" expected Map<string, Uint8Array>, got array$/));
  assert.throws(() => new SealedBoxSender({ self: bob, recipients: new Map(), context: 'c', suite: 'rc4' as never }), is(RangeError, /^SealedBoxSender: "suite"/));
  assert.throws(() => new SealedBoxReceiver({ self: bob, senders: new Map(), context: 'c', window: -1 }), is(RangeError, /^ReplayWindow: "window" expected integer in \[0, 1048576\], got -1$/));
  // the pinned key the initiator was given is its own copy (a Buffer's slice() would not be)
  const key = Buffer.from(bob.identity.publicKey);
  const i = new HandshakeInitiator({ self: alice, peer: { name: 'bob', publicKey: key }, context: 'c' });
  key.fill(7);
  const r = responder();
  assert.doesNotThrow(() => r.finish(i.finish(r.respond(i.start())).message));
});

test('ReplayWindow: the window is an integer from 0 to 2^20', () => {
  assert.equal(new ReplayWindow(1 << 20).window, 1 << 20);
  assert.equal(new ReplayWindow(0).window, 0);
  assert.equal(new ReplayWindow().window, 1024);
  assert.throws(() => new ReplayWindow((1 << 20) + 1), is(RangeError, /^ReplayWindow: "window" expected integer in \[0, 1048576\], got 1048577$/));
  assert.throws(() => new ReplayWindow('8' as never), is(TypeError, /^ReplayWindow: "window" expected integer, got string$/));
  assert.throws(() => new ReplayWindow(Uint8Array.of(8) as never), is(TypeError, /^ReplayWindow: "window" expected integer, got Uint8Array\(1\)$/));
  // window 0: nothing at or below the highest number, even unseen; nothing remembered
  const w = new ReplayWindow(0);
  for (let s = 3; s < 100; s += 4) w.mark(s); // 25 numbers, highest 99
  assert.match(w.check(98)!, /outside the replay window \(highest seen 99, window 0\)/);
  assert.match(w.check(99)!, /outside/);
  assert.equal(w.check(100), null);
  assert.equal(w.tracked, 0);
});

test('ReplayWindow: what it remembers stays bounded: it grows to 2 * window + 16, then drops to the window, at each prune', () => {
  for (const window of [1, 8, 64]) {
    const w = new ReplayWindow(window);
    const bound = 2 * window + 16;
    let max = 0;
    let prunes = 0;
    for (let s = 0; s < 20 * bound; s++) {
      const before = w.tracked;
      w.mark(s);
      if (w.tracked < before) {
        prunes++;
        assert.equal(w.tracked, window, `window ${window}: after a prune, only the numbers inside the window are kept`);
      }
      max = Math.max(max, w.tracked);
    }
    assert.equal(max, bound, `window ${window}`);
    assert.ok(prunes >= 10, `window ${window}: pruned ${prunes} times, not at every message`);
    assert.ok(prunes <= 20 * bound / (bound - window), `window ${window}: pruned ${prunes} times`);
  }
});

// ---------------------------------------------------------------- sessions

test('session: seal and open check their arguments by name; a closed session says so', () => {
  const [a, b] = connectPair(alice, bob, 'c');
  assert.throws(() => a.seal('x' as never), is(TypeError, /^SecureSession\.seal: "plaintext" expected Uint8Array, got string$/));
  assert.throws(() => a.seal(Uint8Array.of(1), 3 as never), is(TypeError, /^SecureSession\.seal: "ad" expected string or Uint8Array, got number$/));
  assert.throws(() => a.sealParts('x' as never), is(TypeError, /^SecureSession\.sealParts: "parts" expected array of Uint8Array, got string$/));
  assert.throws(() => a.sealParts([Uint8Array.of(1), 'x' as never]), is(TypeError, /^SecureSession\.sealParts: "parts\[1\]" expected Uint8Array, got string$/));
  assert.throws(() => a.sealPieces({} as never), is(TypeError, /^SecureSession\.sealPieces: "parts" expected array of Uint8Array, got Object$/));
  assert.throws(() => a.sealPieces([Uint8Array.of(1), Uint8Array.of(2), null as never]), is(TypeError, /^SecureSession\.sealPieces: "parts\[2\]" expected Uint8Array, got null$/));
  assert.throws(() => a.sealPieces([Uint8Array.of(1)], [] as never), is(TypeError, /^SecureSession\.sealPieces: "ad" expected string or Uint8Array, got array$/));
  assert.equal(a.nextSeq, 0, 'a refused seal consumes no sequence number');
  const f = a.seal(Uint8Array.of(1), 'r1');
  assert.throws(() => b.open(f, 9 as never), is(TypeError, /^SecureSession\.open: "expectedAd" expected string or Uint8Array, got number$/));
  assert.throws(() => b.open(f, 'r2'), is(WrongContextError, /^SecureSession\.open: message 0 from "alice" is bound to other associated data than expected$/));
  a.close();
  b.close();
  assert.throws(() => a.seal(Uint8Array.of(1)), is(HandshakeError, /^SecureSession\.seal: session with "bob" is closed$/));
  assert.throws(() => a.sealPieces([Uint8Array.of(1)]), is(HandshakeError, /^SecureSession\.seal: session with "bob" is closed$/));
  assert.throws(() => b.openPieces(f), is(HandshakeError, /^SecureSession\.open: session with "alice" is closed$/));
});

test('session: every malformed frame is refused as a forgery naming the peer (truncated anywhere, unknown version or type, sequence number out of range, shorter than a tag)', () => {
  const [a, b] = connectPair(alice, bob, 'c');
  const good = Buffer.from(a.seal(Uint8Array.of(1, 2, 3), 'ad'));
  const headerLen = 14 + 2;
  const refused = (frame: Uint8Array, re: RegExp) => assert.throws(() => b.open(frame), is(ChannelAuthError, re), `${frame.length} bytes`);
  for (let n = 0; n < headerLen; n++) refused(good.subarray(0, n), /^SecureSession\.open: malformed frame from "alice": truncated$/);
  refused(Buffer.concat([Buffer.of(2), good.subarray(1)]), /^SecureSession\.open: frame from "alice" has an unknown version$/);
  refused(Buffer.concat([Buffer.of(1, 0x20), good.subarray(2)]), /^SecureSession\.open: frame from "alice" is not a data frame$/);
  const far = Buffer.from(good);
  far.writeBigUInt64BE(2n ** 53n, 2);
  refused(far, /^SecureSession\.open: malformed frame from "alice": sequence number out of range$/);
  far.writeBigUInt64BE(2n ** 53n - 1n, 2); // the largest number is in range (the tag then fails)
  refused(far, /^SecureSession\.open: bad authentication tag on message 9007199254740991 from "alice"$/);
  refused(Buffer.of(1, 0x20), /^SecureSession\.open: frame from "alice" is not a data frame$/); // a type read from the last byte
  // a view cut short inside the sequence number or the ad length: what lies beyond the view is never read
  const beyond = (cut: number, fill: (b: Buffer) => void) => {
    const whole = Buffer.alloc(64);
    good.copy(whole);
    fill(whole);
    return new Uint8Array(whole.buffer, whole.byteOffset, cut);
  };
  refused(beyond(4, (b) => b.fill(0xff, 2, 10)), /^SecureSession\.open: malformed frame from "alice": truncated$/);
  refused(beyond(12, (b) => b.writeUInt32BE(0, 10)), /^SecureSession\.open: malformed frame from "alice": truncated$/);
  const bigAd = Buffer.from(good);
  bigAd.writeUInt32BE(1000, 10);
  refused(bigAd, /truncated$/);
  // a header followed by fewer bytes than a tag
  for (const k of [0, 1, 15]) refused(good.subarray(0, headerLen + k), /^SecureSession\.open: bad authentication tag on message 0 from "alice"$/);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1]! ^= 1;
  refused(flipped, /^SecureSession\.open: bad authentication tag on message 0 from "alice"$/);
  // none of these consumed the sequence number
  assert.deepEqual(b.open(good), Uint8Array.of(1, 2, 3));
  assert.throws(() => b.open(good), ReplayError);
});

test('session: the associated data returned is a copy, not a view of the frame', () => {
  const [a, b] = connectPair(alice, bob, 'c');
  const f = Buffer.from(a.seal(Uint8Array.of(5), 'round-1'));
  const m = b.openPieces(f);
  f.fill(0);
  assert.deepEqual(Buffer.from(m.ad), Buffer.from('round-1'));
  const f2 = Buffer.from(a.seal(Uint8Array.of(6), 'round-2'));
  const m2 = b.openMessage(f2);
  f2.fill(0);
  assert.deepEqual(Buffer.from(m2.ad), Buffer.from('round-2'));
  assert.deepEqual(m2.plaintext, Uint8Array.of(6));
});

// ---------------------------------------------------------------- handshake messages

test('handshake: every malformed hello is refused with the reason (truncated, unknown version, empty or non-UTF-8 name, trailing bytes, other suite, not local, not pinned, low-order key)', () => {
  const hello = Buffer.from(initiator().start());
  const refused = (m: Uint8Array, cls: new (...a: never[]) => Error, re: RegExp) => {
    const r = responder();
    assert.throws(() => r.respond(m), is(cls, re), `${m.length} bytes: ${Buffer.from(m).toString('hex')}`);
    assert.equal(r.stage, 'failed');
    assert.throws(() => r.respond(hello), is(HandshakeError, /^HandshakeResponder\.respond: called in stage 'failed', expected 'new'$/));
  };
  for (let n = 0; n < hello.length; n++) {
    if (n === 0 || n === 1) refused(hello.subarray(0, n), HandshakeError, /^HandshakeResponder\.respond: malformed hello: truncated$/);
    else refused(hello.subarray(0, n), HandshakeError, /^HandshakeResponder\.respond: malformed hello: truncated$/);
  }
  refused(Buffer.concat([Buffer.of(2), hello.subarray(1)]), HandshakeError, /^HandshakeResponder\.respond: not a handshake hello \(or unknown version\)$/);
  refused(Buffer.concat([Buffer.of(1, 2), hello.subarray(2)]), HandshakeError, /not a handshake hello/);
  refused(Buffer.of(1, 9), HandshakeError, /^HandshakeResponder\.respond: not a handshake hello \(or unknown version\)$/); // a type read from the last byte
  const e = hello.subarray(hello.length - 32);
  refused(Buffer.concat([Buffer.of(1, 1, 1, 0), Buffer.of(3), Buffer.from('bob'), e]), HandshakeError, /^HandshakeResponder\.respond: malformed hello: empty name$/);
  refused(Buffer.concat([Buffer.of(1, 1, 1, 2, 0xc3, 0x28), Buffer.of(3), Buffer.from('bob'), e]), HandshakeError, /^HandshakeResponder\.respond: malformed hello: name is not UTF-8$/);
  refused(Buffer.concat([hello, Buffer.of(0)]), HandshakeError, /^HandshakeResponder\.respond: hello from "alice" has trailing bytes$/);
  refused(initiator({ suite: 'chacha20-poly1305' }).start(), HandshakeError, /^HandshakeResponder\.respond: "alice" proposes cipher suite 2, expected 1$/);
  refused(initiator({ peer: { name: 'dave', publicKey: bob.identity.publicKey } }).start(), UnknownPeerError, /^HandshakeResponder\.respond: hello from "alice" is addressed to "dave", which is not a local player here$/);
  refused(new HandshakeInitiator({ self: party('carol'), peer: { name: 'bob', publicKey: bob.identity.publicKey }, context: 'c' }).start(), UnknownPeerError, /^HandshakeResponder\.respond: "carol" has no pinned public key; connection refused$/);
  refused(Buffer.concat([hello.subarray(0, hello.length - 32), LOW_ORDER]), ChannelAuthError, /^HandshakeResponder\.respond: bad ephemeral key from "alice": HandshakeResponder\.respond: "peerPublicKey" is a low-order point/);
  assert.throws(() => responder().respond('x' as never), is(TypeError, /^HandshakeResponder\.respond: "msg1" expected Uint8Array, got string$/));
  // the claimed name is known once the hello is read, not before
  const r = responder();
  assert.equal(r.peerName, undefined);
  r.respond(hello);
  assert.equal(r.peerName, 'alice');
  assert.equal(r.stage, 'replied');
});

test('handshake: every malformed reply is refused with the reason (truncated, not a response, trailing bytes, low-order key, wrong confirmation)', () => {
  const r = responder();
  const i0 = initiator();
  const reply = Buffer.from(r.respond(i0.start()));
  const refused = (m: Uint8Array, cls: new (...a: never[]) => Error, re: RegExp) => {
    const i = initiator();
    i.start();
    assert.throws(() => i.finish(m), is(cls, re), `${m.length} bytes`);
    assert.equal(i.stage, 'failed');
    assert.throws(() => i.finish(reply), is(HandshakeError, /^HandshakeInitiator\.finish: called in stage 'failed', expected 'sent'$/));
  };
  for (const n of [0, 1, 2, 10, 33, 65]) refused(reply.subarray(0, n), HandshakeError, /^HandshakeInitiator\.finish: malformed reply from "bob": truncated$/);
  refused(Buffer.concat([Buffer.of(1, 1), reply.subarray(2)]), HandshakeError, /^HandshakeInitiator\.finish: reply from "bob" is not a handshake response$/);
  refused(Buffer.concat([Buffer.of(9), reply.subarray(1)]), HandshakeError, /is not a handshake response$/);
  refused(Buffer.concat([reply, Buffer.of(0)]), HandshakeError, /^HandshakeInitiator\.finish: reply from "bob" has trailing bytes$/);
  refused(Buffer.concat([reply.subarray(0, 2), LOW_ORDER, reply.subarray(34)]), ChannelAuthError, /^HandshakeInitiator\.finish: bad ephemeral key from "bob": HandshakeInitiator\.finish: "peerPublicKey" is a low-order point/);
  refused(reply, ChannelAuthError, /^HandshakeInitiator\.finish: "bob" failed to prove its pinned key \(or context\/suite differ\)$/); // a reply to another hello
  const i = initiator();
  assert.throws(() => i.finish(reply), is(HandshakeError, /^HandshakeInitiator\.finish: called in stage 'new', expected 'sent'$/));
  i.start();
  assert.throws(() => i.start(), is(HandshakeError, /^HandshakeInitiator\.start: called in stage 'sent', expected 'new'$/));
  assert.throws(() => i.finish(7 as never), is(TypeError, /^HandshakeInitiator\.finish: "msg2" expected Uint8Array, got number$/));
});

test("handshake: the initiator's confirmation must be exactly 01 | 03 | confirm_I", () => {
  const fresh = () => {
    const i = initiator();
    const r = responder();
    const m3 = Buffer.from(i.finish(r.respond(i.start())).message);
    return { r, m3 };
  };
  const variants: [string, (m: Buffer) => Buffer][] = [
    ['other version', (m) => Buffer.concat([Buffer.of(2), m.subarray(1)])],
    ['other type', (m) => Buffer.concat([Buffer.of(1, 2), m.subarray(2)])],
    ['one byte more', (m) => Buffer.concat([m, Buffer.of(0)])],
    ['one byte less', (m) => m.subarray(0, 33)],
    ['confirmation flipped', (m) => Buffer.concat([m.subarray(0, 33), Buffer.of(m[33]! ^ 1)])],
  ];
  for (const [what, edit] of variants) {
    const { r, m3 } = fresh();
    assert.throws(() => r.finish(edit(m3)), is(ChannelAuthError, /^HandshakeResponder\.finish: "alice" failed to prove its pinned key \(or context differs\)$/), what);
    assert.equal(r.stage, 'failed');
    assert.throws(() => r.finish(m3), is(HandshakeError, /^HandshakeResponder\.finish: called in stage 'failed', expected 'replied'$/), what);
  }
  const { r, m3 } = fresh();
  assert.throws(() => r.finish('m3' as never), is(TypeError, /^HandshakeResponder\.finish: "msg3" expected Uint8Array, got string$/));
  assert.equal(r.finish(m3).peerName, 'alice');
  assert.throws(() => responder().finish(m3), is(HandshakeError, /^HandshakeResponder\.finish: called in stage 'new', expected 'replied'$/));
});

// ---------------------------------------------------------------- sealed boxes

test('sealed box: each malformed, misaddressed or unpinned box is refused with the reason; the receiver pins who may write', () => {
  const c0 = party('c0');
  const agg = party('aggregator');
  const rx = () => new SealedBoxReceiver({ self: agg, senders: new Map([['c0', c0.identity.publicKey]]), context: 'r' });
  const tx = new SealedBoxSender({ self: c0, recipients: new Map([['aggregator', agg.identity.publicKey]]), context: 'r' });
  const box = Buffer.from(tx.seal('aggregator', Uint8Array.of(1, 2), 'ad'));
  const refused = (b: Uint8Array, cls: new (...a: never[]) => Error, re: RegExp) => assert.throws(() => rx().open(b), is(cls, re), `${b.length} bytes`);
  const headerLen = 3 + 3 + 11 + 32 + 8 + 4 + 2;
  for (const n of [0, 1, 2, 3, 5, 10, 40, headerLen - 1]) refused(box.subarray(0, n), ChannelAuthError, /^SealedBoxReceiver\.open: malformed box: truncated$/);
  refused(Buffer.concat([Buffer.of(1, 0x10), box.subarray(2)]), ChannelAuthError, /^SealedBoxReceiver\.open: not a sealed box \(or unknown version\)$/);
  refused(Buffer.concat([Buffer.of(1, 0x20, 2), box.subarray(3)]), ChannelAuthError, /^SealedBoxReceiver\.open: box uses another cipher suite$/);
  for (const k of [0, 15]) refused(box.subarray(0, headerLen + k), ChannelAuthError, /^SealedBoxReceiver\.open: bad authentication tag on box 0 from "c0"$/);
  // a stranger's box, and a box for someone else sealed to this receiver's key (its name differs): refused before decryption
  const stranger = party('stranger');
  const sx = new SealedBoxSender({ self: stranger, recipients: new Map([['aggregator', agg.identity.publicKey]]), context: 'r' });
  refused(sx.seal('aggregator', Uint8Array.of(1)), UnknownPeerError, /^SealedBoxReceiver\.open: sender "stranger" has no pinned public key$/);
  const readdressed = new SealedBoxSender({ self: c0, recipients: new Map([['server', agg.identity.publicKey]]), context: 'r' });
  refused(readdressed.seal('server', Uint8Array.of(1)), ChannelAuthError, /^SealedBoxReceiver\.open: box from "c0" is addressed to "server", not "aggregator"$/);
  // a box whose ephemeral key is a low-order point
  const e = 3 + 3 + 11;
  refused(Buffer.concat([box.subarray(0, e), LOW_ORDER, box.subarray(e + 32)]), ChannelAuthError, /^SealedBoxReceiver\.open: bad ephemeral key in box from "c0": SealedBoxReceiver\.open: "peerPublicKey" is a low-order point/);
  assert.throws(() => rx().open(box, 5 as never), is(TypeError, /^SealedBoxReceiver\.open: "expectedAd" expected string or Uint8Array, got number$/));
  assert.throws(() => rx().open(box, 'other'), is(WrongContextError, /^SealedBoxReceiver\.open: box 0 from "c0" is bound to other associated data than expected$/));
  assert.throws(() => rx().open('box' as never), is(TypeError, /^SealedBoxReceiver\.open: "box" expected Uint8Array, got string$/));
  assert.throws(() => tx.seal('server', Uint8Array.of(1)), is(UnknownPeerError, /^SealedBoxSender\.seal: recipient "server" has no pinned public key$/));
  assert.throws(() => tx.seal('aggregator', 'x' as never), is(TypeError, /^SealedBoxSender\.seal: "plaintext" expected Uint8Array, got string$/));
  // the associated data returned is a copy
  const r = rx();
  const copy = Buffer.from(box);
  const opened = r.open(copy, 'ad');
  copy.fill(0);
  assert.deepEqual(Buffer.from(opened.ad), Buffer.from('ad'));
  assert.deepEqual(opened.plaintext, Uint8Array.of(1, 2));
  void createPrivateKey;
  void createPublicKey;
});
