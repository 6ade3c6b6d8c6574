/**
 * The DP section of a run report (report.html): the guarantee and how it was
 * accounted, who must be honest, the per-round ε, clip and counts, and the
 * accuracy-vs-ε curve (uPlot, drawn by report.ts's page script).
 */
import type { DpRunMetrics } from './dp-train.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** ε as the report prints it: ∞ for no noise (JSON stores Infinity as null). */
export function fmtEpsilon(e: number | null | undefined): string {
  if (e === null || e === undefined || !Number.isFinite(e)) return '∞';
  return e >= 100 ? e.toFixed(1) : e.toPrecision(4);
}

const fmt = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined ? '–' : Number.isFinite(x) ? String(Number(x.toPrecision(digits))) : '∞');
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** The rows of the DP summary table: [label, value]. */
export function dpSummaryRows(d: DpRunMetrics): [string, string][] {
  const rows: [string, string][] = [
    ['mechanism', `${d.mechanism} (${d.kind} DP)`],
    ['adjacency', d.adjacency],
    ['sampling', d.sampling === 'poisson' ? 'Poisson (each data owner independently, probability q)' : `FIXED SIZE: ${d.samplingFlag ?? ''}`],
    ['q (sampling rate)', fmt(d.q)],
    ['clients per round (expected)', fmt(d.clientsPerRound)],
    ['data owners (N)', String(d.population)],
    ['rounds', String(d.rounds)],
    ['δ', String(d.delta)],
    ['ε', fmtEpsilon(d.epsilon)],
    ['accountant', d.accountant === 'gdp' ? `exact: a Gaussian composition without subsampling is μ-GDP, μ = ${fmt(d.mu, 6)} (Dong, Roth, Su; δ(ε) of Balle & Wang)` : d.accountant === 'pld' ? 'privacy loss distribution of the Poisson-subsampled Gaussian, pessimistic (grid 1e-4, below the RDP bound here)' : 'RDP (dp_accounting\'s orders)'],
    ['RDP order of ε', Number.isFinite(d.order) ? String(d.order) : '–'],
    ['noise multiplier z', fmt(d.noiseMultiplier)],
  ];
  if (d.valueNoiseMultiplier !== undefined) rows.push(['z_v (values, raised for the clip estimate)', fmt(d.valueNoiseMultiplier, 6)], ['σ_b (clipped-count noise)', fmt(d.clippedCountStddev)], ['initial clip', fmt(d.initialClip)], ['target quantile', fmt(d.targetQuantile)]);
  if (d.clip !== undefined) rows.push(['clip C', fmt(d.clip)]);
  if (d.noiseAt !== undefined) rows.push(['noise added at', d.noiseAt === 'server' ? 'SERVER' : `the aggregators (${d.noiseParties}, each its own full noise)`]);
  rows.push(
    [d.kind === 'central' ? 'local σ (each noising party, per coordinate; adaptive: at the initial clip)' : 'local σ (each client, per coordinate)', fmt(d.localStddev)],
    ['central σ (noise on the released sum, per coordinate)', fmt(d.centralStddev)],
  );
  if (d.bits !== undefined) rows.push(['bits (secure sum mod 2^bits)', String(d.bits)], ['scale', fmt(d.scale, 6)], ['wrap probability target', String(d.modclipProb)], ['rotation', `${d.rotation} (padded to ${d.paddedDim})`]);
  rows.push(['clipped updates', `${d.totals.clipped} of ${d.totals.clientUpdates}`]);
  if (d.kind === 'distributed') rows.push(['wrapped coordinates (clients\' modular reduction)', String(d.totals.wrapped)]);
  rows.push(['empty rounds (nobody sampled; model unchanged, round accounted)', String(d.totals.emptyRounds)]);
  if (d.noDp) rows.push(['accuracy without DP (same seed and sampling)', pct(d.noDp.accuracy)], ['accuracy cost of DP', `${((d.accuracyGap ?? 0) * 100).toFixed(2)} points`]);
  if (d.seeded) rows.push(['reproducible DP draws', d.seeded]);
  return rows;
}

/** The report's DP section (HTML); its plot is drawn by `dpPlotScript`. */
export function renderDpSection(d: DpRunMetrics, finalAccuracy: number): string {
  const rows = dpSummaryRows(d).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  const rounds = d.perRound
    .map((r) => `<tr><td>${r.round}</td><td>${fmtEpsilon(r.epsilon)}</td><td>${Number.isFinite(r.order) ? r.order : '–'}</td><td>${fmt(r.clip)}</td><td>${r.clients}${r.empty ? ' (empty)' : ''}</td><td>${r.clipped}</td>${d.kind === 'distributed' ? `<td>${r.wrapped ?? 0}</td>` : ''}<td>${fmt(r.sumNoiseStd)}</td></tr>`)
    .join('');
  const flag = d.sampling === 'fixed-size' ? `<p class="warn" id="dp-fixed-size">Fixed-size sampling: ${esc(d.samplingFlag ?? '')}.</p>` : '';
  const seeded = d.seeded ? `<p class="warn" id="dp-seeded">${esc(d.seeded)}.</p>` : '';
  return `<h2 id="dp">Differential privacy</h2>
<p class="big" id="dp-guarantee">(ε, δ) = (<b>${fmtEpsilon(d.epsilon)}</b>, ${d.delta}) after ${d.rounds} round${d.rounds === 1 ? '' : 's'}, ${esc(d.adjacency)}${Number.isFinite(d.order) ? ` (RDP order ${d.order})` : d.accountant === 'gdp' ? ' (exact Gaussian composition)' : d.accountant === 'pld' ? ' (privacy loss distribution)' : ''}; final accuracy ${pct(finalAccuracy)}${d.noDp ? `, without DP ${pct(d.noDp.accuracy)}` : ''}.</p>
${flag}${seeded}
<h3>Who must be honest</h3>
<ul id="dp-honest">${d.honest.map((h) => `<li>${esc(h)}</li>`).join('')}</ul>
<p>${esc(d.amplification)}</p>
<table id="dp-summary">${rows}</table>
<div class="plots"><div class="plot" id="plot-dp-accuracy"></div><div class="plot" id="plot-dp-epsilon"></div></div>
<h3>DP per round</h3>
<table id="dp-rounds"><tr><th>round</th><th>ε so far</th><th>order</th><th>clip</th><th>clients</th><th>clipped</th>${d.kind === 'distributed' ? '<th>wrapped</th>' : ''}<th>σ on the sum</th></tr>${rounds}</table>`;
}

