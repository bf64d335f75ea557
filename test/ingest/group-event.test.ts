import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createSecretBox, parseEncryptionKey, randomToken } from '../../functions/shared/crypto.js';
import { logSinks } from '../../functions/shared/logger.js';
import { createAppKeySource } from '../../functions/shared/webhook-signature.js';
import { cacheHookKeys, type IngestDeps } from '../../functions/flows/ingest.js';
import { listMeetings } from '../../functions/flows/list-meetings.js';
import { createConnectionStatusReader } from '../../functions/store/connection-status.js';
import { makeWebhookHandler } from '../../functions/edge/webhook.js';
import { createMeetingStore, itemBytes } from '../../functions/store/meetings/index.js';
import { createParkedWebhookStore } from '../../functions/store/parked-webhooks.js';
import { createWebhookKeyStore } from '../../functions/store/webhook-keys.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { at, envelope, inviteePayload, sign, webhookEvent } from './helpers.js';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const T = Math.floor(NOW / 1000);
const APP_KEY = 'app-key-' + 'g'.repeat(40);
const box = createSecretBox(parseEncryptionKey(Buffer.alloc(32, 7).toString('base64')));
const INVITEES = 2000;

/** Deterministic shuffle (the test must not depend on luck to be meaningful). */
function shuffle<T>(xs: T[], seed = 42): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe('a 2,000-invitee group event on dynalite', () => {
  let db: TestDynamo;
  const logs: Array<Record<string, unknown>> = [];
  /** Per delivery: DynamoDB requests and response bytes, attributed through async context. */
  const work = new AsyncLocalStorage<{ requests: number; bytes: number }>();

  const depsFor = async (userId: string, opts: Parameters<typeof createMeetingStore>[2] = {}) => {
    const clients = db.newClients();
    clients.raw.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const w = work.getStore();
        if (w) {
          w.requests++;
          w.bytes += JSON.stringify((out as { output?: unknown }).output ?? {}).length;
        }
        return out;
      },
      { step: 'initialize', name: 'perDeliveryWork' },
    );
    const hookKey = randomToken();
    const keys = createWebhookKeyStore(db.doc, db.tables.webhookKeys, box);
    await keys.create({ hookKey, userId, signingKey: `k-${randomToken(8)}`, now: NOW });
    await keys.setState(hookKey, 'active', NOW);
    await db.doc.send(new PutCommand({ TableName: db.tables.connections, Item: { userId, status: 'connected' } }));
    const meetings = createMeetingStore(clients.doc, db.tables.meetings, opts);
    const deps: IngestDeps = {
      hookKeys: cacheHookKeys(createWebhookKeyStore(clients.doc, db.tables.webhookKeys, box)),
      connectionStatus: createConnectionStatusReader(clients.doc, db.tables.connections),
      appKey: createAppKeySource({ get: async () => ({ clientId: 'c', clientSecret: 's', webhookSigningKey: APP_KEY, tokenEncryptionKey: 'k' }), refresh: async () => ({ clientId: 'c', clientSecret: 's', webhookSigningKey: APP_KEY, tokenEncryptionKey: 'k' }) }, { now: () => NOW }),
      meetings,
      parked: createParkedWebhookStore(clients.doc, db.tables.parkedWebhooks),
      clock: { now: () => NOW },
      toleranceSeconds: 180,
      metric: () => undefined,
    };
    const handler = makeWebhookHandler(deps);
    const post = async (body: string) => {
      const res = await handler(webhookEvent(hookKey, body, { 'calendly-webhook-signature': sign(APP_KEY, T, body) }));
      return { status: res.statusCode ?? 0, body: JSON.parse(String(res.body)) as Record<string, unknown> };
    };
    return { post, meetings };
  };

  const partition = async (userId: string) => {
    const out: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const res = await db.doc.send(new QueryCommand({ TableName: db.tables.meetings, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ExclusiveStartKey: startKey }));
      out.push(...(res.Items ?? []));
      startKey = res.LastEvaluatedKey;
    } while (startKey);
    return out;
  };

  beforeAll(async () => {
    db = await startDynalite();
    logSinks.push((l) => void logs.push(l));
  });
  afterAll(async () => {
    logSinks.splice(0);
    await db.close();
  });

  it('dynalite refuses a 401 KB item with ValidationException, as DynamoDB does', async () => {
    const big = { userId: 'limit', eventId: 'BIG', blob: 'x'.repeat(401 * 1024) };
    await expect(db.doc.send(new PutCommand({ TableName: db.tables.meetings, Item: big }))).rejects.toMatchObject({ name: 'ValidationException' });
    // Just under the limit is stored: the check is the size, not the attribute.
    await db.doc.send(new PutCommand({ TableName: db.tables.meetings, Item: { ...big, blob: 'x'.repeat(399 * 1024) } }));
  });

  it('2,000 invitee.created (16 in flight, shuffled, 10% duplicated): every delivery 200, work per delivery flat, items small', async () => {
    const userId = 'group-hooks';
    const { post } = await depsFor(userId);
    const bodies = Array.from({ length: INVITEES }, (_, k) =>
      envelope('invitee.created', inviteePayload({ ev: 'GROUP2K', inv: `I${String(k).padStart(4, '0')}`, updatedAt: at(1 + (k % 50)), createdAt: at(1), event: { updatedAt: at(1), name: 'Workshop' } })),
    );
    const order = shuffle([...bodies, ...bodies.filter((_, k) => k % 10 === 0)]);
    const results: Array<{ status: number; outcome: unknown; requests: number; bytes: number }> = new Array(order.length);
    let next = 0;
    const worker = async () => {
      while (next < order.length) {
        const i = next++;
        const w = { requests: 0, bytes: 0 };
        const res = await work.run(w, () => post(order[i] as string));
        results[i] = { status: res.status, outcome: res.body.status, requests: w.requests, bytes: w.bytes };
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));

    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(INVITEES);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(order.length - INVITEES);
    // The work of a delivery does not grow with the event: the last 100 cost what the first 100 did.
    const first = results.slice(0, 100);
    const last = results.slice(-100);
    if (process.env.GROUP_EVENT_FIGURES) console.info(JSON.stringify({ first: { requests: median(first.map((r) => r.requests)), bytes: median(first.map((r) => r.bytes)) }, last: { requests: median(last.map((r) => r.requests)), bytes: median(last.map((r) => r.bytes)) } }));
    expect(median(last.map((r) => r.requests))).toBeLessThanOrEqual(median(first.map((r) => r.requests)));
    expect(median(last.map((r) => r.requests))).toBeLessThanOrEqual(3);
    expect(median(last.map((r) => r.bytes))).toBeLessThan(median(first.map((r) => r.bytes)) * 1.5);

    const items = await partition(userId);
    expect(items).toHaveLength(1 + INVITEES);
    const sizes = items.map((i) => itemBytes(i));
    expect(Math.max(...sizes)).toBeLessThan(4_000); // 400 KB is 100x away
    const meetings = createMeetingStore(db.doc, db.tables.meetings);
    const page = await listMeetings({ meetings, connectionStatus: async () => 'connected' }, userId, {});
    expect(page.meetings).toHaveLength(1);
    expect(page.meetings[0]?.invitees).toHaveLength(INVITEES);
    expect(new Set(page.meetings[0]?.invitees.map((i) => i.email)).size).toBe(INVITEES);
  }, 240_000);

  it('a delivery whose item would pass the limit is parked (202), logged at ERROR, and writes no meeting item', async () => {
    const userId = 'too-large';
    const { post } = await depsFor(userId, { maxItemBytes: 3_000 });
    logs.splice(0);
    const body = envelope('invitee.created', { ...inviteePayload({ ev: 'HUGE1', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } }), name: 'n'.repeat(5_000) });
    expect(await post(body)).toEqual({ status: 202, body: { status: 'parked' } });
    expect(await partition(userId)).toEqual([]);
    const line = logs.find((l) => String(l.message).includes('item size limit'));
    expect(String(line?.level).toUpperCase()).toBe('ERROR');
    expect(line).toMatchObject({ userId });
    // Another invitee of normal size is stored as usual.
    expect((await post(envelope('invitee.created', inviteePayload({ ev: 'HUGE1', inv: 'I2', updatedAt: at(1), event: { updatedAt: at(1) } })))).status).toBe(200);
    expect(await partition(userId)).toHaveLength(2);
  });
});
