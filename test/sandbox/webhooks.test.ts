import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { connectSandboxUser, sandboxClient, startSandbox, startWebhookReceiver, verifySignature, type Sandbox, type SandboxUser } from '../support/sandbox.js';

let sb: Sandbox;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let user: SandboxUser;
let token: string;
let n = 0;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

async function api(method: string, path: string, body?: unknown, bearer: string = token): Promise<Answer> {
  const url = path.startsWith('http') ? path : `${sb.baseUrl}${path}`;
  const res = await request(url, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const hookBody = (extra: Record<string, unknown> = {}) => ({
  url: `${receiver.url}/wh/${++n}`,
  events: ['invitee.created', 'invitee.canceled'],
  organization: user.organization,
  user: user.uri,
  scope: 'user',
  ...extra,
});

beforeAll(async () => {
  const t0 = Date.parse('2030-03-01T08:00:00Z');
  sb = await startSandbox({ now: () => t0, deliveryTimeoutMs: 5_000 });
  receiver = await startWebhookReceiver();
  ({ user, tokens: { accessToken: token } } = await connectSandboxUser(sb, sandboxClient(sb), { email: 'hooks@example.test' }));
});
afterAll(async () => {
  await receiver.close();
  await sb.close();
});
// Tests move the sandbox clock by hours; start each with a fresh token.
beforeEach(async () => {
  sb.resetRateLimits();
  token = (await connectSandboxUser(sb, sandboxClient(sb), { email: user.email })).tokens.accessToken;
});
afterEach(() => {
  receiver.respondWith(200);
  sb.setSigningMode('auto');
  sb.setQuirks({ dualSignature: false, returnSigningKey: false, webhookCreateStatus: 201, webhookDeleteStatus: 204 });
  for (const h of sb.webhooks(user.uri)) sb.deleteWebhookAtCalendly(h.uri);
  receiver.received.length = 0;
});

describe('create / get / delete', () => {
  it('create answers the Calendly resource shape, without signing_key', async () => {
    const body = hookBody();
    const r = await api('POST', '/webhook_subscriptions', body);
    expect(r.status).toBe(201);
    const res = r.json.resource as Record<string, unknown>;
    expect(res).toMatchObject({ callback_url: body.url, state: 'active', retry_started_at: null, scope: 'user', organization: user.organization, user: user.uri, group: null, creator: user.uri, events: body.events });
    expect(res).not.toHaveProperty('signing_key');
    expect(Object.keys(res).sort()).toEqual(['callback_url', 'created_at', 'creator', 'events', 'group', 'organization', 'retry_started_at', 'scope', 'state', 'updated_at', 'uri', 'user']);
  });

  it('quirks: 200 instead of 201, signing_key echoed', async () => {
    sb.setQuirks({ webhookCreateStatus: 200, returnSigningKey: true });
    const r = await api('POST', '/webhook_subscriptions', hookBody({ signing_key: 'my-own-key' }));
    expect(r.status).toBe(200);
    expect((r.json.resource as Record<string, unknown>).signing_key).toBe('my-own-key');
  });

  it('409 Already Exists for the same callback URL, user and scope; another user may use the URL', async () => {
    const body = hookBody();
    expect((await api('POST', '/webhook_subscriptions', body)).status).toBe(201);
    const dup = await api('POST', '/webhook_subscriptions', { ...body, events: ['invitee.created'] });
    expect(dup.status).toBe(409);
    expect(dup.json.title).toBe('Already Exists');
    expect(typeof dup.json.message).toBe('string');
    const { user: other, tokens } = await connectSandboxUser(sb, sandboxClient(sb), { email: 'other-hooks@example.test' });
    const r = await api('POST', '/webhook_subscriptions', { ...body, organization: other.organization, user: other.uri }, tokens.accessToken);
    expect(r.status).toBe(201);
  });

  it('validation: 400 Invalid Argument with details per field', async () => {
    const r = await api('POST', '/webhook_subscriptions', { scope: 'user' });
    expect(r.status).toBe(400);
    expect(r.json.title).toBe('Invalid Argument');
    const params = (r.json.details as { parameter: string }[]).map((d) => d.parameter).sort();
    expect(params).toEqual(['events', 'organization', 'url', 'user']);
    const bad = await api('POST', '/webhook_subscriptions', hookBody({ url: 'ftp://x', events: ['invitee.exploded'], scope: 'planet' }));
    expect((bad.json.details as { parameter: string }[]).map((d) => d.parameter).sort()).toEqual(['events', 'scope', 'url']);
    const rfs = await api('POST', '/webhook_subscriptions', hookBody({ events: ['routing_form_submission.created'] }));
    expect(rfs.status).toBe(400);
  });

  it("another user's organization or user is 403", async () => {
    const r = await api('POST', '/webhook_subscriptions', hookBody({ user: 'https://api.calendly.com/users/someone-else' }));
    expect(r.status).toBe(403);
    expect(r.json.title).toBe('Permission Denied');
  });

  it('GET by uuid; DELETE 204 then 404 Resource Not Found; quirk 200 on delete', async () => {
    const created = (await api('POST', '/webhook_subscriptions', hookBody())).json.resource as { uri: string };
    expect((await api('GET', created.uri)).json.resource).toMatchObject({ uri: created.uri });
    const del = await api('DELETE', created.uri);
    expect(del.status).toBe(204);
    const again = await api('DELETE', created.uri);
    expect(again.status).toBe(404);
    expect(again.json).toEqual({ title: 'Resource Not Found', message: 'The server could not find the requested resource.' });
    expect((await api('GET', created.uri)).status).toBe(404);
    sb.setQuirks({ webhookDeleteStatus: 200 });
    const c2 = (await api('POST', '/webhook_subscriptions', hookBody())).json.resource as { uri: string };
    expect((await api('DELETE', c2.uri)).status).toBe(200);
  });
});

describe('list', () => {
  it('requires organization and scope, and user for scope=user', async () => {
    const noUser = await api('GET', `/webhook_subscriptions?organization=${encodeURIComponent(user.organization)}&scope=user`);
    expect(noUser.status).toBe(400);
    expect(noUser.json.details).toEqual([{ parameter: 'user', message: 'is missing' }]);
    const nothing = await api('GET', '/webhook_subscriptions');
    expect((nothing.json.details as { parameter: string }[]).map((d) => d.parameter).sort()).toEqual(['organization', 'scope']);
  });

  it('pages with count / page_token and Calendly pagination fields, both ways', async () => {
    for (let i = 0; i < 7; i++) {
      await api('POST', '/webhook_subscriptions', hookBody());
      sb.advance(1_000);
    }
    const q = `organization=${encodeURIComponent(user.organization)}&scope=user&user=${encodeURIComponent(user.uri)}&count=3`;
    const p1 = await api('GET', `/webhook_subscriptions?${q}`);
    const pag1 = p1.json.pagination as Record<string, string | number | null>;
    expect(pag1).toMatchObject({ count: 3, previous_page: null, previous_page_token: null });
    expect(String(pag1.next_page)).toContain(`page_token=${pag1.next_page_token}`);
    const p2 = await api('GET', String(pag1.next_page));
    const p3 = await api('GET', `/webhook_subscriptions?${q}&page_token=${(p2.json.pagination as Record<string, string>).next_page_token}`);
    const pag3 = p3.json.pagination as Record<string, string | number | null>;
    expect(pag3).toMatchObject({ count: 1, next_page: null, next_page_token: null });
    const all = [p1, p2, p3].flatMap((p) => (p.json.collection as { uri: string }[]).map((h) => h.uri));
    expect(new Set(all).size).toBe(7);
    const back = await api('GET', `/webhook_subscriptions?${q}&page_token=${pag3.previous_page_token}`);
    expect((back.json.collection as { uri: string }[]).map((h) => h.uri)).toEqual((p2.json.collection as { uri: string }[]).map((h) => h.uri));
    const desc = await api('GET', `/webhook_subscriptions?${q}&sort=created_at:desc`);
    expect((desc.json.collection as { uri: string }[])[0]!.uri).toBe(all[6]);
  });
});

describe('deliveries, signatures and disable', () => {
  async function hookFor(extra: Record<string, unknown> = {}) {
    const r = await api('POST', '/webhook_subscriptions', hookBody(extra));
    return r.json.resource as { uri: string; callback_url: string };
  }

  it('signing modes: "app" forces the app key; "hook" the hook key; both with dualSignature', async () => {
    const h = await hookFor({ signing_key: 'per-hook-key' });
    sb.setSigningMode('app');
    await sb.book({ userUri: user.uri, invitees: [{ email: 'a@example.test', name: 'A' }] });
    sb.setSigningMode('hook');
    await sb.book({ userUri: user.uri, invitees: [{ email: 'b@example.test', name: 'B' }] });
    sb.setQuirks({ dualSignature: true });
    await sb.book({ userUri: user.uri, invitees: [{ email: 'c@example.test', name: 'C' }] });
    const got = receiver.received;
    expect(got).toHaveLength(3);
    const sig = (i: number) => String(got[i]!.headers['calendly-webhook-signature']);
    expect(sig(0)).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(sig(0), got[0]!.rawBody, sb.webhookSigningKey)).toBe(true);
    expect(verifySignature(sig(0), got[0]!.rawBody, 'per-hook-key')).toBe(false);
    expect(verifySignature(sig(1), got[1]!.rawBody, 'per-hook-key')).toBe(true);
    expect(verifySignature(sig(1), got[1]!.rawBody, sb.webhookSigningKey)).toBe(false);
    expect(verifySignature(sig(2), got[2]!.rawBody, 'per-hook-key')).toBe(true);
    expect(verifySignature(sig(2), got[2]!.rawBody, sb.webhookSigningKey)).toBe(true);
    expect(sig(0).split(',')[0]).toBe(`t=${Math.floor(sb.now() / 1000)}`);
    expect(got[0]!.json).toMatchObject({ event: 'invitee.created', created_by: user.uri });
    expect(sb.deliveries({ subscription: h.uri }).map((d) => d.signedWith)).toEqual(['app', 'hook', 'both']);
  });

  it('a generated per-hook key is visible to tests via webhooks()', async () => {
    const h = await hookFor();
    sb.setSigningMode('hook');
    await sb.book({ userUri: user.uri, invitees: [{ email: 'd@example.test' }] });
    const key = sb.webhooks(user.uri).find((w) => w.uri === h.uri)!.signingKey;
    expect(verifySignature(String(receiver.received[0]!.headers['calendly-webhook-signature']), receiver.received[0]!.rawBody, key)).toBe(true);
  });

  it('failures are recorded and retried; past 24 h of failing the hook is disabled (sandbox clock)', async () => {
    const h = await hookFor();
    receiver.respondWith(500);
    const booked = await sb.book({ userUri: user.uri, invitees: [{ email: 'e@example.test' }] });
    expect(booked.deliveries.map((d) => [d.status, d.ok])).toEqual([[500, false]]);
    const view = (await api('GET', h.uri)).json.resource as { state: string; retry_started_at: string | null };
    expect(view.state).toBe('active');
    expect(view.retry_started_at).toBe(new Date(sb.now()).toISOString().replace('Z', '000Z'));
    expect(sb.pendingDeliveries()).toBe(1);

    // The access token would expire over a day of sandbox time; read state through the control.
    const view2 = () => sb.webhooks(user.uri).find((w) => w.uri === h.uri)!;
    sb.advance(12 * 3600_000);
    expect((await sb.retryFailedDeliveries()).map((d) => [d.attempt, d.ok])).toEqual([[2, false]]);
    expect(view2().state).toBe('active');

    sb.advance(12 * 3600_000 + 1);
    await sb.retryFailedDeliveries();
    expect(view2().state).toBe('disabled');
    expect(view2().retryStartedAt).not.toBeNull();
    expect(sb.pendingDeliveries()).toBe(0);

    // Disabled hooks get nothing, even once the endpoint is back.
    receiver.respondWith(200);
    const before = receiver.received.length;
    await sb.book({ userUri: user.uri, invitees: [{ email: 'f@example.test' }] });
    expect(receiver.received.length).toBe(before);
  });

  it('a hook that recovers within the window stays active and retry_started_at is cleared', async () => {
    const h = await hookFor();
    receiver.respondWith(503);
    await sb.book({ userUri: user.uri, invitees: [{ email: 'g@example.test' }] });
    receiver.respondWith(200);
    sb.advance(3600_000);
    expect((await sb.retryFailedDeliveries()).map((d) => d.ok)).toEqual([true]);
    expect((await api('GET', h.uri)).json.resource).toMatchObject({ state: 'active', retry_started_at: null });
  });

  it('an unreachable callback counts as failed', async () => {
    await hookFor({ url: 'http://127.0.0.1:9/unreachable' });
    const r = await sb.book({ userUri: user.uri, invitees: [{ email: 'h@example.test' }] });
    expect(r.deliveries[0]).toMatchObject({ ok: false, status: null });
    expect(r.deliveries[0]!.error).toBeTruthy();
  });

  it('disableWebhook / deleteWebhookAtCalendly controls', async () => {
    const h = await hookFor();
    sb.disableWebhook(h.uri);
    expect(((await api('GET', h.uri)).json.resource as { state: string }).state).toBe('disabled');
    sb.deleteWebhookAtCalendly(h.uri);
    expect((await api('GET', h.uri)).status).toBe(404);
  });

  it('only hooks subscribed to the event, of the booking user, get it', async () => {
    await hookFor({ events: ['invitee.canceled'] });
    const other = sb.createUser({ email: 'someone@example.test' });
    await sb.book({ userUri: other.uri, invitees: [{ email: 'x@example.test' }] });
    const r = await sb.book({ userUri: user.uri, invitees: [{ email: 'y@example.test' }] });
    expect(r.deliveries).toHaveLength(0);
    const c = await sb.cancel(String(r.event.uri), { reason: 'sick' });
    expect(c.deliveries.map((d) => d.event)).toEqual(['invitee.canceled']);
  });
});

describe('rate limits, faults and counters', () => {
  it('X-RateLimit-* on every answer, including 401 and 404', async () => {
    for (const [m, p, b] of [
      ['GET', '/users/me', token],
      ['GET', '/users/me', 'bad'],
      ['GET', '/nowhere', token],
    ] as const) {
      const r = await api(m, p, undefined, b);
      expect(r.headers['x-ratelimit-limit']).toBe('500');
      expect(r.headers['x-ratelimit-remaining']).toMatch(/^\d+$/);
      expect(r.headers['x-ratelimit-reset']).toMatch(/^\d+$/);
    }
  });

  it('per-user API limit → 429 with Remaining 0; other users unaffected; resets after the window', async () => {
    const { tokens } = await connectSandboxUser(sb, sandboxClient(sb), { email: 'limit@example.test' });
    sb.setRateLimits({ api: 2 });
    try {
      expect((await api('GET', '/users/me', undefined, tokens.accessToken)).headers['x-ratelimit-remaining']).toBe('1');
      expect((await api('GET', '/users/me', undefined, tokens.accessToken)).status).toBe(200);
      const r = await api('GET', '/users/me', undefined, tokens.accessToken);
      expect(r.status).toBe(429);
      expect(r.headers['x-ratelimit-remaining']).toBe('0');
      expect(r.json.title).toBe('Too Many Requests');
      expect((await api('GET', '/users/me')).status).toBe(200);
      sb.advance(60_000);
      expect((await api('GET', '/users/me', undefined, tokens.accessToken)).status).toBe(200);
    } finally {
      sb.setRateLimits({ api: null });
      sb.resetRateLimits();
    }
  });

  it('inject: status for the next N matching calls, RegExp paths, and call counters by template', async () => {
    sb.resetCalls();
    sb.inject({ method: 'GET', path: /^\/users\//, status: 500, times: 2 });
    expect((await api('GET', '/users/me')).status).toBe(500);
    expect((await api('GET', '/users/me')).status).toBe(500);
    expect((await api('GET', '/users/me')).status).toBe(200);
    const h = (await api('POST', '/webhook_subscriptions', hookBody())).json.resource as { uri: string };
    await api('GET', h.uri);
    await api('DELETE', h.uri);
    expect(sb.calls()).toMatchObject({ 'GET /users/me': 3, 'POST /webhook_subscriptions': 1, 'GET /webhook_subscriptions/{uuid}': 1, 'DELETE /webhook_subscriptions/{uuid}': 1 });
    sb.inject({ path: '/users/me', status: 418, times: 5 });
    sb.clearFaults();
    expect((await api('GET', '/users/me')).status).toBe(200);
  });

  it('loseResponse performs the operation and drops the answer', async () => {
    const body = hookBody();
    sb.inject({ method: 'POST', path: '/webhook_subscriptions', loseResponse: true });
    await expect(api('POST', '/webhook_subscriptions', body)).rejects.toThrow();
    expect(sb.webhooks(user.uri).map((w) => w.callbackUrl)).toContain(body.url);
  });

  it('the JSON control routes drive the same sandbox (settings page)', async () => {
    const ctl = async (method: string, path: string, body?: unknown) => {
      const res = await request(`${sb.baseUrl}/__sandbox${path}`, { method: method as 'GET', headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
    };
    const state = await ctl('GET', '/state');
    expect(state.json).toMatchObject({ baseUrl: sb.baseUrl, clientId: sb.clientId, autoApprove: true, signingMode: 'auto' });
    const u = await ctl('POST', '/users', { email: 'ctl@example.test', name: 'Ctl' });
    expect(u.json).toMatchObject({ email: 'ctl@example.test' });
    const booked = await ctl('POST', '/book', { userUri: u.json.uri, invitees: [{ email: 'z@example.test', name: 'Z' }] });
    const inviteeUri = (booked.json.invitees as { uri: string }[])[0]!.uri;
    expect((await ctl('POST', '/no-show', { inviteeUri })).status).toBe(200);
    expect((await ctl('POST', '/reschedule', { inviteeUri, newStartTime: '2031-01-01T10:00:00Z' })).status).toBe(200);
    expect((await ctl('POST', '/settings', { signingMode: 'hook', quirks: { echoState: false } })).json).toMatchObject({ signingMode: 'hook', quirks: { echoState: false } });
    sb.setQuirks({ echoState: true });
    expect((await ctl('POST', '/settings', { declinedScopes: ['webhooks:write'] })).json).toMatchObject({ declinedScopes: ['webhooks:write'] });
    sb.setDeclinedScopes([]);
    const authUrl = `${sb.baseUrl}/oauth/authorize?client_id=${sb.clientId}&response_type=code&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/cb')}&scope=${encodeURIComponent('users:read webhooks:write')}`;
    const code = new URL(String((await ctl('POST', '/approve', { authorizeUrl: authUrl, email: 'ctl@example.test', decline: ['webhooks:write'] })).json.redirect)).searchParams.get('code')!;
    const exchanged = await request(`${sb.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${sb.clientId}:${sb.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/cb' }).toString(),
    });
    expect(((await exchanged.body.json()) as { scope: string }).scope).toBe('users:read');
    expect((await ctl('POST', '/users/update', { userUri: u.json.uri, plan: 'free', role: 'admin' })).json).toMatchObject({ plan: 'free', role: 'admin' });
    expect((await ctl('POST', '/users/update', { userUri: u.json.uri, plan: 'gold' })).status).toBe(400);
    expect((await ctl('POST', '/faults', { method: 'GET', pathRegex: '^/users/me$', status: 503 })).status).toBe(200);
    expect((await api('GET', '/users/me')).status).toBe(503);
    expect((await ctl('POST', '/advance', { ms: 1000 })).status).toBe(200);
    expect((await ctl('POST', '/cancel', {})).status).toBe(400);
    expect((await ctl('GET', '/nope')).status).toBe(404);
    expect(((await ctl('GET', '/calls')).json as Record<string, number>)['GET /users/me']).toBeGreaterThan(0);
  });
});
