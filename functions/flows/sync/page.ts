/** One page of Calendly's scheduled events (and their invitees) into the meetings table. */
import type { Invitee, ScheduledEvent } from '../../calendly/port.js';
import { isCalendlyError, isOrganizationFilterRequired } from '../../calendly/port.js';
import { logger } from '../../shared/logger.js';
import type { SyncRun } from '../../store/sync-state.js';
import { storePageUpdates, type StoredPage } from './store-events.js';
import type { StoredEventMark, SyncedMark } from '../../store/meetings/index.js';
import { compareInstants, eventIdOf } from '../../domain/meeting/index.js';
import { LongRateLimitError, type SyncConnectionView, type SyncDeps, type SyncMeetingUpdate, type SyncOptions } from './types.js';

export class TokenSession {
  private token: Promise<string> | undefined;
  private obtainedAt = 0;
  private refreshedThisPage = false;
  constructor(
    private readonly deps: SyncDeps,
    private readonly userId: string,
    private readonly reuseMs: number,
  ) {}
  startPage() {
    this.refreshedThisPage = false;
  }
  current(): Promise<string> {
    const now = this.deps.clock.now();
    if (!this.token || now - this.obtainedAt >= this.reuseMs) return this.hold(this.deps.getAccessToken(this.userId), now);
    return this.token;
  }
  async onUnauthorized(badToken: string): Promise<string> {
    const held = this.current();
    const cur = await held;
    if (cur !== badToken) return cur;
    // Another call's 401 already replaced it meanwhile: share that refresh.
    if (this.token && this.token !== held) return this.token;
    if (this.refreshedThisPage) throw new Error('Calendly refused a freshly refreshed token');
    this.refreshedThisPage = true;
    return this.hold(this.deps.getAccessToken(this.userId, { knownBadToken: badToken }), this.deps.clock.now());
  }
  private hold(p: Promise<string>, at: number): Promise<string> {
    this.token = p;
    this.obtainedAt = at;
    // A failed read is not kept: the next call asks again.
    p.catch(() => {
      if (this.token === p) this.token = undefined;
    });
    return p;
  }
}

/**
 * The page's waits for the rate budget. The invitee lists run several at once, and when the
 * window's budget is spent they all learn it together: they share one wait (counted once), so a
 * spent window costs one pause, not one per worker.
 */
interface PageBudget {
  waits: number;
  /** The wait in progress, while there is one. */
  pause?: Promise<void>;
  /**
   * The invocation's stop time (its deadline less the margin), when known: a wait that ends
   * before it is taken in place however long it is, since handing off would only resume later
   * and pay the page's list call again.
   */
  stopAt?: number;
  /** Told when a wait begins: the page stores what it has fetched meanwhile. */
  onPause?: () => void;
}

async function callCalendly<T>(
  deps: SyncDeps,
  opts: SyncOptions,
  session: TokenSession,
  budget: PageBudget,
  fn: (token: string) => Promise<T>,
): Promise<T> {
  let token = await session.current();
  for (;;) {
    try {
      return await fn(token);
    } catch (e) {
      if (isCalendlyError(e, 'unauthenticated')) {
        token = await session.onUnauthorized(token);
        continue;
      }
      if (isCalendlyError(e, 'rate_limited')) {
        const waitMs = e.retryAfterMs ?? 60_000;
        if (budget.pause) {
          // Another worker is already waiting for this window to reset: wait with it.
          await budget.pause;
          continue;
        }
        const fits = waitMs <= opts.maxInlineWaitMs || (budget.stopAt !== undefined && deps.clock.now() + waitMs < budget.stopAt);
        if (fits && budget.waits < opts.maxInlineWaitsPerPage) {
          budget.waits += 1;
          logger.info('sync rate limited; waiting', { waitMs });
          const pause = deps.sleeper.sleep(waitMs).finally(() => {
            if (budget.pause === pause) delete budget.pause;
          });
          budget.pause = pause;
          budget.onPause?.();
          await pause;
          continue;
        }
        throw new LongRateLimitError(waitMs);
      }
      throw e;
    }
  }
}

