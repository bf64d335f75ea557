/**
 * Test harness for the sync and health flows: dynalite (every table), the Calendly sandbox over
 * real HTTP with the real client, fauxqs with the local runtime's Lambda-style pollers, and the
 * real stores and connection flows. Only the sleeper is fake: it advances the sandbox clock
 * instead of waiting, and the flows' clock is the sandbox clock, so token expiry, leases and
 * rate-limit resets all run on one time line.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createSqsQueue } from '../../functions/adapters/sqs-queue.js';
import type { CalendlyPort, TokenSet } from '../../functions/calendly/port.js';
import type { ConnectionDeps } from '../../functions/flows/connection-deps.js';
import { syncDepsFrom } from '../../functions/wiring/sync-worker.js';
import { ensureWebhook } from '../../functions/flows/webhook-step.js';
import type { SyncDeps } from '../../functions/flows/sync/index.js';
import type { Clock, Queue, QueueName, Sleeper } from '../../functions/ports.js';
import { createSecretBox } from '../../functions/shared/crypto.js';
import { createConnectionStore, type ConnectionStore } from '../../functions/store/connections/index.js';
import { createMeetingStore, type MeetingStore } from '../../functions/store/meetings/index.js';
import { assemble } from '../../functions/store/meetings/item.js';
import type { MeetingState } from '../../functions/domain/meeting/index.js';
import { createOAuthStateStore } from '../../functions/store/oauth-states.js';
import { createSyncStateStore, type SyncStateStore } from '../../functions/store/sync-state.js';
import { createWebhookKeyStore, type WebhookKeyStore } from '../../functions/store/webhook-keys.js';
import { LocalQueues } from '../../local/queues.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { connectSandboxUser, sandboxClient, startSandbox, type Sandbox, type SandboxOptions, type SandboxUser } from '../support/sandbox.js';

/** Nothing listens here: deliveries fail unless a test passes its own publicBaseUrl. */
export const DEFAULT_PUBLIC_BASE_URL = 'http://127.0.0.1:9';

export interface Harness {
  db: TestDynamo;
  sandbox: Sandbox;
  client: CalendlyPort;
  queues: LocalQueues;
  queue: Queue;
  clock: Clock;
  sleeper: Sleeper & { waits: number[] };
  connections: ConnectionStore;
  webhookKeys: WebhookKeyStore;
  meetings: MeetingStore;
  syncState: SyncStateStore;
  cd: ConnectionDeps;
  publicBaseUrl: string;
  webhookUrl(hookKey: string): string;
  syncDeps(overrides?: Partial<SyncDeps>): SyncDeps;
  close(): Promise<void>;
}

export async function startHarness(
  opts: { sandbox?: SandboxOptions; queues?: Parameters<typeof LocalQueues.start>[0]; publicBaseUrl?: string } = {},
): Promise<Harness> {
  const publicBaseUrl = opts.publicBaseUrl ?? DEFAULT_PUBLIC_BASE_URL;
  const webhookUrl = (hookKey: string) => `${publicBaseUrl}/webhooks/calendly/${encodeURIComponent(hookKey)}`;
  const db = await startDynalite();
  const sandbox = await startSandbox(opts.sandbox);
  const clock: Clock = { now: () => sandbox.now() };
  const waits: number[] = [];
  const sleeper = {
    waits,
    async sleep(ms: number) {
      waits.push(ms);
      sandbox.advance(ms);
    },
  };
  const client = sandboxClient(sandbox, { sleeper, clock });
  const queues = await LocalQueues.start({ visibilityTimeoutSeconds: 1, maxReceiveCount: 5, batchSize: 10, concurrency: 2, waitTimeSeconds: 1, ...opts.queues });
  const queue = createSqsQueue({ urls: { sync: queues.queues.sync.url, health: queues.queues.health.url }, client: queues.sqs });
  const box = createSecretBox(Buffer.alloc(32, 9));
  const connections = createConnectionStore(db.doc, db.tables.connections, box);
  const webhookKeys = createWebhookKeyStore(db.doc, db.tables.webhookKeys, box);
  const meetings = createMeetingStore(db.doc, db.tables.meetings, { clock });
  const syncState = createSyncStateStore(db.doc, db.tables.syncState, clock);
  const cd: ConnectionDeps = {
    connections,
    webhookKeys,
    oauthStates: createOAuthStateStore(db.doc, db.tables.oauthStates, box),
    calendly: client,
    queue,
    clock,
    sleeper,
    webhookCallbackUrl: webhookUrl,
    oauthRedirectUri: `${publicBaseUrl}/oauth/calendly/callback`,
    appRedirectUrl: `${publicBaseUrl}/`,
    tuning: { pollInitialMs: 5, pollMaxMs: 20 },
  };
  const syncDeps = (overrides: Partial<SyncDeps> = {}): SyncDeps => ({
    ...syncDepsFrom({ tokens: cd, calendly: client, meetings, syncState, queue, clock, sleeper }),
    ...overrides,
  });
  return {
    db,
    sandbox,
    client,
    queues,
    queue,
    clock,
    sleeper,
    connections,
    webhookKeys,
    meetings,
    syncState,
    cd,
    publicBaseUrl,
    webhookUrl,
    syncDeps,
    async close() {
      await queues.stop();
      await sandbox.close();
      await db.close();
    },
  };
}

