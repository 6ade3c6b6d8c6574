import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  ConfigError,
  formatConfig,
  keygen,
  loadConfig,
  loadIdentity,
  parseAddress,
  parseConfig,
  parseJsonStrict,
  pinnedKeys,
  playerEntry,
  DuplicateKeyError,
} from '../../src/deploy/index.js';
import { encodePublicKey, generateIdentity } from '../../src/crypto/identity.js';
import { generateTlsIdentity } from '../../src/crypto/tls-identity.js';
import { selfSignedCertificate } from '../../src/crypto/x509.js';
import { pinnedCertificates } from '../../src/transport/config.js';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';

const k1 = encodePublicKey(generateIdentity().publicKey);
const k2 = encodePublicKey(generateIdentity().publicKey);

const full = (players: Record<string, unknown>) => JSON.stringify({ version: 1, players });

/** Assert a ConfigError whose entry is `entry` and whose message mentions `what`. */
function refuses(text: string, entry: string, what: RegExp, options = {}): void {
  assert.throws(
    () => parseConfig(text, options),
    (e: Error) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e.name}: ${e.message}`);
      assert.equal(e.entry, entry, e.message);
      assert.match(e.message, what);
      return true;
    },
  );
}

test('config: full form with roles and keys parses', () => {
  const c = parseConfig(full({
    'server0': { address: 'localhost:4440', role: 'compute-server', publicKey: k1 },
    'model-owner': { address: '10.0.0.2:4441', role: 'model-owner', publicKey: k2 },
    'data-owner-0': { address: '[::1]:4442', role: 'data-owner' },
  }));
  assert.equal(c.players.length, 3);
  assert.deepEqual(playerEntry(c, 'data-owner-0'), { name: 'data-owner-0', host: '::1', port: 4442, address: '[::1]:4442', role: 'data-owner' });
  assert.equal(encodePublicKey(playerEntry(c, 'server0').publicKey!), k1);
  assert.throws(() => pinnedKeys(c), (e: Error) => e instanceof ConfigError && e.entry === 'players.data-owner-0.publicKey');
  assert.throws(() => playerEntry(c, 'nobody'), ConfigError);
  // format -> parse round trip
  assert.deepEqual(parseConfig(formatConfig(c)), c);
});

test('config: TFE flat form accepted when roles are not required, refused otherwise', () => {
  const text = JSON.stringify({ server0: 'localhost:4440', server1: 'localhost:4441' });
  assert.equal(parseConfig(text, { requireRoles: false }).players[1]!.port, 4441);
  refuses(text, 'server0.role', /missing/);
});

test('config: duplicate names (JSON keys, or equal up to case) are refused naming the entry', () => {
  const text = `{"version":1,"players":{"server0":{"address":"a:1","role":"aggregator"},"server0":{"address":"b:2","role":"aggregator"}}}`;
  refuses(text, 'players.server0', /duplicate player name "server0"/);
  refuses(`{"s":"a:1","s":"a:2"}`, 's', /duplicate player name/, { requireRoles: false });
  refuses(full({ Server0: { address: 'a:1', role: 'aggregator' }, server0: { address: 'a:2', role: 'aggregator' } }), 'players.server0', /duplicate player name/);
});

test('config: duplicate host:port refused naming the entry', () => {
  refuses(full({ a: { address: 'host.example:4440', role: 'aggregator' }, b: { address: 'HOST.example:4440', role: 'data-owner' } }), 'players.b.address', /already used by player "a"/);
});

test('config: missing or unknown role', () => {
  refuses(full({ a: { address: 'h:1' } }), 'players.a.role', /missing/);
  refuses(full({ a: { address: 'h:1', role: 'admin' } }), 'players.a.role', /unknown role "admin"/);
  refuses(full({ a: { address: 'h:1', role: 3 } }), 'players.a.role', /unknown role 3/);
});

test('config: malformed addresses and ports', () => {
  const bad: [string, RegExp][] = [
    ['localhost', /malformed address/],
    ['localhost:', /malformed address/],
    [':4440', /malformed address/],
    ['localhost:0', /out of range/],
    ['localhost:65536', /out of range/],
    ['localhost:99999', /out of range/],
    ['localhost:-1', /malformed address/],
    ['localhost:44a0', /malformed address/],
    ['local host:1', /malformed host/],
    ['-bad-.com:1', /malformed host/],
    ['300.1.1.1:1', /malformed host/],
    ['::1:4440', /malformed address/],
    ['[::g]:4440', /malformed host/],
    ['[1:2:3:4:5:6:7:8:9]:1', /malformed host/],
    ['http://h:1', /malformed address/],
  ];
  for (const [addr, why] of bad) refuses(full({ p: { address: addr, role: 'aggregator' } }), 'players.p.address', why);
  refuses(full({ p: { address: 4440, role: 'aggregator' } }), 'players.p.address', /expected a "host:port" string/);
  refuses(full({ p: { role: 'aggregator' } }), 'players.p.address', /missing/);
  for (const ok of ['a:1', '127.0.0.1:65535', '[::1]:8', '[fe80::1:2]:9', 'node-1.example.org:443', '[::ffff:10.0.0.1]:5']) {
    assert.doesNotThrow(() => parseAddress(ok, 'x'), ok);
  }
  fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (h, p) => {
    assert.deepEqual(parseAddress(`${h}:${p}`, 'x'), { host: h, port: p });
  }), { numRuns: 50 });
});

test('config: bad key encoding, shared keys, keys required', () => {
  refuses(full({ p: { address: 'h:1', role: 'aggregator', publicKey: 'abc' } }), 'players.p.publicKey', /44 characters/);
  refuses(full({ p: { address: 'h:1', role: 'aggregator', publicKey: k1.slice(0, -2) + '!=' } }), 'players.p.publicKey', /base64/);
  refuses(full({ p: { address: 'h:1', role: 'aggregator', publicKey: 7 } }), 'players.p.publicKey', /expected base64 string/);
  refuses(full({ p: { address: 'h:1', role: 'aggregator', publicKey: k1 }, q: { address: 'h:2', role: 'aggregator', publicKey: k1 } }), 'players.q.publicKey', /same public key as player "p"/);
  refuses(full({ p: { address: 'h:1', role: 'aggregator' } }), 'players.p.publicKey', /missing/, { requireKeys: true });
});

test("config: 'tls' links need every player's certificate, each a self-signed Ed25519 certificate for that name, valid now", () => {
  const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
  const s0 = generateTlsIdentity('server0');
  const s1 = generateTlsIdentity('server1');
  const tls = (players: Record<string, unknown>) => JSON.stringify({ version: 1, links: 'tls', players });
  const c = parseConfig(tls({
    server0: { address: 'h:1', role: 'compute-server', certificate: b64(s0.certificate.der) },
    server1: { address: 'h:2', role: 'compute-server', certificate: s1.certificate.pem }, // PEM accepted too
  }), { requireKeys: true });
  assert.equal(c.links, 'tls');
  assert.deepEqual(pinnedCertificates(c).get('server1'), s1.certificate.der);
  assert.deepEqual(parseConfig(formatConfig(c)), c);
  assert.match(formatConfig(c), /"links": "tls"/);
  assert.equal(parseConfig(full({ p: { address: 'h:1', role: 'aggregator' } })).links, 'noise'); // the default
  const one = (cert: unknown, name = 'server0') => tls({ [name]: { address: 'h:1', role: 'compute-server', certificate: cert } });
  const at = 'players.server0.certificate';
  refuses(tls({ server0: { address: 'h:1', role: 'compute-server', publicKey: k1 } }), at, /missing.*fedcrypt keygen/, { requireKeys: true });
  assert.doesNotThrow(() => parseConfig(tls({ server0: { address: 'h:1', role: 'compute-server' } }))); // only the transport requires them
  refuses(one(7), at, /expected a base64 DER/);
  refuses(one('not base64!'), at, /not base64/);
  refuses(one(b64(Uint8Array.of(0x30, 0x03, 1, 2, 3))), at, /not an X.509 certificate/);
  refuses(one(b64(s1.certificate.der)), at, /for "server1", not "server0"/); // another player's certificate
  const other = generateKeyPairSync('ed25519');
  const forged = selfSignedCertificate({ privateKey: other.privateKey, commonName: 'server0' });
  const flipped = Uint8Array.from(forged.der);
  flipped[flipped.length - 5]! ^= 1; // breaks the self-signature
  refuses(one(b64(flipped)), at, /not self-signed|not an X.509/);
  const old = selfSignedCertificate({ privateKey: other.privateKey, commonName: 'server0', notBefore: new Date('2001-01-01T00:00:00Z'), validDays: 30 });
  refuses(one(b64(old.der)), at, /valid from 2001-01-01.*not now/);
  refuses(tls({ server0: { address: 'h:1', role: 'compute-server', certificate: b64(s0.certificate.der) }, x: { address: 'h:2', role: 'aggregator', certificate: b64(s0.certificate.der) } }), 'players.x.certificate', /for "server0", not "x"/);
  refuses(JSON.stringify({ version: 1, links: 'ssl', players: { p: 'h:1' } }), 'links', /unknown link mode "ssl", expected one of tls, noise/);
  refuses(full({ p: { address: 'h:1', role: 'aggregator', certificate: b64(s0.certificate.der) } }), 'players.p.certificate', /for "server0", not "p"/);
});

test('config: structural errors (not JSON, not an object, no players, bad names, unknown fields, version)', () => {
  refuses('{"a": ', 'a', /invalid JSON.*unexpected end/);
  refuses('[1]', '<root>', /expected a JSON object/);
  refuses('{}', '<root>', /no players/);
  refuses(JSON.stringify({ players: {} }), 'players', /no players/);
  refuses(JSON.stringify({ players: [] }), 'players', /expected an object/);
  refuses(full({ 'bad name': { address: 'h:1', role: 'aggregator' } }), 'players.bad name', /invalid player name/);
  refuses(full({ p: { address: 'h:1', role: 'aggregator', port: 3 } }), 'players.p.port', /unknown field/);
  refuses(full({ p: 42 }), 'players.p', /expected "host:port"/);
  refuses(JSON.stringify({ version: 2, players: { p: 'h:1' } }), 'version', /unsupported config version/);
  refuses(JSON.stringify({ players: { p: { address: 'h:1', role: 'aggregator' } }, extra: 1 }), 'extra', /unknown top-level field/);
  assert.throws(() => parseConfig(3 as never), (e: Error) => e instanceof TypeError && /"text"/.test(e.message));
});

test('strict JSON parser agrees with JSON.parse on valid JSON and refuses duplicates', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const s = JSON.stringify(v);
    assert.deepEqual(parseJsonStrict(s), JSON.parse(s));
  }), { numRuns: 200 });
  assert.throws(() => parseJsonStrict('{"a":{"b":1,"b":2}}'), (e: Error) => e instanceof DuplicateKeyError && e.path === 'a.b');
  assert.throws(() => parseJsonStrict('{"a":1} x'), SyntaxError);
  assert.throws(() => parseJsonStrict('{"__proto__":1,"__proto__":2}'), DuplicateKeyError);
});

test('keygen writes a 0600 private key and a .pub; loadIdentity reads it back; config from file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-keys-'));
  try {
    const r = keygen('server0', join(dir, 'keys'));
    assert.equal(statSync(r.privateKeyPath).mode & 0o777, 0o600);
    assert.equal(readFileSync(r.publicKeyPath, 'utf8').trim(), r.publicKey);
    const id = loadIdentity(r.privateKeyPath);
    assert.equal(id.name, 'server0');
    assert.equal(encodePublicKey(id.publicKey), r.publicKey);
    assert.doesNotMatch(readFileSync(r.publicKeyPath, 'utf8'), /privateKey/);
    // the TLS credential: the certificate (PEM file, base64 DER printed) names the player and carries the key file's TLS key
    assert.ok(id.tls);
    assert.equal(Buffer.from(id.tls.certificate.der).toString('base64'), r.certificate);
    assert.equal(readFileSync(r.certificatePath, 'utf8'), id.tls.certificate.pem);
    assert.match(new X509Certificate(readFileSync(r.certificatePath)).subject, /^CN=server0$/);
    assert.doesNotMatch(readFileSync(r.certificatePath, 'utf8'), /PRIVATE/);
    assert.equal(String(id.tls.privateKey), '[object KeyObject]'); // does not print
    // a v1 key file (no TLS credential) still loads
    const v1 = JSON.parse(readFileSync(r.privateKeyPath, 'utf8')) as Record<string, string>;
    const v1Path = join(dir, 'v1.key');
    writeFileSync(v1Path, JSON.stringify({ format: 'fedcrypt-x25519-v1', name: v1['name'], publicKey: v1['publicKey'], privateKey: v1['privateKey'] }), { mode: 0o600 });
    assert.equal(loadIdentity(v1Path).tls, undefined);
    assert.equal(encodePublicKey(loadIdentity(v1Path).publicKey), r.publicKey);
    // a certificate swapped in from another key file is refused
    const other = keygen('server0', join(dir, 'other'));
    writeFileSync(v1Path, JSON.stringify({ ...v1, certificate: other.certificate }), { mode: 0o600 });
    assert.throws(() => loadIdentity(v1Path), (e: Error) => e instanceof ConfigError && /does not match tlsPrivateKey/.test(e.message));
    assert.throws(() => keygen('server0', join(dir, 'keys')), RangeError); // no silent overwrite
    const r2 = keygen('server0', join(dir, 'keys'), { force: true });
    assert.notEqual(r2.publicKey, r.publicKey);
    assert.equal(statSync(r2.privateKeyPath).mode & 0o777, 0o600);
    chmodSync(r2.privateKeyPath, 0o644);
    assert.throws(() => loadIdentity(r2.privateKeyPath), (e: Error) => e instanceof ConfigError && /chmod 600/.test(e.message));
    chmodSync(r2.privateKeyPath, 0o600);
    const body = JSON.parse(readFileSync(r2.privateKeyPath, 'utf8')) as Record<string, string>;
    writeFileSync(r2.privateKeyPath, JSON.stringify({ ...body, publicKey: r.publicKey }));
    assert.throws(() => loadIdentity(r2.privateKeyPath), /does not match/);
    writeFileSync(r2.privateKeyPath, 'not json');
    assert.throws(() => loadIdentity(r2.privateKeyPath), ConfigError);
    assert.throws(() => keygen('../evil', dir), (e: Error) => e instanceof RangeError && /"name"/.test(e.message));
    assert.throws(() => keygen(3 as never, dir), (e: Error) => e instanceof TypeError && /"name"/.test(e.message));
    assert.throws(() => keygen('a', '' as never), (e: Error) => e instanceof TypeError && /"dir"/.test(e.message));
    const cfgPath = join(dir, 'config.json');
    writeFileSync(cfgPath, full({ server0: { address: 'h:1', role: 'compute-server', publicKey: r.publicKey }, x: { address: 'h:1', role: 'aggregator' } }));
    assert.throws(() => loadConfig(cfgPath), (e: Error) => e instanceof ConfigError && e.message.startsWith(cfgPath) && e.entry === 'players.x.address');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("startPlayer, 'tls' links: the key file's certificate must be the one pinned; an old key file without one is refused", async () => {
  const { startPlayer } = await import('../../src/deploy/player.js');
  const { freePorts } = await import('../transport/helpers.js');
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-player-tls-'));
  try {
    const [p0, p1] = await freePorts(2);
    const k0 = keygen('server0', dir);
    const k1 = keygen('server1', dir);
    const cfgPath = join(dir, 'config.json');
    writeFileSync(cfgPath, JSON.stringify({ version: 1, links: 'tls', players: {
      server0: { address: `127.0.0.1:${p0}`, role: 'compute-server', certificate: k0.certificate },
      server1: { address: `127.0.0.1:${p1}`, role: 'compute-server', certificate: k1.certificate },
    } }));
    const t0 = await startPlayer({ configPath: cfgPath, name: 'server0', keyPath: k0.privateKeyPath, handleSignals: false, logger: () => {} });
    const t1 = await startPlayer({ configPath: cfgPath, name: 'server1', keyPath: k1.privateKeyPath, handleSignals: false, logger: () => {} });
    try {
      assert.equal(t0.links, 'tls');
      await t0.send('server0', 'server1', 'k', Uint8Array.of(4, 2));
      assert.deepEqual(await t1.receive('server1', 'server0', 'k', { timeoutMs: 5000 }), Uint8Array.of(4, 2));
    } finally {
      await t0.close();
      await t1.close();
    }
    const body = JSON.parse(readFileSync(k0.privateKeyPath, 'utf8')) as Record<string, string>;
    writeFileSync(k0.privateKeyPath, JSON.stringify({ format: 'fedcrypt-x25519-v1', name: 'server0', publicKey: body['publicKey'], privateKey: body['privateKey'] }));
    await assert.rejects(startPlayer({ configPath: cfgPath, name: 'server0', keyPath: k0.privateKeyPath, handleSignals: false }), (e: Error) => e instanceof ConfigError && /no TLS certificate/.test(e.message));
    keygen('server0', dir, { force: true }); // the config now pins the old certificate
    await assert.rejects(startPlayer({ configPath: cfgPath, name: 'server0', keyPath: k0.privateKeyPath, handleSignals: false }), (e: Error) => e instanceof ConfigError && e.entry === 'players.server0.certificate');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startPlayer: config + key file start a player; a key of another player or not matching the config is refused', async () => {
  const { startPlayer } = await import('../../src/deploy/player.js');
  const { freePorts } = await import('../transport/helpers.js');
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-player-'));
  try {
    const [p0, p1] = await freePorts(2);
    const k0 = keygen('server0', dir);
    const k1 = keygen('server1', dir);
    const cfgPath = join(dir, 'config.json');
    writeFileSync(cfgPath, full({
      server0: { address: `127.0.0.1:${p0}`, role: 'compute-server', publicKey: k0.publicKey },
      server1: { address: `127.0.0.1:${p1}`, role: 'compute-server', publicKey: k1.publicKey },
    }));
    const t0 = await startPlayer({ configPath: cfgPath, name: 'server0', keyPath: k0.privateKeyPath, handleSignals: false, logger: () => {} });
    const t1 = await startPlayer({ configPath: cfgPath, name: 'server1', keyPath: k1.privateKeyPath, handleSignals: false, logger: () => {} });
    try {
      await t0.send('server0', 'server1', 'k', Uint8Array.of(4, 2));
      assert.deepEqual(await t1.receive('server1', 'server0', 'k', { timeoutMs: 5000 }), Uint8Array.of(4, 2));
    } finally {
      await t0.close();
      await t1.close();
    }
    await assert.rejects(startPlayer({ configPath: cfgPath, name: 'server0', keyPath: k1.privateKeyPath, handleSignals: false }), (e: Error) => e instanceof ConfigError && /for player "server1"/.test(e.message));
    keygen('server0', dir, { force: true }); // the config now pins the old key
    await assert.rejects(startPlayer({ configPath: cfgPath, name: 'server0', keyPath: k0.privateKeyPath, handleSignals: false }), (e: Error) => e instanceof ConfigError && e.entry === 'players.server0.publicKey');
    await assert.rejects(startPlayer({ configPath: cfgPath, name: 'nobody', keyPath: k0.privateKeyPath, handleSignals: false }), ConfigError);
    await assert.rejects(startPlayer({ configPath: cfgPath, name: '', keyPath: k0.privateKeyPath }), (e: Error) => e instanceof TypeError && /"name"/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
