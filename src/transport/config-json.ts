/**
 * A strict JSON parser for configuration files: like JSON.parse, but a
 * duplicate key in an object is an error naming the key path (JSON.parse
 * silently keeps the last one, which would hide a duplicate player name).
 */
export class JsonSyntaxError extends SyntaxError {
  constructor(message: string, readonly path: string, readonly line: number, readonly column: number) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

export class DuplicateKeyError extends JsonSyntaxError {
  constructor(message: string, path: string, line: number, column: number, readonly key: string) {
    super(message, path, line, column);
    this.name = 'DuplicateKeyError';
  }
}

const pathOf = (parts: (string | number)[]): string =>
  parts.length === 0 ? '<root>' : parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$-]*$/.test(p) ? (i ? `.${p}` : p) : `[${JSON.stringify(p)}]`)).join('');

export function parseJsonStrict(text: string): unknown {
  if (typeof text !== 'string') throw new TypeError(`parseJsonStrict: "text" expected string, got ${typeof text}`);
  let i = 0;
  const path: (string | number)[] = [];
  const where = (at: number) => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    return { line, column: at - before.lastIndexOf('\n') };
  };
  const fail = (msg: string, at = i): never => {
    const { line, column } = where(at);
    throw new JsonSyntaxError(`invalid JSON at line ${line}, column ${column} (${pathOf(path)}): ${msg}`, pathOf(path), line, column);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text.charCodeAt(i) < 0x20) fail('control character in string');
      i++;
    }
    if (i >= text.length) fail('unterminated string', start);
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('bad escape in string', start);
    }
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const at = i;
        const k = str();
        if (seen.has(k)) {
          const { line, column } = where(at);
          const p = pathOf([...path, k]);
          throw new DuplicateKeyError(`duplicate key ${JSON.stringify(k)} at ${p} (line ${line}, column ${column})`, p, line, column, k);
        }
        seen.add(k);
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        path.push(k);
        const v = value();
        path.pop();
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return out;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        path.push(out.length);
        out.push(value());
        path.pop();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return out;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) return fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const v = value();
  ws();
  if (i < text.length) fail('trailing characters');
  return v;
}
