/**
 * OAuth scopes over real HTTP: what the authorize request asks for, what the person grants
 * (auto-approve, approve(), or the consent page's checkboxes), what the token answers carry,
 * and the 403 each API endpoint gives without its scope. Also the access token a refresh
 * replaces (revoked at once, or kept until expiry by a quirk).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkcePair, rawRequest, startSandbox, TEST_REDIRECT_URI, type RawAnswer, type Sandbox, type SandboxUser } from '../support/sandbox.js';

const FOUR = ['users:read', 'scheduled_events:read', 'webhooks:read', 'webhooks:write'];
const DENIED = { title: 'Permission Denied', message: 'You do not have permission to access this resource.' };

let sb: Sandbox;
let user: SandboxUser;
let eventUuid: string;
let hookUuid: string;

const http = (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => rawRequest(sb.baseUrl, method, path, init);

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const basic = () => `Basic ${Buffer.from(`${sb.clientId}:${sb.clientSecret}`).toString('base64')}`;

function authorizeUrl(scope: string | null, challenge: string, state = 'st'): URL {
  const u = new URL(`${sb.baseUrl}/oauth/authorize`);
  u.searchParams.set('client_id', sb.clientId);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('redirect_uri', TEST_REDIRECT_URI);
  u.searchParams.set('code_challenge', challenge);
  u.searchParams.set('code_challenge_method', 'S256');
  u.searchParams.set('state', state);
  if (scope !== null) u.searchParams.set('scope', scope);
  return u;
}

async function tokenCall(form: Record<string, string>): Promise<RawAnswer> {
  return http('POST', '/oauth/token', { headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic() }, body: new URLSearchParams(form).toString() });
}

/** Authorize (approve() = the Allow button) and exchange the code; returns the token answer. */
async function grant(scope: string | null, decline?: string[]) {
  const { verifier, challenge } = pkcePair();
  const back = new URL(sb.approve(authorizeUrl(scope, challenge).toString(), { email: user.email, ...(decline ? { decline } : {}) }));
  const r = await tokenCall({ grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: TEST_REDIRECT_URI, code_verifier: verifier });
  expect(r.status).toBe(200);
  return r.json as { access_token: string; refresh_token: string; scope: string };
}

/** One call per endpoint the service uses, labelled with the scope it needs. */
const endpoints = () =>
  [
    ['users:read', 'GET', '/users/me', undefined],
    ['webhooks:read', 'GET', `/webhook_subscriptions?organization=${encodeURIComponent(user.organization)}&scope=user&user=${encodeURIComponent(user.uri)}`, undefined],
    ['webhooks:read', 'GET', `/webhook_subscriptions/${hookUuid}`, undefined],
    ['webhooks:write', 'POST', '/webhook_subscriptions', JSON.stringify({ url: `http://127.0.0.1:9/scoped/${Math.random()}`, events: ['invitee.created'], organization: user.organization, user: user.uri, scope: 'user' })],
    ['webhooks:write', 'DELETE', '/webhook_subscriptions/00000000-0000-0000-0000-000000000000', undefined],
    ['scheduled_events:read', 'GET', `/scheduled_events?user=${encodeURIComponent(user.uri)}`, undefined],
    ['scheduled_events:read', 'GET', `/scheduled_events/${eventUuid}`, undefined],
    ['scheduled_events:read', 'GET', `/scheduled_events/${eventUuid}/invitees`, undefined],
  ] as const;

async function call(token: string, [, method, path, body]: ReturnType<typeof endpoints>[number]) {
  return http(method, path, { headers: { ...bearer(token), ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) });
}

beforeAll(async () => {
  const t0 = Date.parse('2030-07-01T09:00:00Z');
  sb = await startSandbox({ now: () => t0 });
  user = sb.createUser({ email: 'scopes@example.test', name: 'Scoped User' });
  eventUuid = String(sb.seedEvents(user.uri, 1)[0]).split('/').pop()!;
  const seeded = sb.mintTokens(user.uri);
  const hook = await http('POST', '/webhook_subscriptions', {
    headers: { ...bearer(seeded.access_token), 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'http://127.0.0.1:9/scopes-hook', events: ['invitee.created'], organization: user.organization, user: user.uri, scope: 'user' }),
  });
  hookUuid = String((hook.json.resource as { uri: string }).uri).split('/').pop()!;
});
afterAll(() => sb.close());
afterEach(() => {
  sb.resetRateLimits();
  sb.setAutoApprove(true);
  sb.setDeclinedScopes([]);
  sb.setQuirks({ unscopedGrant: 'none', keepOldAccessToken: false });
});

