/** Composition root of the webhook Lambda: ingest over the hook keys, connections, meetings and parked tables. */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cacheHookKeys, type IngestDeps } from '../flows/ingest.js';
import { systemClock, type Clock, type MeetingEventPublisher, type SecretsSource } from '../ports.js';
import type { SecretBox } from '../shared/crypto.js';
import { emitMetric, type InformationalMetricName } from '../shared/metrics.js';
import type { ServiceMetricName } from '../shared/metric-names.js';
import { createAppKeySource } from '../shared/webhook-signature.js';
import { createConnectionStatusReader } from '../store/connection-status.js';
import { createMeetingStore } from '../store/meetings/index.js';
import { createParkedWebhookStore } from '../store/parked-webhooks.js';
import { createWebhookKeyStore } from '../store/webhook-keys.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';
import { appSecrets, dynamo, meetingEventPublisher, secretBox } from './services.js';

export const WEBHOOK_TABLES = ['webhookKeys', 'connections', 'meetings', 'parkedWebhooks'] as const;

export function ingestDepsFrom(p: {
  doc: DynamoDBDocumentClient;
  tables: Record<(typeof WEBHOOK_TABLES)[number], string>;
  box: SecretBox;
  secrets: SecretsSource;
  clock: Clock;
  toleranceSeconds: number;
  /** Where Meeting Changed events go; absent: they wait on the outbox for the health worker's sweep. */
  publisher?: MeetingEventPublisher;
}): IngestDeps {
  return {
    // One cache per composition root, so per warm container: owner and signing key never change.
    hookKeys: cacheHookKeys(createWebhookKeyStore(p.doc, p.tables.webhookKeys, p.box)),
    connectionStatus: createConnectionStatusReader(p.doc, p.tables.connections),
    appKey: createAppKeySource(p.secrets, p.clock),
    meetings: createMeetingStore(p.doc, p.tables.meetings, { clock: p.clock }),
    ...(p.publisher ? { publisher: p.publisher } : {}),
    parked: createParkedWebhookStore(p.doc, p.tables.parkedWebhooks),
    clock: p.clock,
    toleranceSeconds: p.toleranceSeconds,
    metric: (name: string, value: number, dimensions?: Record<string, string>) => emitMetric(name as ServiceMetricName | InformationalMetricName, value, dimensions),
  };
}

export const webhookDeps = lazy(async (): Promise<IngestDeps> => {
  const env = readEnv(['WEBHOOK_TOLERANCE_SECONDS']);
  return ingestDepsFrom({
    doc: dynamo().doc,
    tables: readTables(WEBHOOK_TABLES),
    box: await secretBox(),
    secrets: appSecrets(),
    clock: systemClock,
    toleranceSeconds: env.WEBHOOK_TOLERANCE_SECONDS,
    publisher: meetingEventPublisher(),
  });
});
