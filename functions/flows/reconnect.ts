import { isCalendlyError, type CalendlyUser } from '../calendly/port.js';
import { AuthorizationRequiredError, DomainError, UnavailableError } from '../domain/errors.js';
import type { SyncMessage, SyncReason } from '../domain/messages.js';
import { randomToken } from '../shared/crypto.js';
import { logger } from '../shared/logger.js';
import type { Connection } from '../store/connections/index.js';
import { beginConnect } from './connect-start.js';
import { tuningOf, type ConnectionDeps } from './connection-deps.js';
import { toFlowFailure } from './flow-errors.js';
import { acquireLease } from './lease.js';
import { statusView, type StatusView } from './status.js';
import { getAccessToken } from './tokens.js';
import { ensureWebhook } from './webhook-step.js';

export type ReconnectAnswer = ({ status: 'connected' } & StatusView) | { status: 'authorization_required'; authorizeUrl: string };

/** Why a connection flow queues a sync (a manual sync comes from elsewhere). */
type FlowSyncReason = Exclude<SyncReason, 'manual'>;

/**
 * Reconnect: tokens, then the webhook step, then a catch-up sync. Idempotent: run once or fifty times, one after
 * another or ten at once, the end state is one active user-scoped hook pointing at us whose
 * key we hold, valid tokens, no orphans. Concurrent calls wait for the running one and answer
 * its result.
 */
export async function reconnect(deps: ConnectionDeps, userId: string): Promise<ReconnectAnswer> {
  const owner = randomToken(12);
  // Share the result of a reconnect or connect we waited for; a disconnect's result too (we
  // then answer authorization_required, as for any connection that is gone).
  const lease = await acquireLease(deps, userId, owner, () => true);
  if (lease.kind === 'missing') return authorizationRequired(deps, userId);
  if (lease.kind === 'shared') {
    const { run } = lease;
    if (run.outcome === 'connected') {
      const conn = (await deps.connections.get(userId)) ?? lease.conn;
      return { ...statusView(conn), status: 'connected' };
    }
    if (run.outcome === 'error') throw new UnavailableError(run.code ?? 'reconnect_failed', run.message ?? 'The reconnect that was already running failed; please try again.');
    return authorizationRequired(deps, userId);
  }
  const conn = lease.conn;
  if (conn.status !== 'connected') {
    await deps.connections.finishRun(userId, owner, { outcome: conn.status === 'disconnected' ? 'disconnected' : 'authorization_required', nowMs: deps.clock.now() });
    return authorizationRequired(deps, userId);
  }
  return finishConnection(deps, userId, owner, 'reconnect', conn);
}

/**
 * Steps 2–6 under a lease the caller holds (reconnect, and connect after storing the pair):
 * token, /users/me proving it, webhook, sync, then the lease is released with the result.
 */
export async function finishConnection(
  deps: ConnectionDeps,
  userId: string,
  owner: string,
  reason: FlowSyncReason,
  before: Connection | undefined,
): Promise<ReconnectAnswer> {
  try {
    const { token, me } = await provenUser(deps, userId);
    await ensureWebhook(deps, {
      userId,
      accessToken: token,
      userUri: me.uri,
      organizationUri: me.currentOrganization,
      leaseOwner: owner,
    });
    await deps.queue.send('sync', [syncMessage(deps, userId, reason, before)]);
    const profile = { calendlyUserUri: me.uri, organizationUri: me.currentOrganization, email: me.email };
    if (!(await deps.connections.finishRun(userId, owner, { outcome: 'connected', nowMs: deps.clock.now(), profile }))) {
      // We outlived the lease; the work is done and recorded, only the bookkeeping is lost.
      logger.warn('connection lease expired before the run finished', { userId });
    }
    const conn = await deps.connections.get(userId);
    if (!conn) throw new UnavailableError('connection_changed', 'The connection changed meanwhile; please try again.');
    return { ...statusView(conn), status: 'connected' };
  } catch (e) {
    if (e instanceof AuthorizationRequiredError) {
      await deps.connections.finishRun(userId, owner, { outcome: 'authorization_required', nowMs: deps.clock.now() }).catch(() => false);
      return authorizationRequired(deps, userId);
    }
    const err = toFlowFailure(e);
    logger.warn('connection flow failed', { userId, reason, code: err.code, cause: isCalendlyError(e) ? e.kind : e instanceof DomainError ? e.code : 'internal' });
    await deps.connections
      .finishRun(userId, owner, { outcome: 'error', nowMs: deps.clock.now(), error: { code: err.code, message: err.message } })
      .catch(() => false);
    throw err;
  }
}

/** Step 3: /users/me proves the token; a 401 buys one forced refresh and one retry. */
async function provenUser(deps: ConnectionDeps, userId: string): Promise<{ token: string; me: CalendlyUser }> {
  const token = await getAccessToken(deps, userId);
  try {
    return { token, me: await deps.calendly.getCurrentUser(token) };
  } catch (e) {
    if (!isCalendlyError(e, 'unauthenticated')) throw e;
  }
  const retried = await getAccessToken(deps, userId, { knownBadToken: token });
  try {
    return { token: retried, me: await deps.calendly.getCurrentUser(retried) };
  } catch (e) {
    if (!isCalendlyError(e, 'unauthenticated')) throw e;
    // A token Calendly just issued is refused: the grant is gone (password/email change, revoke).
    const cur = await deps.connections.get(userId);
    if (cur) {
      await deps.connections.markAuthorizationRequired(userId, {
        tokenVersion: cur.tokenVersion,
        nowMs: deps.clock.now(),
        code: 'token_refused',
        message: 'Calendly refused a freshly refreshed token; the user must authorize again.',
      });
    }
    throw new AuthorizationRequiredError();
  }
}

/**
 * The sync message. After connect: a full sync (no minStartTime). After reconnect or repair:
 * a catch-up from shortly before the hook was last seen healthy (meetings booked or changed
 * while it was down start after that), bounded to 30 days back; 7 days when unknown.
 */
export function syncMessage(
  deps: Pick<ConnectionDeps, 'clock' | 'tuning'>,
  userId: string,
  reason: FlowSyncReason,
  before: Pick<Connection, 'webhook'> | undefined,
): SyncMessage {
  if (reason === 'connect') return { userId, reason };
  const t = tuningOf(deps);
  const now = deps.clock.now();
  const healthyAt = before?.webhook?.healthyAt;
  const from = healthyAt === undefined ? now - t.catchUpDefaultMs : Math.max(healthyAt - 3600_000, now - t.catchUpMaxMs);
  return { userId, reason, minStartTime: new Date(from).toISOString() };
}

async function authorizationRequired(deps: ConnectionDeps, userId: string): Promise<ReconnectAnswer> {
  const { authorizeUrl } = await beginConnect(deps, userId);
  return { status: 'authorization_required', authorizeUrl };
}
