/**
 * Scheduled, token-refreshing webhook health checks.
 *
 * Scheduler (one run per EventBridge Scheduler tick): pages the sparse `byCheckDue` GSI shard by
 * shard for connections whose nextCheckAt has passed (never a table scan), and enqueues one
 * message per connection on the health queue, ten per SendMessageBatch, each batch with a random
 * DelaySeconds spread over most of the period so the checks do not land at once. No
 * per-connection work happens here, so one run handles tens of thousands of connections.
 *
 * Worker (one message = one connection): a valid token from the single-flight token function
 * (refreshed only when due), one list of the user's subscriptions, and nothing else when our hook
 * is there and active. Otherwise the reconnect's webhook step repairs it (create first, then
 * delete the stale one) and a catch-up sync is queued from when the hook was last known healthy.
 * A refused refresh leaves the connection `authorization_required` (the token function marks
 * it and takes it out of the check index). A disconnect whose cleanup is pending is finished.
 *
 * Reconciliation: after a check that leaves the hook working, once per reconcileIntervalMs (every
 * time with `force`) a sync over the events starting from reconcileLookbackMs ago to
 * reconcileLookaheadMs ahead is queued, so a meeting whose every delivery was lost (an outage
 * longer than Calendly's retries, a hook deleted by a stray 410) still arrives. The claim is a
 * conditional write on the sync state: two checks in one interval queue one.
 *
 * Each check also sweeps the user's Meeting Changed outbox: events of stored changes that a crash
 * or a publishing outage left unpublished are published then.
 */
import type { CalendlyApiPort, WebhookSubscription } from '../../calendly/port.js';
import { isCalendlyError } from '../../calendly/port.js';
import type { Clock, Queue } from '../../ports.js';
import { logger } from '../../shared/logger.js';
import type { HealthMessage, SyncMessage } from '../../domain/messages.js';

export interface HealthCheckOptions {
  /** A connection is checked again this long after a check ... */
  intervalMs: number;
  /** ... plus up to this share of it at random, so checks never bunch up again. */
  jitterRatio: number;
  /** After a check that could not finish (Calendly down, rate limited), try again this soon. */
  retryAfterErrorMs: number;
  /** Catch-up sync window when the hook's last healthy time is unknown. */
  catchUpDefaultMs: number;
  /** The furthest back a catch-up sync reaches. */
  catchUpMaxMs: number;
  /** Margin before the last known healthy time (clock skew, deliveries in flight). */
  catchUpMarginMs: number;
  /** One reconciliation sync per connection per this long. */
  reconcileIntervalMs: number;
  /** A reconciliation covers events starting this long ago ... */
  reconcileLookbackMs: number;
  /** ... to this far ahead. */
  reconcileLookaheadMs: number;
}

export const DEFAULT_CHECK_OPTIONS: HealthCheckOptions = {
  intervalMs: 15 * 60_000,
  jitterRatio: 0.1,
  retryAfterErrorMs: 5 * 60_000,
  catchUpDefaultMs: 7 * 86_400_000,
  catchUpMaxMs: 30 * 86_400_000,
  catchUpMarginMs: 3_600_000,
  reconcileIntervalMs: 86_400_000,
  reconcileLookbackMs: 86_400_000,
  reconcileLookaheadMs: 90 * 86_400_000,
};

/** What the worker reads of a connection (connections store `Connection`). */
export interface HealthConnectionView {
  status: string;
  cleanupPending: boolean;
  calendlyUserUri?: string;
  organizationUri?: string;
  webhook?: { uri?: string; hookKey?: string; state: string; healthyAt?: number };
  nextCheckAt?: number;
  /** A Calendly account the user switched away from, whose hook/tokens still need cleaning up. */
  previousAccount?: { calendlyUserUri: string };
}

export type CheckOutcome =
  | 'healthy'
  | 'repaired'
  | 'cleanup_done'
  | 'cleanup_failed'
  | 'authorization_required'
  | 'error'
  | 'skipped_not_due'
  | 'skipped_not_checked';

