import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationRequiredError } from '../../functions/domain/errors.js';
import { getAccessToken } from '../../functions/flows/tokens.js';
import { connectViaOAuth, newEmail, newUserId, startHarness, type Harness } from './harness.js';

describe('getAccessToken: single-flight refresh across Lambdas', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function connected() {
    const userId = newUserId();
    const r = await connectViaOAuth(h, h.deps(), userId, newEmail());
    expect(r.outcome).toBe('connected');
    await h.takeSyncMessages();
    return { userId, user: r.user };
  }

  it('hands out the stored token while it is not near expiry (no token request)', async () => {
    const { userId } = await connected();
    h.sandbox.resetCalls();
    const a = await getAccessToken(h.deps(), userId);
    const b = await getAccessToken(h.deps(), userId);
    expect(a).toBe(b);
    expect(h.sandbox.calls()['POST /oauth/token'] ?? 0).toBe(0);
    // Within 5 minutes of expiry it refreshes.
    h.advance(2 * 3600_000 - 4 * 60_000);
    const c = await getAccessToken(h.deps(), userId);
    expect(c).not.toBe(a);
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
  });

  it('20 concurrent consumers on an expired token, each with its own store and client: exactly one refresh', { timeout: 60_000 }, async () => {
    const { userId, user } = await connected();
    h.advance(2 * 3600_000 + 1000);
    h.sandbox.resetCalls();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => getAccessToken(h.deps(), userId)));
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    // The token works at Calendly.
    const me = await h.deps().calendly.getCurrentUser(tokens[0]!);
    expect(me.uri).toBe(user.uri);
    const conn = await h.deps().connections.get(userId);
    expect(conn?.refreshLease).toBeUndefined();
    expect(conn?.status).toBe('connected');
  });

  it('20 concurrent consumers in one process share one in-flight refresh', async () => {
    const { userId } = await connected();
    h.advance(2 * 3600_000 + 1000);
    h.sandbox.resetCalls();
    const deps = h.deps();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => getAccessToken(deps, userId)));
    expect(new Set(tokens).size).toBe(1);
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
  });

  it('knownBadToken refreshes once; a caller holding the already-replaced token gets the new one without a refresh', async () => {
    const { userId } = await connected();
    const t0 = await getAccessToken(h.deps(), userId);
    h.sandbox.resetCalls();
    const results = await Promise.all(Array.from({ length: 5 }, () => getAccessToken(h.deps(), userId, { knownBadToken: t0 })));
    expect(new Set(results).size).toBe(1);
    expect(results[0]).not.toBe(t0);
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
    // Later caller still reporting t0 as bad: the stored token is another, so no refresh.
    const later = await getAccessToken(h.deps(), userId, { knownBadToken: t0 });
    expect(later).toBe(results[0]);
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
  });

  it('a refresh lease left by a dead Lambda is taken over after it expires, and only then', async () => {
    const { userId } = await connected();
    const deps = h.deps();
    // A dead owner holds the lease for 30 s of clock.
    expect(await deps.connections.tryTakeRefreshLease(userId, 'dead-lambda', h.clock.now(), 30_000)).toBe(true);
    h.advance(2 * 3600_000 + 1000); // token expired; the dead lease expired long ago too
    h.sandbox.resetCalls();
    const tok = await getAccessToken(h.deps(), userId);
    expect(tok).toBeTruthy();
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
    // A waiter gives up (bounded) while a live lease is held and the token is still expired.
    const { userId: u2 } = await connected();
    h.advance(2 * 3600_000 + 1000);
    expect(await deps.connections.tryTakeRefreshLease(u2, 'slow-lambda', h.clock.now(), 60_000)).toBe(true);
    await expect(getAccessToken(h.deps({ tuning: { refreshWaitMs: 100 } }), u2)).rejects.toMatchObject({ code: 'token_refresh_busy' });
    // The owner-less release flaw: another owner can never release it.
    await deps.connections.releaseRefreshLease(u2, 'someone-else');
    expect((await deps.connections.get(u2))?.refreshLease?.owner).toBe('slow-lambda');
    await deps.connections.releaseRefreshLease(u2, 'slow-lambda');
    expect((await deps.connections.get(u2))?.refreshLease).toBeUndefined();
  });

  it('a refused refresh marks authorization_required (conditional on the token version) and throws the typed error', async () => {
    const { userId, user } = await connected();
    h.sandbox.revokeAllTokens(user.uri);
    const err = await getAccessToken(h.deps(), userId, { forceRefresh: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationRequiredError);
    const conn = await h.deps().connections.get(userId);
    expect(conn?.status).toBe('authorization_required');
    expect(conn?.lastError?.code).toBe('refresh_refused');
  });

  it('a refresh whose granted scope shrank marks authorization_required, stores nothing of it and gives the pair back', async () => {
    const { userId } = await connected();
    const before = await h.deps().connections.getWithTokens(userId);
    const issued: Array<{ accessToken: string; refreshToken: string }> = [];
    const real = h.deps().calendly;
    const spy = { ...real, refresh: async (rt: string) => {
      const t = await real.refresh(rt);
      issued.push(t);
      return t;
    } };
    h.sandbox.setQuirks({ tokenScope: 'users:read scheduled_events:read' });
    try {
      const err = await getAccessToken(h.deps({ calendly: spy }), userId, { forceRefresh: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthorizationRequiredError);
    } finally {
      h.sandbox.setQuirks({ tokenScope: undefined });
    }
    const after = await h.deps().connections.getWithTokens(userId);
    expect(after?.conn.status).toBe('authorization_required');
    expect(after?.conn.lastError?.code).toBe('insufficient_scope');
    expect(after?.tokens?.tokenVersion).toBe(before?.tokens?.tokenVersion);
    // The pair Calendly issued is revoked at Calendly.
    expect(issued).toHaveLength(1);
    await expect(real.getCurrentUser(issued[0]!.accessToken)).rejects.toMatchObject({ kind: 'unauthenticated' });
    await expect(real.refresh(issued[0]!.refreshToken)).rejects.toMatchObject({ kind: 'invalid_grant' });
  });

  it('a stale pair never overwrites a newer one (conditional write on tokenVersion)', async () => {
    const { userId } = await connected();
    const deps = h.deps();
    const before = await deps.connections.getWithTokens(userId);
    const v = before!.tokens!.tokenVersion;
    const fake = { accessToken: 'A', refreshToken: 'R', expiresAt: h.clock.now() + 7_200_000, ownerUri: 'x', organizationUri: 'y' };
    expect(await deps.connections.saveRefreshedTokens(userId, { tokens: fake, expectedTokenVersion: v, owner: 'o', nowMs: h.clock.now() })).toBe('saved');
    expect(await deps.connections.saveRefreshedTokens(userId, { tokens: { ...fake, accessToken: 'B' }, expectedTokenVersion: v, owner: 'o', nowMs: h.clock.now() })).toBe('stale');
    expect((await deps.connections.getWithTokens(userId))?.tokens?.accessToken).toBe('A');
  });

  it('tokens are sealed at rest: the raw item holds no token', async () => {
    const { userId } = await connected();
    const token = await getAccessToken(h.deps(), userId);
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const raw = (await h.db.doc.send(new GetCommand({ TableName: h.db.tables.connections, Key: { userId } }))).Item;
    expect(JSON.stringify(raw)).not.toContain(token);
    expect(String(raw?.accessTokenSealed)).toMatch(/^v2\.k1\./);
    // Copying a sealed token onto another user's item does not open.
    const other = newUserId();
    await h.db.doc.send(
      new UpdateCommand({
        TableName: h.db.tables.connections,
        Key: { userId: other },
        UpdateExpression: 'SET #s = :c, accessTokenSealed = :a, refreshTokenSealed = :r, tokenExpiresAt = :e, tokenVersion = :v',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':c': 'connected', ':a': raw?.accessTokenSealed, ':r': raw?.refreshTokenSealed, ':e': h.clock.now() + 7_200_000, ':v': 1 },
      }),
    );
    await expect(getAccessToken(h.deps(), other)).rejects.toThrow();
  });
});
