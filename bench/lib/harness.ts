/**
 * The benchmark's world: dynalite in this process (in memory, every table from tables.ts), the
 * Calendly sandbox over real HTTP with the real undici client, and the real stores and handler
 * factories (the same `create*Handler` / `make*Handler` the Lambdas export, given ports built
 * like functions/wiring/ builds them, only pointed at dynalite and the sandbox). The flows'
 * clock is the sandbox clock, so token expiry, leases and rate windows run on one time line.
 *
 * Every DynamoDB request the service code sends goes through `db` (one client pair), which
 * carries the request counter.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClients } from '../../functions/adapters/dynamo.js';
import { createStaticSecrets } from '../../functions/adapters/secrets.js';
import { createCalendlyClient } from '../../functions/calendly/client.js';
import type { CalendlyPort } from '../../functions/calendly/port.js';
import { syncDepsFrom } from '../../functions/wiring/sync-worker.js';
import type { ConnectionDeps } from '../../functions/flows/connection-deps.js';
import { cacheHookKeys, type IngestDeps } from '../../functions/flows/ingest.js';
import type { SyncDeps } from '../../functions/flows/sync/index.js';
import { createConnectionStatusReader } from '../../functions/store/connection-status.js';
import type { Clock, MeetingEventPublisher, Queue, QueueName, Sleeper } from '../../functions/ports.js';
import { createSecretBox, type SecretBox } from '../../functions/shared/crypto.js';
import type { HttpEvent } from '../../functions/edge/http.js';
import { createAppKeySource, SIGNATURE_HEADER } from '../../functions/shared/webhook-signature.js';
import { createConnectionStore, type ConnectionStore } from '../../functions/store/connections/index.js';
import { createMeetingStore, type MeetingStore } from '../../functions/store/meetings/index.js';
import { createOAuthStateStore } from '../../functions/store/oauth-states.js';
import { createParkedWebhookStore } from '../../functions/store/parked-webhooks.js';
import { createSyncStateStore, type SyncStateStore } from '../../functions/store/sync-state.js';
import type { TableKey } from '../../functions/store/tables.js';
import { createWebhookKeyStore, type WebhookKeyStore } from '../../functions/store/webhook-keys.js';
import { startDynalite, startDynaliteProcess, type TestDynamo } from '../../test/support/dynalite.js';
import { sandboxClient, startSandbox, type Sandbox, type SandboxOptions } from '../../test/support/sandbox.js';
import { countDynamoRequests, type DdbCounter } from './measure.js';

/** Nothing listens here unless a section starts a receiver and passes its URL. */
export const DEFAULT_PUBLIC_BASE_URL = 'http://127.0.0.1:9';
export const BOX_KEY = Buffer.alloc(32, 7);

/** A Queue port that keeps what was sent (the sections run the messages they care about). */
export interface RecordingQueue extends Queue {
  sent: Record<QueueName, unknown[]>;
  take(queue: QueueName): unknown[];
}

export function recordingQueue(): RecordingQueue {
  const sent: Record<QueueName, unknown[]> = { sync: [], health: [] };
  return {
    sent,
    async send(queue, messages) {
      sent[queue].push(...messages);
    },
    take(queue) {
      return sent[queue].splice(0);
    },
  };
}

export interface BenchHarness {
  dynalite: TestDynamo;
  sandbox: Sandbox;
  raw: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  ddb: DdbCounter;
  tables: Record<TableKey, string>;
  client: CalendlyPort;
  clock: Clock;
  sleeper: Sleeper;
  box: SecretBox;
  publicBaseUrl: string;
  webhookUrl(hookKey: string): string;
  connections: ConnectionStore;
  webhookKeys: WebhookKeyStore;
  meetings: MeetingStore;
  syncState: SyncStateStore;
  /** Connection-flow ports (connect, reconnect, disconnect, health repair). */
  connectionDeps(overrides?: Partial<ConnectionDeps>): ConnectionDeps;
  /** The webhook's ports; with a publisher, Meeting Changed events are published as in AWS. */
  ingestDeps(publisher?: MeetingEventPublisher): IngestDeps;
  syncDeps(queue: Queue): SyncDeps;
  close(): Promise<void>;
}

export interface HarnessOptions {
  sandbox?: SandboxOptions;
  publicBaseUrl?: string;
  queue?: Queue;
  /** dynalite in its own process (its own CPU, as DynamoDB has) instead of this one. */
  dynaliteProcess?: boolean;
  /** Wrap the Calendly client (e.g. to observe the sandbox between calls). */
  wrapClient?: (c: CalendlyPort) => CalendlyPort;
}

