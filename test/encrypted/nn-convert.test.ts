/**
 * tfjs-layers -> encrypted model (src/encrypted/nn/convert.ts, model.ts):
 * each supported layer and option against tfjs' predict on random inputs and
 * random weights, at both precisions, with asserted error bounds; one clear
 * LayerError (layer name, index in the source model, option) per unsupported
 * layer or option; chains of functional models, and branching ones refused.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initTf, tf } from '../../src/learning/tf.js';
import { convertModel, LayerError, modelFromJSON, modelShapes, modelToJSON, type ModelSpec } from '../../src/encrypted/nn/index.js';
import { layersModelFromSpec } from '../../src/learning/spec-model.js';
import { encryptedPredict, maxAbsDiff, protocol, randomize, tfPredict, uniform } from './nn-helpers.js';

before(async () => { await initTf(); });

const L = tf.layers;
const seq = (inputShape: number[], ...layers: tf.layers.Layer[]): tf.LayersModel => {
  const m = tf.sequential();
  layers.forEach((l, i) => {
    if (i === 0) m.add(L.inputLayer({ inputShape }));
    m.add(l);
  });
  return m;
};

/**
 * Error bounds against tfjs (float32), per precision. 'copy': data movement
 * and comparisons (relu, max pool, flatten, ...) are exact on the encoding,
 * so the only error is the input's rounding, 2^-(f+1). 'linear': a dense or
 * conv layer with k ≤ 18 products of |x| ≤ 2 and |w| ≤ 0.5: the operands'
 * rounding δ(Σ|x| + Σ|w|) + one truncation ulp, δ = 2^-(f+1) (≤ 3.6e-4 at
 * 'low'), plus tfjs' float32 rounding (about k·2^-24·|y|, ≈ 1e-6: the bound
 * at 'high'). The smooth ops add the op table's bounds (sigmoid 6e-4 / 4e-6,
 * softmax 3e-3 / 3e-5) to their input's error (times ≤ 1/4 for sigmoid).
 */
const COPY = { low: 2 ** -17 * 1.001, high: 2 ** -33 + 1e-7 };
const LINEAR = { low: 4e-4, high: 2e-6 };
const SIGMOID = { low: 7e-4, high: 6e-6 };
const SOFTMAX = { low: 3e-3, high: 3e-5 };

interface Case { name: string; input: number[]; build: () => tf.LayersModel; tol: { low: number; high: number } }

