/**
 * One op suite over every protocol (Plaintext, Pond, ABY3; Pond and ABY3
 * also with option truncation: 'deterministic') at both
 * precisions: reveal(op(encrypt(x))) equals op(x) computed in float64, within
 * the error bound documented in docs/encrypted.md ("Error bounds"), on random
 * inputs (fast-check). u = 2^-f is one unit in the last place.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, Player, Plaintext, Pond, PublicTensor, type Precision, type ProtocolTensor } from '../../src/encrypted/index.js';
import { MemoryTransport } from '../../src/transport/index.js';

const [server0, server1, server2, alice, bob, carol] = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];

interface Mat { shape: number[]; values: Float64Array }
// The protocol methods used here, typed loosely over the three protocol classes.
interface AnyProtocol {
  encrypt(owner: Player, v: Float64Array, o: { shape: number[] }): Promise<ProtocolTensor>;
  reveal(x: ProtocolTensor, p: Player): Promise<{ read(): Float64Array }>;
  [op: string]: any;
}

const PROTOCOLS: { name: string; make: (precision: Precision, transport: MemoryTransport) => AnyProtocol }[] = [
  { name: 'Plaintext', make: (precision, transport) => new Plaintext({ precision, transport, players: [carol] }) as unknown as AnyProtocol },
  { name: 'Pond', make: (precision, transport) => new Pond(server0, server1, server2, { precision, transport, players: [carol] }) as unknown as AnyProtocol },
  { name: 'ABY3', make: (precision, transport) => new ABY3(server0, server1, server2, { precision, transport, players: [carol] }) as unknown as AnyProtocol },
  // exact (floor) truncation instead of SecureML's: the same bounds hold (docs/encrypted-ml.md, "Deterministic truncation")
  { name: 'Pond (truncation deterministic)', make: (precision, transport) => new Pond(server0, server1, server2, { precision, transport, players: [carol], truncation: 'deterministic' }) as unknown as AnyProtocol },
  { name: 'ABY3 (truncation deterministic)', make: (precision, transport) => new ABY3(server0, server1, server2, { precision, transport, players: [carol], truncation: 'deterministic' }) as unknown as AnyProtocol },
];

const FRAC: Record<Precision, number> = { low: 16, high: 32 };

const dim = fc.integer({ min: 1, max: 4 });
const mat = (rows: number, cols: number, r: number): fc.Arbitrary<Mat> =>
  fc.array(fc.double({ min: -r, max: r, noNaN: true, noDefaultInfinity: true }), { minLength: rows * cols, maxLength: rows * cols })
    .map((a) => ({ shape: [rows, cols], values: Float64Array.from(a) }));
/** Two same-shaped matrices. */
const pair = (r: number) => fc.tuple(dim, dim).chain(([m, n]) => fc.tuple(mat(m, n, r), mat(m, n, r)));
const single = (r: number) => fc.tuple(dim, dim).chain(([m, n]) => mat(m, n, r));

