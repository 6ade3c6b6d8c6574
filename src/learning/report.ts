/**
 * Run folders: `metrics.json` and a self-contained `report.html` (uPlot's JS
 * and CSS inlined from node_modules/uplot/dist, so it opens with no network).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { EpochMetrics } from './fedsgd.js';
import { DP_PLOT_SCRIPT, renderDpSection } from './dp-report.js';

export interface RunConfig {
  model: string;
  dataset: string;
  protocol: string;
  precision: string;
  owners: number;
  mode: 'fedsgd' | 'fedavg';
  batchSize: number;
  epochs: number;
  seed: number;
  nonIid: boolean;
  maxSteps?: number;
  onBadUpdate: string;
  optimizer: string;
  lr: number;
  aggregation: string;
  backend?: string;
  [k: string]: unknown;
}

export interface RunMetrics {
  version: 1;
  startedAt: string;
  finishedAt: string;
  config: RunConfig;
  numParams: number;
  /** One entry per epoch (FedSGD) or per round (FedAvg). */
  epochs: EpochMetrics[];
  unit: 'epoch' | 'round';
  final: { accuracy: number; loss: number };
  totals: { localMs: number; aggregationMs: number; serverMs: number; wallMs: number; aggregationShare: number; bytesByRole: Record<string, number> };
  error?: string;
  /** Networked runs with dropout tolerance: the rounds a data owner dropped out of (completed over the others). */
  dropouts?: { round: number; clients: string[]; players: string[] }[];
  /** DP-FedAvg runs (train's `dp`): mechanism, sampling, accounting, per-round ε, and the run without DP when given. */
  dp?: import('./dp-train.js').DpRunMetrics;
}

export function summarize(epochs: readonly EpochMetrics[], wallMs: number): RunMetrics['totals'] {
  const bytesByRole: Record<string, number> = {};
  let localMs = 0, aggregationMs = 0, serverMs = 0;
  for (const e of epochs) {
    localMs += e.localMs;
    aggregationMs += e.aggregationMs;
    serverMs += e.serverMs;
    for (const [k, v] of Object.entries(e.bytesByRole)) bytesByRole[k] = (bytesByRole[k] ?? 0) + v;
  }
  const denom = localMs + aggregationMs + serverMs;
  return { localMs, aggregationMs, serverMs, wallMs, aggregationShare: denom > 0 ? aggregationMs / denom : 0, bytesByRole };
}

/** A run folder name from a date: runs/2026-11-24T03-12-00-123Z */
export function defaultRunDir(now = new Date(), base = 'runs'): string {
  return join(base, now.toISOString().replace(/[:.]/g, '-'));
}

/** uPlot's JS and CSS from node_modules (inlined in every page). */
export function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = join(dirname(require.resolve('uplot/package.json')), 'dist');
  } catch {
    throw new Error('the npm package "uplot" is missing; run `npm install uplot`');
  }
  return { js: readFileSync(join(dir, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dir, 'uPlot.min.css'), 'utf8') };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe to embed inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function fmtBytes(b: number): string {
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(2)} GiB`;
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(2)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${b} B`;
}

/** The report page (a string); plots drawn by uPlot at load time. */
export function renderReportHtml(m: RunMetrics): string {
  const { js, css } = uplotAssets();
  const c = m.config;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const rows = Object.entries(c).filter(([, v]) => v !== undefined).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  const bytesRows = Object.entries(m.totals.bytesByRole).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(fmtBytes(v))}</td><td>${v}</td></tr>`).join('');
  const epochRows = m.epochs.map((e) => `<tr><td>${e.epoch}</td><td>${e.round}</td><td>${pct(e.accuracy)}</td><td>${e.loss.toFixed(4)}</td><td>${e.trainLoss.toFixed(4)}</td><td>${(e.localMs / 1000).toFixed(2)}</td><td>${(e.aggregationMs / 1000).toFixed(2)}</td><td>${e.skipped.length}</td></tr>`).join('');
  const warn = c.protocol === 'plaintext'
    ? `<p class="warn">Aggregation: plaintext aggregation (baseline, NOT secure)${c['insecurePlaintextOptIn'] === true ? ": every data owner's update reached the model owner in the clear; the operator opted in (--insecure-allow-plaintext)" : ''}.</p>`
    : `<p>Aggregation: ${esc(c.aggregation)}.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>fedcrypt run: ${esc(c.model)} on ${esc(c.dataset)} (${esc(c.protocol)})</title>
