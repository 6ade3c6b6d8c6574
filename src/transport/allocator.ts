/**
 * glibc malloc tuning for large messages (GrpcTransport's `tuneAllocator`).
 */
const MiB = 1 << 20;
/** Just under glibc's ceiling for its dynamic mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX, 32 MiB on 64-bit). */
const PRIME_BYTES = 31 * MiB;
let allocatorPrimed = false;

/**
 * Make glibc's malloc keep freed buffers of up to 31 MiB for reuse instead of
 * handing them back to the kernel (once per process; what the environment
 * variables MALLOC_MMAP_THRESHOLD_=32505856 MALLOC_TRIM_THRESHOLD_=65011712
 * would do, which this call cannot override if set).
 *
 * Why: a 4 MiB message crosses several buffers of chunk size on each side
 * (node:crypto's outputs, grpc-js's framing copy and reassembly, the message
 * itself), all garbage after use. By default glibc serves allocations above
 * 128 KiB with fresh mmap()ed pages and trims its heap eagerly, so every
 * message faults its buffers in again, page by page; on the project's VM a
 * page fault costs ~15-20 us, i.e. up to ~20 ms per 4 MiB, more than the
 * cryptography. glibc raises both thresholds by itself after freeing a large
 * mmap()ed chunk (up to 32 MiB / 64 MiB): this allocates one such chunk (31
 * MiB of address space, one page touched) and drops it, so that the next
 * garbage collection frees it and sets the thresholds. Cost: the process may
 * keep up to ~64 MiB of freed memory mapped. No effect on other allocators
 * (musl, jemalloc) beyond one short-lived allocation.
 */
export function primeAllocator(): void {
  if (allocatorPrimed) return;
  allocatorPrimed = true;
  const b = Buffer.allocUnsafeSlow(PRIME_BYTES);
  b[0] = 0;
}
