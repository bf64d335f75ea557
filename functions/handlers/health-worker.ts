/**
 * Health queue consumer (SQS, ReportBatchItemFailures): one connection check per record
 * (flows/health.ts). A check that could not reach Calendly records its next attempt and
 * succeeds; only a failure to record anything is reported back for an SQS retry.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { ConnectionDeps } from '../flows/connection-deps.js';
import { finishPendingCleanup } from '../flows/disconnect.js';
import { checkConnectionHealth, type HealthCheckDeps } from '../flows/health.js';
import { healthMessageSchema, parseMessage } from '../domain/messages.js';
import { getAccessToken, isAuthorizationRequired } from '../flows/tokens.js';
import { ensureWebhook } from '../flows/webhook-step.js';
import { logger } from '../shared/logger.js';
import { connectionDepsFromEnv } from '../connection-wiring.js';
import { healthIntervalMs } from './health-scheduler.js';

export async function handleHealthRecord(deps: HealthCheckDeps, record: SQSRecord): Promise<void> {
  const parsed = parseMessage(healthMessageSchema, record.body);
  if (!parsed.ok) {
    logger.error('health message dropped: invalid body', { messageId: record.messageId, reason: parsed.reason });
    return;
  }
  const result = await checkConnectionHealth(deps, parsed.value);
  // Healthy and skipped checks are the bulk (every connection, every period): debug only.
  const routine = result.outcome === 'healthy' || result.outcome.startsWith('skipped');
  (routine ? logger.debug : logger.info)('health check done', { messageId: record.messageId, userId: parsed.value.userId, ...result });
}

export function createHealthWorkerHandler(getDeps: () => Promise<HealthCheckDeps> | HealthCheckDeps) {
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const deps = await getDeps();
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, (record: SQSRecord) => handleHealthRecord(deps, record), processor, {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
  };
}

/** Builds the check's ports from the connection flows' deps (tests pass their own). */
export function healthDepsFrom(cd: ConnectionDeps, options?: HealthCheckDeps['options']): HealthCheckDeps {
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

let deps: Promise<HealthCheckDeps> | undefined;

export async function healthWorkerDepsFromEnv(): Promise<HealthCheckDeps> {
  return healthDepsFrom(await connectionDepsFromEnv(), { intervalMs: healthIntervalMs() });
}

export const handler = createHealthWorkerHandler(() => (deps ??= healthWorkerDepsFromEnv()));
