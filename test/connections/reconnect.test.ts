import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCalendlyError, type CalendlyPort } from '../../functions/calendly/port.js';
import { reconnect } from '../../functions/flows/reconnect.js';
import { getAccessToken } from '../../functions/flows/tokens.js';
import { connectViaOAuth, hookKeyOf, newEmail, newUserId, ourHooks, startHarness, type Harness } from './harness.js';

/** Counts refresh answers at the client boundary, to see any invalid_grant the sandbox gave. */
function countingClient(inner: CalendlyPort) {
  const seen = { refresh: 0, invalidGrant: 0 };
  const client: CalendlyPort = {
    ...inner,
    authorizeUrl: (i) => inner.authorizeUrl(i),
    async refresh(rt) {
      seen.refresh++;
      try {
        return await inner.refresh(rt);
      } catch (e) {
        if (isCalendlyError(e, 'invalid_grant')) seen.invalidGrant++;
        throw e;
      }
    },
  };
  return { client, seen };
}

describe('reconnect over dynalite + sandbox', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function connected(email = newEmail()) {
    const userId = newUserId();
    const r = await connectViaOAuth(h, h.deps(), userId, email);
    expect(r.location.searchParams.get('calendly')).toBe('connected');
    return { userId, user: r.user };
  }

  async function expectOneGoodHook(userId: string, userUri: string) {
    const hooks = ourHooks(h, userUri);
    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    expect(hook.state).toBe('active');
    const key = await h.deps().webhookKeys.get(hookKeyOf(hook.callbackUrl));
    expect(key?.userId).toBe(userId);
    expect(key?.state).not.toBe('retired');
    expect(key?.signingKey).toBe(hook.signingKey);
    const conn = await h.deps().connections.get(userId);
    expect(conn?.status).toBe('connected');
    expect(conn?.webhook?.uri).toBe(hook.uri);
    return hook;
  }

  it('a healthy reconnect costs two Calendly calls, no token request, and keeps the hook', async () => {
    const { userId, user } = await connected();
    const before = await expectOneGoodHook(userId, user.uri);
    await h.takeSyncMessages();
    h.sandbox.resetCalls();
    const answer = await reconnect(h.deps(), userId);
    expect(answer.status).toBe('connected');
    const calls = h.sandbox.calls();
    expect(calls).toEqual({ 'GET /users/me': 1, 'GET /webhook_subscriptions': 1 });
    const after = await expectOneGoodHook(userId, user.uri);
    expect(after.uri).toBe(before.uri);
    const msgs = await h.takeSyncMessages();
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ userId, reason: 'reconnect' });
    expect(typeof msgs[0]!.minStartTime).toBe('string');
  });

  it('50 sequential reconnects: every answer connected, one hook, no token request, no invalid_grant', { timeout: 120_000 }, async () => {
    const { userId, user } = await connected();
    const first = await expectOneGoodHook(userId, user.uri);
    h.sandbox.resetCalls();
    const { client, seen } = countingClient(h.deps().calendly);
    for (let i = 0; i < 50; i++) {
      const answer = await reconnect(h.deps({ calendly: client }), userId);
      expect(answer.status).toBe('connected');
    }
    const hook = await expectOneGoodHook(userId, user.uri);
    expect(hook.uri).toBe(first.uri);
    expect(h.sandbox.calls()['POST /oauth/token'] ?? 0).toBe(0);
    expect(h.sandbox.calls()['POST /webhook_subscriptions'] ?? 0).toBe(0);
    expect(seen.invalidGrant).toBe(0);
    await h.takeSyncMessages();
  });

  it('10 concurrent reconnects (separate Lambdas): all connected, one piece of work, one hook', { timeout: 60_000 }, async () => {
    const { userId, user } = await connected();
    await h.takeSyncMessages();
    h.sandbox.resetCalls();
    // The running one is slow at Calendly (1.5 s on /users/me), so all ten surely overlap it.
    h.sandbox.inject({ method: 'GET', path: '/users/me', delayMs: 1500, times: 1 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => reconnect(h.deps(), userId)));
    for (const a of answers) expect(a.status).toBe('connected');
    await expectOneGoodHook(userId, user.uri);
    // One piece of work: the nine waiters answered the running one's result.
    expect(h.sandbox.calls()).toEqual({ 'GET /users/me': 1, 'GET /webhook_subscriptions': 1 });
    const msgs = await h.takeSyncMessages();
    expect(msgs).toHaveLength(1);
  });

  it('10 concurrent reconnects on an expired token with a disabled hook: one refresh, one new hook, no invalid_grant', { timeout: 60_000 }, async () => {
    const { userId, user } = await connected();
    const old = await expectOneGoodHook(userId, user.uri);
    h.sandbox.disableWebhook(old.uri);
    h.advance(2 * 3600_000 + 1000); // access token expired at Calendly and by our clock
    h.sandbox.resetCalls();
    const { client, seen } = countingClient(h.deps().calendly);
    const answers = await Promise.all(Array.from({ length: 10 }, () => reconnect(h.deps({ calendly: client }), userId)));
    for (const a of answers) expect(a.status).toBe('connected');
    const hook = await expectOneGoodHook(userId, user.uri);
    expect(hook.uri).not.toBe(old.uri);
    expect(seen.refresh).toBe(1);
    expect(seen.invalidGrant).toBe(0);
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
    expect(h.sandbox.calls()['POST /webhook_subscriptions']).toBe(1);
    // The old hook's key is retired: deliveries to it are refused.
    expect((await h.deps().webhookKeys.get(hookKeyOf(old.callbackUrl)))?.state).toBe('retired');
    await h.takeSyncMessages();
  });

  it('repairs a hook deleted at Calendly, and a 401 on /users/me buys one forced refresh', async () => {
    const { userId, user } = await connected();
    const old = await expectOneGoodHook(userId, user.uri);
    h.sandbox.deleteWebhookAtCalendly(old.uri);
    h.sandbox.expireAccessTokens(user.uri); // Calendly says 401 though our clock thinks it is fresh
    h.sandbox.resetCalls();
    const answer = await reconnect(h.deps(), userId);
    expect(answer.status).toBe('connected');
    expect(h.sandbox.calls()['POST /oauth/token']).toBe(1);
    expect(h.sandbox.calls()['GET /users/me']).toBe(2);
    const hook = await expectOneGoodHook(userId, user.uri);
    expect(hook.uri).not.toBe(old.uri);
    await h.takeSyncMessages();
  });

  it('a refused refresh answers authorization_required with an authorize URL and marks the connection', async () => {
    const { userId, user } = await connected();
    h.sandbox.revokeAllTokens(user.uri);
    const answer = await reconnect(h.deps(), userId);
    expect(answer.status).toBe('authorization_required');
    if (answer.status !== 'authorization_required') throw new Error('unreachable');
    expect(answer.authorizeUrl).toContain('/oauth/authorize');
    const conn = await h.deps().connections.get(userId);
    expect(conn?.status).toBe('authorization_required');
    expect(conn?.checkShard).toBeUndefined();
    await expect(getAccessToken(h.deps(), userId)).rejects.toMatchObject({ code: 'authorization_required' });
    // And again: still authorization_required, no token request.
    h.sandbox.resetCalls();
    expect((await reconnect(h.deps(), userId)).status).toBe('authorization_required');
    expect(h.sandbox.calls()['POST /oauth/token'] ?? 0).toBe(0);
    // Connecting again through OAuth brings it back, with one hook.
    const again = await connectViaOAuth(h, h.deps(), userId, user.email);
    expect(again.location.searchParams.get('calendly')).toBe('connected');
    await expectOneGoodHook(userId, user.uri);
    await h.takeSyncMessages();
  });

  it('connection lease: a dead holder is taken over once its lease expires; a live one makes callers wait, bounded', async () => {
    const { userId, user } = await connected();
    const deps = h.deps();
    expect((await deps.connections.tryTakeLease(userId, 'dead-lambda', h.clock.now(), 1000)).taken).toBe(true);
    // Live: the wait is bounded and answers connection_busy.
    await expect(reconnect(h.deps({ tuning: { leaseWaitMs: 50 } }), userId)).rejects.toMatchObject({ code: 'connection_busy', kind: 'conflict', name: 'ConflictError' });
    // Another owner can never release it.
    expect(await deps.connections.releaseLease(userId, 'someone-else')).toBe(false);
    h.advance(1001);
    expect((await reconnect(h.deps(), userId)).status).toBe('connected');
    expect((await h.deps().connections.get(userId))?.lease).toBeUndefined();
    await expectOneGoodHook(userId, user.uri);
    await h.takeSyncMessages();
  });

  it('step 5: when the record write is refused (another flow holds the lease), the hook just created is deleted', async () => {
    const { userId, user } = await connected();
    const deps = h.deps();
    const old = await expectOneGoodHook(userId, user.uri);
    h.sandbox.deleteWebhookAtCalendly(old.uri);
    expect((await deps.connections.tryTakeLease(userId, 'reconnect-elsewhere', h.clock.now(), 60_000)).taken).toBe(true);
    const { ensureWebhook } = await import('../../functions/flows/webhook-step.js');
    const token = await getAccessToken(deps, userId);
    await expect(ensureWebhook(deps, { userId, accessToken: token, userUri: user.uri, organizationUri: user.organization })).rejects.toMatchObject({ code: 'connection_changed' });
    expect(ourHooks(h, user.uri)).toHaveLength(0);
    await deps.connections.releaseLease(userId, 'reconnect-elsewhere');
    // The health checker's repair (no lease held) then works: created, recorded, one hook.
    const r = await ensureWebhook(deps, { userId, accessToken: token, userUri: user.uri, organizationUri: user.organization });
    expect(r.outcome).toBe('replaced');
    await expectOneGoodHook(userId, user.uri);
    // Run again: kept, no create.
    h.sandbox.resetCalls();
    expect((await ensureWebhook(deps, { userId, accessToken: token, userUri: user.uri, organizationUri: user.organization })).outcome).toBe('kept');
    expect(h.sandbox.calls()).toEqual({ 'GET /webhook_subscriptions': 1 });
  });

  it('never touches hooks that point elsewhere, and deletes duplicates of ours', async () => {
    const { userId, user } = await connected();
    const deps = h.deps();
    const token = await getAccessToken(deps, userId);
    const foreign = await deps.calendly.createWebhookSubscription(token, {
      url: 'https://other-service.example/hooks/1',
      events: ['invitee.created'],
      organization: user.organization,
      user: user.uri,
      scope: 'user',
    });
    const dup = await deps.calendly.createWebhookSubscription(token, {
      url: 'http://127.0.0.1:9/webhooks/calendly/not-a-key-we-hold',
      events: ['invitee.created', 'invitee.canceled', 'invitee_no_show.created', 'invitee_no_show.deleted'],
      organization: user.organization,
      user: user.uri,
      scope: 'user',
    });
    expect((await reconnect(deps, userId)).status).toBe('connected');
    const all = h.sandbox.webhooks(user.uri);
    expect(all.some((w) => w.uri === foreign.uri)).toBe(true);
    expect(all.some((w) => w.uri === dup.uri)).toBe(false);
    await expectOneGoodHook(userId, user.uri);
    await h.takeSyncMessages();
  });

  it('reconnect for a user who never connected answers authorization_required', async () => {
    const answer = await reconnect(h.deps(), newUserId());
    expect(answer.status).toBe('authorization_required');
  });
});