describe('granting scopes', () => {
  it('the token answer carries the requested scopes, space-separated; introspect says the same', async () => {
    const t = await grant(FOUR.join(' '));
    expect(t.scope.split(' ').sort()).toEqual([...FOUR].sort());
    const intro = await http('POST', '/oauth/introspect', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: sb.clientId, client_secret: sb.clientSecret, token: t.access_token }).toString() });
    expect(intro.json).toMatchObject({ active: true, scope: t.scope });
  });

  it('auto-approve grants what was requested; declined scopes (setting) are left out', async () => {
    const { challenge } = pkcePair();
    const r = await http('GET', `/oauth/authorize?${authorizeUrl('users:read webhooks:read', challenge).searchParams}&sandbox_user=${encodeURIComponent(user.email)}`);
    expect(r.status).toBe(302);
    expect(new URL(String(r.headers.location)).searchParams.get('code')).toBeTruthy();
    sb.setDeclinedScopes(['webhooks:write']);
    const t = await grant(FOUR.join(' '));
    expect(t.scope.split(' ').sort()).toEqual(['scheduled_events:read', 'users:read', 'webhooks:read']);
  });

  it('an unknown scope is an invalid_scope redirect, not a code', async () => {
    const { challenge } = pkcePair();
    const back = new URL(sb.approve(authorizeUrl('users:read everything', challenge, 'bad-scope').toString(), { email: user.email }));
    expect(back.searchParams.get('error')).toBe('invalid_scope');
    expect(back.searchParams.get('state')).toBe('bad-scope');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('the consent page lists each scope as a ticked checkbox; unticking one leaves it out of the grant', async () => {
    sb.setAutoApprove(false);
    const { verifier, challenge } = pkcePair();
    const url = authorizeUrl(FOUR.join(' '), challenge, 'consent');
    const page = await http('GET', `/oauth/authorize?${url.searchParams}`);
    expect(page.status).toBe(200);
    for (const sc of FOUR) {
      const box = new RegExp(`<input type="checkbox" id="(scope_\\d)" name="grant" value="${sc}" checked>`).exec(page.text);
      expect(box, sc).not.toBeNull();
      expect(page.text).toContain(`<label class="scope" for="${box![1]}">`);
    }
    // The browser posts the form: hidden fields as they are, the ticked boxes, Allow.
    const form = new URLSearchParams(url.searchParams);
    form.set('scope_choice', '1');
    for (const sc of FOUR.filter((x) => x !== 'webhooks:write')) form.append('grant', sc);
    form.set('sandbox_user', user.email);
    form.set('decision', 'allow');
    const post = await http('POST', '/oauth/authorize', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(post.status).toBe(302);
    const code = new URL(String(post.headers.location)).searchParams.get('code')!;
    const t = await tokenCall({ grant_type: 'authorization_code', code, redirect_uri: TEST_REDIRECT_URI, code_verifier: verifier });
    expect(String(t.json.scope).split(' ').sort()).toEqual(['scheduled_events:read', 'users:read', 'webhooks:read']);
    const create = await call(String(t.json.access_token), endpoints()[3]);
    expect(create.status).toBe(403);
    expect(create.json).toEqual(DENIED);
  });

  it('a consent page for a request without scopes says the app will get no access', async () => {
    sb.setAutoApprove(false);
    const page = await http('GET', `/oauth/authorize?${authorizeUrl(null, pkcePair().challenge).searchParams}`);
    expect(page.text).toContain('no access');
    expect(page.text).not.toContain('type="checkbox"');
  });
});

describe('each endpoint needs its scope', () => {
  it('a token holding one scope reaches exactly the endpoints of that scope (403 Permission Denied elsewhere)', async () => {
    for (const scope of FOUR) {
      const t = await grant(scope);
      sb.resetRateLimits();
      for (const ep of endpoints()) {
        const r = await call(t.access_token, ep);
        // webhooks:write includes webhooks:read.
        const allowed = ep[0] === scope || (scope === 'webhooks:write' && ep[0] === 'webhooks:read');
        if (allowed) expect([200, 201, 204, 404], `${scope} → ${ep[1]} ${ep[2]}`).toContain(r.status);
        else {
          expect(r.status, `${scope} → ${ep[1]} ${ep[2]}`).toBe(403);
          expect(r.json).toEqual(DENIED);
        }
      }
    }
  });

  it('a new app that asks for no scope gets a grant with none: every endpoint 403', async () => {
    const t = await grant(null);
    expect(t.scope).toBe('');
    for (const ep of endpoints()) expect((await call(t.access_token, ep)).status).toBe(403);
  });

  it('quirk unscopedGrant "all": an older app asking for no scope gets everything, scope "default"', async () => {
    sb.setQuirks({ unscopedGrant: 'all' });
    const t = await grant(null);
    expect(t.scope).toBe('default');
    for (const ep of endpoints()) expect((await call(t.access_token, ep)).status).not.toBe(403);
  });

  it('refreshes keep the granted set, a declined scope included', async () => {
    const t = await grant(FOUR.join(' '), ['scheduled_events:read']);
    const r = await tokenCall({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(String(r.json.scope).split(' ').sort()).toEqual(['users:read', 'webhooks:read', 'webhooks:write']);
    expect((await call(String(r.json.access_token), endpoints()[5])).status).toBe(403);
    expect((await call(String(r.json.access_token), endpoints()[0])).status).toBe(200);
  });
});

describe('the access token a refresh replaces', () => {
  it('stops working at once (401)', async () => {
    const t = await grant(FOUR.join(' '));
    expect((await http('GET', '/users/me', { headers: bearer(t.access_token) })).status).toBe(200);
    const r = await tokenCall({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
    const old = await http('GET', '/users/me', { headers: bearer(t.access_token) });
    expect(old.status).toBe(401);
    expect(old.json).toEqual({ title: 'Unauthenticated', message: 'The access token is invalid' });
    expect((await http('GET', '/users/me', { headers: bearer(String(r.json.access_token)) })).status).toBe(200);
  });

  it('quirk keepOldAccessToken: keeps working until its own expiry', async () => {
    sb.setQuirks({ keepOldAccessToken: true });
    const t = await grant(FOUR.join(' '));
    sb.advance(60 * 60_000);
    const r = await tokenCall({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect((await http('GET', '/users/me', { headers: bearer(t.access_token) })).status).toBe(200);
    sb.advance(60 * 60_000);
    sb.resetRateLimits();
    expect((await http('GET', '/users/me', { headers: bearer(t.access_token) })).status).toBe(401);
    expect((await http('GET', '/users/me', { headers: bearer(String(r.json.access_token)) })).status).toBe(200);
  });
});