/** Why a page stopped before all its events were fetched (what it fetched is stored). */
export type PageStop = { kind: 'rate_limited'; retryAfterMs: number } | { kind: 'deadline' };

export interface PageResult {
  /** Events on the page (whether or not all were done). */
  events: number;
  nextPageToken: string | null;
  /** Set when the page stopped early: its cursor stays, and the resume skips the events done. */
  stopped?: PageStop;
  applied: number;
  unchanged: number;
  skipped: StoredPage['skipped'];
}

/**
 * Fetches one page of events and their invitees, stores them, answers the next cursor.
 *
 * A page can need more calls than one rate window allows (Free plan: 50 a minute, and a page of
 * 100 events needs up to 101). Its progress is kept: each event is stored, with the mark of what
 * was fetched, once its invitees are in (in batches, whenever the page waits for the budget and
 * at its end), so a page that stops early (a wait too long to take in place, or `stopAt`
 * reached) is resumed from the same cursor and the events already stored cost no call again.
 */
export async function syncPage(
  deps: SyncDeps,
  opts: SyncOptions,
  userId: string,
  conn: SyncConnectionView,
  run: SyncRun,
  session: TokenSession,
  stopAt?: number,
): Promise<PageResult> {
  session.startPage();
  const budget: PageBudget = { waits: 0, ...(stopAt !== undefined ? { stopAt } : {}) };
  // `user` alone is the documented way to list one's own events (`organization` needs an admin).
  // Some accounts answer it with a 403 asking for the organization too: then both are sent, once,
  // and the form is remembered on the connection (this view is held across pages too).
  const list = (token: string, withOrganization: boolean) =>
    deps.calendly.listScheduledEventsPage(token, {
      user: conn.calendlyUserUri as string,
      ...(withOrganization && conn.organizationUri ? { organization: conn.organizationUri } : {}),
      minStartTime: run.minStartTime,
      maxStartTime: run.maxStartTime,
      count: opts.pageSize,
      sort: 'start_time:asc',
      ...(run.pageToken ? { pageToken: run.pageToken } : {}),
    });
  const both = conn.eventsFilter === 'user_and_organization';
  let page;
  try {
    page = await callCalendly(deps, opts, session, budget, (token) => list(token, both));
  } catch (e) {
    if (both || !conn.organizationUri || !isOrganizationFilterRequired(e)) throw e;
    page = await callCalendly(deps, opts, session, budget, (token) => list(token, true));
    conn.eventsFilter = 'user_and_organization';
    logger.info('scheduled events need the organization filter for this connection', { userId });
    await deps.rememberEventsFilter?.(userId, conn.calendlyUserUri as string, 'user_and_organization').catch((err: unknown) => {
      logger.warn('could not remember the events filter; the next sync learns it again', { userId, error: err });
    });
  }

  // An event whose updated_at and invitee counts match what the last full fetch stored needs no
  // invitee call (nor any write): a sync that finds nothing new costs one Calendly call per page,
  // and a page resumed after an early stop fetches only the events it had not stored yet.
  const { marks } = deps.eventMarks ? await deps.eventMarks(userId, page.items.map((e) => e.uri)) : { marks: new Map<string, StoredEventMark>() };
  const fresh = page.items.filter((e) => !unchanged(e, marks.get(e.uri)));
  const unfetched = page.items.length - fresh.length;

  const store = pageStore(deps, userId);
  budget.onPause = store.flush;
  let next = 0;
  let fetched = 0;
  let halted: { error: unknown } | undefined;
  let pastStop = false;
  const worker = async () => {
    while (next < fresh.length && !halted) {
      // At least one event per page, so a tight deadline can never make a hand-off loop.
      if (stopAt !== undefined && fetched > 0 && deps.clock.now() > stopAt) {
        pastStop = true;
        return;
      }
      const event = fresh[next++] as ScheduledEvent;
      try {
        const invitees = await callCalendly(deps, opts, session, budget, async (token) => {
          const out: Invitee[] = [];
          for await (const inv of deps.calendly.listEventInvitees(token, event.uri)) out.push(inv);
          return out;
        });
        fetched += 1;
        store.add(event, invitees, new Date(deps.clock.now()).toISOString());
      } catch (e) {
        // The other workers finish the calls they have in flight, and take no more.
        halted ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.inviteeConcurrency, fresh.length) }, worker));

  const error = halted?.error;
  if (error !== undefined && !(error instanceof LongRateLimitError) && (deps.isAuthorizationRequired(error) || isCalendlyError(error, 'forbidden'))) {
    // The connection lost its access: nothing more is written for it.
    throw error;
  }
  const stored = await store.finish();
  if (error !== undefined && !(error instanceof LongRateLimitError)) throw error;
  const stopped: PageStop | undefined = error instanceof LongRateLimitError ? { kind: 'rate_limited', retryAfterMs: error.retryAfterMs } : pastStop && fetched < fresh.length ? { kind: 'deadline' } : undefined;
  if (stopped) logger.info('sync page stopped early; its progress is stored', { userId, stopped: stopped.kind, events: page.items.length, done: unfetched + fetched });
  return {
    events: page.items.length,
    nextPageToken: page.nextPageToken,
    ...(stopped ? { stopped } : {}),
    applied: stored.applied,
    unchanged: stored.unchanged + unfetched,
    skipped: stored.skipped,
  };
}

