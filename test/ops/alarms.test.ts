/**
 * Alarms that fire: for every alarm on a custom metric in the synthesized template, the failure it
 * watches is provoked through the real code path (handler, flow, store over dynalite, the Calendly
 * sandbox over HTTP), the EMF line the code writes to stdout is read back, and the alarm must watch
 * exactly that namespace, metric name and dimension set (names and values). One table drives both
 * sides: an alarm with no row, or a row whose line no alarm watches, fails.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionsHandler } from '../../functions/edge/connections.js';
import { createHealthWorkerHandler } from '../../functions/edge/health-worker.js';
import type { HttpEvent, HttpResult } from '../../functions/edge/http.js';
import { makeMeetingsHandler } from '../../functions/edge/meetings.js';
import { createOAuthCallbackHandler } from '../../functions/edge/oauth-callback.js';
import { createSyncWorkerHandler } from '../../functions/edge/sync-worker.js';
import { makeWebhookHandler } from '../../functions/edge/webhook.js';
import { getAccessToken } from '../../functions/flows/tokens.js';
import type { MeetingEventPublisher, SecretsSource } from '../../functions/ports.js';
import { CUSTOM_METRICS, METRICS_NAMESPACE, type CustomMetricKey } from '../../functions/shared/metric-names.js';
import type { LambdaName } from '../../functions/shared/invocation.js';
import { createConnectionStore } from '../../functions/store/connections/index.js';
import { createMeetingStore } from '../../functions/store/meetings/index.js';
import { createOAuthStateStore } from '../../functions/store/oauth-states.js';
import { createSyncStateStore } from '../../functions/store/sync-state.js';
import { createWebhookKeyStore } from '../../functions/store/webhook-keys.js';
import { healthDepsFrom } from '../../functions/wiring/health-worker.js';
import { syncDepsFrom } from '../../functions/wiring/sync-worker.js';
import { ingestDepsFrom } from '../../functions/wiring/webhook.js';
import { createSecretBox, randomToken } from '../../functions/shared/crypto.js';
import { logger } from '../../functions/shared/logger.js';
import { CalendlyConnectorStack } from '../../lib/stack.js';
import { captureEmf, type EmfLine } from '../support/emf.js';
import { BOX_KEY, connectViaOAuth, ourHooks, newEmail, newUserId, realSleeper, startHarness, type Harness } from '../connections/harness.js';
import { at, envelope, inviteePayload, sign, webhookEvent } from '../ingest/helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A table name no DynamoDB endpoint has: every call on it is a store fault (ResourceNotFoundException). */
const MISSING = 'no-such-table';
const box = createSecretBox(BOX_KEY);
const APP_KEY = 'app-key-' + 'c'.repeat(40);
const appSecrets: SecretsSource = {
  get: async () => ({ clientId: 'c', clientSecret: 's', webhookSigningKey: APP_KEY, tokenEncryptionKey: 'unused' }),
  refresh: async () => ({ clientId: 'c', clientSecret: 's', webhookSigningKey: APP_KEY, tokenEncryptionKey: 'unused' }),
};

function userEvent(method: string, path: string, userId: string, query: Record<string, string> = {}): HttpEvent {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(query).toString(),
    queryStringParameters: query,
    headers: {},
    isBase64Encoded: false,
    requestContext: {
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: randomUUID(),
      authorizer: { jwt: { claims: { sub: userId } } },
    },
  } as unknown as HttpEvent;
}

const sqsEvent = (body: unknown): SQSEvent => ({
  Records: [{ messageId: randomUUID(), body: JSON.stringify(body), attributes: {}, messageAttributes: {} } as unknown as SQSRecord],
});

interface Row {
  /** Logical id prefix of the alarm in the template (CDK appends a hash). */
  alarm: string;
  metric: CustomMetricKey;
  /** The `function` dimension's value, for per-function metrics. */
  fn?: LambdaName;
  /** Drives the real code into the failure; checks what the user (or SQS) sees. */
  provoke: (h: Harness) => Promise<void>;
}