const cases: Case[] = [
  { name: 'InputLayer + Dense (bias, linear)', input: [6], build: () => seq([6], L.dense({ units: 5 })), tol: LINEAR },
  { name: 'Dense without bias, fused relu', input: [6], build: () => seq([6], L.dense({ units: 5, useBias: false, activation: 'relu' })), tol: LINEAR },
  { name: 'Dense on a rank-3 input (last axis)', input: [3, 4], build: () => seq([3, 4], L.dense({ units: 5 })), tol: LINEAR },
  {
    name: 'Dense and Conv2D with regularizers and constraints (ignored at inference)',
    input: [4, 4, 1],
    build: () => seq([4, 4, 1], L.conv2d({ filters: 2, kernelSize: 2, kernelConstraint: tf.constraints.maxNorm({ maxValue: 2 }), biasRegularizer: tf.regularizers.l1() }), L.flatten(),
      L.dense({ units: 3, kernelRegularizer: tf.regularizers.l2(), kernelConstraint: tf.constraints.nonNeg() })),
    tol: LINEAR,
  },
  { name: 'Dense, fused sigmoid', input: [6], build: () => seq([6], L.dense({ units: 5, activation: 'sigmoid' })), tol: SIGMOID },
  { name: 'Dense, fused softmax', input: [6], build: () => seq([6], L.dense({ units: 7, activation: 'softmax' })), tol: SOFTMAX },
  { name: 'Conv2D valid 3x3 stride 1, fused relu', input: [6, 6, 2], build: () => seq([6, 6, 2], L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' })), tol: LINEAR },
  { name: "Conv2D 'same' 3x2 stride 2 without bias", input: [7, 6, 2], build: () => seq([7, 6, 2], L.conv2d({ filters: 3, kernelSize: [3, 2], strides: 2, padding: 'same', useBias: false })), tol: LINEAR },
  { name: 'ReLU', input: [9], build: () => seq([9], L.reLU()), tol: COPY },
  { name: 'Activation relu / linear', input: [9], build: () => seq([9], L.activation({ activation: 'linear' }), L.activation({ activation: 'relu' })), tol: COPY },
  { name: 'Activation sigmoid', input: [9], build: () => seq([9], L.activation({ activation: 'sigmoid' })), tol: SIGMOID },
  { name: 'Softmax (tfjs default axis 1 on [batch, c])', input: [7], build: () => seq([7], L.softmax()), tol: SOFTMAX },
  { name: 'Softmax axis -1 on a rank-3 input', input: [3, 5], build: () => seq([3, 5], L.softmax({ axis: -1 })), tol: SOFTMAX },
  { name: 'Activation softmax', input: [10], build: () => seq([10], L.activation({ activation: 'softmax' })), tol: SOFTMAX },
  { name: 'MaxPooling2D 2x2 on an odd input (floor)', input: [5, 6, 2], build: () => seq([5, 6, 2], L.maxPooling2d({ poolSize: 2 })), tol: COPY },
  { name: "MaxPooling2D 'same' on an even input (pads nothing)", input: [6, 4, 2], build: () => seq([6, 4, 2], L.maxPooling2d({ poolSize: [2, 2], strides: [2, 2], padding: 'same' })), tol: COPY },
  { name: 'AveragePooling2D 2x3 strides (1, 2)', input: [5, 7, 2], build: () => seq([5, 7, 2], L.averagePooling2d({ poolSize: [2, 3], strides: [1, 2] })), tol: { low: 3 * 2 ** -16, high: 3 * 2 ** -32 + 1e-7 } },
  { name: "AveragePooling2D 'same' where it pads nothing", input: [4, 6, 1], build: () => seq([4, 6, 1], L.averagePooling2d({ poolSize: 2, padding: 'same' })), tol: { low: 3 * 2 ** -16, high: 3 * 2 ** -32 + 1e-7 } },
  { name: 'GlobalAveragePooling2D', input: [4, 5, 3], build: () => seq([4, 5, 3], L.globalAveragePooling2d({})), tol: { low: 3 * 2 ** -16, high: 3 * 2 ** -32 + 1e-7 } },
  { name: 'BatchNormalization (gamma, beta, moving mean and variance) on an image', input: [3, 3, 4], build: () => seq([3, 3, 4], L.batchNormalization({})), tol: LINEAR },
  { name: 'BatchNormalization center: false, axis 3', input: [3, 2, 4], build: () => seq([3, 2, 4], L.batchNormalization({ center: false, axis: 3 })), tol: LINEAR },
  { name: 'BatchNormalization scale: false, flat input', input: [6], build: () => seq([6], L.batchNormalization({ scale: false })), tol: LINEAR },
  { name: 'BatchNormalization center: false, scale: false', input: [6], build: () => seq([6], L.batchNormalization({ center: false, scale: false, epsilon: 0.01 })), tol: LINEAR },
  { name: 'Flatten, Reshape (with -1), Dropout', input: [2, 3, 2], build: () => seq([2, 3, 2], L.flatten(), L.dropout({ rate: 0.5 }), L.reshape({ targetShape: [-1, 4] }), L.reshape({ targetShape: [3, 2, 2] })), tol: COPY },
  {
    name: 'a small conv net (conv relu, pool, conv, BN, flatten, dense relu, dropout, dense)',
    input: [8, 8, 1],
    build: () => seq([8, 8, 1], L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), L.maxPooling2d({ poolSize: 2 }), L.conv2d({ filters: 3, kernelSize: 2 }),
      L.batchNormalization({}), L.flatten(), L.dense({ units: 6, activation: 'relu' }), L.dropout({ rate: 0.2 }), L.dense({ units: 4 })),
    tol: LINEAR,
  },
];

for (const precision of ['low', 'high'] as const) {
  describe(`tfjs layers converted and run encrypted (ABY3, precision ${precision}) against tfjs predict`, () => {
    for (const c of cases) {
      it(c.name, async () => {
        const m = c.build();
        randomize(m, 7);
        const batch = 3;
        const n = c.input.reduce((a, b) => a * b, 1);
        const x = uniform(11, batch * n, -2, 2);
        const want = tfPredict(m, x, [batch, ...c.input]);
        const got = await encryptedPredict(protocol(precision), m, x, batch);
        const err = maxAbsDiff(got, want);
        if (process.env.NN_PRINT) console.log(`ERR ${precision} ${c.name}: ${err.toExponential(2)} (bound ${c.tol[precision].toExponential(2)})`);
        assert.ok(err <= c.tol[precision], `${c.name}: max error ${err} > ${c.tol[precision]}`);
        m.dispose();
      });
    }
  });
}

describe('functional models', () => {
  it('a functional chain (InputLayer first) converts, source indices count the InputLayer', async () => {
    const inp = tf.input({ shape: [6, 6, 1] });
    let h = L.conv2d({ filters: 2, kernelSize: 3, activation: 'relu' }).apply(inp) as tf.SymbolicTensor;
    h = L.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    h = L.flatten().apply(h) as tf.SymbolicTensor;
    const out = L.dense({ units: 3, activation: 'softmax' }).apply(h) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: out });
    randomize(m, 3);
    const conv = convertModel(m);
    assert.deepEqual(conv.spec.layers.map((l) => `${l.kind}@${l.index}`), ['identity@0', 'conv2d@1', 'relu@1', 'maxPool2x2@2', 'flatten@3', 'dense@4', 'softmax@4']);
    const x = uniform(5, 2 * 36, 0, 1);
    const err = maxAbsDiff(await encryptedPredict(protocol('low'), m, x, 2), tfPredict(m, x, [2, 6, 6, 1]));
    assert.ok(err <= SOFTMAX.low, `max error ${err}`);
  });
});

