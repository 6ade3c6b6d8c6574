import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import fc from 'fast-check';
import { LOADER_OPTIONS, SERVICE_PATH, encodeSealedPieces, linkService, loadSchema, type LinkFrame } from '../../src/transport/grpc-schema.js';

type Method = { path: string; requestStream: boolean; responseStream: boolean; requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): LinkFrame };
const protoFile = fileURLToPath(new URL('../../src/transport/proto/fedcrypt.proto', import.meta.url));
const fromProto = (loadSync(protoFile, { ...LOADER_OPTIONS }) as unknown as Record<string, Record<string, Method>>)[SERVICE_PATH]!['Link']!;
const fromJson = (loadSchema() as unknown as Record<string, Record<string, Method>>)[SERVICE_PATH]!['Link']!;

const samples: LinkFrame[] = [
  { hello: { schema_version: 1, handshake: Buffer.from([1, 2, 3]) } },
  { reply: { handshake: Buffer.alloc(66, 7) } },
  { finish: { handshake: Buffer.alloc(34, 9) } },
  { ready: {} },
  { sealed: { frame: Buffer.alloc(300, 5) } },
  { refusal: { reason: 'no pinned public key' } },
  { open: { schema_version: 1, context: Buffer.alloc(32, 3) } },
  { chunk: { frame: Buffer.alloc(300, 6), round: 7 } },
];

test('schema: the embedded descriptor and the .proto file define the same service and encodings', () => {
  assert.equal(fromProto.path, '/fedcrypt.transport.v1.PlayerLink/Link');
  assert.equal(fromJson.path, fromProto.path);
  assert.equal(fromJson.requestStream && fromJson.responseStream, true);
  assert.equal(fromProto.requestStream && fromProto.responseStream, true);
  for (const s of samples) {
    const a = fromJson.requestSerialize(s);
    const b = fromProto.requestSerialize(s);
    assert.deepEqual(a, b, JSON.stringify(Object.keys(s)));
    const back = fromProto.requestDeserialize(a);
    assert.equal(back.body, Object.keys(s)[0]);
    assert.deepEqual(fromJson.requestDeserialize(b), back);
  }
});

test('schema: hand-encoded sealed frames equal protobufjs encoding, at every varint boundary', () => {
  const sizes = fc.oneof(fc.constantFrom(0, 1, 124, 125, 126, 127, 128, 16379, 16380, 16383, 16384, 2097151, 2097152), fc.integer({ min: 0, max: 70000 }));
  fc.assert(
    fc.property(fc.array(sizes, { minLength: 1, maxLength: 3 }), (lens) => {
      const pieces = lens.map((n, i) => Buffer.alloc(n, i + 1));
      const whole = Buffer.concat(pieces);
      const fast = encodeSealedPieces(pieces);
      assert.deepEqual(fast, fromProto.requestSerialize({ sealed: { frame: whole } }));
      const back = fromProto.requestDeserialize(fast);
      assert.equal(back.body, 'sealed');
      assert.deepEqual(Buffer.from(back.sealed!.frame!), whole);
    }),
    { numRuns: 40 },
  );
  // chunk frames (with their round, at every varint boundary of it)
  fc.assert(
    fc.property(sizes, fc.constantFrom(0, 1, 127, 128, 16383, 16384, 2 ** 32 - 1), (n, round) => {
      const pieces = [Buffer.alloc(32, 1), Buffer.alloc(n, 2)];
      const fast = encodeSealedPieces(pieces, undefined, round);
      assert.deepEqual(fast, fromProto.requestSerialize({ chunk: { frame: Buffer.concat(pieces), round } }));
      const back = fromProto.requestDeserialize(fast);
      assert.equal(back.body, 'chunk');
      assert.equal(back.chunk!.round, round);
      assert.deepEqual(Buffer.from(back.chunk!.frame!), Buffer.concat(pieces));
    }),
    { numRuns: 40 },
  );
  const svc = linkService()['Link'] as unknown as Method;
  const encoded = encodeSealedPieces([Buffer.from('xyz')], undefined, 5);
  assert.equal(svc.requestSerialize({ chunk: { encoded } }), encoded); // pre-encoded chunks pass through as they are
  assert.deepEqual(svc.requestSerialize({ sealed: { pieces: [Buffer.from('ab'), Buffer.from('c')] } }), fromProto.requestSerialize({ sealed: { frame: Buffer.from('abc') } }));
  assert.deepEqual(svc.requestSerialize(samples[0]), fromProto.requestSerialize(samples[0]));
});
