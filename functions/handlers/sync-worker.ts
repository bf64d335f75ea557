/**
 * Sync queue consumer (SQS event source mapping with ReportBatchItemFailures). Each record is
 * one kick for one connection (flows/sync.ts). Only retryable failures are reported back; a
 * message that can never be valid is logged and dropped (it would only burn receives on its way
 * to the DLQ).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { CalendlyPort } from '../calendly/port.js';
import type { TokenDeps } from '../flows/connection-deps.js';
import { processSyncMessage, type SyncDeps } from '../flows/sync.js';
import { parseMessage, syncMessageSchema } from '../domain/messages.js';
import { getAccessToken, isAuthorizationRequired } from '../flows/tokens.js';
import { realSleeper, type Clock, type Queue, type Sleeper } from '../ports.js';
import { logger } from '../shared/logger.js';
import { createConnectionStore } from '../store/connections.js';
import { createMeetingStore, type MeetingStore } from '../store/meetings.js';
import { createSyncStateStore, type SyncStateStore } from '../store/sync-state.js';
import { calendly } from '../connection-wiring.js';
import { clock, dynamo, queue, secretBox, tables } from '../wiring.js';

/** Handles one record; exported for tests. Throws to report the record as failed. */
export async function handleSyncRecord(deps: SyncDeps, record: SQSRecord, deadlineMs?: number): Promise<void> {
  const parsed = parseMessage(syncMessageSchema, record.body);
  if (!parsed.ok) {
    logger.error('sync message dropped: invalid body', { messageId: record.messageId, reason: parsed.reason });
    return;
  }
  const result = await processSyncMessage(deps, parsed.value, { messageId: record.messageId, deadlineMs });
  logger.info('sync message done', { messageId: record.messageId, userId: parsed.value.userId, ...result });
}

/** The handler over given deps (the local runtime and tests build their own). */
export function createSyncWorkerHandler(getDeps: () => Promise<SyncDeps> | SyncDeps) {
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const deps = await getDeps();
    const remaining = context?.getRemainingTimeInMillis?.();
    // Stop early enough to save the cursor and hand off (a quarter of the budget, at most 30 s).
    const deadlineMs = remaining !== undefined ? deps.clock.now() + remaining - Math.min(30_000, remaining / 4) : undefined;
    // One processor per invocation: it keeps per-batch state, and the local runtime runs
    // several batches of one handler at once.
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, (record: SQSRecord) => handleSyncRecord(deps, record, deadlineMs), processor, {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
  };
}

let deps: Promise<SyncDeps> | undefined;

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
}): SyncDeps {
  const { connections } = p.tokens;
  return {
    calendly: p.calendly,
    getAccessToken: (userId, opts) => getAccessToken(p.tokens, userId, opts),
    getConnection: (userId) => connections.get(userId),
    recordSyncCompleted: async (userId, atMs) => {
      await connections.recordSyncCompleted(userId, atMs);
    },
    applyMeetings: (userId, updates) => p.meetings.applyMany(userId, updates),
    isAuthorizationRequired,
    syncState: p.syncState,
    queue: p.queue,
    clock: p.clock,
    sleeper: p.sleeper,
  };
}

export async function syncDepsFromEnv(): Promise<SyncDeps> {
  const { doc } = dynamo();
  const t = tables();
  const [box, api] = await Promise.all([secretBox(), calendly()]);
  const connections = createConnectionStore(doc, t.connections, box);
  return syncDepsFrom({
    tokens: { connections, calendly: api, clock, sleeper: realSleeper },
    calendly: api,
    meetings: createMeetingStore(doc, t.meetings, { clock }),
    syncState: createSyncStateStore(doc, t.syncState, clock),
    queue: queue(),
    clock,
    sleeper: realSleeper,
  });
}

export const handler = createSyncWorkerHandler(() => (deps ??= syncDepsFromEnv()));
