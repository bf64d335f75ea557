import { isCalendlyError } from '../calendly/port.js';
import { randomToken } from '../shared/crypto.js';
import { logger } from '../shared/logger.js';
import type { Connection } from '../store/connections/index.js';
import { tuningOf, type CleanupDeps, type ConnectionDeps } from './connection-deps.js';
import { isTransientCalendly } from './flow-errors.js';
import { acquireLease } from './lease.js';
import { AuthorizationRequiredError } from '../domain/errors.js';
import type { PurgeMessage } from '../domain/messages.js';
import { obtainAccessToken, persistWithRetry } from './tokens.js';
import { hookKeyFromCallback } from './webhook-step.js';

export type CleanupResult = 'done' | 'pending' | 'nothing_to_do';

/**
 * Disconnect: delete our hooks at Calendly (404 = already gone), revoke the tokens, retire the
 * hook keys, clear tokens and mark the connection disconnected. When Calendly is unreachable the
 * connection is still marked disconnected (deliveries get 410 from then on), with cleanupPending
 * and its sealed tokens kept so the health checker can finish with finishPendingCleanup.
 * Twice is the same as once: a disconnected connection answers at once without any Calendly call.
 * Either way the user's meetings are purged in the background (a purge message on the sync
 * queue; another disconnect queues it again, which is harmless), and the meetings list answers
 * nothing for a disconnected user from the moment it is marked.
 */
export async function disconnect(deps: ConnectionDeps, userId: string): Promise<{ status: 'disconnected' }> {
  const owner = randomToken(12);
  const lease = await acquireLease(deps, userId, owner, (run) => run.outcome === 'disconnected');
  if (lease.kind !== 'taken') return { status: 'disconnected' };
  const conn = lease.conn;
  if (conn.status === 'disconnected') {
    // Already disconnected: a pending cleanup is the health checker's job, the answer is the same.
    await deps.connections.releaseLease(userId, owner);
    await queuePurge(deps, userId);
    return { status: 'disconnected' };
  }
  try {
    await cleanUp(deps, userId, owner, conn);
  } catch (e) {
    await deps.connections.releaseLease(userId, owner).catch(() => false);
    throw e;
  }
  // After the mark: the purge deletes only while the user is disconnected. A failed send fails
  // the request, and the user's retry (already disconnected) queues it again.
  await queuePurge(deps, userId);
  return { status: 'disconnected' };
}

async function queuePurge(deps: ConnectionDeps, userId: string): Promise<void> {
  const purge: PurgeMessage = { kind: 'purge', userId };
  await deps.queue.send('sync', [purge]);
}

/**
 * The health checker's half of a disconnect made while Calendly was unreachable; also finishes
 * the cleanup of a Calendly account the user switched away from (parked by connect), whatever
 * the connection's status.
 */
export async function finishPendingCleanup(deps: CleanupDeps, userId: string): Promise<CleanupResult> {
  const owner = randomToken(12);
  const lease = await acquireLease(deps, userId, owner, () => false);
  if (lease.kind !== 'taken') return 'nothing_to_do';
  const conn = lease.conn;
  const pendingDisconnect = conn.status === 'disconnected' && conn.cleanupPending;
  if (!pendingDisconnect && !conn.previousAccount) {
    await deps.connections.releaseLease(userId, owner);
    return 'nothing_to_do';
  }
  try {
    if (pendingDisconnect) return await cleanUp(deps, userId, owner, conn);
    const result = await cleanUpPreviousAccount(deps, userId, conn);
    await deps.connections.releaseLease(userId, owner);
    return result;
  } catch (e) {
    await deps.connections.releaseLease(userId, owner).catch(() => false);
    throw e;
  }
}

