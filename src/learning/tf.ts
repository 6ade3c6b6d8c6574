/**
 * tfjs set-up: one shared `tf` namespace on the wasm backend.
 *
 * In Node the wasm backend runs single threaded (SIMD when available); it is
 * about 10x faster than tfjs' pure-JS 'cpu' backend. `@tensorflow/tfjs-node`
 * is not used.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };

let ready: Promise<string> | undefined;

/**
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so conv nets
 * cannot be trained on it out of the box. This registers one built from
 * kernels it does have: for each filter tap (i, j), the strided slice of the
 * padded input times dy, summed over batch and output positions by one
 * matMul: dW[i, j] = x_ij^T dy  ([c, f]).
 */
export function conv2DBackpropFilterFromOps(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], strides: number | [number, number], pad: 'valid' | 'same' | number, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad as 'valid', dimRoundingMode);
  const [b, , , c] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outChannels: f } = info;
  const { top, bottom, left, right } = info.padInfo;
  return tf.tidy(() => {
    const xp = top || bottom || left || right ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]) : x;
    const d = dy.reshape([b * oh * ow, f]);
    const taps: tf.Tensor2D[] = [];
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        const xs = tf.stridedSlice(xp, [0, i, j, 0], [b, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c], [1, sh, sw, 1]);
        taps.push(tf.matMul(xs.reshape([b * oh * ow, c]), d, true, false));
      }
    }
    return tf.stack(taps).reshape([fh, fw, c, f]) as tf.Tensor4D;
  });
}

function registerMissingWasmKernels(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const a = attrs as unknown as { strides: [number, number]; pad: 'valid' | 'same' | number; dataFormat: string; filterShape: [number, number, number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
      if (a.dataFormat && a.dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter (wasm, fedcrypt): dataFormat ${a.dataFormat} not supported, only NHWC`);
      const wasm = backend as unknown as { makeOutput(shape: number[], dtype: string): tf.TensorInfo; typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
      // copies of the inputs as ordinary tensors (wrapping the kernel inputs' dataIds leaks engine references)
      const xi = inputs.x as tf.TensorInfo, dyi = inputs.dy as tf.TensorInfo;
      const x = tf.tensor4d(wasm.typedArrayFromHeap(xi).slice(), xi.shape as [number, number, number, number], 'float32');
      const dy = tf.tensor4d(wasm.typedArrayFromHeap(dyi).slice(), dyi.shape as [number, number, number, number], 'float32');
      let vals: Float32Array;
      try {
        const dw = conv2DBackpropFilterFromOps(x, dy, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
        vals = dw.dataSync() as Float32Array;
        dw.dispose();
      } finally {
        x.dispose();
        dy.dispose();
      }
      // a fresh backend output the engine takes over (filter-sized copy)
      const out = wasm.makeOutput([...a.filterShape], 'float32');
      wasm.typedArrayFromHeap(out).set(vals);
      return out;
    },
  });
}

/** Select the wasm backend once (falls back to 'cpu' only if wasm fails to load). Returns the backend name. */
export function initTf(): Promise<string> {
  if (!ready) {
    ready = (async () => {
      let ok = false;
      try {
        ok = await tf.setBackend('wasm');
      } catch {
        ok = false;
      }
      if (!ok) await tf.setBackend('cpu');
      await tf.ready();
      if (tf.getBackend() === 'wasm') registerMissingWasmKernels();
      return tf.getBackend();
    })();
  }
  return ready;
}
