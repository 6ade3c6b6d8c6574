// Montgomery modular exponentiation for Paillier CRT decryption (AssemblyScript, wasm SIMD).
//
// Numbers are little-endian arrays of 28-bit limbs stored in u32 words. The
// product is computed column by column (product scanning, Comba) with the
// Montgomery reduction interleaved (FIPS form): a column's products (< 2^56
// each) are summed in i64x2 lanes with i64x2.extmul_{low,high}_i32x4_u, four
// products per step, and carries are resolved once per column. The second
// operand and the modulus are stored reversed so both walks are ascending.
// R = 2^(28·S) with 4m < R, so intermediate results stay in [0, 2m) without
// final subtractions (Walter 1999); the result is fully reduced once.
//
// Memory: slots of STR u32 words, each with 4 zero words of padding before
// (slot pointers point past them) and zero padding after, so the vector loops
// may run over rounded-up index ranges.
//   0 M  1 R2  2 X (base in / result out)  3 EXP (u32 words)  4 Q  5 T  6 ACC
//   7 ONE  8 MREV  9 BREV  10 Y  11.. table of 2^W entries

const MASK: u64 = (1 << 28) - 1;
const MAXS: i32 = 224;
const STR: i32 = MAXS + 16;
const BASE: usize = 65536;
const W: i32 = 5;
const NSLOTS: i32 = 11 + (1 << W);

let S: i32 = 0;
let NINV: u64 = 0;
// fixed-base table region: window digits (u32), then entries of S words each
const DBASE: usize = BASE + <usize>(NSLOTS * STR * 4);
const TBASE: usize = DBASE + 16384;

@inline function slot(k: i32): usize {
  return BASE + <usize>(k * STR * 4) + 16;
}

export function slotPtr(k: i32): usize {
  return slot(k);
}

export function maxLimbs(): i32 {
  return MAXS;
}

/** Set the limb count and -m^{-1} mod 2^28; zeroes every slot (the caller then writes M, R2, X, EXP). */
export function setup(s: i32, ninv: u32): void {
  S = s;
  NINV = <u64>ninv;
  memory.fill(BASE, 0, <usize>(NSLOTS * STR * 4));
}

@inline function ld(p: usize, i: i32): u64 {
  return <u64>load<u32>(p + (<usize>i << 2));
}

function reverseInto(src: usize, dst: usize): void {
  const s = S;
  for (let k = 0; k < s; k++) store<u32>(dst + (<usize>k << 2), load<u32>(src + (<usize>(s - 1 - k) << 2)));
}

