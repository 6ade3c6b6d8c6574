import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeRunFolder, summarize, defaultRunDir, type RunMetrics } from '../../src/learning/report.js';
import type { EpochMetrics } from '../../src/learning/fedsgd.js';

const CHROMIUM = '/usr/bin/chromium';

function sample(n = 3): RunMetrics {
  const epochs: EpochMetrics[] = Array.from({ length: n }, (_, i) => ({
    epoch: i + 1, round: (i + 1) * 10, accuracy: 0.9 + i * 0.02, loss: 0.3 - i * 0.05, trainLoss: 0.4 - i * 0.05, localMs: 1000 + i, aggregationMs: 100 + i, serverMs: 5,
    bytesByRole: { 'model-owner': 1000, 'data-owner-0': 400, 'server-0': 1200 }, skipped: [],
  }));
  return {
    version: 1, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z',
    config: { model: 'network_a', dataset: 'mnist', protocol: 'aby3', precision: 'low', owners: 3, mode: 'fedsgd', batchSize: 128, epochs: n, seed: 1, nonIid: false, onBadUpdate: 'abort', optimizer: 'amsgrad', lr: 0.008, aggregation: 'secure aggregation with ABY3 (low precision) <script>' },
    numParams: 118282, epochs, unit: 'epoch', final: { accuracy: epochs[n - 1]!.accuracy, loss: epochs[n - 1]!.loss }, totals: summarize(epochs, 4000),
  };
}

test('summarize adds times and bytes per role; the aggregation share is of training time', () => {
  const m = sample(2);
  assert.equal(m.totals.localMs, 2001);
  assert.equal(m.totals.aggregationMs, 201);
  assert.equal(m.totals.bytesByRole['server-0'], 2400);
  assert.ok(Math.abs(m.totals.aggregationShare - 201 / (2001 + 201 + 10)) < 1e-12);
  assert.match(defaultRunDir(new Date('2026-01-02T03:04:05.006Z')), /^runs\/2026-01-02T03-04-05-006Z$/);
});

test('run folder: metrics.json round-trips; report.html is self-contained (uPlot inlined, no network URLs) and escapes text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-report-'));
  try {
    const m = sample();
    const p = writeRunFolder(join(dir, 'run'), m);
    assert.deepEqual(JSON.parse(readFileSync(p.metrics, 'utf8')), m);
    const html = readFileSync(p.report, 'utf8');
    assert.ok(html.includes('uPlot'), 'uPlot inlined');
    assert.ok(html.includes('.uplot'), 'uPlot css inlined');
    assert.doesNotMatch(html, /<script[^>]+src=/i);
    assert.doesNotMatch(html, /<link[^>]+href=/i);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?https?:/i);
    assert.ok(html.includes('ABY3 (low precision) &lt;script&gt;'));
    assert.ok(!html.includes('precision) <script>'));
    assert.ok(html.includes('92.00%') || html.includes('94.00%'));
  } finally { rmSync(dir, { recursive: true }); }
});

test('report.html renders its four uPlot plots in headless Chromium', (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI) assert.fail(`${CHROMIUM} is missing (CI): install it with apt-get install chromium`);
    t.skip(`${CHROMIUM} not installed; install it with apt-get install chromium to run this test`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-chromium-'));
  try {
    const p = writeRunFolder(join(dir, 'run'), sample());
    const r = spawnSync(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      `--user-data-dir=${join(dir, 'profile')}`, '--virtual-time-budget=5000', '--dump-dom', pathToFileURL(p.report).href,
    ], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const m = /<pre id="render-check">([^<]*)<\/pre>/.exec(r.stdout);
    assert.ok(m, 'render-check element present');
    const check = JSON.parse(m[1]!) as { plots: number; drawn: number; canvases: [number, number][] };
    assert.equal(check.plots, 4);
    assert.equal(check.canvases.length, 4);
    for (const [w, h] of check.canvases) assert.ok(w >= 500 && h >= 200, `canvas ${w}x${h}`);
    assert.equal(check.drawn, 4, 'every canvas has drawn pixels');
    assert.match(r.stdout, /data-plots-rendered="4"/);
  } finally { rmSync(dir, { recursive: true }); }
});
