/** The attack harness of the policy tests: real players (servePlayer) on one hub, every delivery recorded. */
import assert from 'node:assert/strict';
import type { DeployConfig } from '../../src/transport/config.js';
import type { PartyPolicy } from '../../src/deploy/policy.js';
import { servePlayer } from '../../src/deploy/training.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';

const dec = new TextDecoder();

export interface Sent { from: string; to: string; key: string; payload: Uint8Array }

/** Real players (servePlayer) on one hub, every delivery recorded. */
export function players(c: DeployConfig, names: string[], policy?: (name: string) => PartyPolicy | undefined) {
  const hub = new MemoryHub();
  const sent: Sent[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    sent.push({ from, to, key, payload: payload.slice() });
    deliver(from, to, key, payload);
  };
  const logs: string[] = [];
  let stopped = false;
  const serving = names.map((n) => {
    const p = policy?.(n);
    return servePlayer(new MemoryTransport({ hub, local: [n] }), c, n, { log: (l) => logs.push(l), stopped: () => stopped, ...(p ? { policy: p } : {}) });
  });
  return {
    hub, sent, logs,
    modelOwner: new MemoryTransport({ hub, local: ['model-owner'] }),
    async close() {
      stopped = true;
      hub.close();
      await Promise.all(serving);
    },
  };
}

/** Everything `victim` sent: only a refusal, nothing else. */
export function assertOnlyRefused(sent: Sent[], victim: string, jobId: string, r: string): void {
  const out = sent.filter((m) => m.from === victim);
  assert.equal(out.length, 1, `${victim} sent ${out.map((m) => `${m.key} (${m.payload.byteLength} B)`).join(', ')}`);
  assert.equal(out[0]!.to, 'model-owner');
  assert.equal(out[0]!.key, `${jobId}/ack`);
  assert.ok(out[0]!.payload.byteLength < 600, `the refusal is ${out[0]!.payload.byteLength} bytes`);
  const ack = JSON.parse(dec.decode(out[0]!.payload)) as { ok: boolean; rule: string; error: string };
  assert.equal(ack.ok, false);
  assert.equal(ack.rule, r);
}

