/**
 * Privacy on disconnect, over the local runtime with the real handlers and the sandbox, driven
 * over HTTP: a disconnected user's meetings stop being listed at once, the purge (through the
 * sync queue) deletes every item of theirs, and connecting again brings them back through the
 * initial sync.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDynamoClients } from '../../functions/adapters/dynamo.js';
import type { LocalRuntime } from '../support/runtime.js';
import { call, useLocalRuntime } from '../support/runtime.js';

const DAY = 86_400_000;
const rt = useLocalRuntime();

async function connect(runtime: LocalRuntime, token: string) {
  const { authorizeUrl } = (await call(runtime, 'POST', '/connections/calendly/connect', { token })).body as { authorizeUrl: string };
  const consent = await fetch(authorizeUrl, { redirect: 'manual' });
  const back = await fetch(consent.headers.get('location')!, { redirect: 'manual' });
  expect(back.headers.get('location')).toBe(`${runtime.publicBaseUrl}/?calendly=connected`);
}

/** Every meeting listed, page after page (limit 100). */
async function listAll(runtime: LocalRuntime, token: string): Promise<Array<{ eventUri: string }>> {
  const out: Array<{ eventUri: string }> = [];
  let next: string | undefined;
  do {
    const res = await call(runtime, 'GET', `/meetings?limit=100${next ? `&nextToken=${encodeURIComponent(next)}` : ''}`, { token });
    expect(res.status).toBe(200);
    const body = res.body as { meetings: Array<{ eventUri: string }>; nextToken?: string };
    out.push(...body.meetings);
    next = body.nextToken;
  } while (next);
  return out;
}

/** Every item stored under the user's partition, whatever its sort key. */
async function itemsOf(runtime: LocalRuntime, userId: string): Promise<number> {
  const { doc } = createDynamoClients({ endpoint: runtime.endpoints.dynamodb });
  let n = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({ TableName: runtime.tables.meetings, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ExclusiveStartKey: startKey }),
    );
    n += page.Items?.length ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return n;
}

describe('privacy on disconnect', { timeout: 180_000 }, () => {
  it('500 meetings: disconnect empties the list at once, the purge deletes every item, connecting again brings them back', async () => {
    const runtime = rt();
    const sandbox = runtime.sandbox!;
    const userId = 'purge-user';
    const token = (await call(runtime, 'POST', '/dev/session', { body: { userId } })).body as { token: string };
    // 500 events cost ~505 Calendly calls per sync, over even the paid plan's 500 a minute: the
    // rate limits (tested with the sync itself) would only make this test wait.
    sandbox.setRateLimits({ api: 100_000 });
    const seeded = sandbox.seedEvents(sandbox.defaultUser.uri, 500, { startFrom: sandbox.now() + DAY, intervalMin: 30 });
    expect(seeded).toHaveLength(500);

    await connect(runtime, token.token);
    expect((await runtime.drain({ includeRetries: true, timeoutMs: 120_000 })).idle).toBe(true);
    expect(await listAll(runtime, token.token)).toHaveLength(500);
    expect(await itemsOf(runtime, userId)).toBeGreaterThanOrEqual(500);

    // Answered before the purge has run (the list checks the connection's status).
    expect((await call(runtime, 'DELETE', '/connections/calendly', { token: token.token })).body).toEqual({ status: 'disconnected' });
    const right = await call(runtime, 'GET', '/meetings', { token: token.token });
    expect(right).toMatchObject({ status: 200, body: { meetings: [] } });

    const before = runtime.queueStats().sync.succeeded;
    expect((await runtime.drain({ includeRetries: true, timeoutMs: 120_000 })).idle).toBe(true);
    expect(await itemsOf(runtime, userId)).toBe(0);
    // Bounded batches: more than one purge message ran (each re-queues itself with its cursor).
    expect(runtime.queueStats().sync.succeeded - before).toBeGreaterThan(5);
    expect(runtime.queueStats().sync.failed).toBe(0);

    // A second disconnect answers the same and a purge of nothing is harmless.
    expect((await call(runtime, 'DELETE', '/connections/calendly', { token: token.token })).body).toEqual({ status: 'disconnected' });
    expect((await runtime.drain({ includeRetries: true, timeoutMs: 60_000 })).idle).toBe(true);
    expect(await itemsOf(runtime, userId)).toBe(0);

    await connect(runtime, token.token);
    expect((await runtime.drain({ includeRetries: true, timeoutMs: 120_000 })).idle).toBe(true);
    const back = await listAll(runtime, token.token);
    expect(new Set(back.map((m) => m.eventUri))).toEqual(new Set(seeded));
  });
});
