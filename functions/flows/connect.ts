import { missingScopes } from '../calendly/port.js';
import { randomToken } from '../shared/crypto.js';
import { DomainError } from '../domain/errors.js';
import { logger } from '../shared/logger.js';
import type { Connection, StoredTokens } from '../store/connections/index.js';
import { tuningOf, type ConnectionDeps } from './connection-deps.js';
import { finishPendingCleanup } from './disconnect.js';
import { finishConnection } from './reconnect.js';
import { persistWithRetry } from './tokens.js';

export { beginConnect } from './connect-start.js';

export type CallbackReason =
  | 'access_denied'
  | 'authorization_failed'
  | 'invalid_state'
  | 'expired_state'
  | 'replayed_state'
  | 'missing_code'
  | 'exchange_failed'
  | 'connection_busy'
  | 'connect_incomplete'
  | 'insufficient_scope';

export interface CallbackAnswer {
  /** Where to send the browser: APP_REDIRECT_URL with calendly=connected or calendly=error&reason=… */
  location: string;
  outcome: 'connected' | 'authorization_required' | 'error';
  reason?: CallbackReason;
}

/**
 * The OAuth callback. Refusals before the code exchange (denied, unknown/expired/replayed state,
 * failed exchange) change no connection. After a successful exchange the new pair is stored at
 * once (the code is spent; the pair is all we have), then the connection is finished exactly as
 * a reconnect finishes it. If that finish fails, the pair stays stored, the connection is due for
 * a health check (which repairs the hook) and the browser gets reason=connect_incomplete.
 *
 * Account switch (the user consents as another Calendly account B than the stored A): no
 * orphans. A's recorded hook key is retired first (from then on A's deliveries get 410), then
 * A is parked (identity, hook key, sealed tokens) in the same write that stores B's pair, so no
 * crash between steps can lose A's tokens while A's hook still exists. After B is finished, A's
 * hooks are deleted with A's token and A's tokens revoked (finishPendingCleanup); if Calendly is
 * unreachable A stays parked for the next connect/disconnect/finishPendingCleanup. When A was
 * `authorization_required` its grant is dead: nothing can be done at Calendly with a token (its
 * hook's next delivery gets 410, and Calendly deletes the subscription at once). Same account: none of this, no extra call.
 */
export async function completeConnect(
  deps: ConnectionDeps,
  query: { code?: string; state?: string; error?: string },
): Promise<CallbackAnswer> {
  const fail = (reason: CallbackReason): CallbackAnswer => ({ location: appRedirect(deps.appRedirectUrl, { calendly: 'error', reason }), outcome: 'error', reason });
  if (!query.state) return fail(query.error === 'access_denied' ? 'access_denied' : 'invalid_state');

  // Consuming is one conditional write: a state answers once, whatever the callback carries.
  const consumed = await deps.oauthStates.consume(query.state, deps.clock.now());
  if (query.error) return fail(query.error === 'access_denied' ? 'access_denied' : 'authorization_failed');
  if (consumed.kind === 'unknown') return fail('invalid_state');
  if (consumed.kind === 'expired') return fail('expired_state');
  if (consumed.kind === 'replayed') return fail('replayed_state');
  if (!query.code) return fail('missing_code');
  const { userId, codeVerifier } = consumed;

  let tokens;
  try {
    tokens = await deps.calendly.exchangeCode({ code: query.code, redirectUri: deps.oauthRedirectUri, codeVerifier });
  } catch (e) {
    logger.warn('oauth code exchange failed', { userId, kind: e instanceof Error ? e.name : 'unknown' });
    return fail('exchange_failed');
  }
  // The person may untick scopes on Calendly's consent screen. A grant without all four cannot
  // keep a connection working, so it connects nothing: no store write, no hook, and the pair is
  // given back (both tokens, since whether revoking one revokes its sibling is not known).
  const missing = missingScopes(tokens.scope);
  if (missing.length) {
    logger.warn('calendly grant lacks required scopes; nothing connected', { userId, missing });
    await Promise.all([deps.calendly.revoke(tokens.refreshToken), deps.calendly.revoke(tokens.accessToken)].map((p) => p.catch(() => undefined)));
    return fail('insufficient_scope');
  }

  // Store the pair and take the connection lease in one write (waiting for a running flow).
  const t = tuningOf(deps);
  const owner = randomToken(12);
  let waited = 0;
  let delay = t.pollInitialMs;
  let before;
  let switched: boolean;
  let triedEarlierCleanup = false;
  for (;;) {
    const read = await persistWithRetry(deps, () => deps.connections.getWithTokens(userId));
    before = read?.conn;
    if (before && isAccountSwitch(before, tokens.ownerUri) && before.previousAccount && !triedEarlierCleanup) {
      // One parking slot: an earlier switch's cleanup still pending is finished first.
      triedEarlierCleanup = true;
      await finishPendingCleanup(deps, userId).catch((e: unknown) => {
        logger.warn('earlier account cleanup failed again', { userId, code: e instanceof DomainError ? e.code : 'internal' });
      });
      continue;
    }
    let previous: Awaited<ReturnType<typeof parkPrevious>> | undefined;
    if (before && isAccountSwitch(before, tokens.ownerUri)) {
      if (!before.previousAccount) previous = await parkPrevious(deps, userId, before, read?.tokens);
      else await retireUnparkable(deps, userId, before);
    }
    // A new connection id after a disconnect or when another Calendly account is connected.
    const sameConnection = before && before.status !== 'disconnected' && before.calendlyUserUri === tokens.ownerUri;
    const connectionId = sameConnection && before ? before.connectionId : randomToken(12);
    const expectedVersion = before?.version;
    // The code is spent: this pair is all we have, so a store error is retried.
    const stored = await persistWithRetry(deps, () =>
      deps.connections.startConnect(userId, {
        tokens,
        owner,
        nowMs: deps.clock.now(),
        leaseMs: t.leaseMs,
        connectionId,
        expectedVersion,
        ...(previous ? { previous } : {}),
      }),
    );
    if (stored) {
      switched = previous !== undefined;
      break;
    }
    if (waited >= t.leaseWaitMs) {
      // The code is spent and the pair could not be stored: give it back rather than keep it nowhere.
      await deps.calendly.revoke(tokens.refreshToken).catch(() => undefined);
      return fail('connection_busy');
    }
    await deps.sleeper.sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, t.pollMaxMs);
  }

  try {
    const answer = await finishConnection(deps, userId, owner, 'connect', before);
    if (switched || before?.previousAccount) await cleanUpSwitchedAccount(deps, userId);
    if (answer.status === 'connected') {
      logger.info('calendly connected', { userId });
      return { location: appRedirect(deps.appRedirectUrl, { calendly: 'connected' }), outcome: 'connected' };
    }
    return { ...fail('authorization_failed'), outcome: 'authorization_required' };
  } catch (e) {
    if (switched || before?.previousAccount) await cleanUpSwitchedAccount(deps, userId);
    logger.warn('connect could not finish; the health checker will complete it', { userId, code: e instanceof DomainError ? e.code : 'internal' });
    return fail('connect_incomplete');
  }
}

