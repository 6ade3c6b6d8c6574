/**
 * The README's first two steps through the CLI: `fedcrypt keygen` for each
 * player, a config.json assembled from the lines it prints, and that config
 * accepted with every credential the links need.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { loadConfig } from '../../src/transport/config.js';
import { loadIdentity } from '../../src/deploy/keys.js';
import { startCli } from './helpers.js';

test('cli: keygen prints the config lines for a player; a config made of them loads for tls and for noise links', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-cli-keygen-'));
  try {
    const players: Record<string, Record<string, unknown>> = {};
    const names: [string, string][] = [['model-owner', 'model-owner'], ['owner0', 'data-owner']];
    await Promise.all(names.map(async ([name, role], i) => {
      const p = startCli(name, ['keygen', '--name', name, '--dir', 'keys'], dir);
      assert.equal(await p.exited, 0, p.out.join('\n'));
      const out = p.out.join('\n');
      assert.match(out, new RegExp(`wrote keys/${name}\\.key \\(keep private\\), keys/${name}\\.pub and keys/${name}\\.crt`));
      const cert = /"certificate": "([A-Za-z0-9+/=]+)"/.exec(out)?.[1];
      const pub = /"publicKey": "([A-Za-z0-9+/=]+)"/.exec(out)?.[1];
      assert.ok(cert && pub, out);
      assert.doesNotMatch(out, /PRIVATE|privateKey/);
      assert.equal(statSync(join(dir, 'keys', `${name}.key`)).mode & 0o777, 0o600);
      assert.equal(new X509Certificate(readFileSync(join(dir, 'keys', `${name}.crt`))).raw.toString('base64'), cert);
      assert.equal(Buffer.from(loadIdentity(join(dir, 'keys', `${name}.key`)).tls!.certificate.der).toString('base64'), cert);
      players[name] = { address: `127.0.0.1:${4440 + i}`, role, certificate: cert, publicKey: pub };
    }));
    for (const links of ['tls', 'noise']) {
      writeFileSync(join(dir, `${links}.json`), JSON.stringify({ version: 1, links, players }));
      const c = loadConfig(join(dir, `${links}.json`), { requireKeys: true });
      assert.equal(c.links, links);
      assert.equal(c.players.length, 2);
    }
    // keygen does not overwrite a key unless forced
    const again = startCli('again', ['keygen', '--name', 'owner0', '--dir', 'keys'], dir);
    assert.notEqual(await again.exited, 0);
    assert.match(again.out.join('\n'), /already exists/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
