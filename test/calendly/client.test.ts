import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CalendlyPort, TokenSet } from '../../functions/calendly/port.js';
import { CalendlyError, REQUIRED_SCOPES, WEBHOOK_EVENTS } from '../../functions/calendly/port.js';
import { connectSandboxUser, sandboxClient, startSandbox, startWebhookReceiver, pkcePair, TEST_REDIRECT_URI, type Sandbox, type SandboxUser } from '../support/sandbox.js';

let sandbox: Sandbox;
let client: CalendlyPort;
let shortTimeouts: CalendlyPort;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let user: SandboxUser;
let tokens: TokenSet;
let n = 0;

const sleeps: number[] = [];
// The client's clock moves with its (recorded, not real) sleeps, as a real clock would; each test
// starts in a new rate window, so a 429 one test provokes is not remembered by the next.
let clockOffset = 0;
const clientClock = { now: () => Date.now() + clockOffset };
const recordingSleeper = {
  sleep: async (ms: number) => {
    sleeps.push(ms);
    clockOffset += ms;
  },
};

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Asserts the error is a CalendlyError of the kind and that no secret leaks into it. */
async function expectError(p: Promise<unknown>, kind: string, secrets: string[] = []): Promise<CalendlyError> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CalendlyError);
  const ce = err as CalendlyError;
  expect(ce.kind).toBe(kind);
  const dump = `${ce.message} ${JSON.stringify(ce)} ${String(ce.stack)} ${JSON.stringify((ce as { cause?: unknown }).cause ?? null)}`;
  for (const s of [...secrets, tokens?.accessToken, tokens?.refreshToken, sandbox.clientSecret].filter(Boolean)) expect(dump).not.toContain(s);
  return ce;
}

beforeAll(async () => {
  sandbox = await startSandbox();
  receiver = await startWebhookReceiver();
  client = sandboxClient(sandbox, { sleeper: recordingSleeper, clock: clientClock, maxRetries: 2 });
  // Short timeouts only where a test is about timeouts; generous everywhere else (loaded CI).
  shortTimeouts = sandboxClient(sandbox, { sleeper: recordingSleeper, clock: clientClock, headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000, maxRetries: 2 });
  ({ user, tokens } = await connectSandboxUser(sandbox, client, { email: 'client-owner@example.test', name: 'Client Owner' }));
});

afterAll(async () => {
  await receiver.close();
  await sandbox.close();
});

afterEach(() => {
  sandbox.clearFaults();
  sandbox.resetRateLimits();
  sleeps.length = 0;
  clockOffset += 61_000;
});

const hookInput = (suffix: string) => ({
  url: `${receiver.url}/hooks/${suffix}-${++n}`,
  events: WEBHOOK_EVENTS,
  organization: user.organization,
  user: user.uri,
  scope: 'user' as const,
});

