/** Backend selection: 'wasm' (default when dist/wasm/ring.wasm exists) or 'ts' (reference). */
import { RingBackendError } from './errors.js';
import { referenceKernels, type RingKernels } from './reference.js';
import { describe } from './shape.js';
import { residentHeap } from './heap.js';
import { loadWasmKernels } from './wasm.js';

export type RingBackendName = 'wasm' | 'ts';

const loaded = loadWasmKernels(undefined, { resident: residentHeap() });
let current: RingKernels = loaded.kernels ?? referenceKernels;

/** Kernels of the current backend. */
export function kernels(): RingKernels {
  return current;
}

/** Chooses the kernels behind every ring op. 'wasm' throws if the module was not built. */
export function setRingBackend(name: RingBackendName): void {
  current = selectKernels(name, loaded);
}

/** The kernels for `name` given a load result (exported for tests). */
export function selectKernels(name: RingBackendName, load: { kernels: RingKernels | null; error: string }): RingKernels {
  if (name === 'ts') return referenceKernels;
  if (name === 'wasm') {
    if (!load.kernels) {
      throw new RingBackendError(`setRingBackend: the wasm ring kernels are not available (${load.error}); run \`npm run build\``);
    }
    return load.kernels;
  }
  if (typeof name !== 'string') {
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
