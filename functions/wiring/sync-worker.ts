/** Composition root of the sync worker: Calendly pages into the meetings table, under the sync lease. */
import type { CalendlyPort } from '../calendly/port.js';
import type { TokenDeps } from '../flows/connection-deps.js';
import type { SyncDeps } from '../flows/sync/index.js';
import { publishWritten } from '../flows/meeting-events.js';
import { getAccessToken, isAuthorizationRequired } from '../flows/tokens.js';
import { realSleeper, systemClock, type Clock, type MeetingEventPublisher, type Queue, type Sleeper } from '../ports.js';
import { emitMetric } from '../shared/metrics.js';
import { createConnectionStore } from '../store/connections/index.js';
import { createMeetingStore, type MeetingStore } from '../store/meetings/index.js';
import { createSyncStateStore, type SyncStateStore } from '../store/sync-state.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';
import { calendly, dynamo, meetingEventPublisher, queueFromEnv, secretBox } from './services.js';

/**
 * The sync worker's ports over the stores. One builder for the Lambda, the tests' harness and
 * the benchmark, so what is tested is what is deployed.
 */
export function syncDepsFrom(p: {
  tokens: TokenDeps;
  calendly: CalendlyPort;
  meetings: MeetingStore;
  syncState: SyncStateStore;
  queue: Queue;
  clock: Clock;
  sleeper: Sleeper;
  options?: SyncDeps['options'];
  /** Where Meeting Changed events go; absent: they wait on the outbox for the sweep. */
  publisher?: MeetingEventPublisher;
}): SyncDeps {
  const publisher = p.publisher;
  const { connections } = p.tokens;
  return {
    calendly: p.calendly,
    getAccessToken: (userId, opts) => getAccessToken(p.tokens, userId, opts),
    getConnection: (userId) => connections.get(userId),
    recordSyncCompleted: async (userId, atMs) => {
      await connections.recordSyncCompleted(userId, atMs);
    },
    rememberEventsFilter: async (userId, userUri, eventsFilter) => {
      await connections.recordCalendlyFacts(userId, userUri, { eventsFilter });
    },
    applyMeetings: (userId, updates, opts) => p.meetings.applyMany(userId, updates, opts),
    ...(publisher ? { publishChanges: (written) => publishWritten({ publisher, meetings: p.meetings, metric: emitMetric }, written) } : {}),
    eventMarks: (userId, uris) => p.meetings.eventMarks(userId, uris),
    purgeMeetings: (userId, input) => p.meetings.purge(userId, input),
    isAuthorizationRequired,
    syncState: p.syncState,
    queue: p.queue,
    clock: p.clock,
    sleeper: p.sleeper,
    ...(p.options ? { options: p.options } : {}),
  };
}

export const syncWorkerDeps = lazy(async (): Promise<SyncDeps> => {
  const { doc } = dynamo();
  const t = readTables(['connections', 'meetings', 'syncState']);
  const env = readEnv(['SYNC_QUEUE_MAX_RECEIVE_COUNT']);
  const [box, api] = await Promise.all([secretBox(), calendly()]);
  const clock = systemClock;
  return syncDepsFrom({
    tokens: { connections: createConnectionStore(doc, t.connections, box), calendly: api, clock, sleeper: realSleeper },
    calendly: api,
    meetings: createMeetingStore(doc, t.meetings, { clock }),
    syncState: createSyncStateStore(doc, t.syncState, clock),
    queue: queueFromEnv(['sync']),
    clock,
    sleeper: realSleeper,
    options: { maxReceives: env.SYNC_QUEUE_MAX_RECEIVE_COUNT },
    publisher: meetingEventPublisher(),
  });
});
