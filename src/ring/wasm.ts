/** Loads dist/wasm/ring.wasm synchronously and wraps it as RingKernels. */
import type { RingKernels } from './reference.js';

export function loadWasmKernels(): { kernels: RingKernels | null; error: string } {
  return { kernels: null, error: 'not implemented yet' };
}
