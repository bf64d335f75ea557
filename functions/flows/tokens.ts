import { isCalendlyError, missingScopes } from '../calendly/port.js';
import { AuthorizationRequiredError, NotFoundError, UnavailableError } from '../domain/errors.js';
import { randomToken } from '../shared/crypto.js';
import { logger } from '../shared/logger.js';
import { pollWithBackoff } from '../shared/poll.js';
import type { Connection, ConnectionStore, StoredTokens } from '../store/connections/index.js';
import { tuningOf, type TokenDeps } from './connection-deps.js';

/**
 * The one function that hands out access tokens, everywhere in the service (reconnect, health
 * checks, syncs, disconnect cleanup).
 *
 * Why it is built this way: Calendly's refresh tokens are single-use and rotate. Two Lambdas
 * refreshing the same connection at once means one of them presents a spent token and gets
 * invalid_grant, which looks exactly like a revoked grant. So:
 *  - In one process, callers share one in-flight refresh per connection (a Map of promises
 *    per store instance).
 *  - Across processes, only the holder of the refresh lease (an owner token + expiry on the
 *    connection item, taken with a conditional write, released only by its owner) refreshes.
 *    After taking it, the holder re-reads: a pair refreshed meanwhile is used, not refreshed
 *    again. Others poll with backoff (bounded) and re-read.
 *  - The rotated pair is persisted with a conditional write on tokenVersion before anyone uses
 *    it, so a pair can never be overwritten by an older one.
 *
 * Crashes: if the refresh call reaches Calendly but its answer is lost (timeout, Lambda killed
 * before the write), the stored refresh token is already spent and the new pair is gone.
 * There is no way back from that: the next refresh gets invalid_grant and the connection
 * becomes authorization_required (the user reconnects through OAuth). The lease keeps this to
 * one refresh per connection at a time; it cannot undo a lost answer.
 */

/** Calendly refused this connection's grant: the user must authorize again (no retry helps). */
export function isAuthorizationRequired(e: unknown): boolean {
  return e instanceof AuthorizationRequiredError || isCalendlyError(e, 'invalid_grant');
}

export const notConnected = () => new NotFoundError('not_connected', 'There is no active Calendly connection for this user.');

export interface TokenOptions {
  /** Refresh even if the stored token is not near expiry (unless it changed since it was read). */
  forceRefresh?: boolean;
  /** The token a caller just saw refused (401): refresh unless the stored token is already another. */
  knownBadToken?: string;
}

interface InternalOptions extends TokenOptions {
  /** Disconnect cleanup may use the tokens of a connection that is disconnected with cleanup pending. */
  allowCleanup?: boolean;
}

const inflight = new WeakMap<ConnectionStore, Map<string, Promise<string>>>();

export async function getAccessToken(deps: TokenDeps, userId: string, opts: TokenOptions = {}): Promise<string> {
  return obtainAccessToken(deps, userId, opts);
}

/** getAccessToken plus the cleanup permission; used by disconnect's cleanup only. */
export async function obtainAccessToken(deps: TokenDeps, userId: string, opts: InternalOptions = {}): Promise<string> {
  const t = tuningOf(deps);
  const read = await deps.connections.getWithTokens(userId);
  const tokens = usableTokens(read, opts.allowCleanup ?? false);
  const needsRefresh =
    opts.forceRefresh === true ||
    (opts.knownBadToken !== undefined && opts.knownBadToken === tokens.accessToken) ||
    tokens.expiresAt - deps.clock.now() <= t.refreshAheadMs;
  if (!needsRefresh) return tokens.accessToken;

  let perStore = inflight.get(deps.connections);
  if (!perStore) {
    perStore = new Map();
    inflight.set(deps.connections, perStore);
  }
  const key = `${userId}#${opts.allowCleanup ? 'cleanup' : 'normal'}`;
  const running = perStore.get(key);
  if (running) return running;
  const p = refreshOnce(deps, userId, tokens.tokenVersion, opts.allowCleanup ?? false).finally(() => perStore.delete(key));
  perStore.set(key, p);
  return p;
}

function usableTokens(read: { conn: Connection; tokens?: StoredTokens } | undefined, allowCleanup: boolean): StoredTokens {
  if (!read) throw notConnected();
  const { conn, tokens } = read;
  if (conn.status === 'authorization_required') throw new AuthorizationRequiredError();
  if (conn.status === 'disconnected' && !(allowCleanup && conn.cleanupPending)) throw notConnected();
  if (!tokens) throw new AuthorizationRequiredError('No Calendly tokens are stored for this connection; the user must authorize again.');
  return tokens;
}