export interface HealthCheckDeps {
  calendly: Pick<CalendlyApiPort, 'listWebhookSubscriptions' | 'getCurrentUser'>;
  getConnection(userId: string): Promise<HealthConnectionView | undefined>;
  /** The single-flight token function (flows/tokens.ts). */
  getAccessToken(userId: string, opts?: { forceRefresh?: boolean; knownBadToken?: string }): Promise<string>;
  /** The reconnect's webhook step (flows/webhook-step.ts). */
  ensureWebhook(input: { userId: string; accessToken: string; userUri: string; organizationUri: string }): Promise<{ outcome: string; webhookUri: string; hookKey: string }>;
  /** Finishes a disconnect whose Calendly cleanup failed (flows/disconnect.ts). */
  finishPendingCleanup(userId: string): Promise<'done' | 'pending' | 'nothing_to_do'>;
  recordCheck(userId: string, input: { outcome: string; checkedAt: number; nextCheckAt: number; webhookState?: 'active' | 'disabled' | 'missing' }): Promise<boolean>;
  /** Stores the organization the Calendly user belongs to now (they moved). */
  rememberOrganization?(userId: string, userUri: string, organizationUri: string): Promise<void>;
  isAuthorizationRequired(e: unknown): boolean;
  /**
   * The sync state's reconcile claim (store/sync-state.ts); without it no reconciliation is
   * queued (tests of the check alone).
   */
  reconcile?: {
    claim(userId: string, input: { nowMs: number; intervalMs: number; force?: boolean }): Promise<boolean>;
    release(userId: string, claimedAtMs: number): Promise<void>;
  };
  /** Our callback URL for a hook key (a hook pointing elsewhere is not ours any more). */
  webhookCallbackUrl?(hookKey: string): string;
  /**
   * Publishes the user's Meeting Changed events a crash or an outage left on the outbox
   * (flows/meeting-events.ts); without it nothing is swept (tests of the check alone).
   */
  sweepMeetingEvents?(userId: string): Promise<unknown>;
  queue: Queue;
  clock: Clock;
  random?: () => number;
  options?: Partial<HealthCheckOptions>;
}

export interface HealthCheckResult {
  outcome: CheckOutcome;
  /** Why the hook needed repair, when it did. */
  problem?: 'missing' | 'disabled' | 'moved' | 'strays';
  repair?: { outcome: string; webhookUri: string };
  catchUpFrom?: string;
  /** A reconciliation sync was queued by this check. */
  reconcileQueued?: boolean;
}

