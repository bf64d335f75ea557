/**
 * Which Lambda the current code runs for. The handler edge opens a scope with the handler's name
 * (functions/handlers/<name>.ts); code below it (failure metrics, the SDK call log) reads it
 * without threading it through every port. In AWS one process is one Lambda, but the local
 * runtime and the tests run every handler in one process, concurrently: AsyncLocalStorage keeps
 * each invocation's name with its own async work.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { BackgroundHandlerName, HandlerName } from '../routes.js';

export type LambdaName = HandlerName | BackgroundHandlerName;

const scope = new AsyncLocalStorage<LambdaName>();

/** Runs `fn` (and everything it awaits or schedules) as an invocation of `lambda`. */
export function runAsLambda<T>(lambda: LambdaName, fn: () => T): T {
  return scope.run(lambda, fn);
}

/** The Lambda whose invocation is running, if any (undefined in scripts and unit tests). */
export function currentLambda(): LambdaName | undefined {
  return scope.getStore();
}

/** Wraps a handler so each call runs in its Lambda's scope. */
export function asLambda<A extends unknown[], R>(lambda: LambdaName, handler: (...args: A) => R): (...args: A) => R {
  return (...args: A) => runAsLambda(lambda, () => handler(...args));
}
