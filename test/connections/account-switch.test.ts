/**
 * Account switch: a user connected to Calendly account A connects again and consents as account
 * B. No orphans: A's hooks are deleted at Calendly, A's tokens revoked, A's hook keys retired;
 * B ends with exactly one hook of ours. Same-account connects make no extra Calendly calls.
 * Dynalite + the sandbox over real HTTP; the webhook delivery goes through the real ingest flow
 * (the app signing key comes from a fixed in-memory SecretsSource: the only mocked port).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CalendlyPort } from '../../functions/calendly/port.js';
import { finishPendingCleanup } from '../../functions/flows/disconnect.js';
import { checkConnectionHealth } from '../../functions/flows/health/index.js';
import { healthDepsFrom } from '../../functions/wiring/health-worker.js';
import { ingestWebhook } from '../../functions/flows/ingest.js';
import { getStatus } from '../../functions/flows/status.js';
import { createConnectionStatusReader } from '../../functions/store/connection-status.js';
import type { AppSecrets, SecretsSource } from '../../functions/ports.js';
import { createAppKeySource, signatureHeader } from '../../functions/shared/webhook-signature.js';
import { createMeetingStore } from '../../functions/store/meetings/index.js';
import { createParkedWebhookStore } from '../../functions/store/parked-webhooks.js';
import { connectViaOAuth, hookKeyOf, newEmail, newUserId, ourHooks, startHarness, type Harness } from './harness.js';

describe('connect as another Calendly account (account switch)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function connectedAs(userId: string, email: string) {
    const r = await connectViaOAuth(h, h.deps(), userId, email);
    expect(r.outcome).toBe('connected');
    await h.takeSyncMessages();
    const stored = await h.deps().connections.getWithTokens(userId);
    return { user: r.user, hook: ourHooks(h, r.user.uri)[0]!, tokens: stored!.tokens! };
  }

  /** A signed invitee.created delivery to one of our hook URLs, through the real ingest flow. */
  async function deliver(hookKey: string, signingKey: string) {
    const { doc } = h.db.newClients();
    const deps = h.deps({ doc });
    const appSecrets = { webhookSigningKey: 'app-key-not-used' } as unknown as AppSecrets;
    const secrets: SecretsSource = { get: async () => appSecrets, refresh: async () => appSecrets };
    const body = JSON.stringify({ event: 'invitee.created', created_at: new Date(h.clock.now()).toISOString(), payload: {} });
    const t = Math.floor(h.clock.now() / 1000);
    return ingestWebhook(
      {
        hookKeys: deps.webhookKeys,
        connectionStatus: createConnectionStatusReader(doc, h.db.tables.connections),
        appKey: createAppKeySource(secrets, h.clock),
        meetings: createMeetingStore(doc, h.db.tables.meetings),
        parked: createParkedWebhookStore(doc, h.db.tables.parkedWebhooks),
        clock: h.clock,
        toleranceSeconds: 180,
        metric: () => undefined,
      },
      { hookKey, signature: signatureHeader(signingKey, t, body), body: Buffer.from(body) },
    );
  }

  it('connect as A, then as B: A hook deleted, A tokens revoked, A key retired (delivery 410), one hook under B, status shows B', async () => {
    const userId = newUserId();
    const emailA = newEmail();
    const emailB = newEmail();
    const a = await connectedAs(userId, emailA);
    const idA = (await h.deps().connections.get(userId))?.connectionId;

    h.sandbox.resetCalls();
    const r = await connectViaOAuth(h, h.deps(), userId, emailB);
    expect(r.outcome).toBe('connected');
    const calls = h.sandbox.calls();
    console.info(`account switch calls: ${JSON.stringify(calls)}`);

    expect(ourHooks(h, a.user.uri).filter((w) => w.state === 'active')).toHaveLength(0);
    expect(ourHooks(h, a.user.uri)).toHaveLength(0);
    const hooksB = ourHooks(h, r.user.uri);
    expect(hooksB).toHaveLength(1);
    expect(hooksB[0]!.state).toBe('active');
    await expect(h.deps().calendly.refresh(a.tokens.refreshToken)).rejects.toMatchObject({ kind: 'invalid_grant' });
    await expect(h.deps().calendly.getCurrentUser(a.tokens.accessToken)).rejects.toMatchObject({ kind: 'unauthenticated' });

    const view = await getStatus(h.deps(), userId);
    expect(view).toMatchObject({ status: 'connected', email: emailB, calendlyUserUri: r.user.uri, webhook: { uri: hooksB[0]!.uri, state: 'active' } });
    expect(view.connectionId).not.toBe(idA);
    const conn = await h.deps().connections.get(userId);
    expect(conn?.previousAccount).toBeUndefined();
    expect(conn?.lease).toBeUndefined();

    // A delivery signed with A's hook key, to A's old hook URL, is refused as gone.
    const keyA = hookKeyOf(a.hook.callbackUrl);
    const answer = await deliver(keyA, a.hook.signingKey);
    expect(answer.statusCode).toBe(410);
    expect((await h.deps().webhookKeys.get(keyA))?.state).toBe('retired');
    // B's hook is live and ours.
    const keyB = await h.deps().webhookKeys.get(hookKeyOf(hooksB[0]!.callbackUrl));
    expect(keyB?.userId).toBe(userId);
    expect(keyB?.state).toBe('active');
    expect(await h.takeSyncMessages()).toEqual([{ userId, reason: 'connect' }]);
  });

  it('same-account connect again makes no delete or revoke call (exchange, users/me, list only)', async () => {
    const userId = newUserId();
    const email = newEmail();
    const a = await connectedAs(userId, email);
    h.sandbox.resetCalls();
    const r = await connectViaOAuth(h, h.deps(), userId, email);
    expect(r.outcome).toBe('connected');
    const calls = h.sandbox.calls();
    console.info(`same-account connect calls: ${JSON.stringify(calls)}`);
    expect(calls['DELETE /webhook_subscriptions/{uuid}'] ?? 0).toBe(0);
    expect(calls['POST /oauth/revoke'] ?? 0).toBe(0);
    expect(calls['POST /webhook_subscriptions'] ?? 0).toBe(0);
    expect(calls['POST /oauth/token']).toBe(1);
    expect(ourHooks(h, a.user.uri)).toHaveLength(1);
    expect((await h.deps().webhookKeys.get(hookKeyOf(a.hook.callbackUrl)))?.state).toBe('active');
    await h.takeSyncMessages();
  });

  it('A was authorization_required: nothing can be done at Calendly for A; its key is retired and B connects', async () => {
    const userId = newUserId();
    const a = await connectedAs(userId, newEmail());
    h.sandbox.revokeAllTokens(a.user.uri);
    await h.deps().connections.markAuthorizationRequired(userId, {
      tokenVersion: (await h.deps().connections.get(userId))!.tokenVersion,
      nowMs: h.clock.now(),
      code: 'refresh_refused',
      message: 'test',
    });
    h.sandbox.resetCalls();
    const r = await connectViaOAuth(h, h.deps(), userId, newEmail());
    expect(r.outcome).toBe('connected');
    // No call for A: only B's exchange, users/me, list, create.
    expect(h.sandbox.calls()['POST /oauth/revoke'] ?? 0).toBe(0);
    expect(h.sandbox.calls()['DELETE /webhook_subscriptions/{uuid}'] ?? 0).toBe(0);
    expect((await h.deps().webhookKeys.get(hookKeyOf(a.hook.callbackUrl)))?.state).toBe('retired');
    // A's hook is still at Calendly (documented: no token for A); it answers 410.
    expect(ourHooks(h, a.user.uri)).toHaveLength(1);
    expect((await deliver(hookKeyOf(a.hook.callbackUrl), a.hook.signingKey)).statusCode).toBe(410);
    expect(ourHooks(h, r.user.uri)).toHaveLength(1);
    expect((await h.deps().connections.get(userId))?.previousAccount).toBeUndefined();
    await h.takeSyncMessages();
  });

  it('Calendly unreachable for A: B connects, A stays parked (key retired); the next health check deletes and revokes', async () => {
    const userId = newUserId();
    const a = await connectedAs(userId, newEmail());
    const inner = h.deps().calendly;
    // Every call made for account A fails with a 503 at the sandbox (over HTTP); B's calls pass.
    const failForA: CalendlyPort = {
      ...inner,
      listWebhookSubscriptions(token, input) {
        if (input.user === a.user.uri) h.sandbox.inject({ method: 'GET', path: '/webhook_subscriptions', status: 503, times: 10 });
        const it = inner.listWebhookSubscriptions(token, input);
        return (async function* () {
          try {
            yield* it;
          } finally {
            h.sandbox.clearFaults();
          }
        })();
      },
    };
    const r = await connectViaOAuth(h, h.deps({ calendly: failForA }), userId, newEmail());
    expect(r.outcome).toBe('connected');
    const parked = await h.deps().connections.get(userId);
    expect(parked?.previousAccount).toMatchObject({ calendlyUserUri: a.user.uri, hasTokens: true });
    expect((await h.deps().webhookKeys.get(hookKeyOf(a.hook.callbackUrl)))?.state).toBe('retired');
    expect(ourHooks(h, a.user.uri)).toHaveLength(1);
    expect(ourHooks(h, r.user.uri)).toHaveLength(1);

    // Later (A's token expired meanwhile: the parked pair is refreshed, re-parked, then revoked),
    // by the health checker's next check of the (connected) connection.
    h.advance(3 * 3600_000);
    const check = await checkConnectionHealth(healthDepsFrom(h.deps()), { userId, force: true });
    expect(check.outcome).toBe('healthy');
    expect(ourHooks(h, a.user.uri)).toHaveLength(0);
    expect(ourHooks(h, r.user.uri)).toHaveLength(1);
    const after = await h.deps().connections.get(userId);
    expect(after?.previousAccount).toBeUndefined();
    expect(after?.status).toBe('connected');
    expect(after?.lease).toBeUndefined();
    expect(await finishPendingCleanup(h.deps(), userId)).toBe('nothing_to_do');
    await h.takeSyncMessages();
  });

  it('a crash right after the switch write leaves A parked; the next connect as B finishes the cleanup', async () => {
    const userId = newUserId();
    const a = await connectedAs(userId, newEmail());
    const emailB = newEmail();
    const inner = h.deps().calendly;
    // The first run "dies" at B's users/me (after the write that parked A and stored B).
    const dies: CalendlyPort = { ...inner, getCurrentUser: () => new Promise<never>(() => undefined) };
    void connectViaOAuth(h, h.deps({ calendly: dies }), userId, emailB);
    for (let i = 0; i < 200 && !(await h.deps().connections.get(userId))?.previousAccount; i++) await new Promise((res) => setTimeout(res, 10));
    expect((await h.deps().connections.get(userId))?.previousAccount?.calendlyUserUri).toBe(a.user.uri);
    expect((await h.deps().webhookKeys.get(hookKeyOf(a.hook.callbackUrl)))?.state).toBe('retired');
    h.advance(61_000);
    const r = await connectViaOAuth(h, h.deps(), userId, emailB);
    expect(r.outcome).toBe('connected');
    expect(ourHooks(h, a.user.uri)).toHaveLength(0);
    expect(ourHooks(h, r.user.uri)).toHaveLength(1);
    await expect(h.deps().calendly.refresh(a.tokens.refreshToken)).rejects.toMatchObject({ kind: 'invalid_grant' });
    expect((await h.deps().connections.get(userId))?.previousAccount).toBeUndefined();
    await h.takeSyncMessages();
  });
});
