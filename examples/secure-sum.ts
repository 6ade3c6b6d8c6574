// The federated-aggregations seed's secure_paillier_addition, written with fedcrypt.
// Run: node --import tsx examples/secure-sum.ts
import { CLIENTS, federated, federatedComputation, federatedSecureSum, tensor, withContext } from '../src/core/index.js';
import { insecureReferenceAggregation, localContext } from '../src/runtime/index.js';

// data from 5 clients
const x = Array.from({ length: 5 }, (_, i) => [i, i + 1]);
const xType = tensor('int32', [2]);

const secureAddition = federatedComputation([federated(xType, CLIENTS)], (x) => federatedSecureSum(x, { bitwidth: 32 }), {
  name: 'secure_paillier_addition',
});

// The insecure reference lowering (warns once); a secure protocol plugs in the same way:
// localContext({ aggregation: somePaillierOrMpcProtocol }).
const ctx = localContext({ aggregation: insecureReferenceAggregation() });
const result = await withContext(ctx, () => secureAddition(x));
console.log(String(secureAddition.typeSignature));
console.log(result); // [ 10, 15 ]
