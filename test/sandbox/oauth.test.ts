import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkcePair, rawRequest, startSandbox, TEST_REDIRECT_URI, type RawAnswer, type Sandbox, type SandboxUser } from '../support/sandbox.js';

let sb: Sandbox;
let user: SandboxUser;

const http = (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => rawRequest(sb.baseUrl, method, path, init);

const basic = (id = sb.clientId, secret = sb.clientSecret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

const FOUR = 'users:read scheduled_events:read webhooks:read webhooks:write';

/** An authorize URL asking for the four scopes the service needs (`scope: null` asks for none). */
function authorizeUrl(p: { challenge?: string; state?: string; redirectUri?: string; extra?: Record<string, string>; scope?: string | null } = {}): string {
  const u = new URL(`${sb.baseUrl}/oauth/authorize`);
  u.searchParams.set('client_id', sb.clientId);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('redirect_uri', p.redirectUri ?? TEST_REDIRECT_URI);
  if (p.challenge) {
    u.searchParams.set('code_challenge', p.challenge);
    u.searchParams.set('code_challenge_method', 'S256');
  }
  if (p.state) u.searchParams.set('state', p.state);
  if (p.scope !== null) u.searchParams.set('scope', p.scope ?? FOUR);
  for (const [k, v] of Object.entries(p.extra ?? {})) u.searchParams.set(k, v);
  return u.toString();
}

function token(form: Record<string, string>, auth: string | null = basic()): Promise<RawAnswer> {
  return http('POST', '/oauth/token', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
}

async function codeFor(email = user.email, opts: { redirectUri?: string } = {}) {
  const { verifier, challenge } = pkcePair();
  const redirect = new URL(sb.approve(authorizeUrl({ challenge, state: 'xyz', ...opts }), { email }));
  return { code: redirect.searchParams.get('code')!, verifier, redirect };
}

async function connect(email = user.email) {
  const { code, verifier } = await codeFor(email);
  const r = await token({ grant_type: 'authorization_code', code, redirect_uri: TEST_REDIRECT_URI, code_verifier: verifier });
  expect(r.status).toBe(200);
  return r.json as { access_token: string; refresh_token: string; created_at: number; expires_in: number; owner: string; organization: string };
}

beforeAll(async () => {
  const t0 = Date.parse('2030-06-01T12:00:00Z');
  sb = await startSandbox({ now: () => t0 });
  user = sb.createUser({ email: 'oauth@example.test', name: 'Oauth User' });
});
afterAll(() => sb.close());
afterEach(() => {
  sb.resetRateLimits();
  sb.setQuirks({ echoState: true, acceptBodyClientAuth: true, revokePair: true });
  sb.setAutoApprove(true);
});

describe('authorize', () => {
  it('auto-approve redirects at once with a code and the state echoed', async () => {
    const r = await http('GET', `/oauth/authorize?${new URL(authorizeUrl({ state: 'st-9', extra: { sandbox_user: user.email } })).searchParams}`);
    expect(r.status).toBe(302);
    const loc = new URL(String(r.headers.location));
    expect(loc.origin + loc.pathname).toBe(TEST_REDIRECT_URI);
    expect(loc.searchParams.get('state')).toBe('st-9');
    expect(loc.searchParams.get('code')).toBeTruthy();
  });

  it('approve() and deny() behave like the consent buttons', async () => {
    const { redirect } = await codeFor();
    expect(redirect.searchParams.get('state')).toBe('xyz');
    const denied = new URL(sb.deny(authorizeUrl({ state: 'no' })));
    expect(denied.searchParams.get('error')).toBe('access_denied');
    expect(denied.searchParams.get('state')).toBe('no');
    expect(denied.searchParams.get('code')).toBeNull();
  });

  it('quirk echoState=false plays "state is not echoed"', async () => {
    sb.setQuirks({ echoState: false });
    const { redirect } = await codeFor();
    expect(redirect.searchParams.get('state')).toBeNull();
  });

  it('unknown client_id is a 400, never a redirect', async () => {
    const u = new URL(authorizeUrl());
    u.searchParams.set('client_id', 'nope');
    const r = await http('GET', `/oauth/authorize?${u.searchParams}`);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_client');
  });

  it('without auto-approve: an accessible consent page, and its form completes the redirect', async () => {
    sb.setAutoApprove(false);
    const other = sb.createUser({ email: 'picker@example.test', name: 'Picker <b>' });
    const { challenge } = pkcePair();
    const url = new URL(authorizeUrl({ challenge, state: 'form-state' }));
    const page = await http('GET', `/oauth/authorize?${url.searchParams}`);
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toContain('text/html');
    expect(page.text).toContain('<html lang="en">');
    expect(page.text).toContain('<label for="sandbox_user">');
    expect(page.text).toContain('value="allow"');
    expect(page.text).toContain('value="deny"');
    expect(page.text).toContain('Picker &lt;b&gt;');
    expect(page.text).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)[a-z]+\.[a-z]+\/[^"]*\.(css|js)/);
    const form = new URLSearchParams(url.searchParams);
    form.set('decision', 'allow');
    form.set('sandbox_user', other.email);
    const post = await http('POST', '/oauth/authorize', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(post.status).toBe(302);
    const loc = new URL(String(post.headers.location));
    expect(loc.searchParams.get('state')).toBe('form-state');
    const code = loc.searchParams.get('code')!;
    // The code belongs to the picked user.
    form.set('decision', 'deny');
    const denied = await http('POST', '/oauth/authorize', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(new URL(String(denied.headers.location)).searchParams.get('error')).toBe('access_denied');
    expect(code).toBeTruthy();
  });
});

describe('token endpoint', () => {
  it('authorization_code: Calendly response fields, 2 h expiry', async () => {
    const t = await connect();
    expect(t).toMatchObject({ token_type: 'Bearer', scope: FOUR, expires_in: 7200, owner: user.uri, organization: user.organization });
    expect(t.created_at).toBe(Math.floor(Date.parse('2030-06-01T12:00:00Z') / 1000));
    expect(t.refresh_token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('codes are single use', async () => {
    const { code, verifier } = await codeFor();
    const form = { grant_type: 'authorization_code', code, redirect_uri: TEST_REDIRECT_URI, code_verifier: verifier };
    expect((await token(form)).status).toBe(200);
    const again = await token(form);
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('invalid_grant');
  });

  it('codes expire after 10 minutes of sandbox time', async () => {
    const { code, verifier } = await codeFor();
    sb.advance(10 * 60_000 + 1_000);
    const r = await token({ grant_type: 'authorization_code', code, redirect_uri: TEST_REDIRECT_URI, code_verifier: verifier });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_grant');
  });

  it('redirect_uri must match the authorize request', async () => {
    const { code, verifier } = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/other', code_verifier: verifier });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_grant');
  });

  it('PKCE S256 is checked (wrong or missing verifier refused)', async () => {
    const { code } = await codeFor();
    expect((await token({ grant_type: 'authorization_code', code, redirect_uri: TEST_REDIRECT_URI, code_verifier: 'wrong-verifier-wrong-verifier-wrong-verifier' })).json.error).toBe('invalid_grant');
    const { code: code2 } = await codeFor();
    expect((await token({ grant_type: 'authorization_code', code: code2, redirect_uri: TEST_REDIRECT_URI })).json.error).toBe('invalid_grant');
  });

  it('client auth: wrong Basic secret → 401 invalid_client; body credentials accepted unless the quirk is off', async () => {
    const { code, verifier } = await codeFor();
    const form = { grant_type: 'authorization_code', code, redirect_uri: TEST_REDIRECT_URI, code_verifier: verifier };
    const wrong = await token(form, basic(sb.clientId, 'bad'));
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_client');
    expect((await token(form, null)).status).toBe(401);
    sb.setQuirks({ acceptBodyClientAuth: false });
    expect((await token({ ...form, client_id: sb.clientId, client_secret: sb.clientSecret }, null)).status).toBe(401);
    sb.setQuirks({ acceptBodyClientAuth: true });
    expect((await token({ ...form, client_id: sb.clientId, client_secret: sb.clientSecret }, null)).status).toBe(200);
  });

  it('refresh tokens rotate and are single use (reuse → 400 invalid_grant with error_description)', async () => {
    const first = await connect();
    const r1 = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(r1.status).toBe(200);
    expect(r1.json.refresh_token).not.toBe(first.refresh_token);
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(reuse.status).toBe(400);
    expect(reuse.json).toMatchObject({ error: 'invalid_grant' });
    expect(typeof reuse.json.error_description).toBe('string');
    expect(JSON.stringify(reuse.json)).not.toContain(first.refresh_token);
    const r2 = await token({ grant_type: 'refresh_token', refresh_token: String(r1.json.refresh_token) });
    expect(r2.status).toBe(200);
  });

  it('8 token requests per user per minute, then 429 with X-RateLimit headers; the next minute works', async () => {
    const u = sb.createUser({ email: 'burst@example.test' });
    const first = await connect(u.email); // request 1
    let rt = first.refresh_token;
    for (let i = 2; i <= 8; i++) {
      const r = await token({ grant_type: 'refresh_token', refresh_token: rt });
      expect(r.status).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBe('8');
      expect(r.headers['x-ratelimit-remaining']).toBe(String(8 - i));
      rt = String(r.json.refresh_token);
    }
    const limited = await token({ grant_type: 'refresh_token', refresh_token: rt });
    expect(limited.status).toBe(429);
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(limited.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    // The refused request did not spend the refresh token; another user is unaffected.
    expect((await connect()).access_token).toBeTruthy();
    sb.advance(61_000);
    expect((await token({ grant_type: 'refresh_token', refresh_token: rt })).status).toBe(200);
  });

  it('unsupported grant type is 400', async () => {
    expect((await token({ grant_type: 'password' })).json.error).toBe('unsupported_grant_type');
  });
});

describe('access tokens on the API', () => {
  it('/users/me answers the user; unknown, expired and revoked tokens get the Calendly 401 body', async () => {
    const t = await connect();
    const me = await http('GET', '/users/me', { headers: { authorization: `Bearer ${t.access_token}` } });
    expect(me.status).toBe(200);
    expect(me.json.resource).toMatchObject({ uri: user.uri, email: user.email, current_organization: user.organization, resource_type: 'User' });

    const unknown = await http('GET', '/users/me', { headers: { authorization: 'Bearer nope' } });
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual({ title: 'Unauthenticated', message: 'The access token is invalid' });

    sb.advance(7200_000);
    const expired = await http('GET', '/users/me', { headers: { authorization: `Bearer ${t.access_token}` } });
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ title: 'Unauthenticated', message: 'The access token is invalid' });
  });

  it('expireAccessTokens and revokeAllTokens (password change) controls', async () => {
    const u = sb.createUser({ email: 'controls@example.test' });
    const t = await connect(u.email);
    sb.expireAccessTokens(u.uri);
    expect((await http('GET', '/users/me', { headers: { authorization: `Bearer ${t.access_token}` } })).status).toBe(401);
    const r = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(r.status).toBe(200);
    sb.revokeAllTokens(u.uri);
    expect((await http('GET', '/users/me', { headers: { authorization: `Bearer ${String(r.json.access_token)}` } })).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: String(r.json.refresh_token) })).json.error).toBe('invalid_grant');
  });
});

describe('revoke and introspect', () => {
  const form = (f: Record<string, string>) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(f).toString() });

  it('introspect reports active tokens with owner/organization/exp, and inactive after revoke (pair revoked)', async () => {
    const t = await connect();
    const creds = { client_id: sb.clientId, client_secret: sb.clientSecret };
    const active = await http('POST', '/oauth/introspect', form({ ...creds, token: t.access_token }));
    expect(active.status).toBe(200);
    expect(active.json).toMatchObject({ active: true, client_id: sb.clientId, owner: user.uri, organization: user.organization, exp: t.created_at + 7200, iat: t.created_at });
    const rv = await http('POST', '/oauth/revoke', form({ ...creds, token: t.refresh_token }));
    expect(rv.status).toBe(200);
    expect((await http('POST', '/oauth/introspect', form({ ...creds, token: t.access_token }))).json).toEqual({ active: false });
    expect((await http('POST', '/oauth/introspect', form({ ...creds, token: 'unknown' }))).json).toEqual({ active: false });
  });

  it('revokePair=false revokes only the presented token', async () => {
    sb.setQuirks({ revokePair: false });
    const t = await connect();
    const creds = { client_id: sb.clientId, client_secret: sb.clientSecret };
    await http('POST', '/oauth/revoke', form({ ...creds, token: t.refresh_token }));
    expect((await http('GET', '/users/me', { headers: { authorization: `Bearer ${t.access_token}` } })).status).toBe(200);
  });

  it('revoke needs a token (400) and valid client credentials (403); introspect bad client → 401', async () => {
    expect((await http('POST', '/oauth/revoke', form({ client_id: sb.clientId, client_secret: sb.clientSecret }))).status).toBe(400);
    expect((await http('POST', '/oauth/revoke', form({ client_id: sb.clientId, client_secret: 'bad', token: 'x' }))).status).toBe(403);
    expect((await http('POST', '/oauth/introspect', form({ client_id: sb.clientId, client_secret: 'bad', token: 'x' }))).status).toBe(401);
  });
});
