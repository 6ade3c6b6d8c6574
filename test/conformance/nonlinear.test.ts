/**
 * One conformance suite for the nonlinear, pooling, convolution and smooth
 * ops over every protocol × both precisions (docs/encrypted-ml.md
 * "Conformance"). For each op of the table (nl-ops*.ts) and each protocol
 * that implements it: reveal(op(encrypt(x))) against the float64 (or ring
 * integer) reference, within the op table's bound, on random inputs
 * (fast-check) and on the edge inputs; the documented properties; and the
 * rounds and bytes per party equal to the op table's formula (nl-costs.ts),
 * on the recording transport of test/encrypted/rounds.ts. A protocol
 * without an op is in the support table, and the suite checks that it has
 * no such method and that the op is refused clearly (ProtocolMismatchError
 * naming the op and the protocol, before any message), never skipped.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, computation, Plaintext, Pond, ProtocolMismatchError, TensorSpec, type AnyProtocol, type Precision, type Symbolic } from '../../src/encrypted/index.js';
import { MemoryTransport } from '../../src/transport/index.js';
import { RoundTransport } from '../encrypted/rounds.js';
import { RecordingTransport } from '../encrypted/recording.js';
import type { Cost } from './nl-costs.js';
import { alice, cfgOf, COMPARISON_OPS, dealer, PROTOCOL_NAMES, server0, server1, server2, type AnyP, type Ctx, type NlOp, type Out, type ProtoName } from './nl-ops.js';
import { POOL_OPS } from './nl-ops-pool.js';
import { SMOOTH_OPS } from './nl-ops-smooth.js';

export const OPS: NlOp[] = [...COMPARISON_OPS, ...POOL_OPS, ...SMOOTH_OPS];

function make(proto: ProtoName, precision: Precision, transport: MemoryTransport | RoundTransport): unknown {
  if (proto === 'Plaintext') return new Plaintext({ precision, transport, players: [alice] });
  if (proto === 'Pond') return new Pond(server0, server1, dealer, { precision, transport, players: [alice] });
  return new ABY3(server0, server1, server2, { precision, transport, players: [alice] });
}
function ctx(proto: ProtoName, precision: Precision, p: unknown): Ctx {
  const cfg = cfgOf(precision);
  return { proto, p: p as AnyP, precision, cfg, l: cfg.bits, f: cfg.frac, u: 2 ** -cfg.frac, E: cfg.bits / 8 };
}
/** Where the method is: 'boolean.and' on p.boolean; 'invSqrt' is a function, not a method (ABY3 only). */
function hasMethod(p: unknown, method: string): boolean {
  if (method === 'invSqrt') return p instanceof ABY3;
  const path = method.split('.');
  let o: unknown = p;
  for (const k of path) o = o === undefined || o === null ? undefined : (o as Record<string, unknown>)[k];
  return typeof o === 'function';
}

function compare(name: string, got: Out, want: Out, bound: number | number[]): void {
  assert.equal(got.length, want.length, `${name}: result size`);
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i]!, want[i]!];
    if (typeof w === 'bigint') {
      assert.equal(g, w, `${name}: element ${i}: got ${g}, want ${w} (exact)`);
      continue;
    }
    const b = typeof bound === 'number' ? bound : bound[i]!;
    // float64 rounding of the reference itself is far below any bound
    assert.ok(typeof g === 'number' && Math.abs(g - w) <= b + Math.abs(w) * 2 ** -50, `${name}: element ${i}: got ${g}, want ${w}, |err| ${Math.abs(Number(g) - w)} > bound ${b}`);
  }
}

const PARTIES: Record<ProtoName, string[]> = { Plaintext: [], Pond: ['server0', 'server1', 'dealer'], ABY3: ['server0', 'server1', 'server2'] };

function checkCost(t: RoundTransport, proto: ProtoName, label: string, want: Cost): void {
  if (want.lockstep !== undefined) assert.equal(t.lockstepRounds(), want.lockstep, `${label}: lock-step rounds`);
  if (want.path !== undefined) assert.equal(t.rounds(), want.path, `${label}: critical path`);
  if (want.online !== undefined) assert.equal(t.onlineRounds(), want.online, `${label}: online rounds`);
  const parties = PARTIES[proto];
  assert.deepEqual(parties.map((s) => t.sentBy(s)), want.bytes, `${label}: bytes sent by ${parties.join(', ')}`);
  assert.ok(t.log.every((m) => parties.includes(m.from) && parties.includes(m.to)), `${label}: only the parties talk`);
  if (proto === 'Pond') {
    assert.ok(t.log.every((m) => m.to !== 'dealer'), `${label}: the producer receives nothing`);
    const dealt = t.log.filter((m) => m.from === 'dealer');
    assert.ok(dealt.every((m) => m.to === 'server1'), `${label}: the producer sends to server1 only`);
    if (want.dealerMessages !== undefined) assert.equal(dealt.length, want.dealerMessages, `${label}: the producer's messages`);
  }
}