const ROWS: Row[] = [
  {
    alarm: 'connections-HandledFailures',
    metric: 'handledFailures',
    fn: 'connections',
    provoke: async (h) => {
      const doc = h.db.newClients().doc;
      const handler = createConnectionsHandler(async () => ({ ...h.deps(), connections: createConnectionStore(doc, MISSING, box) }));
      const res = (await handler(userEvent('GET', '/connections/calendly', newUserId()))) as HttpResult;
      expect(res.statusCode).toBe(500);
      expect(JSON.parse(String(res.body))).toEqual({ error: 'internal_error', message: expect.any(String) });
    },
  },
  {
    alarm: 'meetings-HandledFailures',
    metric: 'handledFailures',
    fn: 'meetings',
    provoke: async (h) => {
      const handler = makeMeetingsHandler({ meetings: createMeetingStore(h.db.newClients().doc, MISSING), connectionStatus: async () => 'connected' });
      const res = (await handler(userEvent('GET', '/meetings', newUserId()))) as HttpResult;
      expect(res.statusCode).toBe(500);
    },
  },
  {
    alarm: 'oauth-callback-HandledFailures',
    metric: 'handledFailures',
    fn: 'oauth-callback',
    provoke: async (h) => {
      // The OAuth state cannot be read: the browser is sent back with a reason, never a JSON 500.
      const doc = h.db.newClients().doc;
      const handler = createOAuthCallbackHandler(async () => ({ ...h.deps(), oauthStates: createOAuthStateStore(doc, MISSING, box) }));
      const res = (await handler(userEvent('GET', '/oauth/calendly/callback', '', { code: 'c0de', state: randomToken() }))) as HttpResult;
      expect(res.statusCode).toBe(302);
      expect(new URL(String(res.headers?.location)).searchParams.get('reason')).toBe('temporarily_unavailable');
    },
  },
  {
    alarm: 'webhook-HandledFailures',
    metric: 'handledFailures',
    fn: 'webhook',
    provoke: async (h) => {
      const doc = h.db.newClients().doc;
      const deps = ingestDepsFrom({
        doc,
        tables: { webhookKeys: MISSING, connections: MISSING, meetings: MISSING, parkedWebhooks: MISSING },
        box,
        secrets: appSecrets,
        clock: h.clock,
        toleranceSeconds: 180,
      });
      const body = envelope('invitee.created', { uri: 'x' });
      const t = Math.floor(h.clock.now() / 1000);
      const res = await makeWebhookHandler(deps)(webhookEvent(randomToken(), body, { 'calendly-webhook-signature': sign(APP_KEY, t, body) }));
      expect(res.statusCode).toBe(500);
    },
  },
  {
    alarm: 'sync-worker-HandledFailures',
    metric: 'handledFailures',
    fn: 'sync-worker',
    provoke: async (h) => {
      const doc = h.db.newClients().doc;
      const base = h.deps();
      const deps = syncDepsFrom({
        tokens: { connections: createConnectionStore(doc, MISSING, box), calendly: base.calendly, clock: h.clock, sleeper: realSleeper },
        calendly: base.calendly,
        meetings: createMeetingStore(doc, MISSING),
        syncState: createSyncStateStore(doc, MISSING, h.clock),
        queue: base.queue,
        clock: h.clock,
        sleeper: realSleeper,
      });
      const res = await createSyncWorkerHandler(() => deps)(sqsEvent({ userId: newUserId(), reason: 'connect' }));
      // The record goes back to the queue for a retry.
      expect(res.batchItemFailures).toHaveLength(1);
    },
  },
  {
    alarm: 'health-worker-HandledFailures',
    metric: 'handledFailures',
    fn: 'health-worker',
    provoke: async (h) => {
      const doc = h.db.newClients().doc;
      const deps = healthDepsFrom({ ...h.deps(), connections: createConnectionStore(doc, MISSING, box) });
      const res = await createHealthWorkerHandler(() => deps)(sqsEvent({ userId: newUserId(), force: true }));
      expect(res.batchItemFailures).toHaveLength(1);
    },
  },
  {
    alarm: 'ParkedWebhooks',
    metric: 'parkedWebhooks',
    provoke: async (h) => {
      // A signed delivery for a live hook whose body we cannot read: parked (202), never lost.
      const hookKey = randomToken();
      const userId = newUserId();
      await createWebhookKeyStore(h.db.doc, h.db.tables.webhookKeys, box).create({ hookKey, userId, signingKey: `hook-${randomToken(8)}`, now: h.clock.now() });
      await h.db.doc.send(new PutCommand({ TableName: h.db.tables.connections, Item: { userId, status: 'connected' } }));
      const deps = ingestDepsFrom({ doc: h.db.newClients().doc, tables: h.db.tables, box, secrets: appSecrets, clock: h.clock, toleranceSeconds: 180 });
      const body = '{"hello":"world"}';
      const res = await makeWebhookHandler(deps)(webhookEvent(hookKey, body, { 'calendly-webhook-signature': sign(APP_KEY, Math.floor(h.clock.now() / 1000), body) }));
      expect({ status: res.statusCode, body: JSON.parse(String(res.body)) }).toEqual({ status: 202, body: { status: 'parked' } });
    },
  },
  {
    alarm: 'MeetingEventsUnpublished',
    metric: 'meetingEventsUnpublished',
    provoke: async (h) => {
      // A booking stored while the bus refuses every entry (the port answers them failed, as the
      // EventBridge adapter does after its retries): 200, and the event waits for the sweep.
      const hookKey = randomToken();
      const userId = newUserId();
      await createWebhookKeyStore(h.db.doc, h.db.tables.webhookKeys, box).create({ hookKey, userId, signingKey: `hook-${randomToken(8)}`, now: h.clock.now() });
      await h.db.doc.send(new PutCommand({ TableName: h.db.tables.connections, Item: { userId, status: 'connected' } }));
      const refusing: MeetingEventPublisher = { publish: async (events) => ({ failed: [...events] }) };
      const deps = ingestDepsFrom({ doc: h.db.newClients().doc, tables: h.db.tables, box, secrets: appSecrets, clock: h.clock, toleranceSeconds: 180, publisher: refusing });
      const body = envelope('invitee.created', inviteePayload({ ev: `ALARM${randomToken(6)}`, inv: 'A', updatedAt: at(1), event: { updatedAt: at(1) } }));
      const res = await makeWebhookHandler(deps)(webhookEvent(hookKey, body, { 'calendly-webhook-signature': sign(APP_KEY, Math.floor(h.clock.now() / 1000), body) }));
      expect({ status: res.statusCode, body: JSON.parse(String(res.body)) }).toEqual({ status: 200, body: { status: 'applied' } });
    },
  },
  {
    alarm: 'ConnectionsAuthorizationRequired',
    metric: 'connectionsAuthorizationRequired',
    provoke: async (h) => {
      // The user revoked our access in Calendly: the refresh is refused and the connection marked.
      const userId = newUserId();
      const { user } = await connectViaOAuth(h, h.deps(), userId, newEmail());
      h.sandbox.revokeAllTokens(user.uri);
      await expect(getAccessToken(h.deps(), userId, { forceRefresh: true })).rejects.toMatchObject({ name: 'AuthorizationRequiredError' });
      expect((await h.deps().connections.get(userId))?.status).toBe('authorization_required');
    },
  },
];

