/**
 * The core demo: the AGGREGATORS RFC's temperature example in its three forms
 * and the federated-aggregations seed's secure sum, run in a local context
 * with the insecure reference aggregation. `runCoreDemo()` returns the text.
 */
import {
  AGGREGATORS,
  CLIENTS,
  SERVER,
  federated,
  federatedCollect,
  federatedComputation,
  federatedMap,
  federatedMean,
  federatedSecureSum,
  federatedTransfer,
  federatedZip,
  localComputation,
  registerLocalComputation,
  sequence,
  sequenceSum,
  tensor,
  withContext,
  type Computation,
} from '../core/index.js';
import { insecureReferenceAggregation } from '../aggregation/reference.js';
import { localContext } from './local.js';

const F32 = tensor('float32');

// the long form's local computations, registered by name so that players (remote execution) run them too
const count = localComputation([sequence(F32)], (s: number[]) => s.length, { name: 'count', result: F32 });
const divide = localComputation([F32, F32], (total: number, n: number) => total / n, { name: 'divide' });
registerLocalComputation('fedcrypt.demo.count', count);
registerLocalComputation('fedcrypt.demo.divide', divide);

/** The RFC's get_average_temperature in its three forms. */
export function temperatureComputations(): { server: Computation; aggregatorsShort: Computation; aggregatorsLong: Computation } {
  const server = federatedComputation([federated(F32, CLIENTS)], (readings) => federatedMean(readings), { name: 'get_average_temperature' });
  const aggregatorsShort = federatedComputation(
    [federated(F32, CLIENTS)],
    (readings) => federatedTransfer(federatedMean(readings, { placement: AGGREGATORS }), { placement: SERVER }),
    { name: 'get_average_temperature_short' },
  );
  const aggregatorsLong = federatedComputation(
    [federated(F32, CLIENTS)],
    (readings) => {
      const collected = federatedCollect(readings, { placement: AGGREGATORS });
      const total = sequenceSum(collected);
      const n = federatedMap(count, collected);
      const mean = federatedMap(divide, federatedZip([total, n]));
      return federatedTransfer(mean, { placement: SERVER });
    },
    { name: 'get_average_temperature_long' },
  );
  return { server, aggregatorsShort, aggregatorsLong };
}

/** The seed's secure_paillier_addition: 5 clients hold [i, i+1]; the secure sum is [10, 15]. */
export function secureSumComputation(): Computation {
  return federatedComputation([federated(tensor('int32', [2]), CLIENTS)], (x) => federatedSecureSum(x, { bitwidth: 32 }), {
    name: 'secure_paillier_addition',
  });
}

export async function runCoreDemo(): Promise<string> {
  const lines: string[] = ['fedcrypt core demo (local simulation)'];
  const warnings: string[] = [];
  const ctx = localContext({ aggregation: insecureReferenceAggregation({ warn: (m) => warnings.push(m) }) });
  await withContext(ctx, async () => {
    const readings = [68.5, 70.0, 69.5, 71.25, 72.0];
    const t = temperatureComputations();
    lines.push(`sensor readings at 5 clients: ${JSON.stringify(readings)}`);
    for (const [label, comp] of [
      ['federatedMean to SERVER', t.server],
      ['federatedMean at AGGREGATORS, moved to SERVER', t.aggregatorsShort],
      ['federatedCollect to AGGREGATORS, sequenceSum, federatedMap', t.aggregatorsLong],
    ] as const) {
      const r = await comp(readings);
      lines.push(`  ${label.padEnd(60)} ${String(r).padEnd(8)} ${String(comp.typeSignature)}`);
    }
    const s = secureSumComputation();
    const x = Array.from({ length: 5 }, (_, i) => [i, i + 1]);
    const r = await s(x);
    lines.push(`secure sum of ${JSON.stringify(x)} with bitwidth 32: ${JSON.stringify(r)}   ${String(s.typeSignature)}`);
    lines.push(`  IR: ${s.printIR()}`);
  });
  lines.push(`aggregation protocol: ${ctx.aggregation.name} (secure: ${ctx.aggregation.secure})`);
  for (const w of warnings) lines.push(`WARNING: ${w}`);
  await ctx.close();
  return lines.join('\n');
}
