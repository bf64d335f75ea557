/**
 * Sandbox snapshot / restore: what one sandbox saved (as JSON text, the way the local runtime
 * keeps it in a file), a new sandbox serves again over HTTP: tokens, spent refresh tokens, hooks
 * with their keys and retry state, events, invitees, no-shows, failed deliveries waiting for a
 * retry. Injected clocks only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { CalendlyPort, TokenSet } from '../../functions/calendly/port.js';
import { parseSandboxSnapshot, SandboxSnapshotError, type SandboxSnapshot } from '../../sandbox/index.js';
import { connectSandboxUser, sandboxClient, startSandbox, startWebhookReceiver, verifySignature, type Sandbox, type SandboxUser } from '../support/sandbox.js';

const T0 = Date.parse('2030-05-01T09:00:00Z');

async function api(sb: Sandbox, bearer: string, method: string, path: string, body?: unknown) {
  const res = await request(path.startsWith('http') ? path : `${sb.baseUrl}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** What survives: the sandbox's own view of it, with the base URL taken out. */
const portable = (sb: Sandbox, value: unknown) => JSON.parse(JSON.stringify(value).replaceAll(sb.baseUrl, 'BASE')) as unknown;

describe('sandbox snapshot → restore', () => {
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let first: Sandbox;
  let second: Sandbox | undefined;
  let saved: string;
  let user: SandboxUser;
  let spent: TokenSet; // rotated away before the snapshot
  let live: TokenSet; // the pair the "service" holds at the snapshot
  let goodHook: string;
  let failingHook: string;
  let hookViewsBefore: unknown;
  let eventsBefore: unknown;
  let bookedEvent: string;
  let noShowInvitee: string;
  let canceledEvent: string;
  let lastDeliveryId: number;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    first = await startSandbox({ now: () => T0, deliveryTimeoutMs: 5_000 });
    const client = sandboxClient(first);
    ({ user, tokens: spent } = await connectSandboxUser(first, client, { email: 'persist@example.test', name: 'Persist Me' }));
    live = await client.refresh(spent.refreshToken);

    // One healthy hook with a key we chose, and one whose receiver fails (retry pending).
    const created = await client.createWebhookSubscription(live.accessToken, {
      url: `${receiver.url}/ok`,
      events: ['invitee.created', 'invitee.canceled', 'invitee_no_show.created'],
      organization: user.organization,
      user: user.uri,
      scope: 'user',
      signingKey: 'our-own-signing-key-0123456789',
    });
    goodHook = created.uri;
    const other = first.createUser({ email: 'other@example.test', organization: user.organization });
    const otherTokens = await connectSandboxUser(first, client, { email: other.email });
    failingHook = (
      await client.createWebhookSubscription(otherTokens.tokens.accessToken, {
        url: 'http://127.0.0.1:9/refused',
        events: ['invitee.created'],
        organization: user.organization,
        user: other.uri,
        scope: 'user',
      })
    ).uri;
    const failed = await first.book({ userUri: other.uri, invitees: [{ email: 'lost@example.test' }] });
    expect(failed.deliveries.map((d) => d.ok)).toEqual([false]);
    expect(first.pendingDeliveries()).toBe(1);

    const booked = await first.book({ userUri: user.uri, invitees: [{ email: 'guest@example.test', name: 'Guest One' }], name: 'Kept meeting' });
    bookedEvent = booked.event.uri as string;
    noShowInvitee = (booked.invitees[0] as { uri: string }).uri;
    await first.markNoShow(noShowInvitee);
    const toCancel = await first.book({ userUri: user.uri, invitees: [{ email: 'gone@example.test' }], startTime: T0 + 3 * 86_400_000 });
    canceledEvent = toCancel.event.uri as string;
    await first.cancel(canceledEvent, { reason: 'clash' });
    first.seedEvents(user.uri, 50, { startFrom: T0 + 10 * 86_400_000 });
    first.advance(60_000); // an offset on the clock, which must survive too

    hookViewsBefore = portable(first, first.webhooks());
    eventsBefore = portable(first, (await api(first, live.accessToken, 'GET', `/scheduled_events?user=${encodeURIComponent(user.uri)}&count=100`)).json.collection);
    lastDeliveryId = Math.max(...first.deliveries().map((d) => d.id));
    saved = JSON.stringify(first.snapshot());
    await first.close();
  }, 60_000);

  afterAll(async () => {
    await second?.close();
    await receiver.close();
  });

  it('comes back on another port with URIs moved, tokens valid and spent refresh tokens still refused', async () => {
    // The base clock starts over (an injected clock in a new process); sandbox time must not run back.
    second = await startSandbox({ now: () => T0 - 3_600_000, initialState: parseSandboxSnapshot(JSON.parse(saved)), deliveryTimeoutMs: 5_000 });
    const sb = second;
    const snap = JSON.parse(saved) as SandboxSnapshot;
    expect(sb.baseUrl).not.toBe(snap.baseUrl);
    expect(sb.now()).toBe(snap.savedAt);
    // App credentials come from the snapshot when the options do not give them.
    expect(sb.clientId).toBe(snap.app.clientId);
    const client: CalendlyPort = sandboxClient(sb);

    const me = await client.getCurrentUser(live.accessToken);
    expect(me.email).toBe('persist@example.test');
    expect(me.uri).toBe(`${sb.baseUrl}/users/${user.uuid}`);
    expect(me.currentOrganization.startsWith(`${sb.baseUrl}/organizations/`)).toBe(true);
    // The demo user was saved too; the start did not make a second one.
    expect(sb.users().filter((u) => u.email === 'demo@sandbox.test')).toHaveLength(1);

    await expect(client.refresh(spent.refreshToken)).rejects.toMatchObject({ kind: 'invalid_grant' });

    // Access tokens expire on the restored clock: 2 h after issue (the snapshot was 1 min in).
    sb.advance(7200_000 - 60_000 - 1_000);
    expect((await api(sb, live.accessToken, 'GET', '/users/me')).status).toBe(200);
    sb.advance(2_000);
    expect((await api(sb, live.accessToken, 'GET', '/users/me')).status).toBe(401);

    // The saved refresh token still rotates, and the restored grant keeps its scopes.
    const rotated = await client.refresh(live.refreshToken);
    expect((rotated.scope ?? '').split(' ').sort()).toEqual(['scheduled_events:read', 'users:read', 'webhooks:read', 'webhooks:write']);
    expect((await client.getCurrentUser(rotated.accessToken)).email).toBe('persist@example.test');
    await expect(client.refresh(live.refreshToken)).rejects.toMatchObject({ kind: 'invalid_grant' });
    live = rotated;
    expect((await api(sb, live.accessToken, 'GET', '/users/me')).status).toBe(200);
  });

  it('keeps hooks (keys, state, retry_started_at), events, invitees and no-shows', async () => {
    const sb = second!;
    expect(portable(sb, sb.webhooks())).toEqual(hookViewsBefore);
    const good = sb.webhooks().find((h) => h.uri.endsWith(goodHook.split('/').pop()!))!;
    expect(good).toMatchObject({ signingKey: 'our-own-signing-key-0123456789', signingKeyGiven: true, state: 'active', retryStartedAt: null });
    const failing = sb.webhooks().find((h) => h.uri.endsWith(failingHook.split('/').pop()!))!;
    expect(failing.retryStartedAt).not.toBeNull();

    const listed = await api(sb, live.accessToken, 'GET', `/scheduled_events?user=${encodeURIComponent(`${sb.baseUrl}/users/${user.uuid}`)}&count=100`);
    expect(listed.status).toBe(200);
    expect(portable(sb, listed.json.collection)).toEqual(eventsBefore);
    expect((listed.json.collection as unknown[]).length).toBe(52);

    const eventUuid = bookedEvent.split('/').pop()!;
    const invitees = await api(sb, live.accessToken, 'GET', `/scheduled_events/${eventUuid}/invitees`);
    expect(invitees.json.collection).toEqual([expect.objectContaining({ email: 'guest@example.test', no_show: expect.objectContaining({ uri: expect.stringContaining(`${sb.baseUrl}/invitee_no_shows/`) }) })]);
    const canceled = await api(sb, live.accessToken, 'GET', `/scheduled_events/${canceledEvent.split('/').pop()!}`);
    expect(canceled.json.resource).toMatchObject({ status: 'canceled', cancellation: { reason: 'clash' } });
    // Controls work on restored records (the no-show can be taken back).
    const unmarked = await sb.unmarkNoShow(`${sb.baseUrl}/scheduled_events/${eventUuid}/invitees/${noShowInvitee.split('/').pop()!}`);
    expect(unmarked.invitees[0]).toMatchObject({ no_show: null });
  });

  it('delivers new bookings to restored hooks and retries the saved failed delivery', async () => {
    const sb = second!;
    const before = receiver.received.length;
    const booked = await sb.book({ userUri: `${sb.baseUrl}/users/${user.uuid}`, invitees: [{ email: 'after@example.test' }] });
    expect(booked.deliveries.map((d) => [d.status, d.subscription.startsWith(sb.baseUrl)])).toEqual([[200, true]]);
    expect(booked.deliveries[0]!.id).toBeGreaterThan(lastDeliveryId);
    const got = receiver.received.slice(before).find((r) => r.json.event === 'invitee.created')!;
    // Signed with the key the hook was created with, restored from the snapshot.
    expect(verifySignature(String(got.headers['calendly-webhook-signature']), got.rawBody, 'our-own-signing-key-0123456789')).toBe(true);
    expect((got.json.payload as { email: string }).email).toBe('after@example.test');

    // The delivery that failed before the snapshot is still queued, with its payload moved to the new base.
    expect(sb.pendingDeliveries()).toBe(1);
    const retried = await sb.retryFailedDeliveries();
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ attempt: 2, ok: false });
    expect(retried[0]!.body).toContain(`${sb.baseUrl}/scheduled_events/`);
    expect(retried[0]!.body).not.toContain((JSON.parse(saved) as SandboxSnapshot).baseUrl);
    // 24 h after retry_started_at (kept from before the snapshot) the hook is disabled.
    sb.advance(24 * 3_600_000);
    await sb.retryFailedDeliveries();
    expect(sb.webhooks().find((h) => h.uri.endsWith(failingHook.split('/').pop()!))!.state).toBe('disabled');
  });

  it('on the same port keeps every URI as it was (what the local runtime does)', async () => {
    await second?.close();
    const snap = parseSandboxSnapshot(JSON.parse(saved));
    const port = Number(new URL(snap.baseUrl).port);
    second = await startSandbox({ port, now: () => T0, initialState: snap });
    expect(second.baseUrl).toBe(snap.baseUrl);
    expect(portable(second, second.webhooks())).toEqual(hookViewsBefore);
    expect(second.webhooks().find((h) => h.uri === goodHook)).toBeDefined();
    // A snapshot of a restored sandbox is the same state again (idempotent round trip).
    const again = second.snapshot();
    expect({ ...again, savedAt: 0 }).toEqual({ ...snap, savedAt: 0 });
  });

  it('refuses unusable snapshots with SandboxSnapshotError, before taking a port', async () => {
    const snap = JSON.parse(saved) as SandboxSnapshot;
    expect(() => parseSandboxSnapshot({ ...snap, version: 3 })).toThrow(/unsupported sandbox snapshot version 3/);
    expect(() => parseSandboxSnapshot('{"half": ')).toThrow(SandboxSnapshotError);
    expect(() => parseSandboxSnapshot(null)).toThrow(SandboxSnapshotError);
    expect(() => parseSandboxSnapshot({ ...snap, users: 'nope' })).toThrow(/users/);
    // Dangling references (an invitee of an event that is not there) are damage too.
    expect(() => parseSandboxSnapshot({ ...snap, events: snap.events.slice(1) })).toThrow(/unknown event/);
    await expect(startSandbox({ initialState: { ...snap, tokens: [{ bad: true }] } as unknown as SandboxSnapshot })).rejects.toThrow(SandboxSnapshotError);
    // Tokens of another OAuth app mean nothing here.
    await expect(startSandbox({ clientId: 'someone-else', initialState: snap })).rejects.toThrow(/another OAuth app/);
  });

  it('a version 1 snapshot (before scopes, roles, plans and retry schedules) still loads and works', async () => {
    await second?.close();
    const v2 = JSON.parse(saved) as SandboxSnapshot;
    const v1 = {
      ...v2,
      version: 1,
      users: v2.users.map(({ role: _r, plan: _p, ...u }) => u),
      tokens: v2.tokens.map(({ scopes: _s, ...t }) => t),
      pendingDeliveries: v2.pendingDeliveries.map(({ createdAt: _c, firstT: _f, nextAttemptAt: _n, ...p }) => p),
    };
    const port = Number(new URL(v2.baseUrl).port);
    second = await startSandbox({ port, now: () => T0, initialState: parseSandboxSnapshot(JSON.parse(JSON.stringify(v1))) });
    // Its tokens can do what the service needs; its users own their organizations (the second user of one is a member).
    const restoredLive = (JSON.parse(saved) as SandboxSnapshot).tokens.find((t) => t.kind === 'access' && !t.revoked && t.userUri.endsWith(user.uuid))!;
    expect((await api(second, restoredLive.token, 'GET', `/scheduled_events?user=${encodeURIComponent(user.uri)}&count=1`)).status).toBe(200);
    expect(second.users().find((u) => u.uuid === user.uuid)).toMatchObject({ role: 'owner', plan: 'paid' });
    expect(second.users().find((u) => u.email === 'other@example.test')).toMatchObject({ role: 'user' });
    expect(second.snapshot().version).toBe(2);
    // The pending delivery is due at once.
    expect((await second.advanceDeliveries(0)).map((d) => d.attempt)).toEqual([2]);
  });

  it('the snapshot is a copy: changing it does not change the sandbox', () => {
    const snap = second!.snapshot();
    snap.hooks[0]!.signingKey = 'tampered';
    snap.users.length = 0;
    expect(second!.webhooks().some((h) => h.signingKey === 'tampered')).toBe(false);
    expect(second!.users().length).toBeGreaterThan(0);
  });
});
