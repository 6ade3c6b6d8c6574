/**
 * The chunk format of GrpcTransport and the receive side's reassembly of
 * chunks into messages, within the link's limits (transport/limits.ts).
 *
 * A message is cut into chunks; each chunk (one gRPC message, and on 'noise'
 * links one AEAD frame) is a header, padded to a multiple of 8, then data:
 *   kind (u8 = 1) | 0 | keyLen (u16) | headerLen (u32) | message id (u64)
 *   | total (u64) | offset (u64) | key (UTF-8) | padding | data
 * Chunks of a message must arrive contiguous and in order (offset 0 first).
 *
 * Memory: a message is allocated as its bytes arrive, never on the size it
 * declares. Its buffer starts at the declared size only when that is small
 * (at most SMALL_MESSAGE) or when a receive already waits for its key (then
 * at most WAITED_PREALLOC: the fast path of a protocol whose receive is
 * posted first), else at its first chunk's size, and doubles as chunks
 * arrive (never beyond the declared size; straight to the declared size, up
 * to WAITED_PREALLOC, once a receive waits for it). Every buffer is charged to the
 * link (`LinkBudget`, shared by all streams of one peer -> local player
 * pair); going over `maxBufferedBytes` (with the link's unclaimed messages)
 * or over `maxIncompleteMessages` calls `sink.overLimit`, whose caller closes
 * the link.
 */
import { messageCharge, type ReceiveLimits } from './limits.js';

export const KIND_CHUNK = 1;
export const HEADER_FIXED = 32;
const MiB = 1 << 20;
/** Messages up to this size are allocated whole on their first chunk. */
export const SMALL_MESSAGE = MiB;
/** A message a receive already waits for is allocated whole on its first chunk up to this size. */
export const WAITED_PREALLOC = 64 * MiB;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Chunk header, padded to a multiple of 8 so chunk data stays 8-byte aligned. */
export function chunkHeader(messageId: number, total: number, offset: number, key: Uint8Array | string): Uint8Array {
  const k = typeof key === 'string' ? enc.encode(key) : key;
  const len = (HEADER_FIXED + k.length + 7) & ~7;
  const h = new Uint8Array(len);
  const v = new DataView(h.buffer);
  v.setUint8(0, KIND_CHUNK);
  v.setUint16(2, k.length);
  v.setUint32(4, len);
  v.setBigUint64(8, BigInt(messageId));
  v.setBigUint64(16, BigInt(total));
  v.setBigUint64(24, BigInt(offset));
  h.set(k, HEADER_FIXED);
  return h;
}

/** Bytes [start, start + len) of the concatenation of `pieces` (a copy). */
function gather(pieces: readonly Uint8Array[], start: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let pos = 0;
  for (const q of pieces) {
    if (pos + q.length > start && pos < start + len) {
      const a = Math.max(start, pos);
      const b = Math.min(start + len, pos + q.length);
      out.set(q.subarray(a - pos, b - pos), a - start);
    }
    pos += q.length;
  }
  return out;
}

/** Copy the concatenation of `pieces` from byte `start` to its end into `dst` at `at`. */
function copyFrom(pieces: readonly Uint8Array[], start: number, dst: Uint8Array, at: number): void {
  let pos = 0;
  for (const q of pieces) {
    const end = pos + q.length;
    if (end > start) {
      const a = Math.max(start, pos);
      dst.set(q.subarray(a - pos), at + a - start);
    }
    pos = end;
  }
}

/**
 * Uninitialised memory (malloc: ~10x cheaper than zeroed fresh pages on large
 * messages); safe because chunks must arrive contiguous and in order, so a
 * message is delivered only once every byte of it has been written.
 */
function allocate(n: number): Uint8Array {
  const raw = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(raw.buffer, raw.byteOffset, n);
}

/** What one link (peer -> local player) holds in messages being reassembled, over all its streams. */
export interface LinkBudget {
  /** Charged bytes (transport/limits.ts `messageCharge`) of its incomplete messages. */
  bytes: number;
  /** Incomplete messages, abandoned ones included. */
  incomplete: number;
}

/** Where a Reassembler sends what it finds (one link). */
export interface ReassemblySink {
  /** Whether a receive already waits for `key` on this link. */
  waiting(key: string): boolean;
  /** Charged bytes of this link's completed messages nobody has claimed. */
  held(): number;
  deliver(key: string, payload: Uint8Array): void;
  /** A chunk or message was discarded (logged; the link goes on). */
  drop(reason: string): void;
  /** A limit is exceeded: the caller closes the link (and clears this reassembler). */
  overLimit(reason: string): void;
}

interface Partial {
  key: string;
  buf: Uint8Array;
  got: number;
  total: number;
  charge: number;
}

/** The reassembly of the chunks of one incoming stream. */
export class Reassembler {
  /** Incomplete messages by id; null: refused or abandoned (its remaining chunks are dropped silently). */
  readonly #partial = new Map<number, Partial | null>();

  constructor(
    readonly limits: ReceiveLimits,
    readonly budget: LinkBudget,
    readonly sink: ReassemblySink,
  ) {}

