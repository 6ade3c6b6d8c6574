/**
 * The op suite beyond same-shaped fixed-point operands, over every protocol at
 * both precisions, against a float64 reference on random inputs (fast-check):
 * broadcasting on either side, negative axes and keepDims, transpose and
 * reshape, integer tensors (exact) and products mixing integer and
 * fixed-point operands, public arrays of integers and fractions, and how
 * sensitivity sets combine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, Player, Plaintext, Pond, PublicTensor, type Precision } from '../../src/encrypted/index.js';
import { MemoryTransport } from '../../src/transport/index.js';

const [server0, server1, server2, alice, bob, carol] = ['server0', 'server1', 'server2', 'alice', 'bob', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];
type Any = any; // the protocol classes through their common surface
const PROTOCOLS: { name: string; make: (precision: Precision) => Any }[] = [
  { name: 'Plaintext', make: (precision) => new Plaintext({ precision, transport: new MemoryTransport(), players: [carol] }) },
  { name: 'Pond', make: (precision) => new Pond(server0, server1, server2, { precision, transport: new MemoryTransport(), players: [carol] }) },
  { name: 'ABY3', make: (precision) => new ABY3(server0, server1, server2, { precision, transport: new MemoryTransport(), players: [carol] }) },
];

const dim = fc.integer({ min: 1, max: 4 });
const floats = (n: number, r = 10) => fc.array(fc.double({ min: -r, max: r, noNaN: true }), { minLength: n, maxLength: n });
const ints = (n: number, r = 1000) => fc.array(fc.integer({ min: -r, max: r }), { minLength: n, maxLength: n });
/** Row-major index helpers. */
const at = (v: number[], shape: number[], idx: number[]): number => v[idx.reduce((a, i, k) => a * shape[k]! + i, 0)]!;

