// SecAgg mask accumulation kernels, compiled with AssemblyScript to
// dist/wasm/mask-add.wasm (src/crypto/mask-sum.ts lays out the memory):
// acc[i] += ks[i] or acc[i] -= ks[i] over n words of 32 or 64 bits, SIMD
// (i32x4 / i64x2: lanes wrap modulo 2^32 / 2^64, no carries between entries).
// Pointers are byte offsets into this module's memory; the tails are scalar.

export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

export function add32(acc: usize, ks: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const off = (<usize>i) << 2;
    v128.store(acc + off, i32x4.add(v128.load(acc + off), v128.load(ks + off)));
    v128.store(acc + off, i32x4.add(v128.load(acc + off, 16), v128.load(ks + off, 16)), 16);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 2;
    store<u32>(acc + off, load<u32>(acc + off) + load<u32>(ks + off));
  }
}

export function sub32(acc: usize, ks: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const off = (<usize>i) << 2;
    v128.store(acc + off, i32x4.sub(v128.load(acc + off), v128.load(ks + off)));
    v128.store(acc + off, i32x4.sub(v128.load(acc + off, 16), v128.load(ks + off, 16)), 16);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 2;
    store<u32>(acc + off, load<u32>(acc + off) - load<u32>(ks + off));
  }
}

export function add64(acc: usize, ks: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 3;
    v128.store(acc + off, i64x2.add(v128.load(acc + off), v128.load(ks + off)));
    v128.store(acc + off, i64x2.add(v128.load(acc + off, 16), v128.load(ks + off, 16)), 16);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(acc + off, load<u64>(acc + off) + load<u64>(ks + off));
  }
}

export function sub64(acc: usize, ks: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 3;
    v128.store(acc + off, i64x2.sub(v128.load(acc + off), v128.load(ks + off)));
    v128.store(acc + off, i64x2.sub(v128.load(acc + off, 16), v128.load(ks + off, 16)), 16);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(acc + off, load<u64>(acc + off) - load<u64>(ks + off));
  }
}
