// Private prediction of MNIST test images by network_a..d (ABY3, three
// servers, the model owner and the client in this one process, in-memory
// transport): images per second at batch 1 and batch 128 (the client's
// encryption, the encrypted forward pass, the argmax and the reveal to the
// client), bytes and critical-path rounds per image, next to tfjs' plaintext
// predict of the same model and batch in the same run (wasm backend, one
// thread). Weights: the networks' seeded initial weights (throughput,
// bytes and rounds do not depend on their values). Median of BENCH_REPS
// batches (default 3 at batch 128, 9 at batch 1), after a warm-up pass over every network and batch size.
// Writes bench/results/private-predict.json.
//   node --import tsx bench/private-predict.bench.ts      (BENCH_PRECISION=low by default, BENCH_NETS=network_a,...)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ABY3, Player, type Precision } from '../src/encrypted/index.js';
import { convertModel, encryptModel } from '../src/encrypted/nn/index.js';
import { buildModel, initTf, loadMnist, tf } from '../src/learning/index.js';
import { getRingBackend } from '../src/ring/index.js';
import { CriticalPathTransport, MemoryTransport } from '../src/transport/index.js';

const precision = (process.env['BENCH_PRECISION'] ?? 'low') as Precision;
const nets = (process.env['BENCH_NETS'] ?? 'network_a,network_b,network_c,network_d').split(',');
const backend = await initTf();
const [s0, s1, s2, owner, client] = ['server0', 'server1', 'server2', 'model-owner', 'client'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const { test } = loadMnist();
const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const results: Record<string, unknown> = {
  backend: getRingBackend(), tfjsBackend: backend, precision, cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadavgBefore: loadavg()[0], runs: {},
};
const runs = results['runs'] as Record<string, unknown>;

// every model encrypted once; one warm-up pass over every (network, batch) before any measurement (JIT, wasm)
const setups = [];
for (const name of nets) {
  const m = buildModel(name, { seed: 1 });
  const t = new CriticalPathTransport(new MemoryTransport());
  const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [owner, client] });
  const em = await encryptModel(convertModel(m), p, { owner });
  setups.push({ name, m, t, em, weightBytes: t.bytesSentBy(owner.name) });
}
for (const { m, em } of setups) {
  for (const batch of [1, 128]) {
    await em.predictFor(client, test.images.subarray(0, batch * 784), { batchSize: batch });
    tf.tidy(() => (m.predict(tf.tensor2d(test.images.subarray(0, batch * 784), [batch, 784])) as tf.Tensor).argMax(1).dataSync());
  }
}

for (const { name, m, t, em, weightBytes } of setups) {
  for (const batch of [1, 128]) {
    const reps = Number(process.env['BENCH_REPS'] ?? (batch === 1 ? 9 : 3));
    const images = (k: number) => test.images.subarray(k * batch * 784, (k + 1) * batch * 784);
    const ms: number[] = [];
    const rounds: number[] = [];
    const bytes: number[] = [];
    const perParty: Record<string, number> = {};
    for (let r = 0; r < reps; r++) {
      t.reset();
      const s = now();
      await em.predictFor(client, images(r + 1), { batchSize: batch });
      ms.push(now() - s);
      rounds.push(t.rounds());
      let b = 0;
      for (const [k, v] of t.pairs()) {
        b += v.bytes;
        const from = k.split('->')[0]!;
        perParty[from] = (perParty[from] ?? 0) + v.bytes / reps / batch;
      }
      bytes.push(b);
    }
    // plaintext: tfjs predict (and argmax) of the same batches
    const x = tf.tensor2d(images(1), [batch, 784]);
    for (let k = 0; k < 3; k++) tf.tidy(() => (m.predict(x) as tf.Tensor).argMax(1).dataSync());
    const pms: number[] = [];
    for (let r = 0; r < Math.max(reps, 5); r++) {
      const s = now();
      tf.tidy(() => (m.predict(x) as tf.Tensor).argMax(1).dataSync());
      pms.push(now() - s);
    }
    x.dispose();
    const key = `${name}/batch${batch}`;
    const row = {
      msPerBatch: med(ms), imagesPerSecond: (1000 * batch) / med(ms), plaintextMsPerBatch: med(pms), plaintextImagesPerSecond: (1000 * batch) / med(pms),
      ratio: med(ms) / med(pms), bytesPerImage: med(bytes) / batch, bytesPerImageBySender: perParty, roundsPerBatch: med(rounds), roundsPerImage: med(rounds) / batch,
      weightSharingBytes: weightBytes, parameters: em.parameterCount, reps,
    };
    runs[key] = row;
    console.log(`${key}: ${row.imagesPerSecond.toFixed(1)} images/s (plaintext ${row.plaintextImagesPerSecond.toFixed(0)}), ${(row.bytesPerImage / 1024).toFixed(1)} KiB and ${row.roundsPerImage.toFixed(2)} rounds per image (${row.roundsPerBatch} per batch)`);
  }
}
results['loadavgAfter'] = loadavg()[0];
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/private-predict.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