/** Checks one connection. Throws only when even recording the result failed (→ SQS retry). */
export async function checkConnectionHealth(deps: HealthCheckDeps, msg: HealthMessage): Promise<HealthCheckResult> {
  const opts = { ...DEFAULT_CHECK_OPTIONS, ...deps.options };
  const random = deps.random ?? Math.random;
  const { userId } = msg;
  const now = deps.clock.now();
  const nextCheckAt = (from: number) => from + opts.intervalMs + Math.floor(random() * opts.intervalMs * opts.jitterRatio);

  const conn = await deps.getConnection(userId);
  if (!conn) return { outcome: 'skipped_not_checked' };

  // Events of changes already stored are published whatever the hook's state (a disconnected
  // user's meetings are being purged: nothing of theirs is published any more).
  if (conn.status !== 'disconnected' && deps.sweepMeetingEvents) {
    try {
      await deps.sweepMeetingEvents(userId);
    } catch (error) {
      logger.warn('health: meeting events sweep failed; the next check sweeps again', { userId, error });
    }
  }

  if (conn.status === 'disconnected') {
    if (!conn.cleanupPending) return { outcome: 'skipped_not_checked' };
    try {
      const done = await deps.finishPendingCleanup(userId);
      // 'pending': Calendly still unreachable; the disconnect flow set the next attempt itself.
      if (done === 'pending') return { outcome: 'cleanup_failed' };
      if (done === 'nothing_to_do') return { outcome: 'skipped_not_checked' };
      logger.info('health: pending disconnect cleanup finished', { userId });
      return { outcome: 'cleanup_done' };
    } catch (e) {
      logger.warn('health: disconnect cleanup failed again', { userId, error: e });
      await deps.recordCheck(userId, { outcome: 'cleanup_failed', checkedAt: now, nextCheckAt: now + opts.retryAfterErrorMs });
      return { outcome: 'cleanup_failed' };
    }
  }
  if (conn.status !== 'connected') return { outcome: 'skipped_not_checked' };

  // A leftover duplicate (the connection was checked since this was queued): no Calendly call.
  if (!msg.force && msg.dueAt !== undefined && conn.nextCheckAt !== undefined && conn.nextCheckAt !== msg.dueAt && conn.nextCheckAt > now) {
    return { outcome: 'skipped_not_due' };
  }

  // The user switched Calendly accounts and the old account's hook/token cleanup could not run
  // then (Calendly unreachable): finish it here. Best effort: the check of the live account goes on.
  if (conn.previousAccount) {
    try {
      const done = await deps.finishPendingCleanup(userId);
      if (done === 'done') logger.info('health: previous Calendly account cleaned up', { userId });
    } catch (e) {
      logger.warn('health: previous Calendly account cleanup failed again', { userId, error: e });
    }
  }

  const record = async (outcome: CheckOutcome, next: number, webhookState?: 'active' | 'disabled' | 'missing') => {
    await deps.recordCheck(userId, { outcome, checkedAt: deps.clock.now(), nextCheckAt: next, ...(webhookState ? { webhookState } : {}) });
  };

  /** Queues this connection's reconciliation sync when it is due; never fails the check. */
  const reconcile = async (): Promise<{ reconcileQueued?: boolean }> => {
    if (!deps.reconcile) return {};
    const at = deps.clock.now();
    try {
      if (!(await deps.reconcile.claim(userId, { nowMs: at, intervalMs: opts.reconcileIntervalMs, force: msg.force === true }))) return {};
    } catch (e) {
      logger.warn('health: reconciliation not claimed; the next check tries again', { userId, error: e });
      return {};
    }
    const sync: SyncMessage = {
      userId,
      reason: 'reconcile',
      minStartTime: new Date(at - opts.reconcileLookbackMs).toISOString(),
      maxStartTime: new Date(at + opts.reconcileLookaheadMs).toISOString(),
    };
    try {
      await deps.queue.send('sync', [sync]);
    } catch (e) {
      logger.warn('health: reconciliation not queued; the next check tries again', { userId, error: e });
      await deps.reconcile.release(userId, at).catch(() => undefined);
      return {};
    }
    logger.info('health: reconciliation queued', { userId, minStartTime: sync.minStartTime, maxStartTime: sync.maxStartTime });
    return { reconcileQueued: true };
  };

  try {
    if (!conn.calendlyUserUri || !conn.organizationUri) throw new Error('connection has no Calendly user/organization yet');
    const userUri = conn.calendlyUserUri;
    let organizationUri = conn.organizationUri;
    // A user can move to another organization: the list under the stored one is then a 403.
    // /users/me says where they are now; one retry there, and the new organization is stored.
    const listAll = async (tok: string): Promise<WebhookSubscription[]> => {
      try {
        return await listHooks(deps, tok, userUri, organizationUri);
      } catch (e) {
        if (!isCalendlyError(e, 'forbidden')) throw e;
        const me = await deps.calendly.getCurrentUser(tok);
        if (me.uri !== userUri || me.currentOrganization === organizationUri) throw e;
        const hooks = await listHooks(deps, tok, userUri, me.currentOrganization);
        organizationUri = me.currentOrganization;
        logger.info('health: the Calendly user moved to another organization', { userId });
        await deps.rememberOrganization?.(userId, userUri, organizationUri).catch((err: unknown) => {
          logger.warn('health: could not store the new organization; the next check learns it again', { userId, error: err });
        });
        return hooks;
      }
    };
    let token = await deps.getAccessToken(userId);
    let hooks: WebhookSubscription[];
    try {
      hooks = await listAll(token);
    } catch (e) {
      if (!isCalendlyError(e, 'unauthenticated')) throw e;
      // Revoked or expired early: one forced refresh (shared with any concurrent caller), one retry.
      token = await deps.getAccessToken(userId, { knownBadToken: token });
      hooks = await listAll(token);
    }

    const ours = conn.webhook?.uri ? hooks.find((h) => h.uri === conn.webhook?.uri) : undefined;
    const expectedUrl = conn.webhook?.hookKey && deps.webhookCallbackUrl ? deps.webhookCallbackUrl(conn.webhook.hookKey) : undefined;
    const base = deps.webhookCallbackUrl?.('');
    const strays = base ? hooks.filter((h) => h.uri !== ours?.uri && h.callbackUrl.startsWith(base)) : [];
    let problem: HealthCheckResult['problem'];
    if (!ours) problem = 'missing';
    else if (ours.state !== 'active') problem = 'disabled';
    else if (expectedUrl && ours.callbackUrl !== expectedUrl) problem = 'moved';
    else if (strays.length > 0) problem = 'strays';

    if (!problem) {
      await record('healthy', nextCheckAt(now), 'active');
      return { outcome: 'healthy', ...(await reconcile()) };
    }

    logger.warn('health: webhook needs repair', { userId, problem, state: ours?.state, strays: strays.length });
    const repair = await deps.ensureWebhook({ userId, accessToken: token, userUri, organizationUri });
    let catchUpFrom: string | undefined;
    if (problem !== 'strays') {
      catchUpFrom = catchUpStart(now, conn.webhook?.healthyAt, ours?.retryStartedAt ?? null, opts);
      const sync: SyncMessage = { userId, reason: 'repair', minStartTime: catchUpFrom };
      await deps.queue.send('sync', [sync]);
    }
    await record('repaired', nextCheckAt(deps.clock.now()), 'active');
    logger.info('health: webhook repaired', { userId, problem, repair: repair.outcome, catchUpFrom });
    return { outcome: 'repaired', problem, repair: { outcome: repair.outcome, webhookUri: repair.webhookUri }, ...(catchUpFrom ? { catchUpFrom } : {}), ...(await reconcile()) };
  } catch (e) {
    if (deps.isAuthorizationRequired(e)) {
      // The token function marked the connection and took it out of the check index.
      logger.warn('health: refresh refused; connection needs the user to reconnect', { userId });
      await deps.recordCheck(userId, { outcome: 'authorization_required', checkedAt: deps.clock.now(), nextCheckAt: nextCheckAt(now) });
      return { outcome: 'authorization_required' };
    }
    // Calendly down, rate limited, a 401 after a fresh token: try again soon; never retried
    // through SQS (the next tick picks it up), so a long outage cannot fill the DLQ.
    const wait = isCalendlyError(e, 'rate_limited') ? Math.max(opts.retryAfterErrorMs, e.retryAfterMs ?? 0) : opts.retryAfterErrorMs;
    logger.warn('health: check failed; will retry', { userId, error: e, retryInMs: wait });
    await record('error', deps.clock.now() + wait);
    return { outcome: 'error' };
  }
}

async function listHooks(deps: HealthCheckDeps, token: string, user: string, organization: string): Promise<WebhookSubscription[]> {
  const out: WebhookSubscription[] = [];
  for await (const h of deps.calendly.listWebhookSubscriptions(token, { organization, user, scope: 'user' })) {
    out.push(h);
  }
  return out;
}

/**
 * Where a catch-up sync starts: the earliest of "last seen active" and Calendly's
 * retry_started_at (deliveries were failing from then), minus a margin, never further back than
 * catchUpMaxMs; a trailing window when neither is known.
 */
export function catchUpStart(nowMs: number, healthyAt: number | undefined, retryStartedAt: string | null, opts: HealthCheckOptions = DEFAULT_CHECK_OPTIONS): string {
  const candidates = [healthyAt, retryStartedAt ? Date.parse(retryStartedAt) : undefined].filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const from = candidates.length ? Math.min(...candidates) - opts.catchUpMarginMs : nowMs - opts.catchUpDefaultMs;
  return new Date(Math.max(from, nowMs - opts.catchUpMaxMs)).toISOString();
}