async function refreshOnce(deps: TokenDeps, userId: string, seenVersion: number, allowCleanup: boolean): Promise<string> {
  const t = tuningOf(deps);
  const owner = randomToken(12);
  const freshEnough = (tok: StoredTokens) => tok.expiresAt - deps.clock.now() > t.refreshAheadMs;
  return pollWithBackoff<string>(
    (ms) => deps.sleeper.sleep(ms),
    { initialMs: t.pollInitialMs, maxMs: t.pollMaxMs, budgetMs: t.refreshWaitMs },
    async () =>
      (await deps.connections.tryTakeRefreshLease(userId, owner, deps.clock.now(), t.refreshLeaseMs))
        ? { value: await refreshUnderLease(deps, userId, owner, seenVersion, allowCleanup) }
        : undefined,
    // Another Lambda is refreshing: wait for its pair rather than spending the token twice.
    () => new UnavailableError('token_refresh_busy', 'The Calendly token is being refreshed elsewhere; try again shortly.'),
    async () => {
      const cur = usableTokens(await deps.connections.getWithTokens(userId), allowCleanup);
      return cur.tokenVersion !== seenVersion && freshEnough(cur) ? { value: cur.accessToken } : undefined;
    },
  );
}

async function refreshUnderLease(deps: TokenDeps, userId: string, owner: string, seenVersion: number, allowCleanup: boolean): Promise<string> {
  const t = tuningOf(deps);
  let leaseReleased = false;
  try {
    // Re-read under the lease: whoever held it before us may have stored a new pair already.
    const read = await deps.connections.getWithTokens(userId);
    const cur = usableTokens(read, allowCleanup);
    if (cur.tokenVersion !== seenVersion && cur.expiresAt - deps.clock.now() > t.refreshAheadMs) return cur.accessToken;

    let fresh;
    try {
      fresh = await deps.calendly.refresh(cur.refreshToken);
    } catch (e) {
      if (isCalendlyError(e, 'invalid_grant')) return await onRefused(deps, userId, cur.tokenVersion, allowCleanup, REFUSED);
      // Anything else (network, 5xx, 429) leaves the stored pair as it is. If Calendly did
      // rotate before the answer was lost, the next refresh will get invalid_grant (see top).
      throw e;
    }
    const missing = missingScopes(fresh.scope);
    if (missing.length) {
      // The grant shrank (scopes withdrawn since connect): the connection cannot keep working,
      // so the pair is given back rather than stored and the user must authorize again.
      logger.warn('calendly refresh granted fewer scopes than required', { userId, missing });
      await Promise.all([deps.calendly.revoke(fresh.refreshToken), deps.calendly.revoke(fresh.accessToken)].map((p) => p.catch(() => undefined)));
      return await onRefused(deps, userId, cur.tokenVersion, allowCleanup, SHRUNK);
    }
    // Persist before anything uses the new token. The stored refresh token is spent now, so
    // this pair is the connection's only future: a failed write is retried a few times before
    // giving up (and losing it means authorization_required later).
    const saved = await persistWithRetry(deps, () =>
      deps.connections.saveRefreshedTokens(userId, {
        tokens: fresh,
        expectedTokenVersion: cur.tokenVersion,
        owner,
        nowMs: deps.clock.now(),
      }),
    );
    if (saved === 'saved') {
      leaseReleased = true; // in the same write when the lease was still ours; otherwise it is not ours to release
      logger.info('calendly token refreshed', { userId });
      // Every token answer names the user's organization; a user who moved is followed here.
      const conn = read?.conn;
      if (conn?.calendlyUserUri === fresh.ownerUri && fresh.organizationUri && conn.organizationUri && fresh.organizationUri !== conn.organizationUri) {
        await deps.connections.recordCalendlyFacts(userId, fresh.ownerUri, { organizationUri: fresh.organizationUri }).catch((e: unknown) => {
          logger.warn('could not store the organization named by the token answer', { userId, error: e });
        });
      }
      return fresh.accessToken;
    }
    // A newer pair (or a disconnect) landed while we refreshed; the stored state wins.
    const after = usableTokens(await deps.connections.getWithTokens(userId), allowCleanup);
    return after.accessToken;
  } finally {
    if (!leaseReleased) await deps.connections.releaseRefreshLease(userId, owner).catch(() => undefined);
  }
}

const REFUSED = { code: 'refresh_refused', message: 'Calendly refused the refresh token; the user must authorize again.' };
const SHRUNK = { code: 'insufficient_scope', message: 'Calendly no longer grants every scope the connection needs; the user must authorize again.' };

async function onRefused(
  deps: TokenDeps,
  userId: string,
  tokenVersion: number,
  allowCleanup: boolean,
  why: { code: string; message: string },
): Promise<string> {
  const marked = await deps.connections.markAuthorizationRequired(userId, { tokenVersion, nowMs: deps.clock.now(), ...why });
  if (!marked) {
    // Only when a newer pair was stored meanwhile (another lease holder outlived its lease) is
    // the refusal not the connection's end. Re-read and use that pair if so.
    const cur = await deps.connections.getWithTokens(userId);
    if (cur?.tokens && cur.tokens.tokenVersion !== tokenVersion) return usableTokens(cur, allowCleanup).accessToken;
  }
  logger.warn('calendly refresh refused; connection needs authorization', { userId, code: why.code });
  throw new AuthorizationRequiredError();
}

/** Retries a write that must not be lost on a store error (conditional outcomes are answers, not errors). */
export async function persistWithRetry<T>(deps: Pick<TokenDeps, 'sleeper'>, write: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await write();
    } catch (e) {
      if (i >= attempts) throw e;
      logger.warn('store write failed; retrying', { attempt: i, error: e });
      await deps.sleeper.sleep(50 * 2 ** i);
    }
  }
}