// out = a·b·R^{-1} mod m, in [0, 2m) for inputs in [0, 2m); out may alias a or b.
function montmul(a: usize, b: usize, out: usize): void {
  const s = S;
  const q = slot(4);
  const t = slot(5);
  const mrev = slot(8);
  const brev = slot(9);
  const m0 = ld(slot(0), 0);
  reverseInto(b, brev);
  memory.fill(q, 0, <usize>((s + 4) << 2));
  let carry: u64 = 0;
  for (let i = 0; i < s; i++) {
    let v1 = i64x2.splat(0);
    let v2 = i64x2.splat(0);
    const jend = (i + 4) & ~3;
    const off = <usize>(s - 1 - i) << 2;
    const pb = brev + off;
    const pm = mrev + off;
    let h1 = i64x2.splat(0);
    let h2 = i64x2.splat(0);
    let j = 0;
    for (; j + 8 <= jend; j += 8) {
      const o = <usize>j << 2;
      const va = v128.load(a + o);
      const vb = v128.load(pb + o);
      const vq = v128.load(q + o);
      const vm = v128.load(pm + o);
      const va2 = v128.load(a + o + 16);
      const vb2 = v128.load(pb + o + 16);
      const vq2 = v128.load(q + o + 16);
      const vm2 = v128.load(pm + o + 16);
      v1 = i64x2.add(v1, i64x2.extmul_low_i32x4_u(va, vb));
      h1 = i64x2.add(h1, i64x2.extmul_high_i32x4_u(va, vb));
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq, vm));
      h2 = i64x2.add(h2, i64x2.extmul_high_i32x4_u(vq, vm));
      v1 = i64x2.add(v1, i64x2.extmul_low_i32x4_u(va2, vb2));
      h1 = i64x2.add(h1, i64x2.extmul_high_i32x4_u(va2, vb2));
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq2, vm2));
      h2 = i64x2.add(h2, i64x2.extmul_high_i32x4_u(vq2, vm2));
    }
    if (j < jend) {
      const o = <usize>j << 2;
      const va = v128.load(a + o);
      const vb = v128.load(pb + o);
      v1 = i64x2.add(v1, i64x2.extmul_low_i32x4_u(va, vb));
      h1 = i64x2.add(h1, i64x2.extmul_high_i32x4_u(va, vb));
      const vq = v128.load(q + o);
      const vm = v128.load(pm + o);
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq, vm));
      h2 = i64x2.add(h2, i64x2.extmul_high_i32x4_u(vq, vm));
    }
    v1 = i64x2.add(v1, h1);
    v2 = i64x2.add(v2, h2);
    const c1: u64 = carry + <u64>i64x2.extract_lane(v1, 0) + <u64>i64x2.extract_lane(v1, 1);
    let c2: u64 = <u64>i64x2.extract_lane(v2, 0) + <u64>i64x2.extract_lane(v2, 1);
    const qi = (((c1 + c2) & MASK) * NINV) & MASK;
    store<u32>(q + (<usize>i << 2), <u32>qi);
    c2 += qi * m0;
    carry = (c1 >> 28) + (c2 >> 28) + (((c1 & MASK) + (c2 & MASK)) >> 28);
  }
  const jend = (s + 3) & ~3;
  for (let i = s; i < 2 * s - 1; i++) {
    let v1 = i64x2.splat(0);
    let v2 = i64x2.splat(0);
    const off = <isize>(s - 1 - i) << 2; // negative
    const pb = <usize>(<isize>brev + off);
    const pm = <usize>(<isize>mrev + off);
    let h1 = i64x2.splat(0);
    let h2 = i64x2.splat(0);
    let j = (i - s + 1) & ~3;
    for (; j + 8 <= jend; j += 8) {
      const o = <usize>j << 2;
      const va = v128.load(a + o);
      const vb = v128.load(pb + o);
      const vq = v128.load(q + o);
      const vm = v128.load(pm + o);
      const va2 = v128.load(a + o + 16);
      const vb2 = v128.load(pb + o + 16);
      const vq2 = v128.load(q + o + 16);
      const vm2 = v128.load(pm + o + 16);
      v1 = i64x2.add(v1, i64x2.extmul_low_i32x4_u(va, vb));
      h1 = i64x2.add(h1, i64x2.extmul_high_i32x4_u(va, vb));
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq, vm));
      h2 = i64x2.add(h2, i64x2.extmul_high_i32x4_u(vq, vm));
      v1 = i64x2.add(v1, i64x2.extmul_low_i32x4_u(va2, vb2));
      h1 = i64x2.add(h1, i64x2.extmul_high_i32x4_u(va2, vb2));
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq2, vm2));
      h2 = i64x2.add(h2, i64x2.extmul_high_i32x4_u(vq2, vm2));
    }
    if (j < jend) {
      const o = <usize>j << 2;
      const va = v128.load(a + o);
      const vb = v128.load(pb + o);
      v1 = i64x2.add(v1, i64x2.extmul_low_i32x4_u(va, vb));
      h1 = i64x2.add(h1, i64x2.extmul_high_i32x4_u(va, vb));
      const vq = v128.load(q + o);
      const vm = v128.load(pm + o);
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq, vm));
      h2 = i64x2.add(h2, i64x2.extmul_high_i32x4_u(vq, vm));
    }
    v1 = i64x2.add(v1, h1);
    v2 = i64x2.add(v2, h2);
    const c1: u64 = carry + <u64>i64x2.extract_lane(v1, 0) + <u64>i64x2.extract_lane(v1, 1);
    const c2: u64 = <u64>i64x2.extract_lane(v2, 0) + <u64>i64x2.extract_lane(v2, 1);
    const lo = (c1 & MASK) + (c2 & MASK);
    store<u32>(t + (<usize>(i - s) << 2), <u32>(lo & MASK));
    carry = (c1 >> 28) + (c2 >> 28) + (lo >> 28);
  }
  store<u32>(t + (<usize>(s - 1) << 2), <u32>carry);
  memory.copy(out, t, <usize>s << 2);
}


// Sum over j in [j0, jmid) of a[j]·a[i-j] (arev = a reversed), j0 a multiple of 4 or with zero terms below.
@inline function halfColumn(a: usize, pa: usize, j0: i32, jmid: i32): u64 {
  let v = i64x2.splat(0);
  let w = i64x2.splat(0);
  let j = j0;
  for (; j + 8 <= jmid; j += 8) {
    const o = <usize>j << 2;
    const va = v128.load(a + o);
    const vb = v128.load(pa + o);
    const va2 = v128.load(a + o + 16);
    const vb2 = v128.load(pa + o + 16);
    v = i64x2.add(v, i64x2.extmul_low_i32x4_u(va, vb));
    w = i64x2.add(w, i64x2.extmul_high_i32x4_u(va, vb));
    v = i64x2.add(v, i64x2.extmul_low_i32x4_u(va2, vb2));
    w = i64x2.add(w, i64x2.extmul_high_i32x4_u(va2, vb2));
  }
  for (; j + 4 <= jmid; j += 4) {
    const o = <usize>j << 2;
    const va = v128.load(a + o);
    const vb = v128.load(pa + o);
    v = i64x2.add(v, i64x2.extmul_low_i32x4_u(va, vb));
    w = i64x2.add(w, i64x2.extmul_high_i32x4_u(va, vb));
  }
  v = i64x2.add(v, w);
  let r: u64 = <u64>i64x2.extract_lane(v, 0) + <u64>i64x2.extract_lane(v, 1);
  for (; j < jmid; j++) r += ld(a, j) * ld(pa, j);
  return r;
}