/**
 * Alarms on custom metrics whose failure cannot be provoked, and why. Each is still checked to
 * watch a metric of the contract.
 */
const NOT_PROVOKED: Record<string, string> = {
  'ping-HandledFailures': 'GET /health touches nothing and cannot fail; the alarm keeps the per-function set uniform.',
  'health-scheduler-HandledFailures':
    'the scheduler answers no HTTP and reports no batch items: its failures are throws, seen by its Errors alarm.',
  SyncRunsGivenUp:
    'provoked through the sync worker in test/sync/never-stuck.test.ts (a run failing its last receive), which reads the metric through the worker\'s countMetric port; its default is the emitter tested here.',
};

const CONTEXT = {
  'aws:cdk:bundling-stacks': [],
  jwtIssuer: 'https://issuer.example.com/',
  jwtAudience: 'app-client',
  appRedirectUrl: 'https://app.example.com/settings',
};

let h: Harness;
let customAlarms: Array<{ id: string; props: Json }>;

beforeAll(async () => {
  // The provoked failures log at ERROR by design; keep the test output readable.
  logger.setLogLevel('CRITICAL');
  h = await startHarness();
  const cdkContext = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;
  const app = new App({ context: { ...cdkContext, ...CONTEXT } });
  const template = Template.fromStack(new CalendlyConnectorStack(app, 'AlarmWiring')).toJSON() as Json;
  customAlarms = Object.entries(template.Resources as Record<string, Json>)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.Namespace === METRICS_NAMESPACE)
    .map(([id, r]) => ({ id, props: r.Properties as Json }));
}, 120_000);
afterAll(async () => {
  logger.setLogLevel('WARN');
  await h?.close();
});

/** The alarm whose logical id is `<prefix>` plus CDK's construct path hash. */
const alarmFor = (prefix: string) => {
  const clean = prefix.replace(/[^A-Za-z0-9]/g, '');
  const found = customAlarms.filter((a) => new RegExp(`^Monitoring${clean}[0-9A-F]{8}$`).test(a.id));
  expect(found, `one alarm ${prefix} in the template`).toHaveLength(1);
  return found[0]!.props;
};