export async function startBenchHarness(opts: HarnessOptions = {}): Promise<BenchHarness> {
  const dynalite = opts.dynaliteProcess ? await startDynaliteProcess() : await startDynalite();
  const sandbox = await startSandbox(opts.sandbox);
  const publicBaseUrl = opts.publicBaseUrl ?? DEFAULT_PUBLIC_BASE_URL;
  const webhookUrl = (hookKey: string) => `${publicBaseUrl}/webhooks/calendly/${encodeURIComponent(hookKey)}`;
  const { raw, doc } = createDynamoClients({ endpoint: dynalite.endpoint });
  const ddb = countDynamoRequests(raw);
  const clock: Clock = { now: () => sandbox.now() };
  const sleeper: Sleeper = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
  const base = sandboxClient(sandbox, { clock, sleeper });
  const client = opts.wrapClient ? opts.wrapClient(base) : base;
  const box = createSecretBox(BOX_KEY);
  const tables = dynalite.tables;
  const connections = createConnectionStore(doc, tables.connections, box);
  const webhookKeys = createWebhookKeyStore(doc, tables.webhookKeys, box);
  const meetings = createMeetingStore(doc, tables.meetings, { clock });
  const syncState = createSyncStateStore(doc, tables.syncState, clock);
  const secrets = createStaticSecrets({
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    webhookSigningKey: sandbox.webhookSigningKey,
    tokenEncryptionKey: BOX_KEY.toString('base64'),
  });
  const queue = opts.queue ?? recordingQueue();

  const connectionDeps = (o: Partial<ConnectionDeps> = {}): ConnectionDeps => ({
    connections,
    webhookKeys,
    oauthStates: createOAuthStateStore(doc, tables.oauthStates, box),
    calendly: client,
    queue,
    clock,
    sleeper,
    webhookCallbackUrl: webhookUrl,
    oauthRedirectUri: `${publicBaseUrl}/oauth/calendly/callback`,
    appRedirectUrl: `${publicBaseUrl}/app`,
    ...o,
  });

  return {
    dynalite,
    sandbox,
    raw,
    doc,
    ddb,
    tables,
    client,
    clock,
    sleeper,
    box,
    publicBaseUrl,
    webhookUrl,
    connections,
    webhookKeys,
    meetings,
    syncState,
    connectionDeps,
    ingestDeps: (publisher) => ({
      ...(publisher ? { publisher } : {}),
      // As the Lambda's composition root does: one hook key cache per container.
      hookKeys: cacheHookKeys(webhookKeys),
      connectionStatus: createConnectionStatusReader(doc, tables.connections),
      appKey: createAppKeySource(secrets, clock),
      meetings,
      parked: createParkedWebhookStore(doc, tables.parkedWebhooks),
      clock,
      toleranceSeconds: 180,
      metric: () => undefined,
    }),
    syncDeps: (q) => syncDepsOver({ doc, tables, box, client, clock, sleeper, queue: q }),
    async close() {
      raw.destroy();
      await sandbox.close();
      await dynalite.close();
    },
  };
}

/** The sync worker's ports over this harness's stores (the same builder as the Lambda). */
export function syncDepsOver(p: {
  doc: DynamoDBDocumentClient;
  tables: Record<TableKey, string>;
  box: SecretBox;
  client: CalendlyPort;
  clock: Clock;
  sleeper: Sleeper;
  queue: Queue;
}): SyncDeps {
  const connections = createConnectionStore(p.doc, p.tables.connections, p.box);
  return syncDepsFrom({
    tokens: { connections, calendly: p.client, clock: p.clock, sleeper: p.sleeper },
    calendly: p.client,
    meetings: createMeetingStore(p.doc, p.tables.meetings, { clock: p.clock }),
    syncState: createSyncStateStore(p.doc, p.tables.syncState, p.clock),
    queue: p.queue,
    clock: p.clock,
    sleeper: p.sleeper,
  });
}

