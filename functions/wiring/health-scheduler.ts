/** Composition root of the health scheduler: due connections from the check index onto the health queue. */
import type { HealthSchedulerDeps } from '../flows/health/index.js';
import { systemClock } from '../ports.js';
import type { SecretBox } from '../shared/crypto.js';
import { CHECK_SHARDS, createConnectionStore } from '../store/connections/index.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';
import { dynamo, queueFromEnv } from './services.js';

/** listDue reads only keys and nextCheckAt: this Lambda has no access to the app secret. */
const noSecrets: SecretBox = {
  seal: () => {
    throw new Error('health-scheduler never handles secrets');
  },
  open: () => {
    throw new Error('health-scheduler never handles secrets');
  },
  currentKid: 'none',
  kidOf: () => {
    throw new Error('health-scheduler never handles secrets');
  },
};

export const healthSchedulerDeps = lazy((): HealthSchedulerDeps => {
  const env = readEnv(['HEALTH_CHECK_INTERVAL_SECONDS']);
  const connections = createConnectionStore(dynamo().doc, readTables(['connections']).connections, noSecrets);
  return {
    listDue: (shard, nowMs, limit, startKey) => connections.listDue(shard, nowMs, limit, startKey),
    shards: CHECK_SHARDS,
    queue: queueFromEnv(['health']),
    clock: systemClock,
    options: { periodMs: env.HEALTH_CHECK_INTERVAL_SECONDS * 1000 },
  };
});