describe('OAuth through the client', () => {
  it('exchanges a code for a TokenSet with owner, organization and expiresAt = (created_at + expires_in) * 1000', () => {
    expect(tokens.ownerUri).toBe(user.uri);
    expect(tokens.organizationUri).toBe(user.organization);
    const expected = (Math.floor(sandbox.now() / 1000) + 7200) * 1000;
    expect(Math.abs(tokens.expiresAt - expected)).toBeLessThanOrEqual(5_000);
    expect(tokens.scope?.split(' ').sort()).toEqual([...REQUIRED_SCOPES].sort());
  });

  it('authorizeUrl carries client_id, response_type, redirect_uri, PKCE S256, state and the four scopes', () => {
    const u = new URL(client.authorizeUrl({ state: 'st-1', codeChallenge: 'ch', redirectUri: TEST_REDIRECT_URI }));
    expect(u.origin + u.pathname).toBe(`${sandbox.baseUrl}/oauth/authorize`);
    expect(Object.fromEntries(u.searchParams)).toMatchObject({ client_id: sandbox.clientId, response_type: 'code', redirect_uri: TEST_REDIRECT_URI, code_challenge: 'ch', code_challenge_method: 'S256', state: 'st-1' });
    expect(u.searchParams.get('scope')).toBe('users:read scheduled_events:read webhooks:read webhooks:write');
  });

  it('refresh rotates; the spent refresh token is refused with invalid_grant (no token in the error)', async () => {
    const { tokens: t } = await connectSandboxUser(sandbox, client, { email: 'rotate@example.test' });
    const next = await client.refresh(t.refreshToken);
    expect(next.refreshToken).not.toBe(t.refreshToken);
    expect(next.accessToken).not.toBe(t.accessToken);
    await expectError(client.refresh(t.refreshToken), 'invalid_grant', [t.refreshToken]);
    const me = await client.getCurrentUser(next.accessToken);
    expect(me.email).toBe('rotate@example.test');
  });

  it('a used or unknown code is invalid_grant; wrong client secret is unauthenticated', async () => {
    const { verifier, challenge } = pkcePair();
    const url = client.authorizeUrl({ state: 's', codeChallenge: challenge, redirectUri: TEST_REDIRECT_URI });
    const code = new URL(sandbox.approve(url, { email: user.email })).searchParams.get('code')!;
    await client.exchangeCode({ code, redirectUri: TEST_REDIRECT_URI, codeVerifier: verifier });
    await expectError(client.exchangeCode({ code, redirectUri: TEST_REDIRECT_URI, codeVerifier: verifier }), 'invalid_grant', [code, verifier]);
    const bad = sandboxClient(sandbox, { clientSecret: 'not-the-secret-value' });
    await expectError(bad.refresh('whatever-refresh-token'), 'unauthenticated', ['not-the-secret-value', 'whatever-refresh-token']);
  });

  it('revoke makes the access token unauthenticated on the API', async () => {
    const { tokens: t } = await connectSandboxUser(sandbox, client, { email: 'revoke@example.test' });
    await client.revoke(t.refreshToken);
    await expectError(client.getCurrentUser(t.accessToken), 'unauthenticated', [t.accessToken]);
    await expectError(client.refresh(t.refreshToken), 'invalid_grant', [t.refreshToken]);
  });

  it('token calls are never retried: 503 on /oauth/token is upstream after one call', async () => {
    const { tokens: t } = await connectSandboxUser(sandbox, client, { email: 'token-503@example.test' });
    sandbox.resetCalls();
    sandbox.inject({ method: 'POST', path: '/oauth/token', status: 503 });
    await expectError(client.refresh(t.refreshToken), 'upstream', [t.refreshToken]);
    expect(sandbox.calls()['POST /oauth/token']).toBe(1);
  });

  it('a lost token answer spends the refresh token (network error, then invalid_grant)', async () => {
    const { tokens: t } = await connectSandboxUser(sandbox, client, { email: 'token-lost@example.test' });
    sandbox.inject({ method: 'POST', path: '/oauth/token', loseResponse: true });
    await expectError(client.refresh(t.refreshToken), 'network', [t.refreshToken]);
    await expectError(client.refresh(t.refreshToken), 'invalid_grant', [t.refreshToken]);
  });

  it('429 on /oauth/token is rate_limited with retryAfterMs and is not retried', async () => {
    const { tokens: t } = await connectSandboxUser(sandbox, client, { email: 'token-429@example.test' });
    sandbox.resetCalls();
    sandbox.inject({ method: 'POST', path: '/oauth/token', status: 429, headers: { 'X-RateLimit-Reset': '2' } });
    const e = await expectError(client.refresh(t.refreshToken), 'rate_limited', [t.refreshToken]);
    expect(e.retryAfterMs).toBe(2000);
    expect(sandbox.calls()['POST /oauth/token']).toBe(1);
  });
});

