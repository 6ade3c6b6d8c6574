/**
 * The aggregator's message to SERVER in the Paillier aggregation: either the
 * aggregate (with the list of rejected clients) or a refusal (the rule, the
 * count, the minimum and the rejected clients) that carries no ciphertext.
 * Either lists the clients SERVER marked absent (dropout), when there are any.
 *
 * Wire form: u8 kind (1 aggregate, 2 refused), u32 big-endian length of a
 * UTF-8 JSON report, the report, then (aggregate only) the encrypted vector
 * bytes (src/paillier/vector.ts). The report has `absent` only when it is not
 * empty (a run in which every client contributed is as before dropout
 * tolerance).
 *
 * SERVER's absence notice (dropout tolerance, sealed by SERVER to the
 * aggregator, sent in the relay slot of the client that did not contribute):
 * u8 kind 3, u32 big-endian slot (the client's index in the plan).
 */
import type { RejectedContribution } from './policy.js';

export type AggregatorMessage =
  | { readonly kind: 'aggregate'; readonly rejected: readonly RejectedContribution[]; readonly absent?: readonly number[]; readonly vector: Uint8Array }
  | { readonly kind: 'refused'; readonly rule: string; readonly count: number; readonly minimum: number; readonly rejected: readonly RejectedContribution[]; readonly absent?: readonly number[] };

const KIND = { aggregate: 1, refused: 2, absent: 3 } as const;

export function aggregatorMessageToBytes(m: AggregatorMessage): Uint8Array {
  const absent = m.absent !== undefined && m.absent.length > 0 ? { absent: m.absent } : {};
  const report = m.kind === 'aggregate' ? { rejected: m.rejected, ...absent } : { rule: m.rule, count: m.count, minimum: m.minimum, rejected: m.rejected, ...absent };
  const json = new TextEncoder().encode(JSON.stringify(report));
  const tail = m.kind === 'aggregate' ? m.vector : new Uint8Array(0);
  const out = new Uint8Array(5 + json.length + tail.length);
  out[0] = KIND[m.kind];
  new DataView(out.buffer).setUint32(1, json.length);
  out.set(json, 5);
  out.set(tail, 5 + json.length);
  return out;
}

function rejectedFrom(v: unknown): RejectedContribution[] {
  if (!Array.isArray(v)) throw new TypeError('aggregator message: "rejected" expected array');
  return v.map((r: { client?: unknown; reason?: unknown }, i) => {
    if (typeof r !== 'object' || r === null || !Number.isInteger(r.client) || typeof r.reason !== 'string') {
      throw new TypeError(`aggregator message: "rejected[${i}]" expected { client, reason }`);
    }
    return { client: r.client as number, reason: r.reason };
  });
}

export function aggregatorMessageFromBytes(b: Uint8Array): AggregatorMessage {
  if (!(b instanceof Uint8Array) || b.length < 5) throw new RangeError('aggregator message: too short');
  const len = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1);
  if (5 + len > b.length) throw new RangeError(`aggregator message: report of ${len} bytes overruns the ${b.length}-byte message`);
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(5, 5 + len))) as Record<string, unknown>;
  } catch (e) {
    throw new TypeError(`aggregator message: report is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof report !== 'object' || report === null) throw new TypeError('aggregator message: report expected object');
  const rejected = rejectedFrom(report.rejected);
  const absent = absentFrom(report.absent);
  if (b[0] === KIND.aggregate) return { kind: 'aggregate', rejected, ...absent, vector: b.subarray(5 + len) };
  if (b[0] !== KIND.refused) throw new RangeError(`aggregator message: unknown kind ${b[0]}`);
  if (5 + len !== b.length) throw new RangeError('aggregator message: a refusal carries nothing after its report');
  const { rule, count, minimum } = report;
  if (typeof rule !== 'string' || !Number.isInteger(count) || !Number.isInteger(minimum)) throw new TypeError('aggregator message: refusal expected { rule, count, minimum }');
  return { kind: 'refused', rule, count: count as number, minimum: minimum as number, rejected, ...absent };
}

function absentFrom(v: unknown): { absent?: number[] } {
  if (v === undefined) return {};
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && (x as number) >= 0)) throw new TypeError('aggregator message: "absent" expected a non-empty array of client indices');
  return { absent: v as number[] };
}

/** SERVER's notice that client `slot` did not contribute by its deadline (sealed to the aggregator in that client's relay slot). */
export function absentNoticeToBytes(slot: number): Uint8Array {
  if (!Number.isInteger(slot) || slot < 0 || slot > 0xffffffff) throw new RangeError(`absence notice: "slot" expected a client index, got ${String(slot)}`);
  const out = new Uint8Array(5);
  out[0] = KIND.absent;
  new DataView(out.buffer).setUint32(1, slot);
  return out;
}

/** The slot an absence notice names (RangeError for anything else). */
export function absentNoticeFromBytes(b: Uint8Array): number {
  if (!(b instanceof Uint8Array) || b.length !== 5 || b[0] !== KIND.absent) throw new RangeError(`absence notice: expected 5 bytes of kind ${KIND.absent}, got ${b?.length} bytes of kind ${b?.[0]}`);
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1);
}
