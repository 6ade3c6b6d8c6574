/**
 * One player of the cross-process role suite (roles-processes.test.ts) in its
 * own OS process:
 *
 *   node --import tsx test/aggregation/role-party.ts --name client-0 --config config.json --key keys/client-0.key \
 *     --driver server --protocols insecure-reference[,...] [--client] [--min-contributors n] [--allow-insecure] [--timeout-ms ms]
 *
 * It serves its own player of the config over gRPC (mutual TLS) and runs the
 * remote executor there (`servePlayerExecutor`, on a `HostingTransport` as
 * `serveSessions` does) with the role sets of the protocol table, one session
 * at a time. With --client it hosts one client, itself. Sessions are named on
 * stdin, one JSON line each, with a client's OWN input (stdin is the only way
 * it arrives):
 *   { "session": "s000q", "input"?: { "<source>": <JS value>, ... } }
 * and the executor's `data` command reads that input (`clientData('<source>')`).
 * On stdout, one JSON line each:
 *   { "ready": name }                       serving
 *   { "report": { party, session, endedBy, received, sent, stray, log, aggregates } }
 * once the session is over (the driver's abort received): received/sent are the
 * session's messages on the transport this player gives the executor (see
 * role-recording.ts), stray the messages of no session it served, log the
 * executor's log lines, endedBy 'end' (the driver's end command) or 'abort',
 * and aggregates what each of its aggregator roles resolved with
 * ({ plan, result } as base64 of planToBytes / resultToBytes, result null when
 * the plan's target is SERVER).
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startPlayer } from '../../src/deploy/player.js';
import { loadIdentity } from '../../src/deploy/keys.js';
import { loadConfig, pinnedKeys } from '../../src/transport/config.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { abortKey, servePlayerExecutor } from '../../src/runtime/remote/player.js';
import { unframe } from '../../src/runtime/remote/wire.js';
import { planToBytes } from '../../src/aggregation/plan.js';
import { resultToBytes } from '../../src/aggregation/wire.js';
import { protocolByName, watched } from './role-protocols.js';
import { ofSession, RecordingTransport } from './role-recording.js';

const b64 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      name: { type: 'string' },
      config: { type: 'string' },
      key: { type: 'string' },
      driver: { type: 'string' },
      protocols: { type: 'string' },
      client: { type: 'boolean', default: false },
      'min-contributors': { type: 'string', default: '1' },
      'allow-insecure': { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '60000' },
    },
  });
  for (const k of ['name', 'config', 'key', 'driver', 'protocols'] as const) if (!a[k]) throw new TypeError(`role-party: --${k} is required`);
  const me = a.name!;
  const driver = a.driver!;
  const identity = loadIdentity(a.key!);
  const env = { identities: new Map([[me, identity]]), pinnedKeys: pinnedKeys(loadConfig(a.config!, { requireKeys: true })) };
  const aggregates: { plan: string; result: string | null }[] = [];
  const made = a.protocols!.split(',').map((n) => protocolByName(n).make(env));
  const protocols = made.map((r) =>
    watched(r, { aggregator: (plan, result) => aggregates.push({ plan: b64(planToBytes(plan)), result: result === undefined ? null : b64(resultToBytes(plan, result)) }) }),
  );
  const policy = { minContributors: Number(a['min-contributors']), allowInsecure: a['allow-insecure']! };

  const grpc = await startPlayer({ configPath: a.config!, name: me, keyPath: a.key! });
  const rec = new RecordingTransport(new HostingTransport(grpc));
  const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
  const served: string[] = [];
  out({ ready: me });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const { session, input } = JSON.parse(line) as { session: string; input?: Record<string, unknown> };
    served.push(session);
    const log: string[] = [];
    const from = aggregates.length;
    const aborted = rec.receivedOne((m) => m.key === abortKey(session));
    try {
      await servePlayerExecutor(rec, {
        me,
        driver,
        session,
        clients: a.client ? [me] : [],
        data: (source) => {
          if (input === undefined || !(source in input)) throw new RangeError(`${me}: no input '${source}' for session ${session}`);
          return input[source];
        },
        roles: protocols,
        policy,
        timeoutMs: Number(a['timeout-ms']),
        log: (l) => log.push(l),
      });
    } catch (e) {
      log.push(`servePlayerExecutor failed: ${(e as Error).name}: ${(e as Error).message}`);
    }
    // the driver ends every session with its abort (after 'end', or at its first failure)
    await aborted;
    const received = ofSession(rec.received, session);
    const ended = received.some((m) => /^exec\/[^/]+\/\d+$/.test(m.key) && unframe(Buffer.from(m.b64!, 'base64'), 'command').header['op'] === 'end');
    out({
      report: {
        party: me,
        session,
        endedBy: ended ? 'end' : 'abort',
        received,
        sent: ofSession(rec.sent, session),
        stray: [...rec.received, ...rec.sent].filter((m) => !served.some((s) => m.key.includes(s))),
        log,
        aggregates: aggregates.slice(from),
      },
    });
  }
  await Promise.all(made.map((p) => p.close?.()));
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`role-party: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