const maxAbs = (a: Float64Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const zip = (a: Float64Array, b: Float64Array, f: (x: number, y: number) => number): Float64Array => a.map((v, i) => f(v, b[i]!));

interface OpCase {
  name: string;
  arb: fc.Arbitrary<{ x: Mat; y?: Mat; c?: number; xs?: Mat[]; axis?: number }>;
  secure(p: AnyProtocol, e: ProtocolTensor[], c: { x: Mat; y?: Mat; c?: number; axis?: number }): Promise<ProtocolTensor> | ProtocolTensor;
  plain(c: { x: Mat; y?: Mat; c?: number; xs?: Mat[]; axis?: number }): Float64Array;
  /** Absolute error bound per element (u = 2^-f). */
  bound(c: { x: Mat; y?: Mat; c?: number; xs?: Mat[]; axis?: number }, u: number): number;
}

// Magnitudes are kept far below the fixed-point range so that the probability
// of a truncation wrap-around (about |X| / 2^l per element for the truncated
// ring value X, see docs/encrypted.md) stays near 2^-24 per element at 'low'
// (about 3e-5 per run of the whole suite).
const LIN = 1000;
const MUL = 10;

const OPS: OpCase[] = [
  {
    name: 'add', arb: pair(LIN).map(([x, y]) => ({ x, y })),
    secure: (p, [x, y]) => p.add(x, y), plain: ({ x, y }) => zip(x.values, y!.values, (a, b) => a + b), bound: (_, u) => u,
  },
  {
    name: 'sub', arb: pair(LIN).map(([x, y]) => ({ x, y })),
    secure: (p, [x, y]) => p.sub(x, y), plain: ({ x, y }) => zip(x.values, y!.values, (a, b) => a - b), bound: (_, u) => u,
  },
  {
    name: 'neg', arb: single(LIN).map((x) => ({ x })),
    secure: (p, [x]) => p.neg(x), plain: ({ x }) => x.values.map((v) => -v), bound: (_, u) => u / 2,
  },
  {
    name: 'mul', arb: pair(MUL).map(([x, y]) => ({ x, y })),
    secure: (p, [x, y]) => p.mul(x, y), plain: ({ x, y }) => zip(x.values, y!.values, (a, b) => a * b),
    bound: ({ x, y }, u) => (maxAbs(x.values) + maxAbs(y!.values)) * u / 2 + u * u / 4 + u,
  },
  {
    name: 'mul (broadcast row)',
    arb: fc.tuple(dim, dim).chain(([m, n]) => fc.tuple(mat(m, n, MUL), mat(1, n, MUL))).map(([x, y]) => ({ x, y })),
    secure: (p, [x, y]) => p.mul(x, y),
    plain: ({ x, y }) => x.values.map((v, i) => v * y!.values[i % x.shape[1]!]!),
    bound: ({ x, y }, u) => (maxAbs(x.values) + maxAbs(y!.values)) * u / 2 + u * u / 4 + u,
  },
  {
    name: 'matmul',
    arb: fc.tuple(dim, dim, dim).chain(([m, k, n]) => fc.tuple(mat(m, k, MUL), mat(k, n, MUL))).map(([x, y]) => ({ x, y })),
    secure: (p, [x, y]) => p.matmul(x, y),
    plain: ({ x, y }) => {
      const [m, k] = x.shape as [number, number];
      const n = y!.shape[1]!;
      const out = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += x.values[i * k + t]! * y!.values[t * n + j]!;
        out[i * n + j] = s;
      }
      return out;
    },
    bound: ({ x, y }, u) => x.shape[1]! * ((maxAbs(x.values) + maxAbs(y!.values)) * u / 2 + u * u / 4) + u,
  },
  {
    name: 'mulPublic (integer scalar: exact in the ring)',
    arb: fc.tuple(single(LIN), fc.integer({ min: -50, max: 50 })).map(([x, c]) => ({ x, c })),
    secure: (p, [x], { c }) => p.mulPublic(x, c), plain: ({ x, c }) => x.values.map((v) => v * c!), bound: ({ c }, u) => Math.abs(c!) * u / 2,
  },
  {
    name: 'mulPublic (fractional scalar)',
    arb: fc.tuple(single(MUL), fc.double({ min: -10, max: 10, noNaN: true })).map(([x, c]) => ({ x, c })),
    secure: (p, [x], { c }) => p.mulPublic(x, c), plain: ({ x, c }) => x.values.map((v) => v * c!),
    bound: ({ x, c }, u) => Math.abs(c!) * u / 2 + maxAbs(x.values) * u / 2 + u * u / 4 + u,
  },
  {
    name: 'mulPublic (public tensor)', arb: pair(MUL).map(([x, y]) => ({ x, y })),
    secure: (p, [x], { y }) => p.mulPublic(x, new PublicTensor(y!.values, y!.shape)),
    plain: ({ x, y }) => zip(x.values, y!.values, (a, b) => a * b),
    bound: ({ x, y }, u) => (maxAbs(x.values) + maxAbs(y!.values)) * u / 2 + u * u / 4 + u,
  },
  {
    name: 'divPublic',
    arb: fc.tuple(single(100), fc.double({ min: 0.5, max: 100, noNaN: true }), fc.boolean()).map(([x, c, s]) => ({ x, c: s ? c : -c })),
    secure: (p, [x], { c }) => p.divPublic(x, c), plain: ({ x, c }) => x.values.map((v) => v / c!),
    // 1/c is encoded with f + k fractional bits, k = max(0, ceil(log2 |c|))
    bound: ({ x, c }, u) => maxAbs(x.values) * u * 2 ** -Math.max(0, Math.ceil(Math.log2(Math.abs(c!)))) / 2 + u / 2 / Math.abs(c!) + u,
  },
  {
    name: 'addPublic', arb: fc.tuple(single(LIN), fc.double({ min: -LIN, max: LIN, noNaN: true })).map(([x, c]) => ({ x, c })),
    secure: (p, [x], { c }) => p.addPublic(x, c), plain: ({ x, c }) => x.values.map((v) => v + c!), bound: (_, u) => u,
  },
  {
    name: 'addN',
    arb: fc.tuple(dim, dim, fc.integer({ min: 1, max: 5 })).chain(([m, n, k]) => fc.array(mat(m, n, LIN), { minLength: k, maxLength: k })).map((xs) => ({ x: xs[0]!, xs })),
    secure: (p, e) => p.addN(e), plain: ({ xs }) => xs!.reduce<Float64Array>((acc, m) => zip(acc, m.values, (a, b) => a + b), new Float64Array(xs![0]!.values.length)),
    bound: ({ xs }, u) => xs!.length * u / 2,
  },
  {
    name: 'sum (all elements)', arb: single(LIN).map((x) => ({ x })),
    secure: (p, [x]) => p.sum(x), plain: ({ x }) => Float64Array.of(x.values.reduce((a, b) => a + b, 0)), bound: ({ x }, u) => x.values.length * u / 2,
  },
  {
    name: 'sum (axis)', arb: fc.tuple(single(LIN), fc.integer({ min: 0, max: 1 })).map(([x, axis]) => ({ x, axis })),
    secure: (p, [x], { axis }) => p.sum(x, axis),
    plain: ({ x, axis }) => {
      const [m, n] = x.shape as [number, number];
      const out = new Float64Array(axis === 0 ? n : m);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[axis === 0 ? j : i]! += x.values[i * n + j]!;
      return out;
    },
    bound: ({ x, axis }, u) => x.shape[axis!]! * u / 2,
  },
  {
    name: 'truncate (divides by 2^f)', arb: single(LIN).map((x) => ({ x })),
    secure: (p, [x]) => p.truncate(x), plain: () => new Float64Array(0), bound: () => 0, // checked specially below
  },
];


