/**
 * `fedcrypt private-predict`: private prediction of the MNIST test set.
 *
 *   fedcrypt private-predict --model model.json mnist [--batch-size 128] [--limit 1000]
 *   fedcrypt private-predict --model network_a --weights a.f32 mnist
 *   fedcrypt private-predict --model network_c --train-epochs 1 --save c.json mnist --limit 512
 *
 * The model owner secret-shares the weights (ABY3, three servers in this
 * process over the in-memory transport), the client secret-shares each batch
 * of test images, and only the client learns the predicted classes. Reports
 * accuracy, agreement with the plaintext (tfjs) prediction of the same
 * model, images per second for both, and bytes and rounds per image.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Player } from '../encrypted/index.js';
import { aby3ForCli } from './aby3-cli.js';
import { convertModel, encryptModel, loadModel, saveModel, type ConvertedModel } from '../encrypted/nn/index.js';
import { buildModel, DATASET_NAMES, initTf, layersModelFromSpec, loadDataset, MODEL_NAMES, setFlatWeights, tf, weightLayout } from '../learning/index.js';
import { CriticalPathTransport, MemoryTransport } from '../transport/index.js';

export interface PrivatePredictOptions {
  model: string; weights?: string; trainEpochs?: number; trainLimit?: number; save?: string;
  batchSize: number; limit?: number; precision: 'low' | 'high'; output: 'class' | 'logits'; seed: number; json?: string; progress?: boolean;
  /** ABY3's comparisons' bit length k (default the ring's bits): exact for |x| < 2^(k-1-f). */
  comparisonBits?: number;
}