for (const precision of ['low', 'high'] as const) {
  for (const proto of PROTOCOL_NAMES) {
    const supported = OPS.filter((o) => o.protocols.includes(proto));
    describe(`nonlinear conformance: ${proto} (precision ${precision})`, () => {
      let c: Ctx;
      let cc: Ctx;
      let t: RoundTransport;
      let vt: MemoryTransport;
      before(async () => {
        vt = new MemoryTransport();
        c = ctx(proto, precision, make(proto, precision, vt));
        t = new RoundTransport(new MemoryTransport(), { offline: ['dealer'] });
        cc = ctx(proto, precision, make(proto, precision, t));
        if (supported.length > 0) {
          // key set-up (ABY3's PRF keys, Pond's producer keys) outside the counts
          const x = await cc.p.encrypt(alice, [1, 2]);
          await cc.p.truncate(await cc.p.mul(x, x));
        }
      });
      if (supported.length === 0) {
        it(`implements none of the ${OPS.length} ops of the table: each refused (see "support table")`, () => {
          for (const o of OPS) assert.ok(!hasMethod(c.p, o.method), `${proto} has ${o.method}: update the support table`);
        });
      }
      for (const o of supported) {
        it(`${o.name}: against the reference on random and edge inputs (${o.range})`, async () => {
          const check = async (input: unknown, what: string) => {
            const got = await o.apply(c, input);
            const want = o.reference(c, input);
            compare(`${o.name} (${what})`, got, want, o.bound(c, input, want));
          };
          for (const [i, e] of o.edges(c).entries()) await check(e, `edge case ${i}`);
          const numRuns = typeof o.numRuns === 'number' ? o.numRuns : o.numRuns[proto]!;
          await fc.assert(fc.asyncProperty(o.inputs(c), (input) => check(input, 'random')), { numRuns });
          for (const pr of o.properties ?? []) await pr.check(c);
          assert.equal(vt.hub.pending(), 0, 'no message left undelivered');
        });
        const formula = o.cost.formula[proto];
        it(`${o.name}: rounds and bytes per party equal the op table's formula`, async () => {
          assert.ok(formula !== undefined, `${o.name}: no cost formula for ${proto}`);
          for (const s of o.cost.cases(cc)) {
            const run = await o.cost.prepare(cc, s);
            t.reset();
            await run();
            checkCost(t, proto, `${o.name} ${o.cost.label(s)}`, formula(cc, s));
            assert.equal(t.inner.hub.pending(), 0, `${o.name} ${o.cost.label(s)}: no message left undelivered`);
          }
        });
      }
    });
  }
}

describe('nonlinear conformance: support table', () => {
  const protos = (rec: RecordingTransport) => ({
    Plaintext: new Plaintext({ transport: rec, players: [alice] }),
    Pond: new Pond(server0, server1, dealer, { transport: rec, players: [alice] }),
    ABY3: new ABY3(server0, server1, server2, { transport: rec, players: [alice] }),
  });

  it('each protocol has exactly the methods the table says it supports', () => {
    const ps = protos(new RecordingTransport());
    for (const o of OPS) for (const proto of PROTOCOL_NAMES) {
      assert.equal(hasMethod(ps[proto], o.method), o.protocols.includes(proto), `${o.name} under ${proto}: the support table says ${o.protocols.includes(proto) ? 'supported' : 'unsupported'}`);
    }
  });

  it('an unsupported op is refused clearly (ProtocolMismatchError naming the op and the protocol), before any message', async () => {
    const rec = new RecordingTransport();
    const ps = protos(rec);
    let refused = 0;
    for (const o of OPS) for (const proto of PROTOCOL_NAMES.filter((q) => !o.protocols.includes(q))) {
      const p = ps[proto];
      const re = (e: unknown) => e instanceof ProtocolMismatchError && e.message.includes(proto) && e.message.includes(o.method.replace(/^boolean\./, ''));
      if (o.ir !== undefined) {
        const comp = computation((...xs: Symbolic[]) => o.ir!.build(...xs), { inputNames: o.ir.args.map((_, i) => `a${i}`) });
        assert.throws(() => comp.concrete(p as AnyProtocol, o.ir!.args.map((a) => TensorSpec.encrypted(a))), re, `${o.name} under ${proto} (computation IR)`);
      } else {
        assert.ok(o.refuse !== undefined, `${o.name}: neither an IR form nor a refusal`);
        // boolean.*: Plaintext has no boolean sharing (no 'boolean' member: a type error in TypeScript, a TypeError naming the op in JS)
        const op = o.method.split('.').pop()!;
        const ok = (e: unknown) => re(e) || (o.method.startsWith('boolean.') && e instanceof TypeError && (e as Error).message.includes(`'${op}'`));
        await assert.rejects(async () => o.refuse!(p), ok, `${o.name} under ${proto}`);
      }
      refused++;
    }
    assert.ok(refused > 0);
    assert.equal(rec.take().length, 0, 'no message');
  });
});
