/**
 * Health queue consumer (SQS, ReportBatchItemFailures): one connection check per record
 * (flows/health/check.ts). A check that could not reach Calendly records its next attempt and
 * succeeds; only a failure to record anything is reported back for an SQS retry.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { checkConnectionHealth, type HealthCheckDeps } from '../flows/health/index.js';
import { healthMessageSchema, parseMessage } from '../domain/messages.js';
import { asLambda } from '../shared/invocation.js';
import { logger } from '../shared/logger.js';
import { countingFailures, emitMetric } from '../shared/metrics.js';
import { addLambdaContext } from './lambda-context.js';

export async function handleHealthRecord(deps: HealthCheckDeps, record: SQSRecord): Promise<void> {
  const parsed = parseMessage(healthMessageSchema, record.body);
  if (!parsed.ok) {
    logger.error('health message dropped: invalid body', { messageId: record.messageId, reason: parsed.reason });
    return;
  }
  const result = await checkConnectionHealth(deps, parsed.value);
  emitMetric('HealthChecks');
  if (result.outcome === 'repaired') emitMetric('WebhooksRepaired');
  // Healthy and skipped checks are the bulk (every connection, every period): debug only.
  const routine = result.outcome === 'healthy' || result.outcome.startsWith('skipped');
  logger[routine ? 'debug' : 'info']('health check done', { messageId: record.messageId, userId: parsed.value.userId, ...result });
}

export function createHealthWorkerHandler(getDeps: () => Promise<HealthCheckDeps> | HealthCheckDeps) {
  return asLambda('health-worker', async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    addLambdaContext(context);
    const deps = await getDeps();
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, countingFailures((record: SQSRecord) => handleHealthRecord(deps, record)), processor, {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
  });
}
