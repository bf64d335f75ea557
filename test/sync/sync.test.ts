import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SQSBatchResponse } from 'aws-lambda';
import type { CalendlyApiPort } from '../../functions/calendly/port.js';
import { processSyncMessage } from '../../functions/flows/sync/index.js';
import { syncMessageSchema } from '../../functions/domain/messages.js';
import { createSyncWorkerHandler } from '../../functions/edge/sync-worker.js';
import { createSqsQueue } from '../../functions/adapters/sqs-queue.js';
import { LocalQueues } from '../../local/queues.js';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createMeetingStore, itemBytes } from '../../functions/store/meetings/index.js';
import { countRequests } from '../ingest/helpers.js';
import { connectUser, meetingItems, queueDepth, sqsEvent, sqsRecord, startHarness, takeMessages, type Harness } from './harness.js';

const DAY = 86_400_000;
const uuidOf = (uri: string) => uri.split('/').pop() as string;
const failedIds = (r: SQSBatchResponse) => r.batchItemFailures.map((f) => f.itemIdentifier);

describe('sync worker over dynalite, fauxqs and the Calendly sandbox', { timeout: 90_000 }, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  const seeded = async (email: string, n: number) => {
    const c = await connectUser(h, email, { webhook: false });
    const uris = h.sandbox.seedEvents(c.user.uri, n, { startFrom: h.clock.now() + DAY, intervalMin: 30 });
    return { ...c, uris };
  };

  it('250 events with 429s mid-way all arrive exactly once (through SQS, pollers and the Lambda handler)', async () => {
    const { userId, uris } = await seeded('s250@example.test', 250);
    // A long-ish 429 on one invitee list in the middle of page 2 (beyond the client's own retry,
    // within the flow's in-place wait), and one on the page-3 listing after page 2 is stored.
    h.sandbox.inject({ method: 'GET', path: `/scheduled_events/${uuidOf(uris[149] as string)}/invitees`, status: 429, headers: { 'X-RateLimit-Reset': '10' } });
    let applies = 0;
    const deps = h.syncDeps({
      applyMeetings: async (u, updates) => {
        const out = await h.meetings.applyMany(u, updates);
        if (++applies === 2) h.sandbox.inject({ method: 'GET', path: '/scheduled_events', status: 429, headers: { 'X-RateLimit-Reset': '8' } });
        return out;
      },
    });
    h.sandbox.resetCalls();
    // Its own queues: pollers cannot be stopped alone, and later tests read the harness queue.
    // Visibility far above a run's length, as in AWS (6x the function timeout).
    const queues = await LocalQueues.start({ visibilityTimeoutSeconds: 60, maxReceiveCount: 5, waitTimeSeconds: 1 });
    try {
      const queue = createSqsQueue({ urls: { sync: queues.queues.sync.url, health: queues.queues.health.url }, client: queues.sqs });
      const queued = { ...deps, queue };
      queues.startPollers(async () => createSyncWorkerHandler(() => queued));
      await queue.send('sync', [{ userId, reason: 'connect' }]);
      const drained = await queues.drain({ queues: ['sync'], includeRetries: true, timeoutMs: 45_000 });
      expect(drained.idle).toBe(true);
      expect(queues.stats().sync.failed).toBe(0);
    } finally {
      await queues.stop();
    }

    const items = await meetingItems(h, userId);
    expect(items).toHaveLength(250);
    expect(new Set(items.map((i) => i.eventId)).size).toBe(250);
    expect(new Set(items.map((i) => i.eventId))).toEqual(new Set(uris.map(uuidOf)));
    for (const i of items) expect(Object.keys(i.invitees as object)).toHaveLength(1);
    expect(h.sleeper.waits).toEqual(expect.arrayContaining([10_000, 8_000]));
    const calls = h.sandbox.calls();
    expect(calls['GET /scheduled_events/{uuid}/invitees']).toBe(251); // 250 + the one 429
    expect(calls['GET /scheduled_events']).toBe(4); // 3 pages + the one 429
    const state = await h.syncState.get(userId);
    expect(state.run).toBeUndefined();
    expect(state.pending).toBeUndefined();
    expect(state.leaseOwner).toBeUndefined();
    expect(state.runsCompleted).toBe(1);
    expect(state.eventsSynced).toBe(250);
    expect((await h.connections.get(userId))?.lastSyncAt).toBeGreaterThan(0);
  });

  it('a sync that fails on page 3 resumes from the saved cursor: no duplicates, pages 1-2 not fetched again', async () => {
    const { userId } = await seeded('s-resume@example.test', 250);
    let applies = 0;
    const deps = h.syncDeps({
      applyMeetings: async (u, updates) => {
        const out = await h.meetings.applyMany(u, updates);
        // Calendly goes down after page 2 is stored.
        // (More answers than the client's own retries of a GET.)
        if (++applies === 2) h.sandbox.inject({ method: 'GET', path: '/scheduled_events', status: 500, times: 20 });
        return out;
      },
    });
    const handler = createSyncWorkerHandler(() => deps);
    const record = sqsRecord({ userId, reason: 'connect' });

    const first = await handler(sqsEvent(record));
    expect(failedIds(first)).toEqual([record.messageId]);
    const saved = await h.syncState.get(userId);
    expect(saved.run?.pages).toBe(2);
    expect(saved.run?.pageToken).toEqual(expect.any(String));
    expect(saved.leaseOwner).toBeUndefined(); // released on failure: the retry can resume at once
    expect(await meetingItems(h, userId)).toHaveLength(200);

    h.sandbox.clearFaults(); // Calendly is back
    h.sandbox.resetCalls();
    const again = await handler(sqsEvent(record)); // the queue's redelivery
    expect(failedIds(again)).toEqual([]);
    const calls = h.sandbox.calls();
    expect(calls['GET /scheduled_events']).toBe(1); // page 3 only
    expect(calls['GET /scheduled_events/{uuid}/invitees']).toBe(50);
    const items = await meetingItems(h, userId);
    expect(items).toHaveLength(250);
    expect(new Set(items.map((i) => i.eventId)).size).toBe(250);
    expect((await h.syncState.get(userId)).runsCompleted).toBe(1);
  });

  it('a worker killed holding the lease: its redelivery waits, another message merges, the lease expiry hands over; re-stored pages change nothing', async () => {
    const { userId } = await seeded('s-kill@example.test', 250);
    let pageCalls = 0;
    const hanging: Pick<CalendlyApiPort, 'listScheduledEventsPage' | 'listEventInvitees'> = {
      listScheduledEventsPage: (token, input) => (++pageCalls === 3 ? new Promise(() => undefined) : h.client.listScheduledEventsPage(token, input)),
      listEventInvitees: (token, uri) => h.client.listEventInvitees(token, uri),
    };
    const killed = processSyncMessage(h.syncDeps({ calendly: hanging }), { userId, reason: 'connect' }, { messageId: 'm-first' });
    void killed;
    for (let i = 0; i < 1200 && (await h.syncState.get(userId)).run?.pages !== 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await h.syncState.get(userId)).run?.pages).toBe(2);
    await new Promise((r) => setTimeout(r, 50)); // let it reach the hanging page-3 call
    const before = new Map((await meetingItems(h, userId)).map((i) => [i.eventId, i.updatedAt]));
    expect(before.size).toBe(200);

    const deps = h.syncDeps();
    // The queue redelivers the dead worker's message while its lease is still live: failed back.
    await expect(processSyncMessage(deps, { userId, reason: 'connect' }, { messageId: 'm-first' })).rejects.toMatchObject({ name: 'SyncRetryLaterError' });
    // A second sync for the same connection is merged behind the running one and acknowledged.
    const merged = await processSyncMessage(deps, { userId, reason: 'manual' }, { messageId: 'm-second' });
    expect(merged.outcome).toBe('merged');
    expect((await h.syncState.get(userId)).pending?.reasons).toEqual(['manual']);

    h.sandbox.advance(120_001); // the dead worker's lease expires
    h.sandbox.resetCalls();
    const resumed = await processSyncMessage(deps, { userId, reason: 'connect' }, { messageId: 'm-first' });
    expect(resumed.outcome).toBe('completed');
    expect(resumed.runsCompleted).toBe(2); // the resumed run, then the merged one
    const calls = h.sandbox.calls();
    expect(calls['GET /scheduled_events']).toBe(1 + 3); // page 3 of the resumed run + 3 pages of the merged run
    // The merged run finds every event as stored (same updated_at and invitee counts): no invitee call.
    expect(calls['GET /scheduled_events/{uuid}/invitees']).toBe(50);
    // The merged run re-stored all 250: nothing changed.
    expect(resumed.applied).toBeGreaterThan(0);
    expect(resumed.unchanged).toBeGreaterThanOrEqual(250);
    const after = await meetingItems(h, userId);
    expect(after).toHaveLength(250);
    for (const i of after) if (before.has(i.eventId as string)) expect(i.updatedAt).toBe(before.get(i.eventId as string));
    const state = await h.syncState.get(userId);
    expect(state.pending).toBeUndefined();
    expect(state.run).toBeUndefined();
    expect(state.recentMessageIds).toEqual(expect.arrayContaining(['m-first', 'm-second']));

    // A late duplicate of a completed message costs no Calendly call.
    h.sandbox.resetCalls();
    const dup = await processSyncMessage(deps, { userId, reason: 'manual' }, { messageId: 'm-second' });
    expect(dup.outcome).toBe('duplicate');
    expect(h.sandbox.calls()['GET /scheduled_events'] ?? 0).toBe(0);
  });

  it('two messages for one connection in one batch: one sync at a time, every meeting once', async () => {
    const { userId } = await seeded('s-pair@example.test', 120);
    const handler = createSyncWorkerHandler(() => h.syncDeps());
    const a = sqsRecord({ userId, reason: 'connect' });
    const b = sqsRecord({ userId, reason: 'repair', minStartTime: new Date(h.clock.now() - DAY).toISOString() });
    const out = await handler(sqsEvent(a, b));
    expect(failedIds(out)).toEqual([]);
    const items = await meetingItems(h, userId);
    expect(items).toHaveLength(120);
    const state = await h.syncState.get(userId);
    expect(state.runsCompleted).toBeGreaterThanOrEqual(1);
    expect(state.run).toBeUndefined();
    expect(state.pending).toBeUndefined();
    expect(state.leaseOwner).toBeUndefined();
  });

  it('a long 429 saves the cursor and sends a delayed resume instead of waiting or burning a receive', async () => {
    const { userId } = await seeded('s-defer@example.test', 150);
    let applies = 0;
    const deps = h.syncDeps({
      applyMeetings: async (u, updates) => {
        const out = await h.meetings.applyMany(u, updates);
        if (++applies === 1) h.sandbox.inject({ method: 'GET', path: '/scheduled_events', status: 429, headers: { 'X-RateLimit-Reset': '120' } });
        return out;
      },
    });
    const waitsBefore = h.sleeper.waits.length;
    const r = await processSyncMessage(deps, { userId, reason: 'connect' }, { messageId: 'm-defer' });
    expect(r.outcome).toBe('deferred');
    expect(h.sleeper.waits.length).toBe(waitsBefore);
    const state = await h.syncState.get(userId);
    expect(state.run?.pages).toBe(1);
    expect(state.leaseOwner).toBeUndefined();
    expect((await queueDepth(h, 'sync')).delayed).toBe(1); // the resume kick, delayed by the reset
    expect(await meetingItems(h, userId)).toHaveLength(100);

    // What the delayed kick does when it arrives, the reset later (same body as the one queued).
    h.sandbox.advance(120_000);
    const resumed = await processSyncMessage(deps, { userId, reason: 'connect', resume: true }, { messageId: 'm-kick' });
    expect(resumed.outcome).toBe('completed');
    expect(resumed.pages).toBe(1);
    expect(await meetingItems(h, userId)).toHaveLength(150);
  });

  it('an invocation out of time hands off with a resume kick after the page it stored', async () => {
    const { userId } = await seeded('s-cont@example.test', 150);
    const deps = h.syncDeps({ options: { maxPagesPerInvocation: 1 } });
    const r = await processSyncMessage(deps, { userId, reason: 'connect' }, { messageId: 'm-cont' });
    expect(r.outcome).toBe('continued');
    const kicks = await takeMessages(h, 'sync');
    expect(kicks).toEqual([{ userId, reason: 'connect', resume: true }]);
    expect(syncMessageSchema.safeParse(kicks[0]).success).toBe(true);
    const done = await processSyncMessage(deps, kicks[0] as never, { messageId: 'm-cont-2' });
    expect(done.outcome).toBe('completed');
    expect(await meetingItems(h, userId)).toHaveLength(150);
  });

  it('an access token Calendly no longer accepts: exactly one refresh, and the sync goes on', async () => {
    const { userId, user } = await seeded('s-expired@example.test', 30);
    h.sandbox.expireAccessTokens(user.uri); // our stored expiry still says valid
    h.sandbox.resetCalls();
    const r = await processSyncMessage(h.syncDeps(), { userId, reason: 'connect' }, { messageId: 'm-exp' });
    expect(r.outcome).toBe('completed');
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
    expect(await meetingItems(h, userId)).toHaveLength(30);
  });

  it('a refused refresh drops the sync (no retry loop) and leaves the connection authorization_required', async () => {
    const { userId, user } = await seeded('s-revoked@example.test', 10);
    h.sandbox.revokeAllTokens(user.uri);
    const handler = createSyncWorkerHandler(() => h.syncDeps());
    const out = await handler(sqsEvent(sqsRecord({ userId, reason: 'connect' })));
    expect(failedIds(out)).toEqual([]);
    expect((await h.connections.get(userId))?.status).toBe('authorization_required');
    const state = await h.syncState.get(userId);
    expect(state.run).toBeUndefined();
    expect(state.leaseOwner).toBeUndefined();
    expect(state.lastError).toMatch(/authorization/);
  });

  it('a reconciliation of 200 unchanged events costs 2 Calendly calls and 2 DynamoDB reads; a change costs its own invitee call', async () => {
    const { userId, uris } = await seeded('s-recon@example.test', 200);
    expect((await processSyncMessage(h.syncDeps(), { userId, reason: 'connect' }, { messageId: 'm-recon-1' })).outcome).toBe('completed');
    const c = h.db.newClients();
    const counter = countRequests(c.raw);
    const meetings = createMeetingStore(c.doc, h.db.tables.meetings);
    const deps = h.syncDeps({ applyMeetings: (u, up, o) => meetings.applyMany(u, up, o), eventMarks: (u, list) => meetings.eventMarks(u, list) });
    h.sandbox.resetCalls();
    const r = await processSyncMessage(deps, { userId, reason: 'manual' }, { messageId: 'm-recon-2' });
    expect(r).toMatchObject({ outcome: 'completed', events: 200, applied: 0, unchanged: 200 });
    const calls = h.sandbox.calls();
    const total = Object.values(calls).reduce((a, b) => a + (b ?? 0), 0);
    expect(total).toBeLessThanOrEqual(3);
    expect(calls['GET /scheduled_events']).toBe(2);
    expect(calls['GET /scheduled_events/{uuid}/invitees'] ?? 0).toBe(0);
    // Meetings: one BatchGetItem per 100 events, no write.
    expect(counter.log.filter((l) => l.table === h.db.tables.meetings).map((l) => l.command)).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);

    // One event canceled at Calendly: only its invitees are fetched again, and it is stored.
    await h.sandbox.cancel(uris[17] as string);
    h.sandbox.resetCalls();
    counter.reset();
    const again = await processSyncMessage(deps, { userId, reason: 'manual' }, { messageId: 'm-recon-3' });
    expect(again).toMatchObject({ outcome: 'completed', applied: 1, unchanged: 199 });
    expect(h.sandbox.calls()['GET /scheduled_events/{uuid}/invitees']).toBe(1);
    const stored = (await meetingItems(h, userId)).find((m) => m.eventId === uuidOf(uris[17] as string));
    expect(stored?.event?.status).toBe('canceled');
  });

  it('a 2,000-invitee group event syncs into 2,001 small items', async () => {
    const c = await connectUser(h, 's-group@example.test', { webhook: false });
    const booked = await h.sandbox.book({ userUri: c.user.uri, invitees: Array.from({ length: 2000 }, (_, k) => ({ email: `g${k}@example.test`, name: `G ${k}` })) });
    h.sandbox.resetCalls();
    const r = await processSyncMessage(h.syncDeps(), { userId: c.userId, reason: 'connect' }, { messageId: 'm-group' });
    expect(r).toMatchObject({ outcome: 'completed', events: 1, applied: 1 });
    const items = await h.db.doc.send(new QueryCommand({ TableName: h.db.tables.meetings, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': c.userId } }));
    let all = items.Items ?? [];
    let key = items.LastEvaluatedKey;
    while (key) {
      const more = await h.db.doc.send(new QueryCommand({ TableName: h.db.tables.meetings, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': c.userId }, ExclusiveStartKey: key }));
      all = [...all, ...(more.Items ?? [])];
      key = more.LastEvaluatedKey;
    }
    expect(all).toHaveLength(2001);
    expect(Math.max(...all.map((i) => itemBytes(i)))).toBeLessThan(4_000);
    const m = await h.meetings.get(c.userId, uuidOf(booked.event.uri as string));
    expect(Object.keys(m?.invitees ?? {})).toHaveLength(2000);
    // A second sync finds it unchanged: one listing call, no invitee pages.
    h.sandbox.resetCalls();
    await processSyncMessage(h.syncDeps(), { userId: c.userId, reason: 'manual' }, { messageId: 'm-group-2' });
    expect(h.sandbox.calls()['GET /scheduled_events/{uuid}/invitees'] ?? 0).toBe(0);
  }, 240_000);

  it('invalid messages are dropped without retry and write nothing', async () => {
    const handler = createSyncWorkerHandler(() => h.syncDeps());
    const bodies = [
      'not json',
      { userId: 'u-x1', reason: 'connect', extra: 1 },
      { userId: 'u-x2', reason: 'because' },
      { reason: 'connect' },
      { userId: 'u-x3', reason: 'repair', minStartTime: 'yesterday' },
      { userId: 'u-x4', reason: 'manual', minStartTime: '2026-02-01T00:00:00Z', maxStartTime: '2026-01-01T00:00:00Z' },
    ];
    const out = await handler(sqsEvent(...bodies.map((b) => sqsRecord(b))));
    expect(failedIds(out)).toEqual([]);
    for (const u of ['u-x1', 'u-x2', 'u-x3', 'u-x4']) expect((await h.syncState.get(u)).version).toBe(0);
  });
});

describe('sync message schema', () => {
  it('accepts what the reconnect flow sends and nothing else', () => {
    expect(syncMessageSchema.safeParse({ userId: 'u', reason: 'reconnect' }).success).toBe(true);
    expect(syncMessageSchema.safeParse({ userId: 'u', reason: 'repair', minStartTime: '2026-01-01T00:00:00.000Z' }).success).toBe(true);
    expect(syncMessageSchema.safeParse({ userId: 'u', reason: 'repair', resume: false }).success).toBe(false);
    expect(syncMessageSchema.safeParse({ userId: '', reason: 'connect' }).success).toBe(false);
  });
});

