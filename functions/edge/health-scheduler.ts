/**
 * Invoked by EventBridge Scheduler with `{"kind":"health-tick"}` every period (locally by the
 * in-process scheduler, and by POST /dev/health-check with `all: true`). Fans due connections
 * out to the health queue; never calls Calendly. Answers the tick summary.
 */
import { healthTickSchema } from '../domain/messages.js';
import { runHealthTick, type HealthSchedulerDeps, type HealthTickSummary } from '../flows/health/index.js';
import { asLambda } from '../shared/invocation.js';
import { logger } from '../shared/logger.js';
import { addLambdaContext } from './lambda-context.js';
import type { Context } from 'aws-lambda';

export function createHealthSchedulerHandler(getDeps: () => Promise<HealthSchedulerDeps> | HealthSchedulerDeps) {
  return asLambda('health-scheduler', async (event: unknown, context?: Context): Promise<HealthTickSummary> => {
    addLambdaContext(context);
    const tick = healthTickSchema.safeParse(event ?? { kind: 'health-tick' });
    if (!tick.success) {
      // A malformed schedule input is a deployment error: fail loudly (the schedule's DLQ keeps it).
      logger.error('health tick refused: unexpected input', { issues: tick.error.issues.map((i) => i.message) });
      throw new Error('health-scheduler expects {"kind":"health-tick","all"?:boolean}');
    }
    return runHealthTick(await getDeps(), tick.data);
  });
}
