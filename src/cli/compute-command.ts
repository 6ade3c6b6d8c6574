/**
 * `fedcrypt compute`: run a serialized encrypted computation across the
 * players of config.json (this process is the model owner; deploy/compute-driver.ts).
 *
 *   fedcrypt compute forward.json --config config.json \
 *       --input x=owner0:features --input w=@weights.json [--input c=public:@c.json] \
 *       [--shape x=4,5] [--protocol aby3|pond] [--precision low|high] [--timeout 60] [--out result.json]
 *
 * forward.json is a computation's JSON (`JSON.stringify(comp)` or of a
 * concrete one). Each argument is bound by name: `player:source` (a data
 * owner's own data, served by its `fedcrypt player --data <module>`; the
 * driver sends only the source's name), `@file.json` (a value of the model
 * owner: a number array, nested arrays, or { values, shape }; never sent), or
 * `public:@file.json` (a public value, sent in the request). An abstract
 * computation needs the shape of each source (`--shape x=4,5`). The results
 * revealed to the model owner are printed (or written to --out) as JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';

const BINDING = /^([A-Za-z_$][\w$]*)=(.+)$/;

const collect = (flag: string) => (v: string, prev: Record<string, string> = {}): Record<string, string> => {
  const m = BINDING.exec(v);
  if (!m) throw new InvalidArgumentError(`${flag} expected <argument>=<value>, got "${v}"`);
  if (m[1]! in prev) throw new InvalidArgumentError(`${flag}: argument "${m[1]}" is given twice`);
  return { ...prev, [m[1]!]: m[2]! };
};

interface ComputeCli {
  config: string;
  key?: string;
  input?: Record<string, string>;
  shape?: Record<string, string>;
  protocol?: 'aby3' | 'pond';
  precision?: 'low' | 'high';
  timeout: number;
  out?: string;
}

function readJson(path: string, flag: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new InvalidArgumentError(`${flag}: cannot read ${path} as JSON: ${(e as Error).message}`);
  }
}

/** A value file: a number array, nested arrays, or { values, shape }. */
function valueFile(path: string, flag: string): { value: number[] | unknown[]; shape?: number[] } {
  const j = readJson(path, flag);
  if (Array.isArray(j)) return { value: j };
  if (j !== null && typeof j === 'object' && Array.isArray((j as { values?: unknown }).values)) {
    const o = j as { values: number[]; shape?: number[] };
    return { value: o.values, ...(o.shape === undefined ? {} : { shape: o.shape }) };
  }
  throw new InvalidArgumentError(`${flag}: ${path} must hold a number array, nested arrays, or { "values": [...], "shape": [...] }`);
}

/** The bindings of `--input` (and `--shape`), by argument name. */
export function parseBindings(input: Record<string, string>, shapes: Record<string, string>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, spec] of Object.entries(input)) {
    const flag = `--input ${name}`;
    let b: Record<string, unknown>;
    if (spec.startsWith('public:@')) b = { ...valueFile(spec.slice(8), flag), public: true };
    else if (spec.startsWith('@')) b = valueFile(spec.slice(1), flag);
    else {
      const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):([A-Za-z0-9_.:/-]+)$/.exec(spec);
      if (!m) throw new InvalidArgumentError(`${flag}: expected <player>:<source>, @<file.json> or public:@<file.json>, got "${spec}"`);
      b = { player: m[1]!, source: m[2]! };
    }
    out[name] = b;
  }
  for (const [name, s] of Object.entries(shapes)) {
    if (out[name] === undefined) throw new InvalidArgumentError(`--shape ${name}: no --input ${name}`);
    const dims = s.split(/[,x]/).map(Number);
    if (!dims.every((d) => Number.isInteger(d) && d >= 0)) throw new InvalidArgumentError(`--shape ${name}: expected comma-separated dimensions, got "${s}"`);
    out[name] = { ...out[name], shape: dims };
  }
  return out;
}

export function registerComputeCommand(program: Command): void {
  program
    .command('compute')
    .description("run a serialized encrypted computation (a computation's JSON) across the players of config.json; this process is the model owner")
    .argument('<computation>', "the computation's JSON file")
    .requiredOption('--config <file>', 'config.json (three compute servers)')
    .option('--key <file>', "the model owner's key file (default keys/<model owner>.key)")
    .option('--input <arg=binding>', 'bind an argument: <player>:<source>, @<file.json> (the model owner\'s value) or public:@<file.json> (repeat per argument)', collect('--input'))
    .option('--shape <arg=dims>', "an argument's shape, e.g. x=4,5: a source's (abstract computation), or a flat value file's", collect('--shape'))
    .option('--protocol <name>', 'an abstract computation: aby3 (default) or pond')
    .option('--precision <p>', "an abstract computation: 'low' (default) or 'high'")
    .option('--timeout <seconds>', 'deadline of each answer and protocol step', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--timeout expected seconds > 0, got "${v}"`);
      return n;
    }, 600)
    .option('--out <file>', 'write the results as JSON here (default: print them)')
    .action(async (file: string, o: ComputeCli) => {
      if (o.protocol !== undefined && o.protocol !== 'aby3' && o.protocol !== 'pond') throw new InvalidArgumentError(`--protocol expected aby3 or pond, got "${String(o.protocol)}"`);
      if (o.precision !== undefined && o.precision !== 'low' && o.precision !== 'high') throw new InvalidArgumentError(`--precision expected low or high, got "${String(o.precision)}"`);
      const program = readJson(file, '<computation>');
      const inputs = parseBindings(o.input ?? {}, o.shape ?? {});
      const { runComputation } = await import('../deploy/compute-driver.js');
      const run = await runComputation(program as never, {
        config: o.config, ...(o.key ? { key: o.key } : {}), inputs: inputs as never, timeoutMs: Math.round(o.timeout * 1000),
        ...(o.protocol ? { protocol: o.protocol } : {}), ...(o.precision ? { precision: o.precision } : {}), log: (l) => console.error(l),
      });
      const text = JSON.stringify({
        session: run.session, computation: run.computation, participants: run.participants,
        outputs: run.outputs.map((x) => (x === undefined ? null : { shape: x.shape, values: Array.from(x.values) })),
      });
      if (o.out) {
        writeFileSync(o.out, `${text}\n`);
        console.error(`compute: ${run.outputs.filter((x) => x !== undefined).length} of ${run.outputs.length} result(s) revealed to the model owner, written to ${o.out}`);
      } else console.log(text);
    });
}
