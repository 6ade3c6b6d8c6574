/**
 * Encrypted matmul between two owners' private inputs under ABY3, revealed to
 * a third player. Run: node --import tsx examples/encrypted-matmul.ts [--high]
 */
import { ABY3, Player } from '../src/encrypted/index.js';
import { MemoryTransport } from '../src/transport/index.js';

const precision = process.argv.includes('--high') ? 'high' : 'low';
const [server0, server1, server2] = [new Player('server0'), new Player('server1'), new Player('server2')];
const alice = new Player('alice'); // owns x
const bob = new Player('bob'); // owns w
const carol = new Player('carol'); // receives the result

const transport = new MemoryTransport();
const aby3 = new ABY3(server0, server1, server2, { precision, transport, players: [carol] });

const xPlain = [[0.5, -1.25, 2.0], [3.5, 0.125, -0.75]];
const wPlain = [[1.5, -2.0], [0.25, 4.0], [-3.0, 0.5]];

// each owner secret-shares its input among the three servers
const x = await aby3.encrypt(alice, xPlain, { sensitivity: [alice, carol] });
const w = await aby3.encrypt(bob, wPlain, { sensitivity: [bob, carol] });
// the servers multiply without seeing either input
const y = await aby3.matmul(x, w);
// only carol receives the result (y.sensitivity is {carol})
const revealed = await aby3.reveal(y, carol);
const result = revealed.read();

const want = xPlain.map((row) => wPlain[0]!.map((_, j) => row.reduce((s, v, k) => s + v * wPlain[k]![j]!, 0)));
console.log(`ABY3 (precision ${precision}) encrypted matmul, revealed to carol:`);
let maxErr = 0;
want.forEach((row, i) => {
  const got = row.map((_, j) => result[i * row.length + j]!);
  got.forEach((g, j) => (maxErr = Math.max(maxErr, Math.abs(g - row[j]!))));
  console.log(`  row ${i}: encrypted [${got.map((v) => v.toFixed(6)).join(', ')}]  plaintext [${row.map((v) => v.toFixed(6)).join(', ')}]`);
});
console.log(`max |error| = ${maxErr.toExponential(2)} (bound: a few units of 2^-${precision === 'low' ? 16 : 32})`);
const st = transport.stats();
for (const p of ['alice', 'bob', 'server0', 'server1', 'server2', 'carol']) {
  console.log(`  ${p.padEnd(8)} sent ${String(st[p]?.bytesSent ?? 0).padStart(5)} B, received ${String(st[p]?.bytesReceived ?? 0).padStart(5)} B`);
}
if (maxErr > 2 ** -12) {
  console.error('MISMATCH');
  process.exit(1);
}
