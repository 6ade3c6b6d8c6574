// A user-written federated computation, run across the players of config.json
// (README, "Run across machines"). One module plays both parts:
//
//   each data owner:  fedcrypt player --config config.json --name owner0 --data examples/remote-temperature.mjs
//                     (its data() serves that owner's reading; the model owner only names the source)
//   the model owner:  node examples/remote-temperature.mjs config.json keys/model-owner.key [aby3|pond|paillier]
//
// Needs the built package (npm run build): it imports 'fedcrypt' like any user code.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  AGGREGATORS, CLIENTS, SERVER, federated, federatedComputation, federatedMean, federatedSecureSum, federatedTransfer, tensor, withContext, clientData,
} from 'fedcrypt';

const readings = federated(tensor('float32'), CLIENTS);

/** TFF's form: the mean at SERVER (carried out by the secure protocol, so SERVER gets the mean only). */
export const averageTemperature = federatedComputation([readings], (r) => federatedMean(r), { name: 'average_temperature' });

/** The AGGREGATORS RFC's form: the mean at the aggregators, then released to SERVER. */
export const averageAtAggregators = federatedComputation([readings], (r) => federatedTransfer(federatedMean(r, { placement: AGGREGATORS }), { placement: SERVER }), {
  name: 'average_at_aggregators',
});

/** How many sensors are above 70 degrees, as an exact secure sum of 0/1 flags. */
export const hotSensors = federatedComputation([federated(tensor('int32'), CLIENTS)], (hot) => federatedSecureSum(hot, { bitwidth: 1 }), { name: 'hot_sensors' });

/**
 * A data owner's own data (this runs in its player process). Here a file in
 * its working folder, `temperature-readings.json`: { "<client name>": 68.5 }.
 */
export function data(source, client) {
  const table = JSON.parse(readFileSync('temperature-readings.json', 'utf8'));
  const reading = table[client.name];
  if (typeof reading !== 'number') throw new RangeError(`no reading for ${client.name}`);
  if (source === 'temperature') return reading;
  if (source === 'hot') return reading > 70 ? 1 : 0;
  throw new RangeError(`no data source '${source}'`);
}

// the model owner's side
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [config = 'config.json', key, protocol = 'aby3'] = process.argv.slice(2);
  const { remoteContext } = await import('fedcrypt/deploy');
  const ctx = remoteContext({ config, ...(key ? { key } : {}), protocol });
  try {
    await withContext(ctx, async () => {
      console.log(`clients: ${ctx.numClients === 0 ? '(connecting)' : ctx.numClients}`);
      console.log(`average temperature (mean at SERVER):            ${await averageTemperature(clientData('temperature'))}`);
      console.log(`average temperature (mean at AGGREGATORS, moved): ${await averageAtAggregators(clientData('temperature'))}`);
      console.log(`sensors above 70 degrees (secure sum):            ${await hotSensors(clientData('hot'))}`);
    });
  } finally {
    await ctx.close();
  }
}
