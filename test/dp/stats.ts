// Statistical helpers for the sampler tests (χ², Kolmogorov–Smirnov, normal quantiles).

/** Upper quantile z_α of the standard normal for the α used in these tests. */
export function zUpper(alpha: number): number {
  // Acklam-style rational approximation is overkill here: bisection on erfc (|error| < 1e-9)
  let lo = 0, hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (0.5 * erfc(mid / Math.SQRT2) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Upper α quantile of χ²(df) (Wilson–Hilferty; adequate for df ≥ 3 at the α used). */
export function chi2Critical(df: number, alpha: number): number {
  const z = zUpper(alpha);
  const c = 2 / (9 * df);
  return df * (1 - c + z * Math.sqrt(c)) ** 3;
}

/**
 * Pearson χ² of integer samples against a pmf given on [lo, hi] (the pmf need not be
 * normalised: it is normalised by its sum). Cells are merged from the tails inwards
 * until each has expected count ≥ 5; the two tails outside [lo, hi] fold into the end cells.
 */
export function chiSquare(samples: ArrayLike<number>, lo: number, pmf: number[]): { stat: number; df: number } {
  const total = pmf.reduce((a, b) => a + b, 0);
  const n = samples.length;
  const counts = new Array<number>(pmf.length).fill(0);
  for (let i = 0; i < n; i++) {
    const j = Math.min(pmf.length - 1, Math.max(0, samples[i]! - lo));
    counts[j]!++;
  }
  const cells: Array<[number, number]> = [];
  let e = 0, o = 0;
  for (let j = 0; j < pmf.length; j++) {
    e += (pmf[j]! / total) * n;
    o += counts[j]!;
    if (e >= 5) {
      cells.push([o, e]);
      e = 0;
      o = 0;
    }
  }
  if (cells.length === 0) throw new Error('chiSquare: no cell with expected ≥ 5');
  const last = cells[cells.length - 1]!;
  last[0] += o;
  last[1] += e;
  let stat = 0;
  for (const [oo, ee] of cells) stat += (oo - ee) ** 2 / ee;
  return { stat, df: cells.length - 1 };
}

/** Poisson(μ) pmf on [0, hi], unnormalised (relative to the mode), by the recurrence P(k+1)/P(k) = μ/(k+1). */
export function poissonPmf(mu: number, hi: number): number[] {
  const m = Math.floor(mu);
  const p = new Array<number>(hi + 1).fill(0);
  if (m > hi) throw new Error('poissonPmf: mode beyond hi');
  p[m] = 1;
  for (let k = m; k < hi; k++) p[k + 1] = (p[k]! * mu) / (k + 1);
  for (let k = m; k > 0; k--) p[k - 1] = (p[k]! * k) / mu;
  return p;
}

/** Discrete Gaussian pmf on [-hi, hi], unnormalised: exp(-x²/(2σ²)). */
export function dgaussPmf(sigma2: number, hi: number): number[] {
  const p: number[] = [];
  for (let x = -hi; x <= hi; x++) p.push(Math.exp(-(x * x) / (2 * sigma2)));
  return p;
}

/** Skellam(μ) pmf on [-hi, hi] as the convolution of two Poisson(μ) pmfs (unnormalised). */
export function skellamPmf(mu: number, hi: number): number[] {
  const top = Math.ceil(mu + 12 * Math.sqrt(mu) + 30) + hi;
  const p = poissonPmf(mu, top);
  const out: number[] = [];
  for (let z = -hi; z <= hi; z++) {
    let s = 0;
    for (let k = Math.max(0, z); k <= top && k - z <= top; k++) s += p[k]! * p[k - z]!;
    out.push(s);
  }
  return out;
}

/** Kolmogorov–Smirnov statistic D_n of samples against a continuous cdf. */
export function ksStatistic(samples: ArrayLike<number>, cdf: (x: number) => number): number {
  const xs = Float64Array.from(samples).sort();
  const n = xs.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(xs[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** The KS critical value at level α for n samples (asymptotic: sqrt(ln(2/α)/(2n))). */
export function ksCritical(n: number, alpha: number): number {
  return Math.sqrt(Math.log(2 / alpha) / (2 * n));
}

/** Mean and (unbiased) variance. */
export function meanVar(xs: ArrayLike<number>): { mean: number; variance: number } {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m += xs[i]!;
  m /= xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i]! - m) ** 2;
  return { mean: m, variance: v / (xs.length - 1) };
}