describe('API endpoints', () => {
  it('getCurrentUser maps /users/me', async () => {
    const me = await client.getCurrentUser(tokens.accessToken);
    expect(me).toMatchObject({ uri: user.uri, email: 'client-owner@example.test', name: 'Client Owner', currentOrganization: user.organization });
  });

  it('401 on an unknown token is unauthenticated and does not echo the token', async () => {
    await expectError(client.getCurrentUser('bogus-token-value-123456'), 'unauthenticated', ['bogus-token-value-123456']);
  });

  it('create, get, list, delete (then 404 → gone), and a duplicate is conflict', async () => {
    const input = hookInput('crud');
    const hook = await client.createWebhookSubscription(tokens.accessToken, input);
    expect(hook).toMatchObject({ callbackUrl: input.url, state: 'active', scope: 'user', user: user.uri, organization: user.organization, retryStartedAt: null });
    expect([...hook.events].sort()).toEqual([...WEBHOOK_EVENTS].sort());
    expect(hook.uri.startsWith(`${sandbox.baseUrl}/webhook_subscriptions/`)).toBe(true);

    await expectError(client.createWebhookSubscription(tokens.accessToken, input), 'conflict');
    expect(await client.getWebhookSubscription(tokens.accessToken, hook.uri)).toEqual(hook);
    const listed = await collect(client.listWebhookSubscriptions(tokens.accessToken, { organization: user.organization, user: user.uri, scope: 'user' }));
    expect(listed.map((h) => h.uri)).toContain(hook.uri);

    expect(await client.deleteWebhookSubscription(tokens.accessToken, hook.uri)).toBe('deleted');
    expect(await client.deleteWebhookSubscription(tokens.accessToken, hook.uri)).toBe('gone');
    await expectError(client.getWebhookSubscription(tokens.accessToken, hook.uri), 'not_found');
  });

  it('create validation errors are bad_request', async () => {
    await expectError(client.createWebhookSubscription(tokens.accessToken, { ...hookInput('bad'), url: 'not a url' }), 'bad_request');
  });

  it('refuses to send a token to a URI outside the API base', async () => {
    await expectError(client.getWebhookSubscription(tokens.accessToken, 'https://evil.example/webhook_subscriptions/x'), 'bad_request');
  });

  it('lists webhook subscriptions across pages (250 hooks, count=100)', async () => {
    const { user: u, tokens: t } = await connectSandboxUser(sandbox, client, { email: 'many-hooks@example.test' });
    for (let i = 0; i < 250; i++) {
      await client.createWebhookSubscription(t.accessToken, { url: `${receiver.url}/many/${i}`, events: ['invitee.created'], organization: u.organization, user: u.uri, scope: 'user' });
    }
    sandbox.resetCalls();
    const all = await collect(client.listWebhookSubscriptions(t.accessToken, { organization: u.organization, user: u.uri, scope: 'user' }));
    expect(all).toHaveLength(250);
    expect(new Set(all.map((h) => h.uri)).size).toBe(250);
    expect(sandbox.calls()['GET /webhook_subscriptions']).toBe(3);
  });

  it('pages scheduled events (250) and iterates invitees', async () => {
    const { user: u, tokens: t } = await connectSandboxUser(sandbox, client, { email: 'events@example.test' });
    sandbox.seedEvents(u.uri, 250, { startFrom: '2030-01-01T09:00:00Z' });
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.listScheduledEventsPage(t.accessToken, { user: u.uri, organization: u.organization, count: 100, ...(pageToken ? { pageToken } : {}) });
      pages++;
      seen.push(...page.items.map((e) => e.uri));
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(250);
    const first = await client.listScheduledEventsPage(t.accessToken, { user: u.uri, count: 1 });
    expect(first.items[0]).toMatchObject({ status: 'active', startTime: '2030-01-01T09:00:00.000000Z', name: 'Seeded meeting 1' });
    const invitees = await collect(client.listEventInvitees(t.accessToken, first.items[0]!.uri));
    expect(invitees).toHaveLength(1);
    expect(invitees[0]).toMatchObject({ email: 'guest1@example.test', status: 'active', rescheduled: false, oldInvitee: null, newInvitee: null, noShow: null, event: first.items[0]!.uri });
  });

  it('filters events by time window and status', async () => {
    const { user: u, tokens: t } = await connectSandboxUser(sandbox, client, { email: 'filters@example.test' });
    sandbox.seedEvents(u.uri, 10, { startFrom: '2031-01-01T00:00:00Z', intervalMin: 60 });
    sandbox.seedEvents(u.uri, 3, { startFrom: '2031-02-01T00:00:00Z', status: 'canceled' });
    const win = await client.listScheduledEventsPage(t.accessToken, { user: u.uri, minStartTime: '2031-01-01T02:00:00Z', maxStartTime: '2031-01-01T05:00:00Z' });
    expect(win.items.map((e) => e.startTime)).toEqual(['2031-01-01T02:00:00.000000Z', '2031-01-01T03:00:00.000000Z', '2031-01-01T04:00:00.000000Z']);
    const canceled = await client.listScheduledEventsPage(t.accessToken, { user: u.uri, status: 'canceled' });
    expect(canceled.items).toHaveLength(3);
    expect(canceled.items[0]!.cancellation).toMatchObject({ reason: 'seeded', cancelerType: 'host' });
    const desc = await client.listScheduledEventsPage(t.accessToken, { user: u.uri, sort: 'start_time:desc', count: 1 });
    expect(desc.items[0]!.startTime).toBe('2031-02-01T02:00:00.000000Z');
  });
});