  /** One authenticated chunk: the concatenation of `pieces`; `what` names it in logs (e.g. "frame 12"). */
  chunk(what: string, pieces: readonly Uint8Array[]): void {
    let ptLen = 0;
    for (const q of pieces) ptLen += q.length;
    if (ptLen < HEADER_FIXED) return this.sink.drop(`${what} is not a chunk`);
    const head = gather(pieces, 0, HEADER_FIXED);
    if (head[0] !== KIND_CHUNK) return this.sink.drop(`${what} is not a chunk`);
    const v = new DataView(head.buffer, head.byteOffset, HEADER_FIXED);
    const keyLen = v.getUint16(2);
    const hLen = v.getUint32(4);
    const id = Number(v.getBigUint64(8));
    const total = v.getBigUint64(16);
    const offset = v.getBigUint64(24);
    if (hLen < HEADER_FIXED + keyLen || hLen > ptLen) return this.sink.drop(`${what}: bad chunk header`);
    const dataLen = ptLen - hLen;
    const p = this.#partial.get(id);
    if (p === null) return; // refused or abandoned message
    const max = this.limits.maxMessageBytes;
    if (total > BigInt(max)) {
      if (p !== undefined) return this.#abandon(id, p, `message ${id}: chunk declares ${total} bytes, its first chunk ${p.total} (message abandoned)`);
      if (!this.#mark(id)) return;
      return this.sink.drop(`message ${id} of ${total} bytes exceeds the limit of ${max} bytes (limits.maxMessageBytes)`);
    }
    const n = Number(total);
    if (offset + BigInt(dataLen) > total) return this.sink.drop(`${what}: chunk at ${offset} (+${dataLen}) outside message of ${n} bytes`);
    const off = Number(offset);
    if (p === undefined) return this.#first(what, id, n, off, keyLen, hLen, dataLen, pieces);
    if (n !== p.total) return this.#abandon(id, p, `message ${id}: chunk declares ${n} bytes, its first chunk ${p.total} (message abandoned)`);
    if (off !== p.got) return this.#abandon(id, p, `message ${id}: chunk at offset ${off}, expected ${p.got} (a chunk is missing; message abandoned)`);
    const need = off + dataLen;
    if (need > p.buf.length) {
      // double; or, if a receive now waits for it, straight to its size (up to WAITED_PREALLOC)
      const cap = Math.min(n, Math.max(need, 2 * p.buf.length, this.sink.waiting(p.key) ? WAITED_PREALLOC : 0));
      const extra = cap - p.buf.length;
      if (!this.#fits(extra, `message ${id} from ${p.got} to ${cap} bytes`)) return;
      const grown = allocate(cap);
      grown.set(p.buf.subarray(0, p.got));
      p.buf = grown;
      p.charge += extra;
      this.budget.bytes += extra;
    }
    copyFrom(pieces, hLen, p.buf, off);
    p.got = need;
    if (p.got < n) return;
    this.#partial.delete(id);
    this.budget.incomplete--;
    this.budget.bytes -= p.charge;
    this.sink.deliver(p.key, p.buf);
  }

  /** Forget every message of this stream (it ended, or its link is closed): their charges are released. */
  clear(): void {
    for (const p of this.#partial.values()) if (p !== null) this.budget.bytes -= p.charge;
    this.budget.incomplete -= this.#partial.size;
    this.#partial.clear();
  }

  /** Incomplete messages of this stream (abandoned ones included). */
  get incomplete(): number {
    return this.#partial.size;
  }

  #first(what: string, id: number, n: number, off: number, keyLen: number, hLen: number, dataLen: number, pieces: readonly Uint8Array[]): void {
    if (off !== 0) {
      if (!this.#mark(id)) return;
      return this.sink.drop(`message ${id}: first chunk at offset ${off}, expected 0 (message abandoned)`);
    }
    let key: string;
    try {
      key = dec.decode(gather(pieces, HEADER_FIXED, keyLen));
    } catch {
      return this.sink.drop(`${what}: key is not UTF-8`);
    }
    const complete = dataLen >= n;
    if (!complete && !this.#room()) return;
    const cap = complete || n <= SMALL_MESSAGE ? n : this.sink.waiting(key) ? Math.min(n, Math.max(WAITED_PREALLOC, dataLen)) : Math.min(n, Math.max(SMALL_MESSAGE, dataLen));
    const charge = messageCharge(cap, key);
    if (!this.#fits(charge, `message ${id} (${cap} of its ${n} bytes)`)) return;
    const buf = allocate(cap);
    copyFrom(pieces, hLen, buf, 0);
    if (complete) return this.sink.deliver(key, buf);
    this.budget.bytes += charge;
    this.budget.incomplete++;
    this.#partial.set(id, { key, buf, got: dataLen, total: n, charge });
  }

  /** Room for one more incomplete message on the link? Else over the limit. */
  #room(): boolean {
    if (this.budget.incomplete < this.limits.maxIncompleteMessages) return true;
    this.sink.overLimit(`more than ${this.limits.maxIncompleteMessages} incomplete messages (limits.maxIncompleteMessages)`);
    return false;
  }

  /** Would `extra` more bytes keep the link within maxBufferedBytes? Else over the limit. */
  #fits(extra: number, what: string): boolean {
    const held = this.budget.bytes + this.sink.held();
    if (held + extra <= this.limits.maxBufferedBytes) return true;
    this.sink.overLimit(`holding ${what} would bring the link to ${held + extra} bytes, above ${this.limits.maxBufferedBytes} (limits.maxBufferedBytes)`);
    return false;
  }

  /** Remember `id` as refused, if there is room for it (it counts as incomplete). */
  #mark(id: number): boolean {
    if (!this.#room()) return false;
    this.#partial.set(id, null);
    this.budget.incomplete++;
    return true;
  }

  #abandon(id: number, p: Partial, reason: string): void {
    this.#partial.set(id, null); // still one incomplete message
    this.budget.bytes -= p.charge;
    this.sink.drop(reason);
  }
}
