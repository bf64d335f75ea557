import { randomToken } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { tuningOf, type ConnectionDeps } from './connection-deps.js';
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
  | 'connect_incomplete';

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

  // Store the pair and take the connection lease in one write (waiting for a running flow).
  const t = tuningOf(deps);
  const owner = randomToken(12);
  let waited = 0;
  let delay = t.pollInitialMs;
  let before;
  for (;;) {
    before = await persistWithRetry(deps, () => deps.connections.get(userId));
    // A new connection id after a disconnect or when another Calendly account is connected.
    const sameConnection = before && before.status !== 'disconnected' && before.calendlyUserUri === tokens.ownerUri;
    const connectionId = sameConnection && before ? before.connectionId : randomToken(12);
    const expectedVersion = before?.version;
    // The code is spent: this pair is all we have, so a store error is retried.
    const stored = await persistWithRetry(deps, () =>
      deps.connections.startConnect(userId, { tokens, owner, nowMs: deps.clock.now(), leaseMs: t.leaseMs, connectionId, expectedVersion }),
    );
    if (stored) break;
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
    if (answer.status === 'connected') {
      logger.info('calendly connected', { userId });
      return { location: appRedirect(deps.appRedirectUrl, { calendly: 'connected' }), outcome: 'connected' };
    }
    return { ...fail('authorization_failed'), outcome: 'authorization_required' };
  } catch (e) {
    logger.warn('connect could not finish; the health checker will complete it', { userId, code: e instanceof AppError ? e.code : 'internal' });
    return fail('connect_incomplete');
  }
}

function appRedirect(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}
