/**
 * Initial / catch-up sync of one connection's meetings, driven by SQS messages.
 *
 * A message is a "kick": it adds a window of work to the connection's sync state and drives
 * whatever work is stored there. The sync state (store/sync-state.ts) holds a lease (one worker
 * per connection at a time), the run in progress with its Calendly page cursor, and the work
 * queued behind it (`pending`, windows merged into their enclosing window).
 *
 * - A message for a connection whose sync is running (live lease) merges its window into
 *   `pending` and is acknowledged: the lease holder runs the pending work before it releases
 *   the lease (the release is a version-guarded write, so a merge that lands meanwhile makes the
 *   release fail and the holder loops). Its own message is acknowledged only after that, so the
 *   stored work always has a live message behind it.
 * - A redelivery of the lease holder's own message (same SQS message id) while the lease is live
 *   is failed back to the queue: if the holder died, the retry takes over once the lease expires.
 * - The cursor is saved after each page is stored; a retry resumes from it. Re-storing a page
 *   changes nothing (meetings are applied with the forward-only rule shared with ingestion).
 * - 429: a wait for X-RateLimit-Reset is taken in place when it is short or ends before the
 *   invocation's deadline; a longer one saves the cursor, releases the lease and sends a delayed
 *   `resume` kick (no receive is spent, so rate limits never push a message to the DLQ). Running
 *   out of invocation time does the same with no delay, also in the middle of a page. A page
 *   stopped early keeps its progress (the events whose invitees were fetched are stored), so a
 *   page needing more calls than a rate window allows still ends after a few resumes.
 * - Other failures release the lease (keeping the cursor) and fail the message: the queue retries
 *   it a bounded number of times. On the last of those tries (ctx.lastTry) the run is given up
 *   instead: recorded on the sync state (cause, window, counts), logged at ERROR, counted on
 *   `SyncRunsGivenUp`, its message acknowledged, and work queued behind it gets a fresh resume
 *   kick, so a run that cannot finish never blocks the connection's later syncs.
 * - An event the meetings store refuses (./store-events.ts) is skipped and recorded with its
 *   cause; the page and the run go on.
 */
import { randomUUID } from 'node:crypto';
import { isCalendlyError } from '../../calendly/port.js';
import { logger } from '../../shared/logger.js';
import { emitMetric } from '../../shared/metrics.js';
import type { SyncStateRecord, SyncWork } from '../../store/sync-state.js';
import type { SyncMessage, SyncReason } from '../../domain/messages.js';
import { DEFAULT_SYNC_OPTIONS, LeaseLostError, LongRateLimitError, SyncRetryLaterError, type SyncConnectionView, type SyncContext, type SyncDeps, type SyncOptions, type SyncResult } from './types.js';
import { MAX_IDS, mergeWork, newRun, releaseLease, resolveWindow, uniq } from './work.js';
import { TokenSession, syncPage, type PageResult } from './page.js';

