/**
 * Harness for the connection flows: dynalite (every table), the Calendly sandbox over real HTTP
 * with the real client, fauxqs (a real SQS endpoint) for the sync queue, and the real stores.
 * The flows' clock is the sandbox clock, so token expiry and lease expiry run on one time line;
 * the sleeper really sleeps (briefly), so concurrent callers genuinely overlap.
 *
 * `deps()` builds a fresh set of ports each call: separate DynamoDB clients, store instances and
 * Calendly client, as a separate Lambda container would hold.
 */
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { randomUUID } from 'node:crypto';
import { createSqsQueue } from '../../functions/adapters/sqs-queue.js';
import type { CalendlyPort } from '../../functions/calendly/port.js';
import { completeConnect, beginConnect } from '../../functions/flows/connect.js';
import type { ConnectionDeps, Tuning } from '../../functions/flows/connection-deps.js';
import type { Clock, Queue, Sleeper } from '../../functions/ports.js';
import { createSecretBox } from '../../functions/shared/crypto.js';
import { createConnectionStore } from '../../functions/store/connections/index.js';
import { createOAuthStateStore } from '../../functions/store/oauth-states.js';
import { createWebhookKeyStore } from '../../functions/store/webhook-keys.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { sandboxClient, startSandbox, type Sandbox, type SandboxOptions, type SandboxUser } from '../support/sandbox.js';

export const PUBLIC_BASE_URL = 'http://127.0.0.1:9';
export const WEBHOOK_BASE = `${PUBLIC_BASE_URL}/webhooks/calendly/`;
export const webhookUrl = (hookKey: string) => `${WEBHOOK_BASE}${encodeURIComponent(hookKey)}`;
export const APP_REDIRECT = 'http://127.0.0.1:9/app';
export const BOX_KEY = Buffer.alloc(32, 11);

export const realSleeper: Sleeper = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export interface DepsOptions {
  doc?: DynamoDBDocumentClient;
  calendly?: CalendlyPort;
  queue?: Queue;
  tuning?: Partial<Tuning>;
}

export interface Harness {
  db: TestDynamo;
  sandbox: Sandbox;
  fauxqs: FauxqsServer;
  sqs: SQSClient;
  syncQueueUrl: string;
  clock: Clock;
  /** Fresh ports, as another Lambda would hold them. */
  deps(opts?: DepsOptions): ConnectionDeps;
  /** Moves the one clock (sandbox and flows) forward. */
  advance(ms: number): void;
  /** Receives and deletes every sync message visible now. */
  takeSyncMessages(): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export const TEST_TUNING: Partial<Tuning> = { pollInitialMs: 5, pollMaxMs: 40 };

export async function startHarness(opts: { sandbox?: SandboxOptions } = {}): Promise<Harness> {
  const db = await startDynalite();
  const sandbox = await startSandbox(opts.sandbox);
  const clock: Clock = { now: () => sandbox.now() };
  const fauxqs = await startFauxqs({ port: 0, logger: false, host: 'localhost' });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${fauxqs.port}`, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const syncQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'sync' }))).QueueUrl!;
  const healthQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'health' }))).QueueUrl!;
  const queue = createSqsQueue({ urls: { sync: syncQueueUrl, health: healthQueueUrl }, client: sqs });
  const box = createSecretBox(BOX_KEY);

  const deps = (o: DepsOptions = {}): ConnectionDeps => {
    const doc = o.doc ?? db.newClients().doc;
    return {
      connections: createConnectionStore(doc, db.tables.connections, box),
      webhookKeys: createWebhookKeyStore(doc, db.tables.webhookKeys, box),
      oauthStates: createOAuthStateStore(doc, db.tables.oauthStates, box),
      calendly: o.calendly ?? sandboxClient(sandbox, { clock }),
      queue: o.queue ?? queue,
      clock,
      sleeper: realSleeper,
      webhookCallbackUrl: webhookUrl,
      oauthRedirectUri: `${PUBLIC_BASE_URL}/oauth/calendly/callback`,
      appRedirectUrl: APP_REDIRECT,
      tuning: { ...TEST_TUNING, ...o.tuning },
    };
  };

  return {
    db,
    sandbox,
    fauxqs,
    sqs,
    syncQueueUrl,
    clock,
    deps,
    advance: (ms) => sandbox.advance(ms),
    async takeSyncMessages() {
      const out: Array<Record<string, unknown>> = [];
      for (;;) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: syncQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        const msgs = r.Messages ?? [];
        if (msgs.length === 0) return out;
        out.push(...msgs.map((m) => JSON.parse(m.Body ?? 'null') as Record<string, unknown>));
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: syncQueueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      }
    },
    async close() {
      sqs.destroy();
      await fauxqs.stop();
      await sandbox.close();
      await db.close();
    },
  };
}

/** A browser through the OAuth flow: start connect, click Allow at the sandbox, hit our callback. */
export async function connectViaOAuth(
  h: Harness,
  deps: ConnectionDeps,
  userId: string,
  email: string,
): Promise<{ location: URL; user: SandboxUser; outcome: string }> {
  const user = h.sandbox.userByEmail(email) ?? h.sandbox.createUser({ email });
  const { authorizeUrl } = await beginConnect(deps, userId);
  const back = new URL(h.sandbox.approve(authorizeUrl, { email }));
  const answer = await completeConnect(deps, {
    code: back.searchParams.get('code') ?? undefined,
    state: back.searchParams.get('state') ?? undefined,
    error: back.searchParams.get('error') ?? undefined,
  });
  return { location: new URL(answer.location), user, outcome: answer.outcome };
}

export const newUserId = () => `u-${randomUUID()}`;
export const newEmail = () => `${randomUUID().slice(0, 8)}@example.test`;

/** Our hooks at the sandbox for a Calendly user (anything pointing at our webhook base). */
export function ourHooks(h: Harness, userUri: string) {
  return h.sandbox.webhooks(userUri).filter((w) => w.callbackUrl.startsWith(WEBHOOK_BASE));
}

export const hookKeyOf = (callbackUrl: string) => decodeURIComponent(callbackUrl.slice(WEBHOOK_BASE.length));