function close(got: Float64Array, want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: size`);
  want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) <= tol + Math.abs(w) * 2 ** -50, `${what}: element ${i}: got ${got[i]}, want ${w}`));
}

for (const precision of ['low', 'high'] as const) {
  const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
  for (const P of PROTOCOLS) {
    describe(`${P.name} (${precision}): shapes and encodings`, () => {
      const p = P.make(precision);
      const open = async (t: Any): Promise<Float64Array> => (await p.reveal(t, carol)).read();

      it('broadcast on either side: add, sub, mul; addPublic and mulPublic with a public row or column', async () => {
        await fc.assert(fc.asyncProperty(dim, dim, fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 }), async (m, n, rowFirst, seed) => {
          const [a, b] = fc.sample(fc.tuple(floats(m * n), floats(n)), { numRuns: 1, seed })[0]!;
          const big = await p.encrypt(alice, a, { shape: [m, n] });
          const row = await p.encrypt(bob, b, { shape: [1, n] });
          const [x, y] = rowFirst ? [row, big] : [big, row];
          const full = (i: number) => a[i]!;
          const bc = (i: number) => b[i % n]!;
          const fx = rowFirst ? bc : full;
          const fy = rowFirst ? full : bc;
          const idx = Array.from({ length: m * n }, (_, i) => i);
          close(await open(p.add(x, y)), idx.map((i) => fx(i) + fy(i)), u, 'add');
          close(await open(p.sub(x, y)), idx.map((i) => fx(i) - fy(i)), u, 'sub');
          close(await open(await p.mul(x, y)), idx.map((i) => fx(i) * fy(i)), 20 * u + u, 'mul');
          assert.deepEqual((await p.mul(x, y)).shape, [m, n]);
          // a secret row broadcast by a public matrix, and a secret matrix with a public column
          close(await open(p.addPublic(row, new PublicTensor(a, [m, n]))), idx.map((i) => a[i]! + bc(i)), u, 'addPublic (secret broadcast)');
          const col = a.slice(0, m);
          close(await open(await p.mulPublic(big, new PublicTensor(col, [m, 1]))), idx.map((i) => a[i]! * col[Math.floor(i / n)]!), 20 * u + u, 'mulPublic (public column)');
          close(await open(await p.mulPublic(row, new PublicTensor(idx.map((i) => i - 3), [m, n]))), idx.map((i) => bc(i) * (i - 3)), 20 * u, 'mulPublic (public integer matrix, secret broadcast)');
        }), { numRuns: 6 });
      });

      it('sum over negative axes and with keepDims; transpose with and without perm; reshape', async () => {
        await fc.assert(fc.asyncProperty(dim, dim, dim, fc.integer({ min: 0, max: 2 ** 31 }), async (a, b, c, seed) => {
          const shape = [a, b, c];
          const v = fc.sample(floats(a * b * c, 100), { numRuns: 1, seed })[0]!;
          const x = await p.encrypt(alice, v, { shape });
          const all = v.reduce((s, t) => s + t, 0);
          const sAll = p.sum(x, undefined, true);
          assert.deepEqual(sAll.shape, [1, 1, 1]);
          close(await open(sAll), [all], a * b * c * u, 'sum keepDims');
          for (const axis of [-1, -2, -3, 0, 1, 2]) {
            const ax = (axis + 3) % 3;
            for (const keep of [false, true]) {
              const s = p.sum(x, axis, keep);
              assert.deepEqual(s.shape, keep ? shape.map((d, i) => (i === ax ? 1 : d)) : shape.filter((_, i) => i !== ax), `sum(${axis}, ${keep}) shape`);
              const want: number[] = [];
              const rest = shape.filter((_, i) => i !== ax);
              for (let i = 0; i < rest[0]!; i++) for (let j = 0; j < rest[1]!; j++) {
                let t = 0;
                for (let k = 0; k < shape[ax]!; k++) { const idx = [i, j]; idx.splice(ax, 0, k); t += at(v, shape, idx); }
                want.push(t);
              }
              close(await open(s), want, shape[ax]! * u, `sum(${axis}, ${keep})`);
            }
          }
          const t = p.transpose(x);
          assert.deepEqual(t.shape, [c, b, a]);
          const wantT: number[] = [];
          for (let i = 0; i < c; i++) for (let j = 0; j < b; j++) for (let k = 0; k < a; k++) wantT.push(at(v, shape, [k, j, i]));
          close(await open(t), wantT, u, 'transpose');
          const tp = p.transpose(x, [1, 0, 2]);
          assert.deepEqual(tp.shape, [b, a, c]);
          const wantP: number[] = [];
          for (let i = 0; i < b; i++) for (let j = 0; j < a; j++) for (let k = 0; k < c; k++) wantP.push(at(v, shape, [j, i, k]));
          close(await open(tp), wantP, u, 'transpose [1, 0, 2]');
          const r = p.reshape(x, [a * b, c]);
          assert.deepEqual(r.shape, [a * b, c]);
          close(await open(r), v, u, 'reshape');
        }), { numRuns: 5 });
      });

      it('integer tensors are exact; int x int stays int, int x fixed is fixed without truncation; matmul likewise', async () => {
        await fc.assert(fc.asyncProperty(dim, dim, dim, fc.integer({ min: 0, max: 2 ** 31 }), async (m, k, n, seed) => {
          const [ia, ib, fa] = fc.sample(fc.tuple(ints(m * k), ints(k * n), floats(k * n)), { numRuns: 1, seed })[0]!;
          const A = await p.encryptInts(alice, ia, { shape: [m, k] });
          const B = await p.encryptInts(bob, ib, { shape: [k, n] });
          const F = await p.encrypt(bob, fa, { shape: [k, n] });
          const mm = (x: number[], y: number[]) => Array.from({ length: m * n }, (_, i) => { let s = 0; for (let t = 0; t < k; t++) s += x[Math.floor(i / n) * k + t]! * y[t * n + (i % n)]!; return s; });
          const ii = await p.matmul(A, B);
          assert.equal(ii.encoding, 'int');
          assert.deepEqual(Array.from(await open(ii)), mm(ia, ib));
          const iF = await p.matmul(A, F);
          assert.equal(iF.encoding, 'fixed');
          close(await open(iF), mm(ia, fa), k * 1000 * u, 'int @ fixed');
          const sq = await p.encryptInts(alice, ib, { shape: [k, n] });
          const prod = await p.mul(sq, B);
          assert.equal(prod.encoding, 'int');
          assert.deepEqual(Array.from(await open(prod)), ib.map((v) => v * v));
          const mixed = await p.mul(F, sq);
          assert.equal(mixed.encoding, 'fixed');
          close(await open(mixed), fa.map((v, i) => v * ib[i]!), 1000 * u, 'fixed * int');
          // public operands on integers: integer constants stay exact; a fraction gives a fixed-point result
          close(await open(p.addPublic(sq, new PublicTensor(ib.map((_, i) => i - 7), [k, n]))), ib.map((v, i) => v + i - 7), 0, 'int + public ints');
          close(await open(await p.mulPublic(sq, 3)), ib.map((v) => v * 3), 0, 'int * 3');
          const half = await p.mulPublic(sq, 0.5);
          assert.equal(half.encoding, 'fixed');
          close(await open(half), ib.map((v) => v / 2), u, 'int * 0.5');
          const third = await p.divPublic(sq, -3);
          assert.equal(third.encoding, 'fixed');
          close(await open(third), ib.map((v) => v / -3), 1000 * u, 'int / -3');
        }), { numRuns: 5 });
      });

      it('division by public arrays of small and large magnitudes', async () => {
        await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 ** 31 }), async (n, seed) => {
          const [v, c] = fc.sample(fc.tuple(floats(n, 100), fc.array(fc.oneof(fc.double({ min: 0.01, max: 0.9, noNaN: true }), fc.double({ min: 1.1, max: 5000, noNaN: true })), { minLength: n, maxLength: n })), { numRuns: 1, seed })[0]!;
          const x = await p.encrypt(alice, v);
          const cs = c.map((t, i) => (i % 2 === 0 ? t : -t));
          close(await open(await p.divPublic(x, cs)), v.map((t, i) => t / cs[i]!), 200 * u, 'divPublic');
          close(await open(await p.mulPublic(x, cs)), v.map((t, i) => t * cs[i]!), 5000 * u, 'mulPublic');
        }), { numRuns: 6 });
      });

      it('sensitivity: an unrestricted operand keeps the other operand\'s set; two sets intersect', async () => {
        const a = await p.encrypt(alice, [1], { sensitivity: [carol, bob] });
        const free = await p.encrypt(bob, [2]);
        const b = await p.encrypt(bob, [3], { sensitivity: [bob] });
        assert.deepEqual(p.add(free, a).sensitivity.map((q: Player) => q.name), ['carol', 'bob']);
        assert.deepEqual(p.add(a, free).sensitivity.map((q: Player) => q.name), ['carol', 'bob']);
        assert.deepEqual(p.addN([free, a, free, b]).sensitivity.map((q: Player) => q.name), ['bob']);
        assert.deepEqual((await p.mul(a, b)).sensitivity.map((q: Player) => q.name), ['bob']);
        assert.equal(p.add(free, free).sensitivity, null);
      });
    });
  }
}