/**
 * Page script (ES5, inside report.ts's IIFE: `m` the metrics, `plot` its
 * helper): accuracy against ε so far (with the run without DP at the same
 * rounds when given) and ε per round.
 */
export const DP_PLOT_SCRIPT = `
  if (m.dp) {
    var pr = m.dp.perRound.filter(function(r){ return r.epsilon !== null && isFinite(r.epsilon); });
    var accAt = {}; m.epochs.forEach(function(e){ accAt[e.round] = e.accuracy * 100; });
    if (pr.length > 0) {
      var ser = [{ label: 'accuracy % (DP)', stroke: '#1f77b4', width: 2, points: { show: true } }];
      var dat = [pr.map(function(r){ return r.epsilon; }), pr.map(function(r){ return accAt[r.round]; })];
      if (m.dp.noDp) { ser.push({ label: 'accuracy % without DP (same round)', stroke: '#7f7f7f', width: 1, dash: [4, 4], points: { show: true } }); dat.push(pr.map(function(r){ return m.dp.noDp.perRound[r.round - 1] * 100; })); }
      made.push(new uPlot({ title: 'Test accuracy (%) vs ε so far (δ = ' + m.dp.delta + ')', width: W, height: H, series: [{ label: 'ε' }].concat(ser), scales: { x: { time: false } } }, dat, document.getElementById('plot-dp-accuracy')));
      plot('plot-dp-epsilon', 'ε so far per round', [{ label: 'ε', stroke: '#d62728', width: 2, points: { show: true } }], [pr.map(function(r){ return r.round; }), pr.map(function(r){ return r.epsilon; })]);
    } else {
      document.getElementById('plot-dp-accuracy').textContent = 'ε is infinite (no noise): no accuracy-vs-ε curve.';
    }
  }
`;

/** One point of an accuracy-vs-ε comparison (a benchmark cell). */
export interface AccuracyEpsilonPoint {
  label: string;
  mechanism: string;
  epsilon: number;
  accuracy: number;
}

/**
 * A self-contained page (uPlot inlined by the caller's `assets`) with final
 * accuracy against ε per mechanism, and the run without DP as a line.
 */
export function renderAccuracyEpsilonPage(title: string, points: readonly AccuracyEpsilonPoint[], noDpAccuracy: number | undefined, assets: { js: string; css: string }, notes = ''): string {
  const mechs = [...new Set(points.map((p) => p.mechanism))];
  const finite = points.filter((p) => Number.isFinite(p.epsilon));
  const xs = [...new Set(finite.map((p) => p.epsilon))].sort((a, b) => a - b);
  const series = mechs.map((m) => xs.map((x) => finite.find((p) => p.mechanism === m && p.epsilon === x)?.accuracy ?? null));
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const rows = points.map((p) => `<tr><td>${esc(p.label)}</td><td>${esc(p.mechanism)}</td><td>${fmtEpsilon(p.epsilon)}</td><td>${pct(p.accuracy)}</td><td>${noDpAccuracy === undefined ? '–' : ((noDpAccuracy - p.accuracy) * 100).toFixed(2)}</td></tr>`).join('');
  const data = JSON.stringify([xs, ...series.map((s) => s.map((v) => (v === null ? null : v * 100))), ...(noDpAccuracy === undefined ? [] : [xs.map(() => noDpAccuracy * 100)])]).replace(/</g, '\\u003c');
  const ser = JSON.stringify([{ label: 'ε' }, ...mechs.map((m, i) => ({ label: m, stroke: colors[i % colors.length], width: 2, points: { show: true, size: 8 }, spanGaps: true })), ...(noDpAccuracy === undefined ? [] : [{ label: 'without DP', stroke: '#7f7f7f', dash: [5, 5], width: 1 }])]).replace(/</g, '\\u003c');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${assets.css}</style>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}</style></head><body>
<h1>${esc(title)}</h1>${notes}<div id="plot-accuracy-epsilon"></div>
<table id="cells"><tr><th>cell</th><th>mechanism</th><th>ε</th><th>accuracy</th><th>points below no DP</th></tr>${rows}</table>
<script>${assets.js}</script><script>new uPlot({ title: 'Final test accuracy (%) vs ε', width: 900, height: 400, scales: { x: { time: false } }, series: ${ser} }, ${data}, document.getElementById('plot-accuracy-epsilon'));</script>
</body></html>
`;
}
