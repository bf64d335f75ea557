import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginConnect, completeConnect } from '../../functions/flows/connect.js';
import { createConnectionsHandler } from '../../functions/edge/connections.js';
import { createOAuthCallbackHandler } from '../../functions/edge/oauth-callback.js';
import { createSecretBox } from '../../functions/shared/crypto.js';
import type { HttpEvent } from '../../functions/edge/http.js';
import { APP_REDIRECT, BOX_KEY, connectViaOAuth, newEmail, newUserId, ourHooks, startHarness, type Harness } from './harness.js';

function httpEvent(method: string, path: string, opts: { userId?: string; body?: string; query?: Record<string, string> } = {}): HttpEvent {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(opts.query ?? {}).toString(),
    headers: { 'content-type': 'application/json' },
    ...(opts.query ? { queryStringParameters: opts.query } : {}),
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'req-1',
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '',
      timeEpoch: 0,
      ...(opts.userId ? { authorizer: { jwt: { claims: { sub: opts.userId }, scopes: [] } } } : {}),
    },
  } as unknown as HttpEvent;
}

describe('OAuth connect', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const reasonOf = (location: string) => {
    const u = new URL(location);
    return { calendly: u.searchParams.get('calendly'), reason: u.searchParams.get('reason'), base: `${u.origin}${u.pathname}` };
  };

  it('connect → consent → callback: 302 connected, one hook, a full sync queued, status JSON without secrets', async () => {
    const deps = h.deps();
    const userId = newUserId();
    const email = newEmail();
    h.sandbox.createUser({ email });
    const connections = createConnectionsHandler(async () => deps);
    const callback = createOAuthCallbackHandler(async () => deps);

    const res = await connections(httpEvent('POST', '/connections/calendly/connect', { userId, body: '{}' }));
    expect(res.statusCode).toBe(200);
    const { authorizeUrl } = JSON.parse(String(res.body)) as { authorizeUrl: string };
    const au = new URL(authorizeUrl);
    expect(au.searchParams.get('code_challenge_method')).toBe('S256');
    expect(au.searchParams.get('code_challenge')).toBeTruthy();
    expect(au.searchParams.get('state')).toBeTruthy();

    const back = new URL(h.sandbox.approve(authorizeUrl, { email }));
    const cb = await callback(httpEvent('GET', '/oauth/calendly/callback', { query: Object.fromEntries(back.searchParams) }));
    expect(cb.statusCode).toBe(302);
    const loc = reasonOf(String(cb.headers?.location));
    expect(loc).toEqual({ calendly: 'connected', reason: null, base: APP_REDIRECT });

    const user = h.sandbox.userByEmail(email)!;
    expect(ourHooks(h, user.uri)).toHaveLength(1);
    expect(await h.takeSyncMessages()).toEqual([{ userId, reason: 'connect' }]);

    const st = await connections(httpEvent('GET', '/connections/calendly', { userId }));
    expect(st.statusCode).toBe(200);
    const view = JSON.parse(String(st.body)) as Record<string, unknown>;
    expect(view).toMatchObject({
      status: 'connected',
      calendlyUserUri: user.uri,
      organizationUri: user.organization,
      email,
      webhook: { uri: ourHooks(h, user.uri)[0]!.uri, state: 'active' },
      lastSyncAt: null,
    });
    expect(typeof view.connectionId).toBe('string');
    expect(typeof view.tokenExpiresAt).toBe('string');
    const stored = await h.deps().connections.getWithTokens(userId);
    expect(String(st.body)).not.toContain(stored!.tokens!.accessToken);
    expect(String(st.body)).not.toContain(stored!.tokens!.refreshToken);
    expect(String(st.body)).not.toContain(ourHooks(h, user.uri)[0]!.signingKey);
  });

  it('a grant missing a required scope: insufficient_scope, its tokens revoked at Calendly, nothing connected', async () => {
    for (const decline of [['webhooks:write'], ['scheduled_events:read', 'users:read']]) {
      const issued: Array<{ accessToken: string; refreshToken: string }> = [];
      const real = h.deps().calendly;
      const spy = { ...real, exchangeCode: async (input: Parameters<typeof real.exchangeCode>[0]) => {
        const t = await real.exchangeCode(input);
        issued.push(t);
        return t;
      } };
      const deps = h.deps({ calendly: spy });
      const userId = newUserId();
      const email = newEmail();
      const user = h.sandbox.createUser({ email });
      const { authorizeUrl } = await beginConnect(deps, userId);
      expect(new URL(authorizeUrl).searchParams.get('scope')?.split(' ').sort()).toEqual(['scheduled_events:read', 'users:read', 'webhooks:read', 'webhooks:write']);
      const back = new URL(h.sandbox.approve(authorizeUrl, { email, decline }));
      const answer = await completeConnect(deps, { code: back.searchParams.get('code') ?? undefined, state: back.searchParams.get('state') ?? undefined });
      expect(reasonOf(answer.location)).toEqual({ calendly: 'error', reason: 'insufficient_scope', base: APP_REDIRECT });
      expect(answer.outcome).toBe('error');
      // Nothing connected or half-connected: no connection item, no hook, no hook key, no sync.
      expect(await deps.connections.get(userId)).toBeUndefined();
      expect(ourHooks(h, user.uri)).toHaveLength(0);
      expect(await h.takeSyncMessages()).toEqual([]);
      // The granted pair is revoked at Calendly.
      expect(issued).toHaveLength(1);
      await expect(real.getCurrentUser(issued[0]!.accessToken)).rejects.toMatchObject({ kind: 'unauthenticated' });
      await expect(real.refresh(issued[0]!.refreshToken)).rejects.toMatchObject({ kind: 'invalid_grant' });
    }
  });

  it('a grant missing a scope leaves an existing connection exactly as it was', async () => {
    const deps = h.deps();
    const userId = newUserId();
    const email = newEmail();
    expect((await connectViaOAuth(h, deps, userId, email)).outcome).toBe('connected');
    await h.takeSyncMessages();
    const raw = async () => (await h.db.doc.send(new GetCommand({ TableName: h.db.tables.connections, Key: { userId }, ConsistentRead: true }))).Item;
    const before = await raw();
    const { authorizeUrl } = await beginConnect(deps, userId);
    const back = new URL(h.sandbox.approve(authorizeUrl, { email, decline: ['webhooks:read'] }));
    const answer = await completeConnect(deps, { code: back.searchParams.get('code') ?? undefined, state: back.searchParams.get('state') ?? undefined });
    expect(answer.reason).toBe('insufficient_scope');
    expect(await raw()).toEqual(before);
    expect(ourHooks(h, h.sandbox.userByEmail(email)!.uri)).toHaveLength(1);
  });

  it('replayed state: second use of the same callback is refused and changes nothing', async () => {
    const deps = h.deps();
    const userId = newUserId();
    const email = newEmail();
    h.sandbox.createUser({ email });
    const { authorizeUrl } = await beginConnect(deps, userId);
    const back = new URL(h.sandbox.approve(authorizeUrl, { email }));
    const q = { code: back.searchParams.get('code')!, state: back.searchParams.get('state')! };
    expect((await completeConnect(deps, q)).outcome).toBe('connected');
    const before = await deps.connections.get(userId);
    h.sandbox.resetCalls();
    const again = await completeConnect(h.deps(), q);
    expect(reasonOf(again.location)).toMatchObject({ calendly: 'error', reason: 'replayed_state' });
    expect(h.sandbox.calls()).toEqual({});
    expect((await deps.connections.get(userId))?.version).toBe(before?.version);
    await h.takeSyncMessages();
  });

  it('unknown state and a missing state are refused without any call or write', async () => {
    h.sandbox.resetCalls();
    const a = await completeConnect(h.deps(), { code: 'c', state: 'not-a-state' });
    expect(reasonOf(a.location)).toMatchObject({ calendly: 'error', reason: 'invalid_state' });
    const b = await completeConnect(h.deps(), { code: 'c' });
    expect(reasonOf(b.location)).toMatchObject({ calendly: 'error', reason: 'invalid_state' });
    expect(h.sandbox.calls()).toEqual({});
  });

  it('expired state (10 minutes, checked in code) is refused', async () => {
    const deps = h.deps();
    const userId = newUserId();
    const email = newEmail();
    h.sandbox.createUser({ email });
    const { authorizeUrl } = await beginConnect(deps, userId);
    const back = new URL(h.sandbox.approve(authorizeUrl, { email }));
    h.advance(10 * 60_000 + 1);
    const r = await completeConnect(deps, { code: back.searchParams.get('code')!, state: back.searchParams.get('state')! });
    expect(reasonOf(r.location)).toMatchObject({ calendly: 'error', reason: 'expired_state' });
    expect(await deps.connections.get(userId)).toBeUndefined();
  });

  it('error=access_denied: redirect with access_denied, the state is spent, nothing is stored', async () => {
    const deps = h.deps();
    const userId = newUserId();
    const { authorizeUrl } = await beginConnect(deps, userId);
    const back = new URL(h.sandbox.deny(authorizeUrl));
    expect(back.searchParams.get('error')).toBe('access_denied');
    const r = await completeConnect(deps, { state: back.searchParams.get('state')!, error: 'access_denied' });
    expect(reasonOf(r.location)).toMatchObject({ calendly: 'error', reason: 'access_denied' });
    expect(await deps.connections.get(userId)).toBeUndefined();
  });

  it('PKCE: a callback whose stored verifier does not match the challenge is refused by Calendly (exchange_failed)', async () => {
    const deps = h.deps();
    const userId = newUserId();
    const email = newEmail();
    h.sandbox.createUser({ email });
    const { authorizeUrl } = await beginConnect(deps, userId);
    const state = new URL(authorizeUrl).searchParams.get('state')!;
    // Swap the sealed verifier for another one (as if an attacker replayed a code with their own state).
    const box = createSecretBox(BOX_KEY);
    await h.db.doc.send(
      new UpdateCommand({
        TableName: h.db.tables.oauthStates,
        Key: { state },
        UpdateExpression: 'SET codeVerifierSealed = :v',
        ExpressionAttributeValues: { ':v': box.seal('x'.repeat(64), `oauth#${state}`) },
      }),
    );
    const back = new URL(h.sandbox.approve(authorizeUrl, { email }));
    const r = await completeConnect(deps, { code: back.searchParams.get('code')!, state });
    expect(reasonOf(r.location)).toMatchObject({ calendly: 'error', reason: 'exchange_failed' });
    expect(await deps.connections.get(userId)).toBeUndefined();
    // The verifier is sealed at rest and removed once the state is used.
    const item = (await h.db.doc.send(new GetCommand({ TableName: h.db.tables.oauthStates, Key: { state } }))).Item;
    expect(item?.codeVerifierSealed).toBeUndefined();
    expect(item?.usedAt).toBeTypeOf('number');
  });

  it('the authorize URL and the state item never contain the verifier in clear', async () => {
    const userId = newUserId();
    const { authorizeUrl } = await beginConnect(h.deps(), userId);
    const state = new URL(authorizeUrl).searchParams.get('state')!;
    const item = (await h.db.doc.send(new GetCommand({ TableName: h.db.tables.oauthStates, Key: { state } }))).Item!;
    const verifier = createSecretBox(BOX_KEY).open(String(item.codeVerifierSealed), `oauth#${state}`);
    expect(authorizeUrl).not.toContain(verifier);
    expect(JSON.stringify(item)).not.toContain(verifier);
    expect(item.userId).toBe(userId);
    expect(item.expiresAtEpoch).toBe(Math.ceil(Number(item.expiresAt) / 1000));
  });

  it('connect while connected keeps one hook and the same connection id', async () => {
    const userId = newUserId();
    const email = newEmail();
    const first = await connectViaOAuth(h, h.deps(), userId, email);
    expect(first.outcome).toBe('connected');
    const id1 = (await h.deps().connections.get(userId))?.connectionId;
    const second = await connectViaOAuth(h, h.deps(), userId, email);
    expect(second.outcome).toBe('connected');
    expect((await h.deps().connections.get(userId))?.connectionId).toBe(id1);
    expect(ourHooks(h, first.user.uri).filter((w) => w.state === 'active')).toHaveLength(1);
    expect(ourHooks(h, first.user.uri)).toHaveLength(1);
    await h.takeSyncMessages();
  });

  it('handlers: unknown body fields and bad JSON are 400, status before connecting is 404, no auth is 401', async () => {
    const connections = createConnectionsHandler(async () => h.deps());
    const userId = newUserId();
    const bad = await connections(httpEvent('POST', '/connections/calendly/reconnect', { userId, body: '{"force":true}' }));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(String(bad.body))).toMatchObject({ error: 'invalid_body' });
    const badJson = await connections(httpEvent('POST', '/connections/calendly/connect', { userId, body: '{' }));
    expect(badJson.statusCode).toBe(400);
    const st = await connections(httpEvent('GET', '/connections/calendly', { userId }));
    expect(st.statusCode).toBe(404);
    expect(JSON.parse(String(st.body))).toMatchObject({ error: 'not_connected' });
    const anon = await connections(httpEvent('GET', '/connections/calendly'));
    expect(anon.statusCode).toBe(401);
    // Nothing was written for any of them.
    expect(await h.deps().connections.get(userId)).toBeUndefined();
    // Disconnect of a never-connected user answers disconnected.
    const del = await connections(httpEvent('DELETE', '/connections/calendly', { userId }));
    expect(del.statusCode).toBe(200);
    expect(JSON.parse(String(del.body))).toEqual({ status: 'disconnected' });
  });
});