// out = a·a·R^{-1} mod m (the symmetric products counted once and doubled).
function montsqr(a: usize, out: usize): void {
  const s = S;
  const q = slot(4);
  const t = slot(5);
  const mrev = slot(8);
  const arev = slot(9);
  const m0 = ld(slot(0), 0);
  reverseInto(a, arev);
  memory.fill(q, 0, <usize>((s + 4) << 2));
  let carry: u64 = 0;
  for (let i = 0; i < 2 * s - 1; i++) {
    const off = <isize>(s - 1 - i) << 2;
    const pa = <usize>(<isize>arev + off);
    const pm = <usize>(<isize>mrev + off);
    const lo = i < s ? 0 : (i - s + 1) & ~3;
    // a·a part
    let c1: u64 = halfColumn(a, pa, lo, (i + 1) >> 1) << 1;
    if ((i & 1) == 0) {
      const d = ld(a, i >> 1);
      c1 += d * d;
    }
    c1 += carry;
    // q·m part (q[j] = 0 for j >= i while column i < s is open)
    let v2 = i64x2.splat(0);
    let v3 = i64x2.splat(0);
    const jend = i < s ? (i + 4) & ~3 : (s + 3) & ~3;
    let j = lo;
    for (; j + 8 <= jend; j += 8) {
      const o = <usize>j << 2;
      const vq = v128.load(q + o);
      const vm = v128.load(pm + o);
      const vq2 = v128.load(q + o + 16);
      const vm2 = v128.load(pm + o + 16);
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq, vm));
      v3 = i64x2.add(v3, i64x2.extmul_high_i32x4_u(vq, vm));
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq2, vm2));
      v3 = i64x2.add(v3, i64x2.extmul_high_i32x4_u(vq2, vm2));
    }
    if (j < jend) {
      const o = <usize>j << 2;
      const vq = v128.load(q + o);
      const vm = v128.load(pm + o);
      v2 = i64x2.add(v2, i64x2.extmul_low_i32x4_u(vq, vm));
      v3 = i64x2.add(v3, i64x2.extmul_high_i32x4_u(vq, vm));
    }
    v2 = i64x2.add(v2, v3);
    let c2: u64 = <u64>i64x2.extract_lane(v2, 0) + <u64>i64x2.extract_lane(v2, 1);
    if (i < s) {
      const qi = (((c1 + c2) & MASK) * NINV) & MASK;
      store<u32>(q + (<usize>i << 2), <u32>qi);
      c2 += qi * m0;
      carry = (c1 >> 28) + (c2 >> 28) + (((c1 & MASK) + (c2 & MASK)) >> 28);
    } else {
      const low = (c1 & MASK) + (c2 & MASK);
      store<u32>(t + (<usize>(i - s) << 2), <u32>(low & MASK));
      carry = (c1 >> 28) + (c2 >> 28) + (low >> 28);
    }
  }
  store<u32>(t + (<usize>(s - 1) << 2), <u32>carry);
  memory.copy(out, t, <usize>s << 2);
}

// a >= m ? a - m : a, in place.
function reduceOnce(a: usize): void {
  const s = S;
  const m = slot(0);
  let ge = true;
  for (let i = s - 1; i >= 0; i--) {
    const x = ld(a, i);
    const y = ld(m, i);
    if (x != y) {
      ge = x > y;
      break;
    }
  }
  if (!ge) return;
  let borrow: i64 = 0;
  for (let i = 0; i < s; i++) {
    let d: i64 = <i64>ld(a, i) - <i64>ld(m, i) - borrow;
    borrow = 0;
    if (d < 0) {
      d += 1 << 28;
      borrow = 1;
    }
    store<u32>(a + (<usize>i << 2), <u32>d);
  }
}

@inline function expBit(e: usize, b: i32): i32 {
  return <i32>((load<u32>(e + (<usize>(b >> 5) << 2)) >> <u32>(b & 31)) & 1);
}