describe('faults', () => {
  it('5xx on GET is retried with backoff and succeeds', async () => {
    sandbox.resetCalls();
    sandbox.inject({ method: 'GET', path: '/users/me', status: 503, times: 2 });
    const me = await client.getCurrentUser(tokens.accessToken);
    expect(me.uri).toBe(user.uri);
    expect(sandbox.calls()['GET /users/me']).toBe(3);
    expect(sleeps).toHaveLength(2);
  });

  it('5xx on GET beyond maxRetries is upstream with the status', async () => {
    sandbox.resetCalls();
    sandbox.inject({ method: 'GET', path: '/users/me', status: 500, times: 5 });
    const e = await expectError(client.getCurrentUser(tokens.accessToken), 'upstream');
    expect(e.status).toBe(500);
    expect(sandbox.calls()['GET /users/me']).toBe(3);
  });

  it('5xx on POST create is not retried', async () => {
    sandbox.resetCalls();
    sandbox.inject({ method: 'POST', path: '/webhook_subscriptions', status: 502 });
    await expectError(client.createWebhookSubscription(tokens.accessToken, hookInput('post-5xx')), 'upstream');
    expect(sandbox.calls()['POST /webhook_subscriptions']).toBe(1);
  });

  it('a connection reset on GET is retried; on POST it is a network error', async () => {
    sandbox.resetCalls();
    sandbox.inject({ method: 'GET', path: '/users/me', resetConnection: true });
    expect((await client.getCurrentUser(tokens.accessToken)).uri).toBe(user.uri);
    expect(sandbox.calls()['GET /users/me']).toBe(2);
    sandbox.inject({ method: 'POST', path: '/webhook_subscriptions', resetConnection: true });
    await expectError(client.createWebhookSubscription(tokens.accessToken, hookInput('post-reset')), 'network');
    expect(sandbox.calls()['POST /webhook_subscriptions']).toBe(1);
  });

  it('a delay beyond the timeout is a network error for POST and retried for GET', async () => {
    sandbox.resetCalls();
    sandbox.inject({ method: 'GET', path: '/webhook_subscriptions/{uuid}', delayMs: 3_000 });
    const hook = await client.createWebhookSubscription(tokens.accessToken, hookInput('slow'));
    expect((await shortTimeouts.getWebhookSubscription(tokens.accessToken, hook.uri)).uri).toBe(hook.uri);
    expect(sandbox.calls()['GET /webhook_subscriptions/{uuid}']).toBeGreaterThanOrEqual(2);
    sandbox.inject({ method: 'POST', path: '/webhook_subscriptions', delayMs: 3_000 });
    const e = await expectError(shortTimeouts.createWebhookSubscription(tokens.accessToken, hookInput('slow-post')), 'network');
    expect(e.message).toContain('UND_ERR_HEADERS_TIMEOUT');
    expect(sandbox.calls()['POST /webhook_subscriptions']).toBe(2);
  });

  it('a body that stalls beyond the body timeout: GET retried, POST a network error', async () => {
    sandbox.resetCalls();
    sandbox.inject({ method: 'GET', path: '/users/me', stallBodyMs: 3_000 });
    expect((await shortTimeouts.getCurrentUser(tokens.accessToken)).uri).toBe(user.uri);
    expect(sandbox.calls()['GET /users/me']).toBeGreaterThanOrEqual(2);
    const input = hookInput('stall-post');
    sandbox.inject({ method: 'POST', path: '/webhook_subscriptions', stallBodyMs: 3_000 });
    const e = await expectError(shortTimeouts.createWebhookSubscription(tokens.accessToken, input), 'network');
    expect(e.message).toContain('UND_ERR_BODY_TIMEOUT');
    expect(sandbox.calls()['POST /webhook_subscriptions']).toBe(1);
  });

  it('a create whose answer is lost: the subscription exists at Calendly and a re-create is 409', async () => {
    const input = hookInput('lost');
    sandbox.inject({ method: 'POST', path: '/webhook_subscriptions', loseResponse: true });
    await expectError(client.createWebhookSubscription(tokens.accessToken, input), 'network');
    const there = sandbox.webhooks(user.uri).filter((h) => h.callbackUrl === input.url);
    expect(there).toHaveLength(1);
    await expectError(client.createWebhookSubscription(tokens.accessToken, input), 'conflict');
    const listed = await collect(client.listWebhookSubscriptions(tokens.accessToken, { organization: user.organization, user: user.uri, scope: 'user' }));
    expect(listed.filter((h) => h.callbackUrl === input.url)).toHaveLength(1);
  });

  it('a lost DELETE answer is retried and resolves gone', async () => {
    const hook = await client.createWebhookSubscription(tokens.accessToken, hookInput('lost-delete'));
    sandbox.inject({ method: 'DELETE', path: '/webhook_subscriptions/{uuid}', loseResponse: true });
    expect(await client.deleteWebhookSubscription(tokens.accessToken, hook.uri)).toBe('gone');
  });

  it('429 with a short X-RateLimit-Reset: GET waits that long once and succeeds', async () => {
    sandbox.resetCalls();
    sandbox.inject({ method: 'GET', path: '/users/me', status: 429, headers: { 'X-RateLimit-Reset': '3' } });
    expect((await client.getCurrentUser(tokens.accessToken)).uri).toBe(user.uri);
    expect(sandbox.calls()['GET /users/me']).toBe(2);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(3_000);
    expect(sleeps[0]).toBeLessThan(3_300);
  });

  it('429 with a long reset, twice in a row, or on POST is rate_limited with retryAfterMs', async () => {
    sandbox.inject({ method: 'GET', path: '/users/me', status: 429, headers: { 'X-RateLimit-Reset': '60' } });
    expect((await expectError(client.getCurrentUser(tokens.accessToken), 'rate_limited')).retryAfterMs).toBe(60_000);
    clockOffset += 61_000; // the next window
    sandbox.inject({ method: 'GET', path: '/users/me', status: 429, headers: { 'X-RateLimit-Reset': '1' }, times: 2 });
    expect((await expectError(client.getCurrentUser(tokens.accessToken), 'rate_limited')).retryAfterMs).toBe(1_000);
    clockOffset += 61_000;
    sandbox.inject({ method: 'POST', path: '/webhook_subscriptions', status: 429, headers: { 'X-RateLimit-Reset': '1' } });
    await expectError(client.createWebhookSubscription(tokens.accessToken, hookInput('post-429')), 'rate_limited');
  });

  it('paces by the rate budget: a spent window fails fast without a request, or waits a short reset out first', async () => {
    sandbox.inject({ method: 'GET', path: '/users/me', status: 429, headers: { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '60' } });
    await expectError(client.getCurrentUser(tokens.accessToken), 'rate_limited');
    sandbox.resetCalls();
    // The window is known to be spent: no request is sent into it.
    expect((await expectError(client.getCurrentUser(tokens.accessToken), 'rate_limited')).retryAfterMs).toBeGreaterThan(55_000);
    expect(sandbox.calls()['GET /users/me']).toBeUndefined();
    // Once the window has passed, calls go again.
    clockOffset += 61_000;
    expect((await client.getCurrentUser(tokens.accessToken)).uri).toBe(user.uri);
    // A spent window resetting within maxRateLimitWaitMs: waited out before sending, no 429 spent.
    sandbox.inject({ method: 'GET', path: '/users/me', status: 200, body: { resource: { uri: user.uri, email: user.email, name: user.name, current_organization: user.organization } }, headers: { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '2' } });
    await client.getCurrentUser(tokens.accessToken);
    sleeps.length = 0;
    sandbox.resetCalls();
    expect((await client.getCurrentUser(tokens.accessToken)).uri).toBe(user.uri);
    expect(sleeps).toHaveLength(1);
    // Until the reset the answer announced (2 s after it arrived), less the time that has passed since.
    expect(sleeps[0]).toBeGreaterThan(1_900);
    expect(sleeps[0]).toBeLessThanOrEqual(2_000);
    expect(sandbox.calls()['GET /users/me']).toBe(1);
  });

  it('the real per-user API limit: waiting X-RateLimit-Reset on the sandbox clock lets the retry through', async () => {
    const { tokens: t } = await connectSandboxUser(sandbox, client, { email: 'limited@example.test' });
    sandbox.setRateLimits({ api: 3 });
    try {
      const advancing = sandboxClient(sandbox, { maxRateLimitWaitMs: 60_000, sleeper: { sleep: async (ms) => sandbox.advance(ms) } });
      for (let i = 0; i < 5; i++) await advancing.getCurrentUser(t.accessToken);
      const strict = sandboxClient(sandbox, { maxRateLimitWaitMs: 0 });
      // The window restarted on the retry: 2 of 3 used, one left.
      await strict.getCurrentUser(t.accessToken);
      const e = await expectError(strict.getCurrentUser(t.accessToken), 'rate_limited', [t.accessToken]);
      expect(e.retryAfterMs).toBeGreaterThan(0);
      expect(e.retryAfterMs).toBeLessThanOrEqual(60_000);
    } finally {
      sandbox.setRateLimits({ api: 500 });
    }
  });

  it('an unexpected body is upstream (zod), not a crash', async () => {
    sandbox.inject({ method: 'GET', path: '/users/me', status: 200, body: { resource: { uri: 42 } } });
    await expectError(client.getCurrentUser(tokens.accessToken), 'upstream');
  });

  it('403 is forbidden; 400 on list is bad_request', async () => {
    sandbox.inject({ method: 'GET', path: '/scheduled_events', status: 403, body: { title: 'Permission Denied', message: 'You do not have permission to access this resource.' } });
    await expectError(client.listScheduledEventsPage(tokens.accessToken, { user: user.uri }), 'forbidden');
    await expectError(client.listScheduledEventsPage(tokens.accessToken, { user: user.uri, count: 1000 }), 'bad_request');
  });
});

