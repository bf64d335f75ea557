/**
 * Sync queue consumer (SQS event source mapping with ReportBatchItemFailures). Each record is
 * one kick for one connection (flows/sync/run.ts) or one batch of a disconnect's purge
 * (flows/sync/purge.ts). Only retryable failures are reported back, each logged at ERROR with
 * its error; a message that can never be valid is logged and dropped (it would only burn
 * receives on its way to the DLQ). The record's receive count against the queue's
 * maxReceiveCount tells the flow when it is on its last try, so a failing run is given up and
 * recorded rather than left on the DLQ.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { processPurgeMessage, processSyncMessage, type SyncDeps } from '../flows/sync/index.js';
import { SyncRetryLaterError } from '../flows/sync/types.js';
import { isPurgeMessage, parseMessage, syncQueueMessageSchema } from '../domain/messages.js';
import { asLambda } from '../shared/invocation.js';
import { logger } from '../shared/logger.js';
import { countingFailures, emitMetric } from '../shared/metrics.js';
import { addLambdaContext } from './lambda-context.js';

/** Handles one record; exported for tests. Throws to report the record as failed. */
export async function handleSyncRecord(deps: SyncDeps, record: SQSRecord, deadlineMs?: number): Promise<void> {
  const parsed = parseMessage(syncQueueMessageSchema, record.body);
  if (!parsed.ok) {
    logger.error('sync message dropped: invalid body', { messageId: record.messageId, reason: parsed.reason });
    return;
  }
  const msg = parsed.value;
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
  const maxReceives = deps.options?.maxReceives;
  const lastTry = maxReceives !== undefined && receiveCount >= maxReceives;
  try {
    if (isPurgeMessage(msg)) {
      const result = await processPurgeMessage(deps, msg);
      logger.info('purge message done', { messageId: record.messageId, userId: msg.userId, ...result });
      return;
    }
    const result = await processSyncMessage(deps, msg, { messageId: record.messageId, deadlineMs, lastTry });
    logger.info('sync message done', { messageId: record.messageId, userId: msg.userId, ...result });
    emitMetric('SyncRunsCompleted', result.runsCompleted);
  } catch (e) {
    if (e instanceof SyncRetryLaterError) {
      // Not a failure: the run this message started is still held by a live lease.
      logger.info('sync message handed back to the queue', { messageId: record.messageId, userId: msg.userId, retryAfterMs: e.retryAfterMs });
    } else {
      logger.error('sync message failed', { messageId: record.messageId, userId: msg.userId, kind: isPurgeMessage(msg) ? 'purge' : 'sync', receiveCount, lastTry, error: e });
    }
    throw e;
  }
}

/** The handler over given deps (the local runtime and tests build their own). */
export function createSyncWorkerHandler(getDeps: () => Promise<SyncDeps> | SyncDeps) {
  return asLambda('sync-worker', async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    addLambdaContext(context);
    const deps = await getDeps();
    const remaining = context?.getRemainingTimeInMillis?.();
    // Stop early enough to save the cursor and hand off (a quarter of the budget, at most 30 s).
    const deadlineMs = remaining !== undefined ? deps.clock.now() + remaining - Math.min(30_000, remaining / 4) : undefined;
    // One processor per invocation: it keeps per-batch state, and the local runtime runs
    // several batches of one handler at once.
    const processor = new BatchProcessor(EventType.SQS);
    // A record that throws is reported failed (and counted); a sync still running elsewhere is a planned retry.
    const handle = countingFailures((record: SQSRecord) => handleSyncRecord(deps, record, deadlineMs), (e) => e instanceof SyncRetryLaterError);
    return processPartialResponse(event, handle, processor, {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
  });
}
