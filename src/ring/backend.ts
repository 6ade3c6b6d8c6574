/** Backend selection: 'wasm' (default when dist/wasm/ring.wasm exists) or 'ts' (reference). */
import { RingBackendError } from './errors.js';
import { referenceKernels, type RingKernels } from './reference.js';
import { describe } from './shape.js';
import { loadWasmKernels } from './wasm.js';

export type RingBackendName = 'wasm' | 'ts';

const loaded = loadWasmKernels();
let current: RingKernels = loaded.kernels ?? referenceKernels;

/** Kernels of the current backend. */
export function kernels(): RingKernels {
  return current;
}

/** Chooses the kernels behind every ring op. 'wasm' throws if the module was not built. */
export function setRingBackend(name: RingBackendName): void {
  if (name === 'ts') current = referenceKernels;
  else if (name === 'wasm') {
    if (!loaded.kernels) {
      throw new RingBackendError(`setRingBackend: the wasm ring kernels are not available (${loaded.error}); run \`npm run build\``);
    }
    current = loaded.kernels;
  } else if (typeof name !== 'string') {
    throw new TypeError(`setRingBackend: argument 'name' must be 'wasm' or 'ts', got ${describe(name)}`);
  } else {
    throw new RangeError(`setRingBackend: argument 'name' must be 'wasm' or 'ts', got '${String(name)}'`);
  }
}

export function getRingBackend(): RingBackendName {
  return current === referenceKernels ? 'ts' : 'wasm';
}

/** Whether the wasm module loaded (and why not). */
export function wasmAvailable(): { available: boolean; error?: string } {
  return loaded.kernels ? { available: true } : { available: false, error: loaded.error };
}