describe('a converted model in plaintext and on disk', () => {
  it('layersModelFromSpec (the plaintext twin of a converted model, BatchNormalization folded) predicts as the source; the JSON keeps the spec with its source indices', () => {
    const m = cases[cases.length - 1]!.build();
    randomize(m, 9);
    const conv = convertModel(m);
    const back = modelFromJSON(JSON.parse(JSON.stringify(modelToJSON(conv))));
    assert.deepEqual(back.spec, conv.spec);
    assert.deepEqual(back.weights, conv.weights);
    const twin = layersModelFromSpec(back);
    const x = uniform(12, 4 * 64, -2, 2);
    const err = maxAbsDiff(tfPredict(twin, x, [4, 8, 8, 1]), tfPredict(m, x, [4, 8, 8, 1]));
    assert.ok(err < 1e-5, `max difference ${err}`);
  });
});

/** The LayerError of converting `m`, checked to name `layer` (by class), `index` and `option`. */
function refused(m: tf.LayersModel, index: number, option: string | undefined, text: RegExp): void {
  const layer = m.layers[index]!;
  assert.throws(() => convertModel(m), (e: unknown) => {
    assert.ok(e instanceof LayerError, `expected a LayerError, got ${String(e)}`);
    assert.equal(e.layer, layer.name);
    assert.equal(e.index, index);
    assert.equal(e.option, option);
    assert.ok(e.message.startsWith(`layer ${index} '${layer.name}'${option === undefined ? ':' : ` option '${option}':`}`), e.message);
    assert.match(e.message, text);
    return true;
  });
}

