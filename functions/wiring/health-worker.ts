/**
 * Composition root of the health worker: one check per connection (token refresh, hook repair,
 * pending cleanup) over the connections and hook keys tables. It never starts a connect, so it
 * has no OAuth states table.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CalendlyPort } from '../calendly/port.js';
import type { RepairDeps } from '../flows/connection-deps.js';
import { finishPendingCleanup } from '../flows/disconnect.js';
import type { HealthCheckDeps } from '../flows/health/index.js';
import { getAccessToken, isAuthorizationRequired } from '../flows/tokens.js';
import { ensureWebhook } from '../flows/webhook-step.js';
import { realSleeper, systemClock, type Clock, type Queue, type Sleeper } from '../ports.js';
import type { SecretBox } from '../shared/crypto.js';
import { createConnectionStore } from '../store/connections/index.js';
import { createWebhookKeyStore } from '../store/webhook-keys.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';
import { calendly, dynamo, queueFromEnv, secretBox, webhookCallbackUrl } from './services.js';

/** Builds the check's ports from the repair flows' deps (tests pass their own). */
export function healthDepsFrom(cd: RepairDeps, options?: HealthCheckDeps['options']): HealthCheckDeps {
  return {
    calendly: cd.calendly,
    getConnection: (userId) => cd.connections.get(userId),
    getAccessToken: (userId, opts) => getAccessToken(cd, userId, opts),
    ensureWebhook: (input) => ensureWebhook(cd, input),
    finishPendingCleanup: (userId) => finishPendingCleanup(cd, userId),
    recordCheck: (userId, input) => cd.connections.recordCheck(userId, input),
    isAuthorizationRequired,
    webhookCallbackUrl: (hookKey) => cd.webhookCallbackUrl(hookKey),
    queue: cd.queue,
    clock: cd.clock,
    ...(options ? { options } : {}),
  };
}

export function repairDepsFrom(p: {
  doc: DynamoDBDocumentClient;
  tables: { connections: string; webhookKeys: string };
  box: SecretBox;
  calendly: CalendlyPort;
  queue: Queue;
  clock: Clock;
  sleeper: Sleeper;
  publicBaseUrl: string;
}): RepairDeps {
  return {
    connections: createConnectionStore(p.doc, p.tables.connections, p.box),
    webhookKeys: createWebhookKeyStore(p.doc, p.tables.webhookKeys, p.box),
    calendly: p.calendly,
    queue: p.queue,
    clock: p.clock,
    sleeper: p.sleeper,
    webhookCallbackUrl: (hookKey: string) => webhookCallbackUrl(p.publicBaseUrl, hookKey),
  };
}

export const healthWorkerDeps = lazy(async (): Promise<HealthCheckDeps> => {
  const env = readEnv(['PUBLIC_BASE_URL', 'HEALTH_CHECK_INTERVAL_SECONDS']);
  const [box, api] = await Promise.all([secretBox(), calendly()]);
  const repair = repairDepsFrom({
    doc: dynamo().doc,
    tables: readTables(['connections', 'webhookKeys']),
    box,
    calendly: api,
    queue: queueFromEnv(['sync']),
    clock: systemClock,
    sleeper: realSleeper,
    publicBaseUrl: env.PUBLIC_BASE_URL,
  });
  return healthDepsFrom(repair, { intervalMs: env.HEALTH_CHECK_INTERVAL_SECONDS * 1000 });
});
