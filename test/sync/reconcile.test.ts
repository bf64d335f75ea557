/**
 * Reconciliation over the local runtime with the real handlers and the sandbox, driven over
 * HTTP: with every webhook delivery lost at Calendly (the sandbox drops them), bookings,
 * cancellations and a reschedule still all reach GET /meetings after one health-check cycle,
 * which queues a reconciliation sync for every connection.
 */
import { describe, expect, it } from 'vitest';
import { call, useLocalRuntime } from '../support/runtime.js';

const DAY = 86_400_000;
const rt = useLocalRuntime();

interface Listed {
  eventUri: string;
  status: 'active' | 'canceled';
  startTime: string;
}

describe('reconciliation', { timeout: 120_000 }, () => {
  it('every delivery dropped: ten bookings, two cancellations and a reschedule all appear after one reconciliation', async () => {
    const runtime = rt();
    const sandbox = runtime.sandbox!;
    const { token } = (await call(runtime, 'POST', '/dev/session', { body: { userId: 'reconcile-user' } })).body as { token: string };
    const { authorizeUrl } = (await call(runtime, 'POST', '/connections/calendly/connect', { token })).body as { authorizeUrl: string };
    const consent = await fetch(authorizeUrl, { redirect: 'manual' });
    await fetch(consent.headers.get('location')!, { redirect: 'manual' });
    const userUri = ((await call(runtime, 'GET', '/connections/calendly', { token })).body as { calendlyUserUri: string }).calendlyUserUri;
    expect((await runtime.drain({ includeRetries: true })).idle).toBe(true); // the initial sync (nothing yet)

    sandbox.setDropDeliveries(true);
    const now = sandbox.now();
    const booked = [];
    for (let i = 0; i < 10; i++) {
      // Spread over what a reconciliation covers: from yesterday to 80 days ahead.
      booked.push(await sandbox.book({ userUri, invitees: [{ email: `guest${i}@example.test`, name: `Guest ${i}` }], startTime: now - DAY / 2 + i * 8 * DAY, name: `Meeting ${i}` }));
    }
    await sandbox.cancel(booked[1]!.event.uri as string, { reason: 'conflict' });
    await sandbox.cancel(booked[2]!.event.uri as string);
    const moved = await sandbox.reschedule(booked[3]!.invitees[0]!.uri as string, now + 3 * DAY);
    expect(sandbox.droppedDeliveries()).toBeGreaterThanOrEqual(10 + 2 + 2);
    expect(((await call(runtime, 'GET', '/meetings', { token })).body as { meetings: Listed[] }).meetings).toEqual([]);

    const check = await call(runtime, 'POST', '/dev/health-check');
    expect(check.body).toMatchObject({ drained: true, failed: 0 });

    const listed = ((await call(runtime, 'GET', '/meetings?limit=100', { token })).body as { meetings: Listed[] }).meetings;
    const byUri = new Map(listed.map((m) => [m.eventUri, m]));
    const canceled = new Set([booked[1]!.event.uri, booked[2]!.event.uri, booked[3]!.event.uri]);
    for (const b of booked) expect(byUri.get(b.event.uri as string)?.status, b.event.uri as string).toBe(canceled.has(b.event.uri) ? 'canceled' : 'active');
    const newEvent = byUri.get(moved.newEvent.uri as string);
    expect(newEvent).toMatchObject({ status: 'active', startTime: new Date(now + 3 * DAY).toISOString() });
    expect(listed).toHaveLength(11);

    // The host app heard of each through the reconciliation's own writes: one `created` per
    // meeting (those already canceled say so in their meeting), read from the local bus.
    const feed = (await call(runtime, 'GET', '/dev/events?limit=500')).body as { events: Array<{ detail: { userId: string; eventUri: string; change: string; version: number; meeting: { status: string } } }> };
    const mine = feed.events.filter((e) => e.detail.userId === 'reconcile-user');
    const firsts = mine.filter((e, i) => mine.findIndex((o) => o.detail.eventUri === e.detail.eventUri && o.detail.version === e.detail.version) === i);
    expect(firsts.map((e) => e.detail.change)).toEqual(Array.from({ length: 11 }, () => 'created'));
    expect(new Set(firsts.map((e) => e.detail.eventUri))).toEqual(new Set(listed.map((m) => m.eventUri)));
    for (const e of firsts) expect(e.detail.meeting.status).toBe(byUri.get(e.detail.eventUri)?.status);
  });
});
