import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TABLES } from '../../functions/store/tables.js';
import { lazy } from '../../functions/wiring/lazy.js';

const emptyBatch = { Records: [] };

/** The environment the stack gives the sync worker (nothing here is contacted by an empty batch). */
function syncWorkerEnv(): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    APP_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:app',
    CALENDLY_AUTH_URL: 'https://auth.calendly.test',
    CALENDLY_API_URL: 'https://api.calendly.test',
    SYNC_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/111111111111/sync',
    SYNC_QUEUE_MAX_RECEIVE_COUNT: '5',
    EVENT_BUS_NAME: 'meeting-events-bus',
    [TABLES.connections.envVar]: 'conn-table',
    [TABLES.meetings.envVar]: 'meetings-table',
    [TABLES.syncState.envVar]: 'sync-state-table',
  };
}

/** A fresh copy of the Lambda module, as a new container would load it. */
async function coldSyncWorker() {
  vi.resetModules();
  return (await import('../../functions/handlers/sync-worker.js')).handler;
}

describe('lazy start-up', () => {
  it('builds once and shares the value, including with callers that arrive while it is in flight', async () => {
    const make = vi.fn(async () => ({ id: Math.random() }));
    const get = lazy(make);
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(await get()).toBe(a);
    expect(make).toHaveBeenCalledTimes(1);
  });

  it('forgets a rejected start, so the next caller starts again', async () => {
    const make = vi.fn().mockRejectedValueOnce(new Error('throttled')).mockResolvedValue('ready');
    const get = lazy(make as () => Promise<string>);
    await expect(get()).rejects.toThrow('throttled');
    await expect(get()).resolves.toBe('ready');
    await expect(get()).resolves.toBe('ready');
    expect(make).toHaveBeenCalledTimes(2);
  });

  it('forgets a start that throws synchronously', () => {
    let calls = 0;
    const get = lazy(() => {
      calls += 1;
      if (calls === 1) throw new Error('not yet');
      return calls;
    });
    expect(() => get()).toThrow('not yet');
    expect(get()).toBe(2);
    expect(get()).toBe(2);
  });
});

// No local Secrets Manager exists here, so the SDK client is mocked (aws-sdk-client-mock); the
// handler, its composition root and the Powertools secrets provider above the SDK are real.
describe('sync worker cold start (Secrets Manager mocked with aws-sdk-client-mock)', () => {
  const sm = mockClient(SecretsManagerClient);

  beforeEach(() => {
    sm.reset();
    for (const [k, v] of Object.entries(syncWorkerEnv())) vi.stubEnv(k, v);
  });
  afterEach(() => vi.unstubAllEnvs());

  it('a Secrets Manager throttle at the first invocation fails that invocation only; the next one in the same container succeeds', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' });
    sm.on(GetSecretValueCommand)
      .rejectsOnce(throttled)
      .resolves({
        SecretString: JSON.stringify({ clientId: 'cid', clientSecret: 'csecret', webhookSigningKey: 'whk', tokenEncryptionKey: Buffer.alloc(32, 1).toString('base64') }),
      });
    const handler = await coldSyncWorker();

    await expect(handler(emptyBatch as never)).rejects.toThrow('Rate exceeded');
    await expect(handler(emptyBatch as never)).resolves.toEqual({ batchItemFailures: [] });
    await expect(handler(emptyBatch as never)).resolves.toEqual({ batchItemFailures: [] });
    // The secret is read again after the throttle, and then served from the start-up value.
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('a missing table name fails the start, naming the variable, instead of using a made-up table', async () => {
    vi.stubEnv(TABLES.syncState.envVar, '');
    const handler = await coldSyncWorker();
    await expect(handler(emptyBatch as never)).rejects.toThrow(new RegExp(`${TABLES.syncState.envVar} must be set`));
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });
});
