/**
 * The stack's party policy over gRPC with mutual TLS (the transport every
 * networked run uses), every player the real `serveSessions` on its own
 * GrpcTransport in this process, every send recorded at the sender:
 *
 *  1. a model owner that asks for the plaintext reference (each data
 *     owner's value to an aggregator in the clear) is refused; the data
 *     owners send nothing but their replies;
 *  2. a secure sum over fewer data owners than owner0's own minimum
 *     (--min-contributors 4) is refused by owner0, named with the rule;
 *  3. a model owner whose certificate is not the one pinned in the
 *     players' config cannot open a session: the TLS handshake refuses it,
 *     each player logs the refusal, and no player sends it a byte.
 * (The claims of policy.test.ts / networked.test.ts against the SPMD job
 * path, carried over; no processes: the links are real gRPC + TLS on
 * 127.0.0.1.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError, withContext } from '../../src/core/index.js';
import { secureSumComputation } from '../../src/runtime/index.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { openSession, serveSessions } from '../../src/deploy/session.js';
import { DEFAULT_POLICY, resolvePolicy } from '../../src/deploy/policy.js';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { GrpcTransport, type TransportEvent } from '../../src/transport/grpc.js';
import { generateTlsIdentity } from '../../src/crypto/tls-identity.js';
import { deployment, waitFor } from '../transport/helpers.js';
import { ROLES7 } from './helpers.js';

const OWNERS = ['owner0', 'owner1', 'owner2'];
const SERVERS = ['server0', 'server1', 'server2'];
const MO = 'model-owner';
const REPLY = /^exec\/[0-9a-f]{16}\/(\d+\/reply|open)$/;
const GUARD_MS = 30_000;

interface Sent { from: string; to: string; key: string; bytes: number }

describe('party policy on the stack over gRPC with mutual TLS', { timeout: 120_000 }, () => {
  let config: DeployConfig;
  let d: Awaited<ReturnType<typeof deployment>>;
  const sent: Sent[] = [];
  const events = new Map<string, TransportEvent[]>();
  const players = new Map<string, GrpcTransport>();
  const logs: string[] = [];
  let stopped = false;
  let serving: Promise<unknown>[] = [];
  let driver: GrpcTransport | undefined;

  const transport = (name: string, cfg: DeployConfig, local: ConstructorParameters<typeof GrpcTransport>[0]['local']) => {
    const ev: TransportEvent[] = [];
    events.set(name, ev);
    const t = new GrpcTransport({ config: cfg, local, runId: 'stack-policy', connectTimeoutMs: 5000, logger: (e) => void ev.push(e) });
    const send = t.send.bind(t);
    t.send = (from, to, key, payload) => {
      sent.push({ from, to, key, bytes: payload.byteLength });
      return send(from, to, key, payload);
    };
    return t;
  };

  before(async () => {
    d = await deployment(ROLES7.map(([n]) => n), 'tls');
    const raw = JSON.parse(d.configText) as { players: Record<string, { role: string }> };
    for (const [n, r] of ROLES7) raw.players[n]!.role = r;
    config = parseConfig(JSON.stringify(raw));
    for (const n of [...OWNERS, ...SERVERS]) players.set(n, transport(n, config, d.parties.get(n)!));
    driver = transport(MO, config, d.parties.get(MO)!);
    await Promise.all([...players.values(), driver].map((t) => t.start()));
    serving = [...players].map(([n, t]) =>
      serveSessions(t, config, n, {
        // owner0's operator asks for 4 contributors; everyone else runs the defaults (no plaintext)
        policy: n === 'owner0' ? resolvePolicy(undefined, { minContributors: 4 }) : DEFAULT_POLICY,
        data: (source, c) => (source === 'vecs' ? [31337 + OWNERS.indexOf(c.name), 7] : undefined),
        log: (l) => logs.push(l),
        stopped: () => stopped,
        timeoutMs: GUARD_MS,
      }).catch((e: unknown) => e),
    );
  });

  after(async () => {
    stopped = true;
    await Promise.all([...players.values(), ...(driver ? [driver] : [])].map((t) => t.close()));
    await Promise.all(serving);
  });

  /** What `who` sent from `mark` on, besides command replies and session answers to the model owner. */
  const besidesReplies = (who: readonly string[], mark: number) =>
    sent.slice(mark).filter((m) => who.includes(m.from) && (m.to !== MO || !REPLY.test(m.key) || m.bytes >= 1000)).map((m) => `${m.from} -> ${m.to} ${m.key} (${m.bytes} B)`);

  it("a model owner asking for the plaintext reference is refused ('protocol'); the data owners send only their replies", async () => {
    const mark = sent.length;
    // the model owner's own opt-in does not make anyone else's
    const ctx = await openSession(driver!, config, { protocol: 'plaintext', policy: resolvePolicy(undefined, { insecureAllowPlaintext: true }), timeoutMs: GUARD_MS });
    await assert.rejects(withContext(ctx, () => secureSumComputation()(clientData('vecs'))), (e: unknown) =>
      e instanceof PolicyError && e.rule === 'protocol' && [...OWNERS, 'server0'].includes(e.party ?? '') && /plan asks for plaintext; this player takes part in aby3, pond$/.test(e.message));
    await ctx.close().catch(() => {});
    assert.deepEqual(besidesReplies(OWNERS, mark), []);
    assert.deepEqual(besidesReplies(SERVERS, mark), []);
  });

  it("a secure sum over three data owners is refused by owner0, which requires four ('minContributors', named); owner0 sends only its replies", async () => {
    const mark = sent.length;
    const ctx = await openSession(driver!, config, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: GUARD_MS });
    await assert.rejects(withContext(ctx, () => secureSumComputation()(clientData('vecs'))), (e: unknown) =>
      e instanceof PolicyError && e.rule === 'minContributors' && e.party === 'owner0' && /3 distinct data owners among the plan's clients, fewer than the minimum of 4/.test(e.message));
    await ctx.close().catch(() => {});
    assert.deepEqual(besidesReplies(['owner0'], mark), []);
    // no sum was revealed: nothing but replies reached the model owner
    assert.deepEqual(sent.slice(mark).filter((m) => m.to === MO && !REPLY.test(m.key)).map((m) => `${m.from} ${m.key}`), []);
  });

  it("a model owner whose certificate is not pinned in the players' config cannot open a session; the players log the refusal and send it nothing", async () => {
    // the intruder's own config pins its certificate for 'model-owner'; the players' config does not. It takes the model owner's address.
    await driver!.close();
    driver = undefined;
    const fake = generateTlsIdentity(MO);
    const text = JSON.parse(d.configText) as { players: Record<string, { role: string; certificate: string }> };
    for (const [n, r] of ROLES7) text.players[n]!.role = r;
    text.players[MO]!.certificate = Buffer.from(fake.certificate.der).toString('base64');
    const theirs = parseConfig(JSON.stringify(text));
    const intruder = transport('intruder', theirs, { name: MO, identity: d.parties.get(MO)!.identity!, tls: fake });
    await intruder.start();
    const mark = sent.length;
    const logMark = logs.length;
    try {
      await assert.rejects(openSession(intruder, theirs, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: GUARD_MS }), (e: unknown) =>
        e instanceof Error && 'peer' in e && [...OWNERS, ...SERVERS].includes(String(e.peer)) && e.message.includes(String(e.peer)));
      // at least the player the error names refused the handshake, and said why in its log
      await waitFor(() => [...OWNERS, ...SERVERS].some((n) => events.get(n)!.some((e) => e.type === 'refused' && /certificate is not pinned/.test(e.reason))), 'a refusal in a player\'s log');
      assert.deepEqual(sent.slice(mark).filter((m) => m.from !== MO).map((m) => `${m.from} -> ${m.to} ${m.key}`), [], 'a player sent the intruder something');
      // no session request reached a player: none opened or refused one
      assert.deepEqual(logs.slice(logMark).filter((l) => /session/.test(l)), []);
    } finally {
      await intruder.close();
    }
  });
});
