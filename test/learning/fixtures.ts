/** Shared test fixtures of the learning tests: MNIST split into the three data owners' parts. */
import { initTf } from '../../src/learning/tf.js';
import { loadDataset, slice, sliceDataset, type Dataset, type MnistData } from '../../src/learning/mnist.js';

/** MNIST (tfjs initialised) and its first 3 x `size` training examples as three consecutive parts, one per data owner. */
export async function mnistThirds(size = 400): Promise<{ data: MnistData; parts: Dataset[] }> {
  await initTf();
  const data = loadDataset('mnist');
  return { data, parts: [0, 1, 2].map((i) => sliceDataset(data.train, slice(i * size, (i + 1) * size))) };
}
