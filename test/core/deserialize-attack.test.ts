// A hostile serialized computation, written as an attacker would: the text arrives from someone else
// (over the network, in a file) and tries to run code in the process that deserializes it.
// Default options: refused with a typed error and no code runs (canaries on globalThis and
// Object.prototype stay unset, and no function is even compiled). allowSource: true: still nothing
// runs while parsing; the text runs only when the computation is invoked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FedSerializationError, deserializeComputation, localComputation, serializeComputation, tensor } from '../../src/core/index.js';
import { insecureReferenceAggregation, localContext } from '../../src/runtime/index.js';

const ctx = localContext({ aggregation: insecureReferenceAggregation({ warn: () => undefined }) });
const CANARY = '__fedcrypt_attack_canary__';
const POLLUTED = '__fedcrypt_attack_polluted__';
const g = globalThis as Record<string, unknown>;

function reset(): void {
  delete g[CANARY];
  delete (Object.prototype as Record<string, unknown>)[POLLUTED];
}
function assertNothingRan(what: string): void {
  assert.equal(g[CANARY], undefined, `${what}: the payload ran (canary set to ${String(g[CANARY])})`);
  assert.equal(POLLUTED in {}, false, `${what}: Object.prototype was polluted`);
}

/** The payloads an attacker puts in a source-form local computation; each is an expression that runs code when evaluated. */
const PAYLOADS: Record<string, string> = {
  'Object.constructor("return process")()':
    `(Object.constructor("const p = (0, eval)('process'); globalThis.${CANARY} = typeof p.exit; return p")(), (x) => x)`,
  'this.constructor.constructor': `(this.constructor.constructor("globalThis.${CANARY} = 'this.constructor'")(), (x) => x)`,
  'this (the global object) through the with scope': `(this.${CANARY} = 'this', (x) => x)`,
  'a getter installed on Object.prototype': `(Object.defineProperty(Object.prototype, '${POLLUTED}', { configurable: true, get() { return 'getter'; } }), (x) => x)`,
  'code in a default parameter': `((x, _ = Object.constructor("globalThis.${CANARY} = 'default'")()) => x)`,
};

/** A well-formed local-kind computation (int32 -> int32) whose one source-form local carries `source`. */
function hostile(source: string): string {
  const doc = JSON.parse(serializeComputation(localComputation([tensor('int32')], (x: number) => x + 1, { name: 'inc', result: tensor('int32') })));
  assert.equal(doc.locals[0].form, 'source');
  doc.locals[0].source = source;
  return JSON.stringify(doc);
}

/** Counts every `new Function(...)` / `Function(...)` made through the global binding while `f` runs. */
function countCompiles<T>(f: () => T): { result: T; compiles: number } {
  const original = globalThis.Function;
  let compiles = 0;
  globalThis.Function = new Proxy(original, {
    construct: (t, a) => (compiles++, Reflect.construct(t, a)),
    apply: (t, self, a) => (compiles++, Reflect.apply(t, self, a)),
  });
  try {
    return { result: f(), compiles };
  } finally {
    globalThis.Function = original;
  }
}

const refusedSource = (e: unknown): boolean =>
  e instanceof FedSerializationError && e.code === 'LOCAL' && e.path === '$.locals[0]' && /source-form local computation 'inc' refused/.test(e.message) && /registerLocalComputation/.test(e.message);

for (const [name, source] of Object.entries(PAYLOADS)) {
  test(`attack: hostile source (${name}) with default options is refused, nothing runs or compiles`, () => {
    reset();
    const text = hostile(source);
    const { compiles } = countCompiles(() => assert.throws(() => deserializeComputation(text), refusedSource));
    assert.equal(compiles, 0, 'a function was compiled while parsing');
    assertNothingRan(name);
    // An explicit allowSource: false and an env make no difference.
    assert.throws(() => deserializeComputation(text, { allowSource: false, env: { x: 1 } }), refusedSource);
    assertNothingRan(name);
  });

  test(`attack: hostile source (${name}) with allowSource: true runs nothing while parsing, only when invoked`, async () => {
    reset();
    const text = hostile(source);
    const { result: comp, compiles } = countCompiles(() => deserializeComputation(text, { allowSource: true }));
    assertNothingRan(name);
    assert.equal(compiles, 0, 'a function was compiled while parsing');
    // The opt-in means: this is the caller's own code, run with its authority. Invoking it runs the payload,
    // which shows the payload is real and the with scope is no sandbox.
    assert.equal(await ctx.invoke(comp, [5]), 5);
    assert.ok(g[CANARY] !== undefined || POLLUTED in {}, `${name}: the payload did not run when invoked`);
    reset();
  });
}

