/**
 * Execution contexts: where `await comp(...args)` runs.
 *
 * The current context is the innermost `withContext(ctx, fn)` scope (tracked
 * across awaits with AsyncLocalStorage), else the one set with
 * `setDefaultContext`, else a default made by the factory the runtime
 * registers when it is imported (a `localContext()`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { FedArgumentError } from './errors.js';
import type { Computation } from './tracing.js';

export interface ExecutionContext {
  /** A short name for messages, e.g. 'local'. */
  readonly name: string;
  /** Run `comp` on JS arguments (one per parameter type); resolve with the JS result. */
  invoke(comp: Computation, args: readonly unknown[]): Promise<unknown>;
}

let defaultContext: ExecutionContext | null = null;
let defaultFactory: (() => ExecutionContext) | null = null;
const scoped = new AsyncLocalStorage<ExecutionContext>();

function checkContext(ctx: unknown, fn: string): asserts ctx is ExecutionContext {
  if (ctx === null || typeof ctx !== 'object' || typeof (ctx as ExecutionContext).invoke !== 'function') {
    throw new TypeError(`${fn}: "ctx" expected an ExecutionContext (an object with invoke()), got ${ctx === null ? 'null' : typeof ctx}`);
  }
}

/** Set (or, with null, clear) the default context. */
export function setDefaultContext(ctx: ExecutionContext | null): void {
  if (ctx !== null) checkContext(ctx, 'setDefaultContext');
  defaultContext = ctx;
}

export function getDefaultContext(): ExecutionContext | null {
  return defaultContext;
}

/** Used by the runtime: how to make a default context when none was set. */
export function setDefaultContextFactory(factory: (() => ExecutionContext) | null): void {
  defaultFactory = factory;
}

/** Run `fn` with `ctx` as the current context (also across its awaits); returns fn's result. */
export function withContext<R>(ctx: ExecutionContext, fn: () => R): R {
  checkContext(ctx, 'withContext');
  if (typeof fn !== 'function') throw new TypeError(`withContext: "fn" expected a function, got ${typeof fn}`);
  return scoped.run(ctx, fn);
}

export function currentContext(): ExecutionContext {
  const s = scoped.getStore();
  if (s) return s;
  if (defaultContext) return defaultContext;
  if (defaultFactory) return (defaultContext = defaultFactory());
  throw new FedArgumentError(
    'NO_CONTEXT',
    '',
    'no execution context: call setDefaultContext(localContext()) or import fedcrypt/runtime (which installs a local one)',
  );
}
