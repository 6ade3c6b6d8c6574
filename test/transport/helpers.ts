/** Helpers for the gRPC transport tests: free ports, configs with fresh identities. */
import { createServer } from 'node:net';
import { generateIdentity } from '../../src/crypto/identity.js';
import { encodePublicKey } from '../../src/crypto/identity.js';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import type { LocalParty } from '../../src/crypto/secure-channel.js';

/** `n` distinct free TCP ports on 127.0.0.1 (bound to port 0, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface Deployment {
  config: DeployConfig;
  configText: string;
  parties: Map<string, LocalParty>;
}

/** A config for `names` on 127.0.0.1 with free ports and fresh key pairs. */
export async function deployment(names: string[]): Promise<Deployment> {
  const ports = await freePorts(names.length);
  const parties = new Map<string, LocalParty>();
  const players: Record<string, unknown> = {};
  names.forEach((name, i) => {
    const identity = generateIdentity();
    parties.set(name, { name, identity });
    players[name] = { address: `127.0.0.1:${ports[i]}`, role: 'compute-server', publicKey: encodePublicKey(identity.publicKey) };
  });
  const configText = JSON.stringify({ version: 1, players }, null, 2);
  return { config: parseConfig(configText), configText, parties };
}
