/**
 * The baseline: the reconnect the seed describes, written here only to be measured against.
 * On every reconnect it refreshes the token, reads /users/me, lists the user's subscriptions,
 * deletes ours and creates a new one: five Calendly calls, a token request from the user's
 * 8-per-minute budget, and a window between the delete and the create in which the user has no
 * webhook at all. It keeps the same store bookkeeping as the real flow (rotated pair persisted,
 * hook key stored before the create, hook recorded on the connection), so the comparison is
 * about Calendly traffic and the hook gap only.
 */
import { WEBHOOK_EVENTS } from '../../functions/calendly/port.js';
import type { ConnectionDeps } from '../../functions/flows/connection-deps.js';
import { hookKeyFromCallback } from '../../functions/flows/webhook-step.js';
import { randomToken } from '../../functions/shared/crypto.js';

export async function naiveReconnect(deps: ConnectionDeps, userId: string): Promise<{ webhookUri: string }> {
  const stored = await deps.connections.getWithTokens(userId);
  if (!stored?.tokens) throw new Error('naive reconnect: no stored tokens');
  const { conn, tokens: old } = stored;

  // 1. Refresh, always (under the store's refresh lease, so the pair is saved like the real flow's).
  const owner = randomToken(12);
  if (!(await deps.connections.tryTakeRefreshLease(userId, owner, deps.clock.now(), 30_000))) throw new Error('naive reconnect: refresh lease busy');
  const tokens = await deps.calendly.refresh(old.refreshToken);
  await deps.connections.saveRefreshedTokens(userId, { tokens, expectedTokenVersion: old.tokenVersion, owner, nowMs: deps.clock.now() });

  // 2. Who am I.
  const me = await deps.calendly.getCurrentUser(tokens.accessToken);

  // 3. List, 4. delete every hook of ours.
  const base = deps.webhookCallbackUrl('');
  const ours = [];
  for await (const h of deps.calendly.listWebhookSubscriptions(tokens.accessToken, { organization: me.currentOrganization, user: me.uri, scope: 'user' })) {
    if (h.callbackUrl.startsWith(base)) ours.push(h);
  }
  for (const h of ours) {
    await deps.calendly.deleteWebhookSubscription(tokens.accessToken, h.uri);
    await deps.webhookKeys.setStateForUser(hookKeyFromCallback(base, h.callbackUrl), userId, 'retired', deps.clock.now());
  }

  // 5. Create a new one.
  const hookKey = randomToken(24);
  const signingKey = randomToken(32);
  await deps.webhookKeys.create({ hookKey, userId, signingKey, now: deps.clock.now() });
  const hook = await deps.calendly.createWebhookSubscription(tokens.accessToken, {
    url: deps.webhookCallbackUrl(hookKey),
    events: WEBHOOK_EVENTS,
    organization: me.currentOrganization,
    user: me.uri,
    scope: 'user',
    signingKey,
  });
  await deps.webhookKeys.setState(hookKey, 'active', deps.clock.now());
  if (!(await deps.connections.recordWebhook(userId, { webhookUri: hook.uri, hookKey, nowMs: deps.clock.now() }))) {
    throw new Error(`naive reconnect: could not record the hook (connection ${conn.status})`);
  }
  return { webhookUri: hook.uri };
}
