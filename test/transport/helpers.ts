/** Helpers for the gRPC transport tests: free ports, configs with fresh identities. */
import { createServer } from 'node:net';
import { exportPrivateKey, generateIdentity } from '../../src/crypto/identity.js';
import { encodePublicKey } from '../../src/crypto/identity.js';
import { generateTlsIdentity } from '../../src/crypto/tls-identity.js';
import { parseConfig, type DeployConfig, type LinkMode } from '../../src/transport/config.js';
import type { LocalPlayer } from '../../src/transport/grpc.js';

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
  parties: Map<string, LocalPlayer>;
}

/** Both link modes, for tests that run over each. */
export const LINK_MODES: LinkMode[] = ['tls', 'noise'];

/** A config for `names` on 127.0.0.1 with free ports, fresh key pairs and certificates; links 'noise' unless given. */
export async function deployment(names: string[], links: LinkMode = 'noise'): Promise<Deployment> {
  const ports = await freePorts(names.length);
  const parties = new Map<string, LocalPlayer>();
  const players: Record<string, unknown> = {};
  names.forEach((name, i) => {
    const identity = generateIdentity();
    const tls = generateTlsIdentity(name);
    parties.set(name, { name, identity, tls });
    players[name] = {
      address: `127.0.0.1:${ports[i]}`,
      role: 'compute-server',
      publicKey: encodePublicKey(identity.publicKey),
      certificate: Buffer.from(tls.certificate.der).toString('base64'),
    };
  });
  const configText = JSON.stringify({ version: 1, links, players }, null, 2);
  return { config: parseConfig(configText), configText, parties };
}

/** The secrets of `name` for test/transport/peer-process.ts (FEDCRYPT_PEER fields privateKey, tlsKey). */
export function peerSecrets(d: Deployment, name: string): { privateKey: string; tlsKey: string } {
  const p = d.parties.get(name)!;
  return {
    privateKey: Buffer.from(exportPrivateKey(p.identity!.privateKey)).toString('base64'),
    tlsKey: p.tls!.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  };
}
