/**
 * The model owner's checkpoint after each completed round: weights, server
 * optimizer state, round number, the training parameters (data order and
 * initialisation are pure functions of (seed, round), so the round number is
 * the whole RNG state) and the config hash.
 *
 * One file `<dir>/checkpoint.bin`:
 *   "FCCKPT01" | u32 header length | header JSON | float32 blobs | sha256(all before)
 * written atomically: a temp file in the same folder, fsync, rename, fsync of
 * the folder. A reader never sees a half-written checkpoint; a corrupted one
 * (bad magic, bad digest) is refused.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_KEYS, type StackParams } from './stack-params.js';

const MAGIC = 'FCCKPT01';
export const CHECKPOINT_FILE = 'checkpoint.bin';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/**
 * The parameters a checkpoint records: a stack run's (`engine: 'stack'`).
 * (Checkpoints of the retired SPMD job path have no `engine` and are refused
 * by name at --resume.)
 */
export type CheckpointParams = StackParams;

export interface Checkpoint {
  /** Rounds completed. */
  round: number;
  params: CheckpointParams;
  configHash: string;
  weights: Float32Array;
  /** The optimizer's snapshot(): numbers and Float32Arrays (undefined fields omitted). */
  optimizer: Record<string, number | Float32Array>;
  /** Per-epoch metrics so far (informational). */
  epochs?: unknown[];
  savedAt?: string;
}

interface Header {
  format: typeof MAGIC;
  round: number;
  params: CheckpointParams;
  configHash: string;
  savedAt: string;
  epochs: unknown[];
  numbers: Record<string, number>;
  blobs: { name: string; length: number }[];
}

/** Flatten an optimizer snapshot into numbers and Float32Arrays. */
export function flattenOptimizerState(s: unknown): Record<string, number | Float32Array> {
  if (typeof s !== 'object' || s === null) throw new TypeError(`checkpoint: optimizer snapshot expected an object, got ${typeof s}`);
  const out: Record<string, number | Float32Array> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    if (typeof v === 'number' || v instanceof Float32Array) out[k] = v;
    else throw new TypeError(`checkpoint: optimizer snapshot field "${k}" is neither a number nor a Float32Array`);
  }
  return out;
}

export function checkpointPath(dir: string): string {
  return join(dir, CHECKPOINT_FILE);
}

export function saveCheckpoint(dir: string, c: Checkpoint): string {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`saveCheckpoint: "dir" expected a non-empty string`);
  mkdirSync(dir, { recursive: true });
  const blobs: { name: string; data: Float32Array }[] = [{ name: 'weights', data: c.weights }];
  const numbers: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.optimizer)) {
    if (v instanceof Float32Array) blobs.push({ name: `optimizer.${k}`, data: v });
    else numbers[k] = v;
  }
  const header: Header = {
    format: MAGIC, round: c.round, params: c.params, configHash: c.configHash, savedAt: new Date().toISOString(), epochs: c.epochs ?? [], numbers,
    blobs: blobs.map((b) => ({ name: b.name, length: b.data.length })),
  };
  const h = Buffer.from(JSON.stringify(header));
  const pad = (4 - ((12 + h.length) % 4)) % 4;
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length + pad);
  const parts: Uint8Array[] = [Buffer.from(MAGIC), len, h, Buffer.alloc(pad, 0x20)];
  for (const b of blobs) parts.push(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength));
  const digest = createHash('sha256');
  for (const p of parts) digest.update(p);
  parts.push(digest.digest());
  const final = checkpointPath(dir);
  const tmp = join(dir, `.${CHECKPOINT_FILE}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    for (const p of parts) writeSync(fd, p);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, final);
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some platforms cannot fsync a folder */
  }
  return final;
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(checkpointPath(dir));
}

export function loadCheckpoint(dir: string): Checkpoint {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`loadCheckpoint: "dir" expected a non-empty string`);
  const path = checkpointPath(dir);
  if (!existsSync(path)) throw new CheckpointError(`${path}: no checkpoint to resume from`);
  const buf = readFileSync(path);
  if (buf.length < 12 + 32 || buf.subarray(0, 8).toString() !== MAGIC) throw new CheckpointError(`${path}: not a fedcrypt checkpoint`);
  const body = buf.subarray(0, buf.length - 32);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(buf.length - 32))) throw new CheckpointError(`${path}: checksum mismatch (corrupted checkpoint)`);
  const hlen = buf.readUInt32LE(8);
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(12, 12 + hlen).toString()) as Header;
  } catch {
    throw new CheckpointError(`${path}: unreadable header`);
  }
  let off = 12 + hlen;
  const arrays = new Map<string, Float32Array>();
  for (const b of header.blobs) {
    const bytes = b.length * 4;
    if (off + bytes > body.length) throw new CheckpointError(`${path}: truncated blob ${b.name}`);
    const a = new Float32Array(b.length);
    new Uint8Array(a.buffer).set(body.subarray(off, off + bytes));
    arrays.set(b.name, a);
    off += bytes;
  }
  const weights = arrays.get('weights');
  if (!weights) throw new CheckpointError(`${path}: no weights`);
  const optimizer: Record<string, number | Float32Array> = { ...header.numbers };
  for (const [k, v] of arrays) if (k.startsWith('optimizer.')) optimizer[k.slice('optimizer.'.length)] = v;
  return { round: header.round, params: header.params, configHash: header.configHash, weights, optimizer, epochs: header.epochs, savedAt: header.savedAt };
}

/** Differences between the checkpoint's training parameters and this run's (empty: resumable). */
export function paramDifferences(saved: CheckpointParams, now: CheckpointParams): string[] {
  const a = saved as unknown as Record<string, unknown>;
  const b = now as unknown as Record<string, unknown>;
  if (a['engine'] !== b['engine']) {
    return [`engine: the checkpoint was written by ${a['engine'] === undefined ? 'the retired SPMD job path (a fedcrypt before the execution stack ran FedSGD)' : JSON.stringify(a['engine'])}, this run trains on the execution stack (the two aggregate differently)`];
  }
  const out: string[] = [];
  for (const k of STACK_KEYS) {
    const x = JSON.stringify(a[k]);
    const y = JSON.stringify(b[k]);
    if (x !== y) out.push(`${k}: checkpoint ${x ?? 'none'}, this run ${y ?? 'none'}`);
  }
  // (SecAgg's choices: recorded by secagg runs only, so older checkpoints keep matching)
  if (a['secagg'] !== undefined || b['secagg'] !== undefined) {
    const x = JSON.stringify(a['secagg']);
    const y = JSON.stringify(b['secagg']);
    if (x !== y) out.push(`secagg: checkpoint ${x ?? 'none'}, this run ${y ?? 'none'}`);
  }
  return out;
}
