/**
 * One party of an aggregation in its own OS process, for
 * roles-processes.test.ts:
 *
 *   node --import tsx test/aggregation/role-party.ts --name client-0 --config config.json --key keys/client-0.key \
 *     --driver server --protocols insecure-reference[,...] [--min-contributors n] [--allow-insecure] [--timeout-ms ms]
 *
 * It serves its own player of the config over gRPC (mutual TLS), takes plans
 * from the driver (`serveRoles`), and runs its role in each. Its OWN input
 * only arrives on stdin, one JSON line per plan:
 *   { "invocationId": ..., "values": "<base64 of leavesToBytes>", "weight"?: number }
 * On stdout, one JSON line each:
 *   { "ready": name }                      serving
 *   { "report": { party, seq, invocationId, role, index, received, sent, result?, error?, aborted? } }
 * where received/sent list every message of the plan this party's role and
 * control received or sent (unattributed: any other message on its transport but
 * the plans themselves): { from, to, key, bytes, sha256, b64 } (b64: the payload, when small),
 * and result is the base64 of `resultToBytes` where this party is a target.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startPlayer } from '../../src/deploy/player.js';
import { loadIdentity } from '../../src/deploy/keys.js';
import { loadConfig, pinnedKeys } from '../../src/transport/config.js';
import { serveRoles, type RoleOutcome } from '../../src/deploy/roles-player.js';
import type { AggregationPlan } from '../../src/aggregation/plan.js';
import type { ClientInput } from '../../src/aggregation/roles.js';
import { leavesFromBytes, resultToBytes } from '../../src/aggregation/wire.js';
import { protocolByName } from './role-protocols.js';
import { PlanLog, RecordingTransport } from './role-recording.js';

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      name: { type: 'string' },
      config: { type: 'string' },
      key: { type: 'string' },
      driver: { type: 'string' },
      protocols: { type: 'string' },
      'min-contributors': { type: 'string', default: '1' },
      'allow-insecure': { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '60000' },
    },
  });
  for (const k of ['name', 'config', 'key', 'driver', 'protocols'] as const) if (!a[k]) throw new TypeError(`role-party: --${k} is required`);
  const me = a.name!;
  const identity = loadIdentity(a.key!);
  const env = { identities: new Map([[me, identity]]), pinnedKeys: pinnedKeys(loadConfig(a.config!, { requireKeys: true })) };
  const protocols = a.protocols!.split(',').map((n) => protocolByName(n).make(env));
  const policy = { minContributors: Number(a['min-contributors']), allowInsecure: a['allow-insecure']! };

  // this party's own inputs, by invocation id (from stdin only)
  const inputs = new Map<string, { values: string; weight?: number }>();
  const waiting = new Map<string, (v: { values: string; weight?: number }) => void>();
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === '') return;
    const v = JSON.parse(line) as { invocationId: string; values: string; weight?: number };
    const w = waiting.get(v.invocationId);
    if (w) {
      waiting.delete(v.invocationId);
      w(v);
    } else inputs.set(v.invocationId, v);
  });
  const inputFor = async (plan: AggregationPlan): Promise<ClientInput> => {
    const v = inputs.get(plan.invocationId) ?? (await new Promise<{ values: string; weight?: number }>((r) => waiting.set(plan.invocationId, r)));
    inputs.delete(plan.invocationId);
    const values = leavesFromBytes(plan, new Uint8Array(Buffer.from(v.values, 'base64')), `${me}'s input`);
    return v.weight === undefined ? { values } : { values, weight: v.weight };
  };

  const grpc = await startPlayer({ configPath: a.config!, name: me, keyPath: a.key! });
  const t = new RecordingTransport(grpc);
  const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
  const log = new PlanLog(t);
  const onOutcome = (o: RoleOutcome) => {
    const inv = o.plan?.invocationId;
    const e = o.error as { name?: string; rule?: string; message?: string } | undefined;
    out({
      report: {
        party: me,
        seq: o.seq,
        invocationId: inv,
        role: o.role,
        index: o.index,
        ...(inv === undefined ? { received: [], sent: [] } : log.of(inv)),
        unattributed: log.unattributed(),
        ...(o.result && o.plan ? { result: Buffer.from(resultToBytes(o.plan, o.result)).toString('base64') } : {}),
        ...(e === undefined ? {} : { error: { name: e.name, rule: e.rule, message: e.message } }),
        ...(o.aborted ? { aborted: true } : {}),
      },
    });
  };
  out({ ready: me });
  await serveRoles(t, { me, driver: a.driver!, protocols, policy, inputFor, timeoutMs: Number(a['timeout-ms']), onOutcome, observe: log.observe });
  await Promise.all(protocols.map((p) => p.close?.()));
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`role-party: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