/** An API Gateway HTTP API (payload 2.0) event, as the JWT authorizer would pass it on. */
export function httpEvent(input: {
  method: string;
  path: string;
  userId?: string;
  body?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  pathParameters?: Record<string, string>;
}): HttpEvent {
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: `${input.method} ${input.path}`,
    rawPath: input.path,
    rawQueryString: new URLSearchParams(input.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...(input.headers ?? {}) },
    ...(input.query ? { queryStringParameters: input.query } : {}),
    ...(input.pathParameters ? { pathParameters: input.pathParameters } : {}),
    ...(input.body !== undefined ? { body: input.body } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: '127.0.0.1',
      domainPrefix: 'bench',
      http: { method: input.method, path: input.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId,
      routeKey: `${input.method} ${input.path}`,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      ...(input.userId ? { authorizer: { jwt: { claims: { sub: input.userId }, scopes: [] } } } : {}),
    },
  } as HttpEvent;
}

/** A signed webhook delivery event for POST /webhooks/calendly/{hookKey}. */
export function webhookEvent(hookKey: string, body: string, signingKey: string, nowMs: number): HttpEvent {
  const t = Math.floor(nowMs / 1000);
  const v1 = createHmac('sha256', signingKey).update(`${t}.${body}`).digest('hex');
  return httpEvent({
    method: 'POST',
    path: `/webhooks/calendly/${hookKey}`,
    body,
    headers: { [SIGNATURE_HEADER]: `t=${t},v1=${v1}` },
    pathParameters: { hookKey },
  });
}

/** One SQS record/event for a worker handler. */
export function sqsEvent(bodies: unknown[]): import('aws-lambda').SQSEvent {
  return {
    Records: bodies.map((b) => {
      const messageId = randomUUID();
      return {
        messageId,
        receiptHandle: `rh-${messageId}`,
        body: JSON.stringify(b),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'bench', ApproximateFirstReceiveTimestamp: String(Date.now()) },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
        awsRegion: 'us-east-1',
      };
    }),
  };
}

/**
 * What a child process (playing the Lambdas) needs to reach the services a parent hosts:
 * dynalite's endpoint and table names, the sandbox's base URL and app credentials.
 */
export interface RemoteServices {
  endpoint: string;
  tables: Record<TableKey, string>;
  calendlyBaseUrl: string;
  clientId: string;
  clientSecret: string;
  publicBaseUrl: string;
  /** sandbox.now() − Date.now() when the child starts: the child's clock follows the sandbox's. */
  clockOffsetMs: number;
}

export function remoteServicesOf(h: BenchHarness): RemoteServices {
  return {
    endpoint: h.dynalite.endpoint,
    tables: h.tables,
    calendlyBaseUrl: h.sandbox.baseUrl,
    clientId: h.sandbox.clientId,
    clientSecret: h.sandbox.clientSecret,
    publicBaseUrl: h.publicBaseUrl,
    clockOffsetMs: h.sandbox.now() - Date.now(),
  };
}

/** The production ports over remote services, for a child process. `advance` moves its clock. */
export function remotePorts(s: RemoteServices, queue: Queue) {
  const { raw, doc } = createDynamoClients({ endpoint: s.endpoint });
  const ddb = countDynamoRequests(raw);
  let offset = s.clockOffsetMs;
  const clock: Clock = { now: () => Date.now() + offset };
  const sleeper: Sleeper = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
  const client = createCalendlyClient({ authBaseUrl: s.calendlyBaseUrl, apiBaseUrl: s.calendlyBaseUrl, clientId: s.clientId, clientSecret: s.clientSecret, clock, sleeper });
  const box = createSecretBox(BOX_KEY);
  const webhookUrl = (hookKey: string) => `${s.publicBaseUrl}/webhooks/calendly/${encodeURIComponent(hookKey)}`;
  const connections = createConnectionStore(doc, s.tables.connections, box);
  const webhookKeys = createWebhookKeyStore(doc, s.tables.webhookKeys, box);
  const connectionDeps = (): ConnectionDeps => ({
    connections,
    webhookKeys,
    oauthStates: createOAuthStateStore(doc, s.tables.oauthStates, box),
    calendly: client,
    queue,
    clock,
    sleeper,
    webhookCallbackUrl: webhookUrl,
    oauthRedirectUri: `${s.publicBaseUrl}/oauth/calendly/callback`,
    appRedirectUrl: `${s.publicBaseUrl}/app`,
  });
  return {
    raw,
    doc,
    ddb,
    clock,
    client,
    connections,
    webhookKeys,
    webhookUrl,
    connectionDeps,
    /** Moves this process's clock (the caller moves the sandbox's the same amount). */
    advance(ms: number) {
      offset += ms;
    },
  };
}