/** What a run measured (also written by --json). */
export interface PrivatePredictReport {
  model: string; dataset: string; images: number; batchSize: number; precision: 'low' | 'high'; comparisonBits: number; parameters: number;
  accuracy: number; plaintextAccuracy: number; agreement: number;
  imagesPerSecond: number; plaintextImagesPerSecond: number; seconds: number; plaintextSeconds: number;
  bytesPerImage: number; serverBytesPerImage: number; clientBytesPerImage: number; weightSharingBytes: number;
  roundsPerBatch: number; roundsPerImage: number;
}

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} expected an integer >= ${min}, got "${v}"`);
    return n;
  };
}

const fmtBytes = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : b >= 1 << 10 ? `${(b / 1024).toFixed(1)} KiB` : `${b.toFixed(0)} B`);
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** The model owner's model: a converted model and its plaintext tfjs twin. */
async function ownerModel(o: PrivatePredictOptions, log: (s: string) => void): Promise<{ converted: ConvertedModel; plain: tf.LayersModel; what: string }> {
  if (o.trainLimit !== undefined && o.trainEpochs === undefined) throw new InvalidArgumentError('--train-limit applies with --train-epochs only');
  const isName = (MODEL_NAMES as readonly string[]).includes(o.model.toLowerCase());
  if (!isName) {
    if (!existsSync(o.model)) throw new InvalidArgumentError(`--model: "${o.model}" is neither a model file (fedcrypt-model/1, written by saveModel / --save) nor a network name (${MODEL_NAMES.join(', ')})`);
    if (o.weights !== undefined || o.trainEpochs !== undefined) throw new InvalidArgumentError('--weights and --train-epochs apply to a network name, not to a model file (it holds its weights)');
    const converted = loadModel(o.model);
    return { converted, plain: layersModelFromSpec(converted), what: `file ${o.model}` };
  }
  if ((o.weights === undefined) === (o.trainEpochs === undefined)) {
    throw new InvalidArgumentError(`--model ${o.model} needs exactly one of --weights <file> (float32 little-endian, the trainable weights in order) or --train-epochs <n> (the model owner trains it in plaintext first)`);
  }
  const m = buildModel(o.model, { seed: o.seed });
  if (o.weights !== undefined) {
    const buf = readFileSync(o.weights);
    const total = weightLayout(m).total;
    if (buf.byteLength !== 4 * total) throw new InvalidArgumentError(`--weights ${o.weights}: ${buf.byteLength} bytes, ${o.model} has ${total} float32 weights (${4 * total} bytes)`);
    const flat = new Float32Array(total);
    new Uint8Array(flat.buffer).set(buf);
    setFlatWeights(m, flat);
    return { converted: convertModel(m), plain: m, what: `${o.model}, weights ${o.weights}` };
  }
  const { train } = loadDataset('mnist');
  const n = Math.min(o.trainLimit ?? train.count, train.count);
  log(`model owner: training ${o.model} in plaintext (tfjs, Adam 0.002, batch 64) for ${o.trainEpochs} epoch(s) on ${n} training images`);
  m.compile({ optimizer: tf.train.adam(0.002), loss: (y: tf.Tensor, p: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, p) });
  const x = tf.tensor2d(train.images.subarray(0, n * 784), [n, 784]);
  const y = tf.oneHot(tf.tensor1d(Int32Array.from(train.labels.subarray(0, n)), 'int32'), 10);
  await m.fit(x, y, { epochs: o.trainEpochs!, batchSize: 64, verbose: 0 });
  tf.dispose([x, y]);
  return { converted: convertModel(m), plain: m, what: `${o.model}, trained in plaintext for ${o.trainEpochs} epoch(s)` };
}

/** Run; returns the report (the caller prints / exits). */
export async function runPrivatePredict(dataset: string, o: PrivatePredictOptions, log: (s: string) => void = (s) => console.log(s)): Promise<PrivatePredictReport> {
  if (!(DATASET_NAMES as readonly string[]).includes(dataset)) throw new InvalidArgumentError(`unknown dataset "${dataset}"; valid datasets: ${DATASET_NAMES.join(', ')}`);
  await initTf();
  const { converted, plain, what } = await ownerModel(o, log);
  if (converted.spec.inputShape.reduce((a, b) => a * b, 1) !== 784) throw new InvalidArgumentError(`--model: input shape [${converted.spec.inputShape.join(', ')}] does not take 28x28 MNIST images (784 values)`);
  if (o.save !== undefined) {
    saveModel(o.save, converted);
    log(`model saved to ${o.save}`);
  }
  const { test } = loadDataset(dataset);
  const n = Math.min(o.limit ?? test.count, test.count);
  const images = test.images.subarray(0, n * 784);
  const labels = test.labels.subarray(0, n);

  const [s0, s1, s2, owner, client] = ['server0', 'server1', 'server2', 'model-owner', 'client'].map((p) => new Player(p)) as [Player, Player, Player, Player, Player];
  const t = new CriticalPathTransport(new MemoryTransport());
  const prot = aby3ForCli([s0, s1, s2], { precision: o.precision, transport: t, players: [owner, client] }, o.comparisonBits);
  const comparisons = prot.comparisonBits === prot.bits ? '' : `, comparisons on ${prot.comparisonBits} bits`;
  log(`fedcrypt private-predict: ${what} on ${dataset} test images [0, ${n}), ABY3 '${o.precision}'${comparisons}, batch ${o.batchSize}, output ${o.output}; three servers in this process (in-memory transport)`);
  const em = await encryptModel(converted, prot, { owner });
  const weightSharingBytes = t.bytesSentBy(owner.name);
  log(`model: ${converted.spec.layers.length} layer specs, ${em.parameterCount} weights secret-shared by the model owner (${fmtBytes(weightSharingBytes)} sent once)`);

  t.reset();
  const rounds: number[] = [];
  let bytes = 0, serverBytes = 0, clientBytes = 0;
  let last = performance.now();
  const count = () => {
    for (const [k, v] of t.pairs()) {
      bytes += v.bytes;
      if (k.startsWith('server')) serverBytes += v.bytes;
      if (k.startsWith(`${client.name}->`)) clientBytes += v.bytes;
    }
  };
  const t0 = performance.now();
  const got = await em.predictFor(client, images, {
    output: o.output, batchSize: o.batchSize,
    onBatch: (done, total) => {
      rounds.push(t.rounds());
      count();
      t.reset();
      const now = performance.now();
      if (o.progress !== false && (now - last > 10_000 || done === total)) {
        last = now;
        log(`  ${done}/${total} images, ${(done / ((now - t0) / 1000)).toFixed(1)} images/s`);
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;

  // the plaintext prediction of the same model, in the same run
  const p0 = performance.now();
  const plainOut = new Float32Array(n * 10);
  for (let s = 0; s < n; s += o.batchSize) {
    const e = Math.min(n, s + o.batchSize);
    plainOut.set(tf.tidy(() => (plain.predict(tf.tensor(images.subarray(s * 784, e * 784), [e - s, ...converted.spec.inputShape])) as tf.Tensor).dataSync() as Float32Array), s * 10);
  }
  const plaintextSeconds = (performance.now() - p0) / 1000;
  const classOf = (v: ArrayLike<number>, i: number) => {
    let a = 0;
    for (let j = 1; j < 10; j++) if (v[i * 10 + j]! > v[i * 10 + a]!) a = j;
    return a;
  };
  let agree = 0, correct = 0, plainCorrect = 0;
  for (let i = 0; i < n; i++) {
    const c = o.output === 'class' ? got![i]! : classOf(got!, i);
    const pc = classOf(plainOut, i);
    if (c === pc) agree++;
    if (c === labels[i]) correct++;
    if (pc === labels[i]) plainCorrect++;
  }
  const roundsPerBatch = rounds.reduce((a, b) => a + b, 0) / rounds.length;
  const r: PrivatePredictReport = {
    model: what, dataset, images: n, batchSize: o.batchSize, precision: o.precision, comparisonBits: prot.comparisonBits, parameters: em.parameterCount,
    accuracy: correct / n, plaintextAccuracy: plainCorrect / n, agreement: agree / n,
    imagesPerSecond: n / seconds, plaintextImagesPerSecond: n / plaintextSeconds, seconds, plaintextSeconds,
    bytesPerImage: bytes / n, serverBytesPerImage: serverBytes / n, clientBytesPerImage: clientBytes / n, weightSharingBytes,
    roundsPerBatch, roundsPerImage: roundsPerBatch * rounds.length / n,
  };
  log(`accuracy: private ${pct(r.accuracy)}, plaintext ${pct(r.plaintextAccuracy)}`);
  log(`agreement with the plaintext prediction: ${agree}/${n} (${pct(r.agreement)})`);
  log(`throughput: private ${r.imagesPerSecond.toFixed(1)} images/s (${seconds.toFixed(2)} s), plaintext tfjs ${r.plaintextImagesPerSecond.toFixed(0)} images/s`);
  log(`per image: ${fmtBytes(r.bytesPerImage)} sent (servers ${fmtBytes(r.serverBytesPerImage)}, client ${fmtBytes(r.clientBytesPerImage)}); ${roundsPerBatch.toFixed(0)} rounds per batch (critical path), ${r.roundsPerImage.toFixed(2)} per image`);
  if (o.json !== undefined) writeFileSync(o.json, JSON.stringify(r, null, 2) + '\n');
  plain.dispose();
  return r;
}

/** Registers `private-predict` on the CLI. */
export function registerPrivatePredict(program: Command): void {
  program
    .command('private-predict')
    .description('private prediction of the MNIST test set: the model owner\'s weights and the client\'s images secret-shared (ABY3), the classes revealed to the client only')
    .argument('[dataset]', `dataset: ${DATASET_NAMES.join(', ')}`, 'mnist')
    .requiredOption('--model <file|name>', `a model file written by saveModel / --save (fedcrypt-model/1), or a network name (${MODEL_NAMES.join(', ')}) with --weights or --train-epochs`)
    .option('--weights <file>', "a network's trainable weights, float32 little-endian, in tfjs' order")
    .option('--train-epochs <n>', 'the model owner trains the named network in plaintext first (tfjs)', intArg('--train-epochs', 1))
    .option('--train-limit <n>', 'with --train-epochs: the first n training images', intArg('--train-limit', 1))
    .option('--save <file>', 'write the converted model (fedcrypt-model/1) for later runs')
    .option('--batch-size <n>', 'images per encrypted batch', intArg('--batch-size', 1), 128)
    .option('--limit <n>', 'the first n test images (default all)', intArg('--limit', 1))
    .addOption(new Option('--precision <p>', 'fixed-point precision').choices(['low', 'high']).default('low'))
    .addOption(new Option('--output <what>', 'what the client learns: the class, or the model\'s output').choices(['class', 'logits']).default('class'))
    .option('--comparison-bits <k>', 'bit length of the comparisons: exact for |x| < 2^(k-1-f); k in [f + 2, l] (default l; docs/encrypted-ml.md "Comparison bit length")', intArg('--comparison-bits', 1))
    .option('--seed <n>', 'seed of the named network\'s initializers', intArg('--seed', 0), 1)
    .option('--json <file>', 'also write the figures as JSON')
    .option('--no-progress', 'no progress lines')
    .action(async (dataset: string, o: PrivatePredictOptions) => {
      await runPrivatePredict(dataset, o);
    });
}
