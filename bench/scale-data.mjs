// The data of bench/scale.bench.ts: client `owner<o>:<i>` holds SIZE float32 values, deterministic, each a
// multiple of 2^-6 in [-32, 32) (exact in float32 and in 16-bit fixed point, so the secure sum of up to 1,000
// clients is exact, and exactly a float32). A data owner serves them with
//   fedcrypt player --config config.json --name owner0 --data bench/scale-data.mjs --clients 250
// and its peak memory is read by the bench from /proc (nothing here keeps the values).
export const SIZE = 10_000;

/** Element k of client i of owner o. */
export function valueOf(o, i, k) {
  let h = Math.imul(o * 7919 + i * 104729 + k * 31 + 17, 2654435761) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 1274126177) >>> 0;
  return ((h & 4095) - 2048) / 64;
}

/** The values of one client (by its party name, `owner<o>:<i>`, or `owner<o>` when the player is its only client). */
export function valuesOf(name) {
  const m = /^owner(\d+)(?::(\d+))?$/.exec(name);
  if (m === null) throw new RangeError(`scale-data: no data for ${name}`);
  const o = Number(m[1]);
  const i = m[2] === undefined ? 0 : Number(m[2]);
  const out = new Float32Array(SIZE);
  for (let k = 0; k < SIZE; k++) out[k] = valueOf(o, i, k);
  return out;
}

export function data(source, client) {
  if (source !== 'scale') throw new RangeError(`scale-data: no data source '${source}'`);
  return valuesOf(client.name);
}
