/**
 * The local EventBridge Scheduler: a rate schedule whose LambdaInvoke target passes the
 * configured input to the function verbatim. A tick that is still running when the next is due
 * is not doubled (the flexible time window in AWS makes overlap rare; locally it would only
 * pile up).
 */
import { logger } from '../functions/shared/logger.js';

export interface LocalScheduler {
  stop(): Promise<void>;
}

export function startScheduler(opts: { intervalSeconds: number; input: unknown; invoke: (input: unknown) => Promise<unknown> }): LocalScheduler {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = opts
      .invoke(structuredClone(opts.input))
      .then(
        () => undefined,
        (err: unknown) => {
          logger.error('scheduled health tick failed', { error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
        },
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, opts.intervalSeconds * 1000);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