test('attack: the source is refused before its other fields are read (an env naming a getter-bearing key is never consulted)', () => {
  reset();
  const doc = JSON.parse(hostile(PAYLOADS['Object.constructor("return process")()']!));
  doc.locals[0].env = ['secret'];
  let read = false;
  const env = Object.defineProperty({}, 'secret', { enumerable: true, get: () => ((read = true), 'value') });
  assert.throws(() => deserializeComputation(JSON.stringify(doc), { env }), refusedSource);
  assert.equal(read, false, 'an env value was read for a refused computation');
  assertNothingRan('env getter');
});

test('attack: __proto__ keys in the JSON are refused as fields and pollute nothing', () => {
  reset();
  const base = JSON.parse(hostile('(x) => x'));
  const cases: [string, (d: any) => string, RegExp][] = [
    // JSON.parse makes "__proto__" an own key; it must not become the prototype of anything the parser reads.
    ['top level', (d) => JSON.stringify(d).replace('{"format"', `{"__proto__":{"${POLLUTED}":1,"allowSource":true},"format"`), /unexpected field '__proto__'/],
    [
      'a local hiding its form behind __proto__',
      (d) => {
        const l = d.locals[0];
        return JSON.stringify({ ...d, locals: ['__L__'] }).replace('"__L__"', `{"__proto__":{"form":"source","source":${JSON.stringify(PAYLOADS['this.constructor.constructor'])},"env":[]},"name":"inc","parameterTypes":${JSON.stringify(l.parameterTypes)},"result":${JSON.stringify(l.result)}}`);
      },
      /unknown local computation form undefined/,
    ],
    ['a type', (d) => JSON.stringify(d).replace('"parameterTypes":[{"kind":"tensor"', `"parameterTypes":[{"__proto__":{"${POLLUTED}":1},"kind":"tensor"`), /unexpected field '__proto__'/],
  ];
  for (const [what, make, re] of cases) {
    for (const options of [{}, { allowSource: true }]) {
      const text = make(structuredClone(base));
      assert.ok(text.includes('"__proto__"'), what);
      assert.throws(
        () => deserializeComputation(text, options),
        (e: unknown) => e instanceof FedSerializationError && (e.code === 'FIELD' || e.code === 'LOCAL') && re.test(e.message),
        `${what} ${JSON.stringify(options)}`,
      );
      assertNothingRan(what);
      assert.equal(({} as Record<string, unknown>).allowSource, undefined);
      assert.equal(({} as Record<string, unknown>).form, undefined);
    }
  }
});

test('allowSource: true: text that is not a function expression is parsed without error and fails when invoked, with a typed error', async () => {
  reset();
  const comp = deserializeComputation(hostile('(x) =>'), { allowSource: true });
  await assert.rejects(ctx.invoke(comp, [1]), (e: unknown) => e instanceof FedSerializationError && e.code === 'LOCAL' && /'inc'.*not a function expression/.test(e.message));
});

test('bad options are refused with a TypeError naming the option', () => {
  const text = hostile('(x) => x');
  assert.throws(() => deserializeComputation(text, { allowSource: 'yes' as unknown as boolean }), (e: unknown) => e instanceof TypeError && /"allowSource" expected a boolean/.test((e as Error).message));
  assert.throws(() => deserializeComputation(text, null as never), (e: unknown) => e instanceof TypeError && /"options"/.test((e as Error).message));
  assert.throws(() => deserializeComputation(text, { env: 5 as never }), (e: unknown) => e instanceof TypeError && /"env"/.test((e as Error).message));
});

test('nothing in src/ deserializes computations with allowSource (no received text is ever evaluated)', () => {
  const root = new URL('../../src/', import.meta.url).pathname;
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  // Outside the core (which defines the option), no module may even name it: transport, deploy and CLI
  // code that reads a computation from a peer or a file gets the default, which refuses source text.
  const outsideCore = walk(root).filter((f) => f.endsWith('.ts') && !f.slice(root.length).startsWith('core/'));
  assert.ok(outsideCore.length > 20, 'the scan found the source tree');
  for (const f of outsideCore) assert.doesNotMatch(readFileSync(f, 'utf8'), /allowSource/, `${f} names allowSource`);
});