describe('webhook deliveries triggered through the sandbox', () => {
  it('book → invitee.created reaches an active subscription of the user', async () => {
    const input = hookInput('deliver');
    await client.createWebhookSubscription(tokens.accessToken, input);
    const res = await sandbox.book({ userUri: user.uri, invitees: [{ email: 'guest@example.test', name: 'Guest Person' }] });
    expect(res.deliveries.filter((d) => d.callbackUrl === input.url).map((d) => [d.event, d.status])).toEqual([['invitee.created', 200]]);
    const got = receiver.received.filter((r) => input.url.endsWith(r.path));
    expect(got).toHaveLength(1);
    expect(got[0]!.json.event).toBe('invitee.created');
    expect(got[0]!.json.payload).toMatchObject({ email: 'guest@example.test', status: 'active', scheduled_event: { uri: res.event.uri } });
  });
});

describe('the client copes with either reading of UNSURE facts', () => {
  afterEach(() => sandbox.setQuirks({ webhookCreateStatus: 201, returnSigningKey: false, webhookDeleteStatus: 204, expiredTokenMessage: 'The access token is invalid' }));

  it('create answered 200 with signing_key echoed, delete answered 200', async () => {
    sandbox.setQuirks({ webhookCreateStatus: 200, returnSigningKey: true, webhookDeleteStatus: 200 });
    const hook = await client.createWebhookSubscription(tokens.accessToken, { ...hookInput('quirky'), signingKey: 'hook-secret-key-123' });
    expect(hook.state).toBe('active');
    expect(JSON.stringify(hook)).not.toContain('hook-secret-key-123');
    expect(await client.deleteWebhookSubscription(tokens.accessToken, hook.uri)).toBe('deleted');
  });

  it('an expired token with a different 401 message is still unauthenticated', async () => {
    sandbox.setQuirks({ expiredTokenMessage: 'The access token is expired' });
    const { user: u, tokens: t } = await connectSandboxUser(sandbox, client, { email: 'expiring@example.test' });
    sandbox.expireAccessTokens(u.uri);
    const e = await expectError(client.getCurrentUser(t.accessToken), 'unauthenticated', [t.accessToken]);
    expect(e.message).toContain('expired');
  });

  it('token created_at in milliseconds or missing, scope as a list', async () => {
    const base = { token_type: 'Bearer', access_token: 'at-xyz-123456', refresh_token: 'rt-xyz-123456', expires_in: 7200, owner: user.uri, organization: user.organization };
    sandbox.inject({ method: 'POST', path: '/oauth/token', status: 200, body: { ...base, created_at: 1_900_000_000_000, scope: 'users:read webhooks:write' } });
    const ms = await client.refresh('rt-old-1234567');
    expect(ms.expiresAt).toBe((1_900_000_000 + 7200) * 1000);
    expect(ms.scope).toBe('users:read webhooks:write');
    const fixed = sandboxClient(sandbox, { clock: { now: () => 2_000_000_000_000 } });
    sandbox.inject({ method: 'POST', path: '/oauth/token', status: 200, body: base });
    expect((await fixed.refresh('rt-old-1234567')).expiresAt).toBe(2_000_000_000_000 + 7_200_000);
  });

  it('429 without X-RateLimit-Reset falls back to Retry-After', async () => {
    sandbox.inject({ method: 'GET', path: '/users/me', status: 429, headers: { 'X-RateLimit-Reset': 'soon', 'Retry-After': '2' } });
    await client.getCurrentUser(tokens.accessToken);
    expect(sleeps[0]).toBeGreaterThanOrEqual(2_000);
  });

  it('follows next_page when next_page_token is absent', async () => {
    const h = (i: number) => ({ uri: `${sandbox.baseUrl}/webhook_subscriptions/x${i}`, callback_url: `https://cb/${i}`, created_at: '2030-01-01T00:00:00.000000Z', retry_started_at: null, state: 'active', events: ['invitee.created'], scope: 'user', organization: user.organization, user: user.uri });
    sandbox.inject({ method: 'GET', path: '/webhook_subscriptions', status: 200, body: { collection: [h(1)], pagination: { count: 1, next_page: `${sandbox.baseUrl}/webhook_subscriptions?page_token=abc`, previous_page: null } } });
    sandbox.inject({ method: 'GET', path: '/webhook_subscriptions', status: 200, body: { collection: [h(2)], pagination: { count: 1, next_page: null, previous_page: null } } });
    sandbox.resetCalls();
    const all = await collect(client.listWebhookSubscriptions(tokens.accessToken, { organization: user.organization, user: user.uri, scope: 'user' }));
    expect(all.map((x) => x.callbackUrl)).toEqual(['https://cb/1', 'https://cb/2']);
    expect(sandbox.calls()['GET /webhook_subscriptions']).toBe(2);
  });

  it('a 400 on the token endpoint other than invalid_grant is bad_request', async () => {
    sandbox.inject({ method: 'POST', path: '/oauth/token', status: 400, body: { error: 'invalid_request', error_description: 'missing thing' } });
    await expectError(client.refresh('rt-whatever-123456'), 'bad_request', ['rt-whatever-123456']);
  });

  it('a token echoed by an upstream error body is scrubbed from the message', async () => {
    sandbox.inject({ method: 'GET', path: '/users/me', status: 400, body: { title: 'Invalid Argument', message: `bad token ${tokens.accessToken}` } });
    const e = await expectError(client.getCurrentUser(tokens.accessToken), 'bad_request');
    expect(e.message).toContain('[redacted]');
  });
});
