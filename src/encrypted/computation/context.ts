/**
 * Protocols as execution contexts (the seed's `with encrypted_protocol:`):
 * `withProtocol(protocol, () => ...)` makes `protocol` current for the code it
 * runs, across its awaits (AsyncLocalStorage); `setProtocol(protocol)` sets
 * the default outside any `withProtocol`. An abstract computation called
 * there is made concrete with the current protocol.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe } from '../errors.js';
import { Protocol } from '../protocols/base.js';
import type { AnyProtocol } from './rules.js';

const scope = new AsyncLocalStorage<AnyProtocol>();
let fallback: AnyProtocol | undefined;

function checkProtocol(fn: string, p: unknown): AnyProtocol {
  if (!(p instanceof Protocol)) throw new TypeError(`${fn}: argument 'protocol' must be a Protocol (Plaintext, Pond, ABY3), got ${describe(p)}`);
  return p as AnyProtocol;
}

/** Run `fn` with `protocol` as the current protocol (also inside its awaits). */
export function withProtocol<R>(protocol: AnyProtocol, fn: () => R): R {
  const p = checkProtocol('withProtocol', protocol);
  if (typeof fn !== 'function') throw new TypeError(`withProtocol: argument 'fn' must be a function, got ${describe(fn)}`);
  return scope.run(p, fn);
}

/** Set (or, with undefined, clear) the protocol used outside any `withProtocol`. */
export function setProtocol(protocol: AnyProtocol | undefined): void {
  fallback = protocol === undefined ? undefined : checkProtocol('setProtocol', protocol);
}

/** The current protocol: the innermost `withProtocol`'s, else `setProtocol`'s, else undefined. */
export function currentProtocol(): AnyProtocol | undefined {
  return scope.getStore() ?? fallback;
}
