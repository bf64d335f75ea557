/**
 * Invoked by EventBridge Scheduler with `{"kind":"health-tick"}` every period (locally by the
 * in-process scheduler, and by POST /dev/health-check with `all: true`). Fans due connections
 * out to the health queue; never calls Calendly. Answers the tick summary.
 */
import { runHealthTick, type HealthSchedulerDeps, type HealthTickSummary } from '../flows/health.js';
import { healthTickSchema } from '../domain/messages.js';
import { logger } from '../shared/logger.js';
import { CHECK_SHARDS, createConnectionStore } from '../store/connections.js';
import type { SecretBox } from '../shared/crypto.js';
import { clock, dynamo, queue, tables } from '../wiring.js';

const noSecrets: SecretBox = {
  seal: () => {
    throw new Error('health-scheduler never handles secrets');
  },
  open: () => {
    throw new Error('health-scheduler never handles secrets');
  },
};

/** The schedule's period: HEALTH_CHECK_INTERVAL_SECONDS (default 900, the CDK default rate). */
export function healthIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.HEALTH_CHECK_INTERVAL_SECONDS ?? 900);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 900_000;
}

export function createHealthSchedulerHandler(getDeps: () => Promise<HealthSchedulerDeps> | HealthSchedulerDeps) {
  return async (event: unknown): Promise<HealthTickSummary> => {
    const tick = healthTickSchema.safeParse(event ?? { kind: 'health-tick' });
    if (!tick.success) {
      // A malformed schedule input is a deployment error: fail loudly (the schedule's DLQ keeps it).
      logger.error('health tick refused: unexpected input', { issues: tick.error.issues.map((i) => i.message) });
      throw new Error('health-scheduler expects {"kind":"health-tick","all"?:boolean}');
    }
    return runHealthTick(await getDeps(), tick.data);
  };
}

let deps: Promise<HealthSchedulerDeps> | undefined;

export async function healthSchedulerDepsFromEnv(): Promise<HealthSchedulerDeps> {
  const { doc } = dynamo();
  // listDue reads only keys and nextCheckAt: this function has no access to the app secret
  // (lib/permissions.ts), so the store gets a box that refuses to be used.
  const connections = createConnectionStore(doc, tables().connections, noSecrets);
  return {
    listDue: (shard, nowMs, limit, startKey) => connections.listDue(shard, nowMs, limit, startKey),
    shards: CHECK_SHARDS,
    queue: queue(),
    clock,
    options: { periodMs: healthIntervalMs() },
  };
}

export const handler = createHealthSchedulerHandler(() => (deps ??= healthSchedulerDepsFromEnv()));
