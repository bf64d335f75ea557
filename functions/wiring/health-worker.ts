/**
 * Composition root of the health worker: one check per connection (token refresh, hook repair,
 * pending cleanup, the reconciliation claim, the Meeting Changed outbox sweep) over the connections,
 * hook keys, sync state and meetings tables. It never starts a connect, so it has no OAuth states table.
 */
import type { RepairDeps } from '../flows/connection-deps.js';
import { finishPendingCleanup } from '../flows/disconnect.js';
import { sweepMeetingEvents } from '../flows/meeting-events.js';
import type { HealthCheckDeps } from '../flows/health/index.js';
import { getAccessToken, isAuthorizationRequired } from '../flows/tokens.js';
import { ensureWebhook } from '../flows/webhook-step.js';
import type { MeetingEventPublisher } from '../ports.js';
import { emitMetric } from '../shared/metrics.js';
import { createMeetingStore, type MeetingStore } from '../store/meetings/index.js';
import { createSyncStateStore, type SyncStateStore } from '../store/sync-state.js';
import { connectionPartsFromEnv, repairDepsFrom } from './connections.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';
import { meetingEventPublisher } from './services.js';

/**
 * Builds the check's ports from the repair flows' deps (tests pass their own). With the sync
 * state store the check also queues reconciliation syncs; with the meetings store and a
 * publisher it also sweeps the Meeting Changed outbox.
 */
export function healthDepsFrom(
  cd: RepairDeps,
  options?: HealthCheckDeps['options'],
  syncState?: SyncStateStore,
  events?: { meetings: MeetingStore; publisher: MeetingEventPublisher },
): HealthCheckDeps {
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
    ...(events
      ? { sweepMeetingEvents: (userId) => sweepMeetingEvents({ meetings: events.meetings, publisher: events.publisher, metric: emitMetric, clock: cd.clock }, userId) }
      : {}),
    ...(options ? { options } : {}),
  };
}

export const healthWorkerDeps = lazy(async (): Promise<HealthCheckDeps> => {
  const env = readEnv(['HEALTH_CHECK_INTERVAL_SECONDS', 'RECONCILE_INTERVAL_SECONDS']);
  const tables = readTables(['connections', 'webhookKeys', 'syncState', 'meetings']);
  const parts = await connectionPartsFromEnv();
  const repair = repairDepsFrom({ ...parts, tables });
  return healthDepsFrom(
    repair,
    { intervalMs: env.HEALTH_CHECK_INTERVAL_SECONDS * 1000, reconcileIntervalMs: env.RECONCILE_INTERVAL_SECONDS * 1000 },
    createSyncStateStore(parts.doc, tables.syncState, parts.clock),
    { meetings: createMeetingStore(parts.doc, tables.meetings, { clock: parts.clock }), publisher: meetingEventPublisher() },
  );
});
