import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disconnect, finishPendingCleanup } from '../../functions/flows/disconnect.js';
import { reconnect } from '../../functions/flows/reconnect.js';
import { getStatus } from '../../functions/flows/status.js';
import { getAccessToken } from '../../functions/flows/tokens.js';
import { connectViaOAuth, hookKeyOf, newEmail, newUserId, ourHooks, startHarness, type Harness } from './harness.js';

describe('disconnect', () => {
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
    const hook = ourHooks(h, r.user.uri)[0]!;
    const stored = await h.deps().connections.getWithTokens(userId);
    return { userId, user: r.user, hook, tokens: stored!.tokens! };
  }

  it('deletes the hook, revokes the tokens, retires the key, clears secrets; twice is the same as once', async () => {
    const { userId, user, hook, tokens } = await connected();
    expect(await disconnect(h.deps(), userId)).toEqual({ status: 'disconnected' });
    expect(ourHooks(h, user.uri)).toHaveLength(0);
    expect((await h.deps().webhookKeys.get(hookKeyOf(hook.callbackUrl)))?.state).toBe('retired');
    const after = await h.deps().connections.getWithTokens(userId);
    expect(after?.conn.status).toBe('disconnected');
    expect(after?.tokens).toBeUndefined();
    expect(after?.conn.checkShard).toBeUndefined();
    expect(after?.conn.cleanupPending).toBe(false);
    // Revoked at Calendly: the old tokens no longer work.
    await expect(h.deps().calendly.getCurrentUser(tokens.accessToken)).rejects.toMatchObject({ kind: 'unauthenticated' });
    await expect(h.deps().calendly.refresh(tokens.refreshToken)).rejects.toMatchObject({ kind: 'invalid_grant' });

    h.sandbox.resetCalls();
    expect(await disconnect(h.deps(), userId)).toEqual({ status: 'disconnected' });
    expect(h.sandbox.calls()).toEqual({});
    const view = await getStatus(h.deps(), userId);
    expect(view).toMatchObject({ status: 'disconnected', tokenExpiresAt: null, webhook: { uri: null, state: 'missing' } });
    await expect(getAccessToken(h.deps(), userId)).rejects.toMatchObject({ code: 'not_connected' });
    // Reconnect after a disconnect needs a new authorization.
    expect((await reconnect(h.deps(), userId)).status).toBe('authorization_required');
  });

  it('concurrent disconnects: all answer disconnected, the work happens once', async () => {
    const { userId, user } = await connected();
    h.sandbox.resetCalls();
    const answers = await Promise.all(Array.from({ length: 5 }, () => disconnect(h.deps(), userId)));
    for (const a of answers) expect(a).toEqual({ status: 'disconnected' });
    expect(ourHooks(h, user.uri)).toHaveLength(0);
    expect(h.sandbox.calls()['DELETE /webhook_subscriptions/{uuid}']).toBe(1);
  });

  it('with Calendly down: disconnected at once with cleanup pending; finishPendingCleanup later removes the hook', async () => {
    const { userId, user, hook } = await connected();
    h.sandbox.inject({ path: /.*/, status: 503, times: 1000 });
    expect(await disconnect(h.deps(), userId)).toEqual({ status: 'disconnected' });
    h.sandbox.clearFaults();
    const pending = await h.deps().connections.get(userId);
    expect(pending?.status).toBe('disconnected');
    expect(pending?.cleanupPending).toBe(true);
    expect(pending?.checkShard).toBeDefined();
    // Deliveries are refused from now on (the key is retired), though the hook still exists at Calendly.
    expect((await h.deps().webhookKeys.get(hookKeyOf(hook.callbackUrl)))?.state).toBe('retired');
    expect(ourHooks(h, user.uri)).toHaveLength(1);
    // The health checker finds it due.
    const shard = Number(pending!.checkShard);
    const due = await h.deps().connections.listDue(shard, h.clock.now() + 10 * 60_000, 100);
    expect(due.items.map((i) => i.userId)).toContain(userId);
    // Tokens are not handed out to ordinary callers of a disconnected connection.
    await expect(getAccessToken(h.deps(), userId)).rejects.toMatchObject({ code: 'not_connected' });
    // A second disconnect answers the same, without calls.
    h.sandbox.resetCalls();
    expect(await disconnect(h.deps(), userId)).toEqual({ status: 'disconnected' });
    expect(h.sandbox.calls()).toEqual({});

    expect(await finishPendingCleanup(h.deps(), userId)).toBe('done');
    expect(ourHooks(h, user.uri)).toHaveLength(0);
    const done = await h.deps().connections.getWithTokens(userId);
    expect(done?.conn.cleanupPending).toBe(false);
    expect(done?.tokens).toBeUndefined();
    expect(done?.conn.checkShard).toBeUndefined();
    expect(await finishPendingCleanup(h.deps(), userId)).toBe('nothing_to_do');
  });

  it('pending cleanup still unreachable stays pending; recordCheck never resurrects a finished disconnect', async () => {
    const { userId, user } = await connected();
    h.sandbox.inject({ path: /.*/, status: 503, times: 1000 });
    await disconnect(h.deps(), userId);
    expect(await finishPendingCleanup(h.deps(), userId)).toBe('pending');
    h.sandbox.clearFaults();
    // A pending cleanup whose token expired meanwhile still works (refresh allowed for cleanup).
    h.advance(3 * 3600_000);
    expect(await finishPendingCleanup(h.deps(), userId)).toBe('done');
    expect(ourHooks(h, user.uri)).toHaveLength(0);
    expect(await h.deps().connections.recordCheck(userId, { outcome: 'ok', checkedAt: h.clock.now(), nextCheckAt: h.clock.now() })).toBe(false);
    expect((await h.deps().connections.get(userId))?.checkShard).toBeUndefined();
  });

  it('a connection whose grant is gone still disconnects (nothing left to clean at Calendly)', async () => {
    const { userId, user } = await connected();
    h.sandbox.revokeAllTokens(user.uri);
    h.advance(3 * 3600_000);
    expect(await disconnect(h.deps(), userId)).toEqual({ status: 'disconnected' });
    const c = await h.deps().connections.getWithTokens(userId);
    expect(c?.conn.status).toBe('disconnected');
    expect(c?.conn.cleanupPending).toBe(false);
    expect(c?.tokens).toBeUndefined();
  });

  it('connect again after disconnect: a new connection id and one fresh hook', async () => {
    const { userId, user } = await connected();
    const id1 = (await h.deps().connections.get(userId))?.connectionId;
    await disconnect(h.deps(), userId);
    const again = await connectViaOAuth(h, h.deps(), userId, user.email);
    expect(again.outcome).toBe('connected');
    const c = await h.deps().connections.get(userId);
    expect(c?.status).toBe('connected');
    expect(c?.connectionId).not.toBe(id1);
    expect(ourHooks(h, user.uri)).toHaveLength(1);
    await h.takeSyncMessages();
  });
});
