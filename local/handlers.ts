/**
 * Loads the same handler modules the Lambdas run. Imported lazily, after the runtime has set
 * process.env, because functions/wiring/ memoises its configuration on first use.
 */
import type { Context } from 'aws-lambda';
import type { BackgroundHandlerName, HandlerName } from '../functions/routes.js';

export type AnyHandlerName = HandlerName | BackgroundHandlerName;
// Handlers take their own event types; the runtime only passes events through.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = (event: any, context: Context) => unknown;

const modules: Record<AnyHandlerName, () => Promise<{ handler: unknown }>> = {
  connections: () => import('../functions/handlers/connections.js'),
  meetings: () => import('../functions/handlers/meetings.js'),
  'oauth-callback': () => import('../functions/handlers/oauth-callback.js'),
  webhook: () => import('../functions/handlers/webhook.js'),
  ping: () => import('../functions/handlers/ping.js'),
  'sync-worker': () => import('../functions/handlers/sync-worker.js'),
  'health-scheduler': () => import('../functions/handlers/health-scheduler.js'),
  'health-worker': () => import('../functions/handlers/health-worker.js'),
};

export const HANDLER_NAMES = Object.keys(modules) as AnyHandlerName[];

export function createHandlerRegistry(overrides: Partial<Record<AnyHandlerName, AnyHandler>> = {}) {
  const cache = new Map<AnyHandlerName, Promise<AnyHandler>>();
  const load = (name: AnyHandlerName): Promise<AnyHandler> => {
    const override = overrides[name];
    if (override) return Promise.resolve(override);
    let p = cache.get(name);
    if (!p) {
      p = modules[name]().then((m) => {
        if (typeof m.handler !== 'function') throw new Error(`functions/handlers/${name}.ts does not export a handler function`);
        return m.handler as AnyHandler;
      });
      // A module that failed to load (a syntax error mid-edit) is retried on the next call.
      p.catch(() => cache.delete(name));
      cache.set(name, p);
    }
    return p;
  };
  return {
    load,
    /** Imports every real handler now, so a broken module fails start-up rather than a request. */
    async preload(): Promise<void> {
      await Promise.all(HANDLER_NAMES.map((n) => load(n)));
    },
  };
}

export type HandlerRegistry = ReturnType<typeof createHandlerRegistry>;
