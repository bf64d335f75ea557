import { isCalendlyError } from '../calendly/port.js';
import { randomToken } from '../shared/crypto.js';
import { logger } from '../shared/logger.js';
import type { Connection } from '../store/connections.js';
import { tuningOf, type ConnectionDeps } from './connection-deps.js';
import { isTransientCalendly } from './flow-errors.js';
import { acquireLease } from './lease.js';
import { AuthorizationRequiredError, obtainAccessToken } from './tokens.js';
import { hookKeyFromCallback } from './webhook-step.js';

export type CleanupResult = 'done' | 'pending' | 'nothing_to_do';

/**
 * Disconnect: delete our hooks at Calendly (404 = already gone), revoke the tokens, retire the
 * hook keys, clear tokens and mark the connection disconnected. When Calendly is unreachable the
 * connection is still marked disconnected (deliveries get 410 from then on), with cleanupPending
 * and its sealed tokens kept so the health checker can finish with finishPendingCleanup.
 * Twice is the same as once: a disconnected connection answers at once without any call.
 */
export async function disconnect(deps: ConnectionDeps, userId: string): Promise<{ status: 'disconnected' }> {
  const owner = randomToken(12);
  const lease = await acquireLease(deps, userId, owner, (run) => run.outcome === 'disconnected');
  if (lease.kind !== 'taken') return { status: 'disconnected' };
  const conn = lease.conn;
  if (conn.status === 'disconnected') {
    // Already disconnected: a pending cleanup is the health checker's job, the answer is the same.
    await deps.connections.releaseLease(userId, owner);
    return { status: 'disconnected' };
  }
  try {
    await cleanUp(deps, userId, owner, conn);
  } catch (e) {
    await deps.connections.releaseLease(userId, owner).catch(() => false);
    throw e;
  }
  return { status: 'disconnected' };
}

/** The health checker's half of a disconnect made while Calendly was unreachable. */
export async function finishPendingCleanup(deps: ConnectionDeps, userId: string): Promise<CleanupResult> {
  const owner = randomToken(12);
  const lease = await acquireLease(deps, userId, owner, () => false);
  if (lease.kind !== 'taken') return 'nothing_to_do';
  const conn = lease.conn;
  if (conn.status !== 'disconnected' || !conn.cleanupPending) {
    await deps.connections.releaseLease(userId, owner);
    return 'nothing_to_do';
  }
  try {
    return await cleanUp(deps, userId, owner, conn);
  } catch (e) {
    await deps.connections.releaseLease(userId, owner).catch(() => false);
    throw e;
  }
}

async function cleanUp(deps: ConnectionDeps, userId: string, owner: string, conn: Connection): Promise<'done' | 'pending'> {
  let unreachable = false;
  try {
    await cleanUpAtCalendly(deps, userId, conn);
  } catch (e) {
    if (!isTransientCalendly(e)) throw e;
    unreachable = true;
  }
  // Retire the recorded key whatever happened at Calendly: from now on its deliveries get 410.
  if (conn.webhook?.hookKey) {
    await deps.webhookKeys.setStateForUser(conn.webhook.hookKey, userId, 'retired', deps.clock.now());
  }
  const now = deps.clock.now();
  const marked = await deps.connections.markDisconnected(userId, owner, {
    cleanupPending: unreachable,
    nowMs: now,
    retryAtMs: now + tuningOf(deps).cleanupRetryMs,
  });
  if (!marked) logger.warn('disconnect outlived its lease; the next run repeats it', { userId });
  logger.info(unreachable ? 'calendly disconnected; cleanup pending' : 'calendly disconnected', { userId });
  return unreachable ? 'pending' : 'done';
}

/**
 * Deletes every hook of ours for this user and revokes the tokens. Without a usable token
 * (refused refresh, nothing stored) there is nothing we can do at Calendly: the hooks then
 * answer 410 until Calendly disables them.
 */
async function cleanUpAtCalendly(deps: ConnectionDeps, userId: string, conn: Connection): Promise<void> {
  let token: string;
  try {
    token = await obtainAccessToken(deps, userId, { allowCleanup: true });
  } catch (e) {
    if (e instanceof AuthorizationRequiredError || (e instanceof Error && 'code' in e && e.code === 'not_connected')) return;
    throw e;
  }
  const withToken = async <T>(fn: (tok: string) => Promise<T>): Promise<T> => {
    try {
      return await fn(token);
    } catch (e) {
      if (!isCalendlyError(e, 'unauthenticated')) throw e;
      token = await obtainAccessToken(deps, userId, { allowCleanup: true, knownBadToken: token });
      return fn(token);
    }
  };

  try {
    const base = deps.webhookCallbackUrl('');
    const userUri = conn.calendlyUserUri;
    const organizationUri = conn.organizationUri;
    if (userUri && organizationUri) {
      const ours = await withToken(async (tok) => {
        const found: Array<{ uri: string; callbackUrl: string }> = [];
        for await (const h of deps.calendly.listWebhookSubscriptions(tok, { organization: organizationUri, user: userUri, scope: 'user' })) {
          if (h.callbackUrl.startsWith(base)) found.push(h);
        }
        return found;
      });
      for (const h of ours) {
        try {
          await withToken((tok) => deps.calendly.deleteWebhookSubscription(tok, h.uri));
        } catch (e) {
          // Unreachable → the cleanup stays pending (thrown on); refused for another reason →
          // logged, and the hook answers 410 until Calendly disables it.
          if (isTransientCalendly(e) || e instanceof AuthorizationRequiredError) throw e;
          logger.warn('calendly refused to delete a webhook on disconnect', { userId, kind: isCalendlyError(e) ? e.kind : 'unknown' });
          continue;
        }
        await deps.webhookKeys.setStateForUser(hookKeyFromCallback(base, h.callbackUrl), userId, 'retired', deps.clock.now()).catch(() => false);
      }
    }
    const stored = await deps.connections.getWithTokens(userId);
    if (stored?.tokens) {
      await revoke(deps, stored.tokens.refreshToken);
      await revoke(deps, stored.tokens.accessToken);
    }
  } catch (e) {
    if (e instanceof AuthorizationRequiredError) return; // grant already gone: nothing left to clean at Calendly
    throw e;
  }
}

/** Revoking an already revoked or unknown token is success (4xx); only transient failures count. */
async function revoke(deps: ConnectionDeps, token: string): Promise<void> {
  try {
    await deps.calendly.revoke(token);
  } catch (e) {
    if (isTransientCalendly(e)) throw e;
  }
}