/** CloudWatch identifies a metric by its dimensions as a set: compare them in name order. */
const byName = (dims: Array<{ Name: string; Value: unknown }>) => [...dims].sort((a, b) => a.Name.localeCompare(b.Name));

/** What CloudWatch extracts from a line: namespace, name, and each dimension with its value. */
const watched = (line: EmfLine, name: string) => ({
  Namespace: line.namespace,
  MetricName: name,
  Dimensions: byName(line.dimensions.map((d) => ({ Name: d, Value: line.raw[d] }))),
});

describe('every alarm on a custom metric watches the EMF line its failure writes', () => {
  it.each(ROWS.map((r) => [r.alarm, r] as const))('%s', async (_name, row) => {
    const name = CUSTOM_METRICS[row.metric].name;
    const { lines } = await captureEmf(() => row.provoke(h));
    const emitted = lines.filter((l) => l.metrics.some((m) => m.name === name));
    expect(emitted, `one ${name} line`).toHaveLength(1);
    const line = emitted[0]!;
    expect(line.raw[name]).toBe(1);
    expect(line.metrics).toEqual([{ name, unit: 'Count' }]);
    if (row.fn) expect(line.raw.function).toBe(row.fn);
    const alarm = alarmFor(row.alarm);
    expect({ Namespace: alarm.Namespace, MetricName: alarm.MetricName, Dimensions: byName(alarm.Dimensions) }).toEqual(watched(line, name));
    expect(alarm.Statistic).toBe('Sum');
  });

  it('no alarm on a custom metric is left without a provoked failure or a stated reason', () => {
    const covered = [...ROWS.map((r) => r.alarm), ...Object.keys(NOT_PROVOKED)];
    for (const prefix of Object.keys(NOT_PROVOKED)) alarmFor(prefix);
    const unexplained = customAlarms.filter((a) => !covered.some((p) => new RegExp(`^Monitoring${p.replace(/[^A-Za-z0-9]/g, '')}[0-9A-F]{8}$`).test(a.id)));
    expect(unexplained.map((a) => a.id)).toEqual([]);
  });
});

describe('the dashboard metrics are emitted where their events happen', () => {
  const count = (lines: EmfLine[], name: string) => lines.filter((l) => l.metrics.some((m) => m.name === name)).map((l) => l.raw[name]);

  it('a health check counts HealthChecks; one that re-creates a deleted hook also counts WebhooksRepaired', async () => {
    const userId = newUserId();
    const { user } = await connectViaOAuth(h, h.deps(), userId, newEmail());
    const worker = createHealthWorkerHandler(() => healthDepsFrom(h.deps()));
    const healthy = await captureEmf(() => worker(sqsEvent({ userId, force: true })));
    expect(healthy.result.batchItemFailures).toEqual([]);
    expect(count(healthy.lines, CUSTOM_METRICS.healthChecks.name)).toEqual([1]);
    expect(count(healthy.lines, CUSTOM_METRICS.webhooksRepaired.name)).toEqual([]);

    for (const hook of ourHooks(h, user.uri)) h.sandbox.deleteWebhookAtCalendly(hook.uri);
    const repaired = await captureEmf(() => worker(sqsEvent({ userId, force: true })));
    expect(ourHooks(h, user.uri)).toHaveLength(1);
    expect(count(repaired.lines, CUSTOM_METRICS.healthChecks.name)).toEqual([1]);
    expect(count(repaired.lines, CUSTOM_METRICS.webhooksRepaired.name)).toEqual([1]);
  });

  it('a sync run that reaches its last page counts SyncRunsCompleted', async () => {
    const userId = newUserId();
    await connectViaOAuth(h, h.deps(), userId, newEmail());
    await h.takeSyncMessages();
    const doc = h.db.newClients().doc;
    const base = h.deps();
    const deps = syncDepsFrom({
      tokens: base,
      calendly: base.calendly,
      meetings: createMeetingStore(doc, h.db.tables.meetings),
      syncState: createSyncStateStore(doc, h.db.tables.syncState, h.clock),
      queue: base.queue,
      clock: h.clock,
      sleeper: realSleeper,
    });
    const { result, lines } = await captureEmf(() => createSyncWorkerHandler(() => deps)(sqsEvent({ userId, reason: 'connect' })));
    expect(result.batchItemFailures).toEqual([]);
    expect(count(lines, CUSTOM_METRICS.syncRunsCompleted.name)).toEqual([1]);
  });
});
