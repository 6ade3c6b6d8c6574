// The AGGREGATORS placement RFC's temperature example, in its three forms.
// Run: node --import tsx examples/temperature.ts
import {
  AGGREGATORS,
  CLIENTS,
  SERVER,
  federated,
  federatedCollect,
  federatedComputation,
  federatedMap,
  federatedMean,
  federatedTransfer,
  federatedZip,
  localComputation,
  sequence,
  sequenceSum,
  tensor,
} from '../src/core/index.js';
import '../src/runtime/index.js'; // installs the default local context (insecure reference aggregation)

const F32 = tensor('float32');

// TFF form: the mean is computed at SERVER.
const getAverageTemperature = federatedComputation([federated(F32, CLIENTS)], (readings) => federatedMean(readings));

// Short AGGREGATORS form: the mean is computed by the aggregators (through the
// aggregation protocol bound to the context), then released to SERVER.
const getAverageTemperatureShort = federatedComputation([federated(F32, CLIENTS)], (readings) => {
  const averaged = federatedMean(readings, { placement: AGGREGATORS });
  return federatedTransfer(averaged, { placement: SERVER });
});

// Long AGGREGATORS form: collect the readings at AGGREGATORS, sum the sequence,
// divide by its length there, release the mean to SERVER.
const count = localComputation([sequence(F32)], (s: number[]) => s.length, { name: 'count', result: F32 });
const divide = localComputation([F32, F32], (total: number, n: number) => total / n, { name: 'divide' });
const getAverageTemperatureLong = federatedComputation([federated(F32, CLIENTS)], (readings) => {
  const collected = federatedCollect(readings, { placement: AGGREGATORS });
  const total = sequenceSum(collected);
  const n = federatedMap(count, collected);
  const mean = federatedMap(divide, federatedZip([total, n]));
  return federatedTransfer(mean, { placement: SERVER });
});

const readings = [68.5, 70.0, 69.5, 71.25, 72.0]; // one reading per client
for (const comp of [getAverageTemperature, getAverageTemperatureShort, getAverageTemperatureLong]) {
  console.log(String(comp.typeSignature), await comp(readings));
  console.log('  ', comp.printIR());
}
