/**
 * A converted model (spec + plaintext weights) on disk: one JSON file,
 * `{ format: 'fedcrypt-model/1', spec, weights: [[{ shape, data }]] }` with
 * each weight array as base64 little-endian float32. What private training
 * writes for the model owner and private prediction reads.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { ConvertedModel } from './convert.js';
import { LayerError, modelShapes, paramShapes, type ModelSpec } from './spec.js';

const FORMAT = 'fedcrypt-model/1';

interface WeightJSON { shape: number[]; data: string }
interface ModelJSON { format: string; spec: ModelSpec; weights: WeightJSON[][] }

function toBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function fromBase64(s: string, what: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  if (b.byteLength % 4 !== 0) throw new RangeError(`${what}: ${b.byteLength} bytes is not a whole number of float32 values`);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** The JSON form of a converted model. */
export function modelToJSON(m: ConvertedModel): ModelJSON {
  const { inputs } = modelShapes(m.spec);
  return {
    format: FORMAT,
    spec: m.spec,
    weights: m.weights.map((ws, i) => {
      const shapes = paramShapes(m.spec.layers[i]!, inputs[i]!);
      return ws.map((w, j) => ({ shape: shapes[j]!, data: toBase64(w) }));
    }),
  };
}

/** Parse (and check) the JSON form; `what` names the source in errors. */
export function modelFromJSON(json: unknown, what = 'model'): ConvertedModel {
  const j = json as Partial<ModelJSON> | null;
  if (j === null || typeof j !== 'object' || j.format !== FORMAT) throw new TypeError(`${what}: not a ${FORMAT} file (format ${JSON.stringify(j?.format)})`);
  if (!j.spec || !Array.isArray(j.spec.layers) || !Array.isArray(j.spec.inputShape)) throw new TypeError(`${what}: 'spec' must have 'inputShape' and 'layers'`);
  if (!Array.isArray(j.weights) || j.weights.length !== j.spec.layers.length) throw new TypeError(`${what}: 'weights' must have one entry per layer (${j.spec.layers.length})`);
  const { inputs } = modelShapes(j.spec);
  const weights = j.weights.map((ws, i) => {
    const layer = j.spec!.layers[i]!;
    const want = paramShapes(layer, inputs[i]!);
    if (!Array.isArray(ws) || ws.length !== want.length) throw new LayerError(layer.name, i, `${what}: expected ${want.length} weight arrays, got ${Array.isArray(ws) ? ws.length : typeof ws}`);
    return ws.map((w, k) => {
      const a = fromBase64(w.data, `${what}: layer ${i} weight ${k}`);
      const n = want[k]!.reduce((x, y) => x * y, 1);
      if (a.length !== n) throw new LayerError(layer.name, i, `${what}: weight ${k} has ${a.length} values, expected ${n} (shape ${JSON.stringify(want[k])})`);
      return a;
    });
  });
  return { spec: j.spec, weights };
}

export function saveModel(path: string, m: ConvertedModel): void {
  writeFileSync(path, JSON.stringify(modelToJSON(m)));
}

export function loadModel(path: string): ConvertedModel {
  return modelFromJSON(JSON.parse(readFileSync(path, 'utf8')), path);
}
