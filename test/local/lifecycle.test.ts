/**
 * The runtime as `npm start` runs it (a child process on the default configuration, with the
 * built-in sandbox): it answers /health, stops on SIGTERM with exit 0, and a restart on the same
 * DATA_DIR sees what was written before (store data, queued messages and the local keys). In-process: shutdown
 * lets in-flight requests and worker batches finish first.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../../functions/adapters/dynamo.js';
import { createSqsQueue } from '../../functions/adapters/sqs-queue.js';
import { KEYS_FILE } from '../../local/keys.js';
import { newSqsClient } from '../../local/queues.js';
import { exitOf, startRuntimeProcess, type RuntimeProcess } from '../support/child-runtime.js';
import { call, startTestRuntime } from '../support/runtime.js';

describe('npm start: SIGTERM and restart on the same DATA_DIR', () => {
  let dataDir: string;
  let running: RuntimeProcess | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-runtime-'));
  });
  afterAll(async () => {
    if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps store data, queued messages and keys across a graceful restart', async () => {
    running = await startRuntimeProcess(dataDir);
    const cfg = (await (await fetch(`${running.baseUrl}/dev/config`)).json()) as {
      sandbox: boolean;
      endpoints: { dynamodb: string; sqs: string };
      tables: { connections: string };
      queues: { sync: { url: string; dlqUrl: string } };
    };
    // The default configuration runs on the built-in sandbox; its controls are proxied.
    expect(cfg.sandbox).toBe(true);
    expect((await fetch(`${running.baseUrl}/__sandbox/users`)).status).toBe(200);

    // Written through the runtime's own store endpoint, as a handler's client would.
    const db = createDynamoClients({ endpoint: cfg.endpoints.dynamodb });
    const item = { userId: 'persist-user', marker: `written-${Date.now()}` };
    await db.doc.send(new PutCommand({ TableName: cfg.tables.connections, Item: item }));
    db.raw.destroy();
    // A dead letter waiting for someone to look at it: fauxqs is in memory, the runtime saves it.
    const sqs = newSqsClient(cfg.endpoints.sqs);
    await sqs.send(new SendMessageCommand({ QueueUrl: cfg.queues.sync.dlqUrl, MessageBody: '{"userId":"dead-letter"}' }));
    sqs.destroy();
    const session = (await (await fetch(`${running.baseUrl}/dev/session`, { method: 'POST', body: JSON.stringify({ userId: 'persist-user' }) })).json()) as { token: string };

    running.child.kill('SIGTERM');
    expect(await exitOf(running.child)).toBe(0);
    expect((await stat(join(dataDir, KEYS_FILE))).mode & 0o777).toBe(0o600);

    running = await startRuntimeProcess(dataDir);
    const cfg2 = (await (await fetch(`${running.baseUrl}/dev/config`)).json()) as typeof cfg;
    const db2 = createDynamoClients({ endpoint: cfg2.endpoints.dynamodb });
    const got = await db2.doc.send(new GetCommand({ TableName: cfg2.tables.connections, Key: { userId: 'persist-user' } }));
    db2.raw.destroy();
    expect(got.Item).toEqual(item);

    const sqs2 = newSqsClient(cfg2.endpoints.sqs);
    const dead = await sqs2.send(new ReceiveMessageCommand({ QueueUrl: cfg2.queues.sync.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    sqs2.destroy();
    expect((dead.Messages ?? []).map((m) => m.Body)).toEqual(['{"userId":"dead-letter"}']);

    // The session minted before the restart is still accepted (same local key pair).
    const status = await fetch(`${running.baseUrl}/connections/calendly`, { headers: { authorization: `Bearer ${session.token}` } });
    expect(status.status).not.toBe(401);

    running.child.kill('SIGTERM');
    expect(await exitOf(running.child)).toBe(0);
  }, 120_000);
});

describe('graceful shutdown (in process)', () => {
  it('finishes the in-flight request and worker batch before it closes', async () => {
    let releaseRequest!: () => void;
    let releaseBatch!: () => void;
    const requestGate = new Promise<void>((r) => (releaseRequest = r));
    const batchGate = new Promise<void>((r) => (releaseBatch = r));
    let requestEntered = false;
    let batchEntered = false;
    let batchFinished = false;
    const runtime = await startTestRuntime({
      env: { CALENDLY_CLIENT_ID: 't', CALENDLY_CLIENT_SECRET: 't', CALENDLY_WEBHOOK_SIGNING_KEY: 't', CALENDLY_AUTH_URL: 'http://127.0.0.1:9', CALENDLY_API_URL: 'http://127.0.0.1:9' },
      handlers: {
        meetings: async () => {
          requestEntered = true;
          await requestGate;
          return { statusCode: 200, body: JSON.stringify({ meetings: [] }) };
        },
        'sync-worker': async () => {
          batchEntered = true;
          await batchGate;
          batchFinished = true;
          return { batchItemFailures: [] };
        },
      },
    });
    const token = await runtime.mintToken('u1');
    const pending = call(runtime, 'GET', '/meetings', { token });
    await createSqsQueue({ urls: { sync: runtime.queues.sync.url, health: runtime.queues.health.url }, endpoint: runtime.endpoints.sqs }).send('sync', [{ userId: 'u1' }]);
    while (!requestEntered || !batchEntered) await new Promise((r) => setTimeout(r, 10));

    let stopped = false;
    const stopping = runtime.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    // No new requests once stopping.
    await expect(fetch(`${runtime.baseUrl}/health`)).rejects.toThrow();

    releaseRequest();
    expect(await pending).toMatchObject({ status: 200, body: { meetings: [] } });
    releaseBatch();
    await stopping;
    expect(batchFinished).toBe(true);
  }, 60_000);
});

describe('in-process scheduler', () => {
  it('invokes health-scheduler with the EventBridge Scheduler input every interval', async () => {
    const inputs: unknown[] = [];
    const runtime = await startTestRuntime({
      healthIntervalSeconds: 1,
      env: { CALENDLY_CLIENT_ID: 't', CALENDLY_CLIENT_SECRET: 't', CALENDLY_WEBHOOK_SIGNING_KEY: 't', CALENDLY_AUTH_URL: 'http://127.0.0.1:9', CALENDLY_API_URL: 'http://127.0.0.1:9' },
      handlers: {
        'health-scheduler': async (input: unknown) => {
          inputs.push(input);
          return { enqueued: 0 };
        },
      },
    });
    try {
      while (inputs.length < 2) await new Promise((r) => setTimeout(r, 50));
      expect(inputs.slice(0, 2)).toEqual([{ kind: 'health-tick' }, { kind: 'health-tick' }]);
    } finally {
      await runtime.stop();
    }
  }, 60_000);
});
