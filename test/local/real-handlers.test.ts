/**
 * The runtime with the real handlers and the built-in sandbox, driven only over HTTP as a user
 * (and the sandbox, playing Calendly) would: connect through OAuth, get a booking delivered as a
 * signed webhook, list it, run a health-check cycle. This checks the hand-off (environment,
 * events, queues), not the flows' details, which their own tests cover.
 */
import { describe, expect, it } from 'vitest';
import { logSinks } from '../../functions/shared/logger.js';
import { call, useLocalRuntime } from '../support/runtime.js';

const lines: string[] = [];
logSinks.push((line) => lines.push(JSON.stringify(line)));

const rt = useLocalRuntime();

describe('local runtime with the real handlers and the sandbox', () => {
  it('connects, ingests a booking, lists it and runs a health check', async () => {
    const runtime = rt();
    expect(runtime.calendly.mode).toBe('sandbox');
    const sandbox = runtime.sandbox!;
    const session = await call(runtime, 'POST', '/dev/session', { body: { userId: 'e2e-user' } });
    const token = (session.body as { token: string }).token;

    expect((await call(runtime, 'GET', '/connections/calendly', { token })).status).toBe(404);

    const connect = await call(runtime, 'POST', '/connections/calendly/connect', { token });
    expect(connect.status).toBe(200);
    const { authorizeUrl } = connect.body as { authorizeUrl: string };
    expect(authorizeUrl.startsWith(`${sandbox.baseUrl}/oauth/authorize?`)).toBe(true);
    expect(new URL(authorizeUrl).searchParams.get('redirect_uri')).toBe(`${runtime.publicBaseUrl}/oauth/calendly/callback`);

    // The sandbox approves at once and redirects the "browser" to our callback.
    const consent = await fetch(authorizeUrl, { redirect: 'manual' });
    const callbackUrl = consent.headers.get('location')!;
    expect(callbackUrl.startsWith(`${runtime.publicBaseUrl}/oauth/calendly/callback?`)).toBe(true);
    const back = await fetch(callbackUrl, { redirect: 'manual' });
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe(`${runtime.publicBaseUrl}/?calendly=connected`);

    const status = await call(runtime, 'GET', '/connections/calendly', { token });
    expect(status.body).toMatchObject({ status: 'connected', webhook: { state: 'active' } });
    const userUri = (status.body as { calendlyUserUri: string }).calendlyUserUri;

    // Calendly (the sandbox) delivers invitee.created to our webhook route, signed.
    const booked = await sandbox.book({ userUri, invitees: [{ email: 'guest@example.test', name: 'Guest' }], name: 'Intro call' });
    expect(booked.deliveries.map((d) => d.status)).toEqual([200]);
    await runtime.drain();

    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const meetings = await call(runtime, 'GET', `/meetings?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, { token });
    expect(meetings.status).toBe(200);
    expect((meetings.body as { meetings: Array<{ name: string; eventUri: string }> }).meetings).toEqual([
      expect.objectContaining({ name: 'Intro call', eventUri: booked.event.uri }),
    ]);

    // The stored booking was published to the host app as one Meeting Changed `created` event,
    // and the host's cancellation as one `canceled` (GET /dev/events is the local bus).
    const canceled = await sandbox.cancel(String(booked.event.uri), { reason: 'conflict' });
    expect(canceled.deliveries.map((d) => d.status)).toEqual([200]);
    await runtime.drain();
    const feed = await call(runtime, 'GET', '/dev/events');
    const all = (feed.body as { events: Array<{ detailType: string; detail: { eventUri: string; change: string; version: number; userId: string; meeting: { name: string; status: string; invitees: Array<{ email: string }> } } }> }).events;
    // At least once: a write that carried an entry not yet cleared publishes it again. A consumer
    // keeps the first of each (eventUri, version).
    const published = all.filter((e, i) => all.findIndex((o) => o.detail.eventUri === e.detail.eventUri && o.detail.version === e.detail.version) === i);
    expect(published.map((e) => [e.detailType, e.detail.eventUri, e.detail.change, e.detail.version])).toEqual([
      ['Meeting Changed', booked.event.uri, 'created', 1],
      ['Meeting Changed', booked.event.uri, 'canceled', 2],
      ['Meeting Changed', booked.event.uri, 'invitee_canceled', 3],
    ]);
    expect(published[0]?.detail).toMatchObject({ userId: 'e2e-user', meeting: { name: 'Intro call', status: 'active', invitees: [{ email: 'guest@example.test' }] } });
    expect(published[2]?.detail.meeting.status).toBe('canceled');

    const check = await call(runtime, 'POST', '/dev/health-check');
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ drained: true, failed: 0 });
    expect((check.body as { processed: number }).processed).toBeGreaterThanOrEqual(1);

    // Nothing secret of the app or the session reached the logs.
    const logged = lines.join('\n');
    for (const secret of [sandbox.clientSecret, sandbox.webhookSigningKey, token]) expect(logged).not.toContain(secret);
  });
});