async function cleanUp(deps: CleanupDeps, userId: string, owner: string, conn: Connection): Promise<'done' | 'pending'> {
  // An account switched away from earlier goes too; if it cannot, the cleanup stays pending.
  let unreachable = conn.previousAccount ? (await cleanUpPreviousAccount(deps, userId, conn)) === 'pending' : false;
  try {
    await cleanUpAtCalendly(deps, userId, {
      userUri: conn.calendlyUserUri,
      organizationUri: conn.organizationUri,
      token: (knownBadToken) => obtainAccessToken(deps, userId, { allowCleanup: true, ...(knownBadToken ? { knownBadToken } : {}) }),
      tokensToRevoke: async () => (await deps.connections.getWithTokens(userId))?.tokens,
    });
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
 * Cleanup of a Calendly account this user switched away from (parked by connect in the write
 * that stored the new account's pair). Called under the connection lease. With the parked
 * tokens: delete our hooks under that account (404 = gone), revoke its tokens. Its recorded
 * hook key is retired either way, so its deliveries get 410. Without tokens (the account was
 * `authorization_required`: its grant is dead) nothing can be done at Calendly with a token: its
 * hook's next delivery is answered 410, and Calendly deletes the subscription at once. 'pending' = Calendly unreachable:
 * the account stays parked for the next try (another connect, a disconnect, or whoever calls
 * finishPendingCleanup).
 */
async function cleanUpPreviousAccount(deps: CleanupDeps, userId: string, conn: Connection): Promise<'done' | 'pending'> {
  const prev = await deps.connections.getPreviousAccount(userId);
  if (!prev) return 'done';
  // Switched back to that same account since: its hooks are the live connection's now, and its
  // old pair was superseded by a fresh authorization; nothing of it may be deleted here.
  const sameAsCurrent = conn.status !== 'disconnected' && conn.calendlyUserUri === prev.calendlyUserUri;
  if (prev.tokens && !sameAsCurrent) {
    let current = prev.tokens;
    const t = tuningOf(deps);
    try {
      await cleanUpAtCalendly(deps, userId, {
        userUri: prev.calendlyUserUri,
        organizationUri: prev.organizationUri,
        async token(knownBadToken) {
          const stale = knownBadToken !== undefined && knownBadToken === current.accessToken;
          if (!stale && current.expiresAt - deps.clock.now() > t.refreshAheadMs) return current.accessToken;
          let fresh;
          try {
            fresh = await deps.calendly.refresh(current.refreshToken);
          } catch (e) {
            if (isCalendlyError(e, 'invalid_grant')) throw new AuthorizationRequiredError();
            throw e;
          }
          // Refresh tokens rotate: the parked one is spent now, so the new pair is parked first.
          await persistWithRetry(deps, () => deps.connections.savePreviousTokens(userId, { calendlyUserUri: prev.calendlyUserUri, tokens: fresh }));
          current = fresh;
          return fresh.accessToken;
        },
        tokensToRevoke: async () => current,
      });
    } catch (e) {
      if (!isTransientCalendly(e)) throw e;
      if (prev.hookKey) await deps.webhookKeys.setStateForUser(prev.hookKey, userId, 'retired', deps.clock.now());
      logger.warn('previous calendly account could not be cleaned up; kept for a later try', { userId });
      return 'pending';
    }
  } else if (!prev.tokens) {
    logger.warn('previous calendly account had no usable grant; its webhook cannot be deleted and answers 410', { userId });
  }
  if (prev.hookKey) await deps.webhookKeys.setStateForUser(prev.hookKey, userId, 'retired', deps.clock.now());
  await deps.connections.clearPreviousAccount(userId, prev.calendlyUserUri);
  logger.info('previous calendly account cleaned up', { userId });
  return 'done';
}

interface AccountAtCalendly {
  userUri: string | undefined;
  organizationUri: string | undefined;
  /** A usable access token; `knownBadToken` = the one just refused with a 401. */
  token(knownBadToken?: string): Promise<string>;
  /** The pair to revoke, read after any refresh the cleanup made. */
  tokensToRevoke(): Promise<{ accessToken: string; refreshToken: string } | undefined>;
}

/**
 * Deletes every hook of ours under one Calendly account and revokes its tokens. Without a usable
 * token (refused refresh, nothing stored) there is nothing we can do at Calendly: the hooks' next
 * deliveries are answered 410, which makes Calendly delete them at once.
 */
async function cleanUpAtCalendly(deps: CleanupDeps, userId: string, account: AccountAtCalendly): Promise<void> {
  let token: string;
  try {
    token = await account.token();
  } catch (e) {
    if (e instanceof AuthorizationRequiredError || (e instanceof Error && 'code' in e && e.code === 'not_connected')) return;
    throw e;
  }
  const withToken = async <T>(fn: (tok: string) => Promise<T>): Promise<T> => {
    try {
      return await fn(token);
    } catch (e) {
      if (!isCalendlyError(e, 'unauthenticated')) throw e;
      token = await account.token(token);
      return fn(token);
    }
  };

  try {
    const base = deps.webhookCallbackUrl('');
    const userUri = account.userUri;
    const organizationUri = account.organizationUri;
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
          // logged; the hook's next delivery is answered 410, which deletes it at Calendly.
          if (isTransientCalendly(e) || e instanceof AuthorizationRequiredError) throw e;
          logger.warn('calendly refused to delete a webhook on disconnect', { userId, kind: isCalendlyError(e) ? e.kind : 'unknown' });
          continue;
        }
        await deps.webhookKeys.setStateForUser(hookKeyFromCallback(base, h.callbackUrl), userId, 'retired', deps.clock.now()).catch(() => false);
      }
    }
    const stored = await account.tokensToRevoke();
    if (stored) {
      await revoke(deps, stored.refreshToken);
      await revoke(deps, stored.accessToken);
    }
  } catch (e) {
    if (e instanceof AuthorizationRequiredError) return; // grant already gone: nothing left to clean at Calendly
    throw e;
  }
}

/** Revoking an already revoked or unknown token is success (4xx); only transient failures count. */
async function revoke(deps: CleanupDeps, token: string): Promise<void> {
  try {
    await deps.calendly.revoke(token);
  } catch (e) {
    if (isTransientCalendly(e)) throw e;
  }
}