describe('unsupported layers and options: a LayerError naming the layer, its index in the source model and the option', () => {
  const dense = () => L.dense({ units: 4, activation: 'relu' });
  it('Conv2D dilationRate 2', () => refused(seq([8, 8, 1], L.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2 })), 1, 'dilationRate', /dilation 2x2 is not supported/));
  it("Conv2D activation 'tanh' (after Dense and Reshape: source index 3, spec index 4)", () => refused(seq([4], dense(), L.reshape({ targetShape: [2, 2, 1] }), L.conv2d({ filters: 2, kernelSize: 1, activation: 'tanh' })), 3, 'activation', /activation 'tanh' is not supported/));
  it("Dense activation 'elu' after fused activations", () => refused(seq([4], dense(), dense(), L.dense({ units: 2, activation: 'elu' })), 3, 'activation', /'elu'/));
  it("Activation layer 'tanh'", () => refused(seq([4], L.activation({ activation: 'tanh' })), 1, 'activation', /'tanh'/));
  it('Conv2D channelsFirst', () => refused(seq([1, 8, 8], L.conv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' })), 1, 'dataFormat', /channelsLast/));
  it('MaxPooling2D poolSize 3', () => refused(seq([6, 6, 1], L.maxPooling2d({ poolSize: 3 })), 1, 'poolSize', /pool 3x3 is not supported \(2x2 only\)/));
  it('MaxPooling2D strides 1', () => refused(seq([6, 6, 1], L.maxPooling2d({ poolSize: 2, strides: 1 })), 1, 'strides', /strides 1x1/));
  it("MaxPooling2D padding 'same' on an odd input (it pads)", () => refused(seq([5, 6, 1], L.maxPooling2d({ poolSize: 2, padding: 'same' })), 1, 'padding', /'same'.*\[5, 6, 1\]/));
  it("AveragePooling2D padding 'same' where it pads", () => refused(seq([5, 5, 1], L.averagePooling2d({ poolSize: 2, padding: 'same' })), 1, 'padding', /'same'/));
  it('ReLU maxValue 6', () => refused(seq([4], L.reLU({ maxValue: 6 })), 1, 'maxValue', /capped ReLU/));
  it('Softmax over a non-last axis', () => refused(seq([3, 4], L.softmax({ axis: 1 })), 1, 'axis', /the last axis only: -1 or 2/));
  it('BatchNormalization over the channels of an NCHW layout (axis 1)', () => refused(seq([4, 3, 3], L.batchNormalization({ axis: 1 })), 1, 'axis', /the last axis only/));
  for (const [name, make, input] of [
    ['LSTM', () => L.lstm({ units: 3 }), [5, 4]],
    ['Embedding', () => L.embedding({ inputDim: 10, outputDim: 3 }), [5]],
    ['LeakyReLU', () => L.leakyReLU(), [4]],
    ['Conv1D', () => L.conv1d({ filters: 2, kernelSize: 2 }), [5, 3]],
    ['DepthwiseConv2D', () => L.depthwiseConv2d({ kernelSize: 2 }), [4, 4, 2]],
    ['GlobalMaxPooling2D', () => L.globalMaxPooling2d({}), [4, 4, 2]],
    ['ZeroPadding2D', () => L.zeroPadding2d({}), [4, 4, 2]],
  ] as [string, () => tf.layers.Layer, number[]][]) {
    it(`${name}: the layer type`, () => refused(seq(input, dense(), make()), 2, undefined, new RegExp(`layer type ${name} is not supported \\(supported: InputLayer, Dense, Conv2D`)));
  }
  it('branching: Add (a residual connection)', () => {
    const inp = tf.input({ shape: [4] });
    const a = L.dense({ units: 4 }).apply(inp) as tf.SymbolicTensor;
    const b = L.dense({ units: 4 }).apply(a) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: L.add().apply([a, b]) as tf.SymbolicTensor });
    refused(m, 3, undefined, /Add merges 2 inputs .*branching models are not supported/);
  });
  it('branching: Concatenate', () => {
    const inp = tf.input({ shape: [4] });
    const a = L.dense({ units: 2 }).apply(inp) as tf.SymbolicTensor;
    const b = L.dense({ units: 3 }).apply(inp) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: L.concatenate().apply([a, b]) as tf.SymbolicTensor });
    refused(m, 3, undefined, /Concatenate merges 2 inputs/);
  });
  it('branching without a merge: a layer fed by a layer that is not the previous one', () => {
    const inp = tf.input({ shape: [4] });
    const a = L.dense({ units: 4 }).apply(inp) as tf.SymbolicTensor;
    const b = L.dense({ units: 4 }).apply(inp) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: [a, b] });
    assert.throws(() => convertModel(m), (e: unknown) => e instanceof LayerError && /2 outputs/.test(e.message) && e.index === 2);
  });
  it('a shared layer (one Dense applied twice)', () => {
    const inp = tf.input({ shape: [4] });
    const d = L.dense({ units: 4 });
    const m = tf.model({ inputs: inp, outputs: d.apply(d.apply(inp)) as tf.SymbolicTensor });
    refused(m, 1, undefined, /is used 2 times in the model \(a shared layer\)/);
  });
  it('two inputs: names the second input layer', () => {
    const i1 = tf.input({ shape: [4], name: 'left' });
    const i2 = tf.input({ shape: [4], name: 'right' });
    const m = tf.model({ inputs: [i1, i2], outputs: L.add().apply([i1, i2]) as tf.SymbolicTensor });
    assert.throws(() => convertModel(m), (e: unknown) => e instanceof LayerError && e.layer === 'right' && e.index === m.layers.indexOf(m.getLayer('right')) && /2 inputs \('left', 'right'\)/.test(e.message));
  });
  it('a nested model', () => {
    const inner = seq([4], L.dense({ units: 3 }));
    const m = tf.sequential();
    m.add(L.inputLayer({ inputShape: [4] }));
    m.add(inner);
    refused(m, 1, undefined, /nested model/);
  });
  it('not a model: a TypeError naming the argument', () => {
    assert.throws(() => convertModel({} as tf.LayersModel), /convertModel: argument 'model' must be a tfjs LayersModel/);
  });
});

describe('spec shape errors name the source layer index', () => {
  it('a spec whose layers carry source indices: the error gives the source index, not the spec position', () => {
    const spec: ModelSpec = { inputShape: [6], layers: [{ kind: 'dense', name: 'd', index: 4, units: 3, useBias: true }, { kind: 'maxPool2x2', name: 'pool', index: 9 }] };
    assert.throws(() => modelShapes(spec), (e: unknown) => e instanceof LayerError && e.index === 9 && e.layer === 'pool' && /^layer 9 'pool': expects an image input/.test(e.message));
  });
  it('an unknown kind or a bad option of a spec (as read from a file) is refused by name', () => {
    assert.throws(() => modelShapes({ inputShape: [2], layers: [{ kind: 'tanh', name: 't' } as never] }), /layer 0 't' option 'kind': unknown kind "tanh"/);
    assert.throws(() => modelShapes({ inputShape: [2], layers: [{ kind: 'dense', name: 'd', units: 0, useBias: true }] }), /layer 0 'd' option 'units'/);
    assert.throws(() => modelShapes({ inputShape: [2, 2, 1], layers: [{ kind: 'conv2d', name: 'c', index: 3, filters: 1, kernel: [1, 1], strides: [1, 1], padding: 'full' as never, useBias: true }] }), /layer 3 'c' option 'padding'/);
  });
});