/** The stored connection holds tokens of another Calendly account than the one just authorized. */
function isAccountSwitch(before: Connection, ownerUri: string): boolean {
  return before.hasTokens && before.calendlyUserUri !== undefined && before.calendlyUserUri !== ownerUri;
}

/**
 * What to park of the account switched away from. Its recorded hook key is retired before the
 * write: even if this run dies right after, the old account's deliveries are refused (410) rather
 * than filed under this user. Dead grants (authorization_required) park no tokens.
 */
async function parkPrevious(deps: ConnectionDeps, userId: string, before: Connection, tokens: StoredTokens | undefined) {
  if (before.webhook?.hookKey) {
    await persistWithRetry(deps, () => deps.webhookKeys.setStateForUser(before.webhook!.hookKey!, userId, 'retired', deps.clock.now()));
  }
  const live = before.status !== 'authorization_required' && tokens;
  return {
    calendlyUserUri: before.calendlyUserUri!,
    ...(before.organizationUri ? { organizationUri: before.organizationUri } : {}),
    ...(before.webhook?.hookKey ? { hookKey: before.webhook.hookKey } : {}),
    ...(live ? { tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt } } : {}),
    tokenVersion: before.tokenVersion,
  };
}

/**
 * A second switch while the first one's cleanup is still pending (Calendly unreachable twice):
 * there is one parking slot, so the account switched away from now is not cleaned up at
 * Calendly; its hook key is retired (deliveries 410) and the case is logged.
 */
async function retireUnparkable(deps: ConnectionDeps, userId: string, before: Connection): Promise<void> {
  if (before.webhook?.hookKey) {
    await persistWithRetry(deps, () => deps.webhookKeys.setStateForUser(before.webhook!.hookKey!, userId, 'retired', deps.clock.now()));
  }
  logger.warn('account switch while an earlier switch is still being cleaned up; the replaced account is not cleaned up at Calendly', { userId });
}

/** Deletes the old account's hooks and revokes its tokens; a failure leaves it parked (logged). */
async function cleanUpSwitchedAccount(deps: ConnectionDeps, userId: string): Promise<void> {
  try {
    const r = await finishPendingCleanup(deps, userId);
    if (r === 'pending') logger.warn('previous calendly account cleanup pending (Calendly unreachable)', { userId });
  } catch (e) {
    logger.warn('previous calendly account cleanup failed; it stays parked', { userId, code: e instanceof DomainError ? e.code : 'internal' });
  }
}

function appRedirect(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}
