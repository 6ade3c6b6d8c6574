/** Helpers for the gRPC transport tests: free ports, configs with fresh identities. */
import { createServer } from 'node:net';
import { exportPrivateKey, generateIdentity } from '../../src/crypto/identity.js';
import { encodePublicKey } from '../../src/crypto/identity.js';
import { generateTlsIdentity } from '../../src/crypto/tls-identity.js';
import { parseConfig, type DeployConfig, type LinkMode } from '../../src/transport/config.js';
import type { LocalPlayer, TransportEvent } from '../../src/transport/grpc.js';

/** Whether 127.0.0.1:`port` can be bound now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * `n` distinct free TCP ports on 127.0.0.1, each checked by binding it. They
 * are drawn at random below Linux's ephemeral range (32768 and up): a port
 * the kernel hands out for port 0 or for an outgoing connection of a test
 * running alongside (gRPC clients make many) comes from that range, and took
 * a released port before its server could bind it (CI, EADDRINUSE).
 */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < n; tries++) {
    if (tries > 1000) throw new Error(`freePorts: found only ${ports.length} of ${n} free ports in [20000, 32000)`);
    const p = 20000 + Math.floor(Math.random() * 12000);
    if (!ports.includes(p) && (await canBind(p))) ports.push(p);
  }
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

/** Hang guard of the waits below: long enough never to fail a slow but working run. */
export const HANG_GUARD_MS = 30_000;

/** Transport events as they come, and a wait for the first one (past or future) matching a predicate. */
export function eventLog(): { log: TransportEvent[]; logger: (e: TransportEvent) => void; until(pred: (e: TransportEvent) => boolean, what: string): Promise<TransportEvent> } {
  const log: TransportEvent[] = [];
  const waiters = new Set<{ pred: (e: TransportEvent) => boolean; resolve: (e: TransportEvent) => void }>();
  const logger = (e: TransportEvent) => {
    log.push(e);
    for (const w of waiters) {
      if (!w.pred(e)) continue;
      waiters.delete(w);
      w.resolve(e);
    }
  };
  const until = (pred: (e: TransportEvent) => boolean, what: string) => {
    const seen = log.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<TransportEvent>((resolve, reject) => {
      const w = { pred, resolve: (e: TransportEvent) => { clearTimeout(t); resolve(e); } };
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`no event: ${what} (within the ${HANG_GUARD_MS} ms hang guard); events: ${JSON.stringify(log)}`));
      }, HANG_GUARD_MS);
      waiters.add(w);
    });
  };
  return { log, logger, until };
}

/** Poll `cond` (state that changes without an event) until it holds; fails only past the hang guard. */
export async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + HANG_GUARD_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (hang guard ${HANG_GUARD_MS} ms)`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