/**
 * X = X^EXP mod m, EXP given as `expWords` little-endian u32 words (EXP > 0).
 * Left-to-right sliding window of up to SW = 6 bits over the odd powers
 * X^1, X^3, ..., X^63 (32 table entries).
 */
export function modexp(expWords: i32): void {
  const SW = 6;
  const x = slot(2);
  const e = slot(3);
  const acc = slot(6);
  const one = slot(7);
  const tbl = slot(11);
  const size = <usize>(STR * 4);
  const bytes = <usize>S << 2;
  reverseInto(slot(0), slot(8));
  store<u32>(one, 1);
  // table[k] = X^(2k+1)·R; slot 10 holds X^2·R
  montmul(x, slot(1), tbl);
  montmul(tbl, tbl, slot(10));
  for (let k = 1; k < 1 << (SW - 1); k++) montmul(slot(10), tbl + <usize>(k - 1) * size, tbl + <usize>k * size);
  let top = expWords - 1;
  while (top > 0 && load<u32>(e + (<usize>top << 2)) == 0) top--;
  const nbits = top * 32 + (32 - <i32>clz<u32>(load<u32>(e + (<usize>top << 2))));
  let i = nbits - 1;
  let started = false;
  while (i >= 0) {
    if (expBit(e, i) == 0) {
      montsqr(acc, acc); // started is true here: the top bit is 1
      i--;
      continue;
    }
    let j = i - SW + 1;
    if (j < 0) j = 0;
    while (expBit(e, j) == 0) j++;
    let val = 0;
    for (let b = i; b >= j; b--) val = (val << 1) | expBit(e, b);
    const entry = tbl + <usize>((val - 1) >> 1) * size;
    if (started) {
      for (let k = j; k <= i; k++) montsqr(acc, acc);
      montmul(acc, entry, acc);
    } else {
      memory.copy(acc, entry, bytes);
      started = true;
    }
    i = j - 1;
  }
  montmul(acc, one, x);
  reduceOnce(x);
}

/** X = X·Y mod m for X, Y < m in slots 2 and 10, or X·X if square != 0 (test helper). */
export function mulmod(square: i32): void {
  const x = slot(2);
  reverseInto(slot(0), slot(8));
  if (square != 0) montsqr(x, x);
  else montmul(x, slot(10), x);
  montmul(x, slot(1), x);
  reduceOnce(x);
  reduceOnce(x);
}

/** Start of the window-digit area (u32 per window) used by fbpow. */
export function digitsPtr(): usize {
  return DBASE;
}

/** Bytes of wasm memory needed for a fixed-base table of nwin windows of w bits. */
export function tableEnd(nwin: i32, w: i32): usize {
  return TBASE + <usize>nwin * (<usize>1 << <usize>w) * (<usize>S << 2);
}

@inline function entry(i: i32, d: i32, w: i32): usize {
  return TBASE + ((<usize>i << <usize>w) + <usize>d) * (<usize>S << 2);
}

/**
 * Build table[i][d] = X^(d·2^(w·i))·R mod m (Montgomery form, in [0, 2m)) for
 * i < nwin, 1 <= d < 2^w, from the base X (normal form) in slot 2.
 * Entries are stored densely (S words) and only ever used as the second
 * (reversed-copied) operand of montmul, so they need no padding.
 */
export function fbbuild(nwin: i32, w: i32): void {
  const s = S;
  const bytes = <usize>s << 2;
  const g = slot(10);
  reverseInto(slot(0), slot(8));
  montmul(slot(2), slot(1), g); // g = X·R
  const per = 1 << w;
  for (let i = 0; i < nwin; i++) {
    memory.copy(entry(i, 1, w), g, bytes);
    for (let d = 2; d < per; d++) montmul(g, entry(i, d - 1, w), entry(i, d, w));
    montmul(g, entry(i, per - 1, w), g); // g^(2^w)
  }
}

/** X = Π_i table[i][digit_i] mod m (digits in the digit area), fully reduced, in slot 2. */
export function fbpow(nwin: i32, w: i32): void {
  const s = S;
  const bytes = <usize>s << 2;
  const acc = slot(6);
  const one = slot(7);
  reverseInto(slot(0), slot(8));
  memory.fill(one, 0, bytes);
  store<u32>(one, 1);
  let started = false;
  for (let i = 0; i < nwin; i++) {
    const d = <i32>load<u32>(DBASE + (<usize>i << 2));
    if (d == 0) continue;
    if (!started) {
      memory.copy(acc, entry(i, d, w), bytes);
      started = true;
    } else montmul(acc, entry(i, d, w), acc);
  }
  if (!started) {
    memory.fill(slot(2), 0, bytes);
    store<u32>(slot(2), 1);
    return;
  }
  montmul(acc, one, slot(2));
  reduceOnce(slot(2));
}