/**
 * The page's writes: events whose invitees are in, stored in batches (each with its `synced`
 * mark) while the page goes on. One batch at a time; a failed batch fails the page at its end.
 */
function pageStore(deps: SyncDeps, userId: string) {
  let held: Array<{ event: ScheduledEvent; invitees: Invitee[]; observedAt: string }> = [];
  let chain: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  const total: StoredPage = { applied: 0, unchanged: 0, skipped: [] };
  const flush = () => {
    if (held.length === 0) return;
    const batch = held;
    held = [];
    const updates: SyncMeetingUpdate[] = [];
    const synced = new Map<string, SyncedMark>();
    for (const { event, invitees, observedAt } of batch) {
      updates.push({ eventUri: event.uri, event, observedAt });
      for (const invitee of invitees) updates.push({ eventUri: event.uri, invitee, observedAt });
      const id = eventIdOf(event.uri);
      if (id && event.inviteesCounter) synced.set(id, { updatedAt: event.updatedAt, total: event.inviteesCounter.total, active: event.inviteesCounter.active });
    }
    chain = chain.then(async () => {
      if (failure) return;
      try {
        const r = await storePageUpdates(deps, userId, updates, { synced });
        total.applied += r.applied;
        total.unchanged += r.unchanged;
        total.skipped.push(...r.skipped);
      } catch (e) {
        failure = { error: e };
      }
    });
  };
  return {
    add(event: ScheduledEvent, invitees: Invitee[], observedAt: string) {
      held.push({ event, invitees, observedAt });
    },
    flush,
    async finish(): Promise<StoredPage> {
      flush();
      await chain;
      if (failure) throw failure.error;
      return total;
    },
  };
}

/** The stored event is what Calendly shows now: same updated_at, same invitee counts. */
function unchanged(e: ScheduledEvent, mark: StoredEventMark | undefined): boolean {
  const m = mark?.synced;
  if (!m || !e.inviteesCounter) return false;
  return (
    compareInstants(m.updatedAt, e.updatedAt) === 0 &&
    compareInstants(mark.updatedAt, e.updatedAt) >= 0 &&
    m.total === e.inviteesCounter.total &&
    m.active === e.inviteesCounter.active
  );
}
