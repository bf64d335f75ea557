/**
 * Composition root of the health worker: one check per connection (token refresh, hook repair,
 * pending cleanup, the reconciliation claim) over the connections, hook keys and sync state tables. It never starts a connect, so it
 * has no OAuth states table.
 */
import type { RepairDeps } from '../flows/connection-deps.js';
import { finishPendingCleanup } from '../flows/disconnect.js';
import type { HealthCheckDeps } from '../flows/health/index.js';
import { getAccessToken, isAuthorizationRequired } from '../flows/tokens.js';
import { ensureWebhook } from '../flows/webhook-step.js';
import { createSyncStateStore, type SyncStateStore } from '../store/sync-state.js';
import { connectionPartsFromEnv, repairDepsFrom } from './connections.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';

/**
 * Builds the check's ports from the repair flows' deps (tests pass their own). With the sync
 * state store the check also queues reconciliation syncs.
 */
export function healthDepsFrom(cd: RepairDeps, options?: HealthCheckDeps['options'], syncState?: SyncStateStore): HealthCheckDeps {
  return {
    calendly: cd.calendly,
    getConnection: (userId) => cd.connections.get(userId),
    getAccessToken: (userId, opts) => getAccessToken(cd, userId, opts),
    ensureWebhook: (input) => ensureWebhook(cd, input),
    finishPendingCleanup: (userId) => finishPendingCleanup(cd, userId),
    recordCheck: (userId, input) => cd.connections.recordCheck(userId, input),
    rememberOrganization: async (userId, userUri, organizationUri) => {
      await cd.connections.recordCalendlyFacts(userId, userUri, { organizationUri });
    },
    isAuthorizationRequired,
    webhookCallbackUrl: (hookKey) => cd.webhookCallbackUrl(hookKey),
    queue: cd.queue,
    clock: cd.clock,
    ...(syncState
      ? { reconcile: { claim: (userId, input) => syncState.claimReconcile(userId, input), release: (userId, at) => syncState.releaseReconcile(userId, at) } }
      : {}),
    ...(options ? { options } : {}),
  };
}

export const healthWorkerDeps = lazy(async (): Promise<HealthCheckDeps> => {
  const env = readEnv(['HEALTH_CHECK_INTERVAL_SECONDS', 'RECONCILE_INTERVAL_SECONDS']);
  const tables = readTables(['connections', 'webhookKeys', 'syncState']);
  const parts = await connectionPartsFromEnv();
  const repair = repairDepsFrom({ ...parts, tables });
  return healthDepsFrom(
    repair,
    { intervalMs: env.HEALTH_CHECK_INTERVAL_SECONDS * 1000, reconcileIntervalMs: env.RECONCILE_INTERVAL_SECONDS * 1000 },
    createSyncStateStore(parts.doc, tables.syncState, parts.clock),
  );
});
