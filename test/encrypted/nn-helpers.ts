// Helpers of the encrypted-model tests: seeded data, random tfjs weights, the encrypted prediction of a converted model.
import { tf } from '../../src/learning/tf.js';
import { ABY3, Player, type Precision } from '../../src/encrypted/index.js';
import { convertModel, encryptModel } from '../../src/encrypted/nn/index.js';
import { MemoryTransport, type Transport } from '../../src/transport/index.js';

export const [s0, s1, s2, owner, client] = ['server0', 'server1', 'server2', 'owner', 'client'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];

/** A small seeded generator (mulberry32): uniform in [lo, hi). */
export function uniform(seed: number, n: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/**
 * Give every weight of `model` seeded random values in [-scale, scale]
 * (BatchNormalization's moving variance in [0.5, 2], so the folded scale stays moderate).
 */
export function randomize(model: tf.LayersModel, seed: number, scale = 0.5): void {
  let k = 0;
  for (const layer of model.layers) {
    const ws = layer.weights;
    if (ws.length === 0) continue;
    layer.setWeights(ws.map((w) => {
      const n = w.shape.reduce((a: number, b) => a * (b as number), 1);
      const v = w.originalName.endsWith('moving_variance') ? uniform(seed * 101 + ++k, n, 0.5, 2) : uniform(seed * 101 + ++k, n, -scale, scale);
      return tf.tensor(v, w.shape as number[]);
    }));
  }
}

/** tfjs' prediction of `model` on `x` [batch, ...inputShape]. */
export function tfPredict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
}

export function protocol(precision: Precision, transport: Transport = new MemoryTransport()): ABY3 {
  return new ABY3(s0, s1, s2, { precision, transport, players: [owner, client] });
}

/**
 * The encrypted model's output for `x` [batch, ...inputShape], revealed to
 * the client (its shape checked against tfjs' output shape).
 */
export async function encryptedPredict(p: ABY3, model: tf.LayersModel, x: Float32Array, batch: number): Promise<Float32Array> {
  const em = await encryptModel(convertModel(model), p, { owner });
  const want = (model.outputs[0]!.shape as number[]).slice(1);
  if (JSON.stringify(em.outputShape) !== JSON.stringify(want)) throw new Error(`output shape ${JSON.stringify(em.outputShape)}, tfjs ${JSON.stringify(want)}`);
  const y = await em.predict(await p.encrypt(client, x, { shape: [batch, ...em.inputShape], sensitivity: [client] }));
  if (JSON.stringify(y.shape) !== JSON.stringify([batch, ...want])) throw new Error(`predict gave shape ${JSON.stringify(y.shape)}, tfjs ${JSON.stringify([batch, ...want])}`);
  return (await p.revealInto(y, client, new Float32Array(y.size)))!;
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
