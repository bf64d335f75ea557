/**
 * Never stuck: an event the meetings store refuses is skipped (counted, recorded with its cause)
 * instead of failing its page on every try, and a run that fails its last try is given up and
 * recorded (ERROR log, SyncRunsGivenUp) instead of blocking the connection's later syncs. Over
 * dynalite, the Calendly sandbox over HTTP and the sync worker's Lambda handler.
 */
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncWorkerHandler } from '../../functions/edge/sync-worker.js';
import { logSinks } from '../../functions/shared/logger.js';
import { connectUser, meetingItems, sqsEvent, sqsRecord, startHarness, takeMessages, type Harness } from './harness.js';

const DAY = 86_400_000;
const MAX_RECEIVES = 5;
const failedIds = (r: SQSBatchResponse) => r.batchItemFailures.map((f) => f.itemIdentifier);
const uuidOf = (uri: string) => uri.split('/').pop() as string;

/** The queue's n-th receive of a message (SQS counts them in ApproximateReceiveCount). */
function receive(body: unknown, messageId: string, n: number) {
  const r = sqsRecord(body, messageId);
  r.attributes.ApproximateReceiveCount = String(n);
  return r;
}

const lines: Array<Record<string, unknown>> = [];
logSinks.push((line) => lines.push(line));

describe('never stuck', { timeout: 120_000 }, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('a permanently failing event among 300: the other 299 are stored, the run completes with one skip, and the next sync runs', async () => {
    const c = await connectUser(h, 'poison@example.test', { webhook: false });
    const start = h.clock.now() + DAY;
    const uris = h.sandbox.seedEvents(c.user.uri, 299, { startFrom: start, intervalMin: 30 });
    // An event whose meeting item can never fit DynamoDB's 400 KB item limit (its name alone is
    // 410 KB): the store refuses it on every try, before anything is written (its size budget).
    const poison = await h.sandbox.book({ userUri: c.user.uri, invitees: [{ email: 'guest@example.test' }], startTime: start + 150 * 30 * 60_000 + 60_000, name: 'x'.repeat(410 * 1024) });
    const poisonUri = poison.event.uri as string;
    const metrics: string[] = [];
    const handler = createSyncWorkerHandler(() => h.syncDeps({ options: { maxReceives: MAX_RECEIVES }, countMetric: (name) => metrics.push(name) }));

    const first = await handler(sqsEvent(receive({ userId: c.userId, reason: 'connect' }, 'm-poison-1', 1)));
    expect(failedIds(first)).toEqual([]);
    const items = await meetingItems(h, c.userId);
    expect(items).toHaveLength(299);
    expect(new Set(items.map((i) => i.eventId))).toEqual(new Set(uris.map(uuidOf)));
    const state = await h.syncState.get(c.userId);
    expect(state).toMatchObject({ runsCompleted: 1, eventsSkipped: 1, eventsSynced: 300 });
    expect(state.run).toBeUndefined();
    expect(state.lastSkipped).toEqual([{ eventUri: poisonUri, cause: expect.stringMatching(/ItemTooLargeError: .*\d+ bytes \(limit \d+\)/), at: expect.any(Number) }]);
    const logged = lines.find((l) => l.message === 'sync skipped an event the store refused');
    expect(logged).toMatchObject({ level: 'error', eventUri: poisonUri, error: { name: 'ItemTooLargeError', stack: expect.any(String) } });
    expect(metrics).toEqual([]); // a skip is not a given-up run

    // The next sync of the same connection runs (and skips the same event again), a minute
    // later: within the same minute it would be deferred by Calendly's per-user rate limit.
    h.sandbox.advance(60_000);
    h.sandbox.resetCalls();
    const next = await handler(sqsEvent(receive({ userId: c.userId, reason: 'manual' }, 'm-poison-2', 1)));
    expect(failedIds(next)).toEqual([]);
    expect(h.sandbox.calls()['GET /scheduled_events']).toBe(3);
    expect(await h.syncState.get(c.userId)).toMatchObject({ runsCompleted: 2, eventsSkipped: 2 });
  });

  it('a run that fails every try is given up on the last one (recorded, ERROR, metric, message acknowledged) and the next sync message runs', async () => {
    const c = await connectUser(h, 'give-up@example.test', { webhook: false });
    h.sandbox.seedEvents(c.user.uri, 150, { startFrom: h.clock.now() + DAY, intervalMin: 30 });
    const metrics: string[] = [];
    let applies = 0;
    const deps = h.syncDeps({
      options: { maxReceives: MAX_RECEIVES },
      countMetric: (name) => metrics.push(name),
      applyMeetings: async (u, updates) => {
        const out = await h.meetings.applyMany(u, updates);
        // Calendly goes down for good after page 1 is stored (more 500s than any retry spends).
        if (++applies === 1) h.sandbox.inject({ method: 'GET', path: '/scheduled_events', status: 500, times: 10_000 });
        return out;
      },
    });
    const handler = createSyncWorkerHandler(() => deps);
    const body = { userId: c.userId, reason: 'connect' };
    for (let n = 1; n < MAX_RECEIVES; n++) {
      const out = await handler(sqsEvent(receive(body, 'm-doomed', n)));
      expect(failedIds(out), `receive ${n}`).toEqual(['m-doomed']);
      expect((await h.syncState.get(c.userId)).run?.pages).toBe(1);
    }
    const failedLines = lines.filter((l) => l.message === 'sync message failed' && l.messageId === 'm-doomed');
    expect(failedLines).toHaveLength(MAX_RECEIVES - 1);
    for (const l of failedLines) expect(l).toMatchObject({ level: 'error', error: { stack: expect.any(String) } });
    expect(metrics).toEqual([]);

    const last = await handler(sqsEvent(receive(body, 'm-doomed', MAX_RECEIVES)));
    expect(failedIds(last)).toEqual([]); // acknowledged: never on the DLQ
    const state = await h.syncState.get(c.userId);
    expect(state.run).toBeUndefined();
    expect(state.leaseOwner).toBeUndefined();
    expect(state.runsGivenUp).toBe(1);
    expect(state.lastGivenUp).toMatchObject({ reasons: ['connect'], pages: 1, events: 100, cause: expect.stringMatching(/500|server|calendly/i) });
    expect(state.lastError).toMatch(/given up/);
    expect(metrics).toEqual(['SyncRunsGivenUp']);
    expect(lines.find((l) => l.message === 'sync run given up on its last try' && l.userId === c.userId)).toMatchObject({ level: 'error', error: { stack: expect.any(String) } });

    // A late redelivery of the given-up message is a duplicate, not a new try.
    h.sandbox.resetCalls();
    expect(failedIds(await handler(sqsEvent(receive(body, 'm-doomed', MAX_RECEIVES + 1))))).toEqual([]);
    expect(h.sandbox.calls()['GET /scheduled_events'] ?? 0).toBe(0);

    // Calendly is back: the next sync message of the connection runs to the end.
    h.sandbox.clearFaults();
    const again = await handler(sqsEvent(receive({ userId: c.userId, reason: 'manual' }, 'm-after', 1)));
    expect(failedIds(again)).toEqual([]);
    expect(await meetingItems(h, c.userId)).toHaveLength(150);
    expect(await h.syncState.get(c.userId)).toMatchObject({ runsCompleted: 1, runsGivenUp: 1 });
    expect(await takeMessages(h, 'sync')).toEqual([]);
  });
});