<style>${css}</style>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid #eee;padding:6px}.warn{color:#b00;font-weight:bold}
.big{font-size:20px}
</style></head><body>
<h1>fedcrypt run: ${esc(c.model)} on ${esc(c.dataset)}, ${esc(c.mode)}, ${esc(c.protocol)}</h1>
<p class="big">Final test accuracy: <b id="final-accuracy">${pct(m.final.accuracy)}</b> (loss ${m.final.loss.toFixed(4)}) after ${m.epochs.length} ${m.unit}${m.epochs.length === 1 ? '' : 's'}.</p>
${warn}
${m.error ? `<p class="warn">Run stopped: ${esc(m.error)}</p>` : ''}
${(m.dropouts ?? []).map((d) => `<p class="warn">Round ${d.round}: ${esc(d.players.join(', ') || d.clients.join(', '))} dropped out; the round completed over the other data owners${d.clients.length > 0 ? ` (without ${esc(d.clients.join(', '))})` : ''}.</p>`).join('\n')}
<p>Time: local training ${(m.totals.localMs / 1000).toFixed(2)} s, aggregation ${(m.totals.aggregationMs / 1000).toFixed(2)} s (${(m.totals.aggregationShare * 100).toFixed(2)}% of training time), model-owner update ${(m.totals.serverMs / 1000).toFixed(2)} s; wall ${(m.totals.wallMs / 1000).toFixed(1)} s. Parameters: ${m.numParams}.</p>
<div class="plots">
<div class="plot" id="plot-accuracy"></div>
<div class="plot" id="plot-loss"></div>
<div class="plot" id="plot-time"></div>
<div class="plot" id="plot-bytes"></div>
</div>
${m.dp ? renderDpSection(m.dp, m.final.accuracy) : ''}
<h2>Per ${m.unit}</h2>
<table><tr><th>${m.unit}</th><th>rounds so far</th><th>test accuracy</th><th>test loss</th><th>train loss</th><th>local s</th><th>aggregation s</th><th>skipped updates</th></tr>${epochRows}</table>
<h2>Bytes sent per role</h2>
<table><tr><th>role</th><th>sent</th><th>bytes</th></tr>${bytesRows}</table>
<h2>Configuration</h2>
<table>${rows}</table>
<p>Started ${esc(m.startedAt)}, finished ${esc(m.finishedAt)}.</p>
<pre id="render-check">not rendered</pre>
<script>${js}</script>
<script>
(function(){
  var m = ${scriptJson(m)};
  var xs = m.epochs.map(function(e){ return e.epoch; });
  var W = 520, H = 260;
  var made = [];
  function plot(id, title, series, data, extra){
    var opts = Object.assign({ title: title, width: W, height: H, series: [{ label: m.unit }].concat(series), scales: { x: { time: false } } }, extra || {});
    if (!extra) {
      opts.scales.y = { range: function(u, min, max){ var pad = (max - min) * 0.1 || Math.abs(max) * 0.05 || 1; return [min - pad, max + pad]; } };
      // epochs/rounds are whole numbers: no fractional ticks on the x axis
      opts.axes = [{ incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], values: function(u, vals){ return vals.map(function(v){ return Number.isInteger(v) ? String(v) : ''; }); } }, {}];
    }
    made.push(new uPlot(opts, data, document.getElementById(id)));
  }
  plot('plot-accuracy', 'Test accuracy (%) per ' + m.unit,
    [{ label: 'accuracy %', stroke: '#1f77b4', width: 2, points: { show: true } }],
    [xs, m.epochs.map(function(e){ return e.accuracy * 100; })]);
  plot('plot-loss', 'Loss per ' + m.unit,
    [{ label: 'test loss', stroke: '#d62728', width: 2, points: { show: true } }, { label: 'train loss', stroke: '#ff7f0e', width: 2, points: { show: true } }],
    [xs, m.epochs.map(function(e){ return e.loss; }), m.epochs.map(function(e){ return e.trainLoss; })]);
  plot('plot-time', 'Time per ' + m.unit + ' (s): local training vs aggregation',
    [{ label: 'local training', stroke: '#2ca02c', width: 2, points: { show: true } }, { label: 'aggregation', stroke: '#9467bd', width: 2, points: { show: true } }],
    [xs, m.epochs.map(function(e){ return e.localMs / 1000; }), m.epochs.map(function(e){ return e.aggregationMs / 1000; })]);
  var roles = Object.keys(m.totals.bytesByRole);
  var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 80] }) : undefined;
  plot('plot-bytes', 'MiB sent per role (' + roles.join(', ') + ')',
    [{ label: 'MiB sent', stroke: '#8c564b', fill: 'rgba(140,86,75,0.4)', width: 1, paths: bars, points: { show: false } }],
    [roles.map(function(_, i){ return i; }), roles.map(function(r){ return m.totals.bytesByRole[r] / 1048576; })],
    { width: 1060, axes: [{ values: function(u, vals){ return vals.map(function(v){ return Number.isInteger(v) && roles[v] !== undefined ? roles[v] : ''; }); } }, {}],
      scales: { x: { time: false, range: [-0.5, Math.max(0.5, roles.length - 0.5)] }, y: { range: function(u, min, max){ return [0, max > 0 ? max * 1.1 : 1]; } } } });
${m.dp ? DP_PLOT_SCRIPT : ''}
  // uPlot sizes and draws its canvases after a microtask; check once that has happened
  setTimeout(function(){
    var canvases = Array.prototype.map.call(document.querySelectorAll('.uplot canvas'), function(c){ return [c.width, c.height]; });
    var drawn = Array.prototype.filter.call(document.querySelectorAll('.uplot canvas'), function(c){
      var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (var i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
      return false;
    }).length;
    document.body.setAttribute('data-plots-rendered', String(made.length));
    document.getElementById('render-check').textContent = JSON.stringify({ plots: made.length, drawn: drawn, canvases: canvases });
  }, 100);
})();
</script>
</body></html>
`;
}

/** Write metrics.json and report.html into `dir` (created). Returns the paths. */
export function writeRunFolder(dir: string, m: RunMetrics): { dir: string; metrics: string; report: string } {
  const d = resolve(dir);
  mkdirSync(d, { recursive: true });
  const metrics = join(d, 'metrics.json');
  const report = join(d, 'report.html');
  writeFileSync(metrics, JSON.stringify(m, null, 2) + '\n');
  writeFileSync(report, renderReportHtml(m));
  return { dir: d, metrics, report };
}