export async function processSyncMessage(deps: SyncDeps, msg: SyncMessage, ctx: SyncContext): Promise<SyncResult> {
  const opts = { ...DEFAULT_SYNC_OPTIONS, ...deps.options };
  const { userId } = msg;
  const owner = randomUUID();
  const now = deps.clock.now();
  const work: SyncWork | undefined = msg.resume
    ? undefined
    : { ...resolveWindow(msg, now, opts), reasons: [msg.reason], messageIds: [ctx.messageId] };

  let decision = 'acquired' as 'duplicate' | 'retry' | 'covered' | 'merged' | 'acquired';
  let retryAfterMs = 0;
  const acquired = await deps.syncState.update(userId, (cur) => {
    const known = !!cur.run?.messageIds.includes(ctx.messageId) || !!cur.pending?.messageIds.includes(ctx.messageId);
    if (!known && cur.recentMessageIds.includes(ctx.messageId)) {
      decision = 'duplicate';
      return null;
    }
    const leaseLive = !!cur.leaseOwner && (cur.leaseExpiresAt ?? 0) > now;
    if (leaseLive) {
      if (cur.driver === ctx.messageId) {
        decision = 'retry';
        retryAfterMs = (cur.leaseExpiresAt ?? now) - now;
        return null;
      }
      if (known || !work) {
        decision = 'covered';
        return null;
      }
      decision = 'merged';
      cur.pending = mergeWork(cur.pending, work);
      return cur;
    }
    decision = 'acquired';
    cur.leaseOwner = owner;
    cur.leaseExpiresAt = now + opts.leaseMs;
    cur.driver = ctx.messageId;
    if (work && !known) {
      if (cur.run) cur.pending = mergeWork(cur.pending, work);
      else cur.run = newRun(work, now);
    }
    return cur;
  });

  const empty = { runsCompleted: 0, pages: 0, events: 0, applied: 0, unchanged: 0, skipped: 0 };
  switch (decision) {
    case 'duplicate':
    case 'covered':
    case 'merged':
      logger.info('sync message absorbed', { userId, outcome: decision, reason: msg.reason });
      return { outcome: decision, ...empty };
    case 'retry':
      if (ctx.lastTry) {
        // Failing it back would send it to the DLQ while its run may still be unfinished: a
        // resume kick due when the lease expires drives the run if its holder died meanwhile
        // (and is absorbed if the holder is still at it).
        await deps.queue.send('sync', [{ userId, reason: msg.reason, resume: true }], {
          delaySeconds: Math.min(900, Math.ceil(retryAfterMs / 1000) + 1),
        });
        logger.info('sync message handed to a resume kick on its last try', { userId, retryAfterMs });
        return { outcome: 'deferred', ...empty };
      }
      throw new SyncRetryLaterError('the sync started by this message is still running', retryAfterMs);
    case 'acquired':
      // The state as we just stored it: lease taken (fresh expiry), so no renewal is needed yet.
      return drive(deps, opts, userId, owner, ctx, acquired);
  }
}