/**
 * A connected connection as the connect flow leaves it: tokens from a real OAuth code exchange
 * with the sandbox, stored with the connection store, and one webhook created at the sandbox
 * by the real webhook step. `tokens` lets a fleet reuse a pair minted elsewhere (see fleet test).
 */
export async function connectUser(h: Harness, email: string, opts: { userId?: string; webhook?: boolean } = {}): Promise<{ userId: string; user: SandboxUser; tokens: TokenSet; webhookUri?: string; hookKey?: string }> {
  const userId = opts.userId ?? `u-${randomUUID()}`;
  const { user, tokens } = await connectSandboxUser(h.sandbox, h.client, { email });
  const out = await storeConnection(h, userId, tokens);
  if (opts.webhook === false) return { userId, user, tokens };
  const hook = await ensureWebhook(h.cd, { userId, accessToken: tokens.accessToken, userUri: user.uri, organizationUri: user.organization, leaseOwner: out.owner });
  await finish(h, userId, out.owner, user, tokens);
  return { userId, user, tokens, webhookUri: hook.webhookUri, hookKey: hook.hookKey };
}

export async function storeConnection(h: Harness, userId: string, tokens: TokenSet): Promise<{ owner: string }> {
  const owner = `test-${randomUUID()}`;
  const ok = await h.connections.startConnect(userId, { tokens, owner, nowMs: h.clock.now(), leaseMs: 60_000, connectionId: randomUUID(), expectedVersion: undefined });
  if (!ok) throw new Error('startConnect refused');
  return { owner };
}

export async function finish(h: Harness, userId: string, owner: string, user: SandboxUser, tokens: TokenSet): Promise<void> {
  await h.connections.finishRun(userId, owner, {
    outcome: 'connected',
    nowMs: h.clock.now(),
    profile: { calendlyUserUri: tokens.ownerUri || user.uri, organizationUri: tokens.organizationUri || user.organization, email: user.email },
  });
}

/** Every meeting of a user, as stored: its items (event item + invitee items) put together. */
export async function meetingItems(h: Harness, userId: string): Promise<Array<MeetingState & Record<string, unknown>>> {
  const out: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await h.db.doc.send(
      new QueryCommand({ TableName: h.db.tables.meetings, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ExclusiveStartKey: startKey }),
    );
    out.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const byEvent = new Map<string, Record<string, unknown>[]>();
  for (const item of out) {
    const id = String(item.eventId).split('#')[0] as string;
    byEvent.set(id, [...(byEvent.get(id) ?? []), item]);
  }
  return [...byEvent].map(([id, items]) => assemble(id, items) as MeetingState & Record<string, unknown>);
}

export function sqsRecord(body: unknown, messageId: string = randomUUID()): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:sync',
    awsRegion: 'us-east-1',
  };
}

export const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

/** Receives (and deletes) what is visible on a queue now: lets a test look at what a flow sent. */
export async function takeMessages(h: Harness, queue: QueueName, max = 10): Promise<unknown[]> {
  const { ReceiveMessageCommand, DeleteMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  const url = h.queues.queues[queue].url;
  const out: unknown[] = [];
  for (;;) {
    const r = await h.queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const msgs = r.Messages ?? [];
    if (msgs.length === 0) return out;
    out.push(...msgs.map((m) => JSON.parse(m.Body ?? 'null') as unknown));
    await h.queues.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    if (out.length >= max) return out;
  }
}

export async function queueDepth(h: Harness, queue: QueueName): Promise<{ visible: number; delayed: number; inFlight: number }> {
  const { GetQueueAttributesCommand } = await import('@aws-sdk/client-sqs');
  const r = await h.queues.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: h.queues.queues[queue].url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const a = r.Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
