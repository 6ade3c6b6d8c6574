/**
 * Local rearrangements of one ring part for 2x2, stride-2, valid pooling
 * (NHWC, Geometry from aby3-conv.ts): the four window taps gathered
 * tap-major, and the adjoint scatter back to the input's positions. Tap t is
 * (t >> 1, t & 1) = (dy, dx): t = 0 (0,0), 1 (0,1), 2 (1,0), 3 (1,1), the
 * order of aby3-conv.ts `windows`. Straight limb copies (a window's C
 * channels are one run of C·l/64 limbs): no arithmetic, so every server
 * applies them to its parts and the result is a sharing of the rearranged
 * value.
 */
import { RingTensor } from '../../ring/index.js';
import type { Geometry } from './aby3-conv.js';


/**
 * [4·n] (n = B·OH·OW·C): block j (elements [j·n, (j+1)·n)) holds tap
 * order[j] of every window, in output order (b, oy, ox, c).
 */
export function gatherTaps(x: RingTensor, g: Geometry, order: readonly number[] = [0, 1, 2, 3]): RingTensor {
  const { B, H, W, C, OH, OW } = g;
  const run = C * (x.bits / 64); // limbs per window position
  const n = B * OH * OW * C;
  const out = new RingTensor(x.bits, [4 * n]);
  const s = x.data;
  const d = out.data;
  for (let j = 0; j < 4; j++) {
    const t = order[j]!;
    let o = j * n * (x.bits / 64);
    for (let b = 0; b < B; b++) {
      for (let oy = 0; oy < OH; oy++) {
        let from = ((b * H + 2 * oy + (t >> 1)) * W + (t & 1)) * run;
        for (let ox = 0; ox < OW; ox++, from += 2 * run) {
          for (let k = 0; k < run; k++) d[o++] = s[from + k]!;
        }
      }
    }
  }
  return out;
}

/**
 * The adjoint of gatherTaps with the default order: [4·n] back to
 * [B, H, W, C], zero where no window reaches (a last odd row or column).
 * With `same`, block 0 serves all four taps (dy copied to each position of
 * its window: the upsampling of the backward pass).
 */
export function scatterTaps(t: RingTensor, g: Geometry, same = false): RingTensor {
  const { B, H, W, C, OH, OW } = g;
  const run = C * (t.bits / 64);
  const n = B * OH * OW * C;
  const out = new RingTensor(t.bits, [B, H, W, C]);
  const s = t.data;
  const d = out.data;
  for (let tap = 0; tap < 4; tap++) {
    let o = (same ? 0 : tap) * n * (t.bits / 64);
    for (let b = 0; b < B; b++) {
      for (let oy = 0; oy < OH; oy++) {
        let to = ((b * H + 2 * oy + (tap >> 1)) * W + (tap & 1)) * run;
        for (let ox = 0; ox < OW; ox++, to += 2 * run) {
          for (let k = 0; k < run; k++) d[to + k] = s[o++]!;
        }
      }
    }
  }
  return out;
}