async function drive(deps: SyncDeps, opts: SyncOptions, userId: string, owner: string, ctx: SyncContext, acquired: SyncStateRecord): Promise<SyncResult> {
  const result: SyncResult = { outcome: 'completed', runsCompleted: 0, pages: 0, events: 0, applied: 0, unchanged: 0, skipped: 0 };
  // The state as we last stored it. Each write is put on top of it with the version guard and no
  // read first: it lands only if nobody wrote since (then the lease is still ours, as stored); a
  // merge, a takeover or any other write makes it fail, and the store re-reads and re-decides.
  let known = acquired;
  const guarded = async (mutate: (cur: SyncStateRecord) => SyncStateRecord) => {
    known = await deps.syncState.update(
      userId,
      (cur) => {
        if (cur.leaseOwner !== owner) throw new LeaseLostError('sync lease lost');
        return mutate(cur);
      },
      known,
    );
    return known;
  };
  const renew = (cur: SyncStateRecord) => {
    cur.leaseExpiresAt = deps.clock.now() + opts.leaseMs;
    return cur;
  };

  /** Stop here, keep the cursor, and let a resume kick (possibly delayed) carry on. */
  const handOff = async (outcome: 'continued' | 'deferred', delayMs: number, reason: SyncReason) => {
    await guarded(releaseLease);
    // Sent after the release, so the kick can never find our lease and be absorbed by it.
    await deps.queue.send('sync', [{ userId, reason, resume: true }], {
      delaySeconds: Math.min(900, Math.max(0, Math.ceil(delayMs / 1000))),
    });
    logger.info('sync handed off', { userId, outcome, delayMs, pages: result.pages });
    return { ...result, outcome };
  };

  const dropAll = async (why: string) => {
    await guarded((cur) => {
      delete cur.run;
      delete cur.pending;
      cur.lastError = why;
      return releaseLease(cur);
    });
    logger.warn('sync dropped', { userId, why });
    return { ...result, outcome: 'dropped' as const };
  };

  /** The run failed on its message's last try: record it as given up and free the connection. */
  const giveUp = async (e: unknown, why: string): Promise<SyncResult> => {
    let gaveUp: SyncStateRecord['run'];
    let pendingReason: SyncReason | undefined;
    try {
      await guarded((cur) => {
        gaveUp = cur.run;
        pendingReason = cur.pending?.reasons[0];
        if (cur.run) {
          const r = cur.run;
          cur.runsGivenUp = (cur.runsGivenUp ?? 0) + 1;
          cur.lastGivenUp = { at: deps.clock.now(), cause: why, reasons: r.reasons, minStartTime: r.minStartTime, maxStartTime: r.maxStartTime, pages: r.pages, events: r.events };
          // Its messages count as done: a late redelivery is a duplicate, not a new try.
          cur.recentMessageIds = uniq([...cur.recentMessageIds, ...r.messageIds]).slice(-MAX_IDS);
          delete cur.run;
        }
        cur.lastError = `sync run given up: ${why}`;
        return releaseLease(cur);
      });
    } catch (recordFailure) {
      if (recordFailure instanceof LeaseLostError) return { ...result, outcome: 'lease_lost' };
      // Nothing could be recorded: the message goes to the DLQ with the run's own error.
      throw e;
    }
    logger.error('sync run given up on its last try', { userId, reasons: gaveUp?.reasons, pages: gaveUp?.pages, error: e });
    (deps.countMetric ?? emitMetric)('SyncRunsGivenUp', 1);
    // Work merged behind the run was acknowledged on the promise that this holder runs it.
    if (pendingReason) await deps.queue.send('sync', [{ userId, reason: pendingReason, resume: true }]);
    return { ...result, outcome: 'given_up' };
  };

  // Held across the pages of this invocation and re-read every credentialReuseMs: the connection
  // view (status, Calendly user) and the access token (TokenSession).
  const session = new TokenSession(deps, userId, opts.credentialReuseMs);
  let conn: SyncConnectionView | undefined;
  let connReadAt = Number.NEGATIVE_INFINITY;

  try {
    let state = known;
    for (;;) {
      if (!state.run) {
        let released = false;
        state = await guarded((cur) => {
          released = false; // a lost race re-runs this on the stored state
          if (cur.run) return renew(cur);
          if (cur.pending) {
            cur.run = newRun(cur.pending, deps.clock.now());
            delete cur.pending;
            return renew(cur);
          }
          released = true;
          return releaseLease(cur);
        });
        if (released) return result;
        continue;
      }
      const run = state.run;

      // At least one page per invocation, so a tight deadline can never make a hand-off loop.
      if (
        result.pages > 0 &&
        (result.pages >= opts.maxPagesPerInvocation || (ctx.deadlineMs !== undefined && deps.clock.now() > ctx.deadlineMs - opts.deadlineMarginMs))
      ) {
        return await handOff('continued', 0, run.reasons[0] ?? 'manual');
      }

      if (!conn || deps.clock.now() - connReadAt >= opts.credentialReuseMs) {
        connReadAt = deps.clock.now();
        conn = await deps.getConnection(userId);
      }
      if (!conn || conn.status !== 'connected' || !conn.calendlyUserUri) {
        return await dropAll(conn ? `connection is ${conn.status}` : 'no connection');
      }

      const stopAt = ctx.deadlineMs !== undefined ? ctx.deadlineMs - opts.deadlineMarginMs : undefined;
      let page: PageResult;
      try {
        page = await syncPage(deps, opts, userId, conn, run, session, stopAt);
      } catch (e) {
        if (e instanceof LongRateLimitError) return await handOff('deferred', e.retryAfterMs, run.reasons[0] ?? 'manual');
        if (deps.isAuthorizationRequired(e)) return await dropAll('authorization required');
        if (isCalendlyError(e, 'forbidden')) return await dropAll(`calendly refused the listing: ${e.message}`);
        // The view we hold may be stale: a connection disconnected meanwhile (its token revoked,
        // so the 401 refresh failed) is dropped here rather than retried until the next read.
        const fresh = await deps.getConnection(userId).catch(() => conn);
        if (!fresh || fresh.status !== 'connected') return await dropAll(fresh ? `connection is ${fresh.status}` : 'no connection');
        throw e;
      }
      const { stopped } = page;
      if (!stopped) {
        result.pages += 1;
        result.events += page.events;
      }
      result.applied += page.applied;
      result.unchanged += page.unchanged;
      result.skipped += page.skipped.length;
      for (const s of page.skipped) logger.error('sync skipped an event the store refused', { userId, eventUri: s.eventUri, error: s.error });
      const skippedAt = deps.clock.now();
      const skippedNow = page.skipped.map((s) => ({ eventUri: s.eventUri, cause: causeOf(s.error), at: skippedAt }));

      let completedAt: number | undefined;
      state = await guarded((cur) => {
        const r = cur.run;
        // Only the lease holder changes `run`, so it is the one we paged; check anyway.
        if (!r || r.startedAt !== run.startedAt || r.pageToken !== run.pageToken) throw new LeaseLostError('sync run changed under us');
        completedAt = undefined;
        if (skippedNow.length) {
          cur.eventsSkipped = (cur.eventsSkipped ?? 0) + skippedNow.length;
          cur.lastSkipped = [...(cur.lastSkipped ?? []), ...skippedNow].slice(-MAX_IDS);
          r.skipped = (r.skipped ?? 0) + skippedNow.length;
        }
        // A page stopped early keeps its cursor: it is resumed, and what it stored is skipped then.
        if (stopped) return renew(cur);
        if (page.nextPageToken === null) {
          completedAt = deps.clock.now();
          cur.recentMessageIds = uniq([...cur.recentMessageIds, ...r.messageIds]).slice(-MAX_IDS);
          cur.runsCompleted += 1;
          cur.eventsSynced += r.events + page.events;
          cur.lastCompletedAt = completedAt;
          delete cur.lastError;
          delete cur.run;
        } else {
          r.pageToken = page.nextPageToken;
          r.pages += 1;
          r.events += page.events;
        }
        return renew(cur);
      });
      if (stopped) {
        return await handOff(stopped.kind === 'rate_limited' ? 'deferred' : 'continued', stopped.kind === 'rate_limited' ? stopped.retryAfterMs : 0, run.reasons[0] ?? 'manual');
      }
      if (completedAt !== undefined) {
        result.runsCompleted += 1;
        await deps.recordSyncCompleted(userId, completedAt);
        logger.info('sync run completed', { userId, reasons: run.reasons, pages: run.pages + 1, events: run.events + page.events, skipped: (run.skipped ?? 0) + skippedNow.length });
      }
    }
  } catch (e) {
    if (e instanceof LeaseLostError) {
      logger.warn('sync lease lost; another worker carries on', { userId });
      return { ...result, outcome: 'lease_lost' };
    }
    const why = causeOf(e);
    if (ctx.lastTry) return await giveUp(e, why);
    // Keep the cursor, free the lease so the retry (or any other message) can resume at once.
    await guarded((cur) => {
      cur.lastError = why;
      return releaseLease(cur);
    }).catch(() => undefined);
    throw e;
  }
}

const causeOf = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 500);

/**
 * The token function's token, held across pages but asked for again once it is reuseMs old
 * (the token function hands out only tokens with more than its refresh-ahead margin left, and
 * refreshes when due: there is no other refresh path here). When Calendly answers 401: at most
 * one forced refresh (knownBadToken) per page; concurrent 401s share it.
 */
