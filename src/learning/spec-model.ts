/**
 * A converted model (src/encrypted/nn: spec + plaintext weights, e.g. read
 * from a fedcrypt-model/1 file) as a tfjs Sequential model, for the
 * plaintext reference: what the model owner would predict in the clear.
 * BatchNormalization's folded (scale, shift) becomes a BatchNormalization
 * layer with gamma = scale, beta = shift, mean 0 and variance 1 - epsilon.
 */
import { modelShapes, type ConvertedModel, type LayerSpec } from '../encrypted/nn/index.js';
import { tf } from './tf.js';

const EPS = 1e-3;

function layerFor(l: LayerSpec): tf.layers.Layer | undefined {
  const L = tf.layers;
  switch (l.kind) {
    case 'dense': return L.dense({ units: l.units, useBias: l.useBias });
    case 'conv2d': return L.conv2d({ filters: l.filters, kernelSize: l.kernel, strides: l.strides, padding: l.padding, useBias: l.useBias });
    case 'relu': return L.reLU();
    case 'sigmoid': return L.activation({ activation: 'sigmoid' });
    case 'softmax': return L.softmax({ axis: -1 });
    case 'maxPool2x2': return L.maxPooling2d({ poolSize: 2, strides: 2 });
    case 'avgPool': return L.averagePooling2d({ poolSize: l.size, strides: l.strides });
    case 'globalAvgPool': return L.globalAveragePooling2d({});
    case 'batchNorm': return L.batchNormalization({ epsilon: EPS });
    case 'flatten': return L.flatten();
    case 'reshape': return L.reshape({ targetShape: l.targetShape });
    case 'identity': return undefined;
  }
}

/** A tfjs model computing `m` in plaintext (float32). */
export function layersModelFromSpec(m: ConvertedModel): tf.LayersModel {
  modelShapes(m.spec);
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape: [...m.spec.inputShape] }));
  m.spec.layers.forEach((l, i) => {
    const layer = layerFor(l);
    if (layer === undefined) return;
    model.add(layer);
    const ws = m.weights[i] ?? [];
    tf.tidy(() => {
      if (l.kind === 'batchNorm') {
        const n = ws[0]!.length;
        layer.setWeights([tf.tensor1d(ws[0]!), tf.tensor1d(ws[1]!), tf.zeros([n]), tf.fill([n], 1 - EPS)]);
      } else if (ws.length > 0) {
        layer.setWeights(ws.map((w, j) => tf.tensor(w, layer.weights[j]!.shape as number[])));
      }
    });
  });
  return model;
}
