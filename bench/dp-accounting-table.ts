// Prints the issue 16 reference table with the accountant's measured values:
//   node --import tsx bench/dp-accounting-table.ts
import { RdpAccountant, TF_PRIVACY_ORDERS } from '../src/dp/rdp-accountant.js';
import { gaussianEvent, poissonSampled, selfComposed } from '../src/dp/events.js';
const rows: [string, number, number, number, number, readonly number[] | undefined, number][] = [
  ['0.0025', 150 / 60000, 1.3, 6000, 1e-5, TF_PRIVACY_ORDERS, 0.7242234026109595],
  ['0.001', 0.001, 1.0, 30000, 1e-7, TF_PRIVACY_ORDERS, 1.4154988495444842],
  ['1024/1e8', 1024 / 1e8, 0.1, 976563, 1e-7, TF_PRIVACY_ORDERS, 5907982.3113984],
  ['0.01', 0.01, 0.7, 120, 1e-5, undefined, 3.2392676],
  ['1', 1, 0.7, 2, 1e-5, undefined, 10.8602036],
];
console.log('| q | z | steps | δ | orders | expected ε | measured ε | order | |diff| | ms |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const [name, q, z, steps, d, orders, exp] of rows) {
  const t = performance.now();
  const acc = new RdpAccountant({ orders });
  acc.compose(selfComposed(q === 1 ? gaussianEvent(z) : poissonSampled(q, gaussianEvent(z)), steps));
  const r = acc.getEpsilon(d);
  const ms = performance.now() - t;
  console.log(`| ${name} | ${z} | ${steps} | ${d} | ${orders ? 'TF Privacy' : 'dp_accounting'} | ${exp} | ${r.epsilon} | ${r.order} | ${Math.abs(r.epsilon - exp).toExponential(2)} (rel ${(Math.abs(r.epsilon - exp) / exp).toExponential(2)}) | ${ms.toFixed(1)} |`);
}