for (const precision of ['low', 'high'] as const) {
  const f = FRAC[precision];
  const u = 2 ** -f;
  for (const P of PROTOCOLS) {
    describe(`conformance: ${P.name} (precision ${precision})`, () => {
      const transport = new MemoryTransport();
      const proto = P.make(precision, transport);
      for (const op of OPS) {
        it(op.name, async () => {
          await fc.assert(fc.asyncProperty(op.arb, async (c) => {
            const ins = c.xs ?? (c.y !== undefined && !op.name.startsWith('mulPublic') ? [c.x, c.y] : [c.x]);
            const enc = await Promise.all(ins.map((m, i) => proto.encrypt(i % 2 === 0 ? alice : bob, m.values, { shape: m.shape })));
            const out = await op.secure(proto, enc, c);
            const got = (await proto.reveal(out, carol)).read();
            if (op.name.startsWith('truncate')) {
              // real value x / 2^f: encode error u/2 scaled by 2^-f, plus one unit of truncation
              const want = c.x.values.map((v) => v * u);
              want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) <= u / 2 * u + u, `truncate: element ${i}: got ${got[i]}, want ${w}`));
              return;
            }
            const want = op.plain(c);
            assert.equal(got.length, want.length, 'result size');
            const b = op.bound(c, u);
            for (let i = 0; i < want.length; i++) {
              // float64 rounding of the reference itself is far below the bound
              assert.ok(Math.abs(got[i]! - want[i]!) <= b + Math.abs(want[i]!) * 2 ** -50,
                `${op.name}: element ${i}: got ${got[i]}, want ${want[i]}, |err| ${Math.abs(got[i]! - want[i]!)} > bound ${b}`);
            }
          }), { numRuns: 12 });
          assert.equal(transport.hub.pending(), 0, 'no message left undelivered');
        });
      }
    });
  }
}
